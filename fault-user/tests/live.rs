//! `faultd run` end to end: a real daemon attached to a veth in a network namespace, frames
//! sent from the peer namespace over AF_PACKET, and only what a user sees checked: the
//! `/metrics` series, `/api/faults`, the fault log, `ip link`, the pins and exit statuses.
//! Needs root (skips loudly without).

use std::{net::Ipv4Addr, path::Path, process::Command};

use fault_common::class::Class;
use fault_tests::{
    Carrier, Eth, Network, catalogue,
    daemon::{self, Daemon, Scrape, has_xdp, pins_left, unique},
    netbios::{NbName, nbns, registration_flood},
    netns::{Netns, Veth, is_root, send_frames},
    prometheus::{self, Prometheus},
    tunnel::{Tunnel, wrap},
};
use fault_user::engine::{Engine, user::UserEngine};

const FAULTD: &str = env!("CARGO_BIN_EXE_faultd");

fn root_or_skip(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIPPED {test}: live tests need root (XDP, namespaces)");
    }
    is_root()
}

/// Catalogue frames that fit a 1500-byte MTU: every class, tshark-checked.
fn frames() -> Vec<Vec<u8>> {
    catalogue()
        .into_iter()
        .map(|s| s.frame)
        .filter(|f| f.len() >= 14 && f.len() <= 1514)
        .collect()
}

/// What the same parser counts offline: the independent reference is tshark (the
/// catalogue and parity tests); here the question is whether live counting loses or adds.
fn offline(frames: &[Vec<u8>]) -> fault_common::Stats {
    let mut e = UserEngine::default();
    for f in frames {
        e.frame(1, f).unwrap();
    }
    e.stats().unwrap()
}

fn assert_counts(s: &Scrape, want: &fault_common::Stats, what: &str) {
    assert_eq!(s.frames_seen(), want.frames, "{what}: frames seen");
    assert_eq!(
        s.u64("faultd_frames_malformed_total"),
        want.malformed,
        "{what}: malformed"
    );
    assert_eq!(
        s.u64("faultd_frames_truncated_total"),
        want.truncated,
        "{what}: truncated"
    );
    assert_eq!(s.u64("faultd_events_total"), want.events, "{what}: events");
    for c in Class::ALL {
        assert_eq!(
            s.frames(c.name()),
            want.classes[c as usize],
            "{what}: class {}",
            c.name()
        );
    }
}

/// `faultd detach --pin-path PIN`, as a user would run it after the daemon.
fn detach(pin: &str) -> std::process::Output {
    daemon::detach(Path::new(FAULTD), pin)
}

#[test]
fn counts_every_class_exactly_as_sent_in_native_and_skb_mode() {
    if !root_or_skip("counts_every_class_exactly_as_sent") {
        return;
    }
    let frames = frames();
    let want = offline(&frames);
    assert!(
        want.classes.iter().all(|&n| n > 0),
        "the catalogue covers every class"
    );
    for mode in ["native", "skb"] {
        let (a, b) = (Netns::new("la").unwrap(), Netns::new("lb").unwrap());
        let veth = Veth::new(&a, &b, 1500).unwrap();
        let (addr, pin) = unique(mode);
        let pin_s = pin.to_str().unwrap();
        let d = Daemon::start(
            Path::new(FAULTD),
            &a,
            addr,
            &["--iface", &veth.a, "--xdp-mode", mode, "--pin-path", pin_s],
        )
        .unwrap();
        let start = d.scrape().unwrap();
        assert_eq!(start.frames_seen(), 0, "{mode}: nothing before we send");
        for kind in [
            "wins_backup_swap",
            "ncp_wrong_socket",
            "netbios_ip_connect_failure",
            "sms_port_conflict",
            "ras_port_leak",
        ] {
            assert_eq!(
                start.get(&format!("faultd_faults_total{{fault=\"{kind}\"}}")),
                Some(0.0),
                "{mode}: every catalogue fault has a zero series"
            );
        }
        assert_eq!(
            start.get(&format!(
                "faultd_xdp_attached{{iface=\"{}\",mode=\"{mode}\"}}",
                veth.a
            )),
            Some(1.0)
        );
        assert_eq!(start.get("faultd_flows_capacity"), Some(65536.0));
        assert_eq!(
            start.get("faultd_packet_clock_tick_seconds"),
            Some(0.004),
            "{mode}: watched frames read the ticked clock"
        );

        assert_eq!(send_frames(&b, &veth.b, &frames).unwrap(), frames.len());
        let s = d.scrape_until(|s| s.frames_seen() >= want.frames).unwrap();
        assert_counts(&s, &want, mode);
        assert!(s.u64("faultd_flows") > 0, "{mode}: flows counted");
        assert_eq!(s.u64("faultd_events_dropped_total"), 0);

        assert!(has_xdp(&a, &veth.a));
        let (status, log) = d.stop().unwrap();
        assert!(status.success(), "{mode}: exit {status}\n{log}");
        assert!(
            !has_xdp(&a, &veth.a),
            "{mode}: SIGTERM leaves no XDP program\n{log}"
        );
        let out = detach(pin_s);
        assert!(out.status.success());
        assert!(!pin.exists(), "{mode}: detach removes the pins");
    }
}

