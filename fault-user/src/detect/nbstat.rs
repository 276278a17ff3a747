//! `netbios_ip_connect_failure` (KB Q251166): a client told to reach `\\<IP address>`
//! first asks that address for its names with an adapter-status (NBSTAT) query to UDP 137;
//! where UDP 137 is filtered the query goes unanswered and the NetBIOS session on TCP 139
//! never comes.
//!
//! An episode, per (client, target), opens with the first unicast NBSTAT query sent from
//! UDP 137 (or an ICMP error quoting one) and closes `window` later. It is a fault when no
//! query of the episode was answered, at least one is past its response timeout, and no
//! positive session response went from the target to the client within `window` of the
//! first query. Around the episodes, small maps remember the context the record reports:
//! who answered a SYN on TCP 139, who called `*SMBSERVER`, which sessions came up.

use fault_common::{
    Event,
    event::{Family, QUOTED_NBNS, TCP_ACK, TCP_SYN},
    ports,
    proto::{
        ip,
        nbns::{OPCODE_QUERY, RTYPE_NBSTAT},
        nbss,
    },
};
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

/// `netbios_ip_connect_failure`'s own settings. When a query is unanswered is the NBNS
/// timeout's to say, shared with `wins_backup_swap` ([`nbns::Settings`]).
#[derive(Clone, Debug, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
#[group(skip)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// An unanswered NBSTAT query (netbios_ip_connect_failure) is a fault when no NetBIOS
    /// session follows within this.
    #[arg(
        id = "nbstat-window",
        long = "nbstat-window",
        value_name = "DURATION",
        default_value = "30s"
    )]
    pub window: Nanos,
    /// The most (client, target) pairs netbios_ip_connect_failure keeps an open NBSTAT
    /// episode for, and the entries of each of its context maps (sessions up, *SMBSERVER
    /// calls, TCP 139 answers) (1 to 1048576). A new pair past it evicts the least recently
    /// active episode, unjudged (a context map, its oldest entry), counted in
    /// faultd_detector_evictions_total.
    #[arg(
        id = "nbstat-episodes",
        long = "nbstat-episodes",
        value_name = "N",
        default_value = "4096"
    )]
    pub episodes: Bound,
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

/// `netbios_ip_connect_failure`'s own fields. `client` is the host that queried, `server`
/// the address the user tried to reach; `ts` is when the episode was judged (the end of
/// the window, or the first query's timeout if that is later).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Record {
    /// An ICMP or ICMPv6 destination unreachable quoting the client's datagram to the
    /// server's UDP 137 was seen, from any sender.
    pub icmp_unreachable: bool,
    /// The server answered a SYN on TCP 139 (a SYN-ACK to anyone) in the hour before the
    /// record: strong evidence that only UDP 137 is filtered.
    pub tcp139_reachable: bool,
    /// The client sent the server a session request for the called name `*SMBSERVER<20>`,
    /// from one window before the first query until the record.
    pub smbserver_tried: bool,
}

/// Distinct queries (transaction ids) kept per episode (a client retries three times);
/// later ones are not listed.
pub const QUERIES: usize = 8;
/// How long a SYN-ACK from TCP 139 is remembered as proof that the port is reachable.
const REACHABLE_FOR_NS: u64 = 3600 * 1_000_000_000;
/// `*SMBSERVER<20>`, space padded: the called name every CIFS server must accept.
const SMBSERVER: [u8; 16] = *b"*SMBSERVER     \x20";

type Pair = (Host, Host);

struct Query {
    txid: u16,
    first: Event,
    last_ts: u64,
    sent: u32,
    /// Seen only through an ICMP error quoting it.
    quoted_only: bool,
}

struct Episode {
    first_ts: u64,
    queries: Vec<Query>,
    answered: bool,
    /// The first ICMP error quoting one of the queries, and how many there were.
    icmp: Option<Event>,
    icmp_count: u32,
    /// Its window has passed, but its queries had not timed out yet.
    judged: bool,
}

impl Episode {
    /// Marks it answered; whether that settles an episode already judged.
    fn answer(&mut self) -> bool {
        let late = self.judged && !self.answered;
        self.answered = true;
        late
    }

