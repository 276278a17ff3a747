//! `wins_backup_swap` (KB Q153073): a client whose primary WINS server is down registers a
//! name with the backup, swaps its server order on that answer, and sends its next
//! registrations back to the dead primary, so those names are never registered.
//!
//! Per client, an episode collects its unicast registrations (registration, refresh,
//! multi-homed), each paired with its response by server and transaction id, and the
//! names any server accepted. It closes `episode` after the client's last registration
//! (or at the end of the input), and only then is the signature judged, because the
//! benign look-alike (the client tries the primary, times out, then the backup, for every
//! name) differs from the fault only in what happens to each name afterwards.

use fault_common::{Event, proto::nbns::OPCODE_WACK};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Detail, Detector, Evidence, Fault, FaultKind, Host,
    bounded::{Bounded, map_bytes},
    nbns::{self, Flags},
};
use crate::{
    names,
    settings::{self, Allow, Bound, Nanos},
};

/// `wins_backup_swap`'s own settings. When a registration is unanswered is the NBNS
/// timeout's to say, shared with `netbios_ip_connect_failure` ([`nbns::Settings`]).
#[derive(Clone, Debug, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
#[group(skip)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// A client's WINS registration episode (wins_backup_swap) closes this long after its
    /// last registration.
    #[arg(
        id = "wins-episode",
        long = "wins-episode",
        value_name = "DURATION",
        default_value = "60s"
    )]
    pub episode: Nanos,
    /// The most clients wins_backup_swap keeps an open registration episode for (1 to
    /// 1048576). A new client past it evicts the least recently registering client's
    /// episode, unjudged, counted in faultd_detector_evictions_total.
    #[arg(
        id = "wins-clients",
        long = "wins-clients",
        value_name = "N",
        default_value = "1024"
    )]
    pub clients: Bound,
    /// Hosts not to report (configuration file only): a record whose client or server is
    /// one of these addresses or networks is dropped.
    #[arg(skip)]
    #[serde(skip_serializing_if = "Allow::is_empty")]
    pub allow: Allow,
}

impl Default for Settings {
    fn default() -> Self {
        settings::defaults()
    }
}

/// Registrations kept per episode (a client registers a handful of names, each retried
/// three times under one transaction id); the oldest gives way.
pub const REQUESTS: usize = 32;
/// Names accepted by any server, kept per episode: the most recent, as many as twice
/// the registrations kept, so every name still in the registration log is covered.
pub const ACCEPTED: usize = 2 * REQUESTS;
/// Names in a record's lists and evidence.
const LISTED: usize = 16;

/// `wins_backup_swap`'s own fields. `client` is the WINS client, `server` the primary WINS
/// server it keeps sending names to; `ts` is the close of the client's episode (its last
/// registration plus `--wins-episode`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Record {
    /// The backup WINS server whose answer made the client swap its servers.
    pub backup: String,
    /// The names sent back to the primary and never registered (up to 16, in the order
    /// first sent).
    pub names_failed: Vec<String>,
    /// The names the backup accepted (up to 16).
    pub names_registered_backup: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pending,
    /// A WACK: the server is alive and asks the client to wait for the real answer.
    Waiting,
    Answered {
        ts: u64,
        positive: bool,
    },
    Unanswered,
}

struct Request {
    server: Host,
    txid: u16,
    name: Option<[u8; 16]>,
    first: Event,
    last_ts: u64,
    sent: u32,
    outcome: Outcome,
    /// The response, for the evidence.
    answer: Option<Event>,
}

impl Request {
    /// A request still pending when a tick (`clock`) passed its deadline went unanswered.
    /// Settled when next looked at rather than by the tick, which would have to visit every
    /// client; a WACK is an answer, so a waiting request never becomes unanswered.
    fn settle(&mut self, timeout: u64, clock: Option<u64>) {
        if self.outcome == Outcome::Pending
            && clock.is_some_and(|now| self.last_ts.saturating_add(timeout) <= now)
        {
            self.outcome = Outcome::Unanswered;
        }
    }
}

struct Episode {
    requests: Vec<Request>,
    /// Names that got a positive registration response from any server.
    accepted: Vec<[u8; 16]>,
    last_registration: u64,
}

impl Episode {
    /// The registration still open (pending or waiting) to `server` under `txid`.
    fn open(
        &mut self,
        server: Host,
        txid: u16,
        timeout: u64,
        clock: Option<u64>,
    ) -> Option<&mut Request> {
        self.requests.iter_mut().find_map(|r| {
            r.settle(timeout, clock);
            let open = matches!(r.outcome, Outcome::Pending | Outcome::Waiting);
            (r.server == server && r.txid == txid && open).then_some(r)
        })
    }
}

