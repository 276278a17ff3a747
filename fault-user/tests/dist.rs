//! What `cargo xtask dist` ships, checked as an operator would: the package's files and
//! control data, a real `dpkg -i` (faultd --version, man, completions, the unit verified by
//! systemd-analyze) and `dpkg --purge` leaving nothing behind, and the static binary
//! replaying a capture inside an empty root directory (no /lib, no libc) with the same
//! records as the ordinary build. `cargo xtask test` builds the package first and names it
//! in FAULTD_DIST_BINARY and FAULTD_DIST_DEB; without them these tests skip loudly.

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use fault_tests::netns::is_root;

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

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn repo(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
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
