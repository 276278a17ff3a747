//! What a user sees from `faultd` on bad input: exit status 2 and a message naming the
//! file, the problem and the byte offset; results for the frames before a bad record.

use std::{path::PathBuf, process::Command};

fn faultd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultd"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A classic pcap of Ethernet frames (microsecond timestamps).
fn pcap(frames: &[&[u8]]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        for v in [
            1_700_000_000u32 + i as u32,
            0,
            f.len() as u32,
            f.len() as u32,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(f);
    }
    b
}

struct Temp(PathBuf);
impl Temp {
    fn new(tag: &str, bytes: &[u8]) -> Temp {
        let p = std::env::temp_dir().join(format!("faultd-cli-{tag}-{}.pcap", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        Temp(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}
impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An NBNS broadcast name query for FILESRV<20>, padded as a NIC would.
fn nbns_query() -> Vec<u8> {
    let mut name = vec![0x20];
    for b in b"FILESRV         ".iter().take(15).chain([&0x20u8]) {
        name.extend_from_slice(&[b'A' + (b >> 4), b'A' + (b & 0xf)]);
    }
    name.push(0);
    let mut nbns = vec![0x12, 0x34, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0];
    nbns.extend_from_slice(&name);
    nbns.extend_from_slice(&[0, 0x20, 0, 1]);
    let udp_len = (8 + nbns.len()) as u16;
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = 20 + udp_len;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 255]);
    f.extend_from_slice(&[0, 137, 0, 137, (udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    f.extend_from_slice(&nbns);
    f
}

#[test]
fn a_capture_cut_inside_a_record_reports_what_came_before_then_the_offset() {
    let q = nbns_query();
    let mut bytes = pcap(&[&q, &q]);
    bytes.truncate(bytes.len() - 10);
    let t = Temp::new("cut", &bytes);
    let (code, out, err) = faultd(&["classify", t.path(), "--engine", "user"]);
    assert_eq!(code, 2, "stderr: {err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["frames"], 1, "the whole first record is kept: {out}");
    assert_eq!(json["classes"]["nbns.query"], 1, "{out}");
    let second = 24 + 16 + q.len();
    assert!(err.contains(t.path()), "names the file: {err}");
    assert!(
        err.contains(&format!("at byte {second}")),
        "names the record's offset {second}: {err}"
    );
    assert!(err.contains("truncated"), "says what is wrong: {err}");
}

#[test]
fn garbage_and_unsupported_captures_are_refused_with_exit_2() {
    let g = Temp::new("garbage", b"this is not a capture file at all");
    let (code, out, err) = faultd(&["classify", g.path(), "--engine", "user"]);
    assert_eq!((code, out.as_str()), (2, ""), "stderr: {err}");
    assert!(
        err.contains(g.path()) && err.contains("byte 0") && err.contains("unknown capture format"),
        "{err}"
    );

    let mut wifi = pcap(&[]);
    wifi[20..24].copy_from_slice(&105u32.to_le_bytes()); // LINKTYPE_IEEE802_11
    let r = Temp::new("linktype", &wifi);
    let (code, _, err) = faultd(&["replay", r.path(), "--engine", "user"]);
    assert_eq!(code, 2, "stderr: {err}");
    assert!(
        err.contains("link type 105 (802.11)") && err.contains("byte 0"),
        "names the link type and offset: {err}"
    );

    let (code, _, err) = faultd(&["classify", "/nonexistent/capture.pcap", "--engine", "user"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/capture.pcap") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn bad_flags_say_what_is_allowed() {
    let (code, _, err) = faultd(&["classify", "x.pcap", "--format", "xml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("xml") && err.contains("json") && err.contains("text"),
        "{err}"
    );
    let (code, _, err) = faultd(&["classify", "x.pcap", "--engine", "gpu"]);
    assert_eq!(code, 2);
    assert!(err.contains("kernel") && err.contains("user"), "{err}");
    let (code, _, err) = faultd(&["frobnicate"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("classify") && err.contains("replay"),
        "lists the commands: {err}"
    );
}

#[test]
fn replay_events_prints_one_json_event_per_line_with_decoded_fields() {
    let t = Temp::new("replay", &pcap(&[&nbns_query()]));
    let (code, out, err) = faultd(&["replay", t.path(), "--engine", "user", "--events"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    let e = &lines[0];
    assert_eq!(e["event"], "nbns");
    assert_eq!(e["ts"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(e["src"], "10.0.0.1:137");
    assert_eq!(e["dst"], "10.0.0.255:137");
    assert_eq!(e["txid"], 0x1234);
    assert_eq!(e["opcode"], "query");
    assert_eq!(e["broadcast"], true);
    assert_eq!(e["name"], "FILESRV<20>");
}

#[test]
fn replay_runs_the_detectors_on_packet_time_and_the_end_of_the_capture_passes_deadlines() {
    use fault_tests::{
        Carrier, Eth, Network,
        netbios::{NbName, nbns},
        pcap_bytes,
    };
    use std::net::Ipv4Addr;
    let (c1, c2, server) = (
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(10, 0, 0, 3),
        Ipv4Addr::new(10, 0, 0, 1),
    );
    let name = NbName::new("FAULTD-CANARY", 0);
    let udp = |src, dst, payload: &[u8]| {
        Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
            .ipv4(src, dst)
            .udp(137, 137)
            .payload(payload)
    };
    let t0 = 1_700_000_000_000_000_000u64;
    let ms = 1_000_000u64;
    let frames = vec![
        (t0, udp(c1, server, &nbns::query(7, &name, false))),
        (
            t0 + 100 * ms,
            udp(c2, server, &nbns::query(8, &name, false)),
        ),
        (
            t0 + 200 * ms,
            udp(
                server,
                c2,
                &nbns::query_response(8, &name, 60, &[(0, server)]),
            ),
        ),
        // A retransmission: the same episode, its deadline moves on.
        (
            t0 + 500 * ms,
            udp(c1, server, &nbns::query(7, &name, false)),
        ),
    ];
    let t = Temp::new("canary", &pcap_bytes(&frames));
    let (code, out, err) = faultd(&["replay", t.path(), "--engine", "user"]);
    assert_eq!(
        (code, out.as_str()),
        (0, ""),
        "no fault in this traffic: {err}"
    );
    // Both engines: the kernel one needs root, and must give the same record.
    let engines: &[&str] = if fault_tests::netns::is_root() {
        &["user", "kernel"]
    } else {
        eprintln!("kernel engine not checked: needs root");
        &["user"]
    };
    for engine in engines {
        let (code, out, err) = faultd(&["replay", t.path(), "--engine", engine, "--canary"]);
        assert_eq!(code, 0, "{err}");
        let records: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            records.len(),
            1,
            "one unanswered episode, the answered query is not one: {out}"
        );
        let r = &records[0];
        assert_eq!(r["fault"], "canary");
        // Unanswered 1 s after its last transmission: the end of the capture got it there.
        assert_eq!(r["ts"], "2023-11-14T22:13:21.500000Z");
        assert_eq!(r["client"], "10.0.0.2");
        assert_eq!(r["server"], "10.0.0.1");
        assert_eq!(r["evidence"][0]["ts"], "2023-11-14T22:13:20.000000Z");
    }
    let (code, text, _) = faultd(&[
        "replay",
        t.path(),
        "--engine",
        "user",
        "--canary",
        "--format",
        "text",
    ]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with("2023-11-14T22:13:21.500000Z canary 10.0.0.2 -> 10.0.0.1: "),
        "{text}"
    );
}

/// Every command's exit status, as README.md ("Exit status") and `faultd --help` document
/// it: 0 done, 2 what the user can put right (a bad flag, a missing, unreadable or bad
/// input, a refused start), 1 faultd's own failure (none of these).
#[test]
fn every_command_exits_with_the_documented_status() {
    let good = Temp::new("status-good", &pcap(&[&nbns_query()]));
    let empty = Temp::new("status-empty", &pcap(&[]));
    let bad = Temp::new("status-bad", b"not a capture");
    let dir = std::env::temp_dir().join(format!("faultd-cli-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap().to_owned();
    let missing = "/nonexistent/capture.pcap";
    let unpinned = format!("{dir}/nothing-pinned-here");
    let (good, empty, bad) = (good.path(), empty.path(), bad.path());
    let mut rows: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["--help"], 0, ""),
        (vec!["frobnicate"], 2, "commands:"),
        (vec!["detach", "--pin-path", &unpinned], 0, ""),
        (vec!["detach", "--pin-paht", "x"], 2, "--pin-paht"),
        (
            vec!["run", "--iface", "lo", "--xdp-mode", "fast"],
            2,
            "fast",
        ),
        (
            vec!["run", "--iface", "faultd-none0"],
            2,
            "no interface named",
        ),
        (vec!["bench", good, "--rounds", "many"], 2, "many"),
        (vec!["bench", missing], 2, "No such file"),
        (vec!["bench", &dir], 2, "Is a directory"),
        (vec!["bench", bad], 2, "unknown capture format"),
        (vec!["bench", empty], 2, "no frames to measure"),
    ];
    for command in ["classify", "replay"] {
        rows.extend([
            (vec![command, good], 0, ""),
            (vec![command, good, "--format", "xml"], 2, "xml"),
            (vec![command, missing], 2, "No such file"),
            (vec![command, &dir], 2, "a directory with no files"),
            (vec![command, bad], 2, "unknown capture format"),
            (
                vec![command, good, "-", "-"],
                2,
                "standard input: named more than once",
            ),
            (vec![command, good, "--progress", "sometimes"], 2, "always"),
        ]);
    }
    for (args, want, says) in &rows {
        let (code, _, err) = faultd(args);
        assert_eq!(code, *want, "faultd {}: {err}", args.join(" "));
        assert!(err.contains(says), "faultd {}: {err}", args.join(" "));
    }
    // No privilege for the kernel engine is the user's to put right, as it is for `run`.
    let nobody =
        fault_tests::netns::is_root() && Command::new("setpriv").arg("--version").output().is_ok();
    if !nobody {
        eprintln!("SKIPPED the unprivileged kernel engine: needs root and setpriv");
    }
    let exe = env!("CARGO_BIN_EXE_faultd");
    for command in ["classify", "replay"].into_iter().filter(|_| nobody) {
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .args([exe, command, good, "--engine", "kernel"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{command} --engine kernel as nobody: {err}"
        );
        assert!(
            err.contains("permission denied loading the XDP program"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--log-format json`: every line faultd writes to stderr is a JSON object a log collector
/// can take, the final error included.
#[test]
fn json_logs_are_one_object_per_line() {
    let (code, _, err) = faultd(&["run", "--iface", "faultd-none0", "--log-format", "json"]);
    assert_eq!(code, 2, "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let last = lines.last().expect("a line");
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"].as_str().unwrap().contains("no interface named"),
        "{last}"
    );
    assert!(last["ts"].as_str().unwrap().ends_with('Z'), "{last}");
    let (_, _, text) = faultd(&["run", "--iface", "faultd-none0"]);
    assert!(text.starts_with("faultd: no interface named"), "{text}");
}
