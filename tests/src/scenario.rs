//! Fault scenarios: timed frame sequences that put a KB article's fault on the wire, its
//! variants, and the benign look-alikes docs/faults.md lists. Each step names the tshark
//! filter its frame must match, so an independent dissector vouches for every frame, and
//! each scenario says which fault (if any) it should produce. The expected records
//! themselves live with the tests that assert them.
//!
//! Every scenario has its own subnet `10.<net>.0.0/24` (and MAC addresses to match), so any
//! number of them can be played at once, into one capture or onto one wire, without one
//! scenario's traffic touching another's state.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{
    Carrier, Encap, Eth, IpxAddr, Mac, Network,
    eth::BROADCAST,
    ip::{
        Bare, ICMP_PORT_UNREACHABLE, ICMPV6_PORT_UNREACHABLE, Ipv6, TCP_ACK, TCP_FIN, TCP_PSH,
        TCP_RST, TCP_SYN, quote_ipv4,
    },
    ipx::{SAP_FILE_SERVER, SOCKET_NCP, SOCKET_SAP, SapEntry, sap_response},
    ncp,
    netbios::{NbName, NbRecord, nbns, nbss},
    pptp,
};

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

/// Windows NT retransmits a name service request every 1.5 s, three times in all.
const RETRY_MS: u64 = 1500;

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

    fn record(&self, name: &NbName) -> NbRecord {
        NbRecord::new(name.clone(), self.ip(CLIENT))
    }

    fn record_of(&self, host: u8, name: &NbName) -> NbRecord {
        NbRecord::new(name.clone(), self.ip(host))
    }

    /// `msg` sent three times, `RETRY_MS` apart, from `from` to `to` on UDP 137.
    fn thrice(&mut self, at_ms: u64, from: u8, to: u8, msg: &[u8], check: &str) {
        for i in 0..3 {
            self.udp(at_ms + i * RETRY_MS, (from, 137), (to, 137), msg, check);
        }
    }

    fn done(self, name: &'static str, fault: Option<&'static str>) -> Scenario {
        let mut steps = self.steps;
        steps.sort_by_key(|s| s.at_ms);
        Scenario { name, fault, steps }
    }
}

const UNICAST_REGISTRATION: &str = "nbns.flags.opcode == 5 && nbns.flags.response == 0 && nbns.flags.broadcast == 0 && eth.dst.ig == 0";
const BROADCAST_REGISTRATION: &str = "nbns.flags.opcode == 5 && nbns.flags.response == 0 && nbns.flags.broadcast == 1 && eth.dst.ig == 1";
const MULTIHOMED_REGISTRATION: &str = "nbns.flags.opcode == 15 && nbns.flags.response == 0";
const REFRESH: &str = "nbns.flags.opcode == 8 && nbns.flags.response == 0 && eth.dst.ig == 0";
const POSITIVE_REGISTRATION: &str =
    "nbns.flags.opcode == 5 && nbns.flags.response == 1 && nbns.flags.rcode == 0";
const NEGATIVE_REGISTRATION: &str =
    "nbns.flags.opcode == 5 && nbns.flags.response == 1 && nbns.flags.rcode == 6";
const WACK: &str = "nbns.flags.opcode == 7 && nbns.flags.response == 1";
const NBSTAT_QUERY: &str = "nbns.type == 33 && nbns.flags.response == 0 && nbns.flags.opcode == 0";
const NBSTAT_RESPONSE: &str = "nbns.type == 33 && nbns.flags.response == 1";
const ICMP_QUOTING_NBSTAT: &str =
    "icmp.type == 3 && icmp.code == 3 && nbns.type == 33 && udp.srcport == 137";
const SESSION_SMBSERVER: &str = "nbss.type == 0x81 && nbss.called_name contains \"*SMBSERVER\"";
const SESSION_REQUEST: &str = "nbss.type == 0x81";
const SESSION_POSITIVE: &str = "nbss.type == 0x82";
const SESSION_NEGATIVE: &str = "nbss.type == 0x83 && nbss.error_code == 0x82";

fn name(n: &str, suffix: u8) -> NbName {
    NbName::new(n, suffix)
}

/// Every scenario of every fault family.
pub fn all() -> Vec<Scenario> {
    let mut v = netbios();
    v.extend(ncp());
    v.extend(sms());
    v.extend(ras());
    v
}

/// Every NetBIOS scenario: `wins_backup_swap` (Q153073) and `netbios_ip_connect_failure`
/// (Q251166), each fault's variants first, then its benign look-alikes.
pub fn netbios() -> Vec<Scenario> {
    vec![
        wins_kb_m_node(),
        wins_h_node_one_name_lost(),
        wins_names_lost_interleaved_multihomed_refresh(),
        wins_second_client_between(),
        wins_vlan_tagged(),
        wins_backup_wack_then_accept(),
        wins_benign_each_name_retried_with_backup(),
        wins_benign_primary_answers(),
        wins_benign_broadcast_only(),
        wins_benign_primary_down_no_backup(),
        wins_benign_many_names(),
        nbstat_kb_sp5(),
        nbstat_icmp_port_unreachable(),
        nbstat_tcp139_open(),
        nbstat_smbserver_refused(),
        nbstat_vlan_tagged(),
        nbstat_icmp_minimal_quote(),
        nbstat_second_client_between(),
        nbstat_benign_answered_then_session(),
        nbstat_benign_unanswered_but_smbserver_session(),
        nbstat_benign_scanner_port(),
        nbstat_benign_broadcast(),
    ]
}

const WINS_FAULT: Option<&str> = Some("wins_backup_swap");
const NBSTAT_FAULT: Option<&str> = Some("netbios_ip_connect_failure");

/// Registration of `n` (transaction `id`) sent three times to `to`, unanswered.
fn unanswered(lan: &mut Lan, at: u64, client: u8, to: u8, id: u16, n: &NbName) {
    let reg = nbns::registration(id, &lan.record_of(client, n), false);
    lan.thrice(at, client, to, &reg, UNICAST_REGISTRATION);
}

/// Registration of `n` to `server`, answered positively 10 ms later.
fn accepted(lan: &mut Lan, at: u64, client: u8, server: u8, id: u16, n: &NbName) {
    let rec = lan.record_of(client, n);
    let reg = nbns::registration(id, &rec, false);
    lan.udp(at, (client, 137), (server, 137), &reg, UNICAST_REGISTRATION);
    let ok = nbns::registration_response(id, &rec, 0);
    lan.udp(
        at + 10,
        (server, 137),
        (client, 137),
        &ok,
        POSITIVE_REGISTRATION,
    );
}

/// The KB's m-node: broadcast first, then the primary, then the backup, which answers; the
/// next names go through broadcast and then back to the dead primary.
fn wins_kb_m_node() -> Scenario {
    let mut lan = Lan::new(11);
    let (n1, n2, n3) = (name("DTW4", 0x00), name("DTW4", 0x20), name("DTW4", 0x03));
    let bcast = |lan: &mut Lan, at: u64, id: u16, n: &NbName| {
        let reg = nbns::registration(id, &lan.record(n), true);
        for i in 0..3 {
            lan.udp(
                at + i * 750,
                (CLIENT, 137),
                (BROADCAST_HOST, 137),
                &reg,
                BROADCAST_REGISTRATION,
            );
        }
    };
    bcast(&mut lan, 0, 0x0101, &n1);
    unanswered(&mut lan, 2250, CLIENT, WINS_PRIMARY, 0x0102, &n1);
    accepted(&mut lan, 6750, CLIENT, WINS_BACKUP, 0x0103, &n1);
    bcast(&mut lan, 7500, 0x0104, &n2);
    unanswered(&mut lan, 9750, CLIENT, WINS_PRIMARY, 0x0105, &n2);
    bcast(&mut lan, 14250, 0x0106, &n3);
    unanswered(&mut lan, 16500, CLIENT, WINS_PRIMARY, 0x0107, &n3);
    lan.done("wins_kb_m_node", WINS_FAULT)
}

