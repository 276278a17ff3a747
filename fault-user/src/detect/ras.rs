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

use fault_common::{
    Event,
    event::{TCP_FIN, TCP_RST},
    ports,
};
use serde_json::Map;

use super::{Config, Detector, Evidence, Fault, FaultKind, Host, bounded::Bounded};
use crate::names;

/// Control connections with calls up, Outgoing-Call-Requests awaiting their reply,
/// servers, pending clears, leaked ports: each.
pub const ENTRIES: usize = 1024;
/// Calls kept per control connection (a RAS server's ports are per call; Windows allows
/// hundreds per server, rarely many per connection).
pub const CALLS: usize = 64;
const LEAK_REMEMBERED_NS: u64 = 3600 * 1_000_000_000;
const STOP_CCRQ: u16 = 3;
const STOP_CCRP: u16 = 4;
const OCRQ: u16 = 7;
const OCRP: u16 = 8;
const CCRQ: u16 = 12;
const CDN: u16 = 13;
/// Outgoing-Call-Reply result codes: 1 is connected; RFC 2637 defines none below it, so
/// a 0 is a reply cut short before its result (the parser leaves what it cannot read 0).
const CONNECTED: u8 = 1;

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

pub struct RasPortLeak {
    clear_timeout: u64,
    /// Control connections with at least one call up.
    controls: Bounded<Conn, Vec<Call>>,
    requests: Bounded<(Conn, u16), Event>,
    servers: Bounded<Host, Server>,
    /// Clears awaiting the server's confirmation, and the calls they leaked, by the
    /// client's call id (the leaked ones with the server's call id and their time).
    clears: Bounded<(Conn, u16), Clear>,
    leaked: Bounded<(Conn, u16), (u16, u64)>,
    next_due: u64,
}

impl RasPortLeak {
    pub fn state_bytes_max() -> usize {
        let entry = |key: usize, value: usize| value + 2 * (key + size_of::<u64>());
        let calls = size_of::<Vec<Call>>() + CALLS * size_of::<Call>();
        ENTRIES
            * (entry(size_of::<Conn>(), calls)
                + entry(size_of::<(Conn, u16)>(), size_of::<Event>())
                + entry(size_of::<Host>(), size_of::<Server>())
                + entry(size_of::<(Conn, u16)>(), size_of::<Clear>())
                + entry(size_of::<(Conn, u16)>(), size_of::<(u16, u64)>()))
    }

    pub fn new(cfg: &Config) -> Self {
        RasPortLeak {
            clear_timeout: cfg.pptp_clear_timeout_ns,
            controls: Bounded::new(ENTRIES),
            requests: Bounded::new(ENTRIES),
            servers: Bounded::new(ENTRIES),
            clears: Bounded::new(ENTRIES),
            leaked: Bounded::new(ENTRIES),
            next_due: u64::MAX,
        }
    }

    /// Ports currently counted as leaked, over every server.
    pub fn leaked_ports(&self) -> u64 {
        self.leaked.keys().count() as u64
    }

    fn active(&self, server: Host) -> u32 {
        let tracked: usize = self
            .controls
            .keys()
            .filter(|c| c.0 == server)
            .filter_map(|c| self.controls.get(c))
            .map(Vec::len)
            .sum();
        let untracked = self.servers.get(&server).map_or(0, |s| s.untracked);
        tracked as u32 + untracked
    }

