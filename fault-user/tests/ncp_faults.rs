//! The NetWare detector, `ncp_wrong_socket` (docs/faults.md, Q164987), judged on what a
//! user sees: the records `faultd replay` prints for the scenarios of
//! `fault_tests::scenario` (each frame vouched for by tshark, its NCP dissector included:
//! function, subfunction, object name and the NET_ADDRESS bytes) and for the real IPX
//! captures. `scenarios_live.rs` plays the same scenarios to `faultd run`.

mod common;

use common::{BASE_NS, faultd, replay};
use fault_tests::{TempPcap, scenario};
use serde_json::{Value, json};

#[test]
fn every_scenario_frame_is_what_tshark_says_it_is() {
    common::frames_are_what_tshark_says("ncp-scenarios", &scenario::ncp());
}

#[test]
fn each_scenario_gives_exactly_its_records_on_both_engines() {
    common::each_gives_exactly(&scenario::ncp(), expected);
}

#[test]
fn all_scenarios_at_once_give_the_union_of_their_records() {
    common::all_at_once_give_the_union("ncp-all", &scenario::ncp(), expected);
}

/// `answered` means a reply within `--ncp-timeout` of the last Create Service Connection.
#[test]
fn a_reply_counts_within_the_ncp_timeout() {
    let mut s = scenario::ncp()
        .into_iter()
        .find(|s| s.name == "ncp_learned_from_sap_answered")
        .unwrap();
    // The reply, 5 ms after the connect in the scenario, now comes 3 s after it.
    let reply = s
        .steps
        .iter_mut()
        .find(|st| st.check.starts_with("(ncp.type == 0x3333)"));
    reply.unwrap().at_ms += 2995;
    s.steps.sort_by_key(|st| st.at_ms);
    let pcap = TempPcap::new("ncp-late-reply", &s.frames(BASE_NS, 1)).unwrap();
    let answered = |flags: &[&str]| {
        let r = replay(pcap.path(), "user", flags);
        assert_eq!(r.len(), 1, "{flags:?}");
        assert_eq!(
            r[0]["ts"], "2023-11-14T22:13:20.100000Z",
            "the connect's time"
        );
        r[0]["answered"].clone()
    };
    assert_eq!(answered(&[]), json!(true));
    assert_eq!(answered(&["--ncp-timeout", "2s"]), json!(false));
    let (code, _, err) = faultd(&[
        "replay",
        pcap.path().to_str().unwrap(),
        "--ncp-timeout",
        "x",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--ncp-timeout") && err.contains("5s, 1500ms or 2m"),
        "{err}"
    );
}

/// The real IPX captures hold SAP responses (none for a file server at a dynamic socket),
/// SAP queries in all four framings, NCP over TCP 524, but no NCP over IPX: nothing to
/// report, and nothing is.
#[test]
fn real_captures_give_no_wrong_socket_report() {
    let Some(files) = common::corpus() else {
        return;
    };
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        let ours = common::records_of(&f, &["ncp_wrong_socket"]);
        assert_eq!(ours, Vec::<Value>::new(), "{name}: false report");
    }
}

