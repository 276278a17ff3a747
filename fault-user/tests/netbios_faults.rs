//! The NetBIOS detectors, `wins_backup_swap` (Q153073) and `netbios_ip_connect_failure`
//! (Q251166), as docs/faults.md defines them, judged on what a user sees: the records
//! `faultd replay` prints for the scenarios of `fault_tests::scenario` (each frame vouched
//! for by tshark), which must be those of the scenario's golden file
//! (`tests/golden/<scenario>.jsonl`; `FAULTD_BLESS=1` rewrites them), and for the real
//! captures. `scenarios_live.rs` plays the same scenarios to `faultd run`.

mod common;

use common::{BASE_NS, faultd, replay};
use fault_tests::{TempPcap, scenario};
use serde_json::{Value, json};

const OURS: [&str; 2] = ["wins_backup_swap", "netbios_ip_connect_failure"];

#[test]
fn every_scenario_frame_is_what_tshark_says_it_is() {
    common::frames_are_what_tshark_says("netbios-scenarios", &scenario::netbios());
}

#[test]
fn each_scenario_gives_exactly_its_records_on_both_engines() {
    common::each_gives_exactly(&scenario::netbios());
}

#[test]
fn all_scenarios_at_once_give_the_union_of_their_records() {
    common::all_at_once_give_the_union("netbios-all", &scenario::netbios());
}

#[test]
fn the_timeout_and_windows_are_flags() {
    let by_name = |n: &str| {
        scenario::netbios()
            .into_iter()
            .find(|s| s.name == n)
            .unwrap()
    };
    let nbstat = TempPcap::new(
        "nbstat-window",
        &by_name("nbstat_kb_sp5").frames(BASE_NS, 1),
    )
    .unwrap();
    let r = replay(nbstat.path(), "user", &["--nbstat-window", "10s"]);
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0]["ts"], "2023-11-14T22:13:30.000000Z",
        "first query + 10 s"
    );
    let summary = r[0]["summary"].as_str().unwrap();
    assert!(summary.contains("within 10 s"), "{summary}");
    // A window shorter than the response timeout waits for the timeout: queries at 0, 1.5
    // and 3 s, the last one unanswered 3 + 5 s later.
    let r = replay(nbstat.path(), "user", &["--nbstat-window", "2s"]);
    assert_eq!(r[0]["ts"], "2023-11-14T22:13:28.000000Z");
    let fast = ["--nbstat-window", "2s", "--nbns-timeout", "500ms"];
    let r = replay(nbstat.path(), "user", &fast);
    assert_eq!(r[0]["ts"], "2023-11-14T22:13:22.000000Z");

    let frames = by_name("wins_h_node_one_name_lost").frames(BASE_NS, 1);
    let wins = TempPcap::new("wins-episode", &frames).unwrap();
    let r = replay(wins.path(), "user", &["--wins-episode", "2m"]);
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0]["ts"], "2023-11-14T22:15:29.000000Z",
        "last registration (9 s) + 120 s"
    );
    // With a timeout shorter than the client's patience the primary's silence still counts.
    let r = replay(wins.path(), "user", &["--nbns-timeout", "1s"]);
    assert_eq!(r[0]["names_failed"], json!(["PC42<20>"]));

    let bad = [
        ("--nbns-timeout", "soon"),
        ("--wins-episode", "25h"),
        ("--nbstat-window", "0s"),
    ];
    for (flag, value) in bad {
        let (code, _, err) = faultd(&["replay", wins.path().to_str().unwrap(), flag, value]);
        assert_eq!(code, 2, "{flag} {value}");
        assert!(
            err.contains(flag) && err.contains(value),
            "{flag} {value}: {err}"
        );
        assert!(
            err.contains("5s, 1500ms or 2m") || err.contains("1ms to 24h"),
            "{err}"
        );
    }
}

/// Of the real captures, only one shows a NetBIOS fault. In it, 10.232.82.150 answers each
/// NBSTAT query 10.232.82.190 sends from UDP 137 with an ICMP port unreachable that quotes
/// the query (the queries themselves were not captured), twice three times 24 s apart, and
/// no session follows: Q251166's signature, through the ICMP proof docs/faults.md accepts.
/// The rest includes the look-alikes: a WINS server that never answers and a client that
/// falls back to broadcast, unanswered refreshes, refused broadcast registrations, answered
/// NBSTAT queries, an NBSTAT sweep from port 37259.
#[test]
fn real_captures_show_only_the_one_nbstat_failure_they_hold() {
    let Some(files) = common::corpus() else {
        return;
    };
    for f in files {
        let ours = common::records_of(&f, &OURS);
        let name = f.file_name().unwrap().to_str().unwrap();
        if name.starts_with("icmp_port_unreach_quoting_nbstat") {
            assert_eq!(ours, vec![aircraft()], "{name}");
        } else {
            assert_eq!(ours, Vec::<Value>::new(), "{name}: false report");
        }
    }
}

fn aircraft() -> Value {
    json!({
        "fault": "netbios_ip_connect_failure",
        "kb": "Q251166",
        "ts": "2011-01-26T12:09:27.564022Z",
        "client": "10.232.82.190",
        "server": "10.232.82.150",
        "summary": "10.232.82.190 could not connect to \\\\10.232.82.150 by IP address: its NetBIOS adapter-status query to UDP 137 got only an ICMP destination unreachable and no NetBIOS session followed within 30 s (Q251166).",
        "icmp_unreachable": true,
        "tcp139_reachable": false,
        "smbserver_tried": false,
        "evidence": [{
            "ts": "2011-01-26T12:08:57.564022Z",
            "from": "10.232.82.150",
            "to": "10.232.82.190",
            "what": "ICMP destination unreachable quoting NBSTAT query 0x8028 (first of 6)",
        }],
        "remedy": "Install Windows NT 4.0 Service Pack 6 or later on the client, or let UDP 137 through from the client to the server.",
    })
}
