//! What `cargo xtask dist` ships, checked as an operator would: the package's files and
//! control data, a real `dpkg -i` (faultd --version, man, completions, the unit verified by
//! systemd-analyze) and `dpkg --purge` leaving nothing behind, and the static binary
//! replaying a capture inside an empty root directory (no /lib, no libc) with the same
//! records as the ordinary build; and the container image of contrib/kubernetes built by
//! podman, holding that binary alone, replaying as the host does and running `faultd run`
//! with exactly the DaemonSet's capabilities on a network namespace of the test's (podman
//! and runc missing fail the tests: `cargo xtask test` installs them). `cargo xtask test`
//! builds the package first and names it in FAULTD_DIST_BINARY and FAULTD_DIST_DEB;
//! without them these tests skip loudly.

mod system;

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use fault_tests::netns::is_root;
use system::{Bpffs, THREE_CAPS, catalogue_counted_and_ticking, ok, repo, show, status_field};

const FAULTD: &str = env!("CARGO_BIN_EXE_faultd");

fn dist(var: &str, test: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if Path::new(&p).exists() => Some(p.into()),
        _ => {
            eprintln!(
                "SKIPPED {test}: {var} not set or missing (cargo xtask test builds the \
                 package and sets it; or run cargo xtask dist and set it)"
            );
            None
        }
    }
}

/// Every file the package installs, with where an operator or a tool looks for it.
const FILES: [&str; 16] = [
    "./usr/bin/faultd",
    "./lib/systemd/system/faultd.service",
    "./etc/faultd/faultd.toml",
    "./etc/logrotate.d/faultd",
    "./usr/share/doc/faultd/fault-record.schema.json",
    "./usr/share/doc/faultd/faultd-dashboard.json",
    "./usr/share/man/man1/faultd.1.gz",
    "./usr/share/man/man1/faultd-run.1.gz",
    "./usr/share/man/man1/faultd-replay.1.gz",
    "./usr/share/bash-completion/completions/faultd",
    "./usr/share/zsh/vendor-completions/_faultd",
    "./usr/share/fish/vendor_completions.d/faultd.fish",
    "./usr/share/doc/faultd/faultd-rules.yml",
    "./usr/share/doc/faultd/runbooks.md",
    "./usr/share/doc/faultd/copyright",
    "./usr/share/doc/faultd/README.md",
];

#[test]
fn the_package_holds_the_binary_unit_config_man_pages_completions_and_rules() {
    let Some(deb) = dist("FAULTD_DIST_DEB", "the_package_holds") else {
        return;
    };
    let info = ok(Command::new("dpkg-deb").arg("--info").arg(&deb));
    for field in [
        "Package: faultd",
        "Architecture: amd64",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(info.contains(field), "{field} in dpkg-deb --info:\n{info}");
    }
    for script in ["postinst", "prerm", "postrm", "conffiles"] {
        assert!(
            info.contains(script),
            "{script} in the control area:\n{info}"
        );
    }
    let conffiles = ok(Command::new("dpkg-deb")
        .args(["--ctrl-tarfile"])
        .arg(&deb)
        .stdout(std::process::Stdio::piped()));
    assert!(
        conffiles.contains("/etc/faultd/faultd.toml")
            && conffiles.contains("/etc/logrotate.d/faultd"),
        "faultd.toml and the logrotate snippet are conffiles: an upgrade keeps the operator's edits"
    );
    let contents = ok(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for f in FILES {
        assert!(
            contents.lines().any(|l| l.ends_with(f)),
            "{f} in the package:\n{contents}"
        );
    }
    let binary = contents
        .lines()
        .find(|l| l.ends_with("./usr/bin/faultd"))
        .unwrap();
    assert!(
        binary.starts_with("-rwxr-xr-x root/root"),
        "the binary is root's, 0755: {binary}"
    );
}

/// Removes the package whatever the test does, so a failure leaves no faultd installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "faultd"]).output();
    }
}

