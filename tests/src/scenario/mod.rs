//! Fault scenarios: timed frame sequences that put a KB article's fault on the wire, its
//! variants, and the benign look-alikes docs/faults.md lists. Each step names the tshark filter
//! its frame must match, so an independent dissector vouches for every frame, and each
//! scenario says which fault (if any) it should produce. The records each must give are
//! its golden file, `tests/golden/<name>.jsonl` ([`crate::golden`]).
//!
//! Every scenario has its own subnet `10.<net>.0.0/24` (and MAC addresses to match), so any
//! number of them can be played at once, into one capture or onto one wire, without one
//! scenario's traffic touching another's state.
//!
//! One module per fault family: `wins` and `nbstat` (NetBIOS, sharing `netbios`'s name
//! service helpers), `ncp`, `sms`, `ras`; this one holds what they build on: [`Scenario`]
//! and the `Lan` a scenario's timeline is built on.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{
    Carrier, Eth, Mac, Network,
    eth::BROADCAST,
    ip::{Bare, ICMP_PORT_UNREACHABLE, ICMPV6_PORT_UNREACHABLE, Ipv6, TCP_ACK, TCP_FIN, TCP_SYN},
};

mod nbstat;
mod ncp;
mod netbios;
mod ras;
mod sms;
mod wins;

pub use ncp::ncp;
pub use netbios::netbios;
pub use ras::ras;
pub use sms::sms;

/// Live runs (tests, the demo) play scenarios this many times faster than life...
pub const SPEEDUP: u64 = 10;
/// ...with the detectors' timeouts and windows (their defaults) shortened to match,
/// as `faultd run` flags.
pub const FAST_FLAGS: [&str; 12] = [
    "--nbns-timeout",
    "500ms",
    "--wins-episode",
    "6s",
    "--nbstat-window",
    "3s",
    "--ncp-timeout",
    "500ms",
    "--sms-report-interval",
    "6m",
    "--pptp-clear-timeout",
    "1s",
];

/// One frame of a scenario, `at_ms` after its start.
#[derive(Clone, Debug)]
pub struct Step {
    pub at_ms: u64,
    pub frame: Vec<u8>,
    /// A tshark display filter this frame matches.
    pub check: String,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    /// The fault id it should produce, or `None` for a benign look-alike.
    pub fault: Option<&'static str>,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// `(timestamp, frame)` pairs for a capture starting at `base_ns`, with every gap
    /// divided by `speedup` (live tests play scenarios faster, with timeouts to match).
    pub fn frames(&self, base_ns: u64, speedup: u64) -> Vec<(u64, Vec<u8>)> {
        self.steps
            .iter()
            .map(|s| (base_ns + s.at_ms * 1_000_000 / speedup, s.frame.clone()))
            .collect()
    }
}

/// Several scenarios' frames merged in time order, as one capture or one live run.
pub fn merged(scenarios: &[Scenario], base_ns: u64, speedup: u64) -> Vec<(u64, Vec<u8>)> {
    let mut all: Vec<(u64, Vec<u8>)> = scenarios
        .iter()
        .flat_map(|s| s.frames(base_ns, speedup))
        .collect();
    all.sort_by_key(|(t, _)| *t);
    all
}

/// Host numbers inside a scenario's subnet.
pub const WINS_PRIMARY: u8 = 2;
pub const WINS_BACKUP: u8 = 3;
pub const CLIENT: u8 = 10;
pub const OTHER_CLIENT: u8 = 11;
pub const TARGET: u8 = 20;
pub const OTHER_TARGET: u8 = 21;
const BROADCAST_HOST: u8 = 255;

/// A host number in a scenario's subnet, and a port.
type Endpoint = (u8, u16);

/// A scenario's subnet and the timeline being built on it.
struct Lan {
    net: u8,
    vlan: Option<u16>,
    /// IPv6 (`2001:db8:0:<net>::<host>`) instead of IPv4.
    v6: bool,
    /// Every IPv6 datagram carries hop-by-hop, destination options and routing headers,
    /// and so does every datagram an ICMPv6 error quotes.
    v6_extensions: bool,
    steps: Vec<Step>,
    /// The next TCP sequence number of each direction of each connection, so tshark
    /// follows the streams (and dissects what they carry) rather than calling segments
    /// retransmissions.
    seqs: std::collections::HashMap<(Endpoint, Endpoint), u32>,
}

impl Lan {
    fn new(net: u8) -> Self {
        Lan {
            net,
            vlan: None,
            v6: false,
            v6_extensions: false,
            steps: Vec::new(),
            seqs: Default::default(),
        }
    }

    fn v6(net: u8) -> Self {
        Lan {
            v6: true,
            ..Lan::new(net)
        }
    }

    fn v6_with_extensions(net: u8) -> Self {
        Lan {
            v6_extensions: true,
            ..Lan::v6(net)
        }
    }

    /// An IPv6 header from `src` to `dst` on `carrier`, with the LAN's extension headers.
    fn ipv6<C: Carrier>(&self, carrier: C, src: u8, dst: u8) -> Ipv6<C> {
        let ip = carrier.ipv6(self.ip6(src), self.ip6(dst));
        if self.v6_extensions {
            ip.hop_by_hop().destination_options().routing(self.ip6(dst))
        } else {
            ip
        }
    }

