//! A `faultd run` under test: started in a network namespace, scraped, stopped with SIGTERM.
//! The live end-to-end tests and `cargo xtask demo` drive the daemon through it, so both
//! look at faultd the way a user does: through `/metrics`, `/api/faults` and its exit.

use std::{
    collections::BTreeMap,
    fs, io,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::atomic::{AtomicU16, Ordering},
    time::Duration,
};

use crate::netns::{HttpResponse, Netns, http_get, wait_for};

/// One metrics scrape: series (`name{labels}` exactly as exposed) to value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape(pub BTreeMap<String, f64>);

impl Scrape {
    /// Parses the Prometheus text format (comments skipped, timestamps ignored).
    pub fn parse(text: &str) -> Scrape {
        let mut m = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            // Label values faultd exposes have no spaces, so the value follows the last '}'
            // or the first space.
            let split = line
                .rfind('}')
                .map_or_else(|| line.find(' '), |i| Some(i + 1));
            let Some(i) = split else { continue };
            let (series, rest) = line.split_at(i);
            if let Some(v) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) {
                m.insert(series.to_owned(), v);
            }
        }
        Scrape(m)
    }

    pub fn get(&self, series: &str) -> Option<f64> {
        self.0.get(series).copied()
    }

    /// A counter or gauge as an integer; 0 when absent.
    pub fn u64(&self, series: &str) -> u64 {
        self.get(series).unwrap_or(0.0) as u64
    }

    pub fn frames(&self, class: &str) -> u64 {
        self.u64(&format!("faultd_class_frames_total{{class=\"{class}\"}}"))
    }

    pub fn frames_seen(&self) -> u64 {
        self.u64("faultd_frames_total")
    }
}

/// A unique loopback port and bpffs pin path per daemon, so tests can run side by side.
pub fn unique(tag: &str) -> (SocketAddr, PathBuf) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let port = 20000 + (std::process::id() % 500) as u16 * 64 + n % 64;
    (
        SocketAddr::from(([127, 0, 0, 1], port)),
        PathBuf::from(format!(
            "/sys/fs/bpf/faultd-test-{tag}-{}-{n}",
            std::process::id()
        )),
    )
}

pub struct Daemon<'ns> {
    child: Option<Child>,
    ns: &'ns Netns,
    pub addr: SocketAddr,
    stderr: PathBuf,
}

impl<'ns> Daemon<'ns> {
    /// Starts `faultd run ARGS --listen ADDR` inside `ns` and waits until it serves
    /// `/metrics`. If it exits first, the error carries what it printed.
    pub fn start(
        faultd: &Path,
        ns: &'ns Netns,
        addr: SocketAddr,
        args: &[&str],
    ) -> io::Result<Daemon<'ns>> {
        Self::start_with(
            faultd,
            ns,
            addr,
            args,
            |_| {},
            |d| d.get("/metrics", None).is_ok_and(|r| r.status == 200),
        )
    }

    /// [`Daemon::start`] with the command adjusted by `prepare` (e.g. resource limits) and
    /// `ready` saying when it is up (e.g. a TLS listener, which a plain GET cannot ask).
    pub fn start_with(
        faultd: &Path,
        ns: &'ns Netns,
        addr: SocketAddr,
        args: &[&str],
        prepare: impl FnOnce(&mut Command),
        ready: impl Fn(&Daemon) -> bool,
    ) -> io::Result<Daemon<'ns>> {
        Self::start_wrapped(&[], faultd, ns, addr, args, prepare, ready)
    }

    /// [`Daemon::start_with`], faultd started by `wrapper` (a command that execs the rest
    /// of its arguments, e.g. `setpriv --reuid ... --`), so the pid is still faultd's.
    pub fn start_wrapped(
        wrapper: &[&str],
        faultd: &Path,
        ns: &'ns Netns,
        addr: SocketAddr,
        args: &[&str],
        prepare: impl FnOnce(&mut Command),
        ready: impl Fn(&Daemon) -> bool,
    ) -> io::Result<Daemon<'ns>> {
        let stderr = std::env::temp_dir().join(format!(
            "faultd-daemon-{}-{}.log",
            std::process::id(),
            addr.port()
        ));
        let mut cmd = wrapped(ns, wrapper, faultd);
        cmd.arg("run")
            .args(args)
            .arg("--listen")
            .arg(addr.to_string())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr)?);
        prepare(&mut cmd);
        let child = cmd.spawn()?;
        let mut d = Daemon {
            child: Some(child),
            ns,
            addr,
            stderr,
        };
        let up = wait_for(Duration::from_secs(20), || {
            if let Ok(Some(_)) = d.child.as_mut().expect("running").try_wait() {
                return Some(false);
            }
            ready(&d).then_some(true)
        });
        match up {
            Some(true) => Ok(d),
            _ => {
                let _ = d.kill();
                Err(io::Error::other(format!(
                    "faultd run {} did not come up:\n{}",
                    args.join(" "),
                    d.log()
                )))
            }
        }
    }

    pub fn get(&self, path: &str, accept: Option<&str>) -> io::Result<HttpResponse> {
        http_get(Some(self.ns), self.addr, path, accept)
    }

    pub fn scrape(&self) -> io::Result<Scrape> {
        let r = self.get("/metrics", None)?;
        if r.status != 200 {
            return Err(io::Error::other(format!(
                "/metrics: {} {}",
                r.status, r.body
            )));
        }
        Ok(Scrape::parse(&r.body))
    }

    /// Scrapes until `ready` holds (the kernel counts asynchronously to the sender).
    pub fn scrape_until(&self, ready: impl Fn(&Scrape) -> bool) -> io::Result<Scrape> {
        self.scrape_within(Duration::from_secs(10), ready)
    }

    /// [`Daemon::scrape_until`] with room for detectors whose deadlines are seconds away.
    pub fn scrape_within(
        &self,
        timeout: Duration,
        ready: impl Fn(&Scrape) -> bool,
    ) -> io::Result<Scrape> {
        let last = std::cell::RefCell::new(Scrape::default());
        wait_for(timeout, || {
            let s = self.scrape().ok()?;
            let ok = ready(&s);
            *last.borrow_mut() = s.clone();
            ok.then_some(s)
        })
        .ok_or_else(|| {
            io::Error::other(format!(
                "metrics never reached the expected values; last scrape:\n{:#?}",
                last.borrow().0
            ))
        })
    }

    /// faultd's own process id (`nsenter` execs it), e.g. for its CPU time in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the daemon has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then waits (10 s at most) for it to exit: its status and its log.
    pub fn stop(mut self) -> io::Result<(ExitStatus, String)> {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = wait_for(Duration::from_secs(10), || child.try_wait().ok().flatten());
        let status = match status {
            Some(s) => s,
            None => {
                let _ = child.kill();
                return Err(io::Error::other(format!(
                    "faultd did not stop within 10 s of SIGTERM:\n{}",
                    self.log()
                )));
            }
        };
        Ok((status, self.log()))
    }

    fn kill(&mut self) -> io::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a daemon holding an interface.
        let _ = self.kill();
        let _ = fs::remove_file(&self.stderr);
    }
}

