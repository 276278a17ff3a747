//! Input that is large or endless: a frame longer than BPF_PROG_TEST_RUN takes is parsed as
//! far as it fits, alike in both engines, between frames that keep their results; a large
//! capture is read in flat memory; an endless stream that is no capture is refused at once.

mod common;

use std::{
    io::{BufWriter, Read, Write},
    net::Ipv4Addr,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{FAULTD, faultd};
use fault_tests::{
    Carrier, Eth, Network, TempPcap,
    netbios::{NbName, NbRecord, nbns},
    pcap_bytes,
};
use fault_user::{
    engine::{self, EngineKind, TEST_RUN_MAX},
    render,
};
use serde_json::Value;

const T0: u64 = 1_700_000_000_000_000_000;

fn engines(test: &str) -> Vec<&'static str> {
    if fault_tests::netns::is_root() {
        vec!["user", "kernel"]
    } else {
        eprintln!("SKIPPED {test} with the kernel engine: needs root");
        vec!["user"]
    }
}

/// An NBNS registration of `name` from 10.0.0.2 to its WINS server, padded with zeros to
/// `len` bytes (its IP and UDP lengths say what is NBNS; the rest is Ethernet padding).
fn registration(id: u16, name: &str, len: usize) -> Vec<u8> {
    let client = Ipv4Addr::new(10, 0, 0, 2);
    let rec = NbRecord::new(NbName::new(name, 0), client);
    let mut f = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4(client, Ipv4Addr::new(10, 0, 0, 1))
        .udp(137, 137)
        .payload(&nbns::registration(id, &rec, false));
    assert!(f.len() <= len);
    f.resize(len, 0);
    f
}

#[test]
fn frames_longer_than_the_kernel_takes_count_alike_in_both_engines() {
    let Ok(mut kernel) = engine::open(EngineKind::Kernel) else {
        eprintln!("SKIPPED frames_longer_than_the_kernel_takes: the kernel engine needs root");
        return;
    };
    let mut user = engine::open(EngineKind::User).unwrap();
    let lens = [
        TEST_RUN_MAX - 1,
        TEST_RUN_MAX,
        TEST_RUN_MAX + 1,
        100_000,
        256 * 1024,
    ];
    for (i, &len) in lens.iter().enumerate() {
        let f = registration(i as u16, "BIGFRAME", len);
        // Whole on the wire, and cut by a capture to the kernel's part of a longer frame.
        for (data, wire) in [(&f[..], len), (&f[..len.min(TEST_RUN_MAX)], 2 * len)] {
            kernel.captured(T0, data, wire).unwrap();
            user.captured(T0, data, wire).unwrap();
        }
    }
    let (k, u) = (kernel.snapshot().unwrap(), user.snapshot().unwrap());
    assert_eq!(k, u, "the engines agree on counters and flows");
    let (mut ke, mut ue) = (Vec::new(), Vec::new());
    kernel.drain_events(&mut ke).unwrap();
    user.drain_events(&mut ue).unwrap();
    let json = |events: &[fault_common::Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| render::event_json(e).to_string())
            .collect()
    };
    assert_eq!(json(&ke), json(&ue), "the engines give the same events");
    let n = 2 * lens.len() as u64;
    assert_eq!((k.stats.frames, k.stats.events), (n, n));
    assert_eq!((k.stats.malformed, k.stats.truncated), (0, 0));
    let reg = fault_common::Class::NbnsRegistration as usize;
    assert_eq!(k.stats.classes[reg], n);
}

