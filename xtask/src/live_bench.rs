//! `cargo xtask bench --live` (issue 11, "Line rate"): faultd live, in figures and never a
//! verdict (timings on a shared VM are no test). Two fresh namespaces, A and B, joined by a
//! veth pair; a sender in B blasts frames over AF_PACKET, A's end receives them.
//!
//! 1. Frames/s through the veth with no XDP program, with an empty one and with faultd
//!    attached (native), for unwatched traffic and for NBNS registrations (an event each),
//!    runs interleaved. The empty program shows what native XDP itself costs a veth.
//! 2. The highest event rate faultd takes without dropping an event while `/metrics` is
//!    scraped every 100 ms: the sender paced, stepped up until drops or until it cannot go
//!    faster.
//!
//! A veth delivers a frame in the sender's own softirq, XDP program included, so part 1
//! measures one core's send-and-receive path; the daemon's ring consumer runs beside it.

use std::{
    net::{Ipv4Addr, SocketAddr},
    os::fd::{AsFd, FromRawFd, OwnedFd},
    path::Path,
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};
use fault_tests::{
    Carrier, Eth, Network,
    daemon::Daemon,
    netbios::registration_flood,
    netns::{Netns, Veth, blast, is_root, link_counters, set_xdp},
};
use serde_json::{Value, json};

use crate::{Pins, check};

const RUN: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;
const SCRAPE_EVERY: Duration = Duration::from_millis(100);
const FIRST_RATE: f64 = 50_000.0;
/// Below this share of the offered rate, the sender has reached its limit.
const SENDER_KEEPS_UP: f64 = 0.97;

/// What one blast did, as counted by the sender, A's end of the veth and faultd.
#[derive(Default)]
struct Run {
    secs: f64,
    sent: u64,
    received: u64,
    xdp_frames: u64,
    events: u64,
    dropped: u64,
    slowest_scrape: Duration,
    faultd_cpu: f64,
}

impl Run {
    fn per_s(&self, n: u64) -> f64 {
        n as f64 / self.secs
    }

    fn json(&self) -> Value {
        json!({
            "seconds": self.secs,
            "sent_per_s": self.per_s(self.sent),
            "received_per_s": self.per_s(self.received),
            "xdp_frames_per_s": self.per_s(self.xdp_frames),
            "events_per_s": self.per_s(self.events),
            "events_dropped": self.dropped,
            "slowest_scrape_ms": self.slowest_scrape.as_secs_f64() * 1e3,
            "faultd_cpu": self.faultd_cpu,
        })
    }
}

struct Wire<'a> {
    a: &'a Netns,
    b: &'a Netns,
    veth: &'a Veth,
    faultd: &'a Path,
    pins: &'a Pins<'a>,
    empty: &'a EmptyXdp,
}