/// The primary, then the backup for the first name; the second name back to the primary.
fn h_node_one_name_lost(lan: &mut Lan, client: u8, at: u64, id: u16) {
    let (n1, n2) = (name("PC42", 0x00), name("PC42", 0x20));
    unanswered(lan, at, client, WINS_PRIMARY, id, &n1);
    accepted(lan, at + 4500, client, WINS_BACKUP, id + 1, &n1);
    unanswered(lan, at + 6000, client, WINS_PRIMARY, id + 2, &n2);
}

fn wins_h_node_one_name_lost() -> Scenario {
    let mut lan = Lan::new(12);
    h_node_one_name_lost(&mut lan, CLIENT, 0, 0x0201);
    lan.done("wins_h_node_one_name_lost", WINS_FAULT)
}

/// Three names lost at once, their retransmissions interleaved: a registration, a
/// multi-homed registration and a refresh.
fn wins_names_lost_interleaved_multihomed_refresh() -> Scenario {
    let mut lan = Lan::new(13);
    let n1 = name("SRV7", 0x00);
    let (n2, n3, n4) = (name("SRV7", 0x20), name("SRV7", 0x03), name("SALES", 0x00));
    unanswered(&mut lan, 0, CLIENT, WINS_PRIMARY, 0x0301, &n1);
    accepted(&mut lan, 4500, CLIENT, WINS_BACKUP, 0x0302, &n1);
    let reg = nbns::registration(0x0303, &lan.record(&n2), false);
    lan.thrice(6000, CLIENT, WINS_PRIMARY, &reg, UNICAST_REGISTRATION);
    let multi = nbns::multihomed_registration(0x0304, &lan.record(&n3));
    lan.thrice(6100, CLIENT, WINS_PRIMARY, &multi, MULTIHOMED_REGISTRATION);
    let refresh = nbns::refresh(0x0305, &lan.record(&n4));
    lan.thrice(6200, CLIENT, WINS_PRIMARY, &refresh, REFRESH);
    lan.done("wins_names_lost_interleaved_multihomed_refresh", WINS_FAULT)
}

/// The benign client (every name: primary, timeout, backup) between the faulty one's
/// packets, on the same servers.
fn wins_second_client_between() -> Scenario {
    let mut lan = Lan::new(14);
    h_node_one_name_lost(&mut lan, CLIENT, 0, 0x0401);
    each_name_retried_with_backup(&mut lan, OTHER_CLIENT, 700, 0x0501);
    lan.done("wins_second_client_between", WINS_FAULT)
}

fn wins_vlan_tagged() -> Scenario {
    let mut lan = Lan::tagged(15, 42);
    h_node_one_name_lost(&mut lan, CLIENT, 0, 0x0601);
    lan.done("wins_vlan_tagged", WINS_FAULT)
}

/// The backup first asks the client to wait (WACK), then accepts: the swap comes with the
/// acceptance.
fn wins_backup_wack_then_accept() -> Scenario {
    let mut lan = Lan::new(16);
    let (n1, n2) = (name("LAB3", 0x00), name("LAB3", 0x20));
    unanswered(&mut lan, 0, CLIENT, WINS_PRIMARY, 0x0701, &n1);
    let rec = lan.record(&n1);
    let reg = nbns::registration(0x0702, &rec, false);
    lan.udp(
        4500,
        (CLIENT, 137),
        (WINS_BACKUP, 137),
        &reg,
        UNICAST_REGISTRATION,
    );
    let wack = nbns::wack(0x0702, &n1, 2, 0x2900);
    lan.udp(4510, (WINS_BACKUP, 137), (CLIENT, 137), &wack, WACK);
    let ok = nbns::registration_response(0x0702, &rec, 0);
    lan.udp(
        6000,
        (WINS_BACKUP, 137),
        (CLIENT, 137),
        &ok,
        POSITIVE_REGISTRATION,
    );
    unanswered(&mut lan, 7000, CLIENT, WINS_PRIMARY, 0x0703, &n2);
    lan.done("wins_backup_wack_then_accept", WINS_FAULT)
}

fn each_name_retried_with_backup(lan: &mut Lan, client: u8, at: u64, id: u16) {
    let names = [
        name("ACCT1", 0x00),
        name("ACCT1", 0x20),
        name("ACCT1", 0x03),
    ];
    for (i, n) in names.iter().enumerate() {
        let t = at + i as u64 * 6000;
        let id = id + 2 * i as u16;
        unanswered(lan, t, client, WINS_PRIMARY, id, n);
        accepted(lan, t + 4500, client, WINS_BACKUP, id + 1, n);
    }
}

fn wins_benign_each_name_retried_with_backup() -> Scenario {
    let mut lan = Lan::new(17);
    each_name_retried_with_backup(&mut lan, CLIENT, 0, 0x0801);
    lan.done("wins_benign_each_name_retried_with_backup", None)
}

fn wins_benign_primary_answers() -> Scenario {
    let mut lan = Lan::new(18);
    for (i, n) in [name("OK1", 0x00), name("OK1", 0x20), name("OK1", 0x03)]
        .iter()
        .enumerate()
    {
        accepted(
            &mut lan,
            i as u64 * 100,
            CLIENT,
            WINS_PRIMARY,
            0x0901 + i as u16,
            n,
        );
    }
    lan.done("wins_benign_primary_answers", None)
}

/// A b-node: broadcast registrations only, one of them refused by the name's owner.
fn wins_benign_broadcast_only() -> Scenario {
    let mut lan = Lan::new(19);
    let (n1, n2) = (name("BNODE", 0x00), name("WORKGROUP", 0x1D));
    for (i, n) in [&n1, &n2].into_iter().enumerate() {
        let reg = nbns::registration(0x0a01 + i as u16, &lan.record(n), true);
        for k in 0..3 {
            let at = i as u64 * 3000 + k * 750;
            lan.udp(
                at,
                (CLIENT, 137),
                (BROADCAST_HOST, 137),
                &reg,
                BROADCAST_REGISTRATION,
            );
        }
    }
    let owner = lan.record_of(OTHER_CLIENT, &n2);
    let refused = nbns::registration_response(0x0a02, &owner, nbns::RCODE_ACT_ERR);
    lan.udp(
        3010,
        (OTHER_CLIENT, 137),
        (CLIENT, 137),
        &refused,
        NEGATIVE_REGISTRATION,
    );
    lan.done("wins_benign_broadcast_only", None)
}

/// The primary never answers and there is no backup: the client falls back to broadcast
/// (the real capture `nbns_wins_unicast_reg_no_reply_then_bcast` shows this).
fn wins_benign_primary_down_no_backup() -> Scenario {
    let mut lan = Lan::new(20);
    let n = name("LONELY", 0x00);
    unanswered(&mut lan, 0, CLIENT, WINS_PRIMARY, 0x0b01, &n);
    let reg = nbns::registration(0x0b02, &lan.record(&n), true);
    for k in 0..3 {
        lan.udp(
            4500 + k * 750,
            (CLIENT, 137),
            (BROADCAST_HOST, 137),
            &reg,
            BROADCAST_REGISTRATION,
        );
    }
    let demand = nbns::overwrite_demand(0x0b02, &lan.record(&n));
    lan.udp(
        6750,
        (CLIENT, 137),
        (BROADCAST_HOST, 137),
        &demand,
        "nbns.flags == 0x2810",
    );
    lan.done("wins_benign_primary_down_no_backup", None)
}

