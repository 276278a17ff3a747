//! `faultd run`: the live daemon. It attaches the XDP program, feeds the event queue's
//! events to the detectors on packet time (a tick moves the clock on between events),
//! serves `/metrics` and `/api/faults`, follows its interfaces as they go and come back,
//! and on SIGINT/SIGTERM detaches what it attached.

pub mod attach;
mod http;
mod links;
mod notify;
mod page;
pub mod preflight;
mod tick;
pub mod web;

use std::{
    io,
    net::SocketAddr,
    os::fd::{AsFd as _, AsRawFd as _},
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use aya::{
    EbpfLoader,
    maps::{Array, MapData, MapError, PerCpuArray, RingBuf},
    programs::Xdp,
};
use fault_common::{
    Stats, event,
    maps::{
        CLOCK_CALL, CLOCK_IN_METADATA, MAP_CLOCK, MAP_EVENT_BELL, MAP_EVENTS, MAP_FLOWS, MAP_STATS,
        PROGRAM_CLASSIFY, TICK_NS,
    },
};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::watch,
};

use crate::{
    detect::{Fault, Pipeline},
    ebpf::{self, LoadError},
    faultlog::{FaultLog, FaultLogError},
    metrics::Metrics,
};
use crate::{flows::FlowTable, queue::EventQueue};
use attach::{AttachError, Attachment, ModeArg, Pins};
pub use http::Limits as HttpLimits;
use preflight::PreflightError;
use web::{WebConfig, WebConfigError};

/// How often packet time moves on when no event comes.
const TICK: Duration = Duration::from_secs(1);
/// How far CLOCK may trail the monotonic clock before the packet clock's tick counts as
/// stopped: 250 of its periods, far beyond any timer's lateness.
const TICK_STALE: Duration = Duration::from_secs(1);
/// How far behind the wall clock the tick keeps packet time: an event can sit in the event
/// queue a moment (up to a drain), and a deadline must not pass before the answer that beat it is read.
const TICK_LAG_NS: u64 = 500_000_000;

pub struct Options {
    pub ifaces: Vec<String>,
    pub mode: ModeArg,
    pub pin_path: PathBuf,
    pub keep_attached: bool,
    pub listen: SocketAddr,
    pub web_config: Option<PathBuf>,
    pub http: HttpLimits,
    pub fault_log: Option<PathBuf>,
    pub detectors: crate::detect::Config,
    pub canary: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    FaultLog(#[from] FaultLogError),
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: MapError,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn map_err(map: &'static str) -> impl FnOnce(MapError) -> LiveError {
    move |source| LiveError::Map { map, source }
}

/// The maps a scrape reads.
struct KernelMaps {
    stats: PerCpuArray<MapData, Stats>,
    flows: FlowTable,
}

impl KernelMaps {
    /// Counters summed over CPUs, and the number of distinct flows (a flow seen on two
    /// CPUs has a slot in each region of the table).
    fn read(&self) -> Result<(Stats, u64), MapError> {
        let mut stats = Stats::default();
        for cpu in self.stats.get(&0, 0)?.iter() {
            stats.add(cpu);
        }
        Ok((stats, self.flows.count()))
    }

    /// The flows, merged over CPUs, and the counters (for the evictions): `/api/flows`.
    fn flows(
        &self,
    ) -> Result<
        (
            std::collections::BTreeMap<fault_common::FlowKey, fault_common::FlowValue>,
            Stats,
        ),
        MapError,
    > {
        let mut stats = Stats::default();
        for cpu in self.stats.get(&0, 0)?.iter() {
            stats.add(cpu);
        }
        Ok((self.flows.merged(), stats))
    }
}

struct Shared {
    metrics: Arc<Metrics>,
    kernel: Mutex<KernelMaps>,
    log: Arc<FaultLog>,
    /// The event consumer (and so the detectors) runs: what /healthz reports.
    events_running: Arc<AtomicBool>,
}

pub fn run(opts: Options) -> Result<(), LiveError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run_async(opts))
}

