//! A real Prometheus (the Debian package; `cargo xtask test` installs it) scraping a daemon
//! from inside a test's namespace, asked through its HTTP API what it scraped; optionally
//! evaluating alert rules and sending the alerts to a real Alertmanager (the Debian package
//! `prometheus-alertmanager`), also run here.

use std::{
    fs, io,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use crate::netns::{Netns, http_get};

/// Whether `prometheus` and `promtool` are installed; says so loudly when not, naming `test`.
pub fn installed_or_skip(test: &str) -> bool {
    let found = ["prometheus", "promtool"].iter().all(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        eprintln!(
            "SKIPPED {test}: prometheus/promtool not installed (apt-get install prometheus; \
             cargo xtask test does)"
        );
    }
    found
}

/// Whether Alertmanager (Debian's `prometheus-alertmanager`) is installed; says so loudly
/// when not, naming `test`.
pub fn alertmanager_installed_or_skip(test: &str) -> bool {
    let found = Command::new(ALERTMANAGER)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED {test}: {ALERTMANAGER} not installed (apt-get install \
             prometheus-alertmanager; cargo xtask test does)"
        );
    }
    found
}

/// The Alertmanager binary as Debian installs it.
pub const ALERTMANAGER: &str = "prometheus-alertmanager";

/// Alert rules for Prometheus to evaluate (every second) and the Alertmanager it sends
/// the alerts to.
#[derive(Clone, Debug)]
pub struct Alerting<'a> {
    pub rule_files: &'a [&'a Path],
    pub alertmanager: SocketAddr,
}

pub struct Prometheus<'ns> {
    child: Child,
    ns: &'ns Netns,
    addr: SocketAddr,
    dir: PathBuf,
}

impl<'ns> Prometheus<'ns> {
    /// Starts Prometheus in `ns`, listening on `addr`, scraping every second with
    /// `scrape_configs` (the YAML list under that key, indented by two spaces).
    pub fn start(
        ns: &'ns Netns,
        addr: SocketAddr,
        scrape_configs: &str,
    ) -> io::Result<Prometheus<'ns>> {
        Self::start_alerting(ns, addr, scrape_configs, None)
    }

    /// [`Prometheus::start`], also evaluating `alerting`'s rules every second and sending
    /// what fires to its Alertmanager.
    pub fn start_alerting(
        ns: &'ns Netns,
        addr: SocketAddr,
        scrape_configs: &str,
        alerting: Option<&Alerting>,
    ) -> io::Result<Prometheus<'ns>> {
        let dir = std::env::temp_dir().join(format!(
            "faultd-prom-{}-{}",
            std::process::id(),
            addr.port()
        ));
        fs::create_dir_all(&dir)?;
        let config = dir.join("prometheus.yml");
        let mut yaml = String::from("global:\n  scrape_interval: 1s\n");
        if let Some(a) = alerting {
            yaml.push_str("  evaluation_interval: 1s\nrule_files:\n");
            for f in a.rule_files {
                yaml.push_str(&format!("  - '{}'\n", f.display()));
            }
            yaml.push_str(&format!(
                "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n",
                a.alertmanager
            ));
        }
        yaml.push_str(&format!("scrape_configs:\n{scrape_configs}"));
        fs::write(&config, yaml)?;
        let child = ns
            .command("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("prometheus.log"))?)
            .spawn()?;
        Ok(Prometheus {
            child,
            ns,
            addr,
            dir,
        })
    }

    /// The body of `/api/v1/query?query=QUERY` (QUERY URL-encoded by the caller), if
    /// Prometheus answers 200.
    pub fn query(&self, query: &str) -> Option<String> {
        let r = http_get(
            Some(self.ns),
            self.addr,
            &format!("/api/v1/query?query={query}"),
            None,
        )
        .ok()?;
        (r.status == 200).then_some(r.body)
    }

    /// What Prometheus has logged (scrape errors show here).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A real Alertmanager in a test's namespace, clustering off, with the configuration
/// `config` (its YAML: `route:`, `receivers:`).
pub struct Alertmanager<'ns> {
    child: Child,
    ns: &'ns Netns,
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl<'ns> Alertmanager<'ns> {
    /// Starts Alertmanager in `ns` on `addr` and waits (20 s at most) until it is ready.
    pub fn start(ns: &'ns Netns, addr: SocketAddr, config: &str) -> io::Result<Alertmanager<'ns>> {
        let dir =
            std::env::temp_dir().join(format!("faultd-am-{}-{}", std::process::id(), addr.port()));
        fs::create_dir_all(&dir)?;
        let file = dir.join("alertmanager.yml");
        fs::write(&file, config)?;
        let child = ns
            .command(ALERTMANAGER)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("alertmanager.log"))?)
            .spawn()?;
        let mut am = Alertmanager {
            child,
            ns,
            addr,
            dir,
        };
        let ready = crate::netns::wait_for(std::time::Duration::from_secs(20), || {
            if let Ok(Some(_)) = am.child.try_wait() {
                return Some(false);
            }
            http_get(Some(am.ns), am.addr, "/-/ready", None)
                .is_ok_and(|r| r.status == 200)
                .then_some(true)
        });
        if ready != Some(true) {
            let _ = am.child.kill();
            return Err(io::Error::other(format!(
                "Alertmanager did not come up:\n{}",
                am.log()
            )));
        }
        Ok(am)
    }

    /// What Alertmanager has logged (failed notifications show here).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for Alertmanager<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A PromQL query as a URL's query string needs it (`%XX` for every byte but the
/// unreserved ones).
pub fn encoded(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every query of the Grafana dashboard (contrib/grafana/faultd-dashboard.json) with its
/// panel's title, Grafana's variables set as a user's first look sets them (every host, a
/// rate window of a few scrapes, a range of five minutes).
pub fn dashboard_queries() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contrib/grafana/faultd-dashboard.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(path).expect("the dashboard")).expect("JSON");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or("").to_owned();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or("");
            let q = expr
                .replace("$instance", ".*")
                .replace("$__rate_interval", "10s")
                .replace("$__range", "5m");
            out.push((title.clone(), q));
        }
    }
    out
}