#[test]
fn classify_and_replay_keep_every_frame_around_an_oversized_one() {
    let small = |i: u16| (T0 + u64::from(i) * 1_000_000, registration(i, "SMALL", 110));
    let frames = vec![
        small(1),
        small(2),
        (T0 + 3_000_000, registration(3, "BIG100K", 100_000)),
        (T0 + 4_000_000, registration(4, "BIG256K", 256 * 1024)),
        small(5),
        small(6),
    ];
    let cap = TempPcap::with_bytes("oversized", "pcap", &pcap_bytes(&frames)).unwrap();
    let path = cap.path().to_str().unwrap();
    let mut seen = Vec::new();
    for engine in engines("classify_and_replay_keep_every_frame_around_an_oversized_one") {
        let (code, out, err) = faultd(&["classify", path, "--engine", engine]);
        assert_eq!(code, 0, "{engine}: {err}");
        let json: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(json["frames"], 6, "{engine}: {out}");
        assert_eq!(json["classes"]["nbns.registration"], 6, "{engine}: {out}");
        assert_eq!(
            (&json["malformed"], &json["truncated"]),
            (&0.into(), &0.into())
        );
        let (code, out, err) = faultd(&["replay", path, "--engine", engine, "--events"]);
        assert_eq!(code, 0, "{engine}: {err}");
        let names: Vec<String> = out
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].to_string())
            .collect();
        let want = ["SMALL", "SMALL", "BIG100K", "BIG256K", "SMALL", "SMALL"];
        let want: Vec<String> = want.iter().map(|n| format!("\"{n}<00>\"")).collect();
        assert_eq!(names, want, "{engine}: {out}");
        seen.push((json, out));
    }
    if let [user, kernel] = &seen[..] {
        assert_eq!(user, kernel, "both engines print the same");
    }
}

/// Writes a capture of `n` catalogue frames to a temp file, record by record.
fn large_capture(n: usize) -> (TempPcap, u64) {
    let cap = TempPcap::with_bytes("large", "pcap", &pcap_bytes(&[])).unwrap();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(cap.path())
        .unwrap();
    let mut out = BufWriter::new(file);
    let samples: Vec<Vec<u8>> = fault_tests::catalogue()
        .into_iter()
        .map(|s| s.frame)
        .collect();
    for i in 0..n {
        let f = &samples[i % samples.len()];
        let len = f.len() as u32;
        for word in [
            1_700_000_000 + (i / 1_000_000) as u32,
            (i % 1_000_000) as u32,
            len,
            len,
        ] {
            out.write_all(&word.to_le_bytes()).unwrap();
        }
        out.write_all(f).unwrap();
    }
    out.flush().unwrap();
    let size = std::fs::metadata(cap.path()).unwrap().len();
    (cap, size)
}

/// The peak resident memory of a finished child, in bytes, and its exit status.
fn wait_peak_rss(pid: u32) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: plain data, written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; the pointers are to locals.
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, pid as i32, "wait4: {}", std::io::Error::last_os_error());
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64 * 1024)
}

#[test]
fn classify_reads_a_large_capture_in_flat_memory() {
    const FRAMES: usize = 2_000_000;
    const PEAK: u64 = 64 << 20;
    let (cap, size) = large_capture(FRAMES);
    assert!(
        size > 3 * PEAK,
        "the capture ({size} bytes) is larger than the bound"
    );
    let started = Instant::now();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by wait4, which also gives its peak memory"
    )]
    let mut child = Command::new(FAULTD)
        .args(["classify", cap.path().to_str().unwrap(), "--engine", "user"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let (code, peak) = wait_peak_rss(child.id());
    assert_eq!(code, 0, "{out}");
    let json: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["frames"], FRAMES, "{out}");
    eprintln!(
        "classify: {FRAMES} frames, {} MB, peak RSS {:.1} MiB, {:.1} s",
        size / 1_000_000,
        peak as f64 / f64::from(1 << 20),
        started.elapsed().as_secs_f64()
    );
    assert!(
        peak < PEAK,
        "peak RSS {peak} bytes for a {size}-byte capture"
    );
}

#[test]
fn an_endless_input_that_is_no_capture_is_refused_at_once() {
    let mut child = Command::new(FAULTD)
        .args(["classify", "/dev/zero"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("faultd classify /dev/zero still reading after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    let want = "faultd: /dev/zero: unknown capture format at byte 0: magic 00000000 is not \
                pcap, pcapng or snoop\n";
    assert_eq!(err, want);
}
