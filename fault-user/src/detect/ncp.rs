//! `ncp_wrong_socket` (KB Q164987): a NetWare client looks a file server up, learns an
//! address whose socket is not 0x451 (a stand-in such as LANtegrity allocates a dynamic
//! one), and connects to 0x451 on that node anyway.
//!
//! Advertisements are learned from SAP general/nearest responses and from NCP Read
//! Property Value replies for `NET_ADDRESS` (paired with their request, which names the
//! object), file servers only. They are kept per node (one per socket, the latest) and
//! per server name (the latest address: a server advertised somewhere new has moved). A
//! Create Service Connection to a node whose file servers are all advertised at other
//! sockets is the fault; it is reported once the response timeout has told whether
//! anything answered.

use fault_common::{
    Event,
    event::{Family, NCP_HAS_REPLY_VALUE, NCP_HAS_RPV_REQUEST, NcpBody},
    proto::{ncp, sap},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Detail, Detector, Evidence, Fault, FaultKind,
    bounded::{Bounded, map_bytes},
};
use crate::{
    names,
    settings::{self, Allow, Bound, Nanos},
};

/// `ncp_wrong_socket`'s settings.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
#[group(skip)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// An NCP request (ncp_wrong_socket: the Create Service Connection) with no reply this
    /// long after its last transmission is unanswered.
    #[arg(
        id = "ncp-timeout",
        long = "ncp-timeout",
        value_name = "DURATION",
        default_value = "5s"
    )]
    pub timeout: Nanos,
    /// The most IPX nodes with advertised file servers, and file server names,
    /// ncp_wrong_socket remembers (1 to 1048576, each). A new one past it evicts the least
    /// recently advertised, counted in faultd_detector_evictions_total.
    #[arg(
        id = "ncp-nodes",
        long = "ncp-nodes",
        value_name = "N",
        default_value = "1024"
    )]
    pub nodes: Bound,
    /// The most NCP requests ncp_wrong_socket keeps awaiting their reply: Read Property
    /// Value requests, and Create Service Connections (1 to 1048576, each). A new one past
    /// it evicts the oldest, unjudged, counted in faultd_detector_evictions_total.
    #[arg(
        id = "ncp-pending",
        long = "ncp-pending",
        value_name = "N",
        default_value = "1024"
    )]
    pub pending: Bound,
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

/// `ncp_wrong_socket`'s own fields. `client` is the client's IPX address with the socket
/// its request came from, `server` the address it connected to; `ts` is the time of the
/// connect's first transmission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Record {
    /// Where the file server is advertised on that node (the most recent advertisement),
    /// as `network:node:socket`.
    pub advertised: String,
    /// The advertised file server's name.
    pub server_name: String,
    /// Whether an NCP reply with the connect's sequence number came back from the address
    /// connected to.
    pub answered: bool,
}

/// Advertised sockets kept per node (a stand-in host serves its own and a few others).
pub const PER_NODE: usize = 4;
/// How long an advertisement stands without being repeated (SAP repeats every minute).
const ADVERT_TTL_NS: u64 = 3600 * 1_000_000_000;
const NET_ADDRESS: &[u8] = b"NET_ADDRESS";

/// An IPX network + node.
type Node = [u8; 10];
/// A server name as sent (SAP's field is 48 bytes, NUL padded; the bindery's the same).
type Name = [u8; 48];