pub struct WinsBackupSwap {
    timeout: u64,
    episode: u64,
    /// Touched by registrations only: the least recently touched client is the one
    /// whose episode closes first.
    clients: Bounded<Host, Episode>,
    /// Requests and accepted names pushed out of a full episode.
    dropped: u64,
    /// The latest time a tick has reached.
    clock: Option<u64>,
}

impl WinsBackupSwap {
    /// The most memory its state can take, in bytes: `settings.clients` clients, every one
    /// at its cap.
    pub fn state_bytes_max(settings: &Settings) -> usize {
        let clients = settings.clients.get();
        let episode = REQUESTS * size_of::<Request>() + ACCEPTED * size_of::<[u8; 16]>();
        map_bytes::<Host, Episode>(clients) + clients * episode
    }

    pub fn new(nbns: &nbns::Settings, settings: &Settings) -> Self {
        WinsBackupSwap {
            timeout: nbns.timeout.ns(),
            episode: settings.episode.max(nbns.timeout).ns(),
            clients: Bounded::new(settings.clients.get()),
            dropped: 0,
            clock: None,
        }
    }

    fn registration(&mut self, ev: &Event, name: Option<[u8; 16]>) {
        let ts = ev.hdr.ts_ns;
        let (client, server) = (Host::src(ev), Host::dst(ev));
        let txid = ev.nbns().map_or(0, |nb| nb.txid);
        let episode = self.clients.touch(client, ts, || Episode {
            requests: Vec::new(),
            accepted: Vec::new(),
            last_registration: ts,
        });
        episode.last_registration = ts;
        // A retransmission (same server and transaction, still waiting) is the same request.
        if let Some(r) = episode.open(server, txid, self.timeout, self.clock) {
            r.last_ts = ts;
            r.sent = r.sent.saturating_add(1);
        } else {
            if episode.requests.len() >= REQUESTS {
                episode.requests.remove(0);
                self.dropped += 1;
            }
            episode.requests.push(Request {
                server,
                txid,
                name,
                first: *ev,
                last_ts: ts,
                sent: 1,
                outcome: Outcome::Pending,
                answer: None,
            });
        }
    }

    fn response(&mut self, ev: &Event, flags: Flags, name: Option<[u8; 16]>) {
        let (client, server) = (Host::dst(ev), Host::src(ev));
        let txid = ev.nbns().map_or(0, |nb| nb.txid);
        let Some(episode) = self.clients.get_mut(&client) else {
            return;
        };
        let wack = flags.opcode() == OPCODE_WACK;
        let positive = !wack && flags.rcode() == 0;
        if positive && let Some(n) = name {
            episode.accepted.retain(|a| *a != n);
            if episode.accepted.len() >= ACCEPTED {
                episode.accepted.remove(0);
                self.dropped += 1;
            }
            episode.accepted.push(n);
        }
        let Some(r) = episode.open(server, txid, self.timeout, self.clock) else {
            return;
        };
        r.outcome = if wack {
            Outcome::Waiting
        } else {
            Outcome::Answered {
                ts: ev.hdr.ts_ns,
                positive,
            }
        };
        r.answer = Some(*ev);
    }

