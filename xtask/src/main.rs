//! Developer tasks. `cargo xtask demo` and `cargo xtask test` are the README's two commands;
//! both set up what they need first (idempotently, in well under two seconds when it is
//! already there).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicBool, Ordering},
};

mod demo;
mod dist;
mod fuzz;
mod live_bench;
mod replay_bench;

use anyhow::{Context as _, bail, ensure};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "faultd developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install nightly rust-src and bpf-linker (built against nightly's LLVM) if missing.
    Setup,
    /// Set up, install tshark if missing, and run every test of the workspace.
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Build faultd as one static binary (x86_64 musl, the XDP program embedded) in
    /// target/dist/faultd, and a Debian package of it (binary, systemd unit, config file,
    /// man pages, completions, alert rules and runbooks) in target/dist.
    Dist,
    /// Build faultd, start it on a veth in a fresh network namespace, send it every class
    /// from the peer namespace, and show its metrics; everything is removed afterwards.
    Demo,
    /// ns per frame for every class (the frame builder's samples) next to an empty XDP
    /// program measured in the same run: a table, and JSON in target/bench.json; then the
    /// detectors' flood benchmark (`cargo bench -p fault-user --bench detectors`).
    Bench {
        /// Runs per frame and program.
        #[arg(long, default_value_t = 50_000)]
        repeat: u32,
        /// Another build's XDP object to measure in the same rounds (see `faultd bench`).
        #[arg(long, value_name = "OBJECT")]
        against: Option<PathBuf>,
        /// Instead: faultd live on a veth in fresh namespaces (root): frames/s with and
        /// without it, and the highest event rate it takes without a drop while scraped;
        /// JSON in target/bench-live.json.
        #[arg(long, conflicts_with_all = ["repeat", "against"])]
        live: bool,
        /// Instead: `faultd replay` of a 1.5 M-frame capture (plain, rotated files, zstd,
        /// standard input) next to tcpdump and tshark on the same file: frames/s and peak
        /// memory; JSON in target/bench-replay.json.
        #[arg(long, conflicts_with_all = ["repeat", "against", "live"])]
        replay: bool,
    },
    /// Fuzz each parser entry point (the frame parser, the ring-record decoder, the capture
    /// reader) with cargo-fuzz, installed if missing, seeded from the frame builder's
    /// catalogue; prints executions and findings per target (inputs in fuzz/artifacts).
    Fuzz {
        /// How long each target runs.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Only this target (frame, event or capture).
        #[arg(long, value_name = "T")]
        target: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Setup => setup(),
        Task::Test { args } => {
            setup()?;
            apt_install("tshark", "tshark")?;
            // The live tests start a real Prometheus and run promtool.
            apt_install("promtool", "prometheus")?;
            // ...and send their alerts to a real Alertmanager; a real browser reads the page.
            apt_install("prometheus-alertmanager", "prometheus-alertmanager")?;
            apt_install("chromium", "chromium")?;
            // Replay's tests have their compressed captures written by the real tools.
            apt_install("zstd", "zstd")?;
            // The Kubernetes manifests are checked against Kubernetes' own schemas.
            python_tool("kubernetes-validate", "kubernetes-validate==1.37.0")?;
            // An independent judge of the records against their published JSON Schema.
            apt_install_unless(
                "python3 -c 'import jsonschema' || /usr/bin/python3 -c 'import jsonschema'",
                "python3-jsonschema",
            )?;
            // The service's tests: systemd-analyze verifies the unit, man finds the page.
            apt_install("systemd-analyze", "systemd")?;
            apt_install("man", "man-db")?;
            // The container image is built and run for real (runc: Debian 12's crun refuses
            // hosts with mixed cgroup v1/v2), and the unit runs under systemd as PID 1 in a
            // container systemd-nspawn boots.
            apt_install("podman", "podman")?;
            apt_install("runc", "runc")?;
            apt_install("systemd-nspawn", "systemd-container")?;
            // The package tests read target/dist: built here, before the tests, as cargo
            // holds the build directory while its own build runs (an unchanged tree costs
            // a few seconds).
            let dist = dist::run_dist()?;
            let mut cmd = cargo();
            cmd.args(["test", "--workspace"])
                .env("FAULTD_DIST_BINARY", &dist.binary)
                .env("FAULTD_DIST_DEB", &dist.deb)
                .args(args);
            run(&mut cmd)
        }
        Task::Dist => dist::run_dist().map(drop),
        Task::Demo => demo::run(),
        Task::Bench { live: true, .. } => live_bench::run(),
        Task::Bench { replay: true, .. } => replay_bench::run(),
        Task::Bench {
            repeat, against, ..
        } => bench(repeat, against),
        Task::Fuzz { seconds, target } => {
            setup()?;
            fuzz::run_all(seconds, target.as_deref())
        }
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C and SIGTERM no longer end the task at once: it notices at its next [`check`].
pub(crate) fn catch_interrupts() {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// Ctrl-C reaches faultd too (same process group), which detaches itself; the task notices
/// at its next step and unwinds, so the namespaces, veth and pins are removed by their
/// drops.
pub(crate) fn check() -> anyhow::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: removed what the task created");
    }
    Ok(())
}

