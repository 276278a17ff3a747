//! A real Prometheus (the Debian package; `cargo xtask test` installs it) scraping a daemon
//! from inside a test's namespace, asked through its HTTP API what it scraped.

use std::{
    fs, io,
    net::SocketAddr,
    path::PathBuf,
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
        let dir = std::env::temp_dir().join(format!(
            "faultd-prom-{}-{}",
            std::process::id(),
            addr.port()
        ));
        fs::create_dir_all(&dir)?;
        let config = dir.join("prometheus.yml");
        fs::write(
            &config,
            format!("global:\n  scrape_interval: 1s\nscrape_configs:\n{scrape_configs}"),
        )?;
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