async fn run_async(opts: Options) -> Result<(), LiveError> {
    // Everything that can be wrong with the request is checked before anything is
    // loaded, pinned or attached, so a refused start leaves the machine as it was.
    preflight::check()?;
    let web = match &opts.web_config {
        Some(file) => WebConfig::load(file)?,
        None => WebConfig::default(),
    };
    attach::check_interfaces(&opts.ifaces)?;
    raise_open_file_limit(opts.http.max_connections);
    if !opts.listen.ip().is_loopback() && web.tls.is_none() && web.users.is_none() {
        log::warn!(
            "--listen {} is not a loopback address and there is neither TLS nor basic auth \
             (--web-config-file): the metrics and the fault records, with the addresses and \
             names they carry, are open to the network",
            opts.listen
        );
    }
    let pins = Pins::new(&opts.pin_path);
    // Dropped last: on a refused start, it removes what this run pinned.
    let mut pin_guard = pins.prepare()?;
    let listener = http::listen(opts.listen).map_err(|source| LiveError::Listen {
        addr: opts.listen,
        source,
    })?;
    let pipeline = Pipeline::standard(&opts.detectors, opts.canary);
    let mut metrics = Metrics::new();
    metrics.register_detectors(&pipeline);
    let metrics = Arc::new(metrics);
    let log = Arc::new(FaultLog::open(opts.fault_log.as_deref(), metrics.clone())?);

    let mut loader = EbpfLoader::new();
    pins.apply(&mut loader);
    let mut ebpf = ebpf::load_with(&mut loader)?;
    let mut clock: Array<MapData, u64> = take(&mut ebpf, MAP_CLOCK)?;
    // Until the tick writes its first time, frames call the clock (replay writes
    // CLOCK_IN_METADATA here: the pinned map may hold anything).
    clock.set(0, CLOCK_CALL, 0).map_err(map_err(MAP_CLOCK))?;
    let mut tick = match tick::start(&mut ebpf, pins.dir()) {
        Ok(tick) => {
            log::info!("packet times: a {} ms tick", tick.period().as_millis());
            metrics.set_packet_clock_tick(tick.period());
            Some(tick)
        }
        Err(e) => {
            log::warn!(
                "packet times: no tick ({e:#}); each watched frame calls the kernel's clock \
                 instead, ~20 ns more a frame (the tick needs perf_event_open: CAP_PERFMON, \
                 and a seccomp filter that allows it)"
            );
            None
        }
    };
    let events = EventQueue::new(
        ebpf.take_map(MAP_EVENTS)
            .ok_or(LiveError::Load(LoadError::Missing(MAP_EVENTS)))?,
    )?;
    let bell: RingBuf<MapData> = take(&mut ebpf, MAP_EVENT_BELL)?;
    let kernel = KernelMaps {
        stats: take(&mut ebpf, MAP_STATS)?,
        flows: FlowTable::new(
            ebpf.take_map(MAP_FLOWS)
                .ok_or(LiveError::Load(LoadError::Missing(MAP_FLOWS)))?,
        )?,
    };
    let logger = match aya_log::EbpfLogger::init(&mut ebpf) {
        Ok(l) => Some(l),
        Err(e) => {
            log::warn!("the XDP program's log is not available: {e}");
            None
        }
    };

    let prog: &mut Xdp = ebpf
        .program_mut(PROGRAM_CLASSIFY)
        .and_then(|p| p.try_into().ok())
        .expect("loaded by ebpf::load_with");
    // Subscribed before attaching: an interface deleted from here on is noticed.
    let mut link_events = match links::LinkEvents::open() {
        Ok(l) => Some(l),
        Err(e) => {
            log::warn!(
                "cannot follow interfaces (netlink: {e}): one deleted and made again is not \
                 watched again"
            );
            None
        }
    };
    let mut watched = Watched {
        ifaces: Vec::new(),
        mode: opts.mode,
        keep: opts.keep_attached,
        metrics: metrics.clone(),
    };
    for iface in &opts.ifaces {
        // On error, `watched` drops: what this run attached is detached again.
        let a = attach::attach(prog, iface, opts.mode, &pins, opts.keep_attached)?;
        log::info!("attached to {} ({} mode)", a.iface, a.mode);
        metrics.attached(&a.iface, a.mode, true);
        watched.ifaces.push((iface.clone(), Some(a)));
    }
    for (iface, mode, _) in pins.kept_links() {
        if !opts.ifaces.contains(&iface) {
            log::warn!(
                "{iface} still carries faultd ({mode} mode) kept by an earlier run; it counts \
                 into these maps too. `faultd detach` removes it"
            );
        }
    }
    log::info!(
        "serving {}://{}/metrics, /api/faults and /api/flows{}; state pinned under {}",
        if web.tls.is_some() { "https" } else { "http" },
        opts.listen,
        if web.users.is_some() {
            " (basic auth)"
        } else {
            ""
        },
        pins.dir().display()
    );

    let events_running = Arc::new(AtomicBool::new(true));
    let shared = Arc::new(Shared {
        metrics: metrics.clone(),
        kernel: Mutex::new(kernel),
        log: log.clone(),
        events_running: events_running.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = http::Server {
        listener,
        limits: opts.http,
        tls: web.tls.map(tokio_rustls::TlsAcceptor::from),
        users: web.users,
    };
    let server = tokio::spawn(http::serve(server, shared, stop_rx.clone()));

    // The event path has a thread of its own: neither a scrape (which walks the flow map)
    // nor anything else on the runtime can hold it up, and a blast of events cannot hold
    // up a scrape or a signal.
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let consumer = Consumer {
        events,
        clock,
        ticking: tick.is_some(),
        bell,
        logger,
        metrics: metrics.clone(),
        log: log.clone(),
        stop: stop.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("faultd-events".into())
        .spawn(move || {
            let r = consumer.run(pipeline);
            events_running.store(false, Ordering::Release);
            let _ = done_tx.send(());
            r
        })?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    pin_guard.started();
    if opts.keep_attached
        && let Some(t) = tick.as_mut()
        && let Err(e) = t.keep()
    {
        log::warn!(
            "the packet clock's tick cannot be kept with the attachments ({e:#}): frames \
             seen while no daemon runs will call the kernel's clock"
        );
    }
    notify::notify("READY=1");
    let mut done_rx = done_rx;
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            // logrotate's postrotate (no copytruncate needed).
            _ = sighup.recv() => match log.reopen() {
                Ok(()) => log::info!("SIGHUP: fault log reopened"),
                Err(e) => log::error!("SIGHUP: {e}; records wait for the file"),
            },
            _ = &mut done_rx => {
                log::error!("the event consumer stopped");
                break;
            }
            changes = next_link_change(&mut link_events) => match changes {
                Ok(changes) => {
                    for c in changes {
                        watched.follow(&c, prog, &pins);
                    }
                }
                Err(e) => {
                    log::warn!(
                        "no longer following interfaces (netlink: {e}): one deleted and \
                         made again is not watched again"
                    );
                    link_events = None;
                }
            },
        }
    }
    notify::notify("STOPPING=1");
    stop.store(true, Ordering::Release);
    let result = tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(io::Error::other)?
        .unwrap_or_else(|_| Err(io::Error::other("the event consumer panicked").into()));
    let _ = stop_tx.send(true);
    let _ = server.await;
    if let Err(e) = log.sync() {
        log::warn!("syncing the fault log: {e}");
    }
    for a in watched.ifaces.drain(..).filter_map(|(_, a)| a) {
        let (iface, mode) = (a.iface.clone(), a.mode);
        match a.release(opts.keep_attached) {
            Ok(()) if opts.keep_attached => {
                log::info!("{iface}: left attached ({mode} mode), still counting")
            }
            Ok(()) => log::info!("{iface}: detached"),
            Err(e) => log::warn!("{iface}: removing the kept attachment: {e}"),
        }
    }
    if !opts.keep_attached {
        tick::release_unneeded(pins.dir(), pins.kept_links().len());
    }
    drop(tick);
    result
}

/// The next link notification, or never when interfaces are not followed.
async fn next_link_change(
    events: &mut Option<links::LinkEvents>,
) -> io::Result<Vec<links::LinkChange>> {
    match events {
        Some(e) => e.next().await,
        None => std::future::pending().await,
    }
}

/// The interfaces named on the command line, each with its attachment while it exists.
struct Watched {
    ifaces: Vec<(String, Option<Attachment>)>,
    mode: ModeArg,
    keep: bool,
    metrics: Arc<Metrics>,
}

impl Watched {
    /// Brings the watched interfaces a link notification concerns up to date: one that is
    /// gone (deleted, renamed, moved to another namespace) is detached and its metric set
    /// to 0; one of a watched name that is there and not attached is attached as at start.
    fn follow(&mut self, change: &links::LinkChange, prog: &mut Xdp, pins: &Pins) {
        for (iface, slot) in &mut self.ifaces {
            let concerned = match change {
                links::LinkChange::Lost => true,
                links::LinkChange::Link { index, name } => {
                    name.as_deref() == Some(iface.as_str())
                        || slot.as_ref().is_some_and(|a| a.ifindex == *index)
                }
            };
            if !concerned {
                continue;
            }
            let now = attach::ifindex(iface);
            if let Some(a) = slot.take_if(|a| now != Some(a.ifindex)) {
                log::warn!(
                    "{iface} is gone (deleted, renamed or moved to another namespace): not \
                     watched until an interface of that name is back"
                );
                self.metrics.attached(iface, a.mode, false);
                // Its link went with it; a kept one's pin would only name a dead link.
                if let Err(e) = a.release(false) {
                    log::warn!("{iface}: removing the kept attachment: {e}");
                }
            }
            if slot.is_none() && now.is_some() {
                match attach::attach(prog, iface, self.mode, pins, self.keep) {
                    Ok(a) => {
                        log::info!("{iface} is back: attached again ({} mode)", a.mode);
                        self.metrics.attached(iface, a.mode, true);
                        *slot = Some(a);
                    }
                    Err(e) => log::error!("{iface} is back, but faultd cannot watch it: {e}"),
                }
            }
        }
    }
}

/// Descriptors faultd needs besides its HTTP connections: maps, programs, links, the
/// listener, the fault log, the blocking pool's files.
const FDS_BESIDES_HTTP: u64 = 64;

/// Raises the soft limit on open files to the hard one, so that the connection cap, not
/// the default soft limit of 1024, is what bounds the HTTP server.
fn raise_open_file_limit(max_connections: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        log::warn!(
            "reading the open-file limit: {}",
            io::Error::last_os_error()
        );
        return;
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            log::warn!(
                "raising the open-file limit from {before} to {}: {}",
                lim.rlim_max,
                io::Error::last_os_error()
            );
            lim.rlim_cur = before;
        } else {
            log::info!("open-file limit raised from {before} to {}", lim.rlim_cur);
        }
    } else {
        log::info!("open-file limit: {} (the hard limit)", lim.rlim_cur);
    }
    let needed = max_connections as u64 + FDS_BESIDES_HTTP;
    if lim.rlim_cur < needed {
        log::warn!(
            "the open-file limit ({}) is below --http-max-connections + {FDS_BESIDES_HTTP} \
             ({needed}): it, not the cap, will refuse connections (raise the hard limit, \
             e.g. LimitNOFILE= in a systemd unit)",
            lim.rlim_cur
        );
    }
}

