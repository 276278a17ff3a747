//! The detectors under a flood (issue 11, "Line rate": at least 2 M events/s per detector
//! at its state bound). Each detector is first filled to its bound (README, "Bounds"), then
//! timed over a flood of events that keeps it there, fed through a `Pipeline` of its own
//! (the clock moved to each event's time first, as live and in replay). Then
//! `Pipeline::standard` over all five floods at once.
//!
//! `cargo bench -p fault-user --bench detectors`. `FAULTD_BENCH_EVENTS` (events per flood,
//! default 1000000) and `FAULTD_BENCH_ROUNDS` (default 5) change the size; every round
//! starts from a freshly filled detector. `FAULTD_BENCH_ONLY=ras` runs only the lines
//! whose name holds that (for a profiler).
//!
//! Packet time moves 0.5 to 1.8 ms per event: slow enough that the detectors' deadlines
//! (timeouts, windows, episodes) fall due all through the flood while the tables are full,
//! which is what per-event and per-tick costs that grow with the table would show.

use std::{collections::VecDeque, env, hint::black_box, sync::LazyLock, time::Instant};

use bytemuck::Zeroable;
use fault_common::{
    Event,
    event::{
        EventKind, Family, NAME_OK, NCP_HAS_REPLY_VALUE, NCP_HAS_RPV_REQUEST, NCP_HAS_SUBFUNCTION,
        NbnsBody, NbssBody, NcpBody, PptpMessage, RR_OK, SapEntryBody, TCP_ACK, TCP_RST, TCP_SYN,
        TcpBody, UdpBody,
    },
    ports,
};
use fault_user::detect::{Config, Detector, Fault, Pipeline, nbstat, ncp, ras, sms, wins};

const TARGET: f64 = 2e6;
/// The settings the detectors run with here, the defaults: the workloads fill each detector
/// to its default bounds.
static BOUNDS: LazyLock<Config> = LazyLock::new(Config::default);
const MS: u64 = 1_000_000;

fn main() {
    let events = env_usize("FAULTD_BENCH_EVENTS", 1_000_000);
    let rounds = env_usize("FAULTD_BENCH_ROUNDS", 5).max(1);
    let only = env::var("FAULTD_BENCH_ONLY").unwrap_or_default();
    let cfg = Config::default();
    println!(
        "each detector filled to its bound, then {events} events, best and median of {rounds} rounds"
    );
    println!(
        "{:<28} {:>9} {:>13} {:>13} {:>9} {:>8} {:>10} {:>7}  >= 2 M/s",
        "detector", "fill", "best ev/s", "median ev/s", "ns/ev", "entries", "evictions", "faults"
    );
    let mut all_met = true;
    for w in workloads().into_iter().filter(|w| w.name().contains(&only)) {
        let (fill, flood) = stream(&*w, events);
        let r = run(rounds, &fill, &flood, || {
            Pipeline::new(vec![w.detector(&cfg)])
        });
        all_met &= r.print(w.name(), fill.len(), flood.len());
    }
    if "Pipeline".contains(&only) {
        mix(events, rounds, &cfg);
    }
    println!(
        "target: >= 2 M events/s per detector at its state bound (median round): {}",
        if all_met { "met" } else { "NOT met" }
    );
}

/// Every flood over the same stretch of packet time, each at its own pace, through the
/// pipeline faultd runs.
fn mix(events: usize, rounds: usize, cfg: &Config) {
    let per_sec: f64 = workloads().iter().map(|w| 1e9 / w.dt() as f64).sum();
    let span = (events as f64 / per_sec * 1e9) as u64;
    let streams: Vec<_> = workloads()
        .iter()
        .map(|w| stream(&**w, (span / w.dt()) as usize))
        .collect();
    let start = streams.iter().map(|(f, _)| f.last().map_or(0, ts)).max();
    let (mut fill, mut flood) = (Vec::new(), Vec::new());
    for (f, x) in streams {
        // Every fill ends together, so the floods start together.
        let shift = start.unwrap_or(0) - f.last().map_or(0, ts);
        fill.extend(f.into_iter().map(|e| shifted(e, shift)));
        flood.extend(x.into_iter().map(|e| shifted(e, shift)));
    }
    fill.sort_by_key(ts);
    flood.sort_by_key(ts);
    let r = run(rounds, &fill, &flood, || Pipeline::standard(cfg, false));
    r.print("Pipeline::standard (mix)", fill.len(), flood.len());
}