#[test]
fn the_package_installs_works_and_purges_without_a_trace() {
    let Some(deb) = dist("FAULTD_DIST_DEB", "the_package_installs") else {
        return;
    };
    if !is_root() {
        eprintln!("SKIPPED the_package_installs: dpkg -i needs root");
        return;
    }
    let out = Command::new("dpkg").arg("-i").arg(&deb).output().unwrap();
    let _installed = Installed;
    assert!(out.status.success(), "dpkg -i: {}", show(&out));

    let version = ok(Command::new("/usr/bin/faultd").arg("--version"));
    // The version, and the commit it was built from.
    let want = format!("faultd {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.trim().starts_with(&want), "{version}");
    for page in ["faultd", "faultd-run"] {
        let path = ok(Command::new("man").args(["-w", page]));
        assert_eq!(path.trim(), format!("/usr/share/man/man1/{page}.1.gz"));
    }
    let rendered = ok(Command::new("man")
        .args(["-P", "cat", "faultd-run"])
        .env("MANWIDTH", "80"));
    assert!(
        rendered.contains("--pin-path"),
        "man faultd-run:\n{rendered}"
    );
    // bash loads the completion and it completes faultd's commands.
    let words = ok(Command::new("bash").args([
        "-c",
        ". /usr/share/bash-completion/completions/faultd && complete -p faultd && \
         COMP_WORDS=(faultd re) COMP_CWORD=1 COMP_LINE='faultd re' COMP_POINT=9 && \
         _faultd faultd re faultd && printf '%s\\n' \"${COMPREPLY[@]}\"",
    ]));
    assert!(
        words.lines().any(|w| w == "replay"),
        "bash completes: {words}"
    );
    for f in [
        "/usr/share/zsh/vendor-completions/_faultd",
        "/usr/share/fish/vendor_completions.d/faultd.fish",
    ] {
        assert!(fs::read_to_string(f).unwrap().contains("replay"), "{f}");
    }
    assert_eq!(
        fs::read_to_string("/etc/faultd/faultd.toml").unwrap(),
        repo("contrib/systemd/faultd.toml")
    );
    // The installed binary takes the installed settings, as the unit will start it.
    let checked =
        ok(Command::new("/usr/bin/faultd").args(["check-config", "/etc/faultd/faultd.toml"]));
    assert!(checked.contains("iface = [\"eth0\"]"), "{checked}");
    let unit = "/lib/systemd/system/faultd.service";
    assert_eq!(
        fs::read_to_string(unit).unwrap(),
        repo("contrib/systemd/faultd.service")
    );
    let user = ok(Command::new("getent").args(["passwd", "faultd"]));
    assert!(
        user.trim_end().ends_with(":/nonexistent:/usr/sbin/nologin"),
        "a system user that cannot log in: {user}"
    );
    // Installed, the unit's binary and man pages exist, which verify also checks.
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = Command::new("systemd-analyze")
            .args(["verify", unit])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {unit}: {}",
            show(&out)
        );
    } else {
        eprintln!("SKIPPED systemd-analyze verify: no systemd-analyze (Debian systemd)");
    }

    let out = Command::new("dpkg")
        .args(["--purge", "faultd"])
        .output()
        .unwrap();
    assert!(out.status.success(), "dpkg --purge: {}", show(&out));
    for f in FILES {
        let path = &f[1..];
        assert!(!Path::new(path).exists(), "{path} left behind");
    }
    for d in ["/etc/faultd", "/usr/share/doc/faultd", "/var/log/faultd"] {
        assert!(!Path::new(d).exists(), "{d} left behind");
    }
    assert!(
        !Command::new("getent")
            .args(["passwd", "faultd"])
            .status()
            .unwrap()
            .success(),
        "the faultd user left behind"
    );
    assert!(
        !Command::new("getent")
            .args(["group", "faultd"])
            .status()
            .unwrap()
            .success(),
        "the faultd group left behind"
    );
    let status = Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Status}", "faultd"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.is_empty() || status == "not-installed",
        "dpkg still knows faultd: {status}"
    );
}

