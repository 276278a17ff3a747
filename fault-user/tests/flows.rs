//! `faultd replay --flows`, `faultd flows` and `GET /api/flows`: the flow table as users
//! see it, held to `faultd classify` and to tshark on the same frames, offline on both
//! engines and live in network namespaces.

mod common;

use std::{collections::BTreeMap, net::Ipv4Addr, path::Path};

use common::{BASE_NS, corpus, engines, faultd};
use fault_tests::{
    Carrier as _, Eth, Network as _, TempPcap,
    daemon::{self, Daemon, unique},
    ipx::{self, Encap, IpxAddr},
    netbios::{NbName, NbRecord, nbns},
    netns::{Netns, Veth, is_root, send_frames, wait_for},
    scenario, tshark,
};
use fault_user::flows::view::Legacy;
use serde_json::Value;

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn replay_flows(pcap: &Path, engine: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "replay",
        pcap.to_str().unwrap(),
        "--engine",
        engine,
        "--flows",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = faultd(&args);
    assert_eq!(code, 0, "faultd {args:?}: {err}");
    assert!(!err.contains("partial"), "{err}");
    json_lines(&out)
}

fn classify(pcap: &Path, engine: &str) -> BTreeMap<String, u64> {
    let (code, out, err) = faultd(&["classify", pcap.to_str().unwrap(), "--engine", engine]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    v["classes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect()
}

fn packets(rows: &[Value]) -> u64 {
    rows.iter().map(|r| r["packets"].as_u64().unwrap()).sum()
}

/// For each class, flows have it iff classify counted it, and its flows hold at least
/// the frames classify counted in it (a flow's packets are all its classified frames);
/// both engines give the same flows.
fn flows_agree_with_classify(pcap: &Path, what: &str) -> Vec<Value> {
    let mut first: Option<Vec<Value>> = None;
    for engine in engines() {
        let flows = replay_flows(pcap, engine, &[]);
        let counts = classify(pcap, engine);
        for c in fault_common::Class::ALL {
            let with: Vec<&Value> = flows
                .iter()
                .filter(|f| {
                    f["classes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|n| n == c.name())
                })
                .collect();
            let n = counts.get(c.name()).copied().unwrap_or(0);
            assert_eq!(
                !with.is_empty(),
                n > 0,
                "{what} ({engine}): class {} has flows iff classify counts it ({n})",
                c.name()
            );
            let in_flows: u64 = with.iter().map(|f| f["packets"].as_u64().unwrap()).sum();
            assert!(
                in_flows >= n,
                "{what} ({engine}): {}: {in_flows} packets in its flows, {n} frames",
                c.name()
            );
        }
        match &first {
            None => first = Some(flows),
            Some(f) => assert_eq!(f, &flows, "{what}: both engines give the same flows"),
        }
    }
    first.unwrap()
}

fn scenario_capture(tag: &str) -> TempPcap {
    let frames = scenario::merged(&scenario::all(), BASE_NS, 1);
    TempPcap::new(tag, &frames).unwrap()
}

/// The tshark filter of a legacy protocol: any of its classes' filters, on frames that
/// are not ICMPv6 (faultd puts an ICMPv6 error only in `icmp6.unreachable`, whatever it
/// quotes; the SMS classes' filters leave out ICMP but not ICMPv6).
fn legacy_filter(l: Legacy) -> String {
    let mask = l.mask();
    let parts: Vec<String> = tshark::CLASS_FILTERS
        .iter()
        .filter(|(name, _)| {
            fault_common::Class::from_name(name).is_some_and(|c| c.bit() & mask != 0)
        })
        .map(|(_, f)| format!("({f})"))
        .collect();
    assert!(!parts.is_empty(), "{}", l.name());
    format!("!icmpv6 && ({})", parts.join(" || "))
}

/// tshark's source host of a frame as the inventory writes hosts: the innermost IP source,
/// or IPX network:node in lower-case hex.
fn tshark_host(row: &[String]) -> String {
    let last = |s: &str| s.rsplit(',').next().unwrap_or("").to_owned();
    if !row[0].is_empty() {
        return last(&row[0]);
    }
    if !row[1].is_empty() {
        return last(&row[1]);
    }
    let net = last(&row[2]).trim_start_matches("0x").to_ascii_lowercase();
    let node = last(&row[3]).replace(':', "").to_ascii_lowercase();
    format!("{net:0>8}:{node}")
}

#[test]
fn replayed_flows_hold_every_classified_frame_of_the_scenarios() {
    if !tshark::available_or_skip("replayed_flows_hold_every_classified_frame") {
        return;
    }
    let pcap = scenario_capture("flows-scenarios");
    let flows = flows_agree_with_classify(pcap.path(), "scenarios");
    // Exactly the frames in some class are in a flow: every frame of a scenario is whole,
    // so each frame the parser puts in a class it also accounts to a flow, and no other.
    let any_class = tshark::CLASS_FILTERS
        .iter()
        .map(|(_, f)| format!("({f})"))
        .collect::<Vec<_>>()
        .join(" || ");
    let classified = tshark::count(pcap.path(), &any_class) as u64;
    assert!(classified > 0);
    assert_eq!(
        packets(&flows),
        classified,
        "flow packets = classified frames"
    );
    // Flow times are packet times, in the capture's span.
    for f in &flows {
        let first = f["first"].as_str().unwrap();
        assert!(first.starts_with("2023-11-14T22:"), "{f}");
        assert!(f["last"].as_str().unwrap() >= first, "{f}");
    }
}

#[test]
fn the_inventory_of_the_scenarios_is_what_tshark_counts_per_source() {
    if !tshark::available_or_skip("the_inventory_of_the_scenarios") {
        return;
    }
    let pcap = scenario_capture("flows-inventory");
    // tshark: for each legacy protocol, its frames counted by source host.
    let mut want: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for l in Legacy::ALL {
        let rows = tshark::fields(
            pcap.path(),
            &legacy_filter(l),
            &["ip.src", "ipv6.src", "ipx.src.net", "ipx.src.node"],
        );
        for row in rows {
            *want.entry((tshark_host(&row), l.name())).or_default() += 1;
        }
    }
    assert!(want.len() > 5, "{want:?}");
    for engine in engines() {
        let hosts = replay_flows(pcap.path(), engine, &["--by", "host"]);
        let mut got: BTreeMap<(String, &str), u64> = BTreeMap::new();
        for h in &hosts {
            let host = h["host"].as_str().unwrap().to_owned();
            let mut most = 0;
            for l in Legacy::ALL {
                if let Some(s) = h["speaks"].get(l.name()) {
                    let n = s["packets"].as_u64().unwrap();
                    got.insert((host.clone(), l.name()), n);
                    most = most.max(n);
                }
            }
            assert!(h["packets"].as_u64().unwrap() >= most, "{h}");
        }
        assert_eq!(got, want, "{engine}: (host, protocol) -> packets");
        // Sorted by packets, most first.
        let p: Vec<u64> = hosts
            .iter()
            .map(|h| h["packets"].as_u64().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] >= w[1]), "{p:?}");
    }
}

#[test]
fn replayed_flows_of_the_real_captures_agree_with_classify() {
    let Some(files) = corpus() else {
        return;
    };
    for f in files {
        flows_agree_with_classify(&f, &f.display().to_string());
    }
}

#[test]
fn filters_sort_and_limit_on_the_command_line() {
    let pcap = scenario_capture("flows-filters");
    let all = replay_flows(pcap.path(), "user", &[]);
    let nbns = replay_flows(pcap.path(), "user", &["--class", "nbns"]);
    assert!(!nbns.is_empty() && nbns.len() < all.len());
    assert!(nbns.iter().all(|f| {
        f["classes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("nbns."))
    }));
    let top = replay_flows(pcap.path(), "user", &["--sort", "bytes", "--limit", "3"]);
    assert_eq!(top.len(), 3);
    let mut bytes: Vec<u64> = all.iter().map(|f| f["bytes"].as_u64().unwrap()).collect();
    bytes.sort_unstable_by(|a, b| b.cmp(a));
    let top_bytes: Vec<u64> = top.iter().map(|f| f["bytes"].as_u64().unwrap()).collect();
    assert_eq!(top_bytes, bytes[..3]);
    let src = all[0]["src"].as_str().unwrap().to_owned();
    if src.parse::<Ipv4Addr>().is_ok() {
        let mine = replay_flows(pcap.path(), "user", &["--host", &format!("{src}/32")]);
        assert!(!mine.is_empty());
        assert!(
            mine.iter()
                .all(|f| f["src"] == src.as_str() || f["dst"] == src.as_str())
        );
    }
    let p = pcap.path().to_str().unwrap();
    let (code, out, _) = faultd(&["replay", p, "--flows", "--format", "text"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("SRC "), "{out}");
    assert_eq!(out.lines().count(), all.len() + 1);
    let (code, _, err) = faultd(&["replay", p, "--flows", "--class", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no class \"nope\""), "{err}");
}

#[test]
fn flows_says_so_when_nothing_is_pinned() {
    let dir = std::env::temp_dir().join(format!("faultd-no-pins-{}", std::process::id()));
    let (code, out, err) = faultd(&["flows", "--pin-path", dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("nothing is pinned under"), "{err}");
}

// ---- live ----

const FAULTD: &str = env!("CARGO_BIN_EXE_faultd");

/// NBNS registrations from `client` (each a frame of class nbns.registration).
fn registrations(client: Ipv4Addr, n: u16) -> Vec<Vec<u8>> {
    let rec = NbRecord::new(NbName::new("OLDBOX", 0x00), client);
    (0..n)
        .map(|i| {
            Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
                .ipv4(client, Ipv4Addr::new(10, 77, 0, 255))
                .udp(137, 137)
                .payload(&nbns::registration(i, &rec, true))
        })
        .collect()
}

fn sap_queries(node: u8, n: usize) -> Vec<Vec<u8>> {
    let src = IpxAddr::new(0x0001_012a, [0, 0, 0, 0, 0, node], 0x4003);
    let dst = IpxAddr::new(0x0001_012a, [0xff; 6], 0x0452);
    (0..n)
        .map(|_| {
            Eth::new([2, 0, 0, 0, 0, node], [0xff; 6])
                .ipx(Encap::EthernetII, src, dst)
                .payload(&ipx::sap_query(true, 4))
        })
        .collect()
}

fn flows_cli(pin: &str, extra: &[&str]) -> (Vec<Value>, String) {
    let mut args = vec!["flows", "--pin-path", pin, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = faultd(&args);
    assert_eq!(code, 0, "faultd {args:?}: {err}");
    (json_lines(&out), err)
}

fn host<'a>(rows: &'a [Value], h: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["host"] == h)
        .unwrap_or_else(|| panic!("no host {h} in {rows:?}"))
}

/// The hosts that sent, with their counts (3 + 5 NBNS registrations, 4 SAP queries).
fn check_hosts(rows: &[Value], what: &str) {
    let a = host(rows, "10.77.0.1");
    assert_eq!(a["speaks"]["netbios-name"]["packets"], 3, "{what}");
    assert_eq!(a["packets"], 3, "{what}");
    assert_eq!(host(rows, "10.77.0.2")["packets"], 5, "{what}");
    let x = host(rows, "0001012a:000000000009");
    assert_eq!(x["speaks"]["ipx-sap"]["packets"], 4, "{what}");
    assert_eq!(x["speaks"]["ipx"]["packets"], 4, "{what}");
    // Live times are the kernel's clock turned into Unix time: this hour, today.
    let last = x["last"].as_str().unwrap();
    let now = fault_user::names::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    assert_eq!(&last[..13], &now[..13], "{what}: last {last}, now {now}");
}

/// faultd watching `veth`'s end in `node`, its state pinned under a path of its own
/// (returned, and as a string for the command line).
fn start<'a>(
    node: &'a Netns,
    veth: &Veth,
    name: &str,
    extra: &[&str],
) -> (Daemon<'a>, std::path::PathBuf, String) {
    let (addr, pin) = unique(name);
    let pin_s = pin.to_str().unwrap().to_owned();
    let mut args = vec!["--iface", veth.a.as_str(), "--pin-path", pin_s.as_str()];
    args.extend_from_slice(extra);
    let d = Daemon::start(Path::new(FAULTD), node, addr, &args).unwrap();
    (d, pin, pin_s)
}

/// `faultd detach` on `pin`, which must succeed.
fn detach(pin: &str) {
    daemon::detach_ok(Path::new(FAULTD), pin);
}

/// Stops the daemon, which must exit cleanly, and removes what it left on `pin`.
fn stop_and_detach(d: Daemon, pin: &str) {
    let (status, log) = d.stop().unwrap();
    assert!(status.success(), "{log}");
    detach(pin);
}

/// Sends one registration from `client` and checks its flow's last-seen time is when it
/// was sent (within 200 ms), as `faultd flows` reads the pinned table.
fn last_seen_is_now(sender: &Netns, veth_b: &str, pin: &str, client: Ipv4Addr) {
    let sent = std::time::SystemTime::now();
    assert_eq!(
        send_frames(sender, veth_b, &registrations(client, 1)).unwrap(),
        1
    );
    let host = client.to_string();
    let row = wait_for(std::time::Duration::from_secs(5), || {
        let (rows, _) = flows_cli(pin, &["--host", &host]);
        rows.into_iter().next()
    })
    .unwrap_or_else(|| panic!("no flow from {host}"));
    let last = humantime::parse_rfc3339(row["last"].as_str().unwrap()).unwrap();
    let skew = last
        .duration_since(sent)
        .unwrap_or_else(|e| e.duration())
        .as_millis();
    assert!(
        skew < 200,
        "last seen {row} is {skew} ms from when it was sent"
    );
}

#[test]
fn live_flows_show_the_hosts_that_sent_with_their_counts() {
    if !is_root() {
        eprintln!("SKIPPED live_flows_show_the_hosts: needs root");
        return;
    }
    let (a, b) = (Netns::new("fa").unwrap(), Netns::new("fb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("flows");
    let pin_s = pin.to_str().unwrap().to_owned();
    let args = ["--iface", veth.a.as_str(), "--pin-path", pin_s.as_str()];
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &args).unwrap();
    let mut frames = registrations(Ipv4Addr::new(10, 77, 0, 1), 3);
    frames.extend(registrations(Ipv4Addr::new(10, 77, 0, 2), 5));
    frames.extend(sap_queries(9, 4));
    assert_eq!(send_frames(&b, &veth.b, &frames).unwrap(), frames.len());
    let sent = frames.len() as u64;
    let rows = wait_for(std::time::Duration::from_secs(10), || {
        let (rows, _) = flows_cli(&pin_s, &["--by", "host"]);
        (packets(&rows) == sent).then_some(rows)
    })
    .expect("faultd flows shows every frame sent");
    check_hosts(&rows, "faultd flows --by host");
    assert_eq!(rows[0]["host"], "10.77.0.2", "most packets first");
    let (nb, err) = flows_cli(
        &pin_s,
        &["--class", "nbns.registration", "--host", "10.77.0.0/24"],
    );
    assert!(!err.contains("partial"), "{err}");
    assert_eq!(nb.len(), 2);
    assert_eq!(packets(&nb), 8);
    assert_eq!(nb[0]["src"], "10.77.0.2");
    assert_eq!(nb[0]["sport"], 137);

    let api = d.get("/api/flows?by=host", None).unwrap();
    assert_eq!(api.status, 200, "{}", api.body);
    let v: Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(v["partial"], false);
    assert_eq!(v["evicted"], 0);
    check_hosts(v["hosts"].as_array().unwrap(), "/api/flows?by=host");
    let api = d.get("/api/flows?class=ipx.sap&limit=1", None).unwrap();
    let v: Value = serde_json::from_str(&api.body).unwrap();
    let f = v["flows"].as_array().unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["src"], "0001012a:000000000009");
    assert_eq!(f[0]["packets"], 4);
    assert_eq!(d.get("/api/flows?class=nope", None).unwrap().status, 400);

    // The maps are pinned: a restart keeps the counts, and kept attached with no daemon,
    // `faultd flows` still reads them.
    let (status, log) = d.stop().unwrap();
    assert!(status.success(), "{log}");
    let kept = [&args[..], &["--keep-attached"]].concat();
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &kept).unwrap();
    let (rows, _) = flows_cli(&pin_s, &["--by", "host"]);
    check_hosts(&rows, "after a restart");
    let v: Value = serde_json::from_str(&d.get("/api/flows?by=host", None).unwrap().body).unwrap();
    check_hosts(v["hosts"].as_array().unwrap(), "/api/flows after a restart");
    let (status, log) = d.stop().unwrap();
    assert!(status.success(), "{log}");
    let (rows, _) = flows_cli(&pin_s, &["--by", "host"]);
    check_hosts(&rows, "kept attached, no daemon");
    // The packet clock's tick is kept with the attachment: a frame seen a while after the
    // daemon stopped has its own time, not the stopped daemon's last tick.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    last_seen_is_now(&b, &veth.b, &pin_s, Ipv4Addr::new(10, 77, 0, 3));
    detach(&pin_s);
    let (code, _, err) = faultd(&["flows", "--pin-path", &pin_s]);
    assert_eq!(code, 2, "{err}");
}

/// Frames longer than the first buffer reach XDP in fragments (a veth at MTU 9000, native
/// mode): their flows count every byte, whether an IPv4 header, an IPX header (Ethernet
/// II has no length of its own) or nothing at all (an IPv6 jumbogram, payload length 0)
/// says how long they are.
#[test]
fn frames_in_xdp_fragments_count_their_whole_length() {
    if !is_root() {
        eprintln!("SKIPPED frames_in_xdp_fragments: needs root");
        return;
    }
    let (a, b) = (Netns::new("ja").unwrap(), Netns::new("jb").unwrap());
    let veth = Veth::new(&a, &b, 9000).unwrap();
    let (d, _, pin_s) = start(&a, &veth, "jumbo", &[]);
    let rec = NbRecord::new(NbName::new("BIGBOX", 0x00), Ipv4Addr::new(10, 77, 1, 1));
    let mut nb = nbns::registration(1, &rec, true);
    nb.resize(nb.len() + 6000, 0);
    let v4 = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4(Ipv4Addr::new(10, 77, 1, 1), Ipv4Addr::new(10, 77, 1, 255))
        .udp(137, 137)
        .payload(&nb);
    // A PPTP segment (TCP has no length field) in an IPv6 packet of payload length 0, a
    // jumbogram's: the frame's end is the only bound.
    let mut v6 = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv6("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
        .tcp(40000, 1723)
        .payload(&[fault_tests::pptp::echo_request(7), vec![0; 6000]].concat());
    v6[18..20].copy_from_slice(&[0, 0]);
    let mut sap = ipx::sap_query(true, 4);
    sap.resize(sap.len() + 6000, 0);
    let ipx_frame = Eth::new([2, 0, 0, 0, 0, 7], [0xff; 6])
        .ipx(
            Encap::EthernetII,
            IpxAddr::new(0x0001_012a, [0, 0, 0, 0, 0, 7], 0x4003),
            IpxAddr::new(0x0001_012a, [0xff; 6], 0x0452),
        )
        .payload(&sap);
    let frames = [v4, v6, ipx_frame];
    assert!(frames.iter().all(|f| f.len() > 6000 && f.len() <= 9014));
    assert_eq!(send_frames(&b, &veth.b, &frames).unwrap(), 3);
    let rows = wait_for(std::time::Duration::from_secs(10), || {
        let (rows, _) = flows_cli(&pin_s, &[]);
        (rows.len() == 3).then_some(rows)
    })
    .expect("three flows");
    let bytes = |src: &str| {
        rows.iter()
            .find(|r| r["src"] == src)
            .unwrap_or_else(|| panic!("no flow from {src}: {rows:?}"))["bytes"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(bytes("10.77.1.1"), frames[0].len() as u64, "IPv4");
    assert_eq!(bytes("fd00::1"), frames[1].len() as u64, "IPv6 jumbogram");
    assert_eq!(
        bytes("0001012a:000000000007"),
        frames[2].len() as u64,
        "Ethernet II IPX"
    );
    stop_and_detach(d, &pin_s);
}

/// The packet clock's tick stopping (here its kept link's pin removed; a CPU taken
/// offline would do the same) is noticed within a couple of seconds: faultd says so, the
/// metric drops to 0, and frames get their time from the kernel's clock again rather than
/// the tick's last one.
#[test]
fn a_stopped_tick_is_noticed_and_frames_take_the_kernels_clock_again() {
    if !is_root() {
        eprintln!("SKIPPED a_stopped_tick_is_noticed: needs root");
        return;
    }
    let (a, b) = (Netns::new("ta").unwrap(), Netns::new("tb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (d, pin, pin_s) = start(&a, &veth, "tick", &["--keep-attached"]);
    let tick = |d: &Daemon| d.scrape().unwrap().get("faultd_packet_clock_tick_seconds");
    assert_eq!(tick(&d), Some(0.004));
    let kept = pin
        .join(format!("v{}", fault_common::maps::LAYOUT_VERSION))
        .join("tick");
    std::fs::remove_file(&kept).unwrap_or_else(|e| panic!("{}: {e}", kept.display()));
    let noticed = wait_for(std::time::Duration::from_secs(5), || {
        (tick(&d) == Some(0.0)).then_some(())
    });
    assert!(noticed.is_some(), "still ticking?\n{}", d.log());
    assert!(d.log().contains("tick stopped"), "{}", d.log());

    std::thread::sleep(std::time::Duration::from_millis(500));
    last_seen_is_now(&b, &veth.b, &pin_s, Ipv4Addr::new(10, 77, 0, 9));
    stop_and_detach(d, &pin_s);
}

/// Five flows of one bucket (the table has four ways a bucket): the kernel engine pushes
/// the least recently seen out, counts it, and the view says it is partial. (Filling
/// 65,536 flows per CPU live would take minutes; one full bucket is the same code path.)
#[test]
fn a_full_bucket_pushes_a_flow_out_and_the_view_says_it_is_partial() {
    if !is_root() {
        eprintln!("SKIPPED a_full_bucket: the kernel engine needs root");
        return;
    }
    let server = Ipv4Addr::new(10, 77, 0, 255);
    let key = |client: Ipv4Addr| {
        let mut k = fault_common::FlowKey {
            family: 4,
            proto: 17,
            sport: 137,
            dport: 137,
            ..Default::default()
        };
        k.src[..4].copy_from_slice(&client.octets());
        k.dst[..4].copy_from_slice(&server.octets());
        k
    };
    let first = Ipv4Addr::new(10, 88, 0, 1);
    let bucket = key(first).bucket();
    let clients: Vec<Ipv4Addr> = (1u32..)
        .map(|i| Ipv4Addr::from(0x0a58_0000 + i))
        .filter(|c| key(*c).bucket() == bucket)
        .take(5)
        .collect();
    let frames: Vec<(u64, Vec<u8>)> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let rec = NbRecord::new(NbName::new("OLDBOX", 0x00), *c);
            let f = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
                .ipv4(*c, server)
                .udp(137, 137)
                .payload(&nbns::registration(i as u16, &rec, true));
            (BASE_NS + i as u64 * 1_000_000_000, f)
        })
        .collect();
    let pcap = TempPcap::new("flows-full-bucket", &frames).unwrap();
    // One CPU: the table has a region per CPU, and all five must meet in one.
    let out = std::process::Command::new("taskset")
        .args(["-c", "0", FAULTD, "replay", "--flows", "--engine", "kernel"])
        .arg(pcap.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("partial: 1 flows were pushed out of the full table"),
        "{stderr}"
    );
    let rows = json_lines(&stdout);
    assert_eq!(
        rows.last().unwrap(),
        &serde_json::json!({"partial": true, "evicted": 1})
    );
    let flows = &rows[..rows.len() - 1];
    assert_eq!(flows.len(), 4);
    // The least recently seen went: the first client's.
    assert!(
        flows
            .iter()
            .all(|f| f["src"] != clients[0].to_string().as_str())
    );
    // The user engine keeps every flow: nothing pushed out, nothing partial.
    let user = replay_flows(pcap.path(), "user", &[]);
    assert_eq!(user.len(), 5);
}