fn raw_name(bytes: &[u8]) -> Name {
    let mut n = [0; 48];
    let len = bytes.len().min(48);
    n[..len].copy_from_slice(&bytes[..len]);
    n
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Addr {
    node: Node,
    socket: u16,
}

impl Addr {
    fn src(ev: &Event) -> Addr {
        Addr {
            node: node(&ev.hdr.src),
            socket: ev.hdr.sport,
        }
    }
    fn dst(ev: &Event) -> Addr {
        Addr {
            node: node(&ev.hdr.dst),
            socket: ev.hdr.dport,
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&names::ipx_address(
            &self.node[..4],
            &self.node[4..],
            self.socket,
        ))
    }
}

fn node(a: &[u8; 16]) -> Node {
    let mut n = [0; 10];
    n.copy_from_slice(&a[..10]);
    n
}

#[derive(Clone)]
struct Advert {
    raw: Name,
    name: String,
    socket: u16,
    /// The packet that said so, and for an NCP reply the request that named the object.
    said: Event,
    asked: Option<Event>,
    how: String,
}

struct Connect {
    first: Event,
    sent: u32,
    last_ts: u64,
    advert: Advert,
    reply: Option<Event>,
}

type RpvKey = (Addr, Addr, u8, u16);
type ConnectKey = (Addr, Addr, u8);

pub struct NcpWrongSocket {
    timeout: u64,
    by_node: Bounded<Node, Vec<Advert>>,
    by_name: Bounded<Name, Addr>,
    requests: Bounded<RpvKey, Event>,
    /// Due when their response timeout passes.
    connects: Bounded<ConnectKey, Connect>,
}

impl NcpWrongSocket {
    /// The most memory its state can take, in bytes, every map at its cap (names at their
    /// 48-byte maximum).
    pub fn state_bytes_max(settings: &Settings) -> usize {
        let (nodes, pending) = (settings.nodes.get(), settings.pending.get());
        let strings = 48 + 96;
        map_bytes::<Node, Vec<Advert>>(nodes)
            + nodes * PER_NODE * (size_of::<Advert>() + strings)
            + map_bytes::<Name, Addr>(nodes)
            + map_bytes::<RpvKey, Event>(pending)
            + map_bytes::<ConnectKey, Connect>(pending)
            + pending * strings
    }

    pub fn new(settings: &Settings) -> Self {
        NcpWrongSocket {
            timeout: settings.timeout.ns(),
            by_node: Bounded::new(settings.nodes.get()),
            by_name: Bounded::new(settings.nodes.get()),
            requests: Bounded::new(settings.pending.get()),
            connects: Bounded::new(settings.pending.get()),
        }
    }

    fn learn(&mut self, at: Addr, advert: Advert) {
        let ts = advert.said.hdr.ts_ns;
        // A server advertised somewhere new has moved: its old address no longer stands.
        if let Some(old) = self.by_name.get(&advert.raw).copied()
            && old != at
        {
            self.forget(old, &advert.raw);
        }
        self.by_name.put(advert.raw, ts, at);
        let list = self.by_node.touch(at.node, ts, Vec::new);
        list.retain(|a| a.socket != at.socket);
        if list.len() >= PER_NODE {
            list.remove(0);
        }
        list.push(advert);
    }

    fn forget(&mut self, at: Addr, name: &Name) {
        if let Some(list) = self.by_node.get_mut(&at.node) {
            list.retain(|a| !(a.socket == at.socket && &a.raw == name));
        }
    }

    fn sap(&mut self, ev: &Event) {
        let Some(b) = ev.sap() else { return };
        if !matches!(b.op, sap::GENERAL_RESPONSE | sap::NEAREST_RESPONSE)
            || b.server_type != sap::FILE_SERVER
        {
            return;
        }
        let mut n = [0; 10];
        n[..4].copy_from_slice(&b.network);
        n[4..].copy_from_slice(&b.node);
        let at = Addr {
            node: n,
            socket: b.socket,
        };
        if b.hops >= sap::HOPS_DOWN {
            self.forget(at, &b.name);
            return;
        }
        let name = names::c_string(&b.name);
        let kind = if b.op == sap::NEAREST_RESPONSE {
            "nearest"
        } else {
            "general"
        };
        self.learn(
            at,
            Advert {
                how: format!("SAP {kind} response: file server {name} at {at}"),
                raw: b.name,
                name,
                socket: at.socket,
                said: *ev,
                asked: None,
            },
        );
    }

    fn request(&mut self, ev: &Event, b: &NcpBody) {
        let property = b.property_name();
        if b.function == ncp::FN_BINDERY
            && b.subfunction == ncp::SUB_READ_PROPERTY_VALUE
            && b.detail & NCP_HAS_RPV_REQUEST != 0
            && b.object_type == sap::FILE_SERVER
            && property == NET_ADDRESS
        {
            let key = (Addr::src(ev), Addr::dst(ev), b.seq, connection(b));
            self.requests.put(key, ev.hdr.ts_ns, *ev);
        }
    }

    fn reply(&mut self, ev: &Event, b: &NcpBody) {
        let (client, server) = (Addr::dst(ev), Addr::src(ev));
        if let Some(c) = self.connects.get_mut(&(client, server, b.seq)) {
            c.reply.get_or_insert(*ev);
        }
        let Some(asked) = self
            .requests
            .remove(&(client, server, b.seq, connection(b)))
        else {
            return;
        };
        // Completion code 0 (the body's `function` in a reply), and the 12-byte value.
        if b.function != 0 || b.detail & NCP_HAS_REPLY_VALUE == 0 {
            return;
        }
        let Some(q) = asked.ncp() else { return };
        let raw = raw_name(q.object_name());
        let name = names::c_string(&raw);
        let mut n = [0; 10];
        n.copy_from_slice(&b.value[..10]);
        let at = Addr {
            node: n,
            socket: u16::from_be_bytes([b.value[10], b.value[11]]),
        };
        self.learn(
            at,
            Advert {
                how: format!("Read Property Value reply: NET_ADDRESS of {name} is {at}"),
                raw,
                name,
                socket: at.socket,
                said: *ev,
                asked: Some(asked),
            },
        );
    }

    fn create(&mut self, ev: &Event, b: &NcpBody) {
        let (client, server) = (Addr::src(ev), Addr::dst(ev));
        let ts = ev.hdr.ts_ns;
        let key = (client, server, b.seq);
        if let Some(c) = self.connects.get_mut(&key) {
            // A retransmission: the timeout runs from the last one.
            c.sent = c.sent.saturating_add(1);
            c.last_ts = ts;
        } else {
            let Some(adverts) = self.by_node.get(&server.node) else {
                return;
            };
            let standing = |a: &&Advert| a.said.hdr.ts_ns.saturating_add(ADVERT_TTL_NS) > ts;
            if adverts
                .iter()
                .filter(standing)
                .any(|a| a.socket == server.socket)
            {
                return;
            }
            let Some(advert) = adverts.iter().rfind(standing).cloned() else {
                return;
            };
            self.connects.touch(key, ts, || Connect {
                first: *ev,
                sent: 1,
                last_ts: ts,
                advert,
                reply: None,
            });
        }
        self.connects.set_due(&key, ts.saturating_add(self.timeout));
    }

    fn fault(&self, (client, server, _): ConnectKey, c: &Connect) -> Fault {
        let advertised = Addr {
            node: server.node,
            socket: c.advert.socket,
        };
        let name = &c.advert.name;
        let mut evidence = Vec::new();
        if let Some(q) = &c.advert.asked {
            evidence.push(Evidence::of(
                q,
                format!("Read Property Value request: NET_ADDRESS of file server {name}"),
            ));
        }
        evidence.push(Evidence::of(&c.advert.said, c.advert.how.clone()));
        evidence.push(Evidence::of(
            &c.first,
            format!(
                "Create Service Connection to {server}{}",
                names::transmissions(c.sent)
            ),
        ));
        if let Some(r) = &c.reply {
            evidence.push(Evidence::of(
                r,
                "NCP reply to the Create Service Connection",
            ));
        }
        evidence.sort_by_key(|e| e.ts_ns);
        let outcome = if c.reply.is_some() {
            "got a reply from it"
        } else {
            "got no reply"
        };
        Fault {
            ts_ns: c.first.hdr.ts_ns,
            client: client.to_string(),
            server: server.to_string(),
            summary: format!(
                "NetWare client {client} connected to {server}, but file server {name} is \
                 advertised at {advertised}: the client used socket {:04x} instead of the \
                 advertised {:04x} (the hard-coded NCP socket, Q164987) and {outcome}.",
                server.socket, advertised.socket
            ),
            detail: Detail::NcpWrongSocket(Record {
                advertised: advertised.to_string(),
                server_name: name.clone(),
                answered: c.reply.is_some(),
            }),
            evidence,
        }
    }
}

fn connection(b: &NcpBody) -> u16 {
    u16::from(b.conn_high) << 8 | u16::from(b.conn_low)
}

impl Detector for NcpWrongSocket {
    fn name(&self) -> &'static str {
        FaultKind::NcpWrongSocket.id()
    }

    fn event(&mut self, ev: &Event, _out: &mut Vec<Fault>) {
        if ev.hdr.family != Family::Ipx as u8 {
            return;
        }
        self.sap(ev);
        let Some(b) = ev.ncp() else { return };
        match b.req_type {
            ncp::CREATE_CONNECTION => self.create(ev, b),
            ncp::REQUEST => self.request(ev, b),
            ncp::REPLY => self.reply(ev, b),
            _ => {}
        }
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>) {
        // A request unanswered this long will not be: a reply with its sequence number now
        // belongs to another request.
        self.requests
            .expire(now_ns.saturating_sub(self.timeout.saturating_mul(2)));
        self.by_node.expire(now_ns.saturating_sub(ADVERT_TTL_NS));
        self.by_name.expire(now_ns.saturating_sub(ADVERT_TTL_NS));
        let mut faults: Vec<Fault> = self
            .connects
            .take_due(now_ns)
            .into_iter()
            .filter_map(|k| self.connects.remove(&k).map(|c| self.fault(k, &c)))
            .collect();
        faults.sort_by_key(|f| f.ts_ns);
        out.extend(faults);
    }

    fn evictions(&self) -> u64 {
        self.by_node.evicted()
            + self.by_name.evicted()
            + self.requests.evicted()
            + self.connects.evicted()
    }

    fn entries(&self) -> usize {
        self.by_node.len() + self.by_name.len() + self.requests.len() + self.connects.len()
    }

    fn capacity(&self) -> usize {
        self.by_node.capacity()
            + self.by_name.capacity()
            + self.requests.capacity()
            + self.connects.capacity()
    }
}