#[test]
fn the_static_binary_replays_in_an_empty_root_as_the_ordinary_build_does() {
    let Some(binary) = dist("FAULTD_DIST_BINARY", "the_static_binary_replays") else {
        return;
    };
    if !is_root() {
        eprintln!("SKIPPED the_static_binary_replays: chroot needs root");
        return;
    }
    let empty = std::env::temp_dir().join(format!("faultd-empty-root-{}", std::process::id()));
    let _ = fs::remove_dir_all(&empty);
    fs::create_dir(&empty).unwrap();
    struct Gone(PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(empty.clone());
    fs::copy(&binary, empty.join("faultd")).unwrap();
    fs::set_permissions(empty.join("faultd"), fs::Permissions::from_mode(0o755)).unwrap();
    let scenarios = fault_tests::scenario::all();
    let frames = fault_tests::scenario::merged(&scenarios, 1_700_000_000_000_000_000, 1);
    fault_tests::write_pcap(&empty.join("scenarios.pcap"), &frames).unwrap();
    let names: Vec<String> = fs::read_dir(&empty)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the root holds faultd and the capture only: {names:?}"
    );

    let jailed = ok(Command::new("chroot").arg(&empty).args([
        "/faultd",
        "replay",
        "/scenarios.pcap",
        "--format",
        "json",
    ]));
    let ordinary = ok(Command::new(FAULTD).args([
        "replay",
        empty.join("scenarios.pcap").to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert!(
        ordinary.lines().count() >= scenarios.iter().filter(|s| s.fault.is_some()).count(),
        "the scenarios give records:\n{ordinary}"
    );
    assert_eq!(jailed, ordinary, "the same records with no libc around");
}

/// podman with everything of its own (images, containers, state) under one directory that
/// drop removes, so a test neither sees nor leaves anything in the machine's storage.
///
/// runc, not Debian 12's default crun: crun 1.8 refuses to start anything on a host whose
/// cgroups are mixed v1 and v2 ("cgroups in hybrid mode not supported"), as here.
struct Podman {
    dir: PathBuf,
}

impl Podman {
    fn new(test: &str) -> Podman {
        for tool in ["podman", "runc"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .output()
                    .unwrap()
                    .status
                    .success(),
                "{tool} is not installed: cargo xtask test installs it (apt-get install podman runc)"
            );
        }
        let dir = std::env::temp_dir().join(format!("faultd-podman-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Podman { dir }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.dir.join("storage"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--runtime",
                "runc",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
            ]);
        c
    }

    /// `podman run` with the limits this process has: podman otherwise asks for higher
    /// ones than a root without CAP_SYS_RESOURCE (a container like this test's) may set.
    /// It lowers its own process limit to 32768 before starting the runtime.
    fn run(&self) -> Command {
        let limit = |resource| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes the struct passed.
            assert_eq!(unsafe { libc::getrlimit(resource, &mut l) }, 0);
            l.rlim_max
        };
        let nofile = limit(libc::RLIMIT_NOFILE);
        let nproc = limit(libc::RLIMIT_NPROC).min(32768);
        let mut c = self.cmd();
        c.args(["run", "--ulimit"])
            .arg(format!("nofile={nofile}:{nofile}"))
            .arg("--ulimit")
            .arg(format!("nproc={nproc}:{nproc}"));
        c
    }

    /// Builds contrib/kubernetes/Containerfile as its comment says, from the directory of
    /// the static binary, with no network (FROM scratch pulls nothing).
    fn build(&self, binary: &Path) -> String {
        let tag = format!("localhost/faultd-test:{}", std::process::id());
        let containerfile =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/kubernetes/Containerfile");
        ok(self
            .cmd()
            .args(["build", "--network", "none", "--quiet", "-f"])
            .arg(containerfile)
            .args(["-t", &tag])
            .arg(binary.parent().unwrap()));
        tag
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self
            .cmd()
            .args(["rm", "--all", "--force", "--time", "0"])
            .output();
        let _ = self.cmd().args(["rmi", "--all", "--force"]).output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_container_image_holds_the_static_binary_alone_and_replays_as_the_host_does() {
    let Some(binary) = dist("FAULTD_DIST_BINARY", "the_container_image") else {
        return;
    };
    if !is_root() {
        eprintln!("SKIPPED the_container_image: rootful podman needs root");
        return;
    }
    let podman = Podman::new("image");
    let image = podman.build(&binary);

    // What the image says: the Containerfile's entry point, command and port, one layer.
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(podman.cmd().args(["image", "inspect", &image]))).unwrap();
    let config = &inspect[0]["Config"];
    let containerfile = repo("contrib/kubernetes/Containerfile");
    let json_of = |keyword: &str| -> serde_json::Value {
        let line = containerfile
            .lines()
            .find_map(|l| l.strip_prefix(keyword))
            .unwrap_or_else(|| panic!("no {keyword} in the Containerfile"));
        serde_json::from_str(line).unwrap()
    };
    assert_eq!(config["Entrypoint"], json_of("ENTRYPOINT "));
    assert_eq!(config["Cmd"], json_of("CMD "));
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"10137/tcp": {}}),
        "{config}"
    );
    assert_eq!(
        inspect[0]["RootFS"]["Layers"].as_array().unwrap().len(),
        1,
        "one layer, the COPY: {inspect}"
    );

    // What the image holds, as `podman save` writes it: the binary dist built, and nothing else.
    let saved = podman.dir.join("image.tar");
    ok(podman
        .cmd()
        .args(["image", "save", "--format", "docker-archive", "-o"])
        .arg(&saved)
        .arg(&image));
    let manifest: serde_json::Value = serde_json::from_str(&ok(Command::new("tar")
        .arg("-xOf")
        .arg(&saved)
        .arg("manifest.json")))
    .unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    let layer = podman.dir.join("layer.tar");
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(&saved)
        .arg(layers[0].as_str().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    fs::write(&layer, &out.stdout).unwrap();
    let listing = ok(Command::new("tar").arg("-tvf").arg(&layer));
    let files: Vec<&str> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| l.rsplit(' ').next().unwrap().trim_start_matches("./"))
        .collect();
    assert_eq!(files, ["faultd"], "the layer:\n{listing}");
    let inside = Command::new("tar")
        .arg("-xOf")
        .arg(&layer)
        .arg(
            listing
                .lines()
                .find(|l| l.ends_with("faultd"))
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap(),
        )
        .output()
        .unwrap();
    assert!(
        inside.stdout == fs::read(&binary).unwrap(),
        "the image's /faultd is the static binary dist built"
    );

    // Run: the version names the revision this test was built from, as the host's faultd does.
    let version = ok(podman.run().args([
        "--rm",
        "--network",
        "none",
        "--read-only",
        &image,
        "--version",
    ]));
    let ordinary = ok(Command::new(FAULTD).arg("--version"));
    assert_eq!(version, ordinary, "the image's faultd --version");
    let revision = ordinary
        .trim()
        .rsplit_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no revision in {ordinary}"));
    assert!(
        revision.len() == 12 && revision.bytes().all(|b| b.is_ascii_hexdigit()),
        "a commit: {ordinary}"
    );

    // A capture mounted in replays to the records the host's build gives.
    let captures = podman.dir.join("captures");
    fs::create_dir(&captures).unwrap();
    let scenarios = fault_tests::scenario::all();
    let frames = fault_tests::scenario::merged(&scenarios, 1_700_000_000_000_000_000, 1);
    fault_tests::write_pcap(&captures.join("scenarios.pcap"), &frames).unwrap();
    let mount = format!("{}:/captures:ro", captures.display());
    let contained = ok(podman.run().args([
        "--rm",
        "--network",
        "none",
        "--read-only",
        "-v",
        &mount,
        &image,
        "replay",
        "/captures/scenarios.pcap",
        "--format",
        "json",
    ]));
    let host = ok(Command::new(FAULTD).args([
        "replay",
        captures.join("scenarios.pcap").to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert!(
        host.lines().count() >= scenarios.iter().filter(|s| s.fault.is_some()).count(),
        "the scenarios give records:\n{host}"
    );
    assert_eq!(contained, host, "the same records in the container");
}

/// The container's settings in daemonset.yaml, read as a kubelet would apply them here.
struct DaemonSetContainer {
    args: Vec<String>,
    drop: Vec<String>,
    add: Vec<String>,
    read_only_root: bool,
    no_privilege_escalation: bool,
    bpf_mount: String,
}

fn daemonset_container() -> DaemonSetContainer {
    let manifest = repo("contrib/kubernetes/daemonset.yaml");
    let lines: Vec<&str> = manifest
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let start = lines.iter().position(|l| *l == "args:").expect("args:");
    let args = lines[start + 1..]
        .iter()
        .map_while(|l| l.strip_prefix("- "))
        .map(str::to_owned)
        .collect();
    let list = |key: &str| -> Vec<String> {
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in the DaemonSet"));
        line.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let value = |key: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key} in the DaemonSet"))
            .to_owned()
    };
    let mounts = lines
        .iter()
        .position(|l| *l == "volumeMounts:")
        .expect("volumeMounts:");
    DaemonSetContainer {
        args,
        drop: list("drop:"),
        add: list("add:"),
        read_only_root: value("readOnlyRootFilesystem:") == "true",
        no_privilege_escalation: value("allowPrivilegeEscalation:") == "false",
        bpf_mount: lines[mounts + 1..]
            .iter()
            .find_map(|l| l.strip_prefix("mountPath:"))
            .unwrap()
            .trim()
            .to_owned(),
    }
}

/// The host's podman seccomp profile with bpf allowed under CAP_BPF and perf_event_open
/// under CAP_PERFMON, as the default profiles of Docker 23+ and containerd 1.7+ (what a
/// cluster's RuntimeDefault is) allow them. Debian 12's podman allows both only with
/// CAP_SYS_ADMIN, and faultd, with exactly the DaemonSet's capabilities, is refused.
/// Also says whether the host's profile, as it is, refuses bpf() to faultd.
fn seccomp_profile(dir: &Path) -> (PathBuf, bool) {
    let default = "/usr/share/containers/seccomp.json";
    let mut profile: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(default).unwrap_or_else(|e| panic!("{default}: {e}")),
    )
    .unwrap();
    let rules = profile["syscalls"].as_array_mut().unwrap();
    let allowed_with = |rules: &[serde_json::Value], cap: &str| {
        rules.iter().any(|r| {
            r["action"] == "SCMP_ACT_ALLOW"
                && r["names"]
                    .as_array()
                    .is_some_and(|n| n.contains(&"bpf".into()))
                && r["includes"]["caps"]
                    .as_array()
                    .is_some_and(|c| c == &[serde_json::Value::from(cap)])
        })
    };
    let refuses = allowed_with(rules, "CAP_SYS_ADMIN") && !allowed_with(rules, "CAP_BPF");
    for rule in rules.iter_mut() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "bpf" && n != "perf_event_open");
        }
    }
    rules.retain(|r| !r["names"].as_array().is_some_and(|n| n.is_empty()));
    for (syscalls, cap) in [
        (serde_json::json!(["bpf"]), "CAP_BPF"),
        (serde_json::json!(["perf_event_open"]), "CAP_PERFMON"),
        (
            serde_json::json!(["bpf", "perf_event_open"]),
            "CAP_SYS_ADMIN",
        ),
    ] {
        rules.push(serde_json::json!({
            "names": syscalls, "action": "SCMP_ACT_ALLOW", "includes": {"caps": [cap]}
        }));
    }
    let path = dir.join("seccomp.json");
    fs::write(&path, profile.to_string()).unwrap();
    (path, refuses)
}