fn take<T>(ebpf: &mut aya::Ebpf, name: &'static str) -> Result<T, LiveError>
where
    T: TryFrom<aya::maps::Map, Error = MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or(LiveError::Load(LoadError::Missing(name)))?;
    T::try_from(map).map_err(map_err(name))
}

/// Nanoseconds to add to the kernel's monotonic clock (`bpf_ktime_get_ns`) to get Unix
/// time: events are stamped with the first, fault records with the second.
pub fn monotonic_to_unix() -> i128 {
    let mono = clock_ns(libc::CLOCK_MONOTONIC);
    clock_ns(libc::CLOCK_REALTIME) - mono
}

pub(crate) fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

fn to_unix(mono_ns: u64, offset: i128) -> u64 {
    u64::try_from(i128::from(mono_ns) + offset).unwrap_or(0)
}

/// How often the consumer drains the event queue: the XDP program wakes it only when a
/// CPU's region passes a quarter full (the bell), so this bounds how long an event waits. A CPU's region holds a burst of 16,384 events
/// between two drains (see `fault_common::maps::QUEUE_CHUNKS`).
pub const DRAIN_EVERY: Duration = Duration::from_millis(10);
/// Events handled between looks at the stop flag and the tick: a blast of events delays
/// neither by more than one batch.
const BATCH: usize = 4096;