fn env_usize(name: &str, default: usize) -> usize {
    env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn ts(e: &Event) -> u64 {
    e.hdr.ts_ns
}

fn shifted(mut e: Event, by: u64) -> Event {
    e.hdr.ts_ns += by;
    e
}

/// A workload's fill and flood events, in time order.
fn stream(w: &dyn Workload, flood: usize) -> (Vec<Event>, Vec<Event>) {
    let mut s = Stream {
        ts: 1_000 * MS,
        dt: w.dt(),
        events: Vec::new(),
        rng: 0x9e37_79b9_7f4a_7c15,
    };
    let mut state = w.start();
    state.fill(&mut s);
    let fill = std::mem::take(&mut s.events);
    s.events.reserve(flood);
    while s.events.len() < flood {
        state.visit(&mut s);
    }
    s.events.truncate(flood);
    (fill, s.events)
}

struct Stream {
    ts: u64,
    dt: u64,
    events: Vec<Event>,
    rng: u64,
}

impl Stream {
    fn push(&mut self, mut ev: Event) {
        ev.hdr.ts_ns = self.ts;
        self.ts += self.dt;
        self.events.push(ev);
    }

    /// xorshift64: the same "random" visits every run.
    fn below(&mut self, n: u32) -> u32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % u64::from(n)) as u32
    }
}

struct Outcome {
    /// Seconds per round, sorted.
    secs: Vec<f64>,
    entries: usize,
    evictions: u64,
    faults: usize,
}

impl Outcome {
    /// One line of the table; whether the median round meets the target.
    fn print(&self, name: &str, fill: usize, events: usize) -> bool {
        let rate = |s: f64| events as f64 / s;
        let median = self.secs[self.secs.len() / 2];
        let met = rate(median) >= TARGET;
        println!(
            "{name:<28} {fill:>9} {:>13.0} {:>13.0} {:>9.0} {:>8} {:>10} {:>7}  {}",
            rate(self.secs[0]),
            rate(median),
            median * 1e9 / events as f64,
            self.entries,
            self.evictions,
            self.faults,
            if met { "yes" } else { "NO" }
        );
        met
    }
}

/// Each round a fresh pipeline (one detector, or the standard five), filled, then timed
/// over the flood: the pipeline moves the clock before each event, as live and in replay.
fn run(rounds: usize, fill: &[Event], flood: &[Event], make: impl Fn() -> Pipeline) -> Outcome {
    let mut secs = Vec::new();
    let mut last = None;
    for _ in 0..rounds {
        let mut p = make();
        let mut out = Vec::new();
        feed(&mut p, fill, &mut out);
        let start = Instant::now();
        let faults = feed(&mut p, flood, &mut out);
        secs.push(start.elapsed().as_secs_f64());
        last = Some((
            p.entries().map(|(_, n)| n).sum(),
            p.evictions().map(|(_, n)| n).sum(),
            faults,
        ));
        black_box(p);
    }
    secs.sort_by(f64::total_cmp);
    let (entries, evictions, faults) = last.unwrap_or_default();
    Outcome {
        secs,
        entries,
        evictions,
        faults,
    }
}

/// The records made, dropped as they come (the fault log would take them).
fn feed(p: &mut Pipeline, events: &[Event], out: &mut Vec<Fault>) -> usize {
    let mut faults = 0;
    for ev in events {
        p.event(ev, out);
        faults += out.len();
        out.clear();
    }
    faults
}

/// A detector's traffic: what fills its state to the bound, then visits that keep it there.
trait Workload {
    fn name(&self) -> &'static str;
    fn detector(&self, cfg: &Config) -> Box<dyn Detector>;
    /// Packet time between two events.
    fn dt(&self) -> u64;
    fn start(&self) -> Box<dyn Visits>;
}

trait Visits {
    fn fill(&mut self, s: &mut Stream);
    fn visit(&mut self, s: &mut Stream);
}

fn workloads() -> Vec<Box<dyn Workload>> {
    vec![
        Box::new(WinsLoad),
        Box::new(NbstatLoad),
        Box::new(NcpLoad),
        Box::new(SmsLoad),
        Box::new(RasLoad),
    ]
}

fn v4(net: u8, i: u32) -> [u8; 4] {
    [10, net, (i >> 8) as u8, i as u8]
}

