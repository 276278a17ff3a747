//! faultd's HTTP server as a scraper and an attacker see it: idle and half-sent connections
//! past the cap do not starve a scrape and are closed on time, the open-file limit is
//! raised, TLS and basic auth from `--web-config-file` guard both endpoints (a real
//! Prometheus scrapes through them), and a bad web config stops faultd at start. The live
//! tests need root (skip loudly without).

use std::{
    io::{self, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine as _;
use fault_tests::{
    daemon::{self, Daemon, Scrape, unique},
    netns::{HttpResponse, Netns, Veth, http_exchange, is_root, wait_for},
    prometheus::{self, Prometheus},
};
use rustls::{ClientConfig, ClientConnection, RootCertStore, crypto::ring};
use rustls_pki_types::{CertificateDer, ServerName};

const FAULTD: &str = env!("CARGO_BIN_EXE_faultd");
/// `--http-max-connections`' default.
const CAP: u64 = 512;

fn root_or_skip(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIPPED {test}: live tests need root (XDP, namespaces)");
    }
    is_root()
}

/// `faultd detach --pin-path PIN`, as a user would run it after the daemon.
#[track_caller]
fn detach(pin: &Path) {
    daemon::detach_ok(Path::new(FAULTD), pin);
}

fn closed(s: &Scrape, reason: &str) -> u64 {
    s.u64(&format!(
        "faultd_http_connections_closed_total{{reason=\"{reason}\"}}"
    ))
}

/// Starts the daemon with a soft open-file limit of 1024, the usual default, under which
/// 1,100 idle connections used to stop every scrape: faultd must raise it itself.
fn soft_nofile_1024(cmd: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: only getrlimit/setrlimit (async-signal-safe) on a local, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return Err(io::Error::last_os_error());
            }
            lim.rlim_cur = lim.rlim_max.min(1024);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
}

/// Soft and hard "Max open files" of a process, from `/proc/PID/limits`.
#[track_caller]
fn open_file_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-file line in /proc/{pid}/limits:\n{limits}"));
    let mut n = line["Max open files".len()..]
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap());
    (n.next().unwrap(), n.next().unwrap())
}

