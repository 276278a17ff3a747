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
entries = 64

[detectors.wins_backup_swap]
clients = 16

[detectors.ncp_wrong_socket]
pending = 8
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
        "[detectors.sms_port_conflict]\nreport_interval = \"2h\"\nentries = 64",
        "[detectors.wins_backup_swap]\nepisode = \"1m\"\nclients = 16",
        "[detectors.ncp_wrong_socket]\ntimeout = \"5s\"\nnodes = 1024\npending = 8",
        // The bounds the file leaves out show their defaults too.
        "[detectors.netbios_ip_connect_failure]\nwindow = \"30s\"\nepisodes = 4096",
        "[detectors.ras_port_leak]\nclear_timeout = \"10s\"\nentries = 1024",
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
        // A state bound: from 1 to 2^20 entries, a whole number.
        ("[detectors.sms_port_conflict]\nentries = 0\n", "line 2"),
        (
            "[detectors.sms_port_conflict]\nentries = 0\n",
            "\"0\": must be a number of entries from 1 to 1048576",
        ),
        (
            "[detectors.sms_port_conflict]\nentries = 0\n",
            "2 | entries = 0\n",
        ),
        (
            "[detectors.wins_backup_swap]\nepisode = \"1m\"\nclients = 1048577\n",
            "line 3",
        ),
        (
            "[detectors.wins_backup_swap]\nepisode = \"1m\"\nclients = 1048577\n",
            "clients = 1048577",
        ),
        (
            "[detectors.ras_port_leak]\nentries = -5\n",
            "\"-5\": must be a number of entries from 1 to 1048576",
        ),
        (
            "[detectors.ncp_wrong_socket]\nnodes = 2.5\n",
            "expected a number of entries from 1 to 1048576",
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

/// The shipped file's commented settings are the defaults: uncommented, `check-config`
/// prints what it prints for the file as shipped.
#[test]
fn the_shipped_files_commented_settings_are_the_defaults() {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contrib/systemd/faultd.toml"
    ))
    .unwrap();
    let uncommented: String = shipped
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with('[') || rest.contains(" = ") => rest,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(uncommented.contains("\n[detectors.ras_port_leak]\nentries = 1024\n"));
    let (a, b) = (
        Temp::new("shipped", &shipped),
        Temp::new("uncommented", &uncommented),
    );
    let (code, as_shipped, err) = faultd(&["check-config", a.arg()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = faultd(&["check-config", b.arg()]);
    assert_eq!((code, out), (0, as_shipped), "{err}");
}

#[test]
fn a_bound_out_of_range_on_the_command_line_is_refused_naming_the_flag() {
    for (flag, value) in [
        ("--sms-entries", "0"),
        ("--wins-clients", "1048577"),
        ("--nbstat-episodes", "many"),
        ("--ncp-nodes", "0"),
        ("--ncp-pending", "-1"),
        ("--pptp-entries", "0"),
    ] {
        let given = format!("{flag}={value}");
        let (code, out, err) = faultd(&["replay", "/nonexistent.pcap", &given]);
        assert_eq!((code, out.as_str()), (2, ""), "{flag} {value}: {err}");
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag} <N>'"))
                && err.contains("must be a number of entries from 1 to 1048576"),
            "{flag} {value}: {err}"
        );
    }
}

/// `faultd replay CAPTURE [--config FILE] [FLAGS]`: its records, and stderr.
fn replay_with(
    capture: &str,
    config: Option<&str>,
    flags: &[&str],
) -> (Vec<serde_json::Value>, String) {
    let mut args = vec!["replay", capture, "--engine", "user"];
    args.extend(config.iter().flat_map(|c| ["--config", c]));
    args.extend_from_slice(flags);
    let (code, out, err) = faultd(&args);
    assert_eq!(code, 0, "{err}");
    let records = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, err)
}

/// `faultd replay CAPTURE [--config FILE]`: its records, and stderr.
fn replay(capture: &str, config: Option<&str>) -> (Vec<serde_json::Value>, String) {
    replay_with(capture, config, &[])
}

/// Ten hosts each open a TCP connection from their SMS port 1761 (ephemeral_collision),
/// twice, a second apart: within `--sms-report-interval`, so each is reported once while
/// the detector remembers its report. `sms_port_conflict`'s bound (`entries`) below ten
/// forgets them, and each is reported again; the evictions are said on stderr.
#[test]
fn a_small_state_bound_evicts_and_replay_says_how_many() {
    use fault_tests::{Carrier, Eth, Network, ip::TCP_SYN};
    use std::net::Ipv4Addr;
    const S: u64 = 1_000_000_000;
    let mut frames = Vec::new();
    for round in 0..2u64 {
        for i in 0..10u8 {
            let frame = Eth::new([2, 0, 0, 0, 0, i], [4; 6])
                .ipv4(Ipv4Addr::new(10, 5, 0, i + 1), Ipv4Addr::new(10, 0, 0, 1))
                .tcp(1761, 80)
                .flags(TCP_SYN)
                .payload(&[]);
            frames.push((
                common::BASE_NS + round * S + u64::from(i) * 1_000_000,
                frame,
            ));
        }
    }
    let pcap = TempPcap::new("bounds", &frames).unwrap();
    let capture = pcap.path().to_str().unwrap();
    let hosts = |records: &[serde_json::Value]| -> Vec<String> {
        records
            .iter()
            .map(|r| {
                assert_eq!(
                    (&r["fault"], &r["reason"]),
                    (&"sms_port_conflict".into(), &"ephemeral_collision".into())
                );
                r["client"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    let ten: Vec<String> = (1..=10).map(|i| format!("10.5.0.{i}")).collect();

    // At the default bound (4096): one record per host, nothing evicted.
    let (records, err) = replay(capture, None);
    assert_eq!(hosts(&records), ten);
    assert!(!err.contains("evicted"), "{err}");

    // At 4: the first round's ten reports push out six of themselves, the second round's
    // ten (none of them still remembered) all of the rest: 16 evictions, 20 records.
    let f = Temp::new(
        "bound",
        "iface = [\"eth0\"]\n[detectors.sms_port_conflict]\nentries = 4\n",
    );
    let (records, err) = replay(capture, Some(f.arg()));
    assert_eq!(hosts(&records), [ten.clone(), ten.clone()].concat());
    assert!(
        err.contains(
            "faultd: 16 sms_port_conflict state entries evicted: its bounds (12 entries in all)"
        ),
        "{err}"
    );
    // The flag does the same, and wins over the file.
    let (by_flag, err) = replay_with(capture, None, &["--sms-entries", "4"]);
    assert_eq!(by_flag, records);
    assert!(
        err.contains("16 sms_port_conflict state entries evicted"),
        "{err}"
    );
    let (records, err) = replay_with(capture, Some(f.arg()), &["--sms-entries", "10"]);
    assert_eq!(hosts(&records), ten, "ten reports fit in ten entries");
    assert!(!err.contains("evicted"), "{err}");
    // check-config shows the file's bound.
    let (code, out, err) = faultd(&["check-config", f.arg()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[detectors.sms_port_conflict]\nreport_interval = \"1h\"\nentries = 4\n"),
        "{out}"
    );
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