/// A monitoring host receives mirrored traffic in tunnels: each frame counts live as the
/// frame it carries (classes, events, nothing malformed), whatever carried it.
#[test]
fn tunnelled_and_mirrored_frames_count_live_as_the_frames_they_carry() {
    if !root_or_skip("tunnelled_and_mirrored_frames_count_live") {
        return;
    }
    // Room for the largest tunnel header (ERSPAN III with its subheader over IPv4: 58).
    let bare: Vec<Vec<u8>> = frames().into_iter().filter(|f| f.len() <= 1450).collect();
    let want = offline(&bare);
    let (a, b) = (Netns::new("ua").unwrap(), Netns::new("ub").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("tunnels");
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()],
    )
    .unwrap();
    let mut sent = fault_common::Stats::default();
    for tunnel in [
        Tunnel::Vxlan {
            outer_v6: false,
            vni: 7,
        },
        Tunnel::Erspan3 { subheader: true },
        Tunnel::GreIp {
            outer_v6: true,
            checksum: false,
            key: Some(1),
            seq: None,
        },
    ] {
        let carried: Vec<Vec<u8>> = bare.iter().map(|f| wrap(tunnel, f)).collect();
        assert_eq!(send_frames(&b, &veth.b, &carried).unwrap(), carried.len());
        sent.add(&want);
        let s = d.scrape_until(|s| s.frames_seen() >= sent.frames).unwrap();
        assert_counts(&s, &sent, &format!("{tunnel:?}"));
    }
    let (status, log) = d.stop().unwrap();
    assert!(status.success(), "exit {status}\n{log}");
    assert!(detach(pin.to_str().unwrap()).status.success());
}

#[test]
fn two_interfaces_add_up() {
    if !root_or_skip("two_interfaces_add_up") {
        return;
    }
    let frames = frames();
    let (x, y) = frames.split_at(frames.len() / 3);
    let (a, b) = (Netns::new("ta").unwrap(), Netns::new("tb").unwrap());
    let (v1, v2) = (
        Veth::new(&a, &b, 1500).unwrap(),
        Veth::new(&a, &b, 1500).unwrap(),
    );
    let (addr, pin) = unique("two");
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &[
            "--iface",
            &v1.a,
            "--iface",
            &v2.a,
            "--pin-path",
            pin.to_str().unwrap(),
        ],
    )
    .unwrap();
    send_frames(&b, &v1.b, x).unwrap();
    send_frames(&b, &v2.b, y).unwrap();
    let want = offline(&frames);
    let s = d.scrape_until(|s| s.frames_seen() >= want.frames).unwrap();
    assert_counts(&s, &want, "two interfaces");
    for v in [&v1, &v2] {
        assert_eq!(
            s.get(&format!(
                "faultd_xdp_attached{{iface=\"{}\",mode=\"native\"}}",
                v.a
            )),
            Some(1.0)
        );
    }
    let (status, _) = d.stop().unwrap();
    assert!(status.success());
    assert!(!has_xdp(&a, &v1.a) && !has_xdp(&a, &v2.a));
    detach(pin.to_str().unwrap());
}

