//! `sms_port_conflict` (KB Q229097): SMS Helpdesk's agent needs TCP and UDP 1761-1764 on
//! every client; another program holding one of them breaks remote control.
//!
//! Two signs on a host H and port p in 1761-1764. `ephemeral_collision`: H itself uses p
//! as the source of a new TCP connection, or of a UDP datagram that answers nothing, to a
//! port outside the SMS sets: some other program owns p. `refused`: a SYN to H:p is
//! answered with a RST, or a datagram to H:p with ICMP port unreachable from H: nothing
//! of SMS listens there. Each (host, port, transport, reason) is reported once per
//! `--sms-report-interval`, naming the peer of its first occurrence.

use fault_common::{
    Event,
    event::{Family, TCP_ACK, TCP_RST, TCP_SYN},
    ports,
    proto::{icmp, icmpv6, ip},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Detail, Detector, Evidence, Fault, FaultKind, Host,
    bounded::{Bounded, map_bytes},
};
use crate::{
    names,
    settings::{self, Allow, Bound, Nanos},
};

/// `sms_port_conflict`'s settings.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
#[group(skip)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// sms_port_conflict reports each (host, port, transport, reason) at most once per this.
    #[arg(
        id = "sms-report-interval",
        long = "sms-report-interval",
        value_name = "DURATION",
        default_value = "1h"
    )]
    pub report_interval: Nanos,
    /// The most entries each of sms_port_conflict's maps holds: SYNs to an SMS port
    /// awaiting their answer, datagrams a host received (so its replies are not
    /// collisions), and reports made within --sms-report-interval (1 to 1048576). A new one
    /// past it evicts the least recently seen, counted in faultd_detector_evictions_total
    /// (an evicted report may be made again within the interval).
    #[arg(
        id = "sms-entries",
        long = "sms-entries",
        value_name = "N",
        default_value = "4096"
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

/// A RST answers a SYN within this; a datagram sent back within this is a reply.
const SYN_ANSWER_NS: u64 = 10 * 1_000_000_000;
const UDP_REPLY_NS: u64 = 180 * 1_000_000_000;

/// `sms_port_conflict`'s own fields. `client` is the host whose SMS port is taken (for
/// `refused`, the host that refused), `server` the peer in the reported occurrence; `ts` is
/// the time of the packet that showed the sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Record {
    /// The SMS Helpdesk port.
    #[schemars(range(min = 1761, max = 1764))]
    pub port: u16,
    /// The transport the port was taken on.
    pub transport: Transport,
    pub reason: Reason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// Which sign showed the conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The host itself used the port as the source of a new connection or datagram: some
    /// other program owns it.
    EphemeralCollision,
    /// A SYN or datagram to the port was refused by the host: nothing of SMS listens there.
    Refused,
}

/// (host, port) and (peer, peer port) of a conversation.
type Ends = (Host, u16, Host, u16);

pub struct SmsPortConflict {
    interval: u64,
    syns: Bounded<Ends, Event>,
    received: Bounded<Ends, u64>,
    reported: Bounded<(Host, u16, Transport, Reason), u64>,
}

fn is_sms(p: u16) -> bool {
    ports::is_sms_helpdesk(p) || ports::is_sms_remote_control(p)
}

impl SmsPortConflict {
    pub fn state_bytes_max(settings: &Settings) -> usize {
        let n = settings.entries.get();
        map_bytes::<Ends, Event>(n)
            + map_bytes::<Ends, u64>(n)
            + map_bytes::<(Host, u16, Transport, Reason), u64>(n)
    }

    pub fn new(settings: &Settings) -> Self {
        SmsPortConflict {
            interval: settings.report_interval.ns(),
            syns: Bounded::new(settings.entries.get()),
            received: Bounded::new(settings.entries.get()),
            reported: Bounded::new(settings.entries.get()),
        }
    }

