//! The HTTP side: `/metrics` (Prometheus text or OpenMetrics, as the scraper asks) and
//! `/api/faults` (the most recent fault records, JSON), over TLS and behind basic auth when
//! the web config says so.
//!
//! Connections are bounded in number and in time, so that idle or half-sent ones cannot
//! starve a scraper. Each connection is in one of three phases, each with a deadline after
//! which faultd closes it: new (from its opening, through the TLS handshake, to its first
//! complete request head: the header timeout), serving a request (from its head to the
//! last byte of the response: the request timeout) and waiting for the next request on a
//! kept-alive connection (the idle timeout). At the cap, a new connection takes the slot of
//! the connection that has waited longest for a request, which is closed: a scraper's
//! connection sends its request at once, so a flood of idle connections pushes out its own
//! members, never a request in progress. Only when every slot is serving a request is the
//! new connection closed at once (accepted and closed, so the client learns at once rather
//! than waiting in the listen backlog).

use std::{
    collections::BTreeMap,
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{RawQuery, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine as _;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::{Notify, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};
use tower_service::Service as _;

use super::{Shared, web::Users};
use crate::{
    detect::Fault,
    faultlog::RECENT,
    flows::view::{FlowArgs, View},
    metrics::HttpClose,
};

/// The HTTP server's bounds (`faultd run --http-*`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
}

/// The listen backlog (the kernel caps it at net.core.somaxconn). The usual 128 overflows
/// when a burst of connections comes faster than they are accepted, and a client whose SYN
/// is dropped waits a second before it tries again: a scrape would wait behind a flood.
const LISTEN_BACKLOG: u32 = 4096;

/// A connection's read buffer, and so the longest request head: a scraper's is well under
/// a kilobyte, and hyper's default (about 400 KiB) times the cap would be 200 MiB that
/// slow senders could make faultd hold.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// At most one warning about the connection cap per this, with the counts since the last.
const CAP_WARNING_INTERVAL: Duration = Duration::from_secs(10);
/// How long a stop waits for requests in progress before it drops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Password checks at once: a bcrypt hash is tens of milliseconds of CPU, and a flood of
/// wrong passwords must not take every core from the event path.
const BCRYPT_CONCURRENCY: usize = 2;

pub(super) fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's and tokio's bind do: a restarted daemon can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

pub(super) struct Server {
    pub listener: TcpListener,
    pub limits: Limits,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub users: Option<Users>,
}

/// What every connection's task shares.
struct Ctx {
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    slots: Slots,
}

pub(super) async fn serve(server: Server, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let metrics = shared.metrics.clone();
    let mut router = Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics_page))
        .route("/api/faults", get(faults))
        .route("/api/flows", get(flows))
        .route("/healthz", get(healthz))
        .with_state(shared);
    if let Some(users) = server.users {
        let auth = Arc::new(Auth {
            users,
            checks: Semaphore::new(BCRYPT_CONCURRENCY),
        });
        router = router.layer(middleware::from_fn_with_state(auth, basic_auth));
    }
    let ctx = Arc::new(Ctx {
        router,
        tls: server.tls,
        slots: Slots::new(server.limits, metrics),
    });
    let mut tasks = JoinSet::new();
    let mut warning = CapWarning::default();
    let mut tick = tokio::time::interval(CAP_WARNING_INTERVAL);
    let mut accept_failed_at: Option<Instant> = None;
    let conn_stop = stop.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            _ = tick.tick() => warning.flush(server.limits.max_connections),
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = server.listener.accept() => match accepted {
                Ok((stream, _)) => match ctx.slots.admit() {
                    Admission::Free(conn) => {
                        tasks.spawn(connection(stream, conn, ctx.clone(), conn_stop.clone()));
                    }
                    Admission::Evicted(conn) => {
                        warning.evicted += 1;
                        warning.maybe_flush(server.limits.max_connections);
                        tasks.spawn(connection(stream, conn, ctx.clone(), conn_stop.clone()));
                    }
                    Admission::Full => {
                        drop(stream);
                        warning.refused += 1;
                        warning.maybe_flush(server.limits.max_connections);
                    }
                },
                Err(e) => {
                    // EMFILE and the like: the listener stays readable, so pause rather
                    // than spin, and say so once in a while.
                    if accept_failed_at.is_none_or(|t| t.elapsed() >= CAP_WARNING_INTERVAL) {
                        log::warn!("HTTP: accepting a connection: {e}");
                        accept_failed_at = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(server.listener);
    warning.flush(server.limits.max_connections);
    // Connections waiting for a request close at once (they watch `stop`); requests in
    // progress get a moment to finish.
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log::warn!(
            "HTTP: {} requests still in progress {SHUTDOWN_GRACE:?} after the stop were cut",
            tasks.len()
        );
    }
}

/// Resolves once the daemon stops; the guard `wait_for` returns is not kept, since it
/// could not be held across an await in a task that moves between threads.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The rate-limited warning about the connection cap.
#[derive(Default)]
struct CapWarning {
    evicted: u64,
    refused: u64,
    last: Option<Instant>,
}

impl CapWarning {
    fn maybe_flush(&mut self, max: usize) {
        if self
            .last
            .is_none_or(|t| t.elapsed() >= CAP_WARNING_INTERVAL)
        {
            self.flush(max);
        }
    }

    fn flush(&mut self, max: usize) {
        if self.evicted == 0 && self.refused == 0 {
            return;
        }
        log::warn!(
            "HTTP connection cap ({max}, --http-max-connections) reached: {} idle connections \
             closed to make room and {} new ones refused since the last warning",
            self.evicted,
            self.refused
        );
        (self.evicted, self.refused) = (0, 0);
        self.last = Some(Instant::now());
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    New,
    Serving,
    Waiting,
}

impl Phase {
    fn timeout(self) -> HttpClose {
        match self {
            Phase::New => HttpClose::HeaderTimeout,
            Phase::Serving => HttpClose::RequestTimeout,
            Phase::Waiting => HttpClose::IdleTimeout,
        }
    }
}

/// One connection, as its task and the slot table see it.
struct Conn {
    /// The phase and its deadline; the connection's task closes it at the deadline.
    phase: watch::Sender<(Phase, Instant)>,
    /// Told when the connection is evicted.
    close: Notify,
    /// Its key in `Table::waiting` while it waits for a request, else 0. Changed only under
    /// the table's lock.
    waiting_key: AtomicU64,
    /// Its slot went to another connection; changed only under the table's lock.
    evicted: AtomicBool,
}

enum Admission {
    Free(Arc<Conn>),
    /// In the slot of a waiting connection, now closing.
    Evicted(Arc<Conn>),
    Full,
}

/// The connection table: how many are open, and which wait for a request, oldest first.
struct Slots {
    limits: Limits,
    table: Mutex<Table>,
    metrics: Arc<crate::metrics::Metrics>,
}

struct Table {
    open: usize,
    next_key: u64,
    waiting: BTreeMap<u64, Arc<Conn>>,
}

impl Slots {
    fn new(limits: Limits, metrics: Arc<crate::metrics::Metrics>) -> Slots {
        metrics.set_http_connections(0, limits.max_connections);
        Slots {
            limits,
            table: Mutex::new(Table {
                open: 0,
                next_key: 1,
                waiting: BTreeMap::new(),
            }),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().expect("HTTP slot table lock")
    }

    fn admit(&self) -> Admission {
        let mut t = self.lock();
        let evicted = if t.open < self.limits.max_connections {
            t.open += 1;
            self.metrics
                .set_http_connections(t.open, self.limits.max_connections);
            false
        } else {
            let Some((_, victim)) = t.waiting.pop_first() else {
                self.metrics.http_closed(HttpClose::Refused);
                return Admission::Full;
            };
            victim.waiting_key.store(0, Ordering::Relaxed);
            victim.evicted.store(true, Ordering::Relaxed);
            victim.close.notify_one();
            self.metrics.http_closed(HttpClose::Evicted);
            true
        };
        let conn = Arc::new(Conn {
            phase: watch::Sender::new((Phase::New, Instant::now() + self.limits.header_timeout)),
            close: Notify::new(),
            waiting_key: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
        });
        Self::wait(&mut t, &conn);
        if evicted {
            Admission::Evicted(conn)
        } else {
            Admission::Free(conn)
        }
    }

    fn wait(t: &mut Table, conn: &Arc<Conn>) {
        let key = t.next_key;
        t.next_key += 1;
        conn.waiting_key.store(key, Ordering::Relaxed);
        t.waiting.insert(key, conn.clone());
    }

    fn unwait(t: &mut Table, conn: &Conn) {
        let key = conn.waiting_key.swap(0, Ordering::Relaxed);
        if key != 0 {
            t.waiting.remove(&key);
        }
    }

    /// A request head has come: the connection serves it and cannot be evicted.
    fn serving(&self, conn: &Conn) {
        let mut t = self.lock();
        Self::unwait(&mut t, conn);
        conn.phase
            .send_replace((Phase::Serving, Instant::now() + self.limits.request_timeout));
    }

    /// The response is out: the connection waits for the next request.
    fn waiting(&self, conn: &Arc<Conn>) {
        let mut t = self.lock();
        if conn.evicted.load(Ordering::Relaxed) {
            return;
        }
        Self::wait(&mut t, conn);
        conn.phase
            .send_replace((Phase::Waiting, Instant::now() + self.limits.idle_timeout));
    }

    fn closed(&self, conn: &Conn) {
        let mut t = self.lock();
        Self::unwait(&mut t, conn);
        if !conn.evicted.load(Ordering::Relaxed) {
            t.open -= 1;
            self.metrics
                .set_http_connections(t.open, self.limits.max_connections);
        }
    }
}

/// Gives the slot back however the connection's task ends (closed, evicted, aborted).
struct Release(Arc<Ctx>, Arc<Conn>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.slots.closed(&self.1);
    }
}

async fn connection(
    stream: TcpStream,
    conn: Arc<Conn>,
    ctx: Arc<Ctx>,
    mut stop: watch::Receiver<bool>,
) {
    let _release = Release(ctx.clone(), conn.clone());
    let mut phase = conn.phase.subscribe();
    let serve = serve_connection(stream, conn.clone(), ctx.clone());
    tokio::pin!(serve);
    let mut stopping = false;
    loop {
        let (now, deadline) = *phase.borrow_and_update();
        if stopping && now != Phase::Serving {
            return;
        }
        tokio::select! {
            _ = &mut serve => return,
            _ = conn.close.notified() => return,
            _ = tokio::time::sleep_until(deadline) => {
                ctx.slots.metrics.http_closed(now.timeout());
                return;
            }
            _ = phase.changed() => {}
            _ = stopped(&mut stop), if !stopping => stopping = true,
        }
    }
}

/// Anything a connection can run over: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn serve_connection(stream: TcpStream, conn: Arc<Conn>, ctx: Arc<Ctx>) {
    let io: Box<dyn Io> = match &ctx.tls {
        Some(tls) => match tls.accept(stream).await {
            Ok(s) => Box::new(s),
            Err(e) => {
                // A client's mistake (plain HTTP, an untrusted certificate): not the
                // daemon's news, and a scanner could fill the log with it.
                log::debug!("HTTP: TLS handshake: {e}");
                return;
            }
        },
        None => Box::new(stream),
    };
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        ctx.slots.serving(&conn);
        let served = Served(ctx.clone(), conn.clone());
        let mut router = ctx.router.clone();
        async move {
            let response = router.call(req.map(Body::new)).await?;
            Ok::<_, Infallible>(response.map(|body| Tracked {
                body,
                _served: served,
            }))
        }
    });
    // hyper's own header timeout would also run while a kept-alive connection waits, at
    // its default of 30 s; the phases above time every wait instead.
    let _ = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