/// A terminal server registering 40 names, each with the primary (unanswered) and then
/// the backup (accepted), overlapping: more names than an episode keeps registrations
/// for, every one registered.
fn wins_benign_many_names() -> Scenario {
    let mut lan = Lan::new(31);
    for i in 0..40u16 {
        let n = name(&format!("USER{i:02}"), 0x03);
        let t = u64::from(i) * 200;
        unanswered(&mut lan, t, CLIENT, WINS_PRIMARY, 0x0c00 + 2 * i, &n);
        accepted(&mut lan, t + 4500, CLIENT, WINS_BACKUP, 0x0c01 + 2 * i, &n);
    }
    lan.done("wins_benign_many_names", None)
}

/// An NBSTAT query from `client` to `target`, retransmitted under the same id.
fn nbstat_unanswered(lan: &mut Lan, at: u64, client: u8, target: u8, id: u16) {
    let q = nbns::nbstat_request(id, &NbName::wildcard(), false);
    lan.thrice(at, client, target, &q, NBSTAT_QUERY);
}

/// Windows NT 4.0 SP5 (the KB): the NBSTAT query to `\\10.21.0.20`, three times, and
/// nothing else.
fn nbstat_kb_sp5() -> Scenario {
    let mut lan = Lan::new(21);
    nbstat_unanswered(&mut lan, 0, CLIENT, TARGET, 0x8028);
    lan.done("nbstat_kb_sp5", NBSTAT_FAULT)
}

/// The target rejects each query (new id each time, as the real capture has it) with an
/// ICMP port unreachable that quotes it whole.
fn nbstat_icmp_port_unreachable() -> Scenario {
    let mut lan = Lan::new(22);
    for (i, id) in [0x8028u16, 0x802b, 0x802d].into_iter().enumerate() {
        let at = i as u64 * RETRY_MS;
        let q = nbns::nbstat_request(id, &NbName::wildcard(), false);
        lan.udp(at, (CLIENT, 137), (TARGET, 137), &q, NBSTAT_QUERY);
        let datagram = Bare
            .ipv4(lan.ip(CLIENT), lan.ip(TARGET))
            .udp(137, 137)
            .payload(&q);
        let frame = lan
            .eth(TARGET, CLIENT)
            .ipv4(lan.ip(TARGET), lan.ip(CLIENT))
            .icmp_unreachable(ICMP_PORT_UNREACHABLE, quote_ipv4(&datagram, datagram.len()));
        lan.add(at + 1, frame, ICMP_QUOTING_NBSTAT);
    }
    lan.done("nbstat_icmp_port_unreachable", NBSTAT_FAULT)
}

/// Another host reaches the target's TCP 139 just before: only UDP 137 is filtered.
fn nbstat_tcp139_open() -> Scenario {
    let mut lan = Lan::new(23);
    lan.handshake(0, (OTHER_CLIENT, 1050), (TARGET, 139));
    nbstat_unanswered(&mut lan, 1000, CLIENT, TARGET, 0x0001);
    lan.done("nbstat_tcp139_open", NBSTAT_FAULT)
}

/// The client first calls `*SMBSERVER`, which the target refuses (called name not
/// present), then falls back to the NBSTAT query, which goes unanswered.
fn nbstat_smbserver_refused() -> Scenario {
    let mut lan = Lan::new(24);
    lan.handshake(0, (CLIENT, 1051), (TARGET, 139));
    let req = nbss::session_request(&nbss::smbserver(), &name("NT4WKS", 0x00));
    lan.tcp(
        100,
        (CLIENT, 1051),
        (TARGET, 139),
        TCP_ACK | TCP_PSH,
        &req,
        SESSION_SMBSERVER,
    );
    let no = nbss::negative_response(nbss::CALLED_NOT_PRESENT);
    lan.tcp(
        101,
        (TARGET, 139),
        (CLIENT, 1051),
        TCP_ACK | TCP_PSH,
        &no,
        SESSION_NEGATIVE,
    );
    nbstat_unanswered(&mut lan, 500, CLIENT, TARGET, 0x0002);
    lan.done("nbstat_smbserver_refused", NBSTAT_FAULT)
}

/// The target rejects the query with an ICMP port unreachable quoting only the IP and UDP
/// headers (RFC 792's minimum): it cannot say which query, but says UDP 137 is closed.
fn nbstat_icmp_minimal_quote() -> Scenario {
    let mut lan = Lan::new(32);
    let q = nbns::nbstat_request(0x0009, &NbName::wildcard(), false);
    lan.udp(0, (CLIENT, 137), (TARGET, 137), &q, NBSTAT_QUERY);
    let datagram = Bare
        .ipv4(lan.ip(CLIENT), lan.ip(TARGET))
        .udp(137, 137)
        .payload(&q);
    let frame = lan
        .eth(TARGET, CLIENT)
        .ipv4(lan.ip(TARGET), lan.ip(CLIENT))
        .icmp_unreachable(ICMP_PORT_UNREACHABLE, quote_ipv4(&datagram, 8));
    lan.add(
        1,
        frame,
        "icmp.type == 3 && icmp.code == 3 && udp.srcport == 137 && udp.dstport == 137",
    );
    lan.done("nbstat_icmp_minimal_quote", NBSTAT_FAULT)
}

fn nbstat_vlan_tagged() -> Scenario {
    let mut lan = Lan::tagged(25, 42);
    nbstat_unanswered(&mut lan, 0, CLIENT, TARGET, 0x8030);
    lan.done("nbstat_vlan_tagged", NBSTAT_FAULT)
}

/// The query is answered with the target's name table, and the session follows.
fn answered_then_session(lan: &mut Lan, at: u64, client: u8, target: u8, id: u16) {
    let q = nbns::nbstat_request(id, &NbName::wildcard(), false);
    lan.udp(at, (client, 137), (target, 137), &q, NBSTAT_QUERY);
    let server = name("FILESRV", 0x20);
    let table = [(name("FILESRV", 0x00), 0x0400), (server.clone(), 0x0400)];
    let r = nbns::nbstat_response(
        id,
        &NbName::wildcard(),
        &table,
        [2, 0, 0, 0, lan.net, target],
    );
    lan.udp(at + 5, (target, 137), (client, 137), &r, NBSTAT_RESPONSE);
    lan.handshake(at + 10, (client, 1060), (target, 139));
    let req = nbss::session_request(&server, &name("CLIENT", 0x00));
    lan.tcp(
        at + 20,
        (client, 1060),
        (target, 139),
        TCP_ACK | TCP_PSH,
        &req,
        SESSION_REQUEST,
    );
    let ok = nbss::positive_response();
    lan.tcp(
        at + 21,
        (target, 139),
        (client, 1060),
        TCP_ACK | TCP_PSH,
        &ok,
        SESSION_POSITIVE,
    );
}

fn nbstat_second_client_between() -> Scenario {
    let mut lan = Lan::new(26);
    nbstat_unanswered(&mut lan, 0, CLIENT, TARGET, 0x0003);
    answered_then_session(&mut lan, 700, OTHER_CLIENT, OTHER_TARGET, 0x0004);
    lan.done("nbstat_second_client_between", NBSTAT_FAULT)
}

fn nbstat_benign_answered_then_session() -> Scenario {
    let mut lan = Lan::new(27);
    answered_then_session(&mut lan, 0, CLIENT, TARGET, 0x0005);
    lan.done("nbstat_benign_answered_then_session", None)
}

