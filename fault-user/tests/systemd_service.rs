//! contrib/systemd/faultd.service under a real systemd as PID 1: a container booted by
//! systemd-nspawn from a read-only view of this machine's own root (a throwaway overlay on
//! top, so nothing it writes reaches the host), on a network namespace of the test's. In it
//! the package from `cargo xtask dist` is installed with dpkg -i and the service started as
//! an operator would: it becomes active (running) once faultd says READY=1, runs as the
//! faultd user with exactly CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON under the unit's
//! syscall filter, answers /healthz, counts the frames sent to its interface, stops cleanly,
//! and a configuration error leaves it failed with no restarts. Needs root, systemd-nspawn
//! (Debian's systemd-container, which `cargo xtask test` installs; missing, the test fails)
//! and FAULTD_DIST_DEB (set by `cargo xtask test`; missing, it skips loudly).

mod system;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use fault_tests::{
    daemon::has_xdp,
    netns::{Netns, Veth, http_get, is_root, wait_for},
};
use system::{Bpffs, THREE_CAPS, catalogue_counted_and_ticking, ok, repo, show, status_field};

/// `mount --bind / DIR`, read-only: systemd-nspawn boots a directory, and refuses `/`
/// itself.
struct RootView(PathBuf);

impl RootView {
    fn new(dir: PathBuf) -> RootView {
        fs::create_dir_all(&dir).unwrap();
        ok(Command::new("mount").args(["--bind", "/"]).arg(&dir));
        let view = RootView(dir);
        ok(Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&view.0));
        view
    }
}

impl Drop for RootView {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = fs::remove_dir(&self.0);
    }
}

/// The booted container: systemd-nspawn, and the container's PID 1 to enter.
struct Machine {
    nspawn: Child,
    init: u32,
    console: PathBuf,
}

impl Machine {
    /// A command run inside the container: its namespaces, its /proc, its systemd.
    fn exec(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg("-t")
            .arg(self.init.to_string())
            .args(["-a", "--"])
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "{args:?} in the container: {}",
            show(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `systemctl show` properties of faultd.service.
    fn unit(&self, property: &str) -> String {
        self.ok(&[
            "systemctl",
            "show",
            "--value",
            "-p",
            property,
            "faultd.service",
        ])
        .trim()
        .to_owned()
    }

    fn journal(&self) -> String {
        show(&self.exec(&[
            "journalctl",
            "-u",
            "faultd.service",
            "--no-pager",
            "-o",
            "short-monotonic",
        ]))
    }

    fn console(&self) -> String {
        fs::read_to_string(&self.console).unwrap_or_default()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        // SIGTERM asks systemd-nspawn to shut the container down as a poweroff would.
        // SAFETY: signalling the child this test started.
        unsafe { libc::kill(self.nspawn.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
    }
}

/// The processes below `pid`, breadth first.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(parent) && !found.contains(&p) {
                found.push(p);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

fn boot(dir: &Path, root: &Path, bpffs: &Path, share: &Path, ns: &Netns) -> Machine {
    let console = dir.join("console.log");
    let nspawn = Command::new("systemd-nspawn")
        .arg("--quiet")
        .arg("--directory")
        .arg(root)
        // A tmpfs over the read-only root: dpkg -i and the unit's state stay in it.
        .arg("--volatile=overlay")
        // No systemd on the host to register with or to make a scope for us.
        .args(["--register=no", "--keep-unit"])
        .arg(format!("--machine=faultd-test-{}", std::process::id()))
        .arg(format!("--network-namespace-path={}", ns.path().display()))
        // Beyond nspawn's default set: what the unit hands on to faultd.
        .arg("--capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN")
        // nspawn's own syscall filter refuses bpf() even to root with every capability.
        .arg("--system-call-filter=bpf perf_event_open")
        .arg(format!("--bind={}:/sys/fs/bpf", bpffs.display()))
        .arg(format!("--bind-ro={}:/root/faultd-test", share.display()))
        .args(["--console=pipe", "--link-journal=no", "--boot", "--"])
        // Only what the service needs around it: the host's own services stay down.
        .arg("systemd.unit=basic.target")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&console).unwrap())
        .stderr(Stdio::from(
            fs::OpenOptions::new().append(true).open(&console).unwrap(),
        ))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "systemd-nspawn: {e}: cargo xtask test installs it (apt-get install \
                 systemd-container)"
            )
        });
    let mut machine = Machine {
        nspawn,
        init: 0,
        console,
    };
    let init = wait_for(Duration::from_secs(30), || {
        descendants(machine.nspawn.id()).into_iter().find(|p| {
            fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "systemd")
        })
    });
    machine.init = init.unwrap_or_else(|| {
        panic!(
            "no systemd started in the container:\n{}",
            machine.console()
        )
    });
    let state = wait_for(Duration::from_secs(60), || {
        let out = machine.exec(&["systemctl", "is-system-running", "--wait"]);
        let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        ["running", "degraded"]
            .contains(&state.as_str())
            .then_some(state)
    });
    assert!(
        state.is_some(),
        "the container's systemd never finished booting:\n{}",
        machine.console()
    );
    machine
}

