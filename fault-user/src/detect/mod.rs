//! The stateful detectors: one per fault of docs/faults.md, fed the XDP program's events in
//! time order. Their only clock is packet time: live, a periodic tick moves it on between
//! events; in replay, the end of the capture moves it past every deadline. So a detector
//! gives the same records live and offline, and never reads the wall clock.

mod bounded;
pub mod canary;
pub mod nbns;
pub mod nbstat;
pub mod ncp;
pub mod ras;
pub mod record;
mod registry;
pub mod sms;
pub mod wins;

use std::fmt;

use fault_common::{
    Event,
    event::{EventHeader, Family},
};

pub use registry::{CANARY, Config, Entry, REGISTRY};

pub use self::record::{Detail, Evidence, Fault};
use crate::names;

/// An IP host: what the IP detectors key their state by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Host {
    pub family: u8,
    pub addr: [u8; 16],
}

/// Two fixed-size writes: the derived hash makes three (the family, the address's length,
/// the address as a slice), and the detectors hash hosts several times an event.
impl std::hash::Hash for Host {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_ne_bytes(self.addr));
        state.write_u8(self.family);
    }
}

impl Host {
    pub fn src(ev: &Event) -> Host {
        Host {
            family: ev.hdr.family,
            addr: ev.hdr.src,
        }
    }

    pub fn dst(ev: &Event) -> Host {
        Host {
            family: ev.hdr.family,
            addr: ev.hdr.dst,
        }
    }

    pub fn is_ip(self) -> bool {
        self.family == Family::Ipv4 as u8 || self.family == Family::Ipv6 as u8
    }

    /// Broadcast or multicast, as far as the address alone says (a subnet's broadcast
    /// address needs the netmask: [`unicast`] also looks at the MAC address).
    pub fn is_group(self) -> bool {
        match Family::try_from(self.family) {
            Ok(Family::Ipv4) => self.addr[..4] == [255; 4] || self.addr[0] >> 4 == 0xe,
            Ok(Family::Ipv6) => self.addr[0] == 0xff,
            _ => false,
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&names::host(self.family, &self.addr, 0))
    }
}

/// The fault catalogue (docs/faults.md), plus the plumbing's own test fault. Each fault
/// has its row in [`REGISTRY`], in this order (the build checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    WinsBackupSwap,
    NcpWrongSocket,
    NetbiosIpConnectFailure,
    SmsPortConflict,
    RasPortLeak,
    /// Not a fault: proves events reach the detectors and records reach the log, metrics
    /// and API. Only with `faultd run --canary` (tests). Stays the last kind: the
    /// catalogue's are numbered from 0 to find their rows.
    Canary,
}

impl FaultKind {
    /// Its row: [`REGISTRY`]'s, or [`CANARY`].
    pub fn entry(self) -> &'static Entry {
        match self {
            FaultKind::Canary => &CANARY,
            listed => &REGISTRY[listed as usize],
        }
    }

    pub fn id(self) -> &'static str {
        self.entry().id
    }

    pub fn kb(self) -> &'static str {
        self.entry().kb
    }

    pub fn remedy(self) -> Option<&'static str> {
        self.entry().remedy
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A stateful detector. The pipeline guarantees time order: `advance(t)` comes before any
/// event at `t`, and times never go back. State must be bounded (a cap, with expiry) and
/// what a cap pushes out counted in [`Detector::evictions`].
pub trait Detector: Send {
    /// Names the detector in metrics (`faultd_detector_evictions_total{detector}`).
    fn name(&self) -> &'static str;
    /// The next event.
    fn event(&mut self, ev: &Event, out: &mut Vec<Fault>);
    /// Packet time has reached `now_ns`: settle every deadline up to it. `u64::MAX` means
    /// the input has ended.
    fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>);
    /// State dropped to stay within the detector's bounds, since it started.
    fn evictions(&self) -> u64 {
        0
    }
    /// Of those, the entries its configurable bounds pushed out (not the fixed caps inside
    /// an entry): what a larger bound setting would have kept.
    fn bound_evictions(&self) -> u64 {
        self.evictions()
    }
    /// Entries in its maps now: each counts against a bound of README's "Bounds".
    fn entries(&self) -> usize {
        0
    }
    /// The most entries its maps hold, counted as [`Detector::entries`] counts them.
    fn capacity(&self) -> usize {
        0
    }
    /// What it has to say beyond its entries and evictions. Reports the same gauges,
    /// in the same order, on every call: the metrics register them once, at start.
    fn gauges(&self, _out: &mut dyn FnMut(Gauge)) {}
}

/// A detector's own gauge: the metric `faultd_<name>`, one series without labels, summed
/// over the detectors that report it, so its label set stays empty however many hosts are
/// behind the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub value: u64,
}

/// Feeds events to every detector in time order and collects their records.
pub struct Pipeline {
    detectors: Vec<Box<dyn Detector>>,
    /// Per fault, the hosts its records must not name, and how many were dropped.
    allow: Vec<(FaultKind, crate::settings::Allow, u64)>,
    clock: u64,
    /// Events older than the clock: a CPU can read the clock before another yet queue its
    /// record after it, so an event can arrive a little after a later one. They are handled at the clock's time.
    late: u64,
}

