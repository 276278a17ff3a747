//! `ras_port_leak` (KB Q244717): a RAS server that never completes a client's disconnect
//! keeps the port busy, and its capacity shrinks. Seen through PPTP's control connection
//! (TCP 1723).
//!
//! Per control connection, the calls set up by Outgoing-Call-Request/Reply (result 1),
//! with the client's and the server's call ids paired by the reply. A call ends at the
//! first of the client's Call-Clear-Request, the server's Call-Disconnect-Notify, or the
//! end of its control connection (Stop-Control-Connection, TCP FIN or RST). So a leaked
//! port is not an active call, and the server's lost capacity shows as a rejection while
//! it carries fewer calls than it once did (`capacity_lost`). A clear that the server does
//! not confirm with a disconnect-notify within `--pptp-clear-timeout` is
//! `disconnect_unacknowledged`, whatever else happens to the control connection; that
//! call's port counts as leaked (the `faultd_ras_leaked_ports` gauge) until a late
//! disconnect-notify or an hour.

use std::collections::{BTreeMap, BTreeSet};

use fault_common::{
    Event,
    event::{TCP_FIN, TCP_RST},
    ports,
    proto::pptp::{CCRQ, CDN, OCRP, OCRP_CONNECTED, OCRQ, STOP_CCRP, STOP_CCRQ},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Detail, Detector, Evidence, Fault, FaultKind, Gauge, Host,
    bounded::{Bounded, map_bytes},
};
use crate::{
    names,
    settings::{self, Allow, Bound, Nanos},
};

/// `ras_port_leak`'s settings.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
#[group(skip)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// A PPTP Call-Clear-Request the server does not confirm with a
    /// Call-Disconnect-Notify within this is ras_port_leak's disconnect_unacknowledged.
    #[arg(
        id = "pptp-clear-timeout",
        long = "pptp-clear-timeout",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub clear_timeout: Nanos,
    /// The most entries each of ras_port_leak's maps holds: PPTP control connections with
    /// calls up, Outgoing-Call-Requests awaiting their reply, RAS servers, clears awaiting
    /// their confirmation, leaked ports (1 to 1048576). A new one past it evicts the least
    /// recently active, counted in faultd_detector_evictions_total (an evicted connection's
    /// calls still count as carried by its server).
    #[arg(
        id = "pptp-entries",
        long = "pptp-entries",
        value_name = "N",
        default_value = "1024"
    )]
    pub entries: Bound,
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

/// Calls kept per control connection (a RAS server's ports are per call; Windows allows
/// hundreds per server, rarely many per connection).
pub const CALLS: usize = 64;
const LEAK_REMEMBERED_NS: u64 = 3600 * 1_000_000_000;

/// `ras_port_leak`'s own fields. `client` is the PPTP client (for `capacity_lost`, the
/// client whose call was rejected), `server` the RAS server; `ts` is the clear's deadline
/// (`disconnect_unacknowledged`) or the time of the rejecting reply (`capacity_lost`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Record {
    pub reason: Reason,
    /// Ports lost: 1 for `disconnect_unacknowledged`; the most calls the server has
    /// carried at once minus those it carries now for `capacity_lost`.
    #[schemars(range(min = 1))]
    pub leaked: u32,
    /// The client's call id (of the cleared call, or of the rejected request).
    pub call_id: u16,
}

/// Which sign showed the leak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A Call-Clear-Request was not followed by a Call-Disconnect-Notify within
    /// `--pptp-clear-timeout`.
    DisconnectUnacknowledged,
    /// The server rejected a call while carrying fewer calls than the most it has carried
    /// at once.
    CapacityLost,
}

/// A control connection: (server, client, client's TCP port).
type Conn = (Host, Host, u16);

#[derive(Clone, Copy)]
struct Call {
    client_call: u16,
    server_call: u16,
}

#[derive(Default)]
struct Server {
    /// The most calls it has carried at once.
    peak: u32,
    /// Calls of its control connections that a full table pushed out: still counted as
    /// up, since nothing said they ended (a rejection must never look like lost capacity
    /// because faultd lost track).
    untracked: u32,
}

