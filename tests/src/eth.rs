//! Ethernet II / 802.3 framing, 802.1Q and 802.1ad tags, PPPoE sessions with PPP, and ARP.

use crate::ip::{Ipv4, Ipv6};
use crate::{Put, len16};
use std::net::{Ipv4Addr, Ipv6Addr};

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xFF; 6];

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88A8;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
pub const ETHERTYPE_IPX: u16 = 0x8137;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// Frames shorter than this (without FCS) are zero-padded by real NICs, so the classifier must
/// find its lengths in the headers, never in the frame size.
pub const MIN_FRAME_LEN: usize = 60;
/// Largest 802.3 length field; larger values in that position are ethertypes.
pub const MAX_8023_LENGTH: usize = 1500;

pub const PPP_IPV4: u16 = 0x0021;
pub const PPP_IPV6: u16 = 0x0057;
pub const PPP_LCP: u16 = 0xC021;
const PPP_ADDRESS_CONTROL: [u8; 2] = [0xFF, 0x03];
const LCP_ECHO_REQUEST: u8 = 9;

/// Something that can carry a network-layer packet named by its ethertype: an Ethernet frame,
/// a PPPoE session, or nothing at all ([`crate::Bare`], for datagrams quoted by ICMP).
pub trait Carrier: Sized {
    fn carry(self, ethertype: u16, packet: &[u8]) -> Vec<u8>;

    fn ipv4(self, src: Ipv4Addr, dst: Ipv4Addr) -> Ipv4<Self> {
        Ipv4::new(self, src, dst)
    }

    fn ipv6(self, src: Ipv6Addr, dst: Ipv6Addr) -> Ipv6<Self> {
        Ipv6::new(self, src, dst)
    }
}

#[derive(Clone, Debug)]
pub struct Eth {
    src: Mac,
    dst: Mac,
    /// (TPID, TCI), outermost first.
    tags: Vec<(u16, u16)>,
}

impl Eth {
    pub fn new(src: Mac, dst: Mac) -> Self {
        Self {
            src,
            dst,
            tags: Vec::new(),
        }
    }

    /// Adds an 802.1Q C-tag inside any tags already present.
    pub fn vlan(self, vid: u16) -> Self {
        self.tag(ETHERTYPE_VLAN, vid)
    }

    /// Adds an 802.1ad S-tag inside any tags already present (normally call it first).
    pub fn svlan(self, vid: u16) -> Self {
        self.tag(ETHERTYPE_QINQ, vid)
    }

    /// 802.1ad S-tag `outer` carrying 802.1Q C-tag `inner`.
    pub fn qinq(self, outer: u16, inner: u16) -> Self {
        self.svlan(outer).vlan(inner)
    }

    fn tag(mut self, tpid: u16, vid: u16) -> Self {
        assert!(vid < 0x1000, "VLAN id {vid} exceeds 12 bits");
        self.tags.push((tpid, vid));
        self
    }

    pub fn pppoe(self, session_id: u16) -> Pppoe {
        Pppoe {
            eth: self,
            session_id,
        }
    }

    /// ARP request (Ethernet/IPv4) from this frame's source MAC, normally sent to [`BROADCAST`].
    pub fn arp_request(self, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
        let mut arp = Vec::new();
        arp.u16(1) // hardware type Ethernet
            .u16(ETHERTYPE_IPV4)
            .u8(6)
            .u8(4)
            .u16(1) // request
            .bytes(&self.src)
            .bytes(&sender_ip.octets())
            .bytes(&[0; 6])
            .bytes(&target_ip.octets());
        self.carry(ETHERTYPE_ARP, &arp)
    }

    /// An 802.3 frame: the type position holds the length of `body` (LLC, SNAP or raw IPX).
    pub fn ieee8023(self, body: &[u8]) -> Vec<u8> {
        assert!(body.len() <= MAX_8023_LENGTH, "802.3 body too long");
        self.frame(len16(body.len()), body)
    }

    fn frame(self, type_or_len: u16, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(MIN_FRAME_LEN.max(18 + 4 * self.tags.len() + body.len()));
        f.bytes(&self.dst).bytes(&self.src);
        for (tpid, tci) in &self.tags {
            f.u16(*tpid).u16(*tci);
        }
        f.u16(type_or_len).bytes(body);
        if f.len() < MIN_FRAME_LEN {
            f.resize(MIN_FRAME_LEN, 0);
        }
        f
    }
}

impl Carrier for Eth {
    fn carry(self, ethertype: u16, packet: &[u8]) -> Vec<u8> {
        assert!(usize::from(ethertype) > MAX_8023_LENGTH, "not an ethertype");
        self.frame(ethertype, packet)
    }
}

/// A PPPoE session (RFC 2516) on Ethernet; carries IPv4/IPv6 as PPP protocols 0x0021/0x0057.
#[derive(Clone, Debug)]
pub struct Pppoe {
    eth: Eth,
    session_id: u16,
}

const PPPOE_VERSION_TYPE: u8 = 0x11;
const PPPOE_CODE_SESSION: u8 = 0x00;

impl Pppoe {
    /// A PPP frame in this session; `ppp` starts with the PPP protocol field.
    pub fn ppp(self, ppp: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.u8(PPPOE_VERSION_TYPE)
            .u8(PPPOE_CODE_SESSION)
            .u16(self.session_id)
            .u16(len16(ppp.len()))
            .bytes(ppp);
        self.eth.carry(ETHERTYPE_PPPOE_SESSION, &p)
    }
}

impl Carrier for Pppoe {
    fn carry(self, ethertype: u16, packet: &[u8]) -> Vec<u8> {
        let protocol = match ethertype {
            ETHERTYPE_IPV4 => PPP_IPV4,
            ETHERTYPE_IPV6 => PPP_IPV6,
            other => panic!("no PPP protocol for ethertype {other:#06x}"),
        };
        let mut ppp = Vec::new();
        ppp.u16(protocol).bytes(packet);
        self.ppp(&ppp)
    }
}

/// A PPP frame in HDLC-like framing (address 0xFF, control 0x03), as PPTP's GRE and L2TP carry it.
pub fn ppp_hdlc(protocol: u16, info: &[u8]) -> Vec<u8> {
    let mut p = PPP_ADDRESS_CONTROL.to_vec();
    p.u16(protocol).bytes(info);
    p
}

/// LCP Echo-Request: the smallest well-formed PPP control packet, handy as tunnel payload.
pub fn lcp_echo_request(id: u8, magic: u32) -> Vec<u8> {
    let mut lcp = Vec::new();
    lcp.u8(LCP_ECHO_REQUEST).u8(id).u16(8).u32(magic);
    ppp_hdlc(PPP_LCP, &lcp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_frames_are_padded_and_tags_counted() {
        let f = Eth::new([1; 6], [2; 6]).qinq(10, 20).carry(0x9000, &[0xAA]);
        assert_eq!(f.len(), MIN_FRAME_LEN);
        assert_eq!(
            &f[12..22],
            &[0x88, 0xA8, 0, 10, 0x81, 0x00, 0, 20, 0x90, 0x00]
        );
        assert_eq!(f[22], 0xAA);
    }

    #[test]
    fn ieee8023_writes_body_length() {
        let f = Eth::new([1; 6], [2; 6]).ieee8023(&[0xE0, 0xE0, 0x03]);
        assert_eq!(&f[12..17], &[0, 3, 0xE0, 0xE0, 0x03]);
    }
}