fn ip(kind: EventKind, (src, sport): ([u8; 4], u16), (dst, dport): ([u8; 4], u16)) -> Event {
    let mut ev = Event::zeroed();
    ev.hdr.kind = kind as u8;
    ev.hdr.family = Family::Ipv4 as u8;
    ev.hdr.frame_len = 90;
    ev.hdr.src[..4].copy_from_slice(&src);
    ev.hdr.dst[..4].copy_from_slice(&dst);
    ev.hdr.sport = sport;
    ev.hdr.dport = dport;
    ev
}

fn tcp(from: ([u8; 4], u16), to: ([u8; 4], u16), flags: u8) -> Event {
    let mut ev = ip(EventKind::Tcp, from, to);
    ev.body.tcp = TcpBody {
        flags,
        ..Zeroable::zeroed()
    };
    ev
}

fn udp(from: ([u8; 4], u16), to: ([u8; 4], u16)) -> Event {
    let mut ev = ip(EventKind::Udp, from, to);
    ev.body.udp = UdpBody {
        payload_len: 32,
        ..Zeroable::zeroed()
    };
    ev
}

/// A NetBIOS name: 15 characters space padded, then the suffix.
fn nb_name(name: &str, suffix: u8) -> [u8; 16] {
    let mut n = [b' '; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    n[15] = suffix;
    n
}

fn nbns(from: [u8; 4], to: [u8; 4], txid: u16, flags: u16, rtype: u16, name: [u8; 16]) -> Event {
    let mut ev = ip(EventKind::Nbns, (from, ports::NBNS), (to, ports::NBNS));
    ev.body.nbns = NbnsBody {
        txid,
        flags,
        qdcount: u16::from(flags & 0x8000 == 0),
        ancount: u16::from(flags & 0x8000 != 0),
        rtype,
        name_status: NAME_OK,
        rr_status: RR_OK,
        name,
        ..Zeroable::zeroed()
    };
    ev
}

/// `wins_backup_swap`: 1024 clients (the bound), each registering 16 names with a primary
/// that never answers and a backup that accepts them all (the benign look-alike, judged
/// when the episode closes), 32 registrations per episode (the bound). A client comes back
/// after its episode has closed, so episodes close all through the flood.
struct WinsLoad;

struct Wins {
    client: u32,
    txid: u16,
}

const WINS_PRIMARY: [u8; 4] = [10, 0, 0, 2];
const WINS_BACKUP: [u8; 4] = [10, 0, 0, 3];
const REGISTRATION: u16 = 5 << 11 | 0x0100;
const WINS_NAMES: u32 = 16;

impl Workload for WinsLoad {
    fn name(&self) -> &'static str {
        "wins_backup_swap"
    }
    fn detector(&self, cfg: &Config) -> Box<dyn Detector> {
        Box::new(wins::WinsBackupSwap::new(&cfg.nbns, &cfg.wins_backup_swap))
    }
    fn dt(&self) -> u64 {
        MS
    }
    fn start(&self) -> Box<dyn Visits> {
        Box::new(Wins { client: 0, txid: 0 })
    }
}

impl Visits for Wins {
    fn fill(&mut self, s: &mut Stream) {
        for _ in 0..BOUNDS.wins_backup_swap.clients.get() {
            self.visit(s);
        }
    }

    fn visit(&mut self, s: &mut Stream) {
        let c = self.client;
        self.client = (c + 1) % BOUNDS.wins_backup_swap.clients.get() as u32;
        let client = v4(1, c);
        for k in 0..WINS_NAMES {
            let name = nb_name(&format!("PC{c:05}-{k:02}"), 0);
            let (a, b) = (self.txid, self.txid.wrapping_add(1));
            self.txid = self.txid.wrapping_add(2);
            let reg = |to, id| nbns(client, to, id, REGISTRATION, 0x20, name);
            s.push(reg(WINS_PRIMARY, a));
            s.push(reg(WINS_PRIMARY, a));
            s.push(reg(WINS_BACKUP, b));
            s.push(nbns(
                WINS_BACKUP,
                client,
                b,
                0x8000 | REGISTRATION | 0x0480,
                0x20,
                name,
            ));
        }
    }
}

