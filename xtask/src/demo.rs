//! `cargo xtask demo`: faultd live, in a minute, with nothing to configure. Two fresh
//! network namespaces joined by a veth pair; `faultd run` on one end; every frame class
//! sent from the other over AF_PACKET, then the fault scenarios (each KB article's fault
//! and its benign look-alikes) played in real time; then what a user would look at: the
//! metrics, the fault records, and the interface left clean. Everything it creates is
//! removed, also on Ctrl-C.

use std::{process::Command, time::Duration};

use crate::{Pins, check};
use anyhow::{Context as _, bail};
use fault_tests::{
    daemon::{Daemon, has_xdp},
    netns::{Netns, Veth, is_root, send_frames, send_timed},
    scenario::{self, FAST_FLAGS, SPEEDUP},
};

pub fn run() -> anyhow::Result<()> {
    let (faultd, pcap, n_frames) = crate::build_and_write_capture()?;
    if std::env::var_os("FAULTD_DEMO_OFFLINE").is_some() {
        println!("== FAULTD_DEMO_OFFLINE is set: the same frames, offline\n");
        return crate::offline_demo(&faultd, &pcap, n_frames);
    }
    if !is_root() {
        println!(
            "== the live demo needs root (network namespaces, XDP); showing the same frames \
             offline instead\n"
        );
        return crate::offline_demo(&faultd, &pcap, n_frames);
    }
    crate::catch_interrupts();
    let frames: Vec<Vec<u8>> = fault_tests::catalogue()
        .into_iter()
        .map(|s| s.frame)
        .filter(|f| f.len() <= 1514)
        .collect();

    let a = Netns::new("demo-a").context("creating a network namespace")?;
    let b = Netns::new("demo-b").context("creating a network namespace")?;
    let veth = Veth::new(&a, &b, 1500).context("creating the veth pair")?;
    println!(
        "== namespaces {} and {}, joined by {} <-> {}",
        a.name(),
        b.name(),
        veth.a,
        veth.b
    );
    let pins = Pins::new(&faultd, "demo");
    let fault_log = crate::root().join("target/demo/faults.jsonl");
    let _ = std::fs::remove_file(&fault_log);
    let addr = "127.0.0.1:10137".parse().expect("an address");
    let mut args = vec![
        "--iface",
        veth.a.as_str(),
        "--pin-path",
        pins.path.to_str().context("non-UTF-8 path")?,
        "--fault-log",
        fault_log.to_str().context("non-UTF-8 path")?,
    ];
    args.extend(FAST_FLAGS);
    println!("== faultd run {} (in {})", args.join(" "), a.name());
    println!(
        "   (timeouts {SPEEDUP}x shorter than the defaults: the scenarios play {SPEEDUP}x faster)"
    );
    let d = Daemon::start(&faultd, &a, addr, &args)?;
    for line in d.log().lines() {
        println!("   {line}");
    }
    check()?;

    println!(
        "\n== sending {} frames (every class faultd knows, and some it ignores) from {} over \
         AF_PACKET",
        frames.len(),
        veth.b
    );
    for chunk in frames.chunks(16) {
        send_frames(&b, &veth.b, chunk)?;
        std::thread::sleep(Duration::from_millis(50));
        check()?;
    }
    d.scrape_until(|s| s.frames_seen() >= frames.len() as u64)?;
    check()?;

    let scenarios = scenario::all();
    let played = scenario::merged(&scenarios, 0, SPEEDUP);
    println!(
        "\n== playing {} fault scenarios (NetBIOS, NetWare, SMS, RAS) at once ({} frames, {:.1} s):",
        scenarios.len(),
        played.len(),
        played.last().map_or(0, |(t, _)| *t) as f64 / 1e9
    );
    for s in &scenarios {
        println!(
            "   {:<48} {}",
            s.name,
            s.fault
                .map_or("benign look-alike: no record".to_string(), |f| format!(
                    "should give {f}"
                ))
        );
    }
    send_timed(&b, &veth.b, &played)?;
    check()?;
    // As many records as faultd replay finds in the same traffic, on the same settings:
    // the scenarios' (some give two) and the catalogue's own.
    let replayed = |frames: &[(u64, Vec<u8>)], name: &str| -> anyhow::Result<u64> {
        let path = crate::root().join("target/demo").join(name);
        fault_tests::write_pcap(&path, frames)?;
        let path = path.to_str().context("non-UTF-8 path")?.to_owned();
        let mut args = vec!["replay", path.as_str()];
        args.extend(FAST_FLAGS);
        Ok(crate::output(Command::new(&faultd).args(&args))?
            .lines()
            .count() as u64)
    };
    let in_scenarios = replayed(&played, "fault-scenarios-fast.pcap")?;
    let pcap_arg = pcap.to_str().context("non-UTF-8 path")?;
    let in_catalogue = crate::output(Command::new(&faultd).args(["replay", pcap_arg]))?
        .lines()
        .count() as u64;
    let expected = in_scenarios + in_catalogue;
    let faults_total = |s: &fault_tests::daemon::Scrape| {
        s.0.iter()
            .filter(|(k, _)| k.starts_with("faultd_faults_total{"))
            .map(|(_, v)| *v as u64)
            .sum::<u64>()
    };
    println!("   waiting for the detectors' deadlines (episode 6 s after the last registration)");
    let s = d.scrape_within(Duration::from_secs(30), |s| faults_total(s) >= expected)?;
    check()?;

    println!(
        "\n== curl http://{addr}/metrics (inside {}), the series worth a look:\n",
        a.name()
    );
    let classes =
        s.0.iter()
            .filter(|(k, v)| k.starts_with("faultd_class_frames_total{") && **v > 0.0);
    for (k, v) in classes {
        println!("   {k} {v}");
    }
    println!();
    for (k, v) in &s.0 {
        let shown = !k.starts_with("faultd_class_frames_total{") && k.starts_with("faultd_");
        if shown {
            println!("   {k} {v}");
        }
    }

    let faults = d.get("/api/faults", None)?;
    let records: Vec<serde_json::Value> = serde_json::from_str(&faults.body)
        .with_context(|| format!("/api/faults: {}", faults.body))?;
    println!(
        "\n== curl http://{addr}/api/faults: {} records (one in full, then one line each)\n",
        records.len()
    );
    if let Some(first) = records
        .iter()
        .find(|r| r["fault"] == "wins_backup_swap")
        .or(records.first())
    {
        for line in serde_json::to_string_pretty(first)?.lines() {
            println!("   {line}");
        }
        println!();
    }
    for r in &records {
        let field = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
        println!(
            "   {} {} {} -> {}\n      {}",
            field("ts"),
            field("fault"),
            field("client"),
            field("server"),
            field("summary")
        );
    }
    println!(
        "   (also in {}; {in_catalogue} of them come from the catalogue's own frames, which \
         hold a few faults too: an IPv6 NBSTAT query rejected by ICMPv6, NCP connects to \
         0x451 of a server advertised at 0x4018, SMS ports refused or taken)",
        fault_log.display()
    );

    let (status, log) = d.stop()?;
    println!("\n== SIGTERM: faultd exited with {status}");
    for line in log
        .lines()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        println!("   {line}");
    }
    if has_xdp(&a, &veth.a) {
        bail!(
            "{} still carries an XDP program after faultd stopped",
            veth.a
        );
    }
    println!("   ip link show {}: no XDP program left", veth.a);
    drop(pins);
    println!(
        "\n== removed the namespaces, the veth pair and the pins. Next: `cargo xtask test`, or \
         `faultd run --iface <your interface>` (see the README)."
    );
    Ok(())
}