#[cfg(test)]
mod tests {
    use fault_tests::{
        Encap, Eth, IpxAddr,
        ipx::{SAP_FILE_SERVER, SOCKET_SAP, SapEntry, sap_response},
        ncp,
    };

    use super::*;

    fn events(frame: &[u8], ts: u64) -> Vec<Event> {
        crate::detect::events_of(frame, ts)
    }

    /// A SAP nearest response: file server `name` at node `n`, socket 0x4007.
    fn advert(n: u32, name: &str, ts: u64) -> Vec<Event> {
        let node = n.to_be_bytes();
        let at = IpxAddr::new(1, [2, 0, node[0], node[1], node[2], node[3]], 0x4007);
        let entry = SapEntry {
            server_type: SAP_FILE_SERVER,
            name,
            addr: at,
            hops: 1,
        };
        let frame = Eth::new([2; 6], [4; 6])
            .ipx(
                Encap::EthernetII,
                at.with_socket(SOCKET_SAP),
                IpxAddr::new(1, [4; 6], 0x4008),
            )
            .payload(&sap_response(true, &[entry]));
        events(&frame, ts)
    }

    #[test]
    fn nodes_beyond_the_cap_push_out_the_least_recent_and_are_counted() {
        let settings = Settings::default();
        let nodes = settings.nodes.get();
        assert_eq!((nodes, settings.pending.get()), (1024, 1024));
        let mut d = NcpWrongSocket::new(&settings);
        assert_eq!(d.capacity(), 4 * 1024);
        let mut out = Vec::new();
        for i in 0..nodes as u32 + 5 {
            for ev in advert(i, &format!("FS{i}"), 1_000 + u64::from(i)) {
                d.event(&ev, &mut out);
            }
        }
        // Nodes and names both overflow by five.
        assert_eq!(d.evictions(), 10);
        assert_eq!(d.by_node.keys().count(), nodes);
    }