/// `netbios_ip_connect_failure`: NBSTAT queries (and a retransmission) from 64 clients to
/// 16384 targets picked at random, each followed by a SYN-ACK from TCP 139 and a
/// `*SMBSERVER` session request; most get a positive session response, some an NBNS answer,
/// one target in 64 nothing (a record when its episode is judged). More pairs are active
/// within a window than the 4096 episodes kept: some episodes are pushed out, others
/// judged; the three context maps stay full.
struct NbstatLoad;

struct Nbstat {
    txid: u16,
    port: u16,
}

const NBSTAT_PAIRS: u32 = 16384;

impl Workload for NbstatLoad {
    fn name(&self) -> &'static str {
        "netbios_ip_connect_failure"
    }
    fn detector(&self, cfg: &Config) -> Box<dyn Detector> {
        Box::new(nbstat::NbstatConnectFailure::new(
            &cfg.nbns,
            &cfg.netbios_ip_connect_failure,
        ))
    }
    fn dt(&self) -> u64 {
        MS
    }
    fn start(&self) -> Box<dyn Visits> {
        Box::new(Nbstat {
            txid: 0,
            port: 1024,
        })
    }
}

impl Nbstat {
    fn pair(&mut self, s: &mut Stream, j: u32) {
        let (client, target) = (v4(1, j % 64), v4(2, j));
        let (txid, port) = (self.txid, self.port);
        self.txid = self.txid.wrapping_add(1);
        self.port = self.port.wrapping_add(1).max(1024);
        let query = nbns(client, target, txid, 0, 0x21, nb_name("*", 0));
        let nbss = |from, to, msg_type| {
            let mut ev = ip(EventKind::Nbss, from, to);
            ev.body.nbss = NbssBody {
                msg_type,
                names: 3,
                called: nb_name("*SMBSERVER", 0x20),
                calling: nb_name("CLIENT", 0),
                ..Zeroable::zeroed()
            };
            ev
        };
        s.push(query);
        s.push(query);
        s.push(tcp(
            (target, ports::NBSS),
            (client, port),
            TCP_SYN | TCP_ACK,
        ));
        s.push(nbss((client, port), (target, ports::NBSS), 0x81));
        s.push(match j % 64 {
            0 => query,
            1 | 17 | 33 | 49 => nbns(target, client, txid, 0x8400, 0x21, nb_name("*", 0)),
            _ => nbss((target, ports::NBSS), (client, port), 0x82),
        });
    }
}

impl Visits for Nbstat {
    fn fill(&mut self, s: &mut Stream) {
        for j in 0..BOUNDS.netbios_ip_connect_failure.episodes.get() as u32 {
            self.pair(s, j);
        }
    }

    fn visit(&mut self, s: &mut Stream) {
        let j = s.below(NBSTAT_PAIRS);
        self.pair(s, j);
    }
}

/// `ncp_wrong_socket`: 1024 nodes (the bound) with 4 file servers each (the bound),
/// advertised by SAP and looked up with Read Property Value (4096 names for 1024 kept),
/// plus two lookups that go unanswered per visit (the pending requests stay at their
/// bound). Every node gets a Create Service Connection to 0x451: on 15 nodes in 16 a file
/// server is there, on the rest none is (the fault); 1024 such connects are kept pending
/// by retransmissions, and the new ones push them out or time out into records.
struct NcpLoad;

struct Ncp {
    node: u32,
    visits: u32,
    seq: u8,
    lookups: u32,
    /// Pending wrong-socket connects, (client, node, seq), retransmitted in turn.
    connects: VecDeque<(u32, u32, u8)>,
}

const BINDERY: ([u8; 10], u16) = ([0, 0, 0, 1, 4, 4, 4, 4, 4, 4], ports::IPX_NCP);
const NCP_REQUEST: u16 = 0x2222;
const PER_NODE: u32 = ncp::PER_NODE as u32;

impl Workload for NcpLoad {
    fn name(&self) -> &'static str {
        "ncp_wrong_socket"
    }
    fn detector(&self, cfg: &Config) -> Box<dyn Detector> {
        Box::new(ncp::NcpWrongSocket::new(&cfg.ncp_wrong_socket))
    }
    fn dt(&self) -> u64 {
        18 * MS / 10
    }
    fn start(&self) -> Box<dyn Visits> {
        Box::new(Ncp {
            node: 0,
            visits: 0,
            seq: 0,
            lookups: 0,
            connects: VecDeque::new(),
        })
    }
}

fn ipx_node(kind: u8, i: u32) -> [u8; 10] {
    let b = i.to_be_bytes();
    [0, 0, 0, 1, kind, 0, b[0], b[1], b[2], b[3]]
}

