//! `netbios_ip_connect_failure` (Q251166): a client's NBSTAT query to `\\<ip>` goes
//! unanswered (or is refused with ICMP) and no NetBIOS session follows.

use super::{
    BROADCAST_HOST, CLIENT, Lan, OTHER_CLIENT, OTHER_TARGET, Scenario, TARGET,
    netbios::{RETRY_MS, name},
};
use crate::{
    Carrier, Network,
    ip::{Bare, ICMP_PORT_UNREACHABLE, TCP_ACK, TCP_PSH, quote_ipv4},
    netbios::{NbName, nbns, nbss},
};

const NBSTAT_QUERY: &str = "nbns.type == 33 && nbns.flags.response == 0 && nbns.flags.opcode == 0";
const NBSTAT_RESPONSE: &str = "nbns.type == 33 && nbns.flags.response == 1";
const ICMP_QUOTING_NBSTAT: &str =
    "icmp.type == 3 && icmp.code == 3 && nbns.type == 33 && udp.srcport == 137";
const SESSION_SMBSERVER: &str = "nbss.type == 0x81 && nbss.called_name contains \"*SMBSERVER\"";
const SESSION_REQUEST: &str = "nbss.type == 0x81";
const SESSION_POSITIVE: &str = "nbss.type == 0x82";
const SESSION_NEGATIVE: &str = "nbss.type == 0x83 && nbss.error_code == 0x82";

const NBSTAT_FAULT: Option<&str> = Some("netbios_ip_connect_failure");

/// The NBSTAT scenarios: the fault's variants, then its benign look-alikes.
pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
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