struct Clear {
    ccrq: Event,
    server_call: u16,
    deadline: u64,
}

/// A port counted as leaked (since the entry's time, its clear's deadline).
struct Leak {
    server_call: u16,
}

/// Entries that remember a call's server id.
trait ServerCall {
    fn server_call(&self) -> u16;
}

impl ServerCall for Clear {
    fn server_call(&self) -> u16 {
        self.server_call
    }
}

impl ServerCall for Leak {
    fn server_call(&self) -> u16 {
        self.server_call
    }
}

/// Calls by (control connection, client's call id), which a disconnect-notify also names
/// by the server's call id: an index by that, so finding one costs no walk over the rest.
struct ByCall<V> {
    map: Bounded<(Conn, u16), V>,
    /// `(connection, server's call id, client's call id)` of every entry.
    by_server: BTreeSet<(Conn, u16, u16)>,
}

impl<V: ServerCall> ByCall<V> {
    fn new(entries: usize) -> Self {
        ByCall {
            map: Bounded::spilling(entries),
            by_server: BTreeSet::new(),
        }
    }

    fn bytes_max(entries: usize) -> usize {
        map_bytes::<(Conn, u16), V>(entries) + entries * size_of::<(Conn, u16, u16)>()
    }

    /// As [`Bounded::touch`]; whether the entry is new.
    fn touch(&mut self, k: (Conn, u16), now: u64, make: impl FnOnce() -> V) -> bool {
        let (v, new) = self.map.upsert(k, now, make);
        let server_call = v.server_call();
        if new {
            self.by_server.insert((k.0, server_call, k.1));
        }
        if let Some(((conn, call), v)) = self.map.take_spilled() {
            self.by_server.remove(&(conn, v.server_call(), call));
        }
        new
    }

    fn remove(&mut self, k: &(Conn, u16)) -> Option<V> {
        let v = self.map.remove(k)?;
        self.by_server.remove(&(k.0, v.server_call(), k.1));
        Some(v)
    }

    fn expire(&mut self, cutoff: u64) {
        let by_server = &mut self.by_server;
        self.map.expire_with(
            |touched| touched < cutoff,
            |(conn, call), v| {
                by_server.remove(&(conn, v.server_call(), call));
            },
        );
    }

    /// The key of `conn`'s entry for call `id`: the server's id (the lowest client's id
    /// first, should two calls share it) or the client's.
    fn find(&self, conn: Conn, id: u16, server_side: bool) -> Option<(Conn, u16)> {
        if server_side {
            let (_, _, call) = self
                .by_server
                .range((conn, id, 0)..=(conn, id, u16::MAX))
                .next()?;
            Some((conn, *call))
        } else {
            self.map.get(&(conn, id)).map(|_| (conn, id))
        }
    }
}

pub struct RasPortLeak {
    clear_timeout: u64,
    /// Control connections with at least one call up.
    controls: Bounded<Conn, Vec<Call>>,
    /// The calls of each server's control connections in `controls`, kept as calls come
    /// and go: a rejection is judged against it without walking every connection.
    carried: BTreeMap<Host, u32>,
    requests: Bounded<(Conn, u16), Event>,
    servers: Bounded<Host, Server>,
    /// Clears awaiting the server's confirmation (due at their deadline), and the calls
    /// they leaked.
    clears: ByCall<Clear>,
    leaked: ByCall<Leak>,
}

impl RasPortLeak {
    pub fn state_bytes_max(settings: &Settings) -> usize {
        let n = settings.entries.get();
        map_bytes::<Conn, Vec<Call>>(n)
            + n * (CALLS * size_of::<Call>() + size_of::<(Host, u32)>())
            + map_bytes::<(Conn, u16), Event>(n)
            + map_bytes::<Host, Server>(n)
            + ByCall::<Clear>::bytes_max(n)
            + ByCall::<Leak>::bytes_max(n)
    }

    pub fn new(settings: &Settings) -> Self {
        let n = settings.entries.get();
        RasPortLeak {
            clear_timeout: settings.clear_timeout.ns(),
            controls: Bounded::spilling(n),
            carried: BTreeMap::new(),
            requests: Bounded::new(n),
            servers: Bounded::new(n),
            clears: ByCall::new(n),
            leaked: ByCall::new(n),
        }
    }

