//! tshark (Wireshark 4.0) as the independent judge of what a frame is.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Class name → tshark 4.0 display filter. A class counts the frames its filter matches; counts
/// nest (`ipx` ⊇ `ipx.ncp.create`, `pptp.control` ⊇ `pptp.out_call_request`).
///
/// SAP: not the `ipxsap.request`/`ipxsap.response` booleans, as one would write: Wireshark
/// 4.0's SAP dissector sets the hidden `ipxsap.response` boolean on query packet types 1/3
/// and `ipxsap.request` on response types 2/4 (swapped), so these filters use
/// `ipxsap.packet_type`.
///
/// `icmp.unreachable.watched`: tshark 4.0 rejects the space-separated set `{137 138 ...}`,
/// and a comma would split the filter in `-z io,stat` (see `class_counts`), so it is
/// written with single-range sets and `==` terms, which select the same frames.
pub const CLASS_FILTERS: &[(&str, &str)] = &[
    (
        "nbns.query",
        "udp.port==137 && !icmp && nbns.flags.opcode==0 && nbns.flags.response==0 && !(nbns.type==33)",
    ),
    (
        "nbns.query.response",
        "udp.port==137 && !icmp && nbns.flags.opcode==0 && nbns.flags.response==1 && !(nbns.type==33)",
    ),
    (
        "nbns.nbstat",
        "udp.port==137 && !icmp && nbns.flags.opcode==0 && nbns.flags.response==0 && nbns.type==33",
    ),
    (
        "nbns.nbstat.response",
        "udp.port==137 && !icmp && nbns.flags.opcode==0 && nbns.flags.response==1 && nbns.type==33",
    ),
    (
        "nbns.registration",
        "udp.port==137 && !icmp && (nbns.flags.opcode==5 || nbns.flags.opcode==15) && nbns.flags.response==0",
    ),
    (
        "nbns.registration.response",
        "udp.port==137 && !icmp && (nbns.flags.opcode==5 || nbns.flags.opcode==15) && nbns.flags.response==1",
    ),
    (
        "nbns.release",
        "udp.port==137 && !icmp && nbns.flags.opcode==6 && nbns.flags.response==0",
    ),
    (
        "nbns.release.response",
        "udp.port==137 && !icmp && nbns.flags.opcode==6 && nbns.flags.response==1",
    ),
    (
        "nbns.wack",
        "udp.port==137 && !icmp && nbns.flags.opcode==7",
    ),
    (
        "nbns.refresh",
        "udp.port==137 && !icmp && (nbns.flags.opcode==8 || nbns.flags.opcode==9) && nbns.flags.response==0",
    ),
    (
        "nbns.refresh.response",
        "udp.port==137 && !icmp && (nbns.flags.opcode==8 || nbns.flags.opcode==9) && nbns.flags.response==1",
    ),
    ("nbdgm", "udp.port==138 && !icmp && nbdgm"),
    ("nbss.request", "tcp.port==139 && nbss.type==0x81"),
    ("nbss.positive", "tcp.port==139 && nbss.type==0x82"),
    ("nbss.negative", "tcp.port==139 && nbss.type==0x83"),
    ("nbss.retarget", "tcp.port==139 && nbss.type==0x84"),
    ("nbss.keepalive", "tcp.port==139 && nbss.type==0x85"),
    ("ipx", "ipx"),
    ("ipx.ncp.create", "ipx && ncp.type==0x1111"),
    ("ipx.ncp.request", "ipx && ncp.type==0x2222"),
    ("ipx.ncp.reply", "ipx && ncp.type==0x3333"),
    ("ipx.ncp.destroy", "ipx && ncp.type==0x5555"),
    (
        "ipx.sap.query",
        "ipxsap.packet_type==1 || ipxsap.packet_type==3",
    ),
    (
        "ipx.sap.response",
        "ipxsap.packet_type==2 || ipxsap.packet_type==4",
    ),
    ("ipx.rip", "ipxrip"),
    ("ncpip", "tcp.port==524 || udp.port==524"),
    ("pptp.control", "tcp.port==1723 && pptp.type==1"),
    ("pptp.out_call_request", "pptp.control_message_type==7"),
    ("pptp.out_call_reply", "pptp.control_message_type==8"),
    ("pptp.call_clear_request", "pptp.control_message_type==12"),
    (
        "pptp.call_disconnect_notify",
        "pptp.control_message_type==13",
    ),
    ("pptp.gre", "gre.proto==0x880b"),
    ("l2tp", "udp.port==1701 && l2tp"),
    ("icmp.unreachable", "icmp.type==3"),
    ("l2tp.control", "udp.port==1701 && l2tp.type==1"),
    (
        "sms.helpdesk",
        "!icmp && (tcp.port in {1761..1764} || udp.port in {1761..1764})",
    ),
    (
        "sms.remote_control",
        "!icmp && (tcp.port in {2701..2704} || udp.port in {2701..2704})",
    ),
    (
        "icmp.unreachable.watched",
        "icmp.type==3 && (udp.port in {137..139} || udp.port==524 || udp.port==1701 || udp.port==1723 || udp.port in {1761..1764} || udp.port in {2701..2704} || tcp.port in {137..139} || tcp.port==524 || tcp.port==1701 || tcp.port==1723 || tcp.port in {1761..1764} || tcp.port in {2701..2704})",
    ),
    ("icmp6.unreachable", "icmpv6.type==1"),
];

