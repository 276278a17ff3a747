//! faultd: finds the faults of old LANs (NetBIOS, IPX/NCP, PPTP, SMS) on the wire.

use std::{
    io::{self, Write as _},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use fault_common::Event;

use fault_user::config::{self, LogFormat};
use fault_user::{
    bench::BenchInputError,
    capture::{CaptureError, Frame, STDIN, Timeline},
    detect::{self, Fault, Pipeline},
    ebpf::LoadError,
    engine::{self, EngineError, EngineKind, Run},
    flows::{
        PinnedError,
        view::{FlowArgs, View},
    },
    live::{
        self, LiveError,
        attach::{self, AttachError, ModeArg},
    },
    names,
    progress::{self, Progress},
    render,
    settings::Nanos,
};

#[derive(Parser)]
#[command(
    name = "faultd",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("FAULTD_GIT_REVISION"), ")"),
    about = "Network fault detector for NetBIOS, IPX/NCP, PPTP and SMS, on eBPF/XDP",
    after_long_help = EXIT_STATUS
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How faultd's own messages on stderr look: text, or one JSON object per line (ts,
    /// level, target, msg) for a log collector. Fault records are not messages: they go to
    /// stdout, the fault log and /api/faults.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// RUST_LOG still chooses what is logged (default info).
fn init_logging(format: LogFormat) {
    let mut b = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if format == LogFormat::Json {
        b.format(|buf, record| {
            let line = serde_json::json!({
                "ts": buf.timestamp_micros().to_string(),
                "level": record.level().as_str().to_ascii_lowercase(),
                "target": record.target(),
                "msg": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        });
    }
    b.init();
}

/// Every command's exit status (`is_users_problem` decides it).
const EXIT_STATUS: &str = "\
EXIT STATUS:
  0  done
  1  faultd itself failed (a bug, or the kernel failed it unexpectedly)
  2  the user can put it right: a bad flag; an input that is missing, unreadable, a
     directory or not a capture faultd reads (after the results of the frames before
     a bad record); a refused start (no privilege, no such interface, address in use)";

#[derive(Subcommand)]
enum Command {
    /// Count the frames of captures in each class, as the XDP program does live.
    Classify(Offline),
    /// Run the detectors over captures on their own packet times and print the fault
    /// records, one per line; --events prints the events they are fed instead, --flows
    /// the flows.
    Replay(ReplayArgs),
    /// Watch live interfaces: attach the XDP program, run the detectors, serve /metrics
    /// and /api/faults (root, or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON). SIGINT/SIGTERM
    /// detach; SIGHUP reopens the fault log.
    Run(RunArgs),
    /// The flows the XDP program counts, read from the maps pinned by a running faultd or
    /// by a program kept attached (--keep-attached): who still speaks NetBIOS, IPX, PPTP...
    /// (root or CAP_BPF). With --by host, the inventory of legacy protocols per host.
    Flows(FlowsArgs),
    /// Remove what `faultd run --keep-attached` left: the attachments and the pinned maps
    /// (refused while a faultd runs on that pin path).
    Detach(DetachArgs),
    /// Check a `faultd run --config` file and print the settings it makes, every key with
    /// its value (exit 2, naming the key and the line, if it is bad).
    CheckConfig(CheckConfigArgs),
    /// What a fault is, how faultd recognises it, its record, and what to do about it;
    /// without FAULT, the list of faults.
    Explain(ExplainArgs),
    /// Measure the XDP program per frame of a capture, by class, next to an empty XDP
    /// program (BPF_PROG_TEST_RUN; root or CAP_BPF).
    Bench(Bench),
    /// Write the man pages (faultd.1, and faultd-COMMAND.1 for each command) into DIR.
    #[command(hide = true)]
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on stdout (the package ships bash, zsh, fish).
    #[command(hide = true)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Settings from a TOML file: every flag below is a key (`_` for `-`), the detectors'
    /// in [detectors.<fault id>] sections; flags given here win over it. `faultd
    /// check-config FILE` shows what it sets.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// An interface to watch; repeat for more.
    #[arg(long = "iface", value_name = "IF", required_unless_present = "config")]
    ifaces: Vec<String>,
    /// auto: native (driver) XDP, else skb with a warning; native or skb: only that.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    xdp_mode: ModeArg,
    /// Where the maps (and kept attachments) are pinned, on a BPF file system; the
    /// layout version is a directory below it. One daemon per DIR (it is locked while
    /// faultd runs); DIR and the directories between it and the mount must be faultd's
    /// user's and not writable by group or others.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PIN_PATH)]
    pin_path: PathBuf,
    /// Leave the program attached, counting, when faultd stops (`faultd detach` removes it).
    #[arg(long)]
    keep_attached: bool,
    /// Append every fault record to FILE as a JSON line, whole or not at all: records the
    /// file cannot take (a full disk) wait, up to 4096, and are written in order when it can.
    #[arg(long, value_name = "FILE")]
    fault_log: Option<PathBuf>,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    detectors: detect::Config,
    /// Also run the test detector (an unanswered NBNS query for FAULTD-CANARY).
    #[arg(long, hide = true)]
    canary: bool,
}

/// The /metrics and /api/faults server. Each connection is closed when it overstays its
/// phase: the header timeout from its opening to its first request head, the request
/// timeout for an answer, the idle timeout between requests on a kept-alive connection.
#[derive(clap::Args)]
#[command(next_help_heading = "HTTP server")]
struct HttpArgs {
    /// Address of the /metrics and /api/faults server. Anything but loopback shows the
    /// metrics and fault records to the network: faultd warns unless --web-config-file
    /// sets up TLS or basic auth.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:10137")]
    listen: SocketAddr,
    /// TLS and basic auth, in the Prometheus exporter toolkit's YAML format:
    /// tls_server_config {cert_file, key_file, client_auth_type, client_ca_file} and
    /// basic_auth_users {NAME: BCRYPT-HASH}. Any other key, or a file that does not load,
    /// stops faultd at start (exit 2).
    #[arg(long, value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Open connections at most. At the cap a new connection takes the slot of the one
    /// that has waited longest for a request (that one is closed), or is closed at once if
    /// every slot is serving a request; a warning says so at most every 10 s.
    #[arg(long, value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    http_max_connections: u32,
    /// From a connection's opening (and TLS handshake) to its first complete request head.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    http_header_timeout: Nanos,
    /// A kept-alive connection's wait for its next complete request head.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    http_idle_timeout: Nanos,
    /// From a request's head to the last byte of its response.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    http_request_timeout: Nanos,
}

impl HttpArgs {
    fn limits(&self) -> live::HttpLimits {
        live::HttpLimits {
            max_connections: self.http_max_connections as usize,
            header_timeout: self.http_header_timeout.into(),
            idle_timeout: self.http_idle_timeout.into(),
            request_timeout: self.http_request_timeout.into(),
        }
    }
}

#[derive(clap::Args)]
struct CheckConfigArgs {
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(clap::Args)]
struct ExplainArgs {
    #[arg(value_name = "FAULT", value_parser = clap::builder::PossibleValuesParser::new(
        detect::REGISTRY.iter().map(|e| e.id)))]
    fault: Option<String>,
}

