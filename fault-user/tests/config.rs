//! `faultd run --config FILE` and `faultd check-config FILE`, as an operator meets them:
//! the effective settings printed read back as themselves, a misspelt key or a bad value
//! is refused naming the key and its line, and flags win over the file.

mod common;

use common::faultd;
use fault_tests::TempPcap;

/// A settings file in the temp directory, removed when dropped.
struct Temp(TempPcap);

impl Temp {
    fn new(tag: &str, text: &str) -> Temp {
        Temp(TempPcap::with_bytes(tag, "toml", text.as_bytes()).unwrap())
    }
    fn arg(&self) -> &str {
        self.0.path().to_str().unwrap()
    }
}

const FILE: &str = r#"
iface = ["faultd-file0", "faultd-file1"]
listen = "0.0.0.0:10137"
fault_log = "/var/log/faultd/faults.jsonl"
http_idle_timeout = 90

[detectors.nbns]
timeout = "7s"

[detectors.sms_port_conflict]
report_interval = "2h"
"#;

#[test]
fn check_config_prints_every_setting_and_its_output_reads_back_as_itself() {
    let f = Temp::new("full", FILE);
    let (code, out, err) = faultd(&["check-config", f.arg()]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "iface = [\"faultd-file0\", \"faultd-file1\"]",
        "listen = \"0.0.0.0:10137\"",
        "http_idle_timeout = \"90s\"",
        // Keys the file leaves out show their defaults.
        "xdp_mode = \"auto\"",
        "http_max_connections = 512",
        "[detectors.nbns]\ntimeout = \"7s\"",
        "[detectors.sms_port_conflict]\nreport_interval = \"2h\"",
        "[detectors.wins_backup_swap]\nepisode = \"1m\"",
        "[detectors.ras_port_leak]\nclear_timeout = \"10s\"",
    ] {
        assert!(out.contains(line), "{line} not in\n{out}");
    }
    let again = Temp::new("again", &out);
    let (code, out2, err) = faultd(&["check-config", again.arg()]);
    assert_eq!((code, out2.as_str()), (0, out.as_str()), "{err}");
}

#[test]
fn a_misspelt_key_or_a_bad_value_is_refused_naming_the_key_and_the_line() {
    for (text, says) in [
        ("iface = [\"x\"]\nlisen = \"1.2.3.4:5\"\n", "line 2"),
        (
            "iface = [\"x\"]\nlisen = \"1.2.3.4:5\"\n",
            "unknown field `lisen`",
        ),
        ("listen = \"nowhere\"\n", "line 1"),
        (
            "[detectors.wins_backup_swap]\nepisode = \"5 parsecs\"\n",
            "line 2",
        ),
        (
            "[detectors.wins_backup_swap]\nepisode = \"5 parsecs\"\n",
            "unknown unit",
        ),
        (
            "[detectors.wins]\nepisode = \"5s\"\n",
            "unknown field `wins`",
        ),
        ("xdp_mode = \"fast\"\n", "unknown variant `fast`"),
        (
            "http_max_connections = 0\n",
            "http_max_connections = 0: must be from 1 to 65536",
        ),
    ] {
        let f = Temp::new("bad", text);
        let (code, out, err) = faultd(&["check-config", f.arg()]);
        assert_eq!((code, out.as_str()), (2, ""), "{text}: {err}");
        assert!(err.contains(f.arg()) && err.contains(says), "{text}: {err}");
    }
    let (code, _, err) = faultd(&["check-config", "/nonexistent/faultd.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/faultd.toml"), "{err}");
}

#[test]
fn flags_given_win_over_the_file() {
    let f = Temp::new("override", FILE);
    // The file's interfaces, when no --iface is given...
    let (code, _, err) = faultd(&["run", "--config", f.arg()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no interface named \"faultd-file0\""), "{err}");
    // ...and the flag's, when one is.
    let (code, _, err) = faultd(&["run", "--config", f.arg(), "--iface", "faultd-flag0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no interface named \"faultd-flag0\""), "{err}");
    // A file without interfaces needs the flag.
    let none = Temp::new("no-iface", "listen = \"127.0.0.1:10137\"\n");
    let (code, _, err) = faultd(&["run", "--config", none.arg()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no interface to watch"), "{err}");
}

/// `faultd replay CAPTURE [--config FILE]`: its records, and stderr.
fn replay(capture: &str, config: Option<&str>) -> (Vec<serde_json::Value>, String) {
    let mut args = vec!["replay", capture, "--engine", "user"];
    args.extend(config.iter().flat_map(|c| ["--config", c]));
    let (code, out, err) = faultd(&args);
    assert_eq!(code, 0, "{err}");
    let records = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, err)
}

#[test]
fn a_detectors_allow_list_leaves_out_its_records_naming_those_hosts_only() {
    let frames =
        fault_tests::scenario::merged(&fault_tests::scenario::all(), 1_700_000_000_000_000_000, 1);
    let pcap = fault_tests::TempPcap::new("allow", &frames).unwrap();
    let capture = pcap.path().to_str().unwrap();
    let (all, _) = replay(capture, None);
    // The peer of a refused SMS port: as a known scanner would be.
    let scanner = all
        .iter()
        .find(|r| r["fault"] == "sms_port_conflict" && r["reason"] == "refused")
        .expect("a refused SMS port in the scenarios")["server"]
        .as_str()
        .unwrap()
        .to_owned();
    let named =
        |r: &serde_json::Value| r["client"] == scanner.as_str() || r["server"] == scanner.as_str();
    let f = Temp::new(
        "allow",
        &format!(
            "iface = [\"eth0\"]\n[detectors.sms_port_conflict]\nallow = [\"{scanner}\", \"198.51.100.0/24\"]\n"
        ),
    );
    let (kept, err) = replay(capture, Some(f.arg()));
    let want: Vec<_> = all
        .iter()
        .filter(|r| !(r["fault"] == "sms_port_conflict" && named(r)))
        .cloned()
        .collect();
    let left_out = all.len() - want.len();
    assert!(left_out > 0);
    assert_eq!(
        kept, want,
        "only sms_port_conflict records naming {scanner} left out"
    );
    assert!(
        err.contains(&format!("{left_out} sms_port_conflict records left out")),
        "{err}"
    );
    // check-config shows the list, as networks.
    let (_, out, _) = faultd(&["check-config", f.arg()]);
    assert!(
        out.contains(&format!("allow = [\"{scanner}/32\", \"198.51.100.0/24\"]")),
        "{out}"
    );
}