#[test]
fn restart_keeps_counters_and_keep_attached_counts_while_down() {
    if !root_or_skip("restart_keeps_counters") {
        return;
    }
    let frames = frames();
    let (first, rest) = frames.split_at(40);
    let (second, third) = rest.split_at(30);
    let (a, b) = (Netns::new("ra").unwrap(), Netns::new("rb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("restart");
    let pin_s = pin.to_str().unwrap();
    let args = ["--iface", veth.a.as_str(), "--pin-path", pin_s];
    let total = |parts: &[&[Vec<u8>]]| offline(&parts.concat());

    // A plain restart: the pinned maps carry the counters over.
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &args).unwrap();
    send_frames(&b, &veth.b, first).unwrap();
    let want1 = total(&[first]);
    d.scrape_until(|s| s.frames_seen() >= want1.frames).unwrap();
    d.stop().unwrap();
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &args).unwrap();
    assert_counts(&d.scrape().unwrap(), &want1, "after a restart");

    // --keep-attached: stopped, the program stays and counts.
    let d_keep = {
        d.stop().unwrap();
        let mut keep = args.to_vec();
        keep.push("--keep-attached");
        Daemon::start(Path::new(FAULTD), &a, addr, &keep).unwrap()
    };
    let (status, log) = d_keep.stop().unwrap();
    assert!(status.success(), "{log}");
    assert!(
        has_xdp(&a, &veth.a),
        "--keep-attached leaves the program\n{log}"
    );
    send_frames(&b, &veth.b, second).unwrap();

    // Taking over the kept attachment: nothing sent while down is lost.
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &args).unwrap();
    let want2 = total(&[first, second]);
    assert_counts(&d.scrape().unwrap(), &want2, "frames sent while down");
    assert!(d.log().contains("took over the attachment"), "{}", d.log());
    send_frames(&b, &veth.b, third).unwrap();
    let want3 = total(&[first, second, third]);
    d.scrape_until(|s| s.frames_seen() >= want3.frames).unwrap();
    let (status, _) = d.stop().unwrap();
    assert!(status.success());
    assert!(
        !has_xdp(&a, &veth.a),
        "without --keep-attached, stopping detaches"
    );
    assert!(
        !pins_left(&pin).is_empty(),
        "the maps stay pinned for the next run"
    );

    let out = detach(pin_s);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("removed"), "{said}");
    assert!(!pin.exists(), "left behind: {:?}", pins_left(&pin));

    // And `faultd detach` on a kept attachment removes the program too.
    let mut keep = args.to_vec();
    keep.push("--keep-attached");
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &keep).unwrap();
    d.stop().unwrap();
    assert!(has_xdp(&a, &veth.a));
    detach(pin_s);
    assert!(!has_xdp(&a, &veth.a), "detach removes a kept attachment");
    assert!(!pin.exists());
}

#[test]
fn a_fault_reaches_the_log_the_api_and_the_metrics() {
    if !root_or_skip("a_fault_reaches_the_log") {
        return;
    }
    let (a, b) = (Netns::new("fa").unwrap(), Netns::new("fb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("fault");
    let log = std::env::temp_dir().join(format!("faultd-live-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &[
            "--iface",
            &veth.a,
            "--pin-path",
            pin.to_str().unwrap(),
            "--fault-log",
            log.to_str().unwrap(),
            "--canary",
        ],
    )
    .unwrap();
    let (client, server, other) = (
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 3),
    );
    let name = NbName::new("FAULTD-CANARY", 0x00);
    let udp = |src, dst, payload: &[u8]| {
        Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
            .ipv4(src, dst)
            .udp(137, 137)
            .payload(payload)
    };
    // Unanswered (sent twice: one episode), and answered: only the first is a fault.
    let frames = vec![
        udp(client, server, &nbns::query(0x4242, &name, false)),
        udp(client, server, &nbns::query(0x4242, &name, false)),
        udp(other, server, &nbns::query(0x4343, &name, false)),
        udp(
            server,
            other,
            &nbns::query_response(0x4343, &name, 300, &[(0, server)]),
        ),
    ];
    send_frames(&b, &veth.b, &frames).unwrap();
    let s = d
        .scrape_until(|s| s.get("faultd_faults_total{fault=\"canary\"}") >= Some(1.0))
        .unwrap();
    assert_eq!(s.u64("faultd_events_total"), 4);
    let api = d.get("/api/faults", None).unwrap();
    assert_eq!(api.content_type.as_deref(), Some("application/json"));
    let records: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["fault"], "canary");
    assert_eq!(r["client"], "10.0.0.2");
    assert_eq!(r["server"], "10.0.0.1");
    assert_eq!(r["evidence"][0]["from"], "10.0.0.2:137");
    assert_eq!(
        r["evidence"][0]["what"],
        "NBNS name query for FAULTD-CANARY<00>"
    );
    let (status, _) = d.stop().unwrap();
    assert!(status.success());
    let logged: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        logged,
        vec![r.clone()],
        "the fault log holds the same record"
    );
    let _ = std::fs::remove_file(&log);
    detach(pin.to_str().unwrap());
}