/// Puts the connection back to waiting when the response has been written (hyper drops
/// the body then) or abandoned.
struct Served(Arc<Ctx>, Arc<Conn>);

impl Drop for Served {
    fn drop(&mut self) {
        self.0.slots.waiting(&self.1);
    }
}

/// A response body that holds its connection in the serving phase until it is dropped.
struct Tracked {
    body: Body,
    _served: Served,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

struct Auth {
    users: Users,
    checks: Semaphore,
}

async fn basic_auth(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let allowed = match given {
        Some((user, password)) => {
            let _permit = auth.checks.acquire().await.expect("never closed");
            let auth = auth.clone();
            tokio::task::spawn_blocking(move || auth.users.verify(&user, &password))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    if allowed {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"faultd\""),
        )],
        "401 Unauthorized: basic auth required\n",
    )
        .into_response()
}

/// User and password of an `Authorization: Basic` header (RFC 7617).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// A browser (Accept: text/html) gets the page for people; anything else, the list of
/// endpoints.
async fn index(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if !accept.is_some_and(|a| a.contains("text/html")) {
        return "faultd\n  /             this page, as HTML for a browser\n  \
                /healthz      200 while the detectors run\n  \
                /metrics      Prometheus text or OpenMetrics (Accept)\n  \
                /api/faults   recent fault records, oldest first (?limit=N, at most 1000)\n  \
                /api/flows    the flow table (?class=C&host=CIDR&sort=packets|bytes|last&\
                limit=N&by=flow|host; limit 100 unless given, at most 1000)\n"
            .into_response();
    }
    if let Err(e) = read_kernel(&s).await {
        return e;
    }
    let (exposition, _) = s.metrics.encode(None);
    // Who still speaks the legacy protocols: the inventory /api/flows?by=host gives.
    let args = FlowArgs::from_query(
        &format!("by=host&limit={PAGE_HOSTS}"),
        PAGE_HOSTS,
        PAGE_HOSTS,
    )
    .expect("a valid query");
    let table = s.clone();
    let speakers = tokio::task::spawn_blocking(move || {
        let (flows, stats) = table
            .kernel
            .lock()
            .expect("kernel maps lock")
            .flows()
            .ok()?;
        let view = View {
            args,
            offset_ns: super::monotonic_to_unix(),
            evicted: stats.flow_updates_failed,
        };
        Some(view.api_json(&flows))
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(serde_json::Value::Null);
    // The page reads records as /api/faults serves them: one form for both.
    let records: Vec<serde_json::Value> = s
        .log
        .recent(PAGE_RECORDS)
        .iter()
        .filter_map(|f| serde_json::to_value(f).ok())
        .collect();
    let html = super::page::render(&exposition, &records, &speakers);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// 200 while the detectors run: the server starts only once the program is attached, so
/// an answer at all means attached. 503 once the event consumer has stopped.
async fn healthz(State(s): State<Arc<Shared>>) -> Response {
    if s.events_running.load(std::sync::atomic::Ordering::Acquire) {
        "ok\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the event consumer has stopped\n",
        )
            .into_response()
    }
}

/// Hosts in the page's table of legacy-protocol speakers.
const PAGE_HOSTS: usize = 10;

/// Records on the page: a screenful or two.
const PAGE_RECORDS: usize = 50;

/// The XDP program's counters into the metrics. Reading the maps is a system call per
/// flow: off the runtime's thread, so other requests are not held up behind it.
async fn read_kernel(s: &Arc<Shared>) -> Result<(), Response> {
    let maps = s.clone();
    let read =
        tokio::task::spawn_blocking(move || maps.kernel.lock().expect("kernel maps lock").read())
            .await
            .unwrap_or_else(|e| Err(aya::maps::MapError::from(std::io::Error::other(e))));
    match read {
        Ok((stats, flows)) => {
            s.metrics.set_kernel(&stats, flows);
            Ok(())
        }
        Err(e) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the XDP program's maps: {e}\n"),
        )
            .into_response()),
    }
}