/// `faultd detach` of a task's own pin path on the way out, however it ends.
pub(crate) struct Pins<'a> {
    faultd: &'a Path,
    pub path: PathBuf,
}

impl<'a> Pins<'a> {
    pub fn new(faultd: &'a Path, task: &str) -> Self {
        let path = format!("/sys/fs/bpf/faultd-{task}-{}", std::process::id());
        Pins {
            faultd,
            path: path.into(),
        }
    }
}

impl Drop for Pins<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.faultd)
            .arg("detach")
            .arg("--pin-path")
            .arg(&self.path)
            .output();
    }
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed: {status}");
    Ok(())
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The eBPF toolchain, as shared/docs/TOOLCHAIN.md prescribes: nightly's rust-src, and a
/// bpf-linker built against the very LLVM nightly rustc uses (the crates.io default and
/// Debian's LLVM do not work).
pub(crate) fn setup() -> anyhow::Result<()> {
    let installed = output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        "nightly",
    ]))
    .context("rustup with a nightly toolchain is required")?;
    if !installed.lines().any(|l| l.starts_with("rust-src")) {
        eprintln!("xtask: installing nightly rust-src");
        run(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
    }
    let version = output(Command::new("rustc").args(["+nightly", "-vV"]))?;
    let llvm_major = version
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .context("rustc +nightly -vV printed no LLVM version")?
        .to_string();
    let linker_ok = Command::new("bpf-linker")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && marker_matches(&llvm_major);
    if !linker_ok {
        eprintln!(
            "xtask: building bpf-linker against nightly's LLVM {llvm_major} (about a minute)"
        );
        let sysroot = output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?;
        let lib = Path::new(sysroot.trim()).join("lib");
        let so = std::fs::read_dir(&lib)?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("libLLVM.so."))
            .with_context(|| format!("no libLLVM.so.* in {}", lib.display()))?;
        let link = lib.join("libLLVM.so");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&so, &link)?;
        run(Command::new("cargo")
            .env("LLVM_PREFIX", sysroot.trim())
            .args([
                "install",
                "bpf-linker",
                "--force",
                "--no-default-features",
                "--features",
            ])
            .arg(format!("llvm-{llvm_major}")))?;
        std::fs::write(marker(), &llvm_major)?;
    }
    Ok(())
}

/// Remembers which LLVM the installed bpf-linker was built for; a linker without the
/// marker was installed by hand and is trusted until the nightly's LLVM changes.
fn marker() -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bpf-linker.llvm")
}

fn marker_matches(llvm_major: &str) -> bool {
    std::fs::read_to_string(marker()).map_or(true, |m| m.trim() == llvm_major)
}

/// Installs a Debian package when `probe` is not on PATH.
/// The virtual environment of the Python tools the tests use (PyPI packages Debian does
/// not have), under target/ so a clean clone starts without it.
pub(crate) fn tools_venv() -> PathBuf {
    root().join("target/tools-venv")
}

/// Installs `package` from PyPI into [`tools_venv`] unless its command `bin` is there.
fn python_tool(bin: &str, package: &str) -> anyhow::Result<()> {
    let venv = tools_venv();
    if venv.join("bin").join(bin).exists() {
        return Ok(());
    }
    if !venv.join("bin/pip").exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            // Debian's python3 has no venv module without this package.
            let _ = std::fs::remove_dir_all(&venv);
            apt_get_install("python3-venv")?;
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
    }
    eprintln!(
        "xtask: installing {package} from PyPI into {}",
        venv.display()
    );
    run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", package]))
}

pub(crate) fn apt_install(probe: &str, package: &str) -> anyhow::Result<()> {
    apt_install_unless(&format!("command -v {probe}"), package)
}

/// Installs a Debian package unless the shell command `check` succeeds (for what a command
/// on PATH cannot tell, such as a Python module).
fn apt_install_unless(check: &str, package: &str) -> anyhow::Result<()> {
    if Command::new("sh")
        .args(["-c", check])
        .output()?
        .status
        .success()
    {
        return Ok(());
    }
    apt_get_install(package)
}

fn apt_get_install(package: &str) -> anyhow::Result<()> {
    eprintln!("xtask: installing the Debian package {package}");
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-qq", package]))
}