    /// The earliest time one of its queries times out.
    fn first_timeout(&self, timeout: u64) -> Option<u64> {
        self.queries
            .iter()
            .map(|q| q.last_ts.saturating_add(timeout))
            .min()
    }
}

pub struct NbstatConnectFailure {
    timeout: u64,
    window: u64,
    /// Due when their window ends, then (once judged) when their queries time out.
    episodes: Bounded<Pair, Episode>,
    /// Episodes judged already that have been answered since: the next judgement drops
    /// them, as it would any episode past its window.
    answered_late: Vec<Pair>,
    /// Positive session responses, by (client, target): their time.
    sessions: Bounded<Pair, u64>,
    /// Session requests to `*SMBSERVER`, by (client, target).
    smbserver: Bounded<Pair, Event>,
    /// SYN-ACKs from TCP 139, by target.
    reachable: Bounded<Host, Event>,
    /// Judgements happen only from here on: when a query's timeout or a due episode says.
    next_due: u64,
}

impl NbstatConnectFailure {
    /// The most memory its state can take, in bytes: every map at its cap (the context
    /// maps are as large as the episodes': a session forgotten before its episode is judged
    /// would make a fault of it).
    pub fn state_bytes_max(settings: &Settings) -> usize {
        let n = settings.episodes.get();
        map_bytes::<Pair, Episode>(n)
            + n * (QUERIES * size_of::<Query>() + size_of::<Pair>())
            + map_bytes::<Pair, u64>(n)
            + map_bytes::<Pair, Event>(n)
            + map_bytes::<Host, Event>(n)
    }

    pub fn new(nbns: &nbns::Settings, settings: &Settings) -> Self {
        NbstatConnectFailure {
            timeout: nbns.timeout.ns(),
            window: settings.window.ns(),
            episodes: Bounded::new(settings.episodes.get()),
            answered_late: Vec::new(),
            sessions: Bounded::new(settings.episodes.get()),
            smbserver: Bounded::new(settings.episodes.get()),
            reachable: Bounded::new(settings.episodes.get()),
            next_due: u64::MAX,
        }
    }

    /// A query seen directly (`quoted_only` false) or through an ICMP error about it.
    fn query(&mut self, pair: Pair, txid: u16, ev: &Event, quoted_only: bool) {
        let ts = ev.hdr.ts_ns;
        let (e, new) = self.episodes.upsert(pair, ts, || Episode {
            first_ts: ts,
            queries: Vec::new(),
            answered: false,
            icmp: None,
            icmp_count: 0,
            judged: false,
        });
        if let Some(q) = e.queries.iter_mut().find(|q| q.txid == txid) {
            if !quoted_only {
                q.sent = q.sent.saturating_add(1);
                q.last_ts = ts;
            }
        } else if e.queries.len() < QUERIES {
            e.queries.push(Query {
                txid,
                first: *ev,
                last_ts: ts,
                sent: 1,
                quoted_only,
            });
        }
        let due = if e.judged {
            // What the judgement waits for: the first of its queries to time out.
            e.first_timeout(self.timeout)
        } else if new {
            Some(ts.saturating_add(self.window))
        } else {
            None
        };
        if let Some(at) = due {
            self.episodes.set_due(&pair, at);
        }
        self.next_due = self.next_due.min(ts.saturating_add(self.timeout));
    }

    fn nbns(&mut self, ev: &Event) {
        let Some((nb, flags)) = nbns::message(ev) else {
            return;
        };
        if flags.opcode() != OPCODE_QUERY {
            return;
        }
        let (src, dst) = (Host::src(ev), Host::dst(ev));
        if flags.response() {
            // Any answer from the target under the query's transaction id.
            if let Some(e) = self.episodes.get_mut(&(dst, src))
                && e.queries.iter().any(|q| q.txid == nb.txid)
                && e.answer()
            {
                self.answered_late.push((dst, src));
            }
        } else if nb.rtype == RTYPE_NBSTAT
            && nbns::port_137_both(ev)
            && !flags.broadcast()
            && nbns::unicast(ev)
        {
            // Scanners and diagnostic tools send from other ports; the redirector from 137.
            // A broadcast says so in its flags too, which is all there is to go by where the
            // link has no addresses (raw IP captures) and the destination is a subnet's
            // broadcast address.
            self.query((src, dst), nb.txid, ev, false);
        }
    }