#[test]
fn the_container_runs_faultd_with_the_daemonsets_capabilities_and_counts_frames() {
    use fault_tests::netns::{Netns, Veth, http_get, wait_for};
    use std::time::Duration;

    let Some(binary) = dist("FAULTD_DIST_BINARY", "the_container_runs") else {
        return;
    };
    if !is_root() {
        eprintln!("SKIPPED the_container_runs: rootful podman needs root");
        return;
    }
    let podman = Podman::new("run");
    let image = podman.build(&binary);
    let pod = daemonset_container();
    assert_eq!(pod.drop, ["ALL"]);
    assert_eq!(pod.add, ["BPF", "NET_ADMIN", "PERFMON"]);
    assert!(pod.read_only_root && pod.no_privilege_escalation);

    // The node's network is a namespace of the test's: faultd watches one end of a veth,
    // the test sends on the other.
    let node = Netns::new("ctr").unwrap();
    let wire = Netns::new("ctrw").unwrap();
    let veth = Veth::new(&node, &wire, 1500).unwrap();
    let bpffs = Bpffs::new(podman.dir.join("bpffs"));
    let args: Vec<String> = pod
        .args
        .iter()
        .map(|a| a.replace("$(FAULTD_IFACE)", &veth.a))
        .collect();
    // As the kubelet would start it, under the given seccomp profile (the runtime's default
    // without one).
    let pod_run = |seccomp: Option<&Path>| {
        let mut run = podman.run();
        run.arg("--network")
            .arg(format!("ns:{}", node.path().display()))
            .args(pod.drop.iter().flat_map(|c| ["--cap-drop", c]))
            .args(pod.add.iter().flat_map(|c| ["--cap-add", c]))
            .args(["--read-only", "--security-opt", "no-new-privileges"])
            .arg("-v")
            .arg(format!("{}:{}", bpffs.0.display(), pod.bpf_mount));
        if let Some(profile) = seccomp {
            run.arg("--security-opt")
                .arg(format!("seccomp={}", profile.display()));
        }
        run
    };
    let (profile, default_refuses_bpf) = seccomp_profile(&podman.dir);
    if default_refuses_bpf {
        // This podman's own profile allows bpf() only with CAP_SYS_ADMIN: faultd, with the
        // capabilities, exits 2 and says a seccomp filter is the likely refuser.
        let out = pod_run(None)
            .arg("--rm")
            .arg(&image)
            .args(&args)
            .output()
            .unwrap();
        let text = show(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(
            text.contains("permission denied loading the XDP program")
                && text.contains("seccomp filter is active"),
            "{text}"
        );
    }
    let mut run = pod_run(Some(&profile));
    run.args(["--detach", "--name"])
        .arg(format!("faultd-test-{}", std::process::id()))
        .arg(&image)
        .args(&args);
    let id = ok(&mut run).trim().to_owned();
    let logs = || {
        let out = podman.cmd().args(["logs", &id]).output().unwrap();
        show(&out)
    };

    let metrics_addr = "127.0.0.1:10137".parse().unwrap();
    let healthy = wait_for(Duration::from_secs(20), || {
        http_get(Some(&node), metrics_addr, "/healthz", None)
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(
        healthy.is_some(),
        "/healthz never answered 200:\n{}",
        logs()
    );

    // Exactly the DaemonSet's capabilities, as root, no way to gain more.
    let pid = ok(podman
        .cmd()
        .args(["inspect", "--format", "{{.State.Pid}}", &id]))
    .trim()
    .to_owned();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(status_field(&status, "Name"), "faultd");
    for field in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&status, field),
            THREE_CAPS,
            "{field}:\n{status}"
        );
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(status_field(&status, "Seccomp"), "2", "the profile applies");
    assert!(status_field(&status, "Uid").starts_with("0\t"), "{status}");
    assert!(
        fault_tests::daemon::has_xdp(&node, &veth.a),
        "attached to {}",
        veth.a
    );

    // Frames sent to the node's interface are counted.
    catalogue_counted_and_ticking(&node, &wire, &veth.b, metrics_addr);
    let pins = fs::read_dir(bpffs.0.join("faultd")).map(|d| d.count());
    assert!(
        pins.as_ref().is_ok_and(|n| *n > 0),
        "pins under the DaemonSet's --pin-path: {pins:?}"
    );

    // `kubectl delete pod` is a SIGTERM: faultd exits 0 and takes its program off the link.
    ok(podman.cmd().args(["stop", "--time", "10", &id]));
    let code = ok(podman
        .cmd()
        .args(["inspect", "--format", "{{.State.ExitCode}}", &id]));
    assert_eq!(code.trim(), "0", "exit status after SIGTERM:\n{}", logs());
    assert!(
        !fault_tests::daemon::has_xdp(&node, &veth.a),
        "still attached after stop"
    );
}
