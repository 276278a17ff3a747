//! The SMS and RAS detectors, `sms_port_conflict` (Q229097) and `ras_port_leak` (Q244717),
//! as docs/faults.md defines them, judged on what a user sees: the records `faultd replay`
//! prints for the scenarios of `fault_tests::scenario` (each frame vouched for by tshark),
//! which must be those of the scenario's golden file (`tests/golden/<scenario>.jsonl`;
//! `FAULTD_BLESS=1` rewrites them), and for the real captures. `scenarios_live.rs` plays
//! the same scenarios to `faultd run` and checks the `faultd_ras_leaked_ports` gauge.

mod common;

use std::net::Ipv4Addr;

use common::{BASE_NS, faultd, replay};
use fault_tests::{Carrier, Eth, Network, TempPcap, golden, ip::TCP_SYN, scenario};
use serde_json::{Value, json};

fn scenarios() -> Vec<scenario::Scenario> {
    let mut v = scenario::sms();
    v.extend(scenario::ras());
    v
}

#[test]
fn every_scenario_frame_is_what_tshark_says_it_is() {
    common::frames_are_what_tshark_says("sms-ras-scenarios", &scenarios());
}

#[test]
fn each_scenario_gives_exactly_its_records_on_both_engines() {
    common::each_gives_exactly(&scenarios());
}

#[test]
fn all_scenarios_at_once_give_the_union_of_their_records() {
    common::all_at_once_give_the_union("sms-ras-all", &scenarios());
}

/// `sms_ipv6_extension_headers` gives the records of `sms_ipv6`, on its own subnet: the
/// extension headers, in the datagram and in the ICMPv6 error's quote of it, change
/// nothing. Checked on the golden files, so blessing cannot drift one from the other.
#[test]
fn extension_headers_change_no_record() {
    let plain = golden::lines("sms_ipv6").join("\n");
    let extended = golden::lines("sms_ipv6_extension_headers").join("\n");
    assert_eq!(
        extended,
        plain.replace("2001:db8:0:40::", "2001:db8:0:3b::")
    );
}