/// Whether `iface` (inside `ns`) carries an XDP program, as `ip link` shows it.
pub fn has_xdp(ns: &Netns, iface: &str) -> bool {
    ns.command("ip")
        .args(["link", "show", "dev", iface])
        .output()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout);
            s.contains("prog/xdp") || s.contains(" xdp")
        })
        .unwrap_or(false)
}

/// `faultd detach --pin-path PIN`, as a user runs it after a daemon that kept its program
/// attached (and as tests clean up after one that may have).
pub fn detach(faultd: &Path, pin: impl AsRef<Path>) -> Output {
    Command::new(faultd)
        .arg("detach")
        .arg("--pin-path")
        .arg(pin.as_ref())
        .output()
        .expect("faultd runs")
}

/// [`detach`], which must succeed.
#[track_caller]
pub fn detach_ok(faultd: &Path, pin: impl AsRef<Path>) {
    let out = detach(faultd, pin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything under a pin path, depth first, as `find` lists it (empty when it is absent).
pub fn pins_left(p: &Path) -> Vec<String> {
    let Ok(d) = fs::read_dir(p) else {
        return Vec::new();
    };
    let mut out: Vec<String> = d
        .flatten()
        .flat_map(|e| {
            let mut v = vec![e.path().display().to_string()];
            v.extend(pins_left(&e.path()));
            v
        })
        .collect();
    out.sort();
    out
}

/// `faultd run ARGS` inside `ns`, expected to refuse to start: its exit code and stderr.
/// One still running after 20 s was not refused: it is killed and the test fails.
#[track_caller]
pub fn run_refused(faultd: &Path, ns: &Netns, args: &[&str]) -> (Option<i32>, String) {
    run_refused_wrapped(&[], faultd, ns, args)
}

/// [`run_refused`], faultd started by `wrapper` (see [`Daemon::start_wrapped`]).
#[track_caller]
pub fn run_refused_wrapped(
    wrapper: &[&str],
    faultd: &Path,
    ns: &Netns,
    args: &[&str],
) -> (Option<i32>, String) {
    let stderr = std::env::temp_dir().join(format!(
        "faultd-refused-{}-{}.log",
        std::process::id(),
        NEXT_REFUSED.fetch_add(1, Ordering::Relaxed)
    ));
    let mut child = wrapped(ns, wrapper, faultd)
        .arg("run")
        .args(args)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr).expect("a temp file"))
        .spawn()
        .expect("faultd starts");
    let status = wait_for(Duration::from_secs(20), || child.try_wait().ok().flatten());
    let log = fs::read_to_string(&stderr).unwrap_or_default();
    let _ = fs::remove_file(&stderr);
    match status {
        Some(s) => (s.code(), log),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("faultd run {} was not refused:\n{log}", args.join(" "));
        }
    }
}

static NEXT_REFUSED: AtomicU16 = AtomicU16::new(0);

/// `faultd` in `ns`, behind `wrapper` if there is one.
fn wrapped(ns: &Netns, wrapper: &[&str], faultd: &Path) -> Command {
    match wrapper.split_first() {
        Some((program, rest)) => {
            let mut cmd = ns.command(program);
            cmd.args(rest).arg(faultd);
            cmd
        }
        None => ns.command(faultd),
    }
}