impl Pipeline {
    pub fn new(detectors: Vec<Box<dyn Detector>>) -> Self {
        Pipeline {
            detectors,
            allow: Vec::new(),
            clock: 0,
            late: 0,
        }
    }

    /// The detectors every `faultd` command runs: [`REGISTRY`]'s (`canary`: the test
    /// detector too).
    pub fn standard(cfg: &Config, canary: bool) -> Self {
        let canary = canary.then_some(&CANARY);
        let entries = || REGISTRY.iter().chain(canary);
        Pipeline {
            allow: entries()
                .map(|e| (e.kind, (e.allow)(cfg).clone(), 0))
                .filter(|(_, a, _)| !a.is_empty())
                .collect(),
            ..Pipeline::new(entries().map(|e| (e.new)(cfg)).collect())
        }
    }

    /// Drops the records `out[from..]` that name a host their fault's settings allow.
    fn drop_allowed(&mut self, out: &mut Vec<Fault>, from: usize) {
        if self.allow.is_empty() || out.len() == from {
            return;
        }
        let mut i = from;
        while i < out.len() {
            let f = &out[i];
            let hit = self
                .allow
                .iter_mut()
                .find(|(k, a, _)| *k == f.kind() && (a.covers(&f.client) || a.covers(&f.server)));
            match hit {
                Some((_, _, n)) => {
                    *n += 1;
                    out.remove(i);
                }
                None => i += 1,
            }
        }
    }

    /// Records dropped because their fault's `allow` names a host in them, by fault.
    pub fn allowed(&self) -> impl Iterator<Item = (FaultKind, u64)> + '_ {
        self.allow.iter().map(|&(k, _, n)| (k, n))
    }

    pub fn event(&mut self, ev: &Event, out: &mut Vec<Fault>) {
        // Only a late event is copied (to move its time): most are not, and copies add up
        // at line rate.
        let late;
        let ev = if ev.hdr.ts_ns < self.clock {
            self.late += 1;
            late = Event {
                hdr: EventHeader {
                    ts_ns: self.clock,
                    ..ev.hdr
                },
                ..*ev
            };
            &late
        } else {
            self.advance(ev.hdr.ts_ns, out);
            ev
        };
        let from = out.len();
        for d in &mut self.detectors {
            d.event(ev, out);
        }
        self.drop_allowed(out, from);
    }

    /// Moves packet time on without an event (the live tick).
    pub fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>) {
        if now_ns <= self.clock {
            return;
        }
        self.clock = now_ns;
        // Records in time order across detectors too (a long gap, or the end of a
        // capture, settles many deadlines of several detectors at once).
        let from = out.len();
        for d in &mut self.detectors {
            d.advance(now_ns, out);
        }
        self.drop_allowed(out, from);
        out[from..].sort_by_key(|f| f.ts_ns);
    }

    /// End of input: every pending deadline passes.
    pub fn finish(&mut self, out: &mut Vec<Fault>) {
        self.advance(u64::MAX, out);
    }

    pub fn clock(&self) -> u64 {
        self.clock
    }

    pub fn late_events(&self) -> u64 {
        self.late
    }

    /// Every detector's own gauges, those of one name summed, in the order they first
    /// come.
    pub fn gauges(&self) -> Vec<Gauge> {
        let mut all: Vec<Gauge> = Vec::new();
        for d in &self.detectors {
            d.gauges(&mut |g| match all.iter_mut().find(|a| a.name == g.name) {
                Some(a) => a.value = a.value.saturating_add(g.value),
                None => all.push(g),
            });
        }
        all
    }

    /// `(detector, entries)` for each detector.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.detectors.iter().map(|d| (d.name(), d.entries()))
    }

    /// `(detector, capacity)` for each detector.
    pub fn capacity(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.detectors.iter().map(|d| (d.name(), d.capacity()))
    }

    /// `(detector, evictions)` for each detector.
    pub fn evictions(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.detectors.iter().map(|d| (d.name(), d.evictions()))
    }

    /// `(detector, evictions by its configurable bounds)` for each detector.
    pub fn bound_evictions(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.detectors
            .iter()
            .map(|d| (d.name(), d.bound_evictions()))
    }
}

/// The events the parser hands over for one frame at `ts`: the detectors' unit tests
/// build frames with the frame builder and feed them through this.
#[cfg(test)]
pub(crate) fn events_of(frame: &[u8], ts: u64) -> Vec<Event> {
    use crate::engine::{Engine, user::UserEngine};
    let mut e = UserEngine::default();
    e.frame(ts, frame).unwrap();
    let mut out = Vec::new();
    e.drain_events(&mut out).unwrap();
    out
}

/// The same "random" sequence every run (xorshift64), for the tests that check a
/// detector's incremental bookkeeping against a recount.
#[cfg(test)]
pub(crate) struct TestRng(pub u64);

#[cfg(test)]
impl TestRng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
