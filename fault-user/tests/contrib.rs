//! What an operator deploys beside faultd, checked by the tools that will read it: the
//! Kubernetes manifest against Kubernetes' own schema (kubernetes-validate, strict: an
//! unknown field fails), the scrape configuration and rules by promtool, and the
//! container's command line by faultd itself.

use std::{path::PathBuf, process::Command};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// The validator `cargo xtask test` installs into target/tools-venv.
fn kubernetes_validate() -> Option<PathBuf> {
    let bin = repo("target/tools-venv/bin/kubernetes-validate");
    if !bin.exists() {
        eprintln!(
            "SKIPPED the Kubernetes manifest: {} is missing (cargo xtask test installs it)",
            bin.display()
        );
        return None;
    }
    Some(bin)
}

fn validate(bin: &PathBuf, file: &PathBuf) -> (bool, String) {
    let out = Command::new(bin)
        .args(["--strict", "--kubernetes-version", "1.30.0"])
        .arg(file)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_daemonset_is_valid_kubernetes_and_a_misspelt_field_is_not() {
    let Some(bin) = kubernetes_validate() else {
        return;
    };
    let manifest = repo("contrib/kubernetes/daemonset.yaml");
    let (ok, text) = validate(&bin, &manifest);
    assert!(ok && text.contains("passed"), "{text}");
    // The check has teeth: a field Kubernetes does not know fails it.
    let bad = std::env::temp_dir().join(format!("faultd-ds-{}.yaml", std::process::id()));
    let broken = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("hostNetwork: true", "hostNetworking: true");
    std::fs::write(&bad, broken).unwrap();
    let (ok, text) = validate(&bin, &bad);
    let _ = std::fs::remove_file(&bad);
    assert!(!ok, "a misspelt field passed: {text}");
}

#[test]
fn the_container_and_daemonset_run_faultd_with_flags_it_takes() {
    // The DaemonSet's args, after `run`, are flags `faultd run --help` documents.
    let manifest = std::fs::read_to_string(repo("contrib/kubernetes/daemonset.yaml")).unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_faultd"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let flags: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- --"))
        .collect();
    assert!(flags.len() >= 4, "{flags:?}");
    for flag in flags {
        assert!(
            help.contains(&format!("--{flag}")),
            "faultd run has no --{flag}"
        );
    }
    let containerfile = std::fs::read_to_string(repo("contrib/kubernetes/Containerfile")).unwrap();
    assert!(containerfile.contains("FROM scratch") && containerfile.contains("\"--listen\""));
}

#[test]
fn promtool_accepts_the_scrape_configuration_with_the_rules() {
    if !fault_tests::prometheus::installed_or_skip("the scrape configuration") {
        return;
    }
    let scrape = std::fs::read_to_string(repo("contrib/prometheus/faultd-scrape.yml")).unwrap();
    let rules = repo("contrib/prometheus/faultd-rules.yml");
    let config = std::env::temp_dir().join(format!("faultd-prom-{}.yml", std::process::id()));
    std::fs::write(
        &config,
        format!("rule_files: [\"{}\"]\n{scrape}", rules.display()),
    )
    .unwrap();
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(&config)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&config);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