    /// The record, unless this (host, port, transport, reason) was reported within the
    /// interval.
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        (host, port): (Host, u16),
        peer: (Host, u16),
        transport: Transport,
        reason: Reason,
        ts: u64,
        // Made only for a record: most occurrences are repeats within the interval.
        evidence: impl FnOnce() -> Vec<Evidence>,
        out: &mut Vec<Fault>,
    ) {
        let key = (host, port, transport, reason);
        if let Some(&at) = self.reported.get(&key)
            && at.saturating_add(self.interval) > ts
        {
            return;
        }
        self.reported.put(key, ts, ts);
        let proto = match transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        let peer_at = names::endpoint(peer.0.family, &peer.0.addr, peer.1);
        let summary = match reason {
            Reason::EphemeralCollision => format!(
                "Another program on {host} holds SMS Helpdesk port {port}/{proto}: {host} \
                 used it as the source port to reach {peer_at}, so the SMS remote-control \
                 agent cannot have it (Q229097; SMS 2.0 SP2 moves to 2701-2704)."
            ),
            Reason::Refused => format!(
                "{host} refused {peer_at} on SMS Helpdesk port {port}/{proto}: the SMS \
                 remote-control agent is not listening there, as when another program \
                 took the port first (Q229097)."
            ),
        };
        out.push(Fault {
            ts_ns: ts,
            client: host.to_string(),
            server: peer.0.to_string(),
            summary,
            detail: Detail::SmsPortConflict(Record {
                port,
                transport,
                reason,
            }),
            evidence: evidence(),
        });
    }

    fn tcp(&mut self, ev: &Event, out: &mut Vec<Fault>) {
        let Some(b) = ev.tcp() else { return };
        let h = &ev.hdr;
        let (src, dst) = (Host::src(ev), Host::dst(ev));
        let syn = b.flags & (TCP_SYN | TCP_ACK) == TCP_SYN;
        if syn && ports::is_sms_helpdesk(h.sport) && !is_sms(h.dport) {
            let what = || format!("SYN from port {} to {}", h.sport, h.dport);
            self.report(
                (src, h.sport),
                (dst, h.dport),
                Transport::Tcp,
                Reason::EphemeralCollision,
                h.ts_ns,
                || vec![Evidence::of(ev, what())],
                out,
            );
        }
        if syn && ports::is_sms_helpdesk(h.dport) {
            self.syns.put((dst, h.dport, src, h.sport), h.ts_ns, *ev);
        }
        if ports::is_sms_helpdesk(h.sport) {
            let ends = (src, h.sport, dst, h.dport);
            if b.flags & TCP_RST != 0
                && let Some(syn) = self.syns.remove(&ends)
                && syn.hdr.ts_ns.saturating_add(SYN_ANSWER_NS) >= h.ts_ns
            {
                let evidence = || {
                    vec![
                        Evidence::of(&syn, format!("SYN to port {}", h.sport)),
                        Evidence::of(ev, "RST"),
                    ]
                };
                self.report(
                    (src, h.sport),
                    (dst, h.dport),
                    Transport::Tcp,
                    Reason::Refused,
                    h.ts_ns,
                    evidence,
                    out,
                );
            } else if b.flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK {
                // Accepted: the agent (or whoever) listens.
                self.syns.remove(&ends);
            }
        }
    }

    fn udp(&mut self, ev: &Event, out: &mut Vec<Fault>) {
        if ev.udp().is_none() {
            return;
        }
        let h = &ev.hdr;
        let (src, dst) = (Host::src(ev), Host::dst(ev));
        if ports::is_sms_helpdesk(h.dport) {
            self.received
                .put((dst, h.dport, src, h.sport), h.ts_ns, h.ts_ns);
        }
        if ports::is_sms_helpdesk(h.sport) && !is_sms(h.dport) {
            let ends = (src, h.sport, dst, h.dport);
            let reply = self
                .received
                .get(&ends)
                .is_some_and(|&t| t.saturating_add(UDP_REPLY_NS) >= h.ts_ns);
            if !reply {
                let what = || format!("UDP datagram from port {} to {}", h.sport, h.dport);
                self.report(
                    (src, h.sport),
                    (dst, h.dport),
                    Transport::Udp,
                    Reason::EphemeralCollision,
                    h.ts_ns,
                    || vec![Evidence::of(ev, what())],
                    out,
                );
            }
        }
    }

    fn icmp(&mut self, ev: &Event, out: &mut Vec<Fault>) {
        let Some(b) = ev.icmp() else { return };
        let port_unreachable = match Family::try_from(ev.hdr.family) {
            Ok(Family::Ipv4) => b.icmp_type == icmp::DEST_UNREACH && b.code == icmp::PORT_UNREACH,
            Ok(Family::Ipv6) => {
                b.icmp_type == icmpv6::DEST_UNREACH && b.code == icmpv6::PORT_UNREACH
            }
            _ => false,
        };
        let host = Host {
            family: b.quoted_family,
            addr: b.quoted_dst,
        };
        let peer = Host {
            family: b.quoted_family,
            addr: b.quoted_src,
        };
        // From H itself: a router's unreachable says nothing about H's ports.
        if !port_unreachable
            || b.quoted_proto != ip::UDP
            || !ports::is_sms_helpdesk(b.quoted_dport)
            || Host::src(ev) != host
        {
            return;
        }
        let what = || {
            format!(
                "ICMP port unreachable quoting a datagram from {} to port {}",
                names::endpoint(peer.family, &peer.addr, b.quoted_sport),
                b.quoted_dport
            )
        };
        self.report(
            (host, b.quoted_dport),
            (peer, b.quoted_sport),
            Transport::Udp,
            Reason::Refused,
            ev.hdr.ts_ns,
            || vec![Evidence::of(ev, what())],
            out,
        );
    }
}