    /// Ports currently counted as leaked, over every server.
    pub fn leaked_ports(&self) -> u64 {
        self.leaked.map.len() as u64
    }

    fn active(&self, server: Host) -> u32 {
        let tracked = self.carried.get(&server).copied().unwrap_or(0);
        let untracked = self.servers.get(&server).map_or(0, |s| s.untracked);
        tracked + untracked
    }

    fn carry(&mut self, server: Host, more: u32, fewer: u32) {
        let n = self.carried.entry(server).or_default();
        *n = *n + more - fewer;
        if *n == 0 {
            self.carried.remove(&server);
        }
    }

    /// Removes the call the closure picks from `conn`'s active calls.
    fn end_call(&mut self, conn: Conn, pick: impl Fn(&Call) -> bool) -> Option<Call> {
        let calls = self.controls.get_mut(&conn)?;
        let call = calls.remove(calls.iter().position(pick)?);
        if calls.is_empty() {
            self.controls.remove(&conn);
        }
        self.carry(conn.0, 0, 1);
        Some(call)
    }

    /// The end of a control connection, and of the calls it carried.
    fn end_control(&mut self, conn: Conn) {
        if let Some(calls) = self.controls.remove(&conn) {
            self.carry(conn.0, 0, calls.len() as u32);
        }
    }

    fn pptp(&mut self, ev: &Event, out: &mut Vec<Fault>) {
        let Some(b) = ev.pptp() else { return };
        let h = &ev.hdr;
        let from_server = h.sport == ports::PPTP;
        let conn: Conn = if from_server {
            (Host::src(ev), Host::dst(ev), h.dport)
        } else {
            (Host::dst(ev), Host::src(ev), h.sport)
        };
        let ts = h.ts_ns;
        match (b.msg_type, from_server) {
            (OCRQ, false) => {
                self.requests.put((conn, b.call_id), ts, *ev);
            }
            // RFC 2637 defines no result below connected, so a 0 is no verdict (the parser
            // hands over whole messages only, so it is what the server sent), neither a
            // call nor a rejection.
            (OCRP, true) if b.result >= OCRP_CONNECTED => self.reply(conn, ev, out),
            (CCRQ, false) => {
                let Some(call) = self.end_call(conn, |k| k.client_call == b.call_id) else {
                    return;
                };
                let deadline = ts.saturating_add(self.clear_timeout);
                let key = (conn, call.client_call);
                let new = self.clears.touch(key, ts, || Clear {
                    ccrq: *ev,
                    server_call: call.server_call,
                    deadline,
                });
                // A clear repeated for the same call keeps its first deadline.
                if new {
                    self.clears.map.set_due(&key, deadline);
                }
            }
            (CDN, true) => self.disconnected(conn, b.call_id),
            (STOP_CCRQ | STOP_CCRP, _) => self.end_control(conn),
            _ => {}
        }
    }

    /// The server's Call-Disconnect-Notify for `id`. RFC 2637 has it carry the server's
    /// own call id; some servers send the client's (the real capture from nDPI does). The
    /// server's id is tried first everywhere (a clear awaiting it, an active call, a leak)
    /// before the client's is.
    fn disconnected(&mut self, conn: Conn, id: u16) {
        for server_side in [true, false] {
            if let Some(k) = self.clears.find(conn, id, server_side) {
                self.clears.remove(&k);
                return;
            }
            let pick = |k: &Call| {
                if server_side {
                    k.server_call == id
                } else {
                    k.client_call == id
                }
            };
            if self.end_call(conn, pick).is_some() {
                return;
            }
            if let Some(k) = self.leaked.find(conn, id, server_side) {
                self.leaked.remove(&k);
                return;
            }
        }
    }

