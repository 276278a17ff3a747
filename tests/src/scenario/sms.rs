//! `sms_port_conflict` (Q229097): another program holds an SMS Helpdesk port (1761-1764),
//! so the remote-control agent cannot.
//!
//! H is the client the agent runs on, the console reaches it.

use super::{CLIENT, Lan, OTHER_CLIENT, Scenario};
use crate::ip::{TCP_ACK, TCP_RST, TCP_SYN};

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
