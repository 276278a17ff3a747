//! The NetWare detector, `ncp_wrong_socket` (docs/faults.md, Q164987), judged on what a
//! user sees: the records `faultd replay` prints for the scenarios of
//! `fault_tests::scenario` (each frame vouched for by tshark, its NCP dissector included:
//! function, subfunction, object name and the NET_ADDRESS bytes), which must be those of
//! the scenario's golden file (`tests/golden/<scenario>.jsonl`; `FAULTD_BLESS=1` rewrites
//! them), and for the real IPX captures. `scenarios_live.rs` plays the same scenarios to
//! `faultd run`.

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
    common::each_gives_exactly(&scenario::ncp());
}

#[test]
fn all_scenarios_at_once_give_the_union_of_their_records() {
    common::all_at_once_give_the_union("ncp-all", &scenario::ncp());
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
