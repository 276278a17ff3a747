//! `faultd run` as contrib/systemd/faultd.service runs it: not root, but a user of its own
//! holding CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON as ambient capabilities, with no new
//! privileges, its pins on a BPF file system mounted for it. It attaches, counts, serves
//! /metrics and tells systemd READY=1; short of any one of the three it exits 2 naming the
//! missing one; on a kernel older than 5.18 it exits 2 saying so. Needs root to set this up
//! (skips loudly without).

use std::{
    fs,
    os::unix::{fs::PermissionsExt as _, net::UnixDatagram},
    path::PathBuf,
    process::Command,
    time::Duration,
};

use fault_tests::{
    catalogue,
    daemon::{Daemon, has_xdp, pins_left, run_refused_wrapped, unique},
    netns::{Netns, Veth, is_root, send_frames},
};

const FAULTD: &str = env!("CARGO_BIN_EXE_faultd");
/// `nobody`: a uid with no privilege of its own.
const UID: u32 = 65534;
const CAPS: [&str; 3] = ["bpf", "net_admin", "perfmon"];

fn root_or_skip(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIPPED {test}: needs root to make the namespaces and change user");
        return false;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIPPED {test}: no setpriv (util-linux)");
        return false;
    }
    true
}

/// A directory of the test's, traversable by the unprivileged user: faultd's copy, the
/// notify socket and the BPF file system live there. Removed (unmounted first) on drop.
struct Scratch {
    dir: PathBuf,
    bpffs: PathBuf,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("faultd-lp-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let bpffs = dir.join("bpf");
        fs::create_dir(&bpffs).unwrap();
        let s = Scratch { dir, bpffs };
        // A BPF file system of the test's own, faultd's user's, as the unit's bind mount
        // gives the service one: the host's /sys/fs/bpf may be root's 0700 (systemd).
        let out = Command::new("mount")
            .args(["-t", "bpf", "bpf"])
            .arg(&s.bpffs)
            .output()
            .unwrap();
        assert!(out.status.success(), "mount -t bpf: {out:?}");
        std::os::unix::fs::chown(&s.bpffs, Some(UID), Some(UID)).unwrap();
        fs::set_permissions(&s.bpffs, fs::Permissions::from_mode(0o700)).unwrap();
        s
    }