    #[test]
    fn the_configured_bounds_cap_nodes_and_pending_requests() {
        let settings = Settings {
            nodes: Bound(2),
            pending: Bound(7),
            ..Default::default()
        };
        let mut d = NcpWrongSocket::new(&settings);
        assert_eq!(d.capacity(), 2 + 2 + 7 + 7);
        let mut out = Vec::new();
        for i in 0..5u32 {
            for ev in advert(i, &format!("FS{i}"), 1_000 + u64::from(i)) {
                d.event(&ev, &mut out);
            }
        }
        assert_eq!((d.by_node.len(), d.by_name.len()), (2, 2));
        assert_eq!(d.evictions(), 6, "three nodes and three names");
    }

    #[test]
    fn a_connect_is_judged_against_the_node_it_went_to() {
        let mut d = NcpWrongSocket::new(&Default::default());
        let mut out = Vec::new();
        for ev in advert(7, "DTW4", 1_000) {
            d.event(&ev, &mut out);
        }
        let server = IpxAddr::new(1, [2, 0, 0, 0, 0, 7], 0x0451);
        let frame = Eth::new([4; 6], [2; 6])
            .ipx(Encap::Snap, IpxAddr::new(1, [4; 6], 0x4010), server)
            .payload(&ncp::create_connection(0, 1));
        for ev in events(&frame, 2_000) {
            d.event(&ev, &mut out);
        }
        d.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].server, "00000001:020000000007:0451");
        let Detail::NcpWrongSocket(r) = &out[0].detail else {
            panic!("{:?}", out[0]);
        };
        assert_eq!(r.advertised, "00000001:020000000007:4007");
        assert_eq!(r.server_name, "DTW4");
    }

    #[test]
    fn a_retransmitted_connect_is_judged_a_timeout_after_the_last_one() {
        const S: u64 = 1_000_000_000;
        let mut d = NcpWrongSocket::new(&Default::default());
        let mut out = Vec::new();
        for ev in advert(7, "DTW4", 1_000) {
            d.event(&ev, &mut out);
        }
        let frame = Eth::new([4; 6], [2; 6])
            .ipx(
                Encap::Snap,
                IpxAddr::new(1, [4; 6], 0x4010),
                IpxAddr::new(1, [2, 0, 0, 0, 0, 7], 0x0451),
            )
            .payload(&ncp::create_connection(0, 1));
        for ts in [S, 4 * S] {
            d.advance(ts, &mut out);
            for ev in events(&frame, ts) {
                d.event(&ev, &mut out);
            }
        }
        d.advance(8 * S, &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(d.connects.next_due(), Some(9 * S));
        d.advance(9 * S, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(d.connects.len(), 0);
    }

    #[test]
    fn the_state_stays_within_its_documented_bound() {
        let bytes = NcpWrongSocket::state_bytes_max(&Settings::default());
        eprintln!("ncp_wrong_socket: at most {} KiB of state", bytes / 1024);
        assert!(
            bytes <= 16 << 20,
            "{bytes} bytes: README says at most 16 MiB"
        );
    }
}
