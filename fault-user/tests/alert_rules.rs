//! The alert rules shipped in contrib/prometheus: promtool checks them and runs their unit
//! tests (every alert fires where it should and stays quiet where it should not), every
//! fault of the catalogue has its alert, every metric an alert reads is one faultd exports,
//! and every runbook the alerts name is a section of docs/runbooks.md.

use std::{collections::BTreeSet, path::PathBuf, process::Command};

use fault_user::{
    detect::{Pipeline, REGISTRY},
    metrics::Metrics,
};

fn contrib(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib/prometheus")
        .join(file)
}

fn rules() -> String {
    std::fs::read_to_string(contrib("faultd-rules.yml")).unwrap()
}

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    if !fault_tests::prometheus::installed_or_skip("alert rules") {
        return;
    }
    for args in [
        vec!["check", "rules", "faultd-rules.yml"],
        vec!["test", "rules", "faultd-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(contrib(""))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_fault_has_an_alert_with_a_test() {
    let (rules, tests) = (
        rules(),
        std::fs::read_to_string(contrib("faultd-rules.test.yml")).unwrap(),
    );
    for kind in REGISTRY.iter().map(|e| e.kind) {
        let expr = format!("faultd_faults_total{{fault=\"{}\"}}", kind.id());
        assert!(rules.contains(&expr), "no alert reads {expr}");
        assert!(
            tests.contains(&format!("fault: {}", kind.id())),
            "no test fires the {kind} alert"
        );
    }
}

/// The `faultd_*` names in the rules' expressions.
fn metric_names(rules: &str) -> BTreeSet<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .flat_map(|e| {
            e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("faultd_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_metric_an_alert_reads_is_exported() {
    let mut m = Metrics::new();
    m.register_detectors(&Pipeline::standard(&Default::default(), false));
    m.attached("eth0", "native", true);
    let (text, _) = m.encode(None);
    let names = metric_names(&rules());
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let family = name.strip_suffix("_total").unwrap_or(&name);
        assert!(
            text.contains(&format!("# TYPE {name} "))
                || text.contains(&format!("# TYPE {family} ")),
            "{name} is not in faultd's /metrics:\n{text}"
        );
    }
}

#[test]
fn every_runbook_is_a_section_of_the_runbooks() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/runbooks.md"),
    )
    .unwrap();
    let anchors: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let rules = rules();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(str::trim)
        .collect();
    assert_eq!(alerts.len(), 13, "{alerts:?}");
    for alert in alerts {
        let anchor = alert.to_lowercase();
        assert!(
            anchors.contains(&anchor),
            "docs/runbooks.md has no section {alert}"
        );
        assert!(
            rules.contains(&format!("runbook: docs/runbooks.md#{anchor}")),
            "{alert} names no runbook"
        );
    }
}
