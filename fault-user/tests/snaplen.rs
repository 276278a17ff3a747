//! A capture taken with a snap length cut its frames, not the wire: `faultd classify`
//! counts them truncated, never malformed, on both engines.

mod common;

use common::{BASE_NS, engines, faultd};
use fault_tests::{TempPcap, pcap::pcap_bytes_snapped, scenario, tshark};
use serde_json::Value;

fn classify(pcap: &TempPcap, engine: &str) -> Value {
    let path = pcap.path().to_str().unwrap();
    let (code, out, err) = faultd(&["classify", path, "--format", "json", "--engine", engine]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn frames_cut_by_a_68_byte_snap_length_are_truncated_not_malformed() {
    let frames = scenario::merged(&scenario::all(), BASE_NS, 1);
    let cut = frames.iter().filter(|(_, f)| f.len() > 68).count();
    assert!(cut > 100, "{cut} frames longer than 68 bytes");
    let whole =
        TempPcap::with_bytes("snap-whole", "pcap", &pcap_bytes_snapped(65_535, &frames)).unwrap();
    let snapped =
        TempPcap::with_bytes("snap-68", "pcap", &pcap_bytes_snapped(68, &frames)).unwrap();
    if tshark::available_or_skip("snaplen") {
        assert_eq!(
            tshark::count(snapped.path(), "frame.cap_len < frame.len"),
            cut
        );
    }
    for engine in engines() {
        let w = classify(&whole, engine);
        assert_eq!((&w["malformed"], &w["truncated"]), (&0.into(), &0.into()));
        let s = classify(&snapped, engine);
        assert_eq!(s["frames"], frames.len(), "{engine} engine");
        assert_eq!(
            s["malformed"], 0,
            "{engine} engine: nothing the wire got wrong"
        );
        // Every frame the capture cut is one whose headers faultd reads a length from.
        assert_eq!(s["truncated"], cut, "{engine} engine");
    }
}