/// The query goes unanswered, but the client gets its session through `*SMBSERVER`.
fn nbstat_benign_unanswered_but_smbserver_session() -> Scenario {
    let mut lan = Lan::new(28);
    nbstat_unanswered(&mut lan, 0, CLIENT, TARGET, 0x0006);
    lan.handshake(5000, (CLIENT, 1070), (TARGET, 139));
    let req = nbss::session_request(&nbss::smbserver(), &name("W2K", 0x00));
    lan.tcp(
        5100,
        (CLIENT, 1070),
        (TARGET, 139),
        TCP_ACK | TCP_PSH,
        &req,
        SESSION_SMBSERVER,
    );
    let ok = nbss::positive_response();
    lan.tcp(
        5101,
        (TARGET, 139),
        (CLIENT, 1070),
        TCP_ACK | TCP_PSH,
        &ok,
        SESSION_POSITIVE,
    );
    lan.done("nbstat_benign_unanswered_but_smbserver_session", None)
}

/// nbtscan sweeping from an ephemeral port: nobody answers, and that is no fault.
fn nbstat_benign_scanner_port() -> Scenario {
    let mut lan = Lan::new(29);
    for (i, target) in [TARGET, OTHER_TARGET, 22].into_iter().enumerate() {
        let q = nbns::nbstat_request(0x0100 + i as u16, &NbName::wildcard(), false);
        let check = format!("{NBSTAT_QUERY} && udp.srcport == 37259");
        lan.udp(i as u64 * 10, (CLIENT, 37259), (target, 137), &q, &check);
    }
    lan.done("nbstat_benign_scanner_port", None)
}

/// An NBSTAT query to the subnet's broadcast address.
fn nbstat_benign_broadcast() -> Scenario {
    let mut lan = Lan::new(30);
    let q = nbns::nbstat_request(0x0007, &NbName::wildcard(), true);
    let check = format!("{NBSTAT_QUERY} && nbns.flags.broadcast == 1 && eth.dst.ig == 1");
    lan.thrice(0, CLIENT, BROADCAST_HOST, &q, &check);
    lan.done("nbstat_benign_broadcast", None)
}

// NetWare (Q164987). Each scenario has its own IPX network, and its own Ethernet subnet
// for the MAC addresses (`Lan::net`), so they too can all play at once.

/// The client's NCP socket (not 0x4003, which Wireshark takes for IPX messages), and the
/// dynamic socket LANtegrity gives a stood-in server (the KB's Bad.cap: `10123:1:4007`).
const CLIENT_SOCKET: u16 = 0x4010;
const STAND_IN_SOCKET: u16 = 0x4007;
/// The client's connection to its preferred server, over which it reads the bindery.
const CONNECTION: u16 = 5;
const TASK: u8 = 2;
const PRINT_SERVER: u16 = 0x0047;

const RPV_REQUEST: &str = "ncp.type == 0x2222 && ncp.func == 23 && ncp.subfunc == 61 && ncp.property_name == \"NET_ADDRESS\"";
const CREATE: &str = "ncp.type == 0x1111";
const NCP_REPLY: &str = "ncp.type == 0x3333";

/// tshark's view of each IPX framing.
fn framing(encap: Encap) -> &'static str {
    match encap {
        Encap::EthernetII => "eth.type == 0x8137",
        Encap::Raw8023 => "eth.len && !llc",
        Encap::Llc => "llc.dsap == 0xe0",
        Encap::Snap => "llc.oui == 0 && llc.type == 0x8137",
    }
}

/// An IPX network with a client (node `..:10`), its preferred file server FS1 (node 2),
/// and the host LANtegrity runs on (node 1).
struct Ipx {
    lan: Lan,
    net: u32,
    encap: Encap,
}

const LANTEGRITY: u8 = 1;
const FS1: u8 = 2;

impl Ipx {
    fn new(lan_net: u8, ipx_net: u32, encap: Encap) -> Self {
        Ipx {
            lan: Lan::new(lan_net),
            net: ipx_net,
            encap,
        }
    }

    fn addr(&self, host: u8, socket: u16) -> IpxAddr {
        IpxAddr::new(self.net, self.lan.mac(host), socket)
    }

    fn client(&self) -> IpxAddr {
        self.addr(CLIENT, CLIENT_SOCKET)
    }

    fn send(&mut self, at_ms: u64, src: IpxAddr, dst: IpxAddr, payload: &[u8], check: &str) {
        let (from, to) = (src.node[5], dst.node[5]);
        let eth = if dst.node == BROADCAST {
            Eth::new(self.lan.mac(from), BROADCAST)
        } else {
            self.lan.eth(from, to)
        };
        let frame = eth
            .ipx(self.encap, src, dst)
            .packet_type(0x11)
            .payload(payload);
        let check = format!("({check}) && {}", framing(self.encap));
        self.lan.add(at_ms, frame, &check);
    }

    fn sap(&mut self, at_ms: u64, from: u8, nearest: bool, entries: &[SapEntry]) {
        let src = self.addr(from, SOCKET_SAP);
        let (dst, kind) = if nearest {
            (self.addr(CLIENT, 0x4008), 4)
        } else {
            (IpxAddr::new(self.net, BROADCAST, SOCKET_SAP), 2)
        };
        let frame_eth = if nearest {
            self.lan.eth(from, CLIENT)
        } else {
            Eth::new(self.lan.mac(from), BROADCAST)
        };
        let frame = frame_eth
            .ipx(self.encap, src, dst)
            .payload(&sap_response(nearest, entries));
        let check = format!("ipxsap.packet_type == {kind} && {}", framing(self.encap));
        self.lan.add(at_ms, frame, &check);
    }

    /// Read Property Value for `name`'s NET_ADDRESS over the client's connection to FS1,
    /// and FS1's answer `at`.
    fn net_address(&mut self, at_ms: u64, seq: u8, object_type: u16, name: &str, at: IpxAddr) {
        let fs1 = self.addr(FS1, SOCKET_NCP);
        let q = ncp::read_property_value(
            seq,
            CONNECTION,
            TASK,
            object_type,
            name,
            1,
            ncp::PROPERTY_NET_ADDRESS,
        );
        let check = format!(
            "{RPV_REQUEST} && ncp.object_name == \"{name}\" && ncp.object_type == {object_type}"
        );
        self.send(at_ms, self.client(), fs1, &q, &check);
        let value = ncp::net_address(&at);
        let r = ncp::read_property_value_reply(seq, CONNECTION, TASK, &value, false, 0);
        let hex: Vec<String> = value.iter().map(|b| format!("{b:02x}")).collect();
        let check = format!(
            "ncp.type == 0x3333 && ncp.func == 23 && ncp.subfunc == 61 && ncp.property_data[0:12] == {}",
            hex.join(":")
        );
        self.send(at_ms + 5, fs1, self.client(), &r, &check);
    }

    /// Create Service Connection to `to`, sent `times` times a second apart; answered (by
    /// a reply with connection `answer`) after the first when given.
    fn connect(&mut self, at_ms: u64, seq: u8, to: IpxAddr, times: u64, answer: Option<u16>) {
        for i in 0..times {
            let create = ncp::create_connection(seq, TASK);
            self.send(at_ms + i * 1000, self.client(), to, &create, CREATE);
        }
        if let Some(conn) = answer {
            let r = ncp::reply(seq, conn, TASK, 0, 0, &[]);
            self.send(at_ms + 5, to, self.client(), &r, NCP_REPLY);
        }
    }

