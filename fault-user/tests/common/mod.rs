//! What the fault tests share: running `faultd replay` as a user would, the scenario
//! checks every fault family gets (tshark vouches for each frame; each scenario gives
//! exactly its golden file's records on both engines), and the real corpus.

#![allow(dead_code, reason = "each test file uses what it needs")]

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use fault_tests::{TempPcap, golden, netns::is_root, scenario::Scenario, tshark};
use serde_json::Value;

pub const FAULTD: &str = env!("CARGO_BIN_EXE_faultd");
/// 2023-11-14T22:13:20Z: every scenario capture starts here.
pub const BASE_NS: u64 = 1_700_000_000_000_000_000;

pub fn faultd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(FAULTD).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `faultd replay` on `pcap` with `engine` and `extra` flags: the records it printed.
pub fn replay(pcap: &Path, engine: &str, extra: &[&str]) -> Vec<Value> {
    replay_lines(pcap, engine, extra)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// [`replay`]'s records as printed, one line each: what the golden files hold.
pub fn replay_lines(pcap: &Path, engine: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["replay", pcap.to_str().unwrap(), "--engine", engine];
    args.extend_from_slice(extra);
    let (code, out, err) = faultd(&args);
    assert_eq!(code, 0, "faultd {args:?}: {err}");
    out.lines().map(str::to_owned).collect()
}

/// The kernel engine needs BPF_PROG_TEST_RUN (root); the user engine runs anywhere.
pub fn engines() -> Vec<&'static str> {
    if is_root() {
        vec!["user", "kernel"]
    } else {
        eprintln!("NOTE: not root: the kernel engine's replay is not checked here");
        vec!["user"]
    }
}

/// Every frame of every scenario matches the tshark filter its step names (all of them in
/// one capture, one tshark run per distinct filter), and tshark finds nothing malformed.
pub fn frames_are_what_tshark_says(test: &str, scenarios: &[Scenario]) {
    if !tshark::available_or_skip(test) {
        return;
    }
    // A stable sort: a step keeps its place among steps at the same time.
    let mut steps: Vec<(u64, Vec<u8>, String, &'static str)> = Vec::new();
    for s in scenarios {
        for st in &s.steps {
            let t = BASE_NS + st.at_ms * 1_000_000;
            steps.push((t, st.frame.clone(), st.check.clone(), s.name));
        }
    }
    steps.sort_by_key(|s| s.0);
    let frames: Vec<(u64, Vec<u8>)> = steps.iter().map(|(t, f, _, _)| (*t, f.clone())).collect();
    let pcap = TempPcap::new(test, &frames).unwrap();
    let filters: BTreeSet<&str> = steps.iter().map(|s| s.2.as_str()).collect();
    for filter in filters {
        let matched: BTreeSet<u64> = tshark::frames(pcap.path(), filter).into_iter().collect();
        for (i, (_, _, check, name)) in steps.iter().enumerate() {
            if check == filter {
                let n = i as u64 + 1;
                assert!(
                    matched.contains(&n),
                    "{name}: frame {n} does not match `{filter}`"
                );
            }
        }
    }
    let bad = "_ws.malformed || _ws.expert.severity >= error";
    assert_eq!(tshark::count(pcap.path(), bad), 0, "tshark: {bad}");
}

/// Each scenario, replayed alone on both engines, gives exactly the records of its golden
/// file (`tests/golden/<name>.jsonl`, see `fault_tests::golden`; `FAULTD_BLESS=1` rewrites
/// it from the user engine), which are records of the scenario's fault only (none for a
/// benign look-alike). The kernel engine must give the same, never blessed.
pub fn each_gives_exactly(scenarios: &[Scenario]) {
    for s in scenarios {
        let pcap = TempPcap::new(s.name, &s.frames(BASE_NS, 1)).unwrap();
        for engine in engines() {
            let got = replay_lines(pcap.path(), engine, &[]);
            let what = format!("{} ({engine} engine)", s.name);
            if engine == "user" {
                golden::check(s.name, &got, &what);
            } else {
                golden::compare(s.name, &got, &what);
            }
        }
        let records = golden::records(s.name);
        let faults: BTreeSet<&str> = records
            .iter()
            .map(|r| r["fault"].as_str().unwrap())
            .collect();
        assert_eq!(
            faults,
            s.fault.into_iter().collect(),
            "{}: the golden records are for its fault",
            s.name
        );
    }
}

/// Played all at once, scenarios do not disturb one another: the records are the union
/// of their golden files', in time order.
pub fn all_at_once_give_the_union(tag: &str, scenarios: &[Scenario]) {
    let merged = fault_tests::scenario::merged(scenarios, BASE_NS, 1);
    let pcap = TempPcap::new(tag, &merged).unwrap();
    let got = replay_lines(pcap.path(), "user", &[]);
    let key = |line: &String| {
        let r: Value = serde_json::from_str(line).unwrap();
        (
            r["ts"].as_str().unwrap().to_owned(),
            r["client"].to_string(),
        )
    };
    let ts: Vec<String> = got.iter().map(|r| key(r).0).collect();
    assert!(ts.is_sorted(), "records come out in time order: {ts:?}");
    // Blessing, the files may be rewritten under us: what they are being rewritten to is
    // each scenario replayed alone.
    let alone = |s: &Scenario| {
        let pcap = TempPcap::new(s.name, &s.frames(BASE_NS, 1)).unwrap();
        replay_lines(pcap.path(), "user", &[])
    };
    let mut want: Vec<String> = scenarios
        .iter()
        .flat_map(|s| {
            if golden::blessing() {
                alone(s)
            } else {
                golden::lines(s.name)
            }
        })
        .collect();
    want.sort_by_key(key);
    let mut got = got;
    got.sort_by_key(key);
    golden::assert_same(
        &want,
        &got,
        &format!("{tag}: the union of the golden files"),
    );
}

/// The real captures (`shared/corpus/real`), or `None`, said loudly, in a clone without
/// them.
pub fn corpus() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/real");
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED: {} is absent (a clone without the shared corpus): the real captures \
             are not checked",
            dir.display()
        );
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 28,
        "{} captures in {}",
        files.len(),
        dir.display()
    );
    Some(files)
}

/// The records of `fault` that `faultd replay` finds in `pcap`.
pub fn records_of(pcap: &Path, fault: &[&str]) -> Vec<Value> {
    replay(pcap, "user", &[])
        .into_iter()
        .filter(|r| fault.contains(&r["fault"].as_str().unwrap()))
        .collect()
}

/// A record without its times: a live clock is the kernel's, not the capture's.
pub fn timeless(mut r: Value) -> Value {
    r.as_object_mut().unwrap().remove("ts");
    for e in r["evidence"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("ts");
    }
    r
}
