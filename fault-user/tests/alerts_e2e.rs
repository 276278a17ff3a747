//! Real servers, real browser: every fault scenario played live to `faultd run` in a
//! network namespace (as scenarios_live does), then
//! - a real Prometheus evaluating contrib/prometheus/faultd-rules.yml every second sends
//!   its alerts to a real Alertmanager, which posts them to a webhook served by this test:
//!   one firing alert per fault kind, labelled and annotated as the rules file says, and no
//!   health alert beyond the detector evictions the scenarios cause on purpose;
//! - a real browser (headless Chromium) loads the page for people: every record's summary
//!   as text, the heading, the counters table, and no script.
//!
//! Needs root; skips loudly without it, or without prometheus, prometheus-alertmanager or
//! chromium (`cargo xtask test` installs them).

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{self, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use common::{BASE_NS, FAULTD, replay, timeless};
use fault_tests::{
    TempPcap,
    daemon::{self, Daemon, Scrape, unique},
    netns::{Netns, Veth, is_root, send_timed, wait_for},
    prometheus::{self, Alerting, Alertmanager, Prometheus},
    scenario::{self, FAST_FLAGS, SPEEDUP},
};
use serde_json::Value;

/// One live run at a time: the scenarios' timing (timeouts of half a second) should not
/// compete for two cores with the other test's Prometheus or browser.
static SERIAL: Mutex<()> = Mutex::new(());

/// A daemon on a veth in a fresh namespace pair, with its pin path.
struct Wire {
    a: Netns,
    b: Netns,
    veth: Veth,
}

impl Wire {
    fn new(tag: &str) -> Wire {
        let (a, b) = (
            Netns::new(&format!("{tag}a")).unwrap(),
            Netns::new(&format!("{tag}b")).unwrap(),
        );
        let veth = Veth::new(&a, &b, 1500).unwrap();
        Wire { a, b, veth }
    }

    fn daemon(&self, tag: &str) -> (Daemon<'_>, PathBuf) {
        let (addr, pin) = unique(tag);
        let mut args = vec!["--iface", &self.veth.a, "--pin-path", pin.to_str().unwrap()];
        args.extend(FAST_FLAGS);
        let d = Daemon::start(Path::new(FAULTD), &self.a, addr, &args).unwrap();
        (d, pin)
    }
}

/// Every scenario's frames, and the records `faultd replay` gives for them (times aside).
fn scenarios() -> (Vec<(u64, Vec<u8>)>, Vec<Value>) {
    let frames = scenario::merged(&scenario::all(), BASE_NS, SPEEDUP);
    let pcap = TempPcap::new("alerts-e2e", &frames).unwrap();
    let want = replay(pcap.path(), "user", &FAST_FLAGS)
        .into_iter()
        .map(timeless)
        .collect();
    (frames, want)
}

fn fault_of(r: &Value) -> &str {
    r["fault"].as_str().unwrap()
}

/// Plays `frames` onto the wire and waits until the daemon has counted every record of
/// `want`: its scrape then.
fn play(w: &Wire, d: &Daemon, frames: &[(u64, Vec<u8>)], want: &[Value]) -> Scrape {
    let t = Instant::now();
    send_timed(&w.b, &w.veth.b, frames).unwrap();
    let kinds: BTreeSet<&str> = want.iter().map(fault_of).collect();
    let s = d
        .scrape_within(Duration::from_secs(30), |s| {
            kinds
                .iter()
                .map(|f| s.u64(&format!("faultd_faults_total{{fault=\"{f}\"}}")))
                .sum::<u64>()
                >= want.len() as u64
        })
        .unwrap();
    eprintln!("the scenarios played in {:.1?}", t.elapsed());
    assert_eq!(s.frames_seen(), frames.len() as u64);
    s
}

fn detach(pin: &Path) {
    let _ = daemon::detach(Path::new(FAULTD), pin);
}

// ---------------------------------------------------------------------------------------
// Alertmanager

/// An HTTP server for Alertmanager's webhook: every POSTed body, parsed (or why not).
struct Webhook {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Result<Value, String>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    /// Listens on loopback inside `ns` (the socket stays in the namespace it was made in;
    /// the thread serving it need not be there).
    fn start(ns: &Netns) -> Webhook {
        let listener = ns
            .run(|| TcpListener::bind("127.0.0.1:0"))
            .unwrap()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (got, stop) = (Arc::default(), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (got, stop): (Arc<Mutex<Vec<_>>>, Arc<AtomicBool>) =
                (Arc::clone(&got), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            let body = Self::serve(s).map_err(|e| e.to_string()).and_then(|b| {
                                serde_json::from_slice(&b)
                                    .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&b)))
                            });
                            got.lock().unwrap().push(body);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(e) => got.lock().unwrap().push(Err(format!("accept: {e}"))),
                    }
                }
            })
        };
        Webhook {
            addr,
            got,
            stop,
            thread: Some(thread),
        }
    }

    /// Reads one request (its body by Content-Length), answers 200 and closes.
    fn serve(mut s: TcpStream) -> io::Result<Vec<u8>> {
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::other("closed before the headers ended"));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        if !head.starts_with("post ") {
            return Err(io::Error::other(format!("not a POST: {head}")));
        }
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("no Content-Length: {head}")))?;
        while buf.len() < head_end + len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::other("closed before the body ended"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        Ok(buf[head_end..head_end + len].to_vec())
    }

    /// Every alert of every notification so far (a failed request fails the test).
    fn alerts(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|n| {
                let n = n.as_ref().unwrap_or_else(|e| panic!("webhook: {e}"));
                n["alerts"].as_array().cloned().unwrap_or_default()
            })
            .collect()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn rules_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib/prometheus/faultd-rules.yml")
        .canonicalize()
        .unwrap()
}

