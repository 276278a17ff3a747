//! `cargo xtask dist`: one static faultd (x86_64 musl, the XDP object embedded) in
//! target/dist/faultd, and a Debian package of it in target/dist/faultd_VERSION_amd64.deb,
//! staged by hand and built with `dpkg-deb --build` (no cargo-deb: the tree is small and
//! this way every file and mode in it is written here, in one place).

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context as _, bail, ensure};

use crate::{apt_install, cargo, output, root, run, setup};

pub const TARGET: &str = "x86_64-unknown-linux-musl";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `dist` made.
pub struct Dist {
    pub binary: PathBuf,
    pub deb: PathBuf,
}

pub fn run_dist() -> anyhow::Result<Dist> {
    setup()?;
    musl_toolchain()?;
    let started = Instant::now();
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "fault-user",
        "--bin",
        "faultd",
        "--target",
        TARGET,
    ]))?;
    let built = root().join("target").join(TARGET).join("release/faultd");
    let dir = root().join("target/dist");
    fs::create_dir_all(&dir)?;
    let binary = dir.join("faultd");
    fs::copy(&built, &binary).with_context(|| format!("copying {}", built.display()))?;
    // Symbols only: a sixth of the size. Stripped here rather than by the release profile,
    // which the other release builds share.
    run(Command::new("strip").arg(&binary))?;
    // The point of this build is a binary that runs without the host's libc: refuse to
    // ship one that asks for a dynamic loader.
    if let Some(interp) = elf_interpreter(&binary)? {
        bail!(
            "{} is dynamically linked (interpreter {interp}): not what dist ships",
            binary.display()
        );
    }
    let built_in = started.elapsed();
    let deb = package(&binary, &dir)?;
    println!(
        "xtask dist: {} ({:.1} MiB, static, built in {:.0?})\nxtask dist: {}",
        binary.display(),
        fs::metadata(&binary)?.len() as f64 / 1_048_576.0,
        built_in,
        deb.display()
    );
    Ok(Dist { binary, deb })
}

/// The musl standard library for the toolchain cargo uses here, and a C compiler for musl
/// (ring, under rustls, compiles C).
fn musl_toolchain() -> anyhow::Result<()> {
    let installed =
        output(
            Command::new("rustup")
                .current_dir(root())
                .args(["target", "list", "--installed"]),
        )?;
    if !installed.lines().any(|l| l.trim() == TARGET) {
        eprintln!("xtask: installing the Rust target {TARGET}");
        run(Command::new("rustup")
            .current_dir(root())
            .args(["target", "add", TARGET]))?;
    }
    apt_install("musl-gcc", "musl-tools")?;
    apt_install("strip", "binutils")
}

/// PT_INTERP of an ELF64 little-endian file: the dynamic loader it asks for, if any.
fn elf_interpreter(path: &Path) -> anyhow::Result<Option<String>> {
    let elf = fs::read(path)?;
    ensure!(
        elf.len() >= 64 && elf.starts_with(b"\x7fELF\x02\x01"),
        "{} is not a 64-bit little-endian ELF file",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().expect("8 bytes")) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        ensure!(
            ph + 0x30 <= elf.len(),
            "{}: program header past the end",
            path.display()
        );
        const PT_INTERP: u32 = 3;
        if u32::from_le_bytes(elf[ph..ph + 4].try_into().expect("4 bytes")) == PT_INTERP {
            let (off, size) = (u64_at(ph + 0x08), u64_at(ph + 0x20));
            let name = elf.get(off..off + size).unwrap_or_default();
            return Ok(Some(
                String::from_utf8_lossy(name)
                    .trim_end_matches('\0')
                    .to_owned(),
            ));
        }
    }
    Ok(None)
}

