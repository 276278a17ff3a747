use std::{env, fs, path::PathBuf, process::Command};

/// Builds the XDP program with nightly + bpf-linker (`cargo xtask setup` installs both) and
/// leaves it in OUT_DIR for `include_bytes_aligned!`. With AYA_BUILD_SKIP=1 (cargo check,
/// clippy, machines without the toolchain) an empty object is left instead, and loading it
/// fails with a message that says so.
fn main() -> anyhow::Result<()> {
    git_revision();
    let out = PathBuf::from(env::var("OUT_DIR")?).join("fault-ebpf");
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        fs::write(&out, [])?;
    }
    let root_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fault-ebpf");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "fault-ebpf",
            root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}

/// The commit faultd is built from, for `faultd_build_info{revision}` and `--version`:
/// "unknown" outside a git checkout (a source tarball). Rebuilt when HEAD moves, which
/// costs the XDP program an up-to-date check.
fn git_revision() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
    };
    let revision = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FAULTD_GIT_REVISION={revision}");
    for file in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", file]) {
            println!("cargo:rerun-if-changed={}", abs(&p).display());
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &r])
    {
        println!("cargo:rerun-if-changed={}", abs(&p).display());
    }
}

/// git's paths are relative to the directory it ran in.
fn abs(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}