/// Builds faultd and writes one frame per catalogue sample (every class, and some
/// unwatched traffic), a millisecond apart, to a capture in target/demo.
pub(crate) fn build_and_write_capture() -> anyhow::Result<(PathBuf, PathBuf, usize)> {
    setup()?;
    run(cargo().args(["build", "--quiet", "--package", "fault-user"]))?;
    let faultd = root().join("target/debug/faultd");
    let dir = root().join("target/demo");
    std::fs::create_dir_all(&dir)?;
    let pcap = dir.join("every-class.pcap");
    let start = 1_700_000_000_000_000_000u64;
    let frames: Vec<(u64, Vec<u8>)> = fault_tests::catalogue()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (start + i as u64 * 1_000_000, s.frame))
        .collect();
    fault_tests::write_pcap(&pcap, &frames)?;
    Ok((faultd, pcap, frames.len()))
}

fn bench(repeat: u32, against: Option<PathBuf>) -> anyhow::Result<()> {
    let (faultd, pcap, _) = build_and_write_capture()?;
    // The same samples as a monitoring host receives them from a virtual switch: the
    // tunnel path's cost, class by class, next to the bare one.
    let tunnelled = root().join("target/demo/every-class-vxlan.pcap");
    let vxlan = fault_tests::tunnel::Tunnel::Vxlan {
        outer_v6: false,
        vni: 42,
    };
    let frames: Vec<(u64, Vec<u8>)> = fault_tests::catalogue()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let ts = 1_700_000_000_000_000_000 + i as u64 * 1_000_000;
            (ts, fault_tests::tunnel::wrap(vxlan, &s.frame))
        })
        .collect();
    fault_tests::write_pcap(&tunnelled, &frames)?;
    for (pcap, json) in [(&pcap, "bench.json"), (&tunnelled, "bench-vxlan.json")] {
        println!("\n== faultd bench {}\n", pcap.display());
        let out = root().join("target").join(json);
        let mut cmd = Command::new(&faultd);
        cmd.arg("bench")
            .arg(pcap)
            .args(["--repeat", &repeat.to_string(), "--json-out"])
            .arg(&out);
        if let Some(a) = &against {
            cmd.arg("--against").arg(a);
        }
        run(&mut cmd)?;
        println!("JSON: {}", out.display());
    }
    println!("\n== cargo bench -p fault-user --bench detectors\n");
    run(cargo().args([
        "bench",
        "--quiet",
        "-p",
        "fault-user",
        "--bench",
        "detectors",
    ]))
}

/// Without root there are no namespaces or XDP: the same frames, offline, through the
/// userspace copy of the parser.
pub(crate) fn offline_demo(faultd: &Path, pcap: &Path, n_frames: usize) -> anyhow::Result<()> {
    let engine = "user";
    println!(
        "== {} frames written by the frame builder to {}",
        n_frames,
        pcap.display()
    );
    println!(
        "== faultd classify (engine: {engine}; the kernel engine runs the XDP program itself)\n"
    );
    let pcap_arg = pcap.to_str().context("non-UTF-8 path")?;
    run(Command::new(faultd).args(["classify", pcap_arg, "--format", "text", "--engine", engine]))?;
    println!("\n== faultd replay: the events the XDP program hands to the detectors (first 25)\n");
    let events = output(Command::new(faultd).args([
        "replay", pcap_arg, "--events", "--format", "text", "--engine", engine,
    ]))?;
    for line in events.lines().take(25) {
        println!("{line}");
    }
    let n = events.lines().count();
    if n == 0 {
        bail!("the demo capture produced no events");
    }
    println!(
        "... {n} events in all (faultd replay {pcap_arg} --events --format json for the full records)"
    );

    let scenarios = fault_tests::scenario::all();
    let path = pcap.with_file_name("fault-scenarios.pcap");
    fault_tests::write_pcap(
        &path,
        &fault_tests::scenario::merged(&scenarios, 1_700_000_000_000_000_000, 1),
    )?;
    let path_arg = path.to_str().context("non-UTF-8 path")?;
    println!(
        "\n== {} fault scenarios (NetBIOS, NetWare, SMS, RAS) and benign look-alikes, written to {path_arg}\n== faultd replay {path_arg} --format text\n",
        scenarios.len()
    );
    let records = output(
        Command::new(faultd).args(["replay", path_arg, "--format", "text", "--engine", engine]),
    )?;
    print!("{records}");
    // Every fault the scenarios stage is found (a scenario can give more than one record).
    for fault in scenarios.iter().filter_map(|s| s.fault) {
        if !records.lines().any(|l| l.contains(&format!(" {fault} "))) {
            bail!("no {fault} record from the scenarios");
        }
    }
    Ok(())
}