/// The event path: the event queue, the detectors and what they report.
struct Consumer {
    events: EventQueue,
    /// CLOCK, watched for a tick that stopped (see `watch_tick`).
    clock: Array<MapData, u64>,
    /// Whether a tick moves CLOCK on, as `watch_tick` last saw it.
    ticking: bool,
    /// Rung by the program when a CPU's region passes a quarter full.
    bell: RingBuf<MapData>,
    logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
    metrics: Arc<Metrics>,
    log: Arc<FaultLog>,
    stop: Arc<AtomicBool>,
}

impl Consumer {
    /// Drains the event queue every `DRAIN_EVERY`, in batches, ticks packet time, and
    /// returns once `stop` is set and every event then in the queue has been handled. `pipeline` is the one whose gauges the metrics
    /// registered.
    fn run(mut self, mut pipeline: Pipeline) -> Result<(), LiveError> {
        let mut faults: Vec<Fault> = Vec::new();
        let mut offset = monotonic_to_unix();
        let mut next_tick = Instant::now() + TICK;
        while !self.stop.load(Ordering::Acquire) {
            let wait = DRAIN_EVERY.min(next_tick.saturating_duration_since(Instant::now()));
            self.wait(wait)?;
            loop {
                let n = drain(&mut self.events, offset, &mut pipeline, &mut faults, BATCH);
                self.publish(&mut faults, &pipeline);
                if n < BATCH || self.stop.load(Ordering::Acquire) || Instant::now() >= next_tick {
                    break;
                }
            }
            if let Some(l) = self.logger.as_mut() {
                l.flush();
            }
            if Instant::now() >= next_tick {
                next_tick = Instant::now() + TICK;
                offset = monotonic_to_unix();
                let now = u64::try_from(clock_ns(libc::CLOCK_REALTIME))
                    .unwrap_or(0)
                    .saturating_sub(TICK_LAG_NS);
                pipeline.advance(now, &mut faults);
                self.publish(&mut faults, &pipeline);
                self.log.retry();
                self.watch_tick();
            }
        }
        log::info!("stopping: handling the events still in the queue");
        self.events.drain_all(|item| {
            event::decode(item, |mut ev| {
                ev.hdr.ts_ns = to_unix(ev.hdr.ts_ns, offset);
                pipeline.event(&ev, &mut faults);
            })
        });
        self.publish(&mut faults, &pipeline);
        if let Some(l) = self.logger.as_mut() {
            l.flush();
        }
        Ok(())
    }