#[test]
fn faultd_raises_its_open_file_limit_and_warns_when_it_listens_beyond_loopback() {
    if !root_or_skip("faultd_raises_its_open_file_limit") {
        return;
    }
    let (a, b) = (Netns::new("ra").unwrap(), Netns::new("rb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (loopback, pin) = unique("rlimit");
    // Every address of the test's namespace; Linux connects to 0.0.0.0 as to loopback.
    let addr = SocketAddr::from(([0, 0, 0, 0], loopback.port()));
    let args = ["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()];
    let d = Daemon::start_with(Path::new(FAULTD), &a, addr, &args, soft_nofile_1024, |d| {
        d.get("/metrics", None).is_ok_and(|r| r.status == 200)
    })
    .unwrap();
    let (soft, hard) = open_file_limits(d.pid());
    assert_eq!(soft, hard, "soft open-file limit not raised");
    if hard > 1024 {
        assert!(
            d.log()
                .contains(&format!("open-file limit raised from 1024 to {hard}")),
            "{}",
            d.log()
        );
    }
    assert!(
        d.log().contains(&format!(
            "--listen {addr} is not a loopback address and there is neither TLS nor basic auth"
        )),
        "{}",
        d.log()
    );
    let (status, _) = d.stop().unwrap();
    assert!(status.success());
    detach(&pin);
}

#[test]
fn idle_and_half_sent_connections_past_the_cap_neither_starve_a_scrape_nor_stay_open() {
    const TEST: &str = "idle_and_half_sent_connections_past_the_cap";
    if !root_or_skip(TEST) {
        return;
    }
    /// Four times the cap, and more than the default soft open-file limit.
    const IDLE: u64 = 2_000;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(4);
    // This process holds every client end.
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a local.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut own), 0);
        if own.rlim_max < IDLE + 256 {
            eprintln!(
                "SKIPPED {TEST}: the hard open-file limit is below {}",
                IDLE + 256
            );
            return;
        }
        own.rlim_cur = own.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &own), 0);
    }
    let (a, b) = (Netns::new("sa").unwrap(), Netns::new("sb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("slow");
    let args = [
        "--iface",
        &veth.a,
        "--pin-path",
        pin.to_str().unwrap(),
        "--http-header-timeout",
        "4s",
    ];
    let d = Daemon::start_with(Path::new(FAULTD), &a, addr, &args, soft_nofile_1024, |d| {
        d.get("/metrics", None).is_ok_and(|r| r.status == 200)
    })
    .unwrap();

    let opened = Instant::now();
    // Half say nothing; half send part of a request head and stop (slowloris).
    let idle: Vec<TcpStream> = a
        .run(|| {
            (0..IDLE)
                .map(|i| {
                    let mut s = TcpStream::connect(addr).unwrap();
                    if i % 2 == 1 {
                        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: faultd\r\n")
                            .unwrap();
                    }
                    s
                })
                .collect()
        })
        .unwrap();
    d.scrape_until(|s| closed(s, "evicted") >= IDLE - CAP)
        .unwrap();

    // The cap is full of idle connections, yet every scrape is answered within a second.
    let mut last = Scrape::default();
    for _ in 0..5 {
        let t = Instant::now();
        let r = d.get("/metrics", None).unwrap();
        let took = t.elapsed();
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(took < Duration::from_secs(1), "a scrape took {took:?}");
        last = Scrape::parse(&r.body);
    }
    assert!(
        opened.elapsed() < HEADER_TIMEOUT,
        "the scrapes ran after the header timeout: they did not test a full cap"
    );
    assert_eq!(last.u64("faultd_http_connections"), CAP, "{:#?}", last.0);
    assert_eq!(last.u64("faultd_http_connections_max"), CAP);
    let log = d.log();
    let warnings = log
        .lines()
        .filter(|l| l.contains("HTTP connection cap (512, --http-max-connections) reached"))
        .count();
    assert!(
        (1..=2).contains(&warnings),
        "one warning per 10 s, not {warnings}:\n{log}"
    );

    // Every idle connection is closed by the header timeout at the latest: the client sees
    // the end of the stream, with no response.
    for (i, mut s) in idle.into_iter().enumerate() {
        s.set_read_timeout(Some(HEADER_TIMEOUT + Duration::from_secs(4)))
            .unwrap();
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(n) => panic!(
                "idle connection {i} got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => panic!(
                "idle connection {i} still open {:?} after it was opened: {e}",
                opened.elapsed()
            ),
        }
    }
    assert!(opened.elapsed() < HEADER_TIMEOUT + Duration::from_secs(3));
    let s = d
        .scrape_until(|s| s.u64("faultd_http_connections") == 1)
        .unwrap();
    // Each idle connection was closed once, by eviction or by the header timeout; no scrape.
    assert_eq!(
        closed(&s, "evicted") + closed(&s, "header_timeout"),
        IDLE,
        "{:#?}",
        s.0
    );
    assert!(closed(&s, "header_timeout") > 0);
    for reason in ["refused", "idle_timeout", "request_timeout"] {
        assert_eq!(closed(&s, reason), 0, "{reason}");
    }
    let (status, _) = d.stop().unwrap();
    assert!(status.success());
    detach(&pin);
}

/// A TLS certificate for 127.0.0.1 and its key, as PEM files in `dir`; the certificate
/// is its own CA.
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (cert, key, c.cert.der().clone())
}

/// `GET path` over TLS, trusting only `ca`, with basic auth when given.
fn https_get(
    ns: &Netns,
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    path: &str,
    auth: Option<(&str, &str)>,
) -> io::Result<HttpResponse> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).map_err(io::Error::other)?;
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let authorization = auth.map(|(user, password)| {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {pair}")
    });
    let headers: Vec<(&str, &str)> = authorization
        .as_deref()
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    ns.run(|| {
        let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut tls = ClientConnection::new(Arc::new(config), ServerName::from(addr.ip()))
            .map_err(io::Error::other)?;
        http_exchange(
            &mut rustls::Stream::new(&mut tls, &mut tcp),
            addr,
            path,
            &headers,
        )
    })?
}