impl Detector for SmsPortConflict {
    fn name(&self) -> &'static str {
        FaultKind::SmsPortConflict.id()
    }

    fn event(&mut self, ev: &Event, out: &mut Vec<Fault>) {
        if !Host::src(ev).is_ip() {
            return;
        }
        self.tcp(ev, out);
        self.udp(ev, out);
        self.icmp(ev, out);
    }

    fn advance(&mut self, now_ns: u64, _out: &mut Vec<Fault>) {
        self.syns.expire(now_ns.saturating_sub(SYN_ANSWER_NS));
        self.received.expire(now_ns.saturating_sub(UDP_REPLY_NS));
        self.reported.expire(now_ns.saturating_sub(self.interval));
    }

    fn evictions(&self) -> u64 {
        self.syns.evicted() + self.received.evicted() + self.reported.evicted()
    }

    fn entries(&self) -> usize {
        self.syns.len() + self.received.len() + self.reported.len()
    }

    fn capacity(&self) -> usize {
        self.syns.capacity() + self.received.capacity() + self.reported.capacity()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use fault_tests::{Carrier, Eth, Network, ip::TCP_SYN};

    use super::*;

    fn syn(src: Ipv4Addr, sport: u16, dport: u16, ts: u64) -> Event {
        let frame = Eth::new([2; 6], [4; 6])
            .ipv4(src, Ipv4Addr::new(10, 0, 0, 1))
            .tcp(sport, dport)
            .flags(TCP_SYN)
            .payload(&[]);
        let out = crate::detect::events_of(&frame, ts);
        out[0]
    }

    #[test]
    fn reports_beyond_the_cap_push_out_the_oldest_and_are_counted() {
        let settings = Settings::default();
        let entries = settings.entries.get();
        assert_eq!(entries, 4096);
        let mut d = SmsPortConflict::new(&settings);
        assert_eq!(d.capacity(), 3 * entries);
        let mut out = Vec::new();
        for i in 0..entries as u32 + 3 {
            d.event(
                &syn(
                    Ipv4Addr::from(0x0a05_0000 + i),
                    1761,
                    80,
                    1_000 + u64::from(i),
                ),
                &mut out,
            );
        }
        assert_eq!(out.len(), entries + 3, "one record per host");
        assert_eq!(d.evictions(), 3);
    }

    #[test]
    fn a_report_pushed_out_by_a_small_bound_is_made_again() {
        let settings = Settings {
            entries: Bound(4),
            ..Default::default()
        };
        let mut d = SmsPortConflict::new(&settings);
        assert_eq!(d.capacity(), 12);
        let mut out = Vec::new();
        for round in 0..2u64 {
            for i in 0..10u32 {
                let ts = 1_000 + round * 1_000 + u64::from(i);
                d.event(
                    &syn(Ipv4Addr::from(0x0a05_0000 + i), 1761, 80, ts),
                    &mut out,
                );
            }
        }
        assert_eq!((out.len(), d.evictions(), d.entries()), (20, 16, 4));
    }

    #[test]
    fn the_state_stays_within_its_documented_bound() {
        let bytes = SmsPortConflict::state_bytes_max(&Settings::default());
        eprintln!("sms_port_conflict: at most {} KiB of state", bytes / 1024);
        assert!(
            bytes <= 16 << 20,
            "{bytes} bytes: README says at most 16 MiB"
        );
    }
}