#[test]
fn the_unit_runs_faultd_under_systemd_as_pid_1() {
    let deb = match std::env::var_os("FAULTD_DIST_DEB") {
        Some(p) if Path::new(&p).exists() => PathBuf::from(p),
        _ => {
            eprintln!(
                "SKIPPED the_unit_runs_faultd_under_systemd: FAULTD_DIST_DEB not set or \
                 missing (cargo xtask test builds the package and sets it)"
            );
            return;
        }
    };
    if !is_root() {
        eprintln!("SKIPPED the_unit_runs_faultd_under_systemd: needs root to boot a container");
        return;
    }
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("faultd-systemd-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    struct Gone(PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(dir.clone());

    let node = Netns::new("sd").unwrap();
    let wire = Netns::new("sdw").unwrap();
    let veth = Veth::new(&node, &wire, 1500).unwrap();

    // What the container reads: the package, and the shipped settings naming its interface,
    // then with a key faultd does not know.
    let share = dir.join("share");
    fs::create_dir(&share).unwrap();
    fs::copy(&deb, share.join("faultd.deb")).unwrap();
    let shipped = repo("contrib/systemd/faultd.toml");
    assert!(shipped.contains("iface = [\"eth0\"]"), "{shipped}");
    let good = shipped.replace("iface = [\"eth0\"]", &format!("iface = [\"{}\"]", veth.a));
    fs::write(share.join("good.toml"), &good).unwrap();
    fs::write(
        share.join("bad.toml"),
        good.replace("log_format =", "no_such_key = 1\nlog_format ="),
    )
    .unwrap();

    let root = RootView::new(dir.join("root"));
    let bpffs = Bpffs::new(dir.join("bpffs"));
    let machine = boot(&dir, &root.0, &bpffs.0, &share, &node);
    eprintln!("booted in {:.1?}", started.elapsed());
    assert_eq!(
        machine.ok(&["cat", "/proc/1/comm"]).trim(),
        "systemd",
        "systemd is the container's PID 1"
    );

    machine.ok(&["dpkg", "-i", "/root/faultd-test/faultd.deb"]);
    machine.ok(&[
        "cp",
        "/root/faultd-test/good.toml",
        "/etc/faultd/faultd.toml",
    ]);

    // Type=notify: start returns once faultd has attached, serves /metrics and said READY=1.
    let start = machine.exec(&["systemctl", "start", "faultd.service"]);
    assert!(
        start.status.success(),
        "systemctl start faultd: {}\n{}",
        show(&start),
        machine.journal()
    );
    assert_eq!(
        machine.unit("ActiveState"),
        "active",
        "{}",
        machine.journal()
    );
    assert_eq!(machine.unit("SubState"), "running");
    let status = machine.ok(&["systemctl", "status", "--no-pager", "faultd.service"]);
    assert!(status.contains("Active: active (running)"), "{status}");

    // As the faultd user, with the three capabilities and nothing more, under the filter.
    let pid = machine.unit("MainPID");
    let proc_status = machine.ok(&["cat", &format!("/proc/{pid}/status")]);
    let uid = machine.ok(&["id", "-u", "faultd"]).trim().to_owned();
    assert_ne!(uid, "0");
    assert_eq!(
        status_field(&proc_status, "Uid"),
        [uid.as_str(); 4].join("\t"),
        "{proc_status}"
    );
    for field in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] {
        assert_eq!(
            status_field(&proc_status, field),
            THREE_CAPS,
            "{field}:\n{proc_status}"
        );
    }
    assert_eq!(status_field(&proc_status, "NoNewPrivs"), "1");
    assert_eq!(
        status_field(&proc_status, "Seccomp"),
        "2",
        "the SystemCallFilter applies"
    );
    assert!(has_xdp(&node, &veth.a), "attached to {}", veth.a);

    // /healthz answers, and /metrics counts what is sent to the interface.
    let addr = "127.0.0.1:10137".parse().unwrap();
    let health = http_get(Some(&node), addr, "/healthz", None).unwrap();
    assert_eq!(health.status, 200, "{health:?}");
    catalogue_counted_and_ticking(&node, &wire, &veth.b, addr);
    let pins = fs::read_dir(bpffs.0.join("faultd")).map(|d| d.count());
    assert!(
        pins.as_ref().is_ok_and(|n| *n > 0),
        "pins under /sys/fs/bpf/faultd, made by ExecStartPre=+: {pins:?}"
    );

    // Stop: faultd exits 0 on SIGTERM and takes its program off the link.
    machine.ok(&["systemctl", "stop", "faultd.service"]);
    assert_eq!(machine.unit("ActiveState"), "inactive");
    assert_eq!(machine.unit("Result"), "success", "{}", machine.journal());
    assert_eq!(machine.unit("ExecMainStatus"), "0");
    assert!(!has_xdp(&node, &veth.a), "detached from {}", veth.a);

    // A key faultd does not know: exit status 2, failed, and not restarted (past RestartSec).
    machine.ok(&[
        "cp",
        "/root/faultd-test/bad.toml",
        "/etc/faultd/faultd.toml",
    ]);
    let start = machine.exec(&["systemctl", "start", "faultd.service"]);
    assert!(!start.status.success(), "started with a bad key");
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(
        machine.unit("ActiveState"),
        "failed",
        "{}",
        machine.journal()
    );
    assert_eq!(machine.unit("Result"), "exit-code");
    assert_eq!(machine.unit("ExecMainStatus"), "2");
    assert_eq!(machine.unit("NRestarts"), "0", "{}", machine.journal());
    let journal = machine.journal();
    assert!(
        journal.contains("no_such_key"),
        "says which key:\n{journal}"
    );
    eprintln!("done in {:.1?}", started.elapsed());
}
