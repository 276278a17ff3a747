use std::{env, fs, path::PathBuf};

/// Builds the XDP program with nightly + bpf-linker (`cargo xtask setup` installs both) and
/// leaves it in OUT_DIR for `include_bytes_aligned!`. With AYA_BUILD_SKIP=1 (cargo check,
/// clippy, machines without the toolchain) an empty object is left instead, and loading it
/// fails with a message that says so.
fn main() -> anyhow::Result<()> {
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