    fn done(self, name: &'static str, fault: Option<&'static str>) -> Scenario {
        self.lan.done(name, fault)
    }
}

const NCP_FAULT: Option<&str> = Some("ncp_wrong_socket");

/// Every NetWare scenario: the KB's Bad.cap in each IPX framing, the address learned from
/// SAP instead, then the benign look-alikes. Server names are unique across scenarios, as
/// NetWare's are across an internetwork.
pub fn ncp() -> Vec<Scenario> {
    let mut v: Vec<Scenario> = Encap::ALL
        .into_iter()
        .enumerate()
        .map(|(i, encap)| ncp_kb_bad_cap(40 + i as u8, 0x0001_0123 + i as u32, encap))
        .collect();
    v.extend([
        ncp_learned_from_sap_answered(),
        ncp_sap_general_several_servers(),
        ncp_benign_connect_to_advertised_socket(),
        ncp_benign_server_advertised_at_451(),
        ncp_benign_unadvertised_address(),
        ncp_benign_not_a_file_server(),
        ncp_benign_stand_in_and_own_server(),
        ncp_benign_stand_in_withdrawn(),
    ]);
    v
}

/// Bad.cap: the NET_ADDRESS of DTW4 (stood in for by LANtegrity; DTW5-7 in the other
/// framings) read from the bindery is `net:1:4007`; the client connects to `net:1:0451`,
/// three times, and nothing answers.
fn ncp_kb_bad_cap(lan: u8, net: u32, encap: Encap) -> Scenario {
    let mut x = Ipx::new(lan, net, encap);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    let server = match encap {
        Encap::EthernetII => "DTW4",
        Encap::Raw8023 => "DTW5",
        Encap::Llc => "DTW6",
        Encap::Snap => "DTW7",
    };
    x.net_address(0, 7, ncp::OBJECT_FILE_SERVER, server, stand_in);
    x.connect(100, 0, stand_in.with_socket(SOCKET_NCP), 3, None);
    let name = match encap {
        Encap::EthernetII => "ncp_kb_bad_cap_ethernet_ii",
        Encap::Raw8023 => "ncp_kb_bad_cap_raw_802_3",
        Encap::Llc => "ncp_kb_bad_cap_802_2",
        Encap::Snap => "ncp_kb_bad_cap_snap",
    };
    x.done(name, NCP_FAULT)
}

/// The stand-in's address from a SAP nearest response; LANtegrity's own NetWare answers
/// on 0x451 (as itself, not as the stood-in server).
fn ncp_learned_from_sap_answered() -> Scenario {
    let mut x = Ipx::new(44, 0x0001_0127, Encap::EthernetII);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    let entry = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "DTW8",
        addr: stand_in,
        hops: 1,
    };
    x.sap(0, LANTEGRITY, true, &[entry]);
    x.connect(100, 0, stand_in.with_socket(SOCKET_NCP), 1, Some(9));
    x.done("ncp_learned_from_sap_answered", NCP_FAULT)
}

/// A SAP general response lists a print server, a file server at 0x451 and a stood-in
/// one; the client connects to the file server (right) and to the stand-in's node at
/// 0x451 (wrong).
fn ncp_sap_general_several_servers() -> Scenario {
    let mut x = Ipx::new(45, 0x0001_0128, Encap::Raw8023);
    let entries = [
        SapEntry {
            server_type: PRINT_SERVER,
            name: "PRN1",
            addr: x.addr(3, 0x8060),
            hops: 1,
        },
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "FS10",
            addr: x.addr(FS1, SOCKET_NCP),
            hops: 1,
        },
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "DTW9",
            addr: x.addr(LANTEGRITY, STAND_IN_SOCKET),
            hops: 2,
        },
    ];
    x.sap(0, FS1, false, &entries);
    x.connect(100, 0, x.addr(FS1, SOCKET_NCP), 1, Some(5));
    x.connect(200, 1, x.addr(LANTEGRITY, SOCKET_NCP), 2, None);
    x.done("ncp_sap_general_several_servers", NCP_FAULT)
}

fn ncp_benign_connect_to_advertised_socket() -> Scenario {
    let mut x = Ipx::new(46, 0x0001_0129, Encap::EthernetII);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    x.net_address(0, 7, ncp::OBJECT_FILE_SERVER, "DTW10", stand_in);
    x.connect(100, 0, stand_in, 1, Some(3));
    x.done("ncp_benign_connect_to_advertised_socket", None)
}

fn ncp_benign_server_advertised_at_451() -> Scenario {
    let mut x = Ipx::new(47, 0x0001_012a, Encap::Llc);
    let fs1 = x.addr(FS1, SOCKET_NCP);
    let entry = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "FS11",
        addr: fs1,
        hops: 1,
    };
    x.sap(0, FS1, true, &[entry]);
    x.connect(100, 0, fs1, 1, Some(5));
    x.done("ncp_benign_server_advertised_at_451", None)
}

/// Nobody advertised anything on node 7: a connect there, unanswered, is not this fault.
fn ncp_benign_unadvertised_address() -> Scenario {
    let mut x = Ipx::new(48, 0x0001_012b, Encap::Snap);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    x.net_address(0, 7, ncp::OBJECT_FILE_SERVER, "DTW13", stand_in);
    x.connect(100, 0, x.addr(7, SOCKET_NCP), 2, None);
    x.done("ncp_benign_unadvertised_address", None)
}

/// Only file servers count: a print server at a dynamic socket, by SAP and by the bindery.
fn ncp_benign_not_a_file_server() -> Scenario {
    let mut x = Ipx::new(49, 0x0001_012c, Encap::EthernetII);
    let prn = x.addr(LANTEGRITY, 0x8060);
    let entry = SapEntry {
        server_type: PRINT_SERVER,
        name: "PRN1",
        addr: prn,
        hops: 1,
    };
    x.sap(0, LANTEGRITY, false, &[entry]);
    x.net_address(50, 8, PRINT_SERVER, "PRN1", prn);
    x.connect(100, 0, prn.with_socket(SOCKET_NCP), 1, None);
    x.done("ncp_benign_not_a_file_server", None)
}

/// The LANtegrity host advertises its own file server at 0x451 besides a stood-in one.
fn ncp_benign_stand_in_and_own_server() -> Scenario {
    let mut x = Ipx::new(50, 0x0001_012d, Encap::Raw8023);
    let entries = [
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "LANT1",
            addr: x.addr(LANTEGRITY, SOCKET_NCP),
            hops: 1,
        },
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "DTW11",
            addr: x.addr(LANTEGRITY, STAND_IN_SOCKET),
            hops: 1,
        },
    ];
    x.sap(0, LANTEGRITY, false, &entries);
    x.connect(100, 0, x.addr(LANTEGRITY, SOCKET_NCP), 1, Some(4));
    x.done("ncp_benign_stand_in_and_own_server", None)
}

/// A stood-in server comes back: LANtegrity withdraws its stand-in (hop count 16) and the
/// real one advertises at 0x451 on its own node; a later connect to the LANtegrity node
/// is no longer against any advertisement.
fn ncp_benign_stand_in_withdrawn() -> Scenario {
    let mut x = Ipx::new(51, 0x0001_012e, Encap::EthernetII);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    let up = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "DTW12",
        addr: stand_in,
        hops: 1,
    };
    x.sap(0, LANTEGRITY, false, std::slice::from_ref(&up));
    let down = SapEntry { hops: 16, ..up };
    x.sap(1000, LANTEGRITY, false, &[down]);
    let back = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "DTW12",
        addr: x.addr(6, SOCKET_NCP),
        hops: 1,
    };
    x.sap(1100, 6, false, &[back]);
    x.connect(2000, 0, x.addr(LANTEGRITY, SOCKET_NCP), 1, None);
    x.done("ncp_benign_stand_in_withdrawn", None)
}