fn ipx(kind: EventKind, src: ([u8; 10], u16), dst: ([u8; 10], u16)) -> Event {
    let mut ev = Event::zeroed();
    ev.hdr.kind = kind as u8;
    ev.hdr.family = Family::Ipx as u8;
    ev.hdr.encap = 1;
    ev.hdr.frame_len = 90;
    ev.hdr.src[..10].copy_from_slice(&src.0);
    ev.hdr.dst[..10].copy_from_slice(&dst.0);
    ev.hdr.sport = src.1;
    ev.hdr.dport = dst.1;
    ev
}

fn ncp(src: ([u8; 10], u16), dst: ([u8; 10], u16), body: NcpBody) -> Event {
    let mut ev = ipx(EventKind::Ncp, src, dst);
    ev.body.ncp = body;
    ev
}

impl Ncp {
    /// File server `k` of node `n`: its name and socket (never 0x451 on a wrong node).
    fn server(n: u32, k: u32) -> ([u8; 48], u16) {
        let mut name = [0; 48];
        let s = format!("FS{n:04}-{k}");
        name[..s.len()].copy_from_slice(s.as_bytes());
        let socket = match (n % 16, k) {
            (0, _) => 0x4007 + k as u16,
            (_, 0) => ports::IPX_NCP,
            _ => 0x8000 + k as u16,
        };
        (name, socket)
    }

    fn client(c: u32) -> ([u8; 10], u16) {
        (ipx_node(6, c), 0x4010)
    }

    fn advertise(s: &mut Stream, n: u32, k: u32) {
        let (name, socket) = Self::server(n, k);
        let node = ipx_node(2, n);
        let mut ev = ipx(
            EventKind::SapEntry,
            (node, ports::IPX_SAP),
            (ipx_node(6, 0), 0x4008),
        );
        ev.body.sap = SapEntryBody {
            op: 4,
            server_type: 4,
            socket,
            network: [node[0], node[1], node[2], node[3]],
            node: [node[4], node[5], node[6], node[7], node[8], node[9]],
            hops: 1,
            name,
            ..Zeroable::zeroed()
        };
        s.push(ev);
    }

    fn lookup(&mut self, s: &mut Stream, c: u32, n: u32, k: u32, answered: bool) {
        let (name, socket) = Self::server(n, k);
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let mut property_name = [0; 16];
        property_name[..11].copy_from_slice(b"NET_ADDRESS");
        let len = name.iter().position(|&b| b == 0).unwrap_or(48);
        let conn_low = c as u8;
        s.push(ncp(
            Self::client(c),
            BINDERY,
            NcpBody {
                req_type: NCP_REQUEST,
                seq,
                conn_low,
                function: 23,
                subfunction: 61,
                detail: NCP_HAS_SUBFUNCTION | NCP_HAS_RPV_REQUEST,
                object_type: 4,
                segment: 1,
                object_name_len: len as u8,
                property_name_len: 11,
                object_name: name,
                property_name,
                ..Zeroable::zeroed()
            },
        ));
        if answered {
            let mut value = [0; 12];
            value[..10].copy_from_slice(&ipx_node(2, n));
            value[10..].copy_from_slice(&socket.to_be_bytes());
            s.push(ncp(
                BINDERY,
                Self::client(c),
                NcpBody {
                    req_type: 0x3333,
                    seq,
                    conn_low,
                    detail: NCP_HAS_REPLY_VALUE,
                    value,
                    ..Zeroable::zeroed()
                },
            ));
        }
    }

    fn connect(s: &mut Stream, (c, n, seq): (u32, u32, u8)) {
        s.push(ncp(
            Self::client(c),
            (ipx_node(2, n), ports::IPX_NCP),
            NcpBody {
                req_type: 0x1111,
                seq,
                conn_low: 0xff,
                conn_high: 0xff,
                ..Zeroable::zeroed()
            },
        ));
    }

    fn wrong_connect(&mut self, s: &mut Stream, c: u32, n: u32) {
        let key = (c, n, self.seq);
        self.seq = self.seq.wrapping_add(1);
        Self::connect(s, key);
        if self.connects.len() >= BOUNDS.ncp_wrong_socket.pending.get() {
            self.connects.pop_front();
        }
        self.connects.push_back(key);
    }
}