    /// faultd where the unprivileged user can run it (the build tree may be root's alone).
    fn faultd(&self) -> PathBuf {
        let copy = self.dir.join("faultd");
        if !copy.exists() {
            fs::copy(FAULTD, &copy).unwrap();
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        }
        copy
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Unmounting drops whatever was pinned there.
        let _ = Command::new("umount").arg(&self.bpffs).output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `setpriv` as the unit sets faultd up: the uid and gid of nobody, no groups, no new
/// privileges, and `caps` alone (inheritable, ambient and bounding sets).
fn as_unprivileged(caps: &[&str]) -> Vec<String> {
    let set: String = std::iter::once("-all".to_owned())
        .chain(caps.iter().map(|c| format!("+{c}")))
        .collect::<Vec<_>>()
        .join(",");
    let mut v: Vec<String> = ["setpriv", "--reuid", "65534", "--regid", "65534"]
        .map(String::from)
        .into();
    v.extend(["--clear-groups".into(), "--no-new-privs".into()]);
    for flag in ["--inh-caps", "--ambient-caps", "--bounding-set"] {
        v.extend([flag.to_owned(), set.clone()]);
    }
    v.push("--".into());
    v
}

/// A field of /proc/PID/status, e.g. `Uid` or `CapEff`.
fn status_field(pid: u32, field: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn with_only_the_units_capabilities_faultd_attaches_counts_and_serves() {
    if !root_or_skip("with_only_the_units_capabilities_faultd_attaches_counts_and_serves") {
        return;
    }
    let scratch = Scratch::new("ok");
    let faultd = scratch.faultd();
    let notify_path = scratch.dir.join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    fs::set_permissions(&notify_path, fs::Permissions::from_mode(0o777)).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let (a, b) = (Netns::new("pa").unwrap(), Netns::new("pb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, _) = unique("least-privilege");
    let wrapper = as_unprivileged(&CAPS);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let pin = scratch.bpffs.to_str().unwrap();
    let d = Daemon::start_wrapped(
        &wrapper,
        &faultd,
        &a,
        addr,
        &["--iface", &veth.a, "--pin-path", pin],
        |cmd| {
            cmd.env("NOTIFY_SOCKET", &notify_path);
        },
        |d| d.get("/metrics", None).is_ok_and(|r| r.status == 200),
    )
    .unwrap();

    // What `ps` would show: nobody, with exactly the three capabilities in effect.
    let pid = d.pid();
    assert!(
        status_field(pid, "Uid")
            .split_whitespace()
            .all(|u| u == "65534"),
        "faultd runs as nobody: Uid {}",
        status_field(pid, "Uid")
    );
    let eff = u64::from_str_radix(&status_field(pid, "CapEff"), 16).unwrap();
    assert_eq!(
        eff,
        (1 << 12) | (1 << 38) | (1 << 39),
        "CapEff is CAP_NET_ADMIN, CAP_PERFMON and CAP_BPF alone"
    );
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 on NOTIFY_SOCKET");
    assert_eq!(&buf[..n], b"READY=1", "sd_notify once attached and serving");

    let frames: Vec<Vec<u8>> = catalogue()
        .into_iter()
        .map(|s| s.frame)
        .filter(|f| (14..=1514).contains(&f.len()))
        .take(40)
        .collect();
    assert_eq!(send_frames(&b, &veth.b, &frames).unwrap(), frames.len());
    let s = d
        .scrape_until(|s| s.frames_seen() >= frames.len() as u64)
        .unwrap();
    assert_eq!(s.frames_seen(), frames.len() as u64);
    assert_eq!(
        s.get(&format!(
            "faultd_xdp_attached{{iface=\"{}\",mode=\"native\"}}",
            veth.a
        )),
        Some(1.0)
    );
    assert!(has_xdp(&a, &veth.a));
    assert!(
        pins_left(&scratch.bpffs)
            .iter()
            .any(|p| p.ends_with(&format!("/v{}", fault_common::maps::LAYOUT_VERSION))),
        "the maps are pinned on faultd's file system: {:?}",
        pins_left(&scratch.bpffs)
    );
    let (status, log) = d.stop().unwrap();
    assert!(status.success(), "exit {status}\n{log}");
    assert!(!has_xdp(&a, &veth.a), "SIGTERM detaches\n{log}");
}

#[test]
fn short_of_any_capability_faultd_exits_2_naming_it() {
    if !root_or_skip("short_of_any_capability_faultd_exits_2_naming_it") {
        return;
    }
    let scratch = Scratch::new("short");
    let faultd = scratch.faultd();
    let (a, b) = (Netns::new("qa").unwrap(), Netns::new("qb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let pin = scratch.bpffs.to_str().unwrap();
    // A fresh bpffs shows the kernel's preloaded iterators (maps.debug, progs.debug).
    let before = pins_left(&scratch.bpffs);
    let (addr, _) = unique("short-of-caps");
    let addr = addr.to_string();
    for missing in CAPS {
        let caps: Vec<&str> = CAPS.into_iter().filter(|c| *c != missing).collect();
        let wrapper = as_unprivileged(&caps);
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let (code, log) = run_refused_wrapped(
            &wrapper,
            &faultd,
            &a,
            &["--iface", &veth.a, "--pin-path", pin, "--listen", &addr],
        );
        let name = format!("CAP_{}", missing.to_uppercase());
        assert_eq!(code, Some(2), "without {name}: exit 2\n{log}");
        assert!(
            log.contains(&format!("lacks {name}")),
            "the message names {name}:\n{log}"
        );
        assert!(!has_xdp(&a, &veth.a), "without {name}: nothing attached");
        assert_eq!(
            pins_left(&scratch.bpffs),
            before,
            "without {name}: nothing pinned"
        );
    }
}

/// `setarch --uname-2.6` makes uname(2) report a 2.6 release: the kernel check answers
/// before anything else is looked at, so this needs no privilege.
#[test]
fn a_kernel_older_than_5_18_is_refused_with_exit_2() {
    let out = Command::new("setarch")
        .args(["x86_64", "--uname-2.6", FAULTD, "run", "--iface", "lo"])
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED a_kernel_older_than_5_18_is_refused: no setarch (util-linux)");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("this kernel is Linux 2.6") && stderr.contains("Linux 5.18 or later"),
        "{stderr}"
    );
}