#[derive(clap::Args)]
struct FlowsArgs {
    /// The pin path of the daemon (or of the kept program), as `faultd run` was given it.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PIN_PATH)]
    pin_path: PathBuf,
    #[command(flatten)]
    view: FlowArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(clap::Args)]
struct DetachArgs {
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PIN_PATH)]
    pin_path: PathBuf,
}

const DEFAULT_PIN_PATH: &str = "/sys/fs/bpf/faultd";

#[derive(clap::Args)]
struct Bench {
    file: PathBuf,
    /// Runs per frame and program, in all.
    #[arg(long, default_value_t = 50_000)]
    repeat: u32,
    /// Rounds the runs are split into; the programs take turns frame by frame in each.
    #[arg(long, default_value_t = 10)]
    rounds: u32,
    /// Another build's XDP object (e.g. a copy of target/*/build/fault-user-*/out/fault-ebpf
    /// before a change): measured in the same rounds, its figures and the paired
    /// difference shown beside this build's.
    #[arg(long, value_name = "OBJECT")]
    against: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ReplayArgs {
    #[command(flatten)]
    offline: Offline,
    /// The detectors' settings ([detectors] sections, allow lists included) from a
    /// `faultd run --config` file; flags given here win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the events the XDP program hands to the detectors, not the fault records.
    #[arg(long, conflicts_with = "flows")]
    events: bool,
    /// Print the capture's flows (as `faultd flows` does live), not the fault records.
    #[arg(long)]
    flows: bool,
    #[command(flatten)]
    view: FlowArgs,
    #[command(flatten)]
    detectors: detect::Config,
    /// Also run the test detector (an unanswered NBNS query for FAULTD-CANARY).
    #[arg(long, hide = true)]
    canary: bool,
}

#[derive(clap::Args)]
struct Offline {
    /// Captures to read as one: pcap, pcapng or snoop files, as they are or compressed
    /// with gzip or zstd; Ethernet, Linux cooked, raw IP, Cisco HDLC or BSD loopback
    /// (pcapng interfaces of other link types are skipped, said on stderr). A directory
    /// stands for its files (one level deep, hidden ones left out, any that is not a
    /// capture skipped); `-` is standard input. Frames of several captures are merged in
    /// packet time order (rotated files, or two interfaces of one incident).
    #[arg(value_name = "CAPTURE", required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// user: the XDP program's parser compiled for userspace, no privilege needed, about
    /// ten times faster; kernel: the XDP program itself via BPF_PROG_TEST_RUN (root or
    /// CAP_BPF). The tests hold the two to identical results.
    #[arg(long, value_enum, default_value_t = EngineKind::User)]
    engine: EngineKind,
    /// A progress line on stderr (frames, bytes, rate, time left): auto shows it when
    /// stderr is a terminal (and stdout is not), redrawn in place; always also writes it
    /// to a file or pipe, every 5 s and at the end. Standard output is the same either way.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = progress::When::Auto)]
    progress: progress::When,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Json,
    Text,
}

fn main() -> ExitCode {
    let cmd = <Cli as clap::CommandFactory>::command();
    let parsed = cmd.try_get_matches().and_then(|m| {
        use clap::FromArgMatches as _;
        Cli::from_arg_matches(&m).map(|cli| (cli, m))
    });
    let (mut cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidSubcommand => {
            // clap names the bad command but not the good ones.
            let cmd = <Cli as clap::CommandFactory>::command();
            let names: Vec<&str> = cmd
                .get_subcommands()
                .filter(|c| !c.is_hide_set())
                .map(|c| c.get_name())
                .collect();
            eprintln!(
                "{}\ncommands: {}",
                e.render().to_string().trim_end(),
                names.join(", ")
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    // The file's settings, under the flags given; its log format decides the logging's.
    let configured = match (&mut cli.command, matches.subcommand()) {
        (Command::Run(r), Some(("run", m))) => with_config_file(r, m, &mut cli.log_format),
        (Command::Replay(r), Some(("replay", m))) => replay_config(r, m),
        _ => Ok(()),
    };
    init_logging(cli.log_format);
    if let Err(e) = configured {
        return fail(cli.log_format, &e.into());
    }
    let result = match cli.command {
        Command::Classify(o) => classify(&o),
        Command::Replay(r) => replay(&r),
        Command::Bench(b) => bench(&b),
        Command::Run(r) => run(r),
        Command::Flows(f) => flows(&f),
        Command::Detach(d) => detach(&d),
        Command::CheckConfig(c) => check_config(&c.file),
        Command::Explain(e) => {
            let kind = detect::REGISTRY
                .iter()
                .find(|r| e.fault.as_deref() == Some(r.id))
                .map(|r| r.kind);
            match kind {
                Some(k) => print!("{}", fault_user::explain::explain(k)),
                None => print!("{}", fault_user::explain::list()),
            }
            Ok(())
        }
        Command::Man { dir } => man(&dir),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "faultd", &mut io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(cli.log_format, &e),
    }
}

/// Says what went wrong, as the log format has it, and chooses the exit status.
fn fail(format: LogFormat, e: &anyhow::Error) -> ExitCode {
    match format {
        LogFormat::Json => log::error!("{}", message(e)),
        LogFormat::Text => eprintln!("faultd: {}", message(e)),
    }
    if is_users_problem(e) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// Takes every setting of `--config`'s file that no flag on the command line gave.
fn with_config_file(
    r: &mut RunArgs,
    m: &clap::ArgMatches,
    log_format: &mut LogFormat,
) -> Result<(), config::ConfigError> {
    let Some(path) = r.config.clone() else {
        return Ok(());
    };
    let f = config::File::load(&path)?;
    let unset = |id: &str| m.value_source(id) != Some(clap::parser::ValueSource::CommandLine);
    macro_rules! take {
        ($id:literal, $field:expr, $value:expr) => {
            if unset($id)
                && let Some(v) = $value
            {
                $field = v;
            }
        };
    }
    take!("ifaces", r.ifaces, f.iface);
    take!("xdp_mode", r.xdp_mode, f.xdp_mode);
    take!("pin_path", r.pin_path, f.pin_path);
    take!("keep_attached", r.keep_attached, f.keep_attached);
    take!("fault_log", r.fault_log, f.fault_log.map(Some));
    take!("log_format", *log_format, f.log_format);
    take!("listen", r.http.listen, f.listen);
    take!(
        "web_config_file",
        r.http.web_config_file,
        f.web_config_file.map(Some)
    );
    take!(
        "http_max_connections",
        r.http.http_max_connections,
        f.http_max_connections
    );
    take!(
        "http_header_timeout",
        r.http.http_header_timeout,
        f.http_header_timeout
    );
    take!(
        "http_idle_timeout",
        r.http.http_idle_timeout,
        f.http_idle_timeout
    );
    take!(
        "http_request_timeout",
        r.http.http_request_timeout,
        f.http_request_timeout
    );
    merge_detectors(&mut r.detectors, m, f.detectors);
    if r.ifaces.is_empty() {
        return Err(config::ConfigError {
            path,
            message: "no interface to watch: give iface = [\"eth0\"] here or --iface".into(),
        });
    }
    Ok(())
}

/// The detectors' settings of a configuration file under the flags given. A group's
/// allow list has no flag: it is always the file's.
fn merge_detectors(d: &mut detect::Config, m: &clap::ArgMatches, mut fd: detect::Config) {
    let unset = |id: &str| m.value_source(id) != Some(clap::parser::ValueSource::CommandLine);
    macro_rules! take {
        ($id:literal, $group:ident, $field:ident) => {
            if unset($id) {
                d.$group.$field = fd.$group.$field;
            }
        };
    }
    take!("nbns-timeout", nbns, timeout);
    take!("wins-episode", wins_backup_swap, episode);
    take!("nbstat-window", netbios_ip_connect_failure, window);
    take!("ncp-timeout", ncp_wrong_socket, timeout);
    take!("sms-report-interval", sms_port_conflict, report_interval);
    take!("pptp-clear-timeout", ras_port_leak, clear_timeout);
    take!("wins-clients", wins_backup_swap, clients);
    take!("nbstat-episodes", netbios_ip_connect_failure, episodes);
    take!("ncp-nodes", ncp_wrong_socket, nodes);
    take!("ncp-pending", ncp_wrong_socket, pending);
    take!("sms-entries", sms_port_conflict, entries);
    take!("pptp-entries", ras_port_leak, entries);
    d.wins_backup_swap.allow = std::mem::take(&mut fd.wins_backup_swap.allow);
    d.netbios_ip_connect_failure.allow = std::mem::take(&mut fd.netbios_ip_connect_failure.allow);
    d.ncp_wrong_socket.allow = std::mem::take(&mut fd.ncp_wrong_socket.allow);
    d.sms_port_conflict.allow = std::mem::take(&mut fd.sms_port_conflict.allow);
    d.ras_port_leak.allow = std::mem::take(&mut fd.ras_port_leak.allow);
}

/// `faultd replay --config FILE`: the file's detector settings, under the flags given.
fn replay_config(r: &mut ReplayArgs, m: &clap::ArgMatches) -> Result<(), config::ConfigError> {
    if let Some(path) = &r.config {
        let f = config::File::load(path)?;
        merge_detectors(&mut r.detectors, m, f.detectors);
    }
    Ok(())
}

/// The settings `faultd run --config FILE` makes, with no flag: every key, written as the
/// file takes it.
fn check_config(path: &std::path::Path) -> anyhow::Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let path_arg = path.as_os_str().to_owned();
    let m =
        cmd.try_get_matches_from(["faultd".into(), "run".into(), "--config".into(), path_arg])?;
    let mut cli = {
        use clap::FromArgMatches as _;
        Cli::from_arg_matches(&m)?
    };
    let Command::Run(r) = &mut cli.command else {
        unreachable!("parsed as run")
    };
    with_config_file(
        r,
        m.subcommand_matches("run").expect("run"),
        &mut cli.log_format,
    )?;
    let effective = config::File {
        iface: Some(r.ifaces.clone()),
        xdp_mode: Some(r.xdp_mode),
        pin_path: Some(r.pin_path.clone()),
        keep_attached: Some(r.keep_attached),
        fault_log: r.fault_log.clone(),
        log_format: Some(cli.log_format),
        listen: Some(r.http.listen),
        web_config_file: r.http.web_config_file.clone(),
        http_max_connections: Some(r.http.http_max_connections),
        http_header_timeout: Some(r.http.http_header_timeout),
        http_idle_timeout: Some(r.http.http_idle_timeout),
        http_request_timeout: Some(r.http.http_request_timeout),
        detectors: r.detectors.clone(),
    };
    print!("{}", effective.to_toml());
    Ok(())
}

/// The error and its causes, leaving out a cause its parent already quoted.
fn message(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out = format!("{out}: {c}");
        }
    }
    out
}

/// The exit-status policy of every command, here and nowhere else (README.md, "Exit
/// status", and `faultd --help` say the same): 2 when the user can put it right (a bad flag,
/// an input that is missing, unreadable or not a capture faultd reads, a refused start: no
/// privilege, an interface or address not there or taken), 1 when faultd itself failed.
/// clap gives bad flags their 2.
fn is_users_problem(e: &anyhow::Error) -> bool {
    let load = |e: &LoadError| matches!(e, LoadError::Permission | LoadError::NoObject);
    let attach =
        |e: &AttachError| !matches!(e, AttachError::Attach { .. } | AttachError::Link { .. });
    e.chain().any(|c| {
        if let Some(e) = c.downcast_ref::<LiveError>() {
            return match e {
                LiveError::Preflight(_) => true,
                LiveError::Attach(e) => attach(e),
                LiveError::Load(e) => load(e),
                LiveError::FaultLog(_) | LiveError::WebConfig(_) | LiveError::Listen { .. } => true,
                LiveError::Map { .. } | LiveError::Io(_) => false,
            };
        }
        if let Some(EngineError::Load(e)) = c.downcast_ref::<EngineError>() {
            return load(e);
        }
        c.downcast_ref::<LoadError>().is_some_and(load)
            || c.downcast_ref::<AttachError>().is_some_and(attach)
            || c.is::<CaptureError>()
            || c.is::<config::ConfigError>()
            || c.is::<BenchInputError>()
            || c.downcast_ref::<PinnedError>().is_some_and(|e| {
                matches!(e, PinnedError::NotPinned(_) | PinnedError::Permission(_))
            })
    })
}

/// Runs every frame of the captures through the engine, in packet time order, handing
/// each frame's events to `on_events`. A capture that turns bad part-way still yields what
/// came before it, and the others go on: the caller prints the results, then the failures
/// ([`failed`]). What was skipped (pcapng interfaces faultd does not read, files of a
/// directory that are not captures) is said on stderr: stdout stays what it would be
/// without them.
fn run_capture(
    o: &Offline,
    mut on_events: impl FnMut(&[Event]) -> io::Result<()>,
) -> anyhow::Result<(Run, Vec<CaptureError>)> {
    let mut timeline = Timeline::open(&o.files)?;
    let mut engine = engine::open(o.engine)?;
    let mut progress = Progress::new(o.progress);
    let total = timeline.bytes_total();
    let mut events = Vec::new();
    let mut frames = 0;
    let mut frame = Frame::default();
    while let Some(file) = timeline.next_into(&mut frame) {
        engine
            .captured(frame.ts_ns, &frame.data, frame.wire_len as usize)
            .with_context(|| {
                let path = timeline.path(file).display();
                format!("{path}: frame at byte {}", frame.offset)
            })?;
        engine.drain_events(&mut events)?;
        on_events(&events)?;
        events.clear();
        frames += 1;
        progress.tick(frames, timeline.bytes_read(), total);
    }
    progress.finish(frames, timeline.bytes_read());
    let (notes, failures) = timeline.finish();
    for note in notes {
        eprintln!("faultd: {note}");
    }
    Ok((engine.snapshot()?, failures))
}

/// Every capture that failed part-way is said; the last is the command's error (exit 2).
fn failed(mut failures: Vec<CaptureError>) -> anyhow::Result<()> {
    let Some(last) = failures.pop() else {
        return Ok(());
    };
    for e in failures {
        eprintln!("faultd: {e}");
    }
    Err(last.into())
}

fn classify(o: &Offline) -> anyhow::Result<()> {
    let (run, failures) = run_capture(o, |_| Ok(()))?;
    let names: Vec<String> = o.files.iter().map(|f| f.display().to_string()).collect();
    let mut out = io::stdout().lock();
    // A capture that fails before its first frame (a pcapng file with no interface faultd
    // reads is refused once read through) has no results to show.
    let refused = !failures.is_empty() && run.stats.frames == 0;
    match o.format {
        _ if refused => {}
        Format::Json => writeln!(out, "{}", render::classify_json(&names, &run.stats))?,
        Format::Text => write!(out, "{}", render::classify_text(&names, &run.stats))?,
    }
    failed(failures)
}

fn replay(r: &ReplayArgs) -> anyhow::Result<()> {
    let o = &r.offline;
    if r.flows {
        let (run, failures) = run_capture(o, |_| Ok(()))?;
        let view = View {
            args: r.view.clone(),
            // Flows carry packet times: Unix time already.
            offset_ns: 0,
            evicted: run.stats.flow_updates_failed,
        };
        print_flows(&view, &run.flows, o.format)?;
        return failed(failures);
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    // Read from a pipe, records are wanted as they are found (tcpdump -w - | faultd replay -).
    let live = o.files.iter().any(|f| f.as_os_str() == STDIN);
    let mut pipeline = Pipeline::standard(&r.detectors, r.canary);
    let mut faults = Vec::new();
    let print = |out: &mut io::BufWriter<_>, faults: &mut Vec<Fault>| -> io::Result<()> {
        let any = !faults.is_empty();
        for f in faults.drain(..) {
            match o.format {
                Format::Json => writeln!(out, "{}", f.to_json())?,
                Format::Text => writeln!(
                    out,
                    "{} {} {} -> {}: {}",
                    names::rfc3339(f.ts_ns),
                    f.kind(),
                    f.client,
                    f.server,
                    f.summary
                )?,
            }
        }
        if live && any {
            out.flush()?;
        }
        Ok(())
    };
    let (_, failures) = run_capture(o, |events| {
        for ev in events {
            if r.events {
                match o.format {
                    Format::Json => writeln!(out, "{}", render::event_json(ev))?,
                    Format::Text => writeln!(out, "{}", render::event_text(ev))?,
                }
            } else {
                pipeline.event(ev, &mut faults);
            }
        }
        if r.events && live && !events.is_empty() {
            out.flush()?;
        }
        print(&mut out, &mut faults)
    })?;
    // The end of the capture passes every deadline: a request never answered in it is
    // unanswered (docs/faults.md, "Clock").
    pipeline.finish(&mut faults);
    print(&mut out, &mut faults)?;
    out.flush()?;
    for (kind, n) in pipeline.allowed().filter(|&(_, n)| n > 0) {
        eprintln!("faultd: {n} {kind} records left out: they name a host its allow list has");
    }
    // Part of what `faultd run` counts in faultd_detector_evictions_total: a bound setting
    // too small for the traffic (README, "Bounds").
    let capacity: std::collections::HashMap<_, _> = pipeline.capacity().collect();
    for (detector, n) in pipeline.bound_evictions().filter(|&(_, n)| n > 0) {
        eprintln!(
            "faultd: {n} {detector} state entries evicted: its bounds ({} entries in all) \
             held less than the capture had in flight",
            capacity[detector]
        );
    }
    failed(failures)
}

fn bench(b: &Bench) -> anyhow::Result<()> {
    let report = fault_user::bench::run(&b.file, b.repeat, b.rounds, b.against.as_deref())?;
    if let Some(p) = &b.json_out {
        std::fs::write(p, report.json().to_string())
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    }
    match b.format {
        Format::Text => print!("{}", report.text()),
        Format::Json => println!("{}", report.json()),
    }
    Ok(())
}

fn run(r: RunArgs) -> anyhow::Result<()> {
    live::run(live::Options {
        ifaces: r.ifaces,
        mode: r.xdp_mode,
        pin_path: r.pin_path,
        keep_attached: r.keep_attached,
        listen: r.http.listen,
        http: r.http.limits(),
        web_config: r.http.web_config_file,
        fault_log: r.fault_log,
        detectors: r.detectors.clone(),
        canary: r.canary,
    })?;
    Ok(())
}

/// The man pages from the same clap definitions as `--help`, so the two cannot disagree;
/// the hidden commands are left out, as they are of `--help`.
fn man(dir: &std::path::Path) -> anyhow::Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("writing into {}", dir.display()))
}

/// The view on stdout; that it is partial, on stderr (and as a last JSON line).
fn print_flows(
    view: &View,
    flows: &std::collections::BTreeMap<fault_common::FlowKey, fault_common::FlowValue>,
    format: Format,
) -> anyhow::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        Format::Json => view.write_json(flows, &mut out)?,
        Format::Text => write!(out, "{}", view.text(flows))?,
    }
    out.flush()?;
    if let Some(note) = view.partial_note() {
        eprintln!("faultd: {note}");
    }
    Ok(())
}