#[test]
fn tls_and_basic_auth_guard_both_endpoints_and_prometheus_scrapes_through_them() {
    const TEST: &str = "tls_and_basic_auth_guard_both_endpoints";
    if !root_or_skip(TEST) || !prometheus::installed_or_skip(TEST) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("faultd-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, ca) = self_signed(&dir, "faultd");
    // Cost 4, bcrypt's least: the daemon under test is a debug build, where cost 10 would
    // take a second per request. The check is the same at any cost.
    let hash = bcrypt::hash("right horse", 4).unwrap();
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n\
             basic_auth_users:\n  scraper: '{hash}'\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();

    let (a, b) = (Netns::new("ta").unwrap(), Netns::new("tb").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("tls");
    let args = [
        "--iface",
        &veth.a,
        "--pin-path",
        pin.to_str().unwrap(),
        "--web-config-file",
        web.to_str().unwrap(),
    ];
    let right = Some(("scraper", "right horse"));
    let d = Daemon::start_with(
        Path::new(FAULTD),
        &a,
        addr,
        &args,
        |_| {},
        |d| https_get(&a, d.addr, &ca, "/metrics", right).is_ok_and(|r| r.status == 200),
    )
    .unwrap();
    assert!(d.log().contains(&format!("serving https://{addr}/metrics")));

    if let Ok(r) = d.get("/metrics", None) {
        panic!("plain HTTP to the TLS listener got {} {}", r.status, r.body);
    }
    for (path, auth) in [
        ("/metrics", None),
        ("/metrics", Some(("scraper", "wrong horse"))),
        ("/metrics", Some(("nobody", "right horse"))),
        ("/api/faults", None),
    ] {
        let r = https_get(&a, addr, &ca, path, auth).unwrap();
        assert_eq!(r.status, 401, "{path} {auth:?}: {}", r.body);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"faultd\""),
            "{path} {auth:?}"
        );
    }
    let r = https_get(&a, addr, &ca, "/metrics", right).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        Scrape::parse(&r.body).u64("faultd_http_connections_max"),
        CAP
    );
    let r = https_get(&a, addr, &ca, "/api/faults", right).unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "[]"));

    // Prometheus itself, with the CA file and the password; a second job with a wrong
    // password must be refused.
    let prom = Prometheus::start(
        &a,
        SocketAddr::from(([127, 0, 0, 1], addr.port() + 1000)),
        &format!(
            "  - job_name: faultd\n    scheme: https\n    \
             basic_auth: {{username: scraper, password: 'right horse'}}\n    \
             tls_config: {{ca_file: '{ca}'}}\n    static_configs: [{{targets: ['{addr}']}}]\n  \
             - job_name: faultd_wrong\n    scheme: https\n    \
             basic_auth: {{username: scraper, password: 'wrong horse'}}\n    \
             tls_config: {{ca_file: '{ca}'}}\n    static_configs: [{{targets: ['{addr}']}}]\n",
            ca = cert.display()
        ),
    )
    .unwrap();
    let up = |job: &str| -> Option<String> {
        let body = prom.query(&format!("up%7Bjob%3D%22{job}%22%7D"))?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        Some(v["data"]["result"][0]["value"][1].as_str()?.to_owned())
    };
    let scraped = wait_for(Duration::from_secs(30), || {
        up("faultd")
            .zip(up("faultd_wrong"))
            .filter(|(ok, _)| ok == "1")
    });
    let (ok, wrong) =
        scraped.unwrap_or_else(|| panic!("Prometheus never scraped faultd:\n{}", prom.log()));
    assert_eq!((ok.as_str(), wrong.as_str()), ("1", "0"));
    drop(prom);
    let (status, _) = d.stop().unwrap();
    assert!(status.success());
    detach(&pin);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `faultd run` with `web.yml` holding `config`; its exit code and stderr.
fn run_with_web_config(dir: &Path, config: &str) -> (i32, String, PathBuf) {
    let file = dir.join("web.yml");
    std::fs::write(&file, config).unwrap();
    // The web config is read before anything else, so no privilege or interface is needed.
    let out = Command::new(FAULTD)
        .args(["run", "--iface", "lo", "--web-config-file"])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        file,
    )
}

#[test]
fn a_bad_web_config_file_stops_faultd_at_start_naming_the_file_and_the_key() {
    let dir = std::env::temp_dir().join(format!("faultd-webcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, _) = self_signed(&dir, "one");
    let (_, other_key, _) = self_signed(&dir, "two");
    let tls = |cert: &Path, key: &Path| {
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            cert.display(),
            key.display()
        )
    };
    let missing = dir.join("missing.crt");
    for (config, want) in [
        (
            "tls_server_confg:\n  cert_file: a\n".to_owned(),
            "unknown field `tls_server_confg`".to_owned(),
        ),
        (
            format!(
                "{}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
                tls(&cert, &key)
            ),
            "unknown field `cipher_suites`".to_owned(),
        ),
        (
            tls(&missing, &key),
            format!("tls_server_config.cert_file: {}", missing.display()),
        ),
        (
            tls(&cert, &other_key),
            format!(
                "tls_server_config: key_file {} is not the key of cert_file {}",
                other_key.display(),
                cert.display()
            ),
        ),
        (
            "basic_auth_users:\n  scraper: right horse\n".to_owned(),
            "basic_auth_users.scraper: not a bcrypt hash".to_owned(),
        ),
    ] {
        let (code, stderr, file) = run_with_web_config(&dir, &config);
        assert_eq!(code, 2, "{config}\n{stderr}");
        assert!(
            stderr.contains(&format!("web config {}: ", file.display())) && stderr.contains(&want),
            "{config}\nwanted {want:?} in:\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
