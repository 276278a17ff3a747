//! Fault scenarios: timed frame sequences that put a KB article's fault on the wire, its
//! variants, and the benign look-alikes FAULTS.md lists. Each step names the tshark filter
//! its frame must match, so an independent dissector vouches for every frame, and each
//! scenario says which fault (if any) it should produce. The expected records themselves
//! live with the tests that assert them.
//!
//! Every scenario has its own subnet `10.<net>.0.0/24` (and MAC addresses to match), so any
//! number of them can be played at once, into one capture or onto one wire, without one
//! scenario's traffic touching another's state.

use std::net::Ipv4Addr;

use crate::{
    Carrier, Eth, Mac, Network,
    eth::BROADCAST,
    ip::{Bare, ICMP_PORT_UNREACHABLE, TCP_ACK, TCP_PSH, TCP_SYN, quote_ipv4},
    netbios::{NbName, NbRecord, nbns, nbss},
};

/// Live runs (tests, the demo) play scenarios this many times faster than life...
pub const SPEEDUP: u64 = 10;
/// ...with the detectors' timeouts and windows (FAULTS.md's 5 s, 60 s, 30 s) shortened to
/// match, as `faultd run` flags.
pub const FAST_FLAGS: [&str; 6] = [
    "--nbns-timeout",
    "500ms",
    "--wins-episode",
    "6s",
    "--nbstat-window",
    "3s",
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

/// A scenario's subnet and the timeline being built on it.
struct Lan {
    net: u8,
    vlan: Option<u16>,
    steps: Vec<Step>,
}

impl Lan {
    fn new(net: u8) -> Self {
        Lan {
            net,
            vlan: None,
            steps: Vec::new(),
        }
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
        let frame = self
            .eth(src, dst)
            .ipv4(self.ip(src), self.ip(dst))
            .udp(sport, dport)
            .payload(msg);
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
        let frame = self
            .eth(src, dst)
            .ipv4(self.ip(src), self.ip(dst))
            .tcp(sport, dport)
            .seq(1000 + at_ms as u32)
            .flags(flags)
            .payload(msg);
        self.add(at_ms, frame, check);
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
const SYN_139: &str = "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 139";
const SYN_ACK_139: &str = "tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.srcport == 139";
const SESSION_SMBSERVER: &str = "nbss.type == 0x81 && nbss.called_name contains \"*SMBSERVER\"";
const SESSION_REQUEST: &str = "nbss.type == 0x81";
const SESSION_POSITIVE: &str = "nbss.type == 0x82";
const SESSION_NEGATIVE: &str = "nbss.type == 0x83 && nbss.error_code == 0x82";

fn name(n: &str, suffix: u8) -> NbName {
    NbName::new(n, suffix)
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
        nbstat_kb_sp5(),
        nbstat_icmp_port_unreachable(),
        nbstat_tcp139_open(),
        nbstat_smbserver_refused(),
        nbstat_vlan_tagged(),
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

/// SYN from `client` to `target`:139 and the target's SYN-ACK.
fn handshake(lan: &mut Lan, at: u64, client: u8, target: u8, sport: u16) {
    lan.tcp(at, (client, sport), (target, 139), TCP_SYN, &[], SYN_139);
    lan.tcp(
        at + 1,
        (target, 139),
        (client, sport),
        TCP_SYN | TCP_ACK,
        &[],
        SYN_ACK_139,
    );
}

/// Another host reaches the target's TCP 139 just before: only UDP 137 is filtered.
fn nbstat_tcp139_open() -> Scenario {
    let mut lan = Lan::new(23);
    handshake(&mut lan, 0, OTHER_CLIENT, TARGET, 1050);
    nbstat_unanswered(&mut lan, 1000, CLIENT, TARGET, 0x0001);
    lan.done("nbstat_tcp139_open", NBSTAT_FAULT)
}

/// The client first calls `*SMBSERVER`, which the target refuses (called name not
/// present), then falls back to the NBSTAT query, which goes unanswered.
fn nbstat_smbserver_refused() -> Scenario {
    let mut lan = Lan::new(24);
    handshake(&mut lan, 0, CLIENT, TARGET, 1051);
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
    handshake(lan, at + 10, client, target, 1060);
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
    handshake(&mut lan, 5000, CLIENT, TARGET, 1070);
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