/// The same collision (host, port, transport, reason) at 0, 10 and 61 minutes: reported
/// at 0 and 61 with the default hour, at all three every 5 minutes; another port, or the
/// other reason, is another record.
#[test]
fn each_conflict_is_reported_once_per_interval() {
    let (h, web) = (Ipv4Addr::new(10, 90, 0, 10), Ipv4Addr::new(10, 90, 0, 30));
    let syn = |sport: u16| {
        Eth::new([2, 0, 0, 0, 90, 10], [2, 0, 0, 0, 90, 30])
            .ipv4(h, web)
            .tcp(sport, 80)
            .flags(TCP_SYN)
            .payload(&[])
    };
    let min = 60_000_000_000u64;
    let frames = vec![
        (BASE_NS, syn(1761)),
        (BASE_NS + min, syn(1762)),
        (BASE_NS + 10 * min, syn(1761)),
        (BASE_NS + 61 * min, syn(1761)),
    ];
    let pcap = TempPcap::new("sms-interval", &frames).unwrap();
    let seen = |flags: &[&str]| -> Vec<(String, u64)> {
        replay(pcap.path(), "user", flags)
            .iter()
            .map(|r| {
                (
                    r["ts"].as_str().unwrap()[11..16].to_owned(),
                    r["port"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let at = |hm: &str, port: u64| (hm.to_owned(), port);
    assert_eq!(
        seen(&[]),
        [at("22:13", 1761), at("22:14", 1762), at("23:14", 1761)]
    );
    assert_eq!(
        seen(&["--sms-report-interval", "5m"]),
        [
            at("22:13", 1761),
            at("22:14", 1762),
            at("22:23", 1761),
            at("23:14", 1761)
        ]
    );
    let (code, _, err) = faultd(&[
        "replay",
        pcap.path().to_str().unwrap(),
        "--sms-report-interval",
        "2d",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--sms-report-interval") && err.contains("units: ms, s, m, h"),
        "{err}"
    );
}

/// `--pptp-clear-timeout`: the KB scenario's clear at 5 s, unconfirmed, is reported at
/// 5 s plus the timeout.
#[test]
fn the_clear_timeout_is_a_flag() {
    let s = scenario::ras()
        .into_iter()
        .find(|s| s.name == "ras_kb_disconnect_unacknowledged")
        .unwrap();
    let pcap = TempPcap::new("ras-timeout", &s.frames(BASE_NS, 1)).unwrap();
    let r = replay(pcap.path(), "user", &["--pptp-clear-timeout", "30s"]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["ts"], "2023-11-14T22:13:55.000000Z");
    let summary = r[0]["summary"].as_str().unwrap();
    assert!(summary.contains("within 30 s"), "{summary}");
}

/// What `faultd classify` says of the scenarios with coalesced and cut segments, on both
/// engines. Classes count frames: the segment with two Call-Disconnect-Notifies is one
/// frame in `pptp.call_disconnect_notify`. The clear behind a Set-Link-Info counts (tshark's
/// `pptp.control_message_type==12` would not: it decodes only a segment's first message).
/// The Set-Link-Info cut at its segment's end counts in `pptp.control.cut`; the next
/// segment, which starts inside it, is in no PPTP class.
#[test]
fn coalesced_and_cut_segments_show_in_the_class_counts() {
    let cases: [(&str, &[(&str, u64)]); 3] = [
        (
            "ras_kb_clear_coalesced_after_set_link_info",
            &[
                ("pptp.control", 5),
                ("pptp.out_call_request", 1),
                ("pptp.out_call_reply", 1),
                ("pptp.call_clear_request", 1),
            ],
        ),
        (
            "ras_benign_two_disconnect_notifies_in_one_segment",
            &[
                ("pptp.control", 9),
                ("pptp.out_call_request", 2),
                ("pptp.out_call_reply", 2),
                ("pptp.call_clear_request", 2),
                ("pptp.call_disconnect_notify", 1),
            ],
        ),
        (
            "ras_kb_clear_then_a_message_cut_across_segments",
            &[
                ("pptp.control", 5),
                ("pptp.out_call_request", 1),
                ("pptp.out_call_reply", 1),
                ("pptp.call_clear_request", 1),
                ("pptp.control.cut", 1),
            ],
        ),
    ];
    for (name, want) in cases {
        let s = scenario::ras()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        let pcap = TempPcap::new(name, &s.frames(BASE_NS, 1)).unwrap();
        for engine in common::engines() {
            let (code, out, err) = faultd(&[
                "classify",
                pcap.path().to_str().unwrap(),
                "--engine",
                engine,
            ]);
            assert_eq!(code, 0, "{err}");
            let v: Value = serde_json::from_str(&out).unwrap();
            let got: Vec<(&str, u64)> = v["classes"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(c, _)| c.starts_with("pptp."))
                .map(|(c, n)| (c.as_str(), n.as_u64().unwrap()))
                .collect();
            assert_eq!(got, want, "{name} ({engine} engine)");
            assert_eq!(v["malformed"], 0, "{name} ({engine} engine)");
        }
    }
}

/// The PPTP captures show a clear answered by a disconnect-notify (nDPI's, whose server
/// names the client's call id in it), a control connection ended without any clear, and
/// calls left up: no ras_port_leak. One capture holds an sms_port_conflict: in
/// `nbss_called_SMBSERVER_positive_resp__wswiki_packet_capture.pcap` 64.235.108.186 sweeps
/// 192.168.1.101's ports from source port 2246 (a SYN scan) and 1764 answers RST. That is
/// docs/faults.md's `refused` to the letter, and faultd, seeing only the ports it watches,
/// cannot tell a scanner from a console: the record stands, and says what it saw.
#[test]
fn real_captures_show_only_the_refused_port_they_hold() {
    let Some(files) = common::corpus() else {
        return;
    };
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        let ours = common::records_of(&f, &["sms_port_conflict", "ras_port_leak"]);
        if name.starts_with("nbss_called_SMBSERVER_positive_resp") {
            assert_eq!(ours, vec![scanned()], "{name}");
        } else {
            assert_eq!(ours, Vec::<Value>::new(), "{name}: false report");
        }
    }
}

fn scanned() -> Value {
    json!({
        "fault": "sms_port_conflict",
        "kb": "Q229097",
        "ts": "2007-03-04T15:59:55.828127Z",
        "client": "192.168.1.101",
        "server": "64.235.108.186",
        "summary": "192.168.1.101 refused 64.235.108.186:2246 on SMS Helpdesk port 1764/tcp: the SMS remote-control agent is not listening there, as when another program took the port first (Q229097).",
        "port": 1764,
        "transport": "tcp",
        "reason": "refused",
        "evidence": [
            {
                "ts": "2007-03-04T15:59:55.827105Z",
                "from": "64.235.108.186:2246",
                "to": "192.168.1.101:1764",
                "what": "SYN to port 1764",
            },
            {
                "ts": "2007-03-04T15:59:55.828127Z",
                "from": "192.168.1.101:1764",
                "to": "64.235.108.186:2246",
                "what": "RST",
            },
        ],
        "remedy": "Apply the SMS fix that moves Remote Control to its registered ports 2701-2704 (sms-rcinfo, sms-remctrl, sms-chat, sms-xfer), or use a NetBIOS session for Remote Control instead of IP sockets; otherwise move the other program off 1761-1764.",
    })
}