    /// The signature over a closed episode (docs/faults.md, "wins_backup_swap").
    fn judge(&self, client: Host, e: &Episode, close: u64) -> Option<Fault> {
        // The swap: the first answer from a server S that came after a registration to
        // another server P, which went unanswered.
        let mut answers: Vec<&Request> = e
            .requests
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Answered { .. }))
            .collect();
        answers.sort_by_key(|r| answered_at(r));
        let (dead, backup) = answers.iter().find_map(|a| {
            let t = answered_at(a);
            e.requests
                .iter()
                .filter(|r| {
                    r.outcome == Outcome::Unanswered
                        && r.server != a.server
                        && r.first.hdr.ts_ns < t
                })
                .min_by_key(|r| r.first.hdr.ts_ns)
                .map(|p| (p, *a))
        })?;
        let (primary, swap_at) = (dead.server, answered_at(backup));
        let answered_by_backup: Vec<Option<[u8; 16]>> = e
            .requests
            .iter()
            .filter(|r| r.server == backup.server && answered_at(r) <= swap_at)
            .map(|r| r.name)
            .collect();
        // After the swap: other names sent back to the primary, unanswered, and never
        // accepted by anyone.
        let mut lost: Vec<&Request> = Vec::new();
        for r in &e.requests {
            if r.server == primary
                && r.first.hdr.ts_ns > swap_at
                && r.outcome == Outcome::Unanswered
                && !answered_by_backup.contains(&r.name)
                && !r.name.is_some_and(|n| e.accepted.contains(&n))
                && !lost.iter().any(|l| l.name == r.name)
            {
                lost.push(r);
            }
        }
        if lost.is_empty() {
            return None;
        }
        let registered: Vec<String> = distinct(e.requests.iter().filter(|r| {
            r.server == backup.server
                && matches!(r.outcome, Outcome::Answered { positive: true, .. })
        }));
        let failed: Vec<String> = distinct(lost.iter().copied());

        let mut evidence = vec![
            Evidence::of(
                &dead.first,
                format!(
                    "registration of {} to the primary WINS server, unanswered{}",
                    nbns::show(dead.name),
                    names::transmissions(dead.sent)
                ),
            ),
            Evidence::of(
                &backup.first,
                format!(
                    "registration of {} to the backup WINS server{}",
                    nbns::show(backup.name),
                    names::transmissions(backup.sent)
                ),
            ),
        ];
        if let Some(a) = &backup.answer {
            let positive = matches!(backup.outcome, Outcome::Answered { positive: true, .. });
            evidence.push(Evidence::of(
                a,
                format!(
                    "{} registration response for {}: the client swaps its servers",
                    if positive { "positive" } else { "negative" },
                    nbns::show(backup.name)
                ),
            ));
        }
        for r in lost.iter().take(LISTED) {
            evidence.push(Evidence::of(
                &r.first,
                format!(
                    "registration of {} back to the primary, unanswered{}",
                    nbns::show(r.name),
                    names::transmissions(r.sent)
                ),
            ));
        }
        let accepted = if registered.is_empty() {
            format!("after backup WINS server {} answered", backup.server)
        } else {
            format!(
                "after backup WINS server {} accepted {}",
                backup.server,
                names::and_list(&registered)
            )
        };
        Some(Fault {
            ts_ns: close,
            client: client.to_string(),
            server: primary.to_string(),
            summary: format!(
                "WINS client {client} failed to register {}: {accepted}, it sent {} back \
                 to the primary WINS server {primary}, which does not answer (primary and \
                 backup swapped, Q153073).",
                names::and_list(&failed),
                if failed.len() == 1 {
                    "that name"
                } else {
                    "those names"
                },
            ),
            detail: Detail::WinsBackupSwap(Record {
                backup: backup.server.to_string(),
                names_failed: failed,
                names_registered_backup: registered,
            }),
            evidence,
        })
    }
}

fn answered_at(r: &Request) -> u64 {
    match r.outcome {
        Outcome::Answered { ts, .. } => ts,
        _ => u64::MAX,
    }
}

/// The requests' names, each once, in the order they were first sent.
fn distinct<'a>(requests: impl Iterator<Item = &'a Request>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in requests {
        let n = nbns::show(r.name);
        if !out.contains(&n) && out.len() < LISTED {
            out.push(n);
        }
    }
    out
}