fn expected(scenario: &str) -> Vec<Value> {
    match scenario {
        "ncp_kb_bad_cap_802_2" => vec![json!({
            "fault": "ncp_wrong_socket",
            "kb": "Q164987",
            "ts": "2023-11-14T22:13:20.100000Z",
            "client": "00010125:020000002a0a:4010",
            "server": "00010125:020000002a01:0451",
            "summary": "NetWare client 00010125:020000002a0a:4010 connected to 00010125:020000002a01:0451, but file server DTW6 is advertised at 00010125:020000002a01:4007: the client used socket 0451 instead of the advertised 4007 (the hard-coded NCP socket, Q164987) and got no reply.",
            "advertised": "00010125:020000002a01:4007",
            "server_name": "DTW6",
            "answered": false,
            "evidence": [
                {
                    "ts": "2023-11-14T22:13:20.000000Z",
                    "from": "00010125:020000002a0a:4010",
                    "to": "00010125:020000002a02:0451",
                    "what": "Read Property Value request: NET_ADDRESS of file server DTW6",
                },
                {
                    "ts": "2023-11-14T22:13:20.005000Z",
                    "from": "00010125:020000002a02:0451",
                    "to": "00010125:020000002a0a:4010",
                    "what": "Read Property Value reply: NET_ADDRESS of DTW6 is 00010125:020000002a01:4007",
                },
                {
                    "ts": "2023-11-14T22:13:20.100000Z",
                    "from": "00010125:020000002a0a:4010",
                    "to": "00010125:020000002a01:0451",
                    "what": "Create Service Connection to 00010125:020000002a01:0451 (3 transmissions)",
                },
            ],
        })],
        "ncp_kb_bad_cap_ethernet_ii" => vec![json!({
            "fault": "ncp_wrong_socket",
            "kb": "Q164987",
            "ts": "2023-11-14T22:13:20.100000Z",
            "client": "00010123:02000000280a:4010",
            "server": "00010123:020000002801:0451",
            "summary": "NetWare client 00010123:02000000280a:4010 connected to 00010123:020000002801:0451, but file server DTW4 is advertised at 00010123:020000002801:4007: the client used socket 0451 instead of the advertised 4007 (the hard-coded NCP socket, Q164987) and got no reply.",
            "advertised": "00010123:020000002801:4007",
            "server_name": "DTW4",
            "answered": false,
            "evidence": [
                {
                    "ts": "2023-11-14T22:13:20.000000Z",
                    "from": "00010123:02000000280a:4010",
                    "to": "00010123:020000002802:0451",
                    "what": "Read Property Value request: NET_ADDRESS of file server DTW4",
                },
                {
                    "ts": "2023-11-14T22:13:20.005000Z",
                    "from": "00010123:020000002802:0451",
                    "to": "00010123:02000000280a:4010",
                    "what": "Read Property Value reply: NET_ADDRESS of DTW4 is 00010123:020000002801:4007",
                },
                {
                    "ts": "2023-11-14T22:13:20.100000Z",
                    "from": "00010123:02000000280a:4010",
                    "to": "00010123:020000002801:0451",
                    "what": "Create Service Connection to 00010123:020000002801:0451 (3 transmissions)",
                },
            ],
        })],
        "ncp_kb_bad_cap_raw_802_3" => vec![json!({
            "fault": "ncp_wrong_socket",
            "kb": "Q164987",
            "ts": "2023-11-14T22:13:20.100000Z",
            "client": "00010124:02000000290a:4010",
            "server": "00010124:020000002901:0451",
            "summary": "NetWare client 00010124:02000000290a:4010 connected to 00010124:020000002901:0451, but file server DTW5 is advertised at 00010124:020000002901:4007: the client used socket 0451 instead of the advertised 4007 (the hard-coded NCP socket, Q164987) and got no reply.",
            "advertised": "00010124:020000002901:4007",
            "server_name": "DTW5",
            "answered": false,
            "evidence": [
                {
                    "ts": "2023-11-14T22:13:20.000000Z",
                    "from": "00010124:02000000290a:4010",
                    "to": "00010124:020000002902:0451",
                    "what": "Read Property Value request: NET_ADDRESS of file server DTW5",
                },
                {
                    "ts": "2023-11-14T22:13:20.005000Z",
                    "from": "00010124:020000002902:0451",
                    "to": "00010124:02000000290a:4010",
                    "what": "Read Property Value reply: NET_ADDRESS of DTW5 is 00010124:020000002901:4007",
                },
                {
                    "ts": "2023-11-14T22:13:20.100000Z",
                    "from": "00010124:02000000290a:4010",
                    "to": "00010124:020000002901:0451",
                    "what": "Create Service Connection to 00010124:020000002901:0451 (3 transmissions)",
                },
            ],
        })],
        "ncp_kb_bad_cap_snap" => vec![json!({
            "fault": "ncp_wrong_socket",
            "kb": "Q164987",
            "ts": "2023-11-14T22:13:20.100000Z",
            "client": "00010126:020000002b0a:4010",
            "server": "00010126:020000002b01:0451",
            "summary": "NetWare client 00010126:020000002b0a:4010 connected to 00010126:020000002b01:0451, but file server DTW7 is advertised at 00010126:020000002b01:4007: the client used socket 0451 instead of the advertised 4007 (the hard-coded NCP socket, Q164987) and got no reply.",
            "advertised": "00010126:020000002b01:4007",
            "server_name": "DTW7",
            "answered": false,
            "evidence": [
                {
                    "ts": "2023-11-14T22:13:20.000000Z",
                    "from": "00010126:020000002b0a:4010",
                    "to": "00010126:020000002b02:0451",
                    "what": "Read Property Value request: NET_ADDRESS of file server DTW7",
                },
                {
                    "ts": "2023-11-14T22:13:20.005000Z",
                    "from": "00010126:020000002b02:0451",
                    "to": "00010126:020000002b0a:4010",
                    "what": "Read Property Value reply: NET_ADDRESS of DTW7 is 00010126:020000002b01:4007",
                },
                {
                    "ts": "2023-11-14T22:13:20.100000Z",
                    "from": "00010126:020000002b0a:4010",
                    "to": "00010126:020000002b01:0451",
                    "what": "Create Service Connection to 00010126:020000002b01:0451 (3 transmissions)",
                },
            ],
        })],
        "ncp_learned_from_sap_answered" => vec![json!({
            "fault": "ncp_wrong_socket",
            "kb": "Q164987",
            "ts": "2023-11-14T22:13:20.100000Z",
            "client": "00010127:020000002c0a:4010",
            "server": "00010127:020000002c01:0451",
            "summary": "NetWare client 00010127:020000002c0a:4010 connected to 00010127:020000002c01:0451, but file server DTW8 is advertised at 00010127:020000002c01:4007: the client used socket 0451 instead of the advertised 4007 (the hard-coded NCP socket, Q164987) and got a reply from it.",
            "advertised": "00010127:020000002c01:4007",
            "server_name": "DTW8",
            "answered": true,
            "evidence": [
                {
                    "ts": "2023-11-14T22:13:20.000000Z",
                    "from": "00010127:020000002c01:0452",
                    "to": "00010127:020000002c0a:4008",
                    "what": "SAP nearest response: file server DTW8 at 00010127:020000002c01:4007",
                },
                {
                    "ts": "2023-11-14T22:13:20.100000Z",
                    "from": "00010127:020000002c0a:4010",
                    "to": "00010127:020000002c01:0451",
                    "what": "Create Service Connection to 00010127:020000002c01:0451",
                },
                {
                    "ts": "2023-11-14T22:13:20.105000Z",
                    "from": "00010127:020000002c01:0451",
                    "to": "00010127:020000002c0a:4010",
                    "what": "NCP reply to the Create Service Connection",
                },
            ],
        })],
        "ncp_sap_general_several_servers" => vec![json!({
            "fault": "ncp_wrong_socket",
            "kb": "Q164987",
            "ts": "2023-11-14T22:13:20.200000Z",
            "client": "00010128:020000002d0a:4010",
            "server": "00010128:020000002d01:0451",
            "summary": "NetWare client 00010128:020000002d0a:4010 connected to 00010128:020000002d01:0451, but file server DTW9 is advertised at 00010128:020000002d01:4007: the client used socket 0451 instead of the advertised 4007 (the hard-coded NCP socket, Q164987) and got no reply.",
            "advertised": "00010128:020000002d01:4007",
            "server_name": "DTW9",
            "answered": false,
            "evidence": [
                {
                    "ts": "2023-11-14T22:13:20.000000Z",
                    "from": "00010128:020000002d02:0452",
                    "to": "00010128:ffffffffffff:0452",
                    "what": "SAP general response: file server DTW9 at 00010128:020000002d01:4007",
                },
                {
                    "ts": "2023-11-14T22:13:20.200000Z",
                    "from": "00010128:020000002d0a:4010",
                    "to": "00010128:020000002d01:0451",
                    "what": "Create Service Connection to 00010128:020000002d01:0451 (2 transmissions)",
                },
            ],
        })],
        _ => Vec::new(),
    }
}