    fn icmp(&mut self, ev: &Event) {
        let Some(b) = ev.icmp() else { return };
        if b.quoted_proto != ip::UDP
            || b.quoted_sport != ports::NBNS
            || b.quoted_dport != ports::NBNS
        {
            return;
        }
        let client = Host {
            family: b.quoted_family,
            addr: b.quoted_src,
        };
        let target = Host {
            family: b.quoted_family,
            addr: b.quoted_dst,
        };
        let flags = Flags(b.quoted_flags);
        if b.quoted_app == QUOTED_NBNS {
            if flags.response() || flags.opcode() != OPCODE_QUERY || b.quoted_rtype != RTYPE_NBSTAT
            {
                return;
            }
            // Hosts answer no broadcast with an ICMP error: the quote proves a unicast query.
            self.query((client, target), b.quoted_txid, ev, true);
        }
        // RFC 792's minimum quote stops at the UDP header: it cannot say which request it
        // answers, but it does say that C's datagrams to T:137 are refused.
        let Some(e) = self.episodes.get_mut(&(client, target)) else {
            return;
        };
        e.icmp_count = e.icmp_count.saturating_add(1);
        e.icmp.get_or_insert(*ev);
    }

    fn nbss(&mut self, ev: &Event) {
        let Some(b) = ev.nbss() else { return };
        let ts = ev.hdr.ts_ns;
        let (src, dst) = (Host::src(ev), Host::dst(ev));
        if b.msg_type == nbss::POSITIVE && ev.hdr.sport == ports::NBSS {
            self.sessions.put((dst, src), ts, ts);
            // The session came up: whatever the queries did, the client got through.
            if let Some(e) = self.episodes.get_mut(&(dst, src))
                && e.answer()
            {
                self.answered_late.push((dst, src));
            }
        } else if b.msg_type == nbss::REQUEST && b.names & 1 != 0 && b.called == SMBSERVER {
            self.smbserver.put((src, dst), ts, *ev);
        }
    }

    fn tcp(&mut self, ev: &Event) {
        let Some(b) = ev.tcp() else { return };
        if ev.hdr.sport == ports::NBSS && b.flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK {
            let ts = ev.hdr.ts_ns;
            self.reachable.put(Host::src(ev), ts, *ev);
        }
    }

    /// Drops context older than any open episode's window.
    fn expire(&mut self, now_ns: u64) {
        let horizon = now_ns.saturating_sub(self.window.saturating_mul(2) + self.timeout);
        self.sessions.expire(horizon);
        self.smbserver.expire(horizon);
        self.reachable
            .expire(now_ns.saturating_sub(REACHABLE_FOR_NS));
    }