    fn ip6(&self, host: u8) -> Ipv6Addr {
        Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            u16::from(self.net),
            0,
            0,
            0,
            u16::from(host),
        )
    }

    fn tagged(net: u8, vlan: u16) -> Self {
        Lan {
            vlan: Some(vlan),
            ..Lan::new(net)
        }
    }

    fn ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.net, 0, host)
    }

    fn mac(&self, host: u8) -> Mac {
        if host == BROADCAST_HOST {
            BROADCAST
        } else {
            [0x02, 0, 0, 0, self.net, host]
        }
    }

    fn eth(&self, src: u8, dst: u8) -> Eth {
        let eth = Eth::new(self.mac(src), self.mac(dst));
        match self.vlan {
            Some(v) => eth.vlan(v),
            None => eth,
        }
    }

    fn add(&mut self, at_ms: u64, frame: Vec<u8>, check: &str) {
        let check = match self.vlan {
            Some(v) => format!("({check}) && vlan.id == {v}"),
            None => check.to_owned(),
        };
        self.steps.push(Step {
            at_ms,
            frame,
            check,
        });
    }

    fn udp(
        &mut self,
        at_ms: u64,
        (src, sport): (u8, u16),
        (dst, dport): (u8, u16),
        msg: &[u8],
        check: &str,
    ) {
        let eth = self.eth(src, dst);
        let frame = if self.v6 {
            let ip = self.ipv6(eth, src, dst);
            ip.udp(sport, dport).payload(msg)
        } else {
            let ip = eth.ipv4(self.ip(src), self.ip(dst));
            ip.udp(sport, dport).payload(msg)
        };
        self.add(at_ms, frame, check);
    }

    fn tcp(
        &mut self,
        at_ms: u64,
        (src, sport): (u8, u16),
        (dst, dport): (u8, u16),
        flags: u8,
        msg: &[u8],
        check: &str,
    ) {
        let eth = self.eth(src, dst);
        let (a, b) = ((src, sport), (dst, dport));
        let initial = 1000 * u32::from(src);
        let seq = *self.seqs.entry((a, b)).or_insert(initial);
        let ack = self.seqs.get(&(b, a)).copied().unwrap_or(0);
        let used = msg.len() as u32 + u32::from(flags & (TCP_SYN | TCP_FIN) != 0);
        self.seqs.insert((a, b), seq.wrapping_add(used));
        let frame = if self.v6 {
            let ip = self.ipv6(eth, src, dst);
            ip.tcp(sport, dport)
                .seq(seq)
                .ack(ack)
                .flags(flags)
                .payload(msg)
        } else {
            let ip = eth.ipv4(self.ip(src), self.ip(dst));
            ip.tcp(sport, dport)
                .seq(seq)
                .ack(ack)
                .flags(flags)
                .payload(msg)
        };
        self.add(at_ms, frame, check);
    }

    /// A TCP SYN from `from` to `to`, and `to`'s SYN-ACK: a connection accepted.
    fn handshake(&mut self, at: u64, from: Endpoint, to: Endpoint) {
        let ports = |flags: &str, a: u16, b: u16| {
            format!("{flags} && tcp.srcport == {a} && tcp.dstport == {b}")
        };
        let syn = ports("tcp.flags.syn == 1 && tcp.flags.ack == 0", from.1, to.1);
        self.tcp(at, from, to, TCP_SYN, &[], &syn);
        let syn_ack = ports("tcp.flags.syn == 1 && tcp.flags.ack == 1", to.1, from.1);
        self.tcp(at + 1, to, from, TCP_SYN | TCP_ACK, &[], &syn_ack);
    }

    /// `to` answers a datagram `from` sent it with ICMP(v6) port unreachable, quoting it.
    fn port_unreachable(
        &mut self,
        at_ms: u64,
        (from, sport): (u8, u16),
        (to, dport): (u8, u16),
        msg: &[u8],
    ) {
        let eth = self.eth(to, from);
        let (frame, check) = if self.v6 {
            let quoted = self.ipv6(Bare, from, to).udp(sport, dport).payload(msg);
            let ip = eth.ipv6(self.ip6(to), self.ip6(from));
            (
                ip.icmp6_unreachable(ICMPV6_PORT_UNREACHABLE, &quoted),
                "icmpv6.type == 1 && icmpv6.code == 4",
            )
        } else {
            let quoted = Bare
                .ipv4(self.ip(from), self.ip(to))
                .udp(sport, dport)
                .payload(msg);
            let ip = eth.ipv4(self.ip(to), self.ip(from));
            (
                ip.icmp_unreachable(ICMP_PORT_UNREACHABLE, &quoted),
                "icmp.type == 3 && icmp.code == 3",
            )
        };
        let check = format!("{check} && udp.dstport == {dport}");
        self.add(at_ms, frame, &check);
    }

    fn done(self, name: &'static str, fault: Option<&'static str>) -> Scenario {
        let mut steps = self.steps;
        steps.sort_by_key(|s| s.at_ms);
        Scenario { name, fault, steps }
    }
}

/// Every scenario of every fault family.
pub fn all() -> Vec<Scenario> {
    let mut v = netbios();
    v.extend(ncp());
    v.extend(sms());
    v.extend(ras());
    v
}
