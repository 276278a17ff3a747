//! The records faultd prints match their published JSON Schema
//! (docs/fault-record.schema.json), as judged by an independent validator: Python's
//! `jsonschema` (Debian's python3-jsonschema, which `cargo xtask test` installs). Every
//! record of every golden file, and of a replay of all scenarios at once with the canary,
//! must validate; records broken on purpose must not, so the schema is shown to have teeth.

mod common;

use std::{
    collections::BTreeSet,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use common::{BASE_NS, replay_lines};
use fault_tests::{
    Carrier, Eth, Network, TempPcap, golden,
    netbios::{NbName, nbns},
    scenario,
};
use serde_json::{Value, json};

/// Reads the schema, then one record per line of standard input; answers each with a line
/// `ok` or `invalid: <the error most to the point>`.
const VALIDATE: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
for line in sys.stdin:
    error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(line)))
    print("ok" if error is None else "invalid: " + " ".join(error.message.split())[:300])
"#;

fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/fault-record.schema.json")
}

/// A Python with `jsonschema`: the one on PATH (which may be a virtual environment's), else
/// Debian's, where python3-jsonschema puts it.
fn python_or_skip(test: &str) -> Option<&'static str> {
    let found = ["python3", "/usr/bin/python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import jsonschema"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        eprintln!(
            "\n********\nSKIPPED {test}: no python3 with the jsonschema module — install \
             the Debian package python3-jsonschema\n********\n"
        );
    }
    found
}

/// The validator's verdict on each record, in order.
fn verdicts(python: &str, records: &[String]) -> Vec<String> {
    let mut child = Command::new(python)
        .args(["-c", VALIDATE])
        .arg(schema_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = records.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(verdicts.len(), records.len(), "one verdict per record");
    verdicts
}

fn golden_records() -> Vec<String> {
    scenario::all()
        .iter()
        .flat_map(|s| golden::lines(s.name))
        .collect()
}

/// Every scenario in one capture, and an unanswered `FAULTD-CANARY` query for the canary's
/// record, replayed with `--canary`.
fn replayed_records() -> Vec<String> {
    let mut frames = scenario::merged(&scenario::all(), BASE_NS, 1);
    let query = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4([10, 250, 0, 2].into(), [10, 250, 0, 1].into())
        .udp(137, 137)
        .payload(&nbns::query(7, &NbName::new("FAULTD-CANARY", 0), false));
    frames.push((frames.last().map_or(BASE_NS, |f| f.0) + 1, query));
    let pcap = TempPcap::new("record-schema", &frames).unwrap();
    replay_lines(pcap.path(), "user", &["--canary"])
}

fn fault_of(line: &str) -> String {
    let r: Value = serde_json::from_str(line).unwrap();
    r["fault"].as_str().unwrap().to_owned()
}

#[test]
fn every_record_of_the_golden_files_and_a_replay_validates() {
    let Some(python) = python_or_skip("every_record_of_the_golden_files_and_a_replay_validates")
    else {
        return;
    };
    let mut records = golden_records();
    let golden = records.len();
    records.extend(replayed_records());
    // Every alternative of the schema is exercised: each fault of the catalogue, and the
    // canary.
    let faults: BTreeSet<String> = records.iter().map(|l| fault_of(l)).collect();
    let want: BTreeSet<String> = fault_user::detect::REGISTRY
        .iter()
        .map(|e| e.id.to_owned())
        .chain(["canary".to_owned()])
        .collect();
    assert_eq!(faults, want, "the records cover every fault");
    let bad: Vec<String> = records
        .iter()
        .zip(verdicts(python, &records))
        .filter(|(_, v)| v != "ok")
        .map(|(r, v)| format!("{v}\n  {r}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} records ({golden} golden) do not match {}:\n{}",
        bad.len(),
        records.len(),
        schema_path().display(),
        bad.join("\n")
    );
}

/// Records that differ from real ones in one way each, all of which the schema refuses.
#[test]
fn the_schema_rejects_broken_records() {
    let Some(python) = python_or_skip("the_schema_rejects_broken_records") else {
        return;
    };
    let by_fault = |fault: &str| -> Value {
        let line = golden_records()
            .into_iter()
            .find(|l| fault_of(l) == fault)
            .unwrap_or_else(|| panic!("a golden {fault} record"));
        serde_json::from_str(&line).unwrap()
    };
    let (wins, sms) = (by_fault("wins_backup_swap"), by_fault("sms_port_conflict"));
    let broken = |base: &Value, change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut r = base.clone();
        change(r.as_object_mut().unwrap());
        r.to_string()
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "a required envelope field missing",
            broken(&wins, &|r| {
                r.remove("client");
            }),
        ),
        (
            "a fault's own field missing",
            broken(&wins, &|r| {
                r.remove("names_failed");
            }),
        ),
        (
            "an unknown fault id",
            broken(&wins, &|r| {
                r.insert("fault".into(), json!("wins_backup_swapped"));
            }),
        ),
        (
            "another fault's id",
            broken(&wins, &|r| {
                r.insert("fault".into(), json!("ncp_wrong_socket"));
            }),
        ),
        (
            "another fault's KB article",
            broken(&wins, &|r| {
                r.insert("kb".into(), json!("Q164987"));
            }),
        ),
        (
            "a field the fault does not have",
            broken(&wins, &|r| {
                r.insert("port".into(), json!(1761));
            }),
        ),
        (
            "a field of the wrong JSON type",
            broken(&sms, &|r| {
                r.insert("port".into(), json!("1761"));
            }),
        ),
        (
            "a reason that is not one",
            broken(&sms, &|r| {
                r.insert("reason".into(), json!("capacity_lost"));
            }),
        ),
        (
            "a time that is not RFC 3339 with microseconds",
            broken(&sms, &|r| {
                r.insert("ts".into(), json!("2023-11-14 22:13:20"));
            }),
        ),
        (
            "evidence without its description",
            broken(&sms, &|r| {
                r["evidence"][0].as_object_mut().unwrap().remove("what");
            }),
        ),
    ];
    let records: Vec<String> = cases.iter().map(|(_, r)| r.clone()).collect();
    for ((what, r), v) in cases.iter().zip(verdicts(python, &records)) {
        assert!(v.starts_with("invalid: "), "{what}: {v}\n  {r}");
    }
    // The unbroken originals pass, so each refusal above is for its one change.
    let originals = [wins.to_string(), sms.to_string()];
    assert_eq!(verdicts(python, &originals), ["ok", "ok"]);
}
