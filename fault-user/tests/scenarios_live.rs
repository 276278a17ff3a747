//! Every fault scenario played live: `faultd run` on a veth in a network namespace, the
//! frames sent from the peer on their schedule (ten times faster than life, with the
//! detectors' timeouts to match), and the records it serves and logs compared with what
//! `faultd replay` says of the same traffic on the same settings (times aside: live, the
//! clock is the kernel's). Needs root (skips loudly without).

mod common;

use std::{path::Path, process::Command, time::Duration};

use common::{BASE_NS, FAULTD, replay, timeless};
use fault_tests::{
    TempPcap,
    daemon::{Daemon, Scrape, unique},
    netns::{Netns, Veth, is_root, send_timed},
    scenario::{self, FAST_FLAGS, SPEEDUP},
};
use fault_user::detect::wins;
use serde_json::Value;

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|r| (r["fault"].to_string(), r["client"].to_string()));
    v
}

#[test]
fn the_scenarios_played_live_give_the_same_records() {
    if !is_root() {
        eprintln!("SKIPPED the_scenarios_played_live_give_the_same_records: needs root");
        return;
    }
    let all = scenario::all();
    let frames = scenario::merged(&all, BASE_NS, SPEEDUP);
    let pcap = TempPcap::new("scenarios-fast", &frames).unwrap();
    let want = sorted(
        replay(pcap.path(), "user", &FAST_FLAGS)
            .into_iter()
            .map(timeless)
            .collect(),
    );
    // At least one record for each fault scenario (some have two).
    let faults: Vec<&str> = all.iter().filter_map(|s| s.fault).collect();
    assert!(want.len() >= faults.len(), "{} records", want.len());

    let (a, b) = (Netns::new("sca").unwrap(), Netns::new("scb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("scenarios");
    let log = std::env::temp_dir().join(format!("faultd-scenarios-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut args = vec!["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()];
    args.extend(["--fault-log", log.to_str().unwrap()]);
    args.extend(FAST_FLAGS);
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &args).unwrap();
    send_timed(&b, &veth.b, &frames).unwrap();
    let count = |s: &Scrape, f: &str| s.u64(&format!("faultd_faults_total{{fault=\"{f}\"}}"));
    let kinds = [
        "wins_backup_swap",
        "netbios_ip_connect_failure",
        "ncp_wrong_socket",
        "sms_port_conflict",
        "ras_port_leak",
    ];
    let s = d
        .scrape_within(Duration::from_secs(30), |s| {
            kinds.iter().map(|f| count(s, f)).sum::<u64>() >= want.len() as u64
        })
        .unwrap();
    assert_eq!(s.frames_seen(), frames.len() as u64);
    assert_eq!(s.u64("faultd_events_dropped_total"), 0);
    for f in kinds {
        let n = want.iter().filter(|r| r["fault"] == f).count() as u64;
        assert!(faults.contains(&f) && n > 0, "no {f} scenario");
        assert_eq!(count(&s, f), n, "faultd_faults_total{{fault={f}}}");
        // wins_benign_many_names registers 40 names twice each (primary, then backup):
        // 80 registrations, of which an episode keeps the last 32.
        let dropped = if f == "wins_backup_swap" {
            80 - wins::REQUESTS as u64
        } else {
            0
        };
        let evicted = format!("faultd_detector_evictions_total{{detector=\"{f}\"}}");
        assert_eq!(s.u64(&evicted), dropped, "{evicted}");
    }
    // Every unconfirmed clear still counts as a leaked port (for an hour).
    let unconfirmed = want
        .iter()
        .filter(|r| r["reason"] == "disconnect_unacknowledged")
        .count() as u64;
    assert!(unconfirmed > 0);
    assert_eq!(s.u64("faultd_ras_leaked_ports"), unconfirmed);
    let api: Value = serde_json::from_str(&d.get("/api/faults", None).unwrap().body).unwrap();
    let live = sorted(
        api.as_array()
            .unwrap()
            .iter()
            .cloned()
            .map(timeless)
            .collect(),
    );
    assert_eq!(live, want);
    // The page for people shows every record's summary (escaped: names hold `<` and `>`)
    // and the fault counters.
    let page = d.get("/", Some("text/html")).unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.content_type
            .as_deref()
            .unwrap_or("")
            .starts_with("text/html")
    );
    let escaped = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    for r in &want {
        let summary = escaped(r["summary"].as_str().unwrap());
        assert!(page.body.contains(&summary), "{summary} not on the page");
    }
    assert!(
        page.body
            .contains(&format!("Recent faults ({}", want.len()))
    );
    // And the hosts that speak the legacy protocols most, from the flow table: the
    // scenarios have more than ten such hosts.
    assert!(page.body.contains("Who still speaks NetBIOS, IPX, PPTP..."));
    let rows = page.body.matches("<tr><td><code>").count();
    assert_eq!(rows, 10, "the ten busiest speakers:\n{}", page.body);
    let (status, _) = d.stop().unwrap();
    assert!(status.success());
    let logged: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| timeless(serde_json::from_str(l).unwrap()))
        .collect();
    assert_eq!(sorted(logged), want, "the fault log holds the same records");
    let _ = std::fs::remove_file(&log);
    let _ = Command::new(FAULTD)
        .args(["detach", "--pin-path", pin.to_str().unwrap()])
        .output();
}
