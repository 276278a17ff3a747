//! `cargo xtask bench --replay` (issue 14): `faultd replay` against the tools a user would
//! otherwise reach for, on the same captures, in figures and never a verdict. The commands
//! take turns round by round; each one's fastest round and its peak resident memory are
//! reported, with frames/s and the ratio to tshark and tcpdump from the same run.
//!
//! The captures are the frame builder's: every fault scenario and every class of the
//! catalogue, drowned in unwatched traffic (DNS and HTTPS, four frames in five) as on a
//! real LAN, repeated with later times until the capture holds `FRAMES` frames. The same
//! frames are also written as rotated files (a directory, as tcpdump -C leaves them), zstd
//! compressed, and as a small capture of one repetition.

use std::{
    io::Write as _,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, bail};
use fault_tests::{Carrier, Eth, Network, pcap::pcap_bytes, scenario};
use serde_json::json;

use crate::{cargo, check, root};

const FRAMES: usize = 1_500_000;
const ROUNDS: usize = 3;
/// tshark is two orders of magnitude slower: its rounds are fewer.
const TSHARK_ROUNDS: usize = 1;
const ROTATED_FILES: usize = 40;
const PCAP_HEADER: usize = 24;

struct Captures {
    large: PathBuf,
    small: PathBuf,
    rotated: PathBuf,
    zstd: Option<PathBuf>,
    frames: usize,
    small_frames: usize,
}

/// One repetition: the scenarios, the catalogue and four times as many unwatched frames,
/// in time order from `base`; and how long it lasts.
fn block(base: u64) -> (Vec<(u64, Vec<u8>)>, u64) {
    let mut frames = scenario::merged(&scenario::all(), base, 1);
    let catalogue = fault_tests::catalogue();
    let end = frames.last().map_or(base, |f| f.0);
    let span = end - base + 1_000_000;
    for (i, s) in catalogue.into_iter().enumerate() {
        frames.push((base + i as u64 * 997 * 1_000_000 % span, s.frame));
    }
    let watched = frames.len();
    let server = Ipv4Addr::new(10, 0, 0, 1);
    for i in 0..watched * 4 {
        let client = Ipv4Addr::from(0x0a01_0000 | (i as u32 % 4096));
        let ip = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]).ipv4(client, server);
        let port = 10_000 + (i % 50_000) as u16;
        let frame = match i % 2 {
            0 => ip.udp(port, 53).payload(&[0; 40]),
            _ => ip.tcp(port, 443).payload(&vec![0; 40 + (i * 131) % 1400]),
        };
        frames.push((base + (i as u64 * 7_919_000) % span, frame));
    }
    frames.sort_by_key(|f| f.0);
    (frames, span)
}

fn write_captures(dir: &Path) -> anyhow::Result<Captures> {
    std::fs::create_dir_all(dir)?;
    let rotated = dir.join("rotated");
    let _ = std::fs::remove_dir_all(&rotated);
    std::fs::create_dir_all(&rotated)?;
    let (first, span) = block(1_700_000_000_000_000_000);
    let small = dir.join("small.pcap");
    std::fs::write(&small, pcap_bytes(&first))?;
    let large = dir.join("large.pcap");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&large)?);
    out.write_all(&pcap_bytes(&[])[..PCAP_HEADER])?;
    let blocks = FRAMES.div_ceil(first.len());
    let per_file = blocks.div_ceil(ROTATED_FILES);
    let mut part = None;
    let mut frames = 0;
    for b in 0..blocks {
        // A minute's quiet between repetitions, so that each one's faults stand alone.
        let base = 1_700_000_000_000_000_000 + b as u64 * (span + 60_000_000_000);
        let (block, _) = block(base);
        let records = &pcap_bytes(&block)[PCAP_HEADER..];
        out.write_all(records)?;
        if b % per_file == 0 {
            let p = rotated.join(format!("capture_{:05}.pcap", b / per_file));
            let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
            f.write_all(&pcap_bytes(&[])[..PCAP_HEADER])?;
            part = Some(f);
        }
        part.as_mut().expect("opened above").write_all(records)?;
        frames += block.len();
    }
    out.flush()?;
    drop(part);
    let zstd = dir.join("large.pcap.zst");
    let zstd = Command::new("zstd")
        .args(["-q", "-f", "-T0"])
        .arg(&large)
        .arg("-o")
        .arg(&zstd)
        .status()
        .is_ok_and(|s| s.success())
        .then_some(zstd);
    if zstd.is_none() {
        println!("(zstd is not installed: no compressed capture measured)");
    }
    Ok(Captures {
        large,
        small,
        rotated,
        zstd,
        frames,
        small_frames: first.len(),
    })
}

struct Row {
    name: String,
    frames: usize,
    bytes: u64,
    cmd: Vec<String>,
    /// Standard input from this file.
    stdin: Option<PathBuf>,
    rounds: usize,
    seconds: Vec<f64>,
    rss_kib: Vec<i64>,
}

/// Marks GNU time's line in a command's stderr.
const RSS_TAG: &str = "peak-rss-kib";

/// Runs `cmd`, its output thrown away: wall time, and peak resident memory as GNU time
/// reports it. A process's own accounting (wait4's ru_maxrss) would include the memory of
/// the process that forked it, here xtask's; GNU time's fork is a few hundred KiB.
fn measure(cmd: &[String], stdin: Option<&Path>) -> anyhow::Result<(f64, i64)> {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", &format!("{RSS_TAG} %M")])
        .args(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = stdin {
        c.stdin(std::fs::File::open(p)?);
    }
    let start = Instant::now();
    let out = c.output().with_context(|| cmd.join(" "))?;
    let seconds = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{} failed ({}): {err}", cmd.join(" "), out.status);
    }
    let rss = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(RSS_TAG))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no peak memory from GNU time in: {err}"))?;
    Ok((seconds, rss))
}

