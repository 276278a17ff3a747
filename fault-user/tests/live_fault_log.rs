//! The fault log on a disk that fills up and is freed again: no line is torn, no record
//! lost or reordered, and the failed writes are counted. The fault scenarios are played to
//! a live daemon whose `--fault-log` is on a small tmpfs. Needs root (skips loudly
//! without).

mod common;

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use common::{BASE_NS, FAULTD, replay, timeless};
use fault_tests::{
    TempPcap,
    daemon::{Daemon, Scrape, unique},
    netns::{Netns, Veth, is_root, send_timed},
    scenario::{self, FAST_FLAGS, SPEEDUP},
};
use serde_json::Value;

/// A tmpfs of `size` mounted on a fresh directory, unmounted and removed on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = std::env::temp_dir().join(format!("faultd-full-disk-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs on {}", dir.display());
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = fs::remove_dir(&self.0);
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut f = fs::File::create(path).unwrap();
    let chunk = [0u8; 4096];
    while let Ok(n) = f.write(&chunk) {
        if n == 0 {
            break;
        }
    }
}

/// Every line of the log, parsed: a torn line fails the test, naming it.
#[track_caller]
fn lines(log: &Path) -> Vec<Value> {
    fs::read_to_string(log)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("line {} of the fault log is not JSON ({e}): {l}", i + 1)
            })
        })
        .collect()
}

fn faults(s: &Scrape) -> u64 {
    s.0.iter()
        .filter(|(k, _)| k.starts_with("faultd_faults_total{"))
        .map(|(_, v)| *v as u64)
        .sum()
}

#[test]
fn a_full_disk_tears_no_line_and_loses_no_record() {
    if !is_root() {
        eprintln!("SKIPPED a_full_disk_tears_no_line_and_loses_no_record: needs root");
        return;
    }
    let frames = scenario::merged(&scenario::all(), BASE_NS, SPEEDUP);
    let pcap = TempPcap::new("full-disk", &frames).unwrap();
    let mut want: Vec<Value> = replay(pcap.path(), "user", &FAST_FLAGS)
        .into_iter()
        .map(timeless)
        .collect();
    assert!(want.len() >= 10, "{} records", want.len());

    let disk = Tmpfs::mount("1m");
    let log = disk.0.join("faults.jsonl");
    let filler = disk.0.join("filler");
    // An earlier run's record, so the disk fills in the middle of a page: the next record
    // only partly fits.
    let earlier = r#"{"fault":"canary","summary":"an earlier run's record"}"#;
    fs::write(&log, format!("{earlier}\n")).unwrap();

    let (a, b) = (Netns::new("da").unwrap(), Netns::new("db").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("fulldisk");
    let mut args = vec!["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()];
    args.extend(["--fault-log", log.to_str().unwrap()]);
    args.extend(FAST_FLAGS);
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &args).unwrap();
    fill(&filler);
    send_timed(&b, &veth.b, &frames).unwrap();
    let s = d
        .scrape_within(Duration::from_secs(30), |s| {
            faults(s) >= want.len() as u64 && s.u64("faultd_fault_log_write_errors_total") > 0
        })
        .unwrap();
    assert_eq!(faults(&s), want.len() as u64);
    assert!(
        s.u64("faultd_fault_log_queued_records") > 0,
        "records wait for the disk: {:?}",
        s.0
    );
    let while_full = lines(&log);
    assert!(
        while_full.len() < want.len() + 1,
        "the disk was full: {} lines",
        while_full.len()
    );
    assert!(d.log().contains("holding records back"), "{}", d.log());

    fs::remove_file(&filler).unwrap();
    let s = d
        .scrape_within(Duration::from_secs(10), |s| {
            s.u64("faultd_fault_log_queued_records") == 0
        })
        .unwrap();
    assert_eq!(s.u64("faultd_fault_log_dropped_total"), 0);
    let api: Value = serde_json::from_str(&d.get("/api/faults", None).unwrap().body).unwrap();
    let served: Vec<Value> = api
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(timeless)
        .collect();
    let (status, daemon_log) = d.stop().unwrap();
    assert!(status.success(), "{daemon_log}");

    let mut logged = lines(&log);
    assert_eq!(
        logged.remove(0),
        serde_json::from_str::<Value>(earlier).unwrap()
    );
    let logged: Vec<Value> = logged.into_iter().map(timeless).collect();
    assert_eq!(logged, served, "every record, in the order it was made");
    let mut logged = logged;
    let key = |r: &Value| {
        (
            r["fault"].to_string(),
            r["client"].to_string(),
            r.to_string(),
        )
    };
    logged.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(logged, want, "the records the scenarios give");
    let _ = Command::new(FAULTD)
        .args(["detach", "--pin-path", pin.to_str().unwrap()])
        .output();
}

/// The records, timeless, in a stable order.
fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|r| r.to_string());
    v
}

#[test]
fn sighup_reopens_the_fault_log_that_logrotate_moved_away() {
    if !is_root() {
        eprintln!("SKIPPED sighup_reopens_the_fault_log_that_logrotate_moved_away: needs root");
        return;
    }
    // Half the scenarios before the rotation, half after: each half's records go to its
    // own file.
    let all = scenario::all();
    let (first, second) = all.split_at(all.len() / 2);
    let halves = [first, second].map(|s| scenario::merged(s, BASE_NS, SPEEDUP));
    let want = halves.clone().map(|frames| {
        let pcap = TempPcap::new("rotate", &frames).unwrap();
        sorted(
            replay(pcap.path(), "user", &FAST_FLAGS)
                .into_iter()
                .map(timeless)
                .collect(),
        )
    });
    assert!(want.iter().all(|w| !w.is_empty()), "{want:?}");
    let dir = std::env::temp_dir().join(format!("faultd-rotate-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let (log, rotated) = (dir.join("faults.jsonl"), dir.join("faults.jsonl.1"));

    let (a, b) = (Netns::new("ra").unwrap(), Netns::new("rb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("rotate");
    let mut args = vec!["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()];
    args.extend(["--fault-log", log.to_str().unwrap()]);
    args.extend(FAST_FLAGS);
    let d = Daemon::start(Path::new(FAULTD), &a, addr, &args).unwrap();
    let health = d.get("/healthz", None).unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    send_timed(&b, &veth.b, &halves[0]).unwrap();
    d.scrape_within(Duration::from_secs(30), |s| {
        faults(s) >= want[0].len() as u64
    })
    .unwrap();
    // logrotate without copytruncate: move the file, then tell the daemon.
    fs::rename(&log, &rotated).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &d.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let total = (want[0].len() + want[1].len()) as u64;
    // The reopen is logged before the second half is sent, so no record can race it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d.log().contains("fault log reopened") {
        assert!(std::time::Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    send_timed(&b, &veth.b, &halves[1]).unwrap();
    d.scrape_within(Duration::from_secs(30), |s| faults(s) >= total)
        .unwrap();
    let (status, daemon_log) = d.stop().unwrap();
    assert!(status.success(), "{daemon_log}");
    let read = |p: &Path| sorted(lines(p).into_iter().map(timeless).collect());
    assert_eq!(read(&rotated), want[0], "before the rotation");
    assert_eq!(read(&log), want[1], "after it, in the new file");
    let _ = fs::remove_dir_all(&dir);
    let _ = Command::new(FAULTD)
        .args(["detach", "--pin-path", pin.to_str().unwrap()])
        .output();
}