    /// The verdict on an episode whose window has passed at `now`: `Ok(fault)`, or
    /// `Err(Some(t))` to look again at `t` (its queries are still within their timeout).
    fn judge(&self, (client, target): Pair, e: &Episode, now: u64) -> Result<Option<Fault>, u64> {
        let window_end = e.first_ts.saturating_add(self.window);
        let session = self
            .sessions
            .get(&(client, target))
            .is_some_and(|&t| t >= e.first_ts && t <= window_end);
        if e.answered || session {
            return Ok(None);
        }
        let Some(first_expired) = e.first_timeout(self.timeout) else {
            return Err(now);
        };
        if first_expired > now {
            return Err(first_expired);
        }
        let ts = window_end.max(first_expired);
        let smbserver = self
            .smbserver
            .get(&(client, target))
            .filter(|r| r.hdr.ts_ns.saturating_add(self.window) >= e.first_ts && r.hdr.ts_ns <= ts);
        let reachable = self
            .reachable
            .get(&target)
            .filter(|s| s.hdr.ts_ns <= ts && s.hdr.ts_ns.saturating_add(REACHABLE_FOR_NS) >= ts);

        let mut evidence = Vec::new();
        for q in e.queries.iter().filter(|q| !q.quoted_only) {
            evidence.push(Evidence::of(
                &q.first,
                format!(
                    "NBSTAT query {:#06x}, unanswered{}",
                    q.txid,
                    names::transmissions(q.sent)
                ),
            ));
        }
        if let Some(icmp) = &e.icmp {
            let quoted = match icmp.icmp() {
                Some(b) if b.quoted_app == QUOTED_NBNS => {
                    format!("NBSTAT query {:#06x}", b.quoted_txid)
                }
                _ => format!("a datagram from {client}:137 to {target}:137"),
            };
            let more = if e.icmp_count > 1 {
                format!(" (first of {})", e.icmp_count)
            } else {
                String::new()
            };
            evidence.push(Evidence::of(
                icmp,
                format!("ICMP destination unreachable quoting {quoted}{more}"),
            ));
        }
        if let Some(s) = smbserver {
            evidence.push(Evidence::of(s, "session request to *SMBSERVER<20>"));
        }
        if let Some(s) = reachable {
            evidence.push(Evidence::of(s, "SYN-ACK from TCP 139"));
        }
        evidence.sort_by_key(|e| e.ts_ns);

        let answer = if e.icmp.is_some() {
            "got only an ICMP destination unreachable"
        } else {
            "got no answer"
        };
        let why = if reachable.is_some() {
            format!("; {target} does answer on TCP 139, so UDP 137 is filtered")
        } else {
            String::new()
        };
        Ok(Some(Fault {
            ts_ns: ts,
            client: client.to_string(),
            server: target.to_string(),
            summary: format!(
                "{client} could not connect to \\\\{target} by IP address: its NetBIOS \
                 adapter-status query to UDP 137 {answer} and no NetBIOS session followed \
                 within {}{why} (Q251166).",
                names::duration(self.window)
            ),
            detail: Detail::NetbiosIpConnectFailure(Record {
                icmp_unreachable: e.icmp.is_some(),
                tcp139_reachable: reachable.is_some(),
                smbserver_tried: smbserver.is_some(),
            }),
            evidence,
        }))
    }
}