fn flows(f: &FlowsArgs) -> anyhow::Result<()> {
    let (flows, stats) = fault_user::flows::read_pinned(&f.pin_path)?;
    let view = View {
        args: f.view.clone(),
        // Live flows carry the kernel's monotonic clock.
        offset_ns: live::monotonic_to_unix(),
        evicted: stats.flow_updates_failed,
    };
    print_flows(&view, &flows, f.format)
}

fn detach(d: &DetachArgs) -> anyhow::Result<()> {
    let removed = attach::detach_all(&d.pin_path)?;
    if removed.is_empty() {
        println!("nothing pinned under {}", d.pin_path.display());
    }
    for p in removed {
        println!("removed {}", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches as _;

    /// clap checks a command's consistency only when it parses one: here for every command,
    /// such as two flattened settings groups under one name (every group's type is called
    /// `Settings`, hence their `#[group(skip)]`).
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }

    /// The settings `faultd ARGS` runs with, the file merged in.
    fn run_settings(args: &[&str]) -> (RunArgs, LogFormat) {
        let m = <Cli as clap::CommandFactory>::command()
            .try_get_matches_from(args)
            .unwrap();
        let mut cli = Cli::from_arg_matches(&m).unwrap();
        let Command::Run(mut r) = cli.command else {
            panic!("not run")
        };
        with_config_file(
            &mut r,
            m.subcommand_matches("run").unwrap(),
            &mut cli.log_format,
        )
        .unwrap();
        (r, cli.log_format)
    }

    #[test]
    fn each_flag_given_wins_over_its_key_and_only_it() {
        let path = std::env::temp_dir().join(format!("faultd-merge-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "iface = [\"a0\"]\nlog_format = \"json\"\nhttp_max_connections = 9\n\
             [detectors.nbns]\ntimeout = \"7s\"\n[detectors.wins_backup_swap]\nepisode = \"90s\"\n\
             clients = 16\n[detectors.sms_port_conflict]\nentries = 32\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let (r, log) = run_settings(&["faultd", "run", "--config", p]);
        assert_eq!(r.ifaces, ["a0"]);
        assert_eq!(log, LogFormat::Json);
        assert_eq!(r.http.http_max_connections, 9);
        assert_eq!(r.detectors.nbns.timeout.ns(), 7_000_000_000);
        assert_eq!(r.detectors.wins_backup_swap.episode.ns(), 90_000_000_000);
        assert_eq!(r.detectors.wins_backup_swap.clients.get(), 16);
        assert_eq!(r.detectors.sms_port_conflict.entries.get(), 32);
        let (r, log) = run_settings(&[
            "faultd",
            "run",
            "--config",
            p,
            "--nbns-timeout",
            "3s",
            "--iface",
            "b0",
            "--log-format",
            "text",
            "--sms-entries",
            "8",
        ]);
        assert_eq!(r.ifaces, ["b0"]);
        assert_eq!(log, LogFormat::Text);
        assert_eq!(r.detectors.nbns.timeout.ns(), 3_000_000_000);
        // The keys no flag overrode still hold.
        assert_eq!(r.detectors.wins_backup_swap.episode.ns(), 90_000_000_000);
        assert_eq!(r.http.http_max_connections, 9);
        assert_eq!(r.detectors.wins_backup_swap.clients.get(), 16);
        assert_eq!(r.detectors.sms_port_conflict.entries.get(), 8);
        let _ = std::fs::remove_file(&path);
    }
}