impl Visits for Ncp {
    fn fill(&mut self, s: &mut Stream) {
        for n in 0..BOUNDS.ncp_wrong_socket.nodes.get() as u32 {
            for k in 0..PER_NODE {
                Self::advertise(s, n, k);
            }
        }
        for i in 0..BOUNDS.ncp_wrong_socket.pending.get() as u32 {
            self.lookup(s, 100_000 + i, i, 0, false);
            self.wrong_connect(s, 200_000 + i, 16 * (i % 64));
        }
    }

    fn visit(&mut self, s: &mut Stream) {
        let n = self.node;
        self.node = (n + 1) % BOUNDS.ncp_wrong_socket.nodes.get() as u32;
        self.visits += 1;
        let k = self.visits % PER_NODE;
        let c = n % 256;
        Self::advertise(s, n, k);
        self.lookup(s, c, n, k, true);
        if n.is_multiple_of(16) {
            self.wrong_connect(s, c, n);
        } else {
            Self::connect(s, (c, n, self.seq));
        }
        for _ in 0..2 {
            self.lookups += 1;
            self.lookup(s, 100_000 + self.lookups % 4096, n, k, false);
        }
        for _ in 0..4 {
            if let Some(key) = self.connects.pop_front() {
                Self::connect(s, key);
                self.connects.push_back(key);
            }
        }
    }
}

/// `sms_port_conflict`: 1024 hosts x the 4 Helpdesk ports. Each visit: two SYNs to H:p
/// nobody answers (the SYN map stays full: 4096 within the 10 s they are kept), one
/// accepted (refused on one port in 32), a datagram to H:p and H's reply, and H's own SYN
/// from p to a web server (the collision). Every (host, port, reason) was reported during
/// the fill (4096: the bound), so the flood's are within the interval and not repeated.
struct SmsLoad;

struct Sms {
    combo: u32,
    port: u16,
}

impl Workload for SmsLoad {
    fn name(&self) -> &'static str {
        "sms_port_conflict"
    }
    fn detector(&self, cfg: &Config) -> Box<dyn Detector> {
        Box::new(sms::SmsPortConflict::new(&cfg.sms_port_conflict))
    }
    fn dt(&self) -> u64 {
        MS / 2
    }
    fn start(&self) -> Box<dyn Visits> {
        Box::new(Sms {
            combo: 0,
            port: 1024,
        })
    }
}

impl Visits for Sms {
    fn fill(&mut self, s: &mut Stream) {
        for _ in 0..BOUNDS.sms_port_conflict.entries.get() {
            self.visit(s);
        }
    }

    fn visit(&mut self, s: &mut Stream) {
        let j = self.combo;
        self.combo = (j + 1) % BOUNDS.sms_port_conflict.entries.get() as u32;
        let h = (v4(5, j / 4), 1761 + (j % 4) as u16);
        let mut peer = || {
            self.port = self.port.wrapping_add(1).max(1024);
            (v4(6, j % 512), self.port)
        };
        let (a, b, c) = (peer(), peer(), peer());
        let udp_peer = (v4(7, j % 512), 5000 + (j % 4) as u16);
        s.push(tcp(a, h, TCP_SYN));
        s.push(tcp(b, h, TCP_SYN));
        s.push(tcp(c, h, TCP_SYN));
        let refused = j.is_multiple_of(32);
        s.push(tcp(
            h,
            c,
            if refused {
                TCP_RST | TCP_ACK
            } else {
                TCP_SYN | TCP_ACK
            },
        ));
        s.push(udp(udp_peer, h));
        s.push(udp(h, udp_peer));
        if refused {
            s.push(udp(udp_peer, h));
        } else {
            s.push(tcp(h, ([10, 7, 255, 1], 80), TCP_SYN));
        }
    }
}

/// `ras_port_leak`: 1024 control connections (the bound) to one RAS server, 64 calls each
/// (the bound), the setting of Q244717 and the worst for a count over every connection.
/// Each visit clears a connection's oldest call (the server confirms, except one clear in
/// 32: a record and a leaked port 10 s later) and sets up a new one; one visit in 16 has a
/// call rejected (judged against the server's peak: a record while a connection is being
/// set up again), one in 8 an unanswered request from a scanner (the request table stays
/// full), one in 1024 ends the control connection and its calls (set up again, four a
/// visit, from its next visit on).
struct RasLoad;