    /// A tick that stopped (its CPU taken offline, its kept link's pin removed) would leave
    /// every frame after it with the same time: once CLOCK trails the monotonic clock by
    /// `TICK_STALE`, frames go back to calling the kernel's clock, and faultd says so. Any
    /// tick (this run's, or one kept by an earlier run) that writes again is followed
    /// again; the metric says which holds.
    fn watch_tick(&mut self) {
        // The monotonic clock first: CLOCK read after it can only be newer.
        let now = u64::try_from(clock_ns(libc::CLOCK_MONOTONIC)).unwrap_or(0);
        let Ok(t) = self.clock.get(&0, 0) else {
            return;
        };
        let fresh = t > CLOCK_IN_METADATA && now.saturating_sub(t) < TICK_STALE.as_nanos() as u64;
        if fresh && !self.ticking {
            log::info!("packet times: the tick is moving again");
        } else if !fresh && t > CLOCK_IN_METADATA {
            if let Err(e) = self.clock.set(0, CLOCK_CALL, 0) {
                log::warn!("the packet clock's tick stopped, and CLOCK cannot be reset: {e}");
                return;
            }
            log::warn!(
                "the packet clock's tick stopped ({} ms behind): each watched frame calls \
                 the kernel's clock until it moves again",
                now.saturating_sub(t) / 1_000_000
            );
        }
        self.ticking = fresh;
        self.metrics.set_packet_clock_tick(if fresh {
            Duration::from_nanos(TICK_NS)
        } else {
            Duration::ZERO
        });
    }

    /// Sleeps until the program's log has data, or `wait` has passed.
    fn wait(&mut self, wait: Duration) -> io::Result<()> {
        let mut fds = [libc::pollfd {
            fd: self.bell.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }; 2];
        let mut n = 1;
        if let Some(l) = &self.logger {
            fds[1].fd = l.as_fd().as_raw_fd();
            n = 2;
        }
        let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` holds `n` initialised pollfds.
        if unsafe { libc::poll(fds.as_mut_ptr(), n, ms) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        // The bell says only "read now": what it holds is not needed.
        while self.bell.next().is_some() {}
        Ok(())
    }

    fn publish(&self, faults: &mut Vec<Fault>, pipeline: &Pipeline) {
        publish(faults, pipeline, &self.metrics, &self.log);
    }
}

/// Hands up to `max` events to the detectors; returns how many there were.
fn drain(
    queue: &mut EventQueue,
    offset: i128,
    pipeline: &mut Pipeline,
    out: &mut Vec<Fault>,
    max: usize,
) -> usize {
    queue.drain(max, |item| {
        event::decode(item, |mut ev| {
            ev.hdr.ts_ns = to_unix(ev.hdr.ts_ns, offset);
            pipeline.event(&ev, out);
        })
    })
}

fn publish(faults: &mut Vec<Fault>, pipeline: &Pipeline, metrics: &Metrics, log: &FaultLog) {
    for f in faults.drain(..) {
        log::warn!("{}: {}", f.kind(), f.summary);
        log.record(&f);
    }
    metrics.set_detectors(pipeline);
}
