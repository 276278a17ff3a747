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
//! `disconnect_unacknowledged`; that call's port counts as leaked (the
//! `faultd_ras_leaked_ports` gauge) until the server confirms after all, ends the control
//! connection itself, or an hour passes.

use fault_common::{
    Event,
    event::{TCP_FIN, TCP_RST},
    ports,
};
use serde_json::Map;

use super::{Config, Detector, Evidence, Fault, FaultKind, Host, bounded::Bounded};
use crate::names;

/// Control connections, pending clears, leaked ports, servers: each.
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
const CONNECTED: u8 = 1;

/// A control connection: (server, client, client's TCP port).
type Conn = (Host, Host, u16);

#[derive(Clone, Copy)]
struct Call {
    client_call: u16,
    server_call: u16,
}

#[derive(Default)]
struct Control {
    calls: Vec<Call>,
    /// Outgoing-Call-Requests awaiting their reply, by the client's call id.
    requests: Vec<(u16, Event)>,
}

struct Clear {
    ccrq: Event,
    server_call: u16,
    deadline: u64,
}

pub struct RasPortLeak {
    clear_timeout: u64,
    controls: Bounded<Conn, Control>,
    /// The most calls each server has carried at once.
    peaks: Bounded<Host, u32>,
    /// Clears awaiting the server's confirmation, and the calls they leaked, by the
    /// client's call id.
    clears: Bounded<(Conn, u16), Clear>,
    leaked: Bounded<(Conn, u16), (u16, u64)>,
    next_due: u64,
}

impl RasPortLeak {
    pub fn state_bytes_max() -> usize {
        let entry = |key: usize, value: usize| value + 2 * (key + size_of::<u64>());
        let control =
            size_of::<Control>() + CALLS * size_of::<Call>() + CALLS * size_of::<(u16, Event)>();
        ENTRIES
            * (entry(size_of::<Conn>(), control)
                + entry(size_of::<Host>(), size_of::<u32>())
                + entry(size_of::<(Conn, u16)>(), size_of::<Clear>())
                + entry(size_of::<(Conn, u16)>(), size_of::<(u16, u64)>()))
    }

    pub fn new(cfg: &Config) -> Self {
        RasPortLeak {
            clear_timeout: cfg.pptp_clear_timeout_ns,
            controls: Bounded::new(ENTRIES),
            peaks: Bounded::new(ENTRIES),
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
        self.controls
            .keys()
            .filter(|c| c.0 == server)
            .filter_map(|c| self.controls.get(c))
            .map(|c| c.calls.len() as u32)
            .sum()
    }

    /// Ends a control connection; `by_server`: the server ended it, which settles the
    /// clears it had not confirmed.
    fn end(&mut self, conn: Conn, by_server: bool) {
        self.controls.remove(&conn);
        if by_server {
            let calls: Vec<(Conn, u16)> = self
                .clears
                .keys()
                .chain(self.leaked.keys())
                .filter(|k| k.0 == conn)
                .copied()
                .collect();
            for k in calls {
                self.clears.remove(&k);
                self.leaked.remove(&k);
            }
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
                let c = self.controls.touch(conn, ts, Control::default);
                c.requests.retain(|(id, _)| *id != b.call_id);
                if c.requests.len() >= CALLS {
                    c.requests.remove(0);
                }
                c.requests.push((b.call_id, *ev));
            }
            (OCRP, true) => self.reply(conn, ev, out),
            (CCRQ, false) => {
                let Some(c) = self.controls.get_mut(&conn) else {
                    return;
                };
                let Some(i) = c.calls.iter().position(|k| k.client_call == b.call_id) else {
                    return;
                };
                let call = c.calls.remove(i);
                let deadline = ts.saturating_add(self.clear_timeout);
                self.clears.touch((conn, call.client_call), ts, || Clear {
                    ccrq: *ev,
                    server_call: call.server_call,
                    deadline,
                });
                self.next_due = self.next_due.min(deadline);
            }
            (CDN, true) => self.disconnected(conn, b.call_id),
            (STOP_CCRQ | STOP_CCRP, by_server) => self.end(conn, by_server),
            _ => {}
        }
    }

    /// The server's Call-Disconnect-Notify for `id`. RFC 2637 has it carry the server's
    /// own call id; some servers send the client's (the real capture from nDPI does), so
    /// either one ends the call, the server's first.
    fn disconnected(&mut self, conn: Conn, id: u16) {
        let client_call = self.controls.get_mut(&conn).and_then(|c| {
            let i = c
                .calls
                .iter()
                .position(|k| k.server_call == id)
                .or_else(|| c.calls.iter().position(|k| k.client_call == id))?;
            Some(c.calls.remove(i).client_call)
        });
        let settled = client_call.or_else(|| {
            let by_server = self
                .clears
                .keys()
                .find(|k| k.0 == conn && self.clears.get(k).is_some_and(|c| c.server_call == id))
                .map(|k| k.1);
            let by_leak = self
                .leaked
                .keys()
                .find(|k| k.0 == conn && self.leaked.get(k).is_some_and(|l| l.0 == id))
                .map(|k| k.1);
            by_server.or(by_leak).or(Some(id))
        });
        if let Some(client_call) = settled {
            self.clears.remove(&(conn, client_call));
            self.leaked.remove(&(conn, client_call));
        }
    }

    fn reply(&mut self, conn: Conn, ev: &Event, out: &mut Vec<Fault>) {
        let Some(b) = ev.pptp() else { return };
        let ts = ev.hdr.ts_ns;
        let server = conn.0;
        let c = self.controls.touch(conn, ts, Control::default);
        let request = c
            .requests
            .iter()
            .position(|(id, _)| *id == b.peer_call_id)
            .map(|i| c.requests.remove(i).1);
        if b.result == CONNECTED {
            if c.calls.len() >= CALLS {
                c.calls.remove(0);
            }
            c.calls.push(Call {
                client_call: b.peer_call_id,
                server_call: b.call_id,
            });
            let active = self.active(server);
            let peak = self.peaks.touch(server, ts, || 0);
            *peak = (*peak).max(active);
            return;
        }
        let active = self.active(server);
        let peak = self.peaks.get(&server).copied().unwrap_or(0);
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
        if h.sport == ports::PPTP {
            self.end((Host::src(ev), Host::dst(ev), h.dport), true);
        } else if h.dport == ports::PPTP {
            self.end((Host::dst(ev), Host::src(ev), h.sport), false);
        }
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
            + self.peaks.evicted()
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

    #[test]
    fn control_connections_beyond_the_cap_are_counted_and_the_leak_gauge_follows() {
        let mut d = RasPortLeak::new(&Config::default());
        let mut out = Vec::new();
        for i in 0..ENTRIES as u16 + 2 {
            let c = Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8);
            let ts = 1_000 + u64::from(i);
            d.event(&msg(c, 1100, true, &pptp::ocrq(1, 1), ts), &mut out);
            d.event(
                &msg(c, 1100, false, &pptp::ocrp(100, 1, 1, 0, 0), ts),
                &mut out,
            );
        }
        assert_eq!(d.evictions(), 2, "two control connections pushed out");
        // The newest connection clears its call and the server never confirms.
        let c = Ipv4Addr::new(10, 1, 4, 1);
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