impl Detector for WinsBackupSwap {
    fn name(&self) -> &'static str {
        FaultKind::WinsBackupSwap.id()
    }

    fn event(&mut self, ev: &Event, _out: &mut Vec<Fault>) {
        let Some((nb, flags)) = nbns::message(ev) else {
            return;
        };
        if !Host::src(ev).is_ip() {
            return;
        }
        let name = nbns::name(nb);
        if flags.response() {
            if flags.registration() || flags.opcode() == OPCODE_WACK {
                self.response(ev, flags, name);
            }
        } else if flags.registration() && !flags.broadcast() && nbns::unicast(ev) {
            self.registration(ev, name);
        }
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>) {
        let clock = self.clock.map_or(now_ns, |c| c.max(now_ns));
        self.clock = Some(clock);
        let episode = self.episode;
        let mut closed = Vec::new();
        // Last touched at its last registration: a prefix of the age order has closed.
        self.clients.expire_with(
            |last| last.saturating_add(episode) <= now_ns,
            |client, e| closed.push((e.last_registration.saturating_add(episode), client, e)),
        );
        closed.sort_by_key(|&(close, client, _)| (close, client));
        for (close, client, mut e) in closed {
            for r in &mut e.requests {
                r.settle(self.timeout, Some(clock));
            }
            out.extend(self.judge(client, &e, close));
        }
    }

    fn evictions(&self) -> u64 {
        self.clients.evicted() + self.dropped
    }

    /// Requests past an episode's fixed cap are not a bound an operator sets.
    fn bound_evictions(&self) -> u64 {
        self.clients.evicted()
    }

    fn entries(&self) -> usize {
        self.clients.len()
    }

    fn capacity(&self) -> usize {
        self.clients.capacity()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use fault_tests::{
        Carrier, Eth, Network,
        netbios::{NbName, NbRecord, nbns},
    };

    use super::*;

    /// The events of a unicast registration of `NAME<00>` from `client` to 10.0.0.2.
    fn registration(client: Ipv4Addr, id: u16, name: &str, ts: u64) -> Vec<Event> {
        let rec = NbRecord::new(NbName::new(name, 0), client);
        let frame = Eth::new([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 2])
            .ipv4(client, Ipv4Addr::new(10, 0, 0, 2))
            .udp(137, 137)
            .payload(&nbns::registration(id, &rec, false));
        let out = crate::detect::events_of(&frame, ts);
        assert_eq!(out.len(), 1);
        out
    }

    #[test]
    fn clients_beyond_the_cap_push_out_the_least_recent_and_are_counted() {
        let settings = Settings::default();
        let clients = settings.clients.get();
        assert_eq!(clients, 1024);
        let mut d = WinsBackupSwap::new(&Default::default(), &settings);
        let mut out = Vec::new();
        for i in 0..clients as u32 + 10 {
            let client = Ipv4Addr::from(0x0a01_0000 + i);
            for ev in registration(client, 1, "PC", 1_000 + u64::from(i)) {
                d.event(&ev, &mut out);
            }
        }
        assert_eq!(d.evictions(), 10);
        assert_eq!(d.clients.keys().count(), clients);
        assert_eq!((d.entries(), d.capacity()), (clients, clients));
        let first = Host {
            family: 4,
            addr: registration(Ipv4Addr::from(0x0a01_0000), 1, "PC", 0)[0]
                .hdr
                .src,
        };
        assert!(
            d.clients.get(&first).is_none(),
            "the oldest client went first"
        );
    }

    #[test]
    fn the_configured_bound_is_the_cap_and_the_capacity() {
        let settings = Settings {
            clients: Bound(3),
            ..Default::default()
        };
        let mut d = WinsBackupSwap::new(&Default::default(), &settings);
        assert_eq!(d.capacity(), 3);
        let mut out = Vec::new();
        for i in 0..5u32 {
            for ev in registration(
                Ipv4Addr::from(0x0a01_0000 + i),
                1,
                "PC",
                1_000 + u64::from(i),
            ) {
                d.event(&ev, &mut out);
            }
        }
        assert_eq!((d.entries(), d.evictions()), (3, 2));
    }

    #[test]
    fn requests_beyond_the_cap_drop_the_oldest_and_are_counted() {
        let mut d = WinsBackupSwap::new(&Default::default(), &Default::default());
        let mut out = Vec::new();
        let client = Ipv4Addr::new(10, 0, 0, 9);
        for id in 0..REQUESTS as u16 + 3 {
            for ev in registration(client, id, "PC", 1_000 + u64::from(id)) {
                d.event(&ev, &mut out);
            }
        }
        assert_eq!(d.evictions(), 3);
        assert_eq!(
            d.bound_evictions(),
            0,
            "the per-episode cap is no bound setting"
        );
        let e = d
            .clients
            .get(&Host::src(&registration(client, 0, "PC", 0)[0]));
        assert_eq!(e.map(|e| e.requests.len()), Some(REQUESTS));
        assert_eq!(e.map(|e| e.requests[0].txid), Some(3));
    }

    #[test]
    fn a_request_goes_unanswered_once_a_tick_passes_its_timeout() {
        const S: u64 = 1_000_000_000;
        let mut d = WinsBackupSwap::new(&Default::default(), &Default::default());
        let mut out = Vec::new();
        let client = Ipv4Addr::new(10, 0, 0, 9);
        let host = Host::src(&registration(client, 1, "PC", 0)[0]);
        let sent = |d: &WinsBackupSwap| {
            let e = d.clients.get(&host);
            e.map(|e| e.requests.iter().map(|r| r.sent).collect::<Vec<_>>())
        };
        for ts in [S, 7 * S] {
            for ev in registration(client, 1, "PC", ts) {
                d.event(&ev, &mut out);
            }
        }
        // No tick in between: the same transaction, still pending, retransmitted.
        assert_eq!(sent(&d), Some(vec![2]));
        d.advance(12 * S, &mut out);
        for ev in registration(client, 1, "PC", 12 * S) {
            d.event(&ev, &mut out);
        }
        assert_eq!(
            sent(&d),
            Some(vec![2, 1]),
            "a new request after the timeout"
        );
        d.advance(12 * S + 60 * S, &mut out);
        assert!(d.clients.get(&host).is_none(), "the episode closed");
    }

    #[test]
    fn the_state_stays_within_its_documented_bound() {
        let bytes = WinsBackupSwap::state_bytes_max(&Settings::default());
        eprintln!("wins_backup_swap: at most {} KiB of state", bytes / 1024);
        assert!(
            bytes <= 16 << 20,
            "{bytes} bytes: README says at most 16 MiB"
        );
    }
}