/// Stages the package tree under target/dist/deb and builds the .deb from it.
fn package(binary: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let name = format!("faultd_{VERSION}_amd64");
    let stage = dir.join("deb").join(&name);
    // Rebuilt from nothing each time: a file dropped from the package must not linger.
    if stage.exists() {
        fs::remove_dir_all(&stage)?;
    }
    let repo = root();
    let put = |from: &Path, to: &str, mode: u32| -> anyhow::Result<()> {
        let dest = stage.join(to.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().expect("a file in a directory"))?;
        fs::copy(from, &dest).with_context(|| format!("copying {}", from.display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(mode))?;
        Ok(())
    };
    put(binary, "/usr/bin/faultd", 0o755)?;
    put(
        &repo.join("contrib/systemd/faultd.service"),
        "/lib/systemd/system/faultd.service",
        0o644,
    )?;
    put(
        &repo.join("contrib/systemd/faultd.toml"),
        "/etc/faultd/faultd.toml",
        0o644,
    )?;
    put(
        &repo.join("contrib/logrotate/faultd"),
        "/etc/logrotate.d/faultd",
        0o644,
    )?;
    let doc = "/usr/share/doc/faultd";
    for (from, to) in [
        ("contrib/prometheus/faultd-rules.yml", "faultd-rules.yml"),
        (
            "contrib/prometheus/faultd-rules.test.yml",
            "faultd-rules.test.yml",
        ),
        ("docs/runbooks.md", "runbooks.md"),
        ("docs/fault-record.schema.json", "fault-record.schema.json"),
        (
            "contrib/grafana/faultd-dashboard.json",
            "faultd-dashboard.json",
        ),
        ("docs/faults.md", "faults.md"),
        ("README.md", "README.md"),
    ] {
        put(&repo.join(from), &format!("{doc}/{to}"), 0o644)?;
    }
    let copyright = stage.join(&doc[1..]).join("copyright");
    fs::write(
        &copyright,
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: faultd\n\n\
         Files: *\nLicense: MIT or Apache-2.0\n",
    )?;
    fs::set_permissions(&copyright, fs::Permissions::from_mode(0o644))?;

    // Man pages and completions come from faultd's own clap definitions (hidden commands),
    // so --help, the man pages and the completions cannot disagree.
    let man = stage.join("usr/share/man/man1");
    fs::create_dir_all(&man)?;
    run(Command::new(binary).arg("man").arg(&man))?;
    for page in fs::read_dir(&man)? {
        let page = page?.path();
        fs::set_permissions(&page, fs::Permissions::from_mode(0o644))?;
        // -n: no name or time in the header, so an unchanged page packs the same.
        run(Command::new("gzip").args(["-9nf"]).arg(&page))?;
    }
    for (shell, to) in [
        ("bash", "/usr/share/bash-completion/completions/faultd"),
        ("zsh", "/usr/share/zsh/vendor-completions/_faultd"),
        ("fish", "/usr/share/fish/vendor_completions.d/faultd.fish"),
    ] {
        let script = output(Command::new(binary).args(["completions", shell]))?;
        let dest = stage.join(&to[1..]);
        fs::create_dir_all(dest.parent().expect("a file in a directory"))?;
        fs::write(&dest, script)?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o644))?;
    }

    let debian = stage.join("DEBIAN");
    fs::create_dir_all(&debian)?;
    for script in ["postinst", "prerm", "postrm"] {
        put(
            &repo.join("contrib/debian").join(script),
            &format!("/DEBIAN/{script}"),
            0o755,
        )?;
    }
    fs::write(
        debian.join("conffiles"),
        "/etc/faultd/faultd.toml\n/etc/logrotate.d/faultd\n",
    )?;
    let kib = du_kib(&stage)?;
    fs::write(
        debian.join("control"),
        format!(
            "Package: faultd\n\
             Version: {VERSION}\n\
             Architecture: amd64\n\
             Maintainer: faultd developers <faultd@example.invalid>\n\
             Installed-Size: {kib}\n\
             Section: net\n\
             Priority: optional\n\
             Homepage: https://example.invalid/faultd\n\
             Description: network fault detector for NetBIOS, IPX/NCP, PPTP and SMS (eBPF/XDP)\n \
             faultd watches interfaces with an XDP program that never drops or changes\n \
             traffic, finds the faults of old LANs (WINS backup swaps, NCP on the wrong\n \
             socket, NetBIOS-by-IP failures, SMS port conflicts, leaked RAS ports) and\n \
             serves Prometheus metrics. One static binary; a systemd unit that runs it\n \
             as its own user with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON. Linux 5.18+.\n"
        ),
    )?;
    // Everything in the tree 0755/0644 whatever the umask; dpkg-deb checks DEBIAN's.
    for d in walk_dirs(&stage)? {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
    }
    let deb = dir.join(format!("{name}.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&stage)
        .arg(&deb)
        .stdout(std::process::Stdio::null()))?;
    Ok(deb)
}

fn walk_dirs(d: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = vec![d.to_owned()];
    for e in fs::read_dir(d)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            out.extend(walk_dirs(&e.path())?);
        }
    }
    Ok(out)
}

/// Installed-Size: the files' sizes in KiB, DEBIAN left out, as dpkg-gencontrol counts.
fn du_kib(stage: &Path) -> anyhow::Result<u64> {
    fn walk(d: &Path, skip: &Path) -> anyhow::Result<u64> {
        let mut bytes = 0;
        for e in fs::read_dir(d)? {
            let p = e?.path();
            if p == skip {
                continue;
            }
            let md = fs::symlink_metadata(&p)?;
            bytes += if md.is_dir() {
                walk(&p, skip)?
            } else {
                md.len().div_ceil(1024) * 1024
            };
        }
        Ok(bytes)
    }
    Ok(walk(stage, &stage.join("DEBIAN"))?.div_ceil(1024))
}