pub fn run() -> anyhow::Result<()> {
    crate::setup()?;
    crate::apt_install("tshark", "tshark")?;
    crate::apt_install("zstd", "zstd")?;
    crate::apt_install("tcpdump", "tcpdump")?;
    crate::apt_install("/usr/bin/time", "time")?;
    crate::run(cargo().args(["build", "--quiet", "--release", "--package", "fault-user"]))?;
    let faultd = root().join("target/release/faultd");
    let dir = root().join("target/bench-replay");
    println!("== writing the captures to {}", dir.display());
    let c = write_captures(&dir)?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let dir_size: u64 = std::fs::read_dir(&c.rotated)?
        .filter_map(|e| e.ok())
        .map(|e| size(&e.path()))
        .sum();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let f = s(&faultd);
    let replay = |input: &str, engine: &str| -> Vec<String> {
        vec![
            f.clone(),
            "replay".into(),
            input.into(),
            "--engine".into(),
            engine.into(),
            "--progress".into(),
            "never".into(),
        ]
    };
    let row = |name: &str, frames, bytes, cmd: Vec<String>, rounds| Row {
        name: name.into(),
        frames,
        bytes,
        cmd,
        stdin: None,
        rounds,
        seconds: Vec::new(),
        rss_kib: Vec::new(),
    };
    let (large, n) = (s(&c.large), c.frames);
    let large_size = size(&c.large);
    let mut rows = vec![
        row(
            "faultd replay, user engine",
            n,
            large_size,
            replay(&large, "user"),
            ROUNDS,
        ),
        row(
            "faultd replay, kernel engine",
            n,
            large_size,
            replay(&large, "kernel"),
            ROUNDS,
        ),
        row(
            &format!("faultd replay, {ROTATED_FILES} rotated files (directory)"),
            n,
            dir_size,
            replay(&s(&c.rotated), "user"),
            ROUNDS,
        ),
        Row {
            stdin: Some(c.large.clone()),
            ..row(
                "faultd replay - (standard input)",
                n,
                large_size,
                replay("-", "user"),
                ROUNDS,
            )
        },
        row(
            "faultd replay, small capture",
            c.small_frames,
            size(&c.small),
            replay(&s(&c.small), "user"),
            ROUNDS,
        ),
        row(
            "faultd classify, user engine",
            n,
            large_size,
            vec![f.clone(), "classify".into(), large.clone()],
            ROUNDS,
        ),
        row(
            "tcpdump -r F -w /dev/null 'udp port 137'",
            n,
            large_size,
            [
                "tcpdump",
                "-q",
                "-r",
                &large,
                "-w",
                "/dev/null",
                "udp port 137",
            ]
            .map(String::from)
            .to_vec(),
            ROUNDS,
        ),
        row(
            "tshark -n -r F -Y 'udp.port == 137' -w /dev/null",
            n,
            large_size,
            [
                "tshark",
                "-n",
                "-r",
                &large,
                "-Y",
                "udp.port == 137",
                "-w",
                "/dev/null",
            ]
            .map(String::from)
            .to_vec(),
            TSHARK_ROUNDS,
        ),
    ];
    if let Some(z) = &c.zstd {
        rows.insert(
            3,
            row(
                "faultd replay, zstd-compressed",
                n,
                size(z),
                replay(&s(z), "user"),
                ROUNDS,
            ),
        );
    }
    println!(
        "== {} frames ({:.0} MB); {} rounds, the commands taking turns in each\n",
        c.frames,
        large_size as f64 / 1e6,
        ROUNDS
    );
    for round in 0..ROUNDS {
        for r in rows.iter_mut().filter(|r| round < r.rounds) {
            check()?;
            let (secs, rss) = measure(&r.cmd, r.stdin.as_deref())?;
            r.seconds.push(secs);
            r.rss_kib.push(rss);
        }
        println!("round {} of {ROUNDS} done", round + 1);
    }
    let best = |r: &Row| r.seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let rate = |r: &Row| r.frames as f64 / best(r);
    let tshark = rows
        .iter()
        .find(|r| r.cmd[0] == "tshark")
        .map(rate)
        .unwrap_or(f64::NAN);
    let tcpdump = rows
        .iter()
        .find(|r| r.cmd[0] == "tcpdump")
        .map(rate)
        .unwrap_or(f64::NAN);
    println!(
        "\n{:<54} {:>9} {:>8} {:>11} {:>9} {:>9} {:>9}",
        "command (fastest round)",
        "frames",
        "seconds",
        "frames/s",
        "x tshark",
        "x tcpdump",
        "peak RSS"
    );
    let mut json_rows = Vec::new();
    for r in &rows {
        let rss = *r.rss_kib.iter().max().unwrap_or(&0) as f64 / 1024.0;
        println!(
            "{:<54} {:>9} {:>8.3} {:>11.0} {:>9.1} {:>9.2} {:>6.1} MiB",
            r.name,
            r.frames,
            best(r),
            rate(r),
            rate(r) / tshark,
            rate(r) / tcpdump,
            rss
        );
        json_rows.push(json!({
            "name": r.name, "command": r.cmd.join(" "), "frames": r.frames, "bytes": r.bytes,
            "seconds": r.seconds, "frames_per_s": rate(r), "peak_rss_mib": rss,
            "vs_tshark": rate(r) / tshark, "vs_tcpdump": rate(r) / tcpdump,
        }));
    }
    let out = root().join("target/bench-replay.json");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&json!({ "rows": json_rows }))?,
    )?;
    println!("\nJSON: {}", out.display());
    Ok(())
}