/// Preferences that make tshark verify the checksums the builder computes.
pub const CHECKSUM_PREFS: &[&str] = &[
    "ip.check_checksum:TRUE",
    "tcp.check_checksum:TRUE",
    "udp.check_checksum:TRUE",
];

/// Frames a well-formed capture must never contain.
pub const PROBLEMS_FILTER: &str = "_ws.malformed || _ws.expert.severity >= error";

/// The program to run: `$TSHARK` if set (for a locally built Wireshark), else `tshark`.
fn program() -> String {
    std::env::var("TSHARK").unwrap_or_else(|_| "tshark".to_owned())
}

pub fn available() -> bool {
    Command::new(program())
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// For tests: `true` if tshark can be used, otherwise says loudly on stderr that `test` is
/// skipped (the project's test command installs tshark, so CI never takes that branch).
pub fn available_or_skip(test: &str) -> bool {
    let ok = available();
    if !ok {
        eprintln!(
            "\n********\nSKIPPED {test}: tshark not found — install the Debian package tshark\n********\n"
        );
    }
    ok
}

/// Runs tshark with `args`; returns stdout, panics with its stderr if it fails.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(program())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
    // tshark always warns about running as root; that is not an error.
    let stderr: String = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("Running as user"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        out.status.success(),
        "tshark {args:?} failed ({}):\n{stderr}",
        out.status
    );
    String::from_utf8(out.stdout).expect("tshark wrote non-UTF-8 output")
}

/// Reads `pcap` printing `fields` of the frames matching `filter` (all frames if empty).
fn run_fields(pcap: &Path, filter: &str, fields: &[&str], prefs: &[&str]) -> String {
    let path = pcap.to_str().expect("non-UTF-8 pcap path");
    let mut args = vec!["-n", "-r", path, "-T", "fields"];
    args.extend(["-E", "separator=/t", "-E", "occurrence=a", "-E", "quote=n"]);
    for p in prefs {
        args.extend(["-o", p]);
    }
    if !filter.is_empty() {
        args.extend(["-Y", filter]);
    }
    for f in fields {
        args.extend(["-e", f]);
    }
    run(&args)
}

/// Frame numbers (1-based) matching a display filter.
pub fn frames(pcap: &Path, filter: &str) -> Vec<u64> {
    run_fields(pcap, filter, &["frame.number"], &[])
        .lines()
        .map(|l| {
            l.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad frame number {l:?}"))
        })
        .collect()
}

/// Number of frames matching a display filter.
pub fn count(pcap: &Path, filter: &str) -> usize {
    frames(pcap, filter).len()
}

/// One row per matching frame, one column per field; repeated fields are joined with ','.
pub fn fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    fields_with_prefs(pcap, filter, fields, &[])
}

/// [`fields`] with tshark preferences (`"name:value"`, e.g. [`CHECKSUM_PREFS`]).
pub fn fields_with_prefs(
    pcap: &Path,
    filter: &str,
    fields: &[&str],
    prefs: &[&str],
) -> Vec<Vec<String>> {
    run_fields(pcap, filter, fields, prefs)
        .lines()
        .map(|l| {
            let row: Vec<String> = l.split('\t').map(str::to_owned).collect();
            assert_eq!(row.len(), fields.len(), "tshark row {l:?} for {fields:?}");
            row
        })
        .collect()
}

/// For each class of [`CLASS_FILTERS`], the frames tshark puts in it. One tshark run per
/// filter, spread over the available cores.
pub fn class_frames(pcap: &Path) -> Vec<(&'static str, Vec<u64>)> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let mut results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(&(class, filter)) =
                        CLASS_FILTERS.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        done.push((class, frames(pcap, filter)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let order = |c: &str| CLASS_FILTERS.iter().position(|(n, _)| *n == c);
    results.sort_by_key(|(c, _)| order(c));
    results
}

/// Class → number of frames, for comparison with `faultd classify`.
pub fn class_counts(pcap: &Path) -> BTreeMap<&'static str, usize> {
    // One pass for every filter: `-z io,stat,0,F1,F2,...` prints the frames matching each
    // filter over the whole capture (interval 0), instead of one tshark run per filter.
    let mut spec = String::from("io,stat,0");
    for (_, filter) in CLASS_FILTERS {
        assert!(
            !filter.contains(','),
            "a comma would split the io,stat filter list: {filter}"
        );
        spec.push(',');
        spec.push_str(filter);
    }
    let out = run(&["-q", "-r", pcap.to_str().expect("UTF-8 path"), "-z", &spec]);
    // The one data row: `| 0.0 <> T | frames | bytes | frames | bytes | ... |`.
    let row = out
        .lines()
        .rfind(|l| l.contains("<>"))
        .unwrap_or_else(|| panic!("no io,stat data row for {}:\n{out}", pcap.display()));
    let cells: Vec<&str> = row
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells.len(),
        1 + 2 * CLASS_FILTERS.len(),
        "io,stat row for {}: {row}",
        pcap.display()
    );
    CLASS_FILTERS
        .iter()
        .enumerate()
        .map(|(i, (class, _))| (*class, cells[1 + 2 * i].parse().expect("a frame count")))
        .collect()
}
