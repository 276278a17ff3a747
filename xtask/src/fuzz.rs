//! `cargo xtask fuzz`: a cargo-fuzz target for each parser entry point, seeded from the
//! frame builder's catalogue, run for a set time each; executions and findings per target.

use std::{fs, path::Path, process::Command};

use anyhow::{Context as _, ensure};
use bytemuck::Zeroable;
use fault_common::{
    Class,
    event::Record,
    parse::{self, Scratch, Sink},
};
use fault_tests::{catalogue, pcap::pcap_bytes_snapped, pcap_bytes, pcapng_bytes};

use crate::{root, run};

/// The targets under fuzz/fuzz_targets, each an entry point of faultd's parsing.
pub const TARGETS: [&str; 3] = ["frame", "event", "capture"];

pub fn run_all(seconds: u64, only: Option<&str>) -> anyhow::Result<()> {
    if let Some(t) = only {
        ensure!(
            TARGETS.contains(&t),
            "no fuzz target {t:?}: {}",
            TARGETS.join(", ")
        );
    }
    install_cargo_fuzz()?;
    let fuzz = root().join("fuzz");
    write_seeds(&fuzz.join("corpus"))?;
    let mut report = Vec::new();
    for target in TARGETS.iter().filter(|t| only.is_none_or(|o| o == **t)) {
        let artifacts = fuzz.join("artifacts").join(target);
        let before = listing(&artifacts);
        let out = Command::new("cargo")
            .current_dir(root())
            // The capture reader and rendering need no XDP object.
            .env("AYA_BUILD_SKIP", "1")
            .args(["+nightly", "fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .output()
            .with_context(|| format!("cargo fuzz run {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let executions = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|n| n.trim().parse::<u64>().ok());
        // This run's findings: an earlier run's inputs stay until a test replays them.
        let mut findings = listing(&artifacts);
        findings.retain(|f| !before.contains(f));
        if executions.is_none() {
            // A build failure, or libFuzzer stopped before its statistics: show why.
            eprintln!(
                "{}",
                log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
            );
        }
        report.push((target, executions, findings));
    }
    println!("{:<8} {:>14} findings", "target", "executions");
    for (target, executions, findings) in &report {
        let n = executions.map_or("failed".into(), |n| n.to_string());
        println!("{target:<8} {n:>14} {}", findings.len());
        for f in findings {
            println!("    {f}");
        }
    }
    let clean = report.iter().all(|(_, e, f)| e.is_some() && f.is_empty());
    ensure!(
        clean,
        "fuzzing found problems (inputs above: replay each as a unit test)"
    );
    Ok(())
}

/// The files in `dir`, none if it is not there.
fn listing(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn install_cargo_fuzz() -> anyhow::Result<()> {
    let present = Command::new("cargo").args(["fuzz", "--version"]).output();
    if present.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz");
    run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

/// The seed corpus, rewritten each run (libFuzzer adds its own finds beside it).
fn write_seeds(corpus: &Path) -> anyhow::Result<()> {
    let samples = catalogue();
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    for s in &samples {
        // Whole on the wire, and the first half of a frame twice as long.
        seeds.push(("frame", [&[0, 0][..], &s.frame].concat()));
        let half = &s.frame[..s.frame.len() / 2];
        let extra = (s.frame.len() - half.len()) as u16;
        seeds.push(("frame", [&extra.to_le_bytes()[..], half].concat()));
        for record in records(&s.frame) {
            seeds.push(("event", record));
        }
    }
    let t0 = 1_700_000_000_000_000_000u64;
    let timed: Vec<(u64, Vec<u8>)> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| (t0 + i as u64, s.frame.clone()))
        .collect();
    for chunk in timed.chunks(8) {
        seeds.push(("capture", pcap_bytes(chunk)));
        seeds.push(("capture", pcap_bytes_snapped(40, chunk)));
        let ng: Vec<(u32, u64, Vec<u8>)> = chunk.iter().map(|(t, f)| (0, *t, f.clone())).collect();
        seeds.push(("capture", pcapng_bytes(&[1, 220], &ng)));
        seeds.push(("capture", snoop(chunk)));
    }
    for target in TARGETS {
        let dir = corpus.join(target);
        fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        let ours = seeds.iter().filter(|(t, _)| *t == target);
        for (i, (_, bytes)) in ours.enumerate() {
            let path = dir.join(format!("seed-{i:04}"));
            fs::write(&path, bytes).with_context(|| path.display().to_string())?;
        }
    }
    Ok(())
}

/// The ring records the parser emits for a frame.
fn records(frame: &[u8]) -> Vec<Vec<u8>> {
    struct Keep(Vec<Vec<u8>>);
    impl Sink for Keep {
        fn count(&mut self, _: Class) {}
        fn emit<R: Record>(&mut self, record: &mut R) {
            self.0
                .push(bytemuck::bytes_of(record)[..record.ring_len()].to_vec());
        }
    }
    let mut keep = Keep(Vec::new());
    parse::classify(frame, &mut keep, &mut Scratch::zeroed());
    keep.0
}

/// A snoop (RFC 1761) capture of Ethernet frames; the frame builder writes pcap only.
fn snoop(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"snoop\0\0\0".to_vec();
    out.extend([2u32, 4].iter().flat_map(|w| w.to_be_bytes()));
    for (ts, f) in frames {
        let (len, rec) = (f.len() as u32, 24 + f.len().next_multiple_of(4) as u32);
        let (secs, usecs) = (
            (ts / 1_000_000_000) as u32,
            (ts % 1_000_000_000 / 1000) as u32,
        );
        out.extend(
            [len, len, rec, 0, secs, usecs]
                .iter()
                .flat_map(|w| w.to_be_bytes()),
        );
        out.extend_from_slice(f);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}