impl<'a> Wire<'a> {
    fn start(&self) -> anyhow::Result<Daemon<'a>> {
        let args = [
            "--iface",
            &self.veth.a,
            "--xdp-mode",
            "native",
            "--pin-path",
            self.pins.path.to_str().context("non-UTF-8 path")?,
        ];
        let addr = SocketAddr::from(([127, 0, 0, 1], 10137));
        Ok(Daemon::start(self.faultd, self.a, addr, &args)?)
    }

    fn empty_xdp(&self, attached: bool) -> anyhow::Result<()> {
        let prog = attached.then(|| self.empty.0.as_fd());
        Ok(set_xdp(self.a, &self.veth.a, prog)?)
    }

    fn stop(daemon: Daemon) -> anyhow::Result<()> {
        let (status, log) = daemon.stop()?;
        ensure!(status.success(), "faultd exited with {status}:\n{log}");
        Ok(())
    }

    /// Blasts `frames` from B for [`RUN`]; with a daemon, also what it counted and, when
    /// `scraped`, the slowest of the scrapes every [`SCRAPE_EVERY`] meanwhile.
    fn measure(
        &self,
        daemon: Option<&Daemon>,
        frames: &[Vec<u8>],
        rate: Option<f64>,
        scraped: bool,
    ) -> anyhow::Result<Run> {
        let scrape = || daemon.map(|d| d.scrape()).transpose();
        let cpu = || daemon.map(|d| cpu_seconds(d.pid())).transpose();
        let (s0, cpu0) = (scrape()?, cpu()?);
        let rx0 = link_counters(self.a, &self.veth.a)?;
        let t = Instant::now();
        let (stop, stopped) = mpsc::channel::<()>();
        let blasted = std::thread::scope(|scope| {
            let scraper = scope.spawn(move || {
                let mut slowest = Duration::ZERO;
                let Some(d) = daemon.filter(|_| scraped) else {
                    return Ok(slowest);
                };
                let start = Instant::now();
                for n in 1.. {
                    let t = Instant::now();
                    d.scrape()?;
                    slowest = slowest.max(t.elapsed());
                    // A scraper's schedule, like Prometheus's: a slow scrape delays no other.
                    let wait = (SCRAPE_EVERY * n).saturating_sub(start.elapsed());
                    if stopped.recv_timeout(wait) != Err(RecvTimeoutError::Timeout) {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(slowest)
            });
            let sent = blast(self.b, &self.veth.b, frames, rate, RUN);
            let rx1 = link_counters(self.a, &self.veth.a);
            let secs = t.elapsed().as_secs_f64();
            drop(stop);
            let slowest = scraper.join().expect("the scraper does not panic");
            anyhow::Ok((sent?.0, rx1?, secs, slowest?))
        });
        // Ctrl-C stops faultd too: say so rather than that a scrape failed.
        check()?;
        let (sent, rx1, secs, slowest_scrape) = blasted?;
        let mut run = Run {
            secs,
            sent,
            received: rx1.rx_packets - rx0.rx_packets,
            slowest_scrape,
            ..Run::default()
        };
        if let (Some(s0), Some(s1), Some(cpu0), Some(cpu1)) = (s0, scrape()?, cpu0, cpu()?) {
            let delta = |series: &str| s1.u64(series) - s0.u64(series);
            run.xdp_frames = delta("faultd_frames_total");
            run.events = delta("faultd_events_total");
            run.dropped = delta("faultd_events_dropped_total");
            run.faultd_cpu = (cpu1 - cpu0) / secs;
        }
        Ok(run)
    }
}

pub fn run() -> anyhow::Result<()> {
    ensure!(
        is_root(),
        "the live benchmark needs root (network namespaces, XDP)"
    );
    crate::setup()?;
    // The daemon's own code is measured too (the queue reader, the detectors, HTTP).
    crate::run(crate::cargo().args(["build", "--quiet", "--release", "--package", "fault-user"]))?;
    let faultd = crate::root().join("target/release/faultd");
    crate::catch_interrupts();

    let a = Netns::new("bench-a").context("creating a network namespace")?;
    let b = Netns::new("bench-b").context("creating a network namespace")?;
    let veth = Veth::new(&a, &b, 1500).context("creating the veth pair")?;
    let pins = Pins::new(&faultd, "bench");
    let empty = EmptyXdp::load()?;
    let wire = Wire {
        a: &a,
        b: &b,
        veth: &veth,
        faultd: &faultd,
        pins: &pins,
        empty: &empty,
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")?;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    // Other work on the machine shows in every figure; the load says how much there was.
    let load = std::fs::read_to_string("/proc/loadavg")?;
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "== faultd (release) live on {} in {}, frames sent from {} in {}; kernel {}, {cpus} CPUs, \
         load average {load}",
        veth.a,
        a.name(),
        veth.b,
        b.name(),
        kernel.trim()
    );
    // WINS registrations from 4096 clients (four times the detector's bound): an event each.
    let watched = registration_flood(4096);
    let throughput = json!({
        "unwatched": throughput(&wire, "unwatched (UDP 53, TCP 443)", &unwatched())?,
        "watched": throughput(&wire, "watched (NBNS registrations, an event each)", &watched)?,
    });
    let event_rate = event_rate(&wire, &watched)?;

    let out = crate::root().join("target/bench-live.json");
    let report = json!({
        "kernel": kernel.trim(),
        "cpus": cpus,
        "load_average_before": load,
        "faultd": "release build, --xdp-mode native",
        "seconds_per_run": RUN.as_secs_f64(),
        "throughput": throughput,
        "event_rate": event_rate,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("\nJSON: {}", out.display());
    Ok(())
}

/// Part 1: rounds of (no XDP program, the empty one, faultd), each a full-speed blast.
fn throughput(wire: &Wire, name: &str, frames: &[Vec<u8>]) -> anyhow::Result<Value> {
    println!(
        "\n== frames/s through the veth: {name}, {} frames of {}-{} bytes, {} s per run, \
         full speed",
        frames.len(),
        frames.iter().map(Vec::len).min().unwrap_or(0),
        frames.iter().map(Vec::len).max().unwrap_or(0),
        RUN.as_secs()
    );
    let configs = ["no XDP", "empty XDP", "faultd"];
    let mut runs: [Vec<Run>; 3] = Default::default();
    for round in 1..=ROUNDS {
        for (i, config) in configs.iter().enumerate() {
            let run = match i {
                0 => wire.measure(None, frames, None, false)?,
                1 => {
                    wire.empty_xdp(true)?;
                    let run = wire.measure(None, frames, None, false);
                    wire.empty_xdp(false)?;
                    run?
                }
                _ => {
                    let d = wire.start()?;
                    let run = wire.measure(Some(&d), frames, None, false)?;
                    Wire::stop(d)?;
                    run
                }
            };
            let seen = if i == 2 {
                format!(
                    " (XDP saw {}/s; events {}/s, {} dropped; faultd CPU {:.0}%)",
                    k(run.per_s(run.xdp_frames)),
                    k(run.per_s(run.events)),
                    run.dropped,
                    run.faultd_cpu * 100.0
                )
            } else {
                String::new()
            };
            println!(
                "   round {round} {config:<9}: sent {:>7}/s, received {:>7}/s{seen}",
                k(run.per_s(run.sent)),
                k(run.per_s(run.received)),
            );
            runs[i].push(run);
            check()?;
        }
    }
    let received = runs
        .each_ref()
        .map(|runs| min_median(runs.iter().map(|r| r.per_s(r.received))));
    println!("   {:<10} {:>8} {:>8}", "received/s", "min", "median");
    for (config, (min, median)) in configs.iter().zip(received) {
        println!("   {config:<10} {:>8} {:>8}", k(min), k(median));
    }
    let [none, empty, faultd] = received.map(|(_, median)| median);
    println!(
        "   faultd / no XDP: {:.2}, faultd / empty XDP: {:.2} (medians)",
        faultd / none,
        faultd / empty
    );
    let config = |i: usize| {
        json!({
            "received_min": received[i].0,
            "received_median": received[i].1,
            "runs": runs[i].iter().map(Run::json).collect::<Vec<_>>(),
        })
    };
    Ok(json!({
        "frames": frames.len(),
        "none": config(0),
        "empty_xdp": config(1),
        "faultd": config(2),
        "faultd_over_none_median": faultd / none,
        "faultd_over_empty_median": faultd / empty,
    }))
}

/// Part 2: one daemon, the registrations paced at rising rates while it is scraped.
fn event_rate(wire: &Wire, frames: &[Vec<u8>]) -> anyhow::Result<Value> {
    println!(
        "\n== events/s without a drop, /metrics scraped every {} ms: NBNS registrations from \
         {} clients, paced, {} s per step",
        SCRAPE_EVERY.as_millis(),
        frames.len(),
        RUN.as_secs()
    );
    println!("   offered/s    sent/s  events/s  dropped  slowest scrape  faultd CPU");
    let d = wire.start()?;
    let mut steps = Vec::new();
    let mut best: Option<f64> = None;
    let mut rate = FIRST_RATE;
    let stop = loop {
        let run = wire.measure(Some(&d), frames, Some(rate), true)?;
        let sent = run.per_s(run.sent);
        println!(
            "   {:>9} {:>9} {:>9} {:>8} {:>11.1} ms {:>10.0}%",
            k(rate),
            k(sent),
            k(run.per_s(run.events)),
            run.dropped,
            run.slowest_scrape.as_secs_f64() * 1e3,
            run.faultd_cpu * 100.0
        );
        let mut step = run.json();
        step["offered_per_s"] = json!(rate);
        steps.push(step);
        check()?;
        if run.dropped > 0 {
            break format!("events dropped at {}/s offered", k(rate));
        }
        if run.slowest_scrape >= Duration::from_secs(1) {
            break format!("a scrape took 1 s or more at {}/s offered", k(rate));
        }
        best = Some(run.per_s(run.events));
        if sent < SENDER_KEEPS_UP * rate {
            break format!(
                "the sender cannot go faster: {}/s of {}/s offered",
                k(sent),
                k(rate)
            );
        }
        rate *= std::f64::consts::SQRT_2;
    };
    Wire::stop(d)?;
    match best {
        Some(best) => println!("   best rate with 0 dropped events: {}/s ({stop})", k(best)),
        None => println!("   no step without dropped events ({stop})"),
    }
    Ok(json!({
        "pacing": "paced: sendmmsg batches of up to 256 frames, as many as the clock says are due",
        "scrape_every_ms": SCRAPE_EVERY.as_millis() as u64,
        "steps": steps,
        "best_zero_drop_events_per_s": best,
        "stopped": stop,
    }))
}

/// DNS-sized UDP datagrams to port 53 and TCP segments to port 443, alternating, from as
/// many clients: what faultd turns away at the transport ports.
fn unwatched() -> Vec<Vec<u8>> {
    let server = Ipv4Addr::new(10, 0, 0, 1);
    (0..4096u32)
        .map(|i| {
            let client = Ipv4Addr::from(0x0a01_0000 | i);
            let ip = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]).ipv4(client, server);
            let port = 10_000 + i as u16;
            if i % 2 == 0 {
                ip.udp(port, 53).payload(&[0; 40])
            } else {
                ip.tcp(port, 443).payload(&[0; 40])
            }
        })
        .collect()
}

/// An XDP program that passes every frame and does nothing else. faultd's object has one
/// (`faultd bench` measures it), but loading that object takes aya, which xtask does without.
struct EmptyXdp(OwnedFd);

impl EmptyXdp {
    fn load() -> anyhow::Result<EmptyXdp> {
        const BPF_PROG_LOAD: libc::c_long = 5;
        const BPF_PROG_TYPE_XDP: u32 = 6;
        // r0 = XDP_PASS (2); exit
        let insns: [u8; 16] = [0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        let license = c"GPL";
        let mut attr = [0u8; 128];
        attr[0..4].copy_from_slice(&BPF_PROG_TYPE_XDP.to_ne_bytes());
        attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
        attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
        attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
        let fd = bpf(BPF_PROG_LOAD, &attr).context("loading an empty XDP program")?;
        // SAFETY: a fresh descriptor nobody else owns.
        Ok(EmptyXdp(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

fn bpf(cmd: libc::c_long, attr: &[u8; 128]) -> std::io::Result<i32> {
    // SAFETY: `attr` is a zero-padded bpf_attr of the size passed; what it points to lives
    // through the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_ptr(), attr.len()) };
    match rc {
        ..0 => Err(std::io::Error::last_os_error()),
        fd => Ok(fd as i32),
    }
}

/// A process's user and system CPU time in seconds (`/proc/PID/stat`, fields 14 and 15).
fn cpu_seconds(pid: u32) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which may hold spaces, from the state (3rd) on.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // SAFETY: sysconf has no preconditions.
    let per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok((user + system) / per_s),
        _ => Err(std::io::Error::other(format!("/proc/{pid}/stat: {stat}"))),
    }
}

fn min_median(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    (v[0], median)
}

/// Thousands, one decimal: rates read at a glance.
fn k(per_s: f64) -> String {
    format!("{:.1}k", per_s / 1e3)
}