// SMS Helpdesk (Q229097): H is the client the agent runs on, the console reaches it.

const CONSOLE: u8 = 1;
const WEB: u8 = 30;
const DNS: u8 = 53;
const SMS_FAULT: Option<&str> = Some("sms_port_conflict");

fn syn_to(port: u16) -> String {
    format!("tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == {port}")
}

fn rst_from(port: u16) -> String {
    format!("tcp.flags.reset == 1 && tcp.srcport == {port}")
}

fn udp_between(sport: u16, dport: u16) -> String {
    format!("udp.srcport == {sport} && udp.dstport == {dport}")
}

/// `peer` tries TCP `host`:`port` and gets a RST.
fn refused_tcp(lan: &mut Lan, at: u64, (peer, sport): (u8, u16), (host, port): (u8, u16)) {
    lan.tcp(at, (peer, sport), (host, port), TCP_SYN, &[], &syn_to(port));
    let check = rst_from(port);
    lan.tcp(
        at + 1,
        (host, port),
        (peer, sport),
        TCP_RST | TCP_ACK,
        &[],
        &check,
    );
}

/// `peer` sends a datagram to `host`:`port`; the host answers ICMP port unreachable.
fn refused_udp(lan: &mut Lan, at: u64, (peer, sport): (u8, u16), (host, port): (u8, u16)) {
    let msg = b"SMS remote control?";
    lan.udp(
        at,
        (peer, sport),
        (host, port),
        msg,
        &udp_between(sport, port),
    );
    lan.port_unreachable(at + 1, (peer, sport), (host, port), msg);
}

/// A DNS query for `example.org` (any UDP payload would do; this one tshark decodes).
fn dns_query(id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
    q
}

/// Every SMS scenario: each reason on each transport, IPv6, several hosts; then the
/// benign look-alikes.
pub fn sms() -> Vec<Scenario> {
    vec![
        sms_tcp_ephemeral_collision(),
        sms_udp_ephemeral_collision(),
        sms_tcp_refused(),
        sms_udp_refused(),
        sms_ipv6(),
        sms_ipv6_extension_headers(),
        sms_several_hosts(),
        sms_benign_agent_accepts(),
        sms_benign_client_connects_to_remote_sms_port(),
        sms_benign_remote_control_ports(),
        sms_benign_udp_reply(),
    ]
}

/// A web client on H happens to get 1761 as its ephemeral port, twice: one record.
fn sms_tcp_ephemeral_collision() -> Scenario {
    let mut lan = Lan::new(60);
    lan.handshake(0, (CLIENT, 1761), (WEB, 80));
    lan.handshake(3000, (CLIENT, 1761), (WEB, 80));
    lan.done("sms_tcp_ephemeral_collision", SMS_FAULT)
}

/// A resolver on H sends its query from 1763 (the answer is a reply, not another one).
fn sms_udp_ephemeral_collision() -> Scenario {
    let mut lan = Lan::new(61);
    let q = dns_query(0x5151);
    lan.udp(
        0,
        (CLIENT, 1763),
        (DNS, 53),
        &q,
        &format!("dns && {}", udp_between(1763, 53)),
    );
    let mut r = q.clone();
    r[2] = 0x81;
    r[3] = 0x80;
    lan.udp(
        2,
        (DNS, 53),
        (CLIENT, 1763),
        &r,
        &format!("dns && {}", udp_between(53, 1763)),
    );
    lan.done("sms_udp_ephemeral_collision", SMS_FAULT)
}

fn sms_tcp_refused() -> Scenario {
    let mut lan = Lan::new(62);
    refused_tcp(&mut lan, 0, (CONSOLE, 1050), (CLIENT, 1762));
    lan.done("sms_tcp_refused", SMS_FAULT)
}

fn sms_udp_refused() -> Scenario {
    let mut lan = Lan::new(63);
    refused_udp(&mut lan, 0, (CONSOLE, 1060), (CLIENT, 1764));
    lan.done("sms_udp_refused", SMS_FAULT)
}

/// Both reasons over IPv6: a collision on TCP 1761, UDP 1762 refused with ICMPv6.
fn sms_ipv6() -> Scenario {
    let mut lan = Lan::v6(64);
    lan.handshake(0, (CLIENT, 1761), (WEB, 443));
    refused_udp(&mut lan, 100, (CONSOLE, 1061), (CLIENT, 1762));
    lan.done("sms_ipv6", SMS_FAULT)
}

/// The same over IPv6 with extension headers, which the ICMPv6 error quotes as well.
fn sms_ipv6_extension_headers() -> Scenario {
    let mut lan = Lan::v6_with_extensions(59);
    lan.handshake(0, (CLIENT, 1761), (WEB, 443));
    refused_udp(&mut lan, 100, (CONSOLE, 1061), (CLIENT, 1762));
    lan.done("sms_ipv6_extension_headers", SMS_FAULT)
}

/// Two clients: one collides on 1761/tcp, the console is refused on the other's 1762.
fn sms_several_hosts() -> Scenario {
    let mut lan = Lan::new(65);
    lan.handshake(0, (CLIENT, 1761), (WEB, 80));
    refused_tcp(&mut lan, 50, (CONSOLE, 1051), (OTHER_CLIENT, 1762));
    lan.done("sms_several_hosts", SMS_FAULT)
}

/// The agent accepts the console on 1761; a datagram to 1761 gets no answer at all.
fn sms_benign_agent_accepts() -> Scenario {
    let mut lan = Lan::new(66);
    lan.handshake(0, (CONSOLE, 1070), (CLIENT, 1761));
    let msg = b"SMS remote control?";
    lan.udp(
        10,
        (CONSOLE, 1071),
        (CLIENT, 1761),
        msg,
        &udp_between(1071, 1761),
    );
    lan.done("sms_benign_agent_accepts", None)
}

/// H reaches the console's 1761 from an ephemeral port: its own 1761 is not involved.
fn sms_benign_client_connects_to_remote_sms_port() -> Scenario {
    let mut lan = Lan::new(67);
    lan.handshake(0, (CLIENT, 49200), (CONSOLE, 1761));
    lan.done("sms_benign_client_connects_to_remote_sms_port", None)
}

/// The fix's ports, 2701-2704, are not 1761-1764: a RST from 2701, a connection from
/// 2702; and 1761 talking to 2701 is SMS talking to SMS.
fn sms_benign_remote_control_ports() -> Scenario {
    let mut lan = Lan::new(68);
    refused_tcp(&mut lan, 0, (CONSOLE, 1052), (CLIENT, 2701));
    lan.handshake(10, (CLIENT, 2702), (WEB, 80));
    lan.handshake(20, (CLIENT, 1761), (CONSOLE, 2701));
    lan.done("sms_benign_remote_control_ports", None)
}

/// H answers a datagram it received on 1763: a reply, not a collision.
fn sms_benign_udp_reply() -> Scenario {
    let mut lan = Lan::new(69);
    let msg = b"ping";
    lan.udp(
        0,
        (CONSOLE, 40000),
        (CLIENT, 1763),
        msg,
        &udp_between(40000, 1763),
    );
    lan.udp(
        3,
        (CLIENT, 1763),
        (CONSOLE, 40000),
        msg,
        &udp_between(1763, 40000),
    );
    lan.done("sms_benign_udp_reply", None)
}

// RAS over PPTP (Q244717): servers are host 1 (and 2), clients 10, 11, 12.

