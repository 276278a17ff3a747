//! What the package, service and container tests share: running a command that must
//! succeed, reading the repository's files, /proc status fields, metric values, and a BPF
//! file system of the test's own.

#![allow(dead_code, reason = "each test file uses what it needs")]

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// CAP_NET_ADMIN (12), CAP_PERFMON (38) and CAP_BPF (39), as /proc/PID/status shows them.
pub const THREE_CAPS: &str = "000000c000001000";

pub fn show(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The command's stdout; it must succeed.
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A file of the repository, by its path from the top.
pub fn repo(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}

/// A /proc/PID/status field.
pub fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in\n{status}"))
        .trim()
        .to_owned()
}

/// The metric's value in a Prometheus exposition, if the line is there.
pub fn metric(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Sends every catalogue frame from `wire` into `veth_b`, waits for faultd (serving
/// `addr` in `node`) to have counted each, and checks the packet clock ticks (the
/// sandbox lets perf_event_open through).
pub fn catalogue_counted_and_ticking(
    node: &fault_tests::netns::Netns,
    wire: &fault_tests::netns::Netns,
    veth_b: &str,
    addr: std::net::SocketAddr,
) {
    use fault_tests::netns::{http_get, send_frames, wait_for};
    let frames: Vec<Vec<u8>> = fault_tests::catalogue()
        .into_iter()
        .map(|s| s.frame)
        .collect();
    let sent = send_frames(wire, veth_b, &frames).unwrap();
    assert_eq!(sent, frames.len());
    let scrape = || http_get(Some(node), addr, "/metrics", None).map(|m| m.body);
    let counted = wait_for(std::time::Duration::from_secs(10), || {
        let body = scrape().ok()?;
        (metric(&body, "faultd_frames_total") == Some(sent as f64)).then_some(body)
    });
    let body = counted.unwrap_or_else(|| {
        panic!(
            "faultd_frames_total never reached {sent}:\n{}",
            scrape().unwrap_or_default()
        )
    });
    assert_eq!(
        metric(&body, "faultd_packet_clock_tick_seconds"),
        Some(0.004),
        "the packet clock ticks (perf_event_open allowed)"
    );
}

/// A BPF file system of the test's own, standing in for a host's /sys/fs/bpf: the pins
/// in it go when it is unmounted.
pub struct Bpffs(pub PathBuf);

impl Bpffs {
    pub fn new(path: PathBuf) -> Bpffs {
        fs::create_dir_all(&path).unwrap();
        ok(Command::new("mount").args(["-t", "bpf", "bpf"]).arg(&path));
        Bpffs(path)
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = fs::remove_dir(&self.0);
    }
}