    fn reply(&mut self, conn: Conn, ev: &Event, out: &mut Vec<Fault>) {
        let Some(b) = ev.pptp() else { return };
        let ts = ev.hdr.ts_ns;
        let server = conn.0;
        let request = self.requests.remove(&(conn, b.peer_call_id));
        if b.result == OCRP_CONNECTED {
            let calls = self.controls.touch(conn, ts, Vec::new);
            // A full connection drops its oldest call for the new one: no more carried.
            let more = if calls.len() >= CALLS {
                calls.remove(0);
                0
            } else {
                1
            };
            calls.push(Call {
                client_call: b.peer_call_id,
                server_call: b.call_id,
            });
            self.carry(server, more, 0);
            if let Some((gone, calls)) = self.controls.take_spilled() {
                self.carry(gone.0, 0, calls.len() as u32);
                let s = self.servers.touch(gone.0, ts, Server::default);
                s.untracked = s.untracked.saturating_add(calls.len() as u32);
            }
            let active = self.active(server);
            let s = self.servers.touch(server, ts, Server::default);
            s.peak = s.peak.max(active);
            return;
        }
        let active = self.active(server);
        let peak = self.servers.get(&server).map_or(0, |s| s.peak);
        if active >= peak {
            return;
        }
        let client = conn.1;
        let leaked = peak - active;
        let mut evidence = Vec::new();
        if let Some(q) = &request {
            evidence.push(Evidence::of(
                q,
                format!("Outgoing-Call-Request, call id {}", b.peer_call_id),
            ));
        }
        evidence.push(Evidence::of(
            ev,
            format!(
                "Outgoing-Call-Reply rejecting it (result {}) with {active} of {peak} calls in use",
                b.result
            ),
        ));
        out.push(Fault {
            ts_ns: ts,
            client: client.to_string(),
            server: server.to_string(),
            summary: format!(
                "RAS server {server} rejected a call from {client} (result {}) while \
                 carrying {active} {}, {leaked} fewer than the {peak} it has carried at \
                 once: ports left unavailable by earlier disconnects (Q244717).",
                b.result,
                if active == 1 { "call" } else { "calls" }
            ),
            detail: Detail::RasPortLeak(Record {
                reason: Reason::CapacityLost,
                leaked,
                call_id: b.peer_call_id,
            }),
            evidence,
        });
    }

    fn tcp(&mut self, ev: &Event) {
        let Some(b) = ev.tcp() else { return };
        let h = &ev.hdr;
        if b.flags & (TCP_FIN | TCP_RST) == 0 {
            return;
        }
        let conn = if h.sport == ports::PPTP {
            (Host::src(ev), Host::dst(ev), h.dport)
        } else {
            (Host::dst(ev), Host::src(ev), h.sport)
        };
        self.end_control(conn);
    }

    fn unacknowledged(&self, (conn, call): (Conn, u16), c: &Clear) -> Fault {
        let (server, client) = (conn.0, conn.1);
        let wait = names::duration(self.clear_timeout);
        Fault {
            ts_ns: c.deadline,
            client: client.to_string(),
            server: server.to_string(),
            summary: format!(
                "RAS server {server} never confirmed the disconnect of {client}'s call \
                 {call}: no Call-Disconnect-Notify within {wait} of the Call-Clear-Request, \
                 so its port may stay unavailable (Q244717)."
            ),
            detail: Detail::RasPortLeak(Record {
                reason: Reason::DisconnectUnacknowledged,
                leaked: 1,
                call_id: call,
            }),
            evidence: vec![Evidence::of(
                &c.ccrq,
                format!(
                    "Call-Clear-Request, call id {call}; no Call-Disconnect-Notify within {wait}"
                ),
            )],
        }
    }
}

