//! The real captures of shared/corpus/real: faultd's count of every class equals tshark's
//! count for that class's filter, and the kernel and user engines agree on everything.

use std::path::{Path, PathBuf};

use fault_common::{Class, Event};
use fault_user::{
    capture::Capture,
    engine::{self, EngineKind, Run},
};

/// (capture, class, faultd minus tshark, why). Each is a difference by design.
const KNOWN_DIFFERENCES: &[(&str, &str, i64, &str)] = &[
    (OBSOLETE, "ipx", 170, SLL_8023),
    (OBSOLETE, "ipx.sap.query", 70, SLL_8023),
    (OBSOLETE, "ipx.rip", 30, SLL_8023),
    (NDPI_PPTP, "pptp.control", 1, RETRANSMISSION),
    (NDPI_PPTP, "pptp.call_clear_request", 1, RETRANSMISSION),
    (TCPDUMP_PPTP, "pptp.control", 2, RETRANSMISSION),
    (TCPDUMP_PPTP, "pptp.out_call_reply", 1, RETRANSMISSION),
];
// No real capture holds a TCP 1723 segment with more than one PPTP control message, or
// one cut at the segment's end (the test checks the classes that have no tshark filter:
// `pptp.control.cut` and `pptp.control.unparsed` stay 0), so faultd's per-message counts
// and tshark's view (the first message of a segment only) agree: no difference to list.
const OBSOLETE: &str = "nbns_nbss_samba_ipx_snap_raw_llc__wswiki_Obsolete_Packets.cap";
const NDPI_PPTP: &str = "pptp_ctrl_ocrp_ccrq_cdn_rst__ndpi_pptp.pcap";
const TCPDUMP_PPTP: &str = "pptp_ctrl_sccrq_ocrp_sli_then_fin__tcpdump_pptp.pcap";
const SLL_8023: &str = "outgoing 802.3 frames for which Linux's cooked capture stored the \
    802.3 length in the protocol field: tshark's SLL dissector leaves them undecoded; faultd's \
    reader rebuilds the original 802.3 frame (SNAP/raw IPX), which these are";
const RETRANSMISSION: &str = "TCP retransmissions of PPTP control messages (tshark marks them \
    tcp.analysis.retransmission and does not hand reassembled bytes to PPTP again); XDP sees \
    every frame";

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/real"
    ));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "SKIPPED: the real-capture corpus {} is not there (it lives beside the repository in the project's shared folder)",
            dir.display()
        );
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    Some(files)
}

fn run(kind: EngineKind, path: &Path) -> Option<(Run, Vec<Event>)> {
    let mut e = match engine::open(kind) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("SKIPPED: the {kind:?} engine is unavailable ({err}); run as root");
            return None;
        }
    };
    let mut events = Vec::new();
    for frame in Capture::open(path).unwrap() {
        let f = frame.unwrap();
        e.captured(f.ts_ns, &f.data, f.wire_len as usize).unwrap();
        e.drain_events(&mut events).unwrap();
    }
    Some((e.snapshot().unwrap(), events))
}

#[test]
fn class_counts_match_tshark_on_every_real_capture() {
    let Some(files) = corpus() else { return };
    if !fault_tests::tshark::available_or_skip("class_counts_match_tshark_on_every_real_capture") {
        return;
    }
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let Some((run, _)) = run(EngineKind::Kernel, path) else {
            return;
        };
        let tshark = fault_tests::tshark::class_counts(path);
        for (class, filter_count) in &tshark {
            let c = Class::from_name(class)
                .unwrap_or_else(|| panic!("tshark table class {class} is not a faultd class"));
            let ours = run.stats.classes[c as usize] as i64;
            let allowed = KNOWN_DIFFERENCES
                .iter()
                .find(|d| d.0 == name && d.1 == *class)
                .map_or(0, |d| d.2);
            if ours - *filter_count as i64 != allowed {
                failures.push(format!("{name}: {class}: faultd {ours}, tshark {filter_count}, allowed difference {allowed}"));
            }
        }
        for c in [Class::PptpControlCut, Class::PptpControlUnparsed] {
            let n = run.stats.classes[c as usize];
            if n != 0 {
                failures.push(format!("{name}: {}: faultd {n}, expected 0", c.name()));
            }
        }
        assert_eq!(
            run.stats.malformed, 0,
            "{name}: real traffic counted malformed"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn kernel_and_user_engines_agree_on_every_real_capture() {
    let Some(files) = corpus() else { return };
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let Some((k, kev)) = run(EngineKind::Kernel, path) else {
            return;
        };
        let (u, uev) = run(EngineKind::User, path).unwrap();
        assert_eq!(k.stats, u.stats, "{name}: counters differ");
        assert_eq!(k.flows, u.flows, "{name}: flows differ");
        assert_eq!(kev.len(), uev.len(), "{name}: event counts differ");
        for (i, (a, b)) in kev.iter().zip(&uev).enumerate() {
            assert_eq!(
                bytemuck::bytes_of(a),
                bytemuck::bytes_of(b),
                "{name}: event {i} differs"
            );
        }
        assert_eq!(
            k.stats.events as usize,
            kev.len(),
            "{name}: STATS.events disagrees with the ring"
        );
    }
}