    /// Removes the call the closure picks from `conn`'s active calls.
    fn end_call(&mut self, conn: Conn, pick: impl Fn(&Call) -> bool) -> Option<Call> {
        let calls = self.controls.get_mut(&conn)?;
        let call = calls.remove(calls.iter().position(pick)?);
        if calls.is_empty() {
            self.controls.remove(&conn);
        }
        Some(call)
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
                *self.requests.touch((conn, b.call_id), ts, || *ev) = *ev;
            }
            (OCRP, true) if b.result >= CONNECTED => self.reply(conn, ev, out),
            (CCRQ, false) => {
                let Some(call) = self.end_call(conn, |k| k.client_call == b.call_id) else {
                    return;
                };
                let deadline = ts.saturating_add(self.clear_timeout);
                self.clears.touch((conn, call.client_call), ts, || Clear {
                    ccrq: *ev,
                    server_call: call.server_call,
                    deadline,
                });
                self.next_due = self.next_due.min(deadline);
            }
            (CDN, true) => self.disconnected(conn, b.call_id),
            (STOP_CCRQ | STOP_CCRP, _) => {
                self.controls.remove(&conn);
            }
            _ => {}
        }
    }

    /// The server's Call-Disconnect-Notify for `id`. RFC 2637 has it carry the server's
    /// own call id; some servers send the client's (the real capture from nDPI does). The
    /// server's id is tried first everywhere (a clear awaiting it, an active call, a leak)
    /// before the client's is.
    fn disconnected(&mut self, conn: Conn, id: u16) {
        let clear_by = |this: &Self, server_side: bool| {
            this.clears
                .keys()
                .filter(|k| k.0 == conn)
                .find(|k| {
                    this.clears.get(k).is_some_and(|c| {
                        if server_side {
                            c.server_call == id
                        } else {
                            k.1 == id
                        }
                    })
                })
                .copied()
        };
        let leak_by = |this: &Self, server_side: bool| {
            this.leaked
                .keys()
                .filter(|k| k.0 == conn)
                .find(|k| {
                    this.leaked
                        .get(k)
                        .is_some_and(|l| if server_side { l.0 == id } else { k.1 == id })
                })
                .copied()
        };
        for server_side in [true, false] {
            if let Some(k) = clear_by(self, server_side) {
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
            if let Some(k) = leak_by(self, server_side) {
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
        if b.result == CONNECTED {
            let calls = self.controls.touch(conn, ts, Vec::new);
            if calls.len() >= CALLS {
                calls.remove(0);
            }
            calls.push(Call {
                client_call: b.peer_call_id,
                server_call: b.call_id,
            });
            if let Some((gone, calls)) = self.controls.take_spilled() {
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
        let mut fields = Map::new();
        fields.insert("reason".into(), "capacity_lost".into());
        fields.insert("leaked".into(), leaked.into());
        fields.insert("call_id".into(), b.peer_call_id.into());
        out.push(Fault {
            kind: FaultKind::RasPortLeak,
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
            fields,
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
        self.controls.remove(&conn);
    }

    fn unacknowledged(&self, (conn, call): (Conn, u16), c: &Clear) -> Fault {
        let (server, client) = (conn.0, conn.1);
        let wait = names::duration(self.clear_timeout);
        let mut fields = Map::new();
        fields.insert("reason".into(), "disconnect_unacknowledged".into());
        fields.insert("leaked".into(), 1.into());
        fields.insert("call_id".into(), call.into());
        Fault {
            kind: FaultKind::RasPortLeak,
            ts_ns: c.deadline,
            client: client.to_string(),
            server: server.to_string(),
            summary: format!(
                "RAS server {server} never confirmed the disconnect of {client}'s call \
                 {call}: no Call-Disconnect-Notify within {wait} of the Call-Clear-Request, \
                 so its port may stay unavailable (Q244717)."
            ),
            fields,
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
        if now_ns < self.next_due {
            return;
        }
        let mut next_due = u64::MAX;
        let mut due = Vec::new();
        for k in self.clears.keys().copied().collect::<Vec<_>>() {
            if let Some(c) = self.clears.get(&k) {
                if c.deadline <= now_ns {
                    due.push(k);
                } else {
                    next_due = next_due.min(c.deadline);
                }
            }
        }
        let mut faults = Vec::new();
        for k in due {
            if let Some(c) = self.clears.remove(&k) {
                faults.push(self.unacknowledged(k, &c));
                self.leaked
                    .touch(k, c.deadline, || (c.server_call, c.deadline));
            }
        }
        faults.sort_by_key(|f| f.ts_ns);
        out.extend(faults);
        self.next_due = next_due;
    }

    fn evictions(&self) -> u64 {
        self.controls.evicted()
            + self.requests.evicted()
            + self.servers.evicted()
            + self.clears.evicted()
            + self.leaked.evicted()
    }

    fn leaked_ports(&self) -> u64 {
        RasPortLeak::leaked_ports(self)
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

    /// A PPTP message between client `c`:`sport` and the server 10.0.0.1.
    fn msg(c: Ipv4Addr, sport: u16, from_client: bool, m: &[u8], ts: u64) -> Event {
        let s = Ipv4Addr::new(10, 0, 0, 1);
        let eth = Eth::new([2; 6], [4; 6]);
        let frame = if from_client {
            eth.ipv4(c, s).tcp(sport, 1723)
        } else {
            eth.ipv4(s, c).tcp(1723, sport)
        }
        .flags(TCP_ACK | TCP_PSH)
        .payload(m);
        let out = crate::detect::events_of(&frame, ts);
        out[0]
    }

    /// Sets up call (1, 100) on client `c`'s control connection at `ts`.
    fn connected(d: &mut RasPortLeak, c: Ipv4Addr, ts: u64, out: &mut Vec<Fault>) {
        d.event(&msg(c, 1100, true, &pptp::ocrq(1, 1), ts), out);
        d.event(&msg(c, 1100, false, &pptp::ocrp(100, 1, 1, 0, 0), ts), out);
    }

    #[test]
    fn a_flood_of_requests_does_not_push_out_calls_or_fake_lost_capacity() {
        let mut d = RasPortLeak::new(&Config::default());
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
            2000 - ENTRIES as u64,
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
        let mut d = RasPortLeak::new(&Config::default());
        let mut out = Vec::new();
        for i in 0..ENTRIES as u16 + 2 {
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
    fn a_reply_cut_short_before_its_result_is_no_rejection() {
        let mut d = RasPortLeak::new(&Config::default());
        let mut out = Vec::new();
        let c = Ipv4Addr::new(10, 4, 0, 1);
        connected(&mut d, c, 1_000, &mut out);
        d.event(&msg(c, 1100, true, &pptp::ccrq(1), 2_000), &mut out);
        d.event(
            &msg(c, 1100, false, &pptp::cdn(100, 3, 0, 0), 3_000),
            &mut out,
        );
        // The next reply's first 16 bytes only: header and call ids, no result.
        let cut = &pptp::ocrp(101, 2, 1, 0, 0)[..16];
        d.event(&msg(c, 1100, false, cut, 4_000), &mut out);
        d.advance(u64::MAX, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn the_leak_gauge_follows_unconfirmed_clears_and_late_confirmations() {
        let mut d = RasPortLeak::new(&Config::default());
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

    #[test]
    fn the_state_stays_within_its_documented_bound() {
        let bytes = RasPortLeak::state_bytes_max();
        eprintln!("ras_port_leak: at most {} KiB of state", bytes / 1024);
        assert!(
            bytes <= 16 << 20,
            "{bytes} bytes: README says at most 16 MiB"
        );
    }
}