const RAS_FAULT: Option<&str> = Some("ras_port_leak");
const RAS: u8 = 1;
const RAS2: u8 = 2;
const PPTP_PORT: u16 = 1723;
const BUSY: u8 = 4;

/// A PPTP control connection from `client`:`sport` to `server`:1723.
#[derive(Clone, Copy)]
struct Control {
    client: u8,
    sport: u16,
    server: u8,
}

impl Lan {
    fn pptp(&mut self, at: u64, c: Control, from_client: bool, msg: &[u8], check: &str) {
        let check = format!("pptp.type == 1 && {check}");
        let (a, b) = ((c.client, c.sport), (c.server, PPTP_PORT));
        let (src, dst) = if from_client { (a, b) } else { (b, a) };
        self.tcp(at, src, dst, TCP_ACK | TCP_PSH, msg, &check);
    }

    /// TCP handshake and Start-Control-Connection request and reply.
    fn open(&mut self, at: u64, c: Control) {
        self.handshake(at, (c.client, c.sport), (c.server, PPTP_PORT));
        let rq = pptp::sccrq("client", "faultd tests");
        self.pptp(at + 2, c, true, &rq, "pptp.control_message_type == 1");
        let rp = pptp::sccrp(1, 0, "ras", "faultd tests");
        self.pptp(at + 3, c, false, &rp, "pptp.control_message_type == 2");
    }

    /// Outgoing-Call-Request for the client's call id and the server's reply.
    fn call(&mut self, at: u64, c: Control, (client_call, server_call): (u16, u16), result: u8) {
        let rq = pptp::ocrq(client_call, client_call);
        let check = format!("pptp.control_message_type == 7 && pptp.call_id == {client_call}");
        self.pptp(at, c, true, &rq, &check);
        let rp = pptp::ocrp(server_call, client_call, result, 0, 0);
        let check = format!(
            "pptp.control_message_type == 8 && pptp.peer_call_id == {client_call} && pptp.out_result == {result}"
        );
        self.pptp(at + 5, c, false, &rp, &check);
    }

    fn clear(&mut self, at: u64, c: Control, client_call: u16) {
        let check = format!("pptp.control_message_type == 12 && pptp.call_id == {client_call}");
        self.pptp(at, c, true, &pptp::ccrq(client_call), &check);
    }

    fn disconnect_notify(&mut self, at: u64, c: Control, server_call: u16) {
        let check = format!("pptp.control_message_type == 13 && pptp.call_id == {server_call}");
        self.pptp(at, c, false, &pptp::cdn(server_call, 3, 0, 0), &check);
    }
}

/// A tshark filter for bytes `v` at `off` in a TCP segment's payload.
fn payload_at(off: usize, v: &[u8]) -> String {
    let hex: Vec<String> = v.iter().map(|b| format!("{b:02x}")).collect();
    format!("tcp.payload[{off}:{}] == {}", v.len(), hex.join(":"))
}

/// A tshark filter for a control message that is not the first of its segment. tshark
/// (4.0) decodes only the first PPTP message of a segment, so the later ones are checked in
/// the segment's bytes: at `off` (where the earlier messages' Lengths end), a header of
/// Length `length`, control message type, magic cookie and message `msg_type`, then the
/// 16-bit field that opens the body (`id`: the call id of a Call-Clear-Request or a
/// Call-Disconnect-Notify, the peer's of a Set-Link-Info).
fn undecoded(off: usize, length: u16, msg_type: u16, id: Option<u16>) -> String {
    let mut f = vec![
        payload_at(off, &length.to_be_bytes()),
        payload_at(off + 2, &pptp::MESSAGE_TYPE_CONTROL.to_be_bytes()),
        payload_at(off + 4, &pptp::MAGIC_COOKIE.to_be_bytes()),
        payload_at(off + 8, &msg_type.to_be_bytes()),
    ];
    f.extend(id.map(|id| payload_at(off + 12, &id.to_be_bytes())));
    f.join(" && ")
}

/// Every RAS scenario: each reason, several calls and servers; then the benign look-alikes.
pub fn ras() -> Vec<Scenario> {
    vec![
        ras_kb_disconnect_unacknowledged(),
        ras_capacity_lost(),
        ras_several_calls_several_servers(),
        ras_benign_clear_then_disconnect_notify(),
        ras_benign_rejection_at_peak(),
        ras_clear_then_control_connection_closed(),
        ras_benign_control_connection_ends(),
        ras_benign_call_ids_cross(),
        ras_kb_clear_coalesced_after_set_link_info(),
        ras_benign_disconnect_notify_coalesced_after_wan_error(),
        ras_benign_two_disconnect_notifies_in_one_segment(),
        ras_kb_clear_then_a_message_cut_across_segments(),
    ]
}

fn control(client: u8, sport: u16, server: u8) -> Control {
    Control {
        client,
        sport,
        server,
    }
}

/// The KB: the client hangs up, the server never confirms.
fn ras_kb_disconnect_unacknowledged() -> Scenario {
    let mut lan = Lan::new(70);
    let c = control(CLIENT, 1100, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 100), 1);
    lan.clear(5000, c, 1);
    lan.done("ras_kb_disconnect_unacknowledged", RAS_FAULT)
}

/// Two calls (the server's peak); one is cleared and never confirmed; a third client is
/// turned away busy with one call in use: the leaked port is capacity lost.
fn ras_capacity_lost() -> Scenario {
    let mut lan = Lan::new(71);
    let (c1, c2, c3) = (
        control(CLIENT, 1101, RAS),
        control(OTHER_CLIENT, 1102, RAS),
        control(12, 1103, RAS),
    );
    lan.open(0, c1);
    lan.call(100, c1, (1, 100), 1);
    lan.open(200, c2);
    lan.call(300, c2, (2, 101), 1);
    lan.clear(5000, c1, 1);
    lan.open(20000, c3);
    lan.call(20100, c3, (3, 0), BUSY);
    lan.done("ras_capacity_lost", RAS_FAULT)
}

/// Two calls on one control connection to server 1, one cleared without confirmation;
/// a call on server 2 cleared and confirmed.
fn ras_several_calls_several_servers() -> Scenario {
    let mut lan = Lan::new(72);
    let (c1, c2) = (
        control(CLIENT, 1104, RAS),
        control(OTHER_CLIENT, 1105, RAS2),
    );
    lan.open(0, c1);
    lan.call(100, c1, (1, 100), 1);
    lan.call(200, c1, (2, 101), 1);
    lan.open(300, c2);
    lan.call(400, c2, (7, 300), 1);
    lan.clear(5000, c1, 2);
    lan.clear(5100, c2, 7);
    lan.disconnect_notify(5300, c2, 300);
    lan.done("ras_several_calls_several_servers", RAS_FAULT)
}

fn ras_benign_clear_then_disconnect_notify() -> Scenario {
    let mut lan = Lan::new(73);
    let c = control(CLIENT, 1106, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 100), 1);
    lan.clear(5000, c, 1);
    lan.disconnect_notify(5200, c, 100);
    lan.done("ras_benign_clear_then_disconnect_notify", None)
}

/// Busy while carrying as many calls as it ever did: a full server, not a leak.
fn ras_benign_rejection_at_peak() -> Scenario {
    let mut lan = Lan::new(74);
    let (c1, c2, c3) = (
        control(CLIENT, 1107, RAS),
        control(OTHER_CLIENT, 1108, RAS),
        control(12, 1109, RAS),
    );
    lan.open(0, c1);
    lan.call(100, c1, (1, 100), 1);
    lan.open(200, c2);
    lan.call(300, c2, (2, 101), 1);
    lan.open(400, c3);
    lan.call(500, c3, (3, 0), BUSY);
    lan.done("ras_benign_rejection_at_peak", None)
}

