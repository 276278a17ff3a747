//! Replay's inputs as users have them: rotated files in a directory, captures of two
//! interfaces, standard input, gzip and zstd, a file that breaks part-way. Every form must
//! give exactly the records (and class counts) of the one plain capture of the same frames.
//! The compressed files are written by the gzip and zstd tools, not by faultd's own code.

mod common;

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use common::{BASE_NS, FAULTD, engines, faultd, replay};
use fault_tests::{pcap::pcap_bytes, pcap::pcapng_bytes, scenario};
use serde_json::Value;

type Frames = Vec<(u64, Vec<u8>)>;

/// A directory under the temp directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("faultd-inputs-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every scenario's frames, as one capture would hold them.
fn all_frames() -> Frames {
    scenario::merged(&scenario::all(), BASE_NS, 1)
}

/// `frames` cut into `n` runs of about equal length, never between two frames of the same
/// time: which of two such frames comes first would then be the merge's choice.
fn runs(frames: &Frames, n: usize) -> Vec<Frames> {
    let mut out = vec![Vec::new()];
    let per = frames.len().div_ceil(n);
    for (i, f) in frames.iter().enumerate() {
        let last = out.last_mut().unwrap();
        if last.len() >= per && last.last().is_some_and(|(t, _)| *t != f.0) && i > 0 {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push(f.clone());
    }
    out
}

/// `tool` (gzip or zstd) compressing `bytes`; `None`, said loudly, when it is not installed.
fn compress(tool: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let child = Command::new(tool)
        .args(["-c", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED the {tool} inputs: {tool} is not installed");
        return None;
    };
    let mut stdin = child.stdin.take().unwrap();
    let bytes = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{tool} failed");
    Some(out.stdout)
}

fn classify(args: &[&str], engine: &str) -> Value {
    let mut a = vec!["classify"];
    a.extend_from_slice(args);
    a.extend(["--engine", engine]);
    let (code, out, err) = faultd(&a);
    assert_eq!(code, 0, "faultd {a:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

/// What `faultd replay` with these inputs prints, and its status and stderr.
fn replay_args(inputs: &[&str], engine: &str) -> (i32, Vec<Value>, String) {
    let mut a = vec!["replay"];
    a.extend_from_slice(inputs);
    a.extend(["--engine", engine]);
    let (code, out, err) = faultd(&a);
    let records = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (code, records, err)
}

/// The class counts of a classify result, without the name of what was read.
fn counts(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("file");
    o.remove("files");
    v
}

#[test]
fn rotated_captures_in_a_directory_replay_as_the_one_capture() {
    let frames = all_frames();
    let dir = TempDir::new("rotated");
    let whole = dir.write(".whole.pcap", &pcap_bytes(&frames));
    let parts = runs(&frames, 12);
    assert!(parts.len() > 8, "more files than faultd keeps open at once");
    for (i, part) in parts.iter().enumerate() {
        // Named against time order: the merge goes by packet time, not by name.
        let name = format!("capture-{:02}", parts.len() - i);
        let bytes = match i % 4 {
            1 => pcapng_bytes(
                &[1],
                &part
                    .iter()
                    .map(|(t, f)| (0, *t, f.clone()))
                    .collect::<Vec<_>>(),
            ),
            _ => pcap_bytes(part),
        };
        match i % 4 {
            2 => match compress("gzip", &bytes) {
                Some(gz) => dir.write(&format!("{name}.pcap.gz"), &gz),
                None => dir.write(&format!("{name}.pcap"), &bytes),
            },
            3 => match compress("zstd", &bytes) {
                Some(zst) => dir.write(&format!("{name}.pcap.zst"), &zst),
                None => dir.write(&format!("{name}.pcap"), &bytes),
            },
            _ => dir.write(&format!("{name}.pcap"), &bytes),
        };
    }
    dir.write("README.txt", b"rotated every 10 minutes\n");
    let whole = whole.to_str().unwrap();
    for engine in engines() {
        let expected = replay(Path::new(whole), engine, &[]);
        assert!(expected.len() >= 10, "{} records", expected.len());
        let (code, got, err) = replay_args(&[dir.arg()], engine);
        assert_eq!(code, 0, "{err}");
        assert_eq!(got, expected, "{engine} engine");
        assert!(
            err.contains("README.txt: unknown capture format") && err.contains("skipped"),
            "{err}"
        );
        assert_eq!(
            counts(classify(&[dir.arg()], engine)),
            counts(classify(&[whole], engine)),
            "{engine} engine"
        );
    }
}

#[test]
fn captures_of_two_interfaces_interleave_in_packet_time() {
    let frames = all_frames();
    // Frames of one time stay on one interface (see `runs`).
    let mut sides = [Vec::new(), Vec::new()];
    let mut side = 0;
    for (i, f) in frames.iter().enumerate() {
        if i > 0 && frames[i - 1].0 != f.0 {
            side ^= 1;
        }
        sides[side].push(f.clone());
    }
    let dir = TempDir::new("two-ifaces");
    let a = dir.write("a.pcap", &pcap_bytes(&sides[0]));
    let b = dir.write("b.pcap", &pcap_bytes(&sides[1]));
    let whole = dir.write("whole.pcap", &pcap_bytes(&frames));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    for engine in engines() {
        let expected = replay(&whole, engine, &[]);
        for inputs in [[a, b], [b, a]] {
            let (code, got, err) = replay_args(&inputs, engine);
            assert_eq!(code, 0, "{err}");
            assert_eq!(got, expected, "{engine} engine, {inputs:?}");
        }
        let c = classify(&[a, b], engine);
        assert_eq!(c["files"], serde_json::json!([a, b]));
        assert_eq!(c["frames"], frames.len());
    }
}

/// `faultd ARGS... -` with `stdin` piped in.
fn piped(args: &[&str], stdin: Vec<u8>) -> (i32, String, String) {
    let mut child = Command::new(FAULTD)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    // Written in small pieces, as tcpdump -w - writes, so records straddle reads.
    let writer = std::thread::spawn(move || {
        for piece in stdin.chunks(1000) {
            pipe.write_all(piece).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn standard_input_reads_as_the_file_plain_or_compressed() {
    let frames = all_frames();
    let bytes = pcap_bytes(&frames);
    let dir = TempDir::new("stdin");
    let whole = dir.write("whole.pcap", &bytes);
    let mut inputs = vec![("plain", bytes.clone())];
    inputs.extend(compress("gzip", &bytes).map(|b| ("gzip", b)));
    inputs.extend(compress("zstd", &bytes).map(|b| ("zstd", b)));
    for engine in engines() {
        let expected = replay(&whole, engine, &[]);
        for (what, input) in &inputs {
            let (code, out, err) = piped(&["replay", "-", "--engine", engine], input.clone());
            assert_eq!(code, 0, "{what}: {err}");
            let got: Vec<Value> = out
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(got, expected, "{engine} engine, {what} on standard input");
        }
        let (code, out, err) = piped(&["classify", "-", "--engine", engine], bytes.clone());
        assert_eq!(code, 0, "{err}");
        let c: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (&c["file"], &c["frames"]),
            (&"-".into(), &frames.len().into())
        );
    }
    let (code, out, err) = piped(&["replay", "-"], b"not a capture at all".to_vec());
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("standard input: unknown capture format at byte 0"),
        "{err}"
    );
}

#[test]
fn a_capture_cut_part_way_keeps_the_records_before_and_the_other_files() {
    let frames = all_frames();
    let parts = runs(&frames, 3);
    assert_eq!(parts.len(), 3);
    let dir = TempDir::new("cut");
    // The second file ends inside its k-th record, as a capture killed while writing does.
    let k = parts[1].len() / 2;
    let second = pcap_bytes(&parts[1]);
    let at: usize = 24
        + parts[1][..k]
            .iter()
            .map(|(_, f)| 16 + f.len())
            .sum::<usize>();
    let names = ["1.pcap", "2.pcap", "3.pcap"];
    dir.write(names[0], &pcap_bytes(&parts[0]));
    dir.write(names[1], &second[..at + 20]);
    dir.write(names[2], &pcap_bytes(&parts[2]));
    let kept: Frames = [&parts[0][..], &parts[1][..k], &parts[2][..]].concat();
    let expected_capture = dir.write(".expected.pcap", &pcap_bytes(&kept));
    for engine in engines() {
        let expected = replay(&expected_capture, engine, &[]);
        let (code, got, err) = replay_args(&[dir.arg()], engine);
        assert_eq!(code, 2, "{err}");
        assert_eq!(got, expected, "{engine} engine");
        let path = dir.0.join(names[1]);
        let says = format!("{}: truncated pcap record at byte {at}", path.display());
        assert!(err.contains(&says), "{err}");
    }
    // Compressed, the offset is in the decompressed data, and says so.
    let Some(gz) = compress("gzip", &second) else {
        return;
    };
    let cut = dir.write("cut.pcap.gz", &gz[..gz.len() * 2 / 3]);
    let (code, got, err) = replay_args(&[cut.to_str().unwrap()], "user");
    assert_eq!(code, 2, "{err}");
    assert!(
        !got.is_empty() || err.contains("of the gzip-decompressed data"),
        "{err}"
    );
    assert!(err.contains("of the gzip-decompressed data"), "{err}");
}

#[test]
fn a_bad_input_named_stops_before_any_result() {
    let dir = TempDir::new("bad-named");
    let good = dir.write("good.pcap", &pcap_bytes(&all_frames()));
    let bad = dir.write("notes.txt", b"not a capture");
    let (code, out, err) = faultd(&["replay", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("notes.txt: unknown capture format at byte 0"),
        "{err}"
    );
}

#[test]
fn progress_goes_to_stderr_and_leaves_stdout_alone() {
    let frames = all_frames();
    let dir = TempDir::new("progress");
    let whole = dir.write("whole.pcap", &pcap_bytes(&frames));
    let w = whole.to_str().unwrap();
    let (code, quiet, _) = faultd(&["replay", w, "--progress", "never"]);
    assert_eq!(code, 0);
    let (code, shown, err) = faultd(&["replay", w, "--progress", "always"]);
    assert_eq!(code, 0);
    assert_eq!(shown, quiet);
    let size = std::fs::metadata(&whole).unwrap().len() as f64 / 1000.0;
    let says = format!("faultd: {} frames, {size:.1} kB in ", frames.len());
    assert!(err.starts_with(&says), "{err}");
    assert!(
        faultd(&["replay", w]).2.is_empty(),
        "not a terminal: no progress"
    );
}

#[test]
fn compressed_streams_of_several_members_or_frames_read_whole() {
    // pigz, `cat a.gz b.gz`, zstd -T and pzstd write streams in pieces; a zstd skippable
    // frame (metadata some tools add) carries nothing to decompress.
    let frames = all_frames();
    let bytes = pcap_bytes(&frames);
    let half = bytes.len() / 2;
    let dir = TempDir::new("members");
    let whole = dir.write("whole.pcap", &bytes);
    let expected = replay(&whole, "user", &[]);
    let mut skippable = 0x184D_2A53u32.to_le_bytes().to_vec();
    skippable.extend(5u32.to_le_bytes());
    skippable.extend(b"hello");
    for tool in ["gzip", "zstd"] {
        let (Some(a), Some(b)) = (
            compress(tool, &bytes[..half]),
            compress(tool, &bytes[half..]),
        ) else {
            continue;
        };
        let mut joined = a;
        if tool == "zstd" {
            joined.extend(&skippable);
        }
        joined.extend(b);
        let p = dir.write(&format!("joined.{tool}"), &joined);
        let (code, got, err) = replay_args(&[p.to_str().unwrap()], "user");
        assert_eq!(code, 0, "{tool}: {err}");
        assert_eq!(got, expected, "{tool}");
    }
}

#[test]
fn a_corrupt_zstd_frame_is_refused_and_pzstd_files_read() {
    let bytes = pcap_bytes(&all_frames());
    let Some(zst) = compress("zstd", &bytes) else {
        return;
    };
    let dir = TempDir::new("zstd-checks");
    let whole = dir.write("whole.pcap", &bytes);
    let expected = replay(&whole, "user", &[]);
    // The frame's last four bytes are its checksum (the zstd tool writes one by default).
    let mut bad = zst.clone();
    *bad.last_mut().unwrap() ^= 0x55;
    let bad = dir.write("bad.pcap.zst", &bad);
    let (code, _, err) = replay_args(&[bad.to_str().unwrap()], "user");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("zstd checksum mismatch"), "{err}");
    // pzstd begins every file with a skippable frame.
    let mut pz = 0x184D_2A50u32.to_le_bytes().to_vec();
    pz.extend(4u32.to_le_bytes());
    pz.extend([0; 4]);
    pz.extend(&zst);
    let pz = dir.write("p.pcap.zst", &pz);
    let (code, got, err) = replay_args(&[pz.to_str().unwrap()], "user");
    assert_eq!((code, got), (0, expected), "{err}");
}

#[test]
fn pipes_are_read_once_among_many_files_and_skipped_in_a_directory() {
    let frames = all_frames();
    let dir = TempDir::new("pipes");
    // More files than faultd keeps open, so the others are looked at, then read again.
    let parts = runs(&frames, 10);
    for (i, part) in parts.iter().enumerate().skip(1) {
        dir.write(&format!("{i:02}.pcap"), &pcap_bytes(part));
    }
    let fifo = dir.0.join("first.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let whole = dir.write(".whole.pcap", &pcap_bytes(&frames));
    let expected = replay(&whole, "user", &[]);
    let first = pcap_bytes(&parts[0]);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, first).unwrap())
    };
    let (code, got, err) = replay_args(&[fifo.to_str().unwrap(), dir.arg()], "user");
    writer.join().unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(got, expected);
    // In the directory the FIFO itself is passed over (reading it would wait for a writer).
    assert!(
        err.contains("first.fifo: skipped, not a regular file"),
        "{err}"
    );
}