async fn metrics_page(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(e) = read_kernel(&s).await {
        return e;
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (body, content_type) = s.metrics.encode(accept);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn faults(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let mut limit = RECENT;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("limit", v)) => match v.parse::<usize>() {
                Ok(n) => limit = n.min(RECENT),
                Err(_) => {
                    return (
                        StatusCode::BAD_REQUEST,
                        format!("limit must be a number from 0 to {RECENT}, not {v:?}\n"),
                    )
                        .into_response();
                }
            },
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter {pair:?}: the only one is limit=N\n"),
                )
                    .into_response();
            }
        }
    }
    let body = Fault::to_json_array(&s.log.recent(limit));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Rows of `/api/flows` unless `limit` says otherwise, and at most.
const FLOWS_DEFAULT: usize = 100;
const FLOWS_MAX: usize = 1000;

/// The flow table, filtered, sorted and cut as `faultd flows` does it. The table is read
/// (a scan of the mapped table, a few milliseconds when full) and the view built on the
/// blocking pool, off the runtime's thread; the event path has a thread of its own.
async fn flows(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let args = match FlowArgs::from_query(query.as_deref().unwrap_or(""), FLOWS_DEFAULT, FLOWS_MAX)
    {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let built = tokio::task::spawn_blocking(move || {
        let (table, stats) = s.kernel.lock().expect("kernel maps lock").flows()?;
        let view = View {
            args,
            offset_ns: super::monotonic_to_unix(),
            evicted: stats.flow_updates_failed,
        };
        Ok::<_, aya::maps::MapError>(view.api_json(&table).to_string())
    })
    .await
    .unwrap_or_else(|e| Err(aya::maps::MapError::from(std::io::Error::other(e))));
    match built {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the XDP program's flow table: {e}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[track_caller]
    fn admitted(a: Admission, evicting: bool) -> Arc<Conn> {
        match (a, evicting) {
            (Admission::Free(c), false) | (Admission::Evicted(c), true) => c,
            (Admission::Full, _) => panic!("refused"),
            (_, evicting) => panic!("admitted, but evicting: {}", !evicting),
        }
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_gives_way_and_a_busy_one_never_does() {
        let metrics = Arc::new(Metrics::new());
        let limits = Limits {
            max_connections: 2,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        };
        let slots = Slots::new(limits, metrics.clone());
        let a = admitted(slots.admit(), false);
        let b = admitted(slots.admit(), false);
        let c = admitted(slots.admit(), true);
        assert!(a.evicted.load(Ordering::Relaxed));
        assert!(!b.evicted.load(Ordering::Relaxed));
        slots.closed(&a);
        slots.serving(&b);
        slots.serving(&c);
        assert!(matches!(slots.admit(), Admission::Full));
        // b answered and waits again: the next one takes its slot, not c's (still serving).
        slots.waiting(&b);
        let d = admitted(slots.admit(), true);
        assert!(b.evicted.load(Ordering::Relaxed));
        assert!(!c.evicted.load(Ordering::Relaxed));
        for conn in [&b, &c, &d] {
            slots.closed(conn);
        }
        let (text, _) = metrics.encode(None);
        for line in [
            "faultd_http_connections 0",
            "faultd_http_connections_max 2",
            "faultd_http_connections_closed_total{reason=\"evicted\"} 2",
            "faultd_http_connections_closed_total{reason=\"refused\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn basic_credentials_follow_rfc_7617() {
        // "Aladdin:open sesame", the RFC's example; the password may hold colons.
        assert_eq!(
            basic_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Some(("Aladdin".into(), "open sesame".into()))
        );
        assert_eq!(
            basic_credentials("basic dTpwOnE="),
            Some(("u".into(), "p:q".into()))
        );
        assert_eq!(
            basic_credentials("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            None
        );
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Basic bm9jb2xvbg=="), None);
    }
}