/// Control connections that end with their calls up and no clear: Stop-Control-Connection
/// request and reply, and a server that closes TCP.
fn ras_benign_control_connection_ends() -> Scenario {
    let mut lan = Lan::new(75);
    let (c1, c2) = (control(CLIENT, 1110, RAS), control(OTHER_CLIENT, 1111, RAS));
    lan.open(0, c1);
    lan.call(100, c1, (1, 100), 1);
    lan.pptp(
        5010,
        c1,
        true,
        &pptp::stop_ccrq(1),
        "pptp.control_message_type == 3",
    );
    lan.pptp(
        5020,
        c1,
        false,
        &pptp::stop_ccrp(1, 0),
        "pptp.control_message_type == 4",
    );
    lan.open(6000, c2);
    lan.call(6100, c2, (2, 101), 1);
    let (a, b) = ((c2.client, c2.sport), (c2.server, PPTP_PORT));
    lan.tcp(
        7000,
        b,
        a,
        TCP_FIN | TCP_ACK,
        &[],
        "tcp.flags.fin == 1 && tcp.srcport == 1723",
    );
    lan.done("ras_benign_control_connection_ends", None)
}

/// The client clears its call and tears the control connection down (Stop request and
/// reply, then TCP FIN both ways); the server never sends the disconnect-notify.
/// docs/faults.md asks only for that notify within the timeout: still a leak.
fn ras_clear_then_control_connection_closed() -> Scenario {
    let mut lan = Lan::new(76);
    let c = control(CLIENT, 1112, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 100), 1);
    lan.clear(5000, c, 1);
    lan.pptp(
        5010,
        c,
        true,
        &pptp::stop_ccrq(1),
        "pptp.control_message_type == 3",
    );
    lan.pptp(
        5020,
        c,
        false,
        &pptp::stop_ccrp(1, 0),
        "pptp.control_message_type == 4",
    );
    let (a, b) = ((c.client, c.sport), (c.server, PPTP_PORT));
    lan.tcp(
        5030,
        a,
        b,
        TCP_FIN | TCP_ACK,
        &[],
        "tcp.flags.fin == 1 && tcp.dstport == 1723",
    );
    lan.tcp(
        5031,
        b,
        a,
        TCP_FIN | TCP_ACK,
        &[],
        "tcp.flags.fin == 1 && tcp.srcport == 1723",
    );
    lan.done("ras_clear_then_control_connection_closed", RAS_FAULT)
}

/// Two calls on one control connection whose ids cross: call A is (client 1, server 2),
/// call B (client 2, server 3). The client clears A and the server confirms with id 2,
/// its own id for A, which is also B's client id: A is settled and B stays up.
fn ras_benign_call_ids_cross() -> Scenario {
    let mut lan = Lan::new(77);
    let c = control(CLIENT, 1113, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 2), 1);
    lan.call(200, c, (2, 3), 1);
    lan.clear(5000, c, 1);
    lan.disconnect_notify(5200, c, 2);
    lan.done("ras_benign_call_ids_cross", None)
}

// PPTP control messages coalesced in one TCP segment: faultd hands each to the detector.

/// The KB fault with the client's Call-Clear-Request behind a Set-Link-Info in the same
/// segment: the clear is the segment's second message, and the server never confirms it.
fn ras_kb_clear_coalesced_after_set_link_info() -> Scenario {
    let mut lan = Lan::new(78);
    let c = control(CLIENT, 1114, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 100), 1);
    let segment = pptp::concat(&[&pptp::sli(100), &pptp::ccrq(1)]);
    let check = format!(
        "pptp.control_message_type == 15 && pptp.peer_call_id == 100 && tcp.len == 40 && {}",
        undecoded(24, 16, pptp::CCRQ, Some(1))
    );
    lan.pptp(5000, c, true, &segment, &check);
    lan.done("ras_kb_clear_coalesced_after_set_link_info", RAS_FAULT)
}

/// The server confirms the clear with a Call-Disconnect-Notify that follows a
/// WAN-Error-Notify in one segment: settled, though the notify is the second message.
fn ras_benign_disconnect_notify_coalesced_after_wan_error() -> Scenario {
    let mut lan = Lan::new(79);
    let c = control(CLIENT, 1115, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 100), 1);
    lan.clear(5000, c, 1);
    let segment = pptp::concat(&[&pptp::wen(1), &pptp::cdn(100, pptp::CDN_REQUEST, 0, 0)]);
    let check = format!(
        "pptp.control_message_type == 14 && pptp.peer_call_id == 1 && tcp.len == 188 && {}",
        undecoded(40, 148, pptp::CDN, Some(100))
    );
    lan.pptp(5200, c, false, &segment, &check);
    lan.done(
        "ras_benign_disconnect_notify_coalesced_after_wan_error",
        None,
    )
}

/// Two calls cleared one after the other; the server confirms both in one segment, two
/// Call-Disconnect-Notifies back to back: neither call leaks.
fn ras_benign_two_disconnect_notifies_in_one_segment() -> Scenario {
    let mut lan = Lan::new(80);
    let c = control(CLIENT, 1116, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 100), 1);
    lan.call(200, c, (2, 101), 1);
    lan.clear(5000, c, 1);
    lan.clear(5010, c, 2);
    let segment = pptp::concat(&[
        &pptp::cdn(100, pptp::CDN_REQUEST, 0, 0),
        &pptp::cdn(101, pptp::CDN_REQUEST, 0, 0),
    ]);
    let check = format!(
        "pptp.control_message_type == 13 && pptp.call_id == 100 && tcp.len == 296 && {}",
        undecoded(148, 148, pptp::CDN, Some(101))
    );
    lan.pptp(5200, c, false, &segment, &check);
    lan.done("ras_benign_two_disconnect_notifies_in_one_segment", None)
}

/// The KB fault, the clear followed in its segment by the first 14 bytes of a
/// Set-Link-Info (whole header, Length 24), whose other 10 bytes open the next segment,
/// an Echo-Request after them. faultd does not reassemble TCP: the cut Set-Link-Info is
/// counted (`pptp.control.cut`) and gives no event, and the next segment, which starts
/// inside it, gives nothing, its whole Echo-Request included. The clear before the cut is
/// handed over as usual: the record stands.
fn ras_kb_clear_then_a_message_cut_across_segments() -> Scenario {
    let mut lan = Lan::new(81);
    let c = control(CLIENT, 1117, RAS);
    lan.open(0, c);
    lan.call(100, c, (1, 100), 1);
    let sli = pptp::sli(100);
    let (head, tail) = sli.split_at(14);
    let check = format!(
        "pptp.control_message_type == 12 && pptp.call_id == 1 && tcp.len == 30 && {}",
        undecoded(16, 24, pptp::SLI, None)
    );
    lan.pptp(
        5000,
        c,
        true,
        &pptp::concat(&[&pptp::ccrq(1), head]),
        &check,
    );
    let rest = pptp::concat(&[tail, &pptp::echo_request(7)]);
    let check = format!(
        "pptp && !(pptp.magic_cookie == 0x1a2b3c4d) && tcp.len == 26 && {}",
        undecoded(10, 16, pptp::ECHO_REQUEST, None)
    );
    let (a, b) = ((c.client, c.sport), (c.server, PPTP_PORT));
    lan.tcp(5001, a, b, TCP_ACK | TCP_PSH, &rest, &check);
    lan.done("ras_kb_clear_then_a_message_cut_across_segments", RAS_FAULT)
}