/// The rules of group `name` of the rules file, by alert name.
fn rule_group(rules: &Value, name: &str) -> BTreeMap<String, Value> {
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no group {name}"))["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["alert"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

fn alertname(a: &Value) -> &str {
    a["labels"]["alertname"].as_str().unwrap_or("")
}

#[test]
fn alertmanager_gets_one_firing_alert_per_fault_as_the_rules_say() {
    const TEST: &str = "alertmanager_gets_one_firing_alert_per_fault";
    if !is_root() {
        eprintln!("SKIPPED {TEST}: needs root");
        return;
    }
    if !prometheus::installed_or_skip(TEST) || !prometheus::alertmanager_installed_or_skip(TEST) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let rules: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(rules_file()).unwrap()).unwrap();
    let (fault_rules, health_rules) = (
        rule_group(&rules, "faultd-faults"),
        rule_group(&rules, "faultd-health"),
    );
    let (frames, want) = scenarios();
    let recorded: BTreeSet<&str> = want.iter().map(fault_of).collect();

    let w = Wire::new("am");
    let (d, pin) = w.daemon("alerts");
    let hook = Webhook::start(&w.a);
    // Each alert a group of its own, so a second notification of an alert can only mean it
    // was sent again (or resolved: send_resolved says so too).
    let am = Alertmanager::start(
        &w.a,
        SocketAddr::from(([127, 0, 0, 1], d.addr.port() + 2000)),
        &format!(
            "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    \
             webhook_configs:\n      - url: 'http://{}/alerts'\n        send_resolved: true\n",
            hook.addr
        ),
    )
    .unwrap();
    let rule_files = [rules_file()];
    let rule_files: Vec<&Path> = rule_files.iter().map(PathBuf::as_path).collect();
    let prom = Prometheus::start_alerting(
        &w.a,
        SocketAddr::from(([127, 0, 0, 1], d.addr.port() + 1000)),
        &format!(
            "  - job_name: faultd\n    static_configs:\n      - targets: ['{}']\n",
            d.addr
        ),
        Some(&Alerting {
            rule_files: &rule_files,
            alertmanager: am.addr,
        }),
    )
    .unwrap();
    let query = |q: &str| -> Option<Vec<Value>> {
        let v: Value = serde_json::from_str(&prom.query(q)?).ok()?;
        v["data"]["result"].as_array().cloned()
    };
    // The counters' zeros must be scraped before the faults, or `increase` sees no rise.
    wait_for(Duration::from_secs(30), || {
        query("faultd_faults_total").filter(|r| r.len() == fault_rules.len())
    })
    .unwrap_or_else(|| panic!("Prometheus never scraped faultd:\n{}", prom.log()));

    let s = play(&w, &d, &frames, &want);
    // The health alerts the scenarios cause on purpose: wins_benign_many_names registers
    // more names than the WINS detector keeps, so it evicts (scenarios_live counts them).
    let evicting: BTreeSet<String> =
        s.0.iter()
            .filter(|(k, v)| k.starts_with("faultd_detector_evictions_total{") && **v > 0.0)
            .map(|(k, _)| k.split('"').nth(1).unwrap().to_owned())
            .collect();
    assert_eq!(
        evicting,
        BTreeSet::from(["wins_backup_swap".to_owned()]),
        "detectors that evicted"
    );
    let expected: BTreeSet<String> = fault_rules
        .keys()
        .cloned()
        .chain(
            evicting
                .iter()
                .map(|det| format!("FaultdDetectorEvicting/{det}")),
        )
        .collect();
    let key = |a: &Value| match alertname(a) {
        "FaultdDetectorEvicting" => format!(
            "FaultdDetectorEvicting/{}",
            a["labels"]["detector"].as_str().unwrap_or("")
        ),
        n => n.to_owned(),
    };
    let t = Instant::now();
    wait_for(Duration::from_secs(60), || {
        let got: BTreeSet<String> = hook.alerts().iter().map(key).collect();
        expected.is_subset(&got).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the webhook got {:#?}\nAlertmanager:\n{}\nPrometheus:\n{}",
            hook.alerts(),
            am.log(),
            prom.log()
        )
    });
    eprintln!("the alerts reached the webhook {:.1?} later", t.elapsed());
    // Room for anything sent twice, or sent late, to show: evaluations and group intervals.
    std::thread::sleep(Duration::from_secs(4));
    let alerts = hook.alerts();

    // Exactly one notification of each fault's alert, firing, as the rules file says.
    for (name, rule) in &fault_rules {
        let got: Vec<&Value> = alerts.iter().filter(|a| alertname(a) == name).collect();
        assert_eq!(got.len(), 1, "{name}: {got:#?}");
        let a = got[0];
        assert_eq!(a["status"], "firing", "{a:#}");
        let fault = rule["labels"]["fault"].as_str().unwrap();
        assert!(
            recorded.contains(fault),
            "{name} fired without a {fault} record"
        );
        for label in ["fault", "severity"] {
            assert_eq!(a["labels"][label], rule["labels"][label], "{name}: {label}");
        }
        assert_eq!(a["labels"]["severity"], "warning");
        assert_eq!(a["labels"]["instance"], d.addr.to_string());
        for annotation in ["summary", "kb", "runbook"] {
            assert_eq!(
                a["annotations"][annotation], rule["annotations"][annotation],
                "{name}: {annotation}"
            );
        }
        let description = a["annotations"]["description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("faultd on {} reported ", d.addr))
                && !description.contains("{{"),
            "{name}: {description}"
        );
    }
    // Every fault with a record has its alert (all five do).
    let fired: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a["labels"]["fault"].as_str())
        .collect();
    assert_eq!(fired, recorded);
    assert_eq!(fired.len(), fault_rules.len());
    // No health alert but the evictions, neither sent nor pending (those with `for` would
    // fire minutes later).
    let health: Vec<String> = alerts
        .iter()
        .filter(|a| health_rules.contains_key(alertname(a)))
        .map(key)
        .collect();
    let evictions: Vec<String> = evicting
        .iter()
        .map(|det| format!("FaultdDetectorEvicting/{det}"))
        .collect();
    assert_eq!(health, evictions, "health alerts sent: {alerts:#?}");
    let active: BTreeSet<String> = query("ALERTS")
        .unwrap()
        .iter()
        .map(|r| {
            let state = r["metric"]["alertstate"].as_str().unwrap_or("");
            format!(
                "{}:{state}",
                key(&serde_json::json!({"labels": r["metric"]}))
            )
        })
        .collect();
    let want_active: BTreeSet<String> = expected.iter().map(|k| format!("{k}:firing")).collect();
    assert_eq!(active, want_active, "Prometheus' ALERTS");

    // The dashboard's every query against this Prometheus, after the scenarios: valid,
    // and with data, the table of hosts with faults included.
    for (title, q) in prometheus::dashboard_queries() {
        let got = wait_for(Duration::from_secs(20), || {
            query(&prometheus::encoded(&q)).filter(|r| !r.is_empty())
        });
        assert!(got.is_some(), "dashboard panel {title:?}: no data for {q}");
    }

    drop(prom);
    drop(am);
    d.stop().unwrap();
    detach(&pin);
    eprintln!("{TEST}: {:.1?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// The page in a real browser

/// `chromium --headless --dump-dom URL` inside `ns`: the DOM it serialised, or why not.
fn dump_dom(ns: &Netns, url: &str) -> Result<String, String> {
    let profile = std::env::temp_dir().join(format!(
        "faultd-chromium-{}-{}",
        std::process::id(),
        url.len()
    ));
    let out = ns
        .command("timeout")
        .args([
            "20",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--disable-dev-shm-usage",
            "--no-proxy-server",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&profile);
    let out = out?;
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && !dom.trim().is_empty() {
        Ok(dom)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        Err(format!(
            "{} {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }
}

/// `chromium --headless --screenshot` of `url` inside `ns`, written to `to`.
fn screenshot(ns: &Netns, url: &str, to: &Path) -> Result<(), String> {
    let profile = std::env::temp_dir().join(format!("faultd-chromium-shot-{}", std::process::id()));
    let out = ns
        .command("timeout")
        .args([
            "20",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--disable-dev-shm-usage",
            "--no-proxy-server",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--hide-scrollbars", "--window-size=1280,1600"])
        .arg(format!("--screenshot={}", to.display()))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&profile);
    match out.status.success() && to.exists() {
        true => Ok(()),
        false => Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// The text of serialised HTML: tags become line breaks, entities their characters (the
/// serialiser writes only these).
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        text.push_str(&rest[..i]);
        text.push('\n');
        rest = rest[i..].find('>').map_or("", |j| &rest[i + j + 1..]);
    }
    text.push_str(rest);
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The rows of the first table after `heading`, each as its cells' text.
fn table_after(dom: &str, heading: &str) -> Vec<Vec<String>> {
    let start = dom.find(heading).expect("the heading");
    let table = &dom[start..];
    let table = &table[table.find("<table").expect("a table")..];
    let table = &table[..table.find("</table>").expect("the table's end")];
    table
        .split("<tr>")
        .skip(1)
        .map(|row| {
            // Cells hold markup of their own (`<code>`), but no nested cells.
            row.replace("</th>", "</td>")
                .split("</td>")
                .filter_map(|piece| {
                    let open = [piece.rfind("<td"), piece.rfind("<th")]
                        .into_iter()
                        .flatten()
                        .max()?;
                    let content = &piece[open..];
                    Some(
                        text_of(&content[content.find('>')? + 1..])
                            .trim()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_real_browser_shows_every_record_on_the_page() {
    const TEST: &str = "a_real_browser_shows_every_record_on_the_page";
    if !is_root() {
        eprintln!("SKIPPED {TEST}: needs root");
        return;
    }
    let w = Wire::new("br");
    // Can this container run Chromium at all? (A page of our own, no daemon needed.)
    let t = Instant::now();
    match dump_dom(&w.a, "data:text/html,<p>ok</p>") {
        Ok(dom) if dom.contains("<p>ok</p>") => {}
        Ok(dom) => panic!("chromium dumped {dom}"),
        Err(why) => {
            eprintln!(
                "SKIPPED {TEST}: chromium does not run here (apt-get install chromium; \
                 cargo xtask test does): {why}"
            );
            return;
        }
    }
    eprintln!("chromium's first run: {:.1?}", t.elapsed());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let (frames, want) = scenarios();
    let (d, pin) = w.daemon("browser");
    let s = play(&w, &d, &frames, &want);

    let t = Instant::now();
    let dom = dump_dom(&w.a, &format!("http://{}/", d.addr))
        .unwrap_or_else(|e| panic!("chromium: {e}\n{}", d.log()));
    eprintln!("chromium loaded the page in {:.1?}", t.elapsed());
    // A picture of the page as a browser shows it, for people deciding whether it helps
    // them: target/faultd-page.png.
    let shot = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/faultd-page.png"
    ));
    screenshot(&w.a, &format!("http://{}/", d.addr), &shot)
        .unwrap_or_else(|e| panic!("chromium --screenshot: {e}"));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "a script element: {dom}"
    );
    let text = text_of(&dom);
    // Some summaries hold `<`, `>` or `&` (NetBIOS names do): the browser must show them
    // as text, which the DOM serialises escaped.
    assert!(
        want.iter()
            .any(|r| r["summary"].as_str().unwrap().contains(['<', '>', '&'])),
        "no summary tests the escaping"
    );
    assert!(text.contains("\nfaultd\n"), "not faultd's page: {dom}");
    for r in &want {
        let summary = r["summary"].as_str().unwrap();
        assert!(
            text.contains(summary),
            "{summary:?} not on the page:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("Recent faults ({}, newest first)", want.len())),
        "{text}"
    );
    // The counters table: a row per fault, with the count the daemon exposes.
    let rows = table_after(&dom, "Counters");
    let kinds: BTreeSet<&str> = want.iter().map(fault_of).collect();
    for kind in &kinds {
        let labels = format!("{{fault=\"{kind}\"}}");
        let n = s.u64(&format!("faultd_faults_total{labels}"));
        assert!(n > 0);
        let row = vec![
            "fault records, by fault".to_owned(),
            labels.clone(),
            n.to_string(),
        ];
        assert!(rows.contains(&row), "no row {row:?} in {rows:#?}");
    }
    let frames_row = vec![
        "frames seen".to_owned(),
        String::new(),
        frames.len().to_string(),
    ];
    assert!(
        rows.contains(&frames_row),
        "no row {frames_row:?} in {rows:#?}"
    );

    d.stop().unwrap();
    detach(&pin);
    eprintln!("{TEST}: {:.1?}", started.elapsed());
}