struct Ras {
    slots: Vec<Slot>,
    next: usize,
    visits: u32,
    server_call: u16,
    scanner: u32,
}

struct Slot {
    client: [u8; 4],
    port: u16,
    next_call: u16,
    /// (client's call id, server's call id)
    calls: VecDeque<(u16, u16)>,
}

const RAS_SERVER: [u8; 4] = [10, 0, 0, 1];
const OCRQ: u16 = 7;
const OCRP: u16 = 8;
const CCRQ: u16 = 12;
const CDN: u16 = 13;
const STOP_CCRQ: u16 = 3;

impl Workload for RasLoad {
    fn name(&self) -> &'static str {
        "ras_port_leak"
    }
    fn detector(&self, cfg: &Config) -> Box<dyn Detector> {
        Box::new(ras::RasPortLeak::new(&cfg.ras_port_leak))
    }
    fn dt(&self) -> u64 {
        MS
    }
    fn start(&self) -> Box<dyn Visits> {
        let slots = (0..BOUNDS.ras_port_leak.entries.get() as u32)
            .map(|c| Slot {
                client: v4(9, c),
                port: 1100,
                next_call: 1,
                calls: VecDeque::new(),
            })
            .collect();
        Box::new(Ras {
            slots,
            next: 0,
            visits: 0,
            server_call: 0,
            scanner: 0,
        })
    }
}

fn pptp(
    from_client: bool,
    c: ([u8; 4], u16),
    msg_type: u16,
    call_id: u16,
    peer_call_id: u16,
    result: u8,
) -> Event {
    let s = (RAS_SERVER, ports::PPTP);
    let mut ev = if from_client {
        ip(EventKind::Pptp, c, s)
    } else {
        ip(EventKind::Pptp, s, c)
    };
    ev.body.pptp = PptpMessage {
        msg_type,
        length: 32,
        call_id,
        peer_call_id,
        result,
        ..Default::default()
    }
    .into();
    ev
}

impl Ras {
    /// An Outgoing-Call-Request and its reply; a connected call is kept.
    fn call(&mut self, s: &mut Stream, i: usize, result: u8) {
        let slot = &mut self.slots[i];
        let id = slot.next_call;
        slot.next_call = slot.next_call.wrapping_add(1).max(1);
        let server_call = self.server_call;
        self.server_call = server_call.wrapping_add(1);
        let c = (slot.client, slot.port);
        s.push(pptp(true, c, OCRQ, id, 0, 0));
        s.push(pptp(false, c, OCRP, server_call, id, result));
        if result == 1 {
            slot.calls.push_back((id, server_call));
        }
    }

    /// A request nobody answers, from a fresh port.
    fn visit_scanner(&mut self, s: &mut Stream) {
        self.scanner += 1;
        let c = (
            v4(8, self.scanner % 4096),
            1024 + (self.scanner % 60000) as u16,
        );
        s.push(pptp(true, c, OCRQ, 1, 0, 0));
    }
}

impl Visits for Ras {
    fn fill(&mut self, s: &mut Stream) {
        for _ in 0..ras::CALLS {
            for i in 0..self.slots.len() {
                self.call(s, i, 1);
            }
        }
        for _ in 0..BOUNDS.ras_port_leak.entries.get() {
            self.visit_scanner(s);
        }
    }

    fn visit(&mut self, s: &mut Stream) {
        let i = self.next;
        self.next = (i + 1) % self.slots.len();
        self.visits += 1;
        let v = self.visits;
        let slot = &mut self.slots[i];
        let c = (slot.client, slot.port);
        if v % 1024 == 7 {
            s.push(pptp(true, c, STOP_CCRQ, 0, 0, 1));
            slot.port = slot.port.wrapping_add(1).max(1024);
            slot.calls.clear();
            return;
        }
        if slot.calls.len() >= ras::CALLS
            && let Some((id, server_call)) = slot.calls.pop_front()
        {
            s.push(pptp(true, c, CCRQ, id, 0, 0));
            if !v.is_multiple_of(32) {
                s.push(pptp(false, c, CDN, server_call, 0, 3));
            }
        }
        let setups = if self.slots[i].calls.len() < ras::CALLS / 2 {
            4
        } else {
            1
        };
        for _ in 0..setups {
            self.call(s, i, 1);
        }
        if v % 16 == 5 {
            self.call(s, i, 4);
        }
        if v % 8 == 3 {
            self.visit_scanner(s);
        }
    }
}