impl Detector for NbstatConnectFailure {
    fn name(&self) -> &'static str {
        FaultKind::NetbiosIpConnectFailure.id()
    }

    fn event(&mut self, ev: &Event, _out: &mut Vec<Fault>) {
        if !matches!(
            Family::try_from(ev.hdr.family),
            Ok(Family::Ipv4 | Family::Ipv6)
        ) {
            return;
        }
        self.nbns(ev);
        self.icmp(ev);
        self.nbss(ev);
        self.tcp(ev);
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>) {
        if now_ns < self.next_due {
            self.expire(now_ns);
            return;
        }
        // Every episode past its window is judged now. Those not due and not answered
        // since their last judgement would only be told again to wait for their queries.
        let mut pairs = self.episodes.take_due(now_ns);
        pairs.append(&mut self.answered_late);
        pairs.sort_unstable();
        pairs.dedup();
        let mut verdicts = Vec::new();
        for pair in pairs {
            let Some(e) = self.episodes.get(&pair) else {
                continue;
            };
            let window_end = e.first_ts.saturating_add(self.window);
            if window_end > now_ns {
                self.episodes.set_due(&pair, window_end);
                continue;
            }
            match self.judge(pair, e, now_ns) {
                Ok(fault) => verdicts.push((pair, fault)),
                Err(again) => {
                    if let Some(e) = self.episodes.get_mut(&pair) {
                        e.judged = true;
                    }
                    self.episodes.set_due(&pair, again);
                }
            }
        }
        let mut faults = Vec::new();
        for (pair, fault) in verdicts {
            self.episodes.remove(&pair);
            faults.extend(fault);
        }
        faults.sort_by_key(|f| f.ts_ns);
        out.extend(faults);
        self.next_due = self.episodes.next_due().unwrap_or(u64::MAX);
        // After judging: the end of input (`u64::MAX`) expires everything.
        self.expire(now_ns);
    }

    fn evictions(&self) -> u64 {
        self.episodes.evicted()
            + self.sessions.evicted()
            + self.smbserver.evicted()
            + self.reachable.evicted()
    }

    fn entries(&self) -> usize {
        self.episodes.len() + self.sessions.len() + self.smbserver.len() + self.reachable.len()
    }

    fn capacity(&self) -> usize {
        self.episodes.capacity()
            + self.sessions.capacity()
            + self.smbserver.capacity()
            + self.reachable.capacity()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use fault_tests::{
        Carrier, Eth, Network,
        netbios::{NbName, nbns},
    };

    use super::*;

    fn nbstat_query(target: Ipv4Addr, id: u16, ts: u64) -> Event {
        let frame = Eth::new([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 2])
            .ipv4(Ipv4Addr::new(10, 0, 0, 9), target)
            .udp(137, 137)
            .payload(&nbns::nbstat_request(id, &NbName::wildcard(), false));
        let out = crate::detect::events_of(&frame, ts);
        out[0]
    }

    #[test]
    fn episodes_beyond_the_cap_push_out_the_least_recent_and_are_counted() {
        let settings = Settings::default();
        let episodes = settings.episodes.get();
        assert_eq!(episodes, 4096);
        let mut d = NbstatConnectFailure::new(&Default::default(), &settings);
        assert_eq!(d.capacity(), 4 * episodes);
        let mut out = Vec::new();
        for i in 0..episodes as u32 + 7 {
            let ev = nbstat_query(Ipv4Addr::from(0x0a02_0000 + i), 1, 1_000 + u64::from(i));
            d.event(&ev, &mut out);
        }
        assert_eq!(d.evictions(), 7);
        assert_eq!(d.episodes.keys().count(), episodes);
        // The survivors are still judged: every one of them is a fault at the end.
        d.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), episodes);
    }

    #[test]
    fn the_configured_bound_caps_episodes_and_context_alike() {
        let settings = Settings {
            episodes: Bound(5),
            ..Default::default()
        };
        let mut d = NbstatConnectFailure::new(&Default::default(), &settings);
        assert_eq!(d.capacity(), 4 * 5);
        let mut out = Vec::new();
        for i in 0..8u32 {
            let ev = nbstat_query(Ipv4Addr::from(0x0a02_0000 + i), 1, 1_000 + u64::from(i));
            d.event(&ev, &mut out);
        }
        assert_eq!((d.entries(), d.evictions()), (5, 3));
        d.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), 5, "the 5 most recent episodes are judged");
    }

    #[test]
    fn queries_beyond_the_cap_are_not_listed() {
        let mut d = NbstatConnectFailure::new(&Default::default(), &Default::default());
        let mut out = Vec::new();
        for id in 0..QUERIES as u16 + 4 {
            let ev = nbstat_query(Ipv4Addr::new(10, 0, 0, 2), id, 1_000 + u64::from(id));
            d.event(&ev, &mut out);
        }
        d.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence.len(), QUERIES);
    }

    #[test]
    fn an_episode_answered_while_its_queries_wait_goes_at_the_next_judgement() {
        const S: u64 = 1_000_000_000;
        let mut d = NbstatConnectFailure::new(&Default::default(), &Default::default());
        let mut out = Vec::new();
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3));
        d.event(&nbstat_query(a, 1, S), &mut out);
        d.event(&nbstat_query(b, 2, 5 * S / 2), &mut out);
        // A's window ends at 31 s with its retransmission still within its timeout (34 s).
        d.event(&nbstat_query(a, 1, 29 * S), &mut out);
        d.advance(31 * S, &mut out);
        assert_eq!((d.episodes.len(), out.len()), (2, 0));
        let answer = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 9])
            .ipv4(a, Ipv4Addr::new(10, 0, 0, 9))
            .udp(137, 137)
            .payload(&nbns::nbstat_response(1, &NbName::wildcard(), &[], [2; 6]));
        for ev in crate::detect::events_of(&answer, 32 * S) {
            d.event(&ev, &mut out);
        }
        // B's window (32.5 s) brings the next judgement: B is a fault, A is dropped then,
        // before its queries' timeout.
        d.advance(65 * S / 2, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].server, "10.0.0.3");
        assert_eq!(d.episodes.len(), 0);
        assert_eq!(d.episodes.next_due(), None);
    }

    #[test]
    fn the_state_stays_within_its_documented_bound() {
        let bytes = NbstatConnectFailure::state_bytes_max(&Settings::default());
        eprintln!(
            "netbios_ip_connect_failure: at most {} KiB of state",
            bytes / 1024
        );
        assert!(
            bytes <= 16 << 20,
            "{bytes} bytes: README says at most 16 MiB"
        );
    }
}