#[test]
fn bad_interfaces_and_flags_exit_2_and_leave_nothing() {
    if !root_or_skip("bad_interfaces_and_flags") {
        return;
    }
    let (a, b) = (Netns::new("ba").unwrap(), Netns::new("bb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("bad");
    let pin_s = pin.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = a.command(FAULTD).arg("run").args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    let (code, err) = run(&["--iface", "nosuch0", "--pin-path", pin_s]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no interface named \"nosuch0\""), "{err}");
    assert!(!pin.exists(), "a refused start pins nothing");

    let (code, err) = run(&["--iface", &veth.a, "--xdp-mode", "fast"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("possible values: auto, native, skb"), "{err}");

    let (code, err) = run(&["--pin-path", pin_s]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--iface"), "{err}");

    // A bridge has no native XDP: refused with native, skb with a warning under auto.
    assert!(
        a.command("ip")
            .args(["link", "add", "fdbr0", "type", "bridge"])
            .status()
            .unwrap()
            .success()
    );
    let (code, err) = run(&[
        "--iface",
        "fdbr0",
        "--xdp-mode",
        "native",
        "--pin-path",
        pin_s,
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("fdbr0 has no native XDP"), "{err}");
    assert!(!has_xdp(&a, "fdbr0"));
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &["--iface", "fdbr0", "--pin-path", pin_s],
    )
    .unwrap();
    assert!(d.log().contains("attaching in skb mode"), "{}", d.log());
    assert_eq!(
        d.scrape()
            .unwrap()
            .get("faultd_xdp_attached{iface=\"fdbr0\",mode=\"skb\"}"),
        Some(1.0)
    );

    // An interface that already carries a program (here, another faultd's): refused, and
    // the first attachment is untouched; a second attachment this run made is undone.
    let (_, pin2) = unique("bad2");
    let (code, err) = run(&[
        "--iface",
        &veth.a,
        "--iface",
        "fdbr0",
        "--pin-path",
        pin2.to_str().unwrap(),
        "--listen",
        "127.0.0.1:1",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot listen") || err.contains("already carries"),
        "{err}"
    );
    let (code, err) = run(&[
        "--iface",
        &veth.a,
        "--iface",
        "fdbr0",
        "--pin-path",
        pin2.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("fdbr0 already carries an XDP program"),
        "{err}"
    );
    assert!(
        !has_xdp(&a, &veth.a),
        "the failed start undid its first attachment"
    );
    assert!(
        has_xdp(&a, "fdbr0"),
        "the other daemon's attachment is untouched"
    );
    d.stop().unwrap();
    for p in [&pin, &pin2] {
        detach(p.to_str().unwrap());
    }
}

#[test]
fn a_real_prometheus_scrapes_faultd_and_promtool_accepts_the_exposition() {
    if !root_or_skip("a_real_prometheus_scrapes_faultd")
        || !prometheus::installed_or_skip("a_real_prometheus_scrapes_faultd")
    {
        return;
    }
    let frames = frames();
    let want = offline(&frames);
    let (a, b) = (Netns::new("pa").unwrap(), Netns::new("pb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("prom");
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()],
    )
    .unwrap();
    send_frames(&b, &veth.b, &frames).unwrap();
    d.scrape_until(|s| s.frames_seen() >= want.frames).unwrap();

    // promtool reads the Prometheus text format, which a plain GET gets.
    let text = d.get("/metrics", None).unwrap();
    assert_eq!(
        text.content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Prometheus itself asks for OpenMetrics; it must get it, and read every series.
    let om = d
        .get(
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
        )
        .unwrap();
    assert!(
        om.content_type
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(om.body.ends_with("# EOF\n"));

    let prom_addr = std::net::SocketAddr::from(([127, 0, 0, 1], addr.port() + 1000));
    let prom = Prometheus::start(
        &a,
        prom_addr,
        &format!("  - job_name: faultd\n    static_configs:\n      - targets: ['{addr}']\n"),
    )
    .unwrap();
    let query = |q: &str| -> Option<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(&prom.query(q)?).ok()?;
        let result = v["data"]["result"].as_array()?.clone();
        (!result.is_empty()).then_some(serde_json::Value::Array(result))
    };
    let value = |r: &serde_json::Value| r[0]["value"][1].as_str().unwrap().parse::<u64>().unwrap();
    let seen = fault_tests::netns::wait_for(std::time::Duration::from_secs(30), || {
        query("faultd_frames_total")
    });
    let seen = seen.unwrap_or_else(|| panic!("Prometheus never scraped faultd:\n{}", prom.log()));
    assert_eq!(value(&seen), want.frames);
    let ipx = query("faultd_class_frames_total%7Bclass%3D%22ipx%22%7D").unwrap();
    assert_eq!(value(&ipx), want.classes[Class::Ipx as usize]);
    let faults = query("faultd_faults_total").unwrap();
    assert_eq!(
        faults.as_array().unwrap().len(),
        5,
        "one series per catalogue fault"
    );
    let up = query("up%7Bjob%3D%22faultd%22%7D").unwrap();
    assert_eq!(value(&up), 1);
    dashboard_queries_answer(|q| query(&prometheus::encoded(q)));
    drop(prom);
    d.stop().unwrap();
    detach(pin.to_str().unwrap());
}

/// A blast of events must hold up neither a scrape nor a stop: the event path has a thread
/// of its own, works in bounded batches, and looks at the stop flag between them.
#[test]
fn scrapes_and_sigterm_are_answered_during_an_event_blast() {
    if !root_or_skip("scrapes_and_sigterm_are_answered_during_an_event_blast") {
        return;
    }
    let (a, b) = (Netns::new("ba").unwrap(), Netns::new("bb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("blast");
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()],
    )
    .unwrap();
    // WINS registrations from 4096 clients (four times the detector's bound), an event each.
    let frames = registration_flood(4096);
    let blasting = std::sync::atomic::AtomicBool::new(true);
    let slowest = std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let mut sent = 0;
            while blasting.load(std::sync::atomic::Ordering::Relaxed) {
                sent += send_frames(&b, &veth.b, &frames).unwrap();
            }
            sent
        });
        let mut slowest = std::time::Duration::ZERO;
        let mut scrapes = Vec::new();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(4);
        while std::time::Instant::now() < end {
            let t = std::time::Instant::now();
            scrapes.push(d.scrape().unwrap());
            slowest = slowest.max(t.elapsed());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // The events went somewhere a user can see: handled, or counted as dropped.
        let last = scrapes.last().unwrap();
        assert!(
            last.u64("faultd_events_total") + last.u64("faultd_events_dropped_total") > 10_000,
            "the blast reached faultd: {:?}",
            last.0
        );
        let t = std::time::Instant::now();
        let (status, log) = d.stop().unwrap();
        let stopped = t.elapsed();
        blasting.store(false, std::sync::atomic::Ordering::Relaxed);
        let sent = sender.join().unwrap();
        assert!(status.success(), "{log}");
        assert!(
            stopped < std::time::Duration::from_secs(2),
            "SIGTERM during a blast took {stopped:?} ({sent} frames sent):\n{log}"
        );
        eprintln!(
            "{} scrapes during a blast of {sent} frames ({} events written to the queue, {} dropped): \
             slowest {slowest:?}; SIGTERM handled in {stopped:?}",
            scrapes.len(),
            last.u64("faultd_events_total"),
            last.u64("faultd_events_dropped_total"),
        );
        slowest
    });
    assert!(
        slowest < std::time::Duration::from_secs(1),
        "a scrape during the blast took {slowest:?}"
    );
    assert!(!has_xdp(&a, &veth.a), "stopped, so detached");
    let _ = detach(pin.to_str().unwrap());
}

/// Every query of the Grafana dashboard is valid PromQL and gives data from a faultd that
/// has seen every class; only the table of hosts with faults may be empty (these frames
/// make no fault).
fn dashboard_queries_answer(query: impl Fn(&str) -> Option<serde_json::Value>) {
    let queries = prometheus::dashboard_queries();
    assert!(queries.len() >= 10, "{} queries", queries.len());
    for (title, q) in queries {
        // Rates need two scrapes in their window: give Prometheus a few seconds.
        let got = fault_tests::netns::wait_for(std::time::Duration::from_secs(20), || query(&q));
        if title != "Faults in the time range, by host" {
            assert!(got.is_some(), "{title}: no data for {q}");
        }
    }
}