impl Detector for RasPortLeak {
    fn name(&self) -> &'static str {
        FaultKind::RasPortLeak.id()
    }

    fn event(&mut self, ev: &Event, out: &mut Vec<Fault>) {
        if !Host::src(ev).is_ip() || (ev.hdr.sport != ports::PPTP && ev.hdr.dport != ports::PPTP) {
            return;
        }
        self.pptp(ev, out);
        self.tcp(ev);
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>) {
        self.leaked
            .expire(now_ns.saturating_sub(LEAK_REMEMBERED_NS));
        let mut faults = Vec::new();
        for k in self.clears.map.take_due(now_ns) {
            if let Some(c) = self.clears.remove(&k) {
                faults.push(self.unacknowledged(k, &c));
                self.leaked.touch(k, c.deadline, || Leak {
                    server_call: c.server_call,
                });
            }
        }
        faults.sort_by_key(|f| f.ts_ns);
        out.extend(faults);
    }

    fn evictions(&self) -> u64 {
        self.controls.evicted()
            + self.requests.evicted()
            + self.servers.evicted()
            + self.clears.map.evicted()
            + self.leaked.map.evicted()
    }

    fn entries(&self) -> usize {
        self.controls.len()
            + self.requests.len()
            + self.servers.len()
            + self.clears.map.len()
            + self.leaked.map.len()
    }

    fn capacity(&self) -> usize {
        self.controls.capacity()
            + self.requests.capacity()
            + self.servers.capacity()
            + self.clears.map.capacity()
            + self.leaked.map.capacity()
    }

    fn gauges(&self, out: &mut dyn FnMut(Gauge)) {
        out(Gauge {
            name: "ras_leaked_ports",
            help: "RAS ports (PPTP calls) whose disconnect the server never confirmed, over \
                   every server: the records name each one (ras_port_leak).",
            value: self.leaked_ports(),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use fault_tests::{
        Carrier, Eth, Network,
        ip::{TCP_ACK, TCP_PSH},
        pptp,
    };

    use super::*;

    /// The events of a TCP segment carrying `m` (PPTP control messages) between client
    /// `c`:`sport` and the server 10.0.0.1.
    fn segment(c: Ipv4Addr, sport: u16, from_client: bool, m: &[u8], ts: u64) -> Vec<Event> {
        let s = Ipv4Addr::new(10, 0, 0, 1);
        let eth = Eth::new([2; 6], [4; 6]);
        let frame = if from_client {
            eth.ipv4(c, s).tcp(sport, 1723)
        } else {
            eth.ipv4(s, c).tcp(1723, sport)
        }
        .flags(TCP_ACK | TCP_PSH)
        .payload(m);
        crate::detect::events_of(&frame, ts)
    }

    /// The event of a PPTP message between client `c`:`sport` and the server 10.0.0.1.
    fn msg(c: Ipv4Addr, sport: u16, from_client: bool, m: &[u8], ts: u64) -> Event {
        segment(c, sport, from_client, m, ts)[0]
    }

    /// Sets up call (1, 100) on client `c`'s control connection at `ts`.
    fn connected(d: &mut RasPortLeak, c: Ipv4Addr, ts: u64, out: &mut Vec<Fault>) {
        d.event(&msg(c, 1100, true, &pptp::ocrq(1, 1), ts), out);
        d.event(&msg(c, 1100, false, &pptp::ocrp(100, 1, 1, 0, 0), ts), out);
    }

    #[test]
    fn a_flood_of_requests_does_not_push_out_calls_or_fake_lost_capacity() {
        let mut d = RasPortLeak::new(&Default::default());
        let mut out = Vec::new();
        let (a, b) = (Ipv4Addr::new(10, 2, 0, 1), Ipv4Addr::new(10, 2, 0, 2));
        connected(&mut d, a, 1_000, &mut out);
        connected(&mut d, b, 2_000, &mut out);
        // 2000 requests from fresh ports that nobody answers.
        let x = Ipv4Addr::new(10, 2, 0, 99);
        for i in 0..2000u16 {
            d.event(&msg(x, 2000 + i, true, &pptp::ocrq(1, 1), 3_000), &mut out);
        }
        assert_eq!(
            d.evictions(),
            2000 - Settings::default().entries.get() as u64,
            "requests pushed out requests"
        );
        // Both calls are still up: a rejection now is a full server, not lost capacity.
        let busy = pptp::ocrp(0, 1, 4, 0, 0);
        d.event(
            &msg(Ipv4Addr::new(10, 2, 0, 3), 1100, false, &busy, 4_000),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn control_connections_pushed_out_still_count_as_carrying_their_calls() {
        let settings = Settings::default();
        assert_eq!(settings.entries.get(), 1024);
        let mut d = RasPortLeak::new(&settings);
        assert_eq!(d.capacity(), 5 * 1024);
        let mut out = Vec::new();
        for i in 0..settings.entries.get() as u16 + 2 {
            let c = Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8);
            connected(&mut d, c, 1_000 + u64::from(i), &mut out);
        }
        assert_eq!(d.evictions(), 2, "two control connections pushed out");
        let busy = pptp::ocrp(0, 1, 4, 0, 0);
        d.event(
            &msg(Ipv4Addr::new(10, 3, 0, 1), 1100, false, &busy, 9_000),
            &mut out,
        );
        assert!(out.is_empty(), "peak 1026, 1026 counted: {out:?}");
    }

    #[test]
    fn the_configured_bound_caps_every_map() {
        let settings = Settings {
            entries: Bound(2),
            ..Default::default()
        };
        let mut d = RasPortLeak::new(&settings);
        assert_eq!(d.capacity(), 5 * 2);
        let mut out = Vec::new();
        for i in 0..5u8 {
            connected(
                &mut d,
                Ipv4Addr::new(10, 1, 0, i),
                1_000 + u64::from(i),
                &mut out,
            );
        }
        assert_eq!(d.controls.len(), 2);
        assert_eq!(d.evictions(), 3, "three control connections pushed out");
    }

    #[test]
    fn a_reply_cut_short_gives_no_event_and_a_result_of_0_is_no_rejection() {
        let mut d = RasPortLeak::new(&Default::default());
        let mut out = Vec::new();
        let c = Ipv4Addr::new(10, 4, 0, 1);
        connected(&mut d, c, 1_000, &mut out);
        d.event(&msg(c, 1100, true, &pptp::ccrq(1), 2_000), &mut out);
        d.event(
            &msg(c, 1100, false, &pptp::cdn(100, 3, 0, 0), 3_000),
            &mut out,
        );
        // The next reply's first 16 bytes only: header and call ids, no result. The parser
        // hands over whole messages only.
        let cut = &pptp::ocrp(101, 2, 1, 0, 0)[..16];
        assert!(segment(c, 1100, false, cut, 4_000).is_empty());
        // A whole reply whose result is 0, no RFC 2637 value: no rejection either.
        let zero = pptp::ocrp(101, 2, 0, 0, 0);
        d.event(&msg(c, 1100, false, &zero, 4_000), &mut out);
        d.advance(u64::MAX, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    /// Messages coalesced in one segment reach the detector in order, at the frame's time:
    /// two replies set up two calls, clears behind a Set-Link-Info are clears, and
    /// notifies behind a WAN-Error-Notify confirm them, each its own call.
    #[test]
    fn messages_of_one_segment_are_taken_in_order() {
        let c = Ipv4Addr::new(10, 7, 0, 1);
        let replies = pptp::concat(&[&pptp::ocrp(100, 1, 1, 0, 0), &pptp::ocrp(101, 2, 1, 0, 0)]);
        let clears = pptp::concat(&[&pptp::sli(100), &pptp::ccrq(1), &pptp::ccrq(2)]);
        let (cdn100, cdn101) = (pptp::cdn(100, 4, 0, 0), pptp::cdn(101, 4, 0, 0));
        let both = pptp::concat(&[&pptp::wen(1), &cdn100, &cdn101]);
        let first_only = pptp::concat(&[&pptp::wen(1), &cdn100]);
        // The notifies' segment, and the calls that leak.
        for (notifies, leaked) in [(&both, vec![]), (&first_only, vec![2])] {
            let mut d = RasPortLeak::new(&Default::default());
            let mut out = Vec::new();
            d.event(&msg(c, 1100, true, &pptp::ocrq(1, 1), 1_000), &mut out);
            d.event(&msg(c, 1100, true, &pptp::ocrq(2, 2), 1_000), &mut out);
            let cdns = (notifies.len() - pptp::wen(1).len()) / cdn100.len();
            let frames: [(bool, &[u8], u64, Vec<u16>); 3] = [
                (false, &replies, 2_000, vec![OCRP, OCRP]),
                (true, &clears, 3_000, vec![pptp::SLI, CCRQ, CCRQ]),
                (
                    false,
                    notifies,
                    4_000,
                    [vec![pptp::WEN], vec![CDN; cdns]].concat(),
                ),
            ];
            for (from_client, m, ts, types) in frames {
                let events = segment(c, 1100, from_client, m, ts);
                let got: Vec<u16> = events.iter().map(|e| e.pptp().unwrap().msg_type).collect();
                assert_eq!(got, types, "one event per message, in order");
                for ev in &events {
                    assert_eq!(ev.hdr.ts_ns, ts, "the frame's time");
                    d.event(ev, &mut out);
                }
            }
            let server = Host::src(&msg(c, 1100, false, &cdn100, 0));
            assert_eq!(d.active(server), 0, "every call ended");
            d.advance(u64::MAX, &mut out);
            let calls: Vec<u16> = out
                .iter()
                .map(|f| match &f.detail {
                    Detail::RasPortLeak(r) => r.call_id,
                    _ => panic!("{f:?}"),
                })
                .collect();
            assert_eq!(calls, leaked, "{out:?}");
        }
    }

    #[test]
    fn the_leak_gauge_follows_unconfirmed_clears_and_late_confirmations() {
        let mut d = RasPortLeak::new(&Default::default());
        let mut out = Vec::new();
        let c = Ipv4Addr::new(10, 5, 0, 1);
        connected(&mut d, c, 1_000, &mut out);
        d.event(&msg(c, 1100, true, &pptp::ccrq(1), 5_000), &mut out);
        d.advance(5_000 + 10_000_000_000, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(d.leaked_ports(), 1);
        // A late disconnect-notify frees the port.
        d.event(
            &msg(c, 1100, false, &pptp::cdn(100, 3, 0, 0), 20_000_000_000),
            &mut out,
        );
        assert_eq!(d.leaked_ports(), 0);
    }

    /// A PPTP message or TCP flags (`msg_type` 0) between client 10.6.x.y:`port` and
    /// server 10.0.0.`server`, built directly: thousands are needed.
    #[allow(clippy::too_many_arguments)]
    fn raw(
        client: u16,
        port: u16,
        server: u8,
        from_client: bool,
        msg_type: u16,
        call_id: u16,
        peer_call_id: u16,
        result: u8,
        ts: u64,
    ) -> Event {
        use bytemuck::Zeroable;
        use fault_common::event::{EventKind, PptpMessage, TcpBody};
        let mut ev = Event::zeroed();
        ev.hdr.ts_ns = ts;
        ev.hdr.family = 4;
        let (c, s) = (
            [10, 6, (client >> 8) as u8, client as u8],
            [10, 0, 0, server],
        );
        let ((src, sport), (dst, dport)) = if from_client {
            ((c, port), (s, ports::PPTP))
        } else {
            ((s, ports::PPTP), (c, port))
        };
        ev.hdr.src[..4].copy_from_slice(&src);
        ev.hdr.dst[..4].copy_from_slice(&dst);
        (ev.hdr.sport, ev.hdr.dport) = (sport, dport);
        if msg_type == 0 {
            ev.hdr.kind = EventKind::Tcp as u8;
            ev.body.tcp = TcpBody {
                flags: result,
                ..Zeroable::zeroed()
            };
        } else {
            ev.hdr.kind = EventKind::Pptp as u8;
            ev.body.pptp = PptpMessage {
                msg_type,
                call_id,
                peer_call_id,
                result,
                ..Default::default()
            }
            .into();
        }
        ev
    }

    /// Each server's calls over its tracked control connections, counted from scratch.
    fn recount(d: &RasPortLeak) -> BTreeMap<Host, u32> {
        let mut n = BTreeMap::new();
        for conn in d.controls.keys() {
            let calls = d.controls.get(conn).map_or(0, Vec::len) as u32;
            *n.entry(conn.0).or_default() += calls;
        }
        n.retain(|_, c| *c > 0);
        n
    }

    #[test]
    fn each_servers_carried_calls_equal_a_recount_whatever_comes_and_goes() {
        let mut d = RasPortLeak::new(&Default::default());
        let mut out = Vec::new();
        let mut rng = crate::detect::TestRng(0x5eed);
        let mut full = 0;
        for i in 0..40_000u64 {
            // A few busy connections (past 64 calls each), and many more connections than
            // the table holds.
            let busy = rng.below(2) == 0;
            let (client, port) = if busy {
                (rng.below(4) as u16, 1100)
            } else {
                (rng.below(1500) as u16, 1100 + rng.below(2) as u16)
            };
            let server = 1 + rng.below(3) as u8;
            let id = rng.below(80) as u16;
            let other = rng.below(80) as u16;
            let ev = |from_client, msg, call, peer, result| {
                raw(
                    client,
                    port,
                    server,
                    from_client,
                    msg,
                    call,
                    peer,
                    result,
                    i,
                )
            };
            match rng.below(if busy { 17 } else { 20 }) {
                0..=9 => {
                    d.event(&ev(true, OCRQ, id, 0, 0), &mut out);
                    d.event(&ev(false, OCRP, other, id, OCRP_CONNECTED), &mut out);
                }
                10 => d.event(&ev(false, OCRP, other, id, 4), &mut out),
                11..=13 => d.event(&ev(true, CCRQ, id, 0, 0), &mut out),
                14..=16 => d.event(&ev(false, CDN, id, 0, 3), &mut out),
                17 => d.event(&ev(true, STOP_CCRQ, 0, 0, 1), &mut out),
                18 => d.event(&ev(false, 0, 0, 0, TCP_FIN), &mut out),
                _ => d.event(&ev(true, 0, 0, 0, TCP_RST), &mut out),
            }
            let to_server = ev(true, 0, 0, 0, 0);
            let conn = (Host::dst(&to_server), Host::src(&to_server), port);
            full += usize::from(d.controls.get(&conn).is_some_and(|c| c.len() == CALLS));
            if i % 16 == 0 {
                assert_eq!(d.carried, recount(&d), "after event {i}");
            }
        }
        assert_eq!(d.carried, recount(&d));
        let pushed_out = d.controls.evicted();
        assert!(pushed_out > 100, "only {pushed_out} connections pushed out");
        assert!(full > 100, "a full connection only {full} times");
    }

    #[test]
    fn a_call_is_found_by_either_id_as_a_walk_over_every_entry_finds_it() {
        let mut m: ByCall<Leak> = ByCall::new(Settings::default().entries.get());
        let mut rng = crate::detect::TestRng(0xca11);
        let conn = |c: u64| {
            let h = |a: u8| Host {
                family: 4,
                addr: [10, 0, 0, a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            };
            (h(1), h(c as u8), 1100)
        };
        for t in 0..20_000u64 {
            let (c, id) = (conn(rng.below(60)), rng.below(60) as u16);
            match rng.below(8) {
                0..=4 => {
                    let server_call = rng.below(60) as u16;
                    m.touch((c, id), t, || Leak { server_call });
                }
                5 => {
                    m.remove(&(c, id));
                }
                6 => m.expire(t.saturating_sub(4000)),
                _ => {
                    for server_side in [true, false] {
                        let walked = m
                            .map
                            .keys()
                            .filter(|k| k.0 == c)
                            .filter(|k| {
                                let server_call = m.map.get(k).map(|l| l.server_call);
                                if server_side {
                                    server_call == Some(id)
                                } else {
                                    k.1 == id
                                }
                            })
                            .min_by_key(|k| k.1)
                            .copied();
                        assert_eq!(m.find(c, id, server_side), walked, "at {t}");
                    }
                }
            }
            assert_eq!(m.by_server.len(), m.map.len(), "one index entry per call");
        }
        assert!(m.map.evicted() > 0);
    }

    #[test]
    fn the_state_stays_within_its_documented_bound() {
        let bytes = RasPortLeak::state_bytes_max(&Settings::default());
        eprintln!("ras_port_leak: at most {} KiB of state", bytes / 1024);
        assert!(
            bytes <= 16 << 20,
            "{bytes} bytes: README says at most 16 MiB"
        );
    }
}
