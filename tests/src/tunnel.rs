//! Tunnels and port mirrors: any Ethernet frame the builder makes, carried the way a
//! monitoring host or a site-to-site link receives it. IP-in-IP and GRE (RFC 2784, with
//! RFC 2890's key and sequence number) carry the frame's IP datagram; GRE transparent
//! Ethernet bridging, ERSPAN types I, II and III, and VXLAN (RFC 7348) carry the whole frame.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::eth::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN};
use crate::ip::{PROTO_GRE, checksum};
use crate::{Carrier, Eth, Mac, Network, Put};

pub const PROTO_IPIP: u8 = 4;
pub const PROTO_IPV6: u8 = 41;
pub const GRE_TEB: u16 = 0x6558;
pub const GRE_ERSPAN: u16 = 0x88BE;
pub const GRE_ERSPAN3: u16 = 0x22EB;
pub const VXLAN_PORT: u16 = 4789;

const GRE_C: u16 = 0x8000;
const GRE_K: u16 = 0x2000;
const GRE_S: u16 = 0x1000;

/// The tunnel's own endpoints, far from any scenario's addresses.
pub const OUTER_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const OUTER_B: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
pub const OUTER_A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xDB8, 0xFFFF, 0, 0, 0, 0, 1);
pub const OUTER_B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xDB8, 0xFFFF, 0, 0, 0, 0, 2);
const ROUTER_A: Mac = [0x02, 0x00, 0x5E, 0x00, 0x00, 0x01];
const ROUTER_B: Mac = [0x02, 0x00, 0x5E, 0x00, 0x00, 0x02];

/// How a frame reaches the monitoring host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tunnel {
    /// The frame's IP datagram straight in an outer IP header (4in4, 6in4, 4in6, 6in6).
    IpInIp { outer_v6: bool },
    /// The frame's IP datagram in GRE, with any of GRE's optional fields.
    GreIp {
        outer_v6: bool,
        checksum: bool,
        key: Option<u32>,
        seq: Option<u32>,
    },
    /// The whole frame in GRE, transparent Ethernet bridging (0x6558).
    GreEthernet { outer_v6: bool },
    /// ERSPAN type I: the frame right after a GRE header without sequence number.
    Erspan1,
    /// ERSPAN type II (session 1023 at most).
    Erspan2 { session: u16 },
    /// ERSPAN type III, with or without its 8-byte platform-specific subheader.
    Erspan3 { subheader: bool },
    /// VXLAN on UDP 4789.
    Vxlan { outer_v6: bool, vni: u32 },
}

impl Tunnel {
    /// One of each kind, with the optional fields exercised.
    pub const ALL: [Tunnel; 12] = [
        Tunnel::IpInIp { outer_v6: false },
        Tunnel::IpInIp { outer_v6: true },
        Tunnel::GreIp {
            outer_v6: false,
            checksum: false,
            key: None,
            seq: None,
        },
        Tunnel::GreIp {
            outer_v6: true,
            checksum: true,
            key: Some(0x0102_0304),
            seq: Some(7),
        },
        Tunnel::GreEthernet { outer_v6: false },
        Tunnel::GreEthernet { outer_v6: true },
        Tunnel::Erspan1,
        Tunnel::Erspan2 { session: 100 },
        Tunnel::Erspan3 { subheader: false },
        Tunnel::Erspan3 { subheader: true },
        Tunnel::Vxlan {
            outer_v6: false,
            vni: 42,
        },
        Tunnel::Vxlan {
            outer_v6: true,
            vni: 0xABCDE,
        },
    ];

    /// Whether the tunnel carries IP datagrams only (other frames pass unchanged).
    pub fn carries_ip_only(self) -> bool {
        matches!(self, Tunnel::IpInIp { .. } | Tunnel::GreIp { .. })
    }

    /// A tshark filter every frame this tunnel carried matches.
    pub fn filter(self) -> &'static str {
        match self {
            Tunnel::IpInIp { .. } => {
                "ip.proto == 4 || ip.proto == 41 || ipv6.nxt == 4 || ipv6.nxt == 41"
            }
            Tunnel::GreIp { .. } => "gre.proto == 0x0800 || gre.proto == 0x86dd",
            Tunnel::GreEthernet { .. } => "gre.proto == 0x6558",
            Tunnel::Erspan1 => "gre.proto == 0x88be && !erspan.version",
            Tunnel::Erspan2 { .. } => "erspan.version == 1",
            Tunnel::Erspan3 { .. } => "erspan.version == 2",
            Tunnel::Vxlan { .. } => "vxlan",
        }
    }
}

/// `frame` (Ethernet, as every builder makes) carried through `tunnel`. An IP tunnel keeps
/// the frame's addresses and VLAN tags on the outer Ethernet header, as a router's two
/// interfaces would not, so that what the frame's events carry is unchanged; frames that
/// are not IP pass unchanged.
pub fn wrap(tunnel: Tunnel, frame: &[u8]) -> Vec<u8> {
    match tunnel {
        Tunnel::IpInIp { outer_v6 } => ip_tunnel(frame, |eth, v6, datagram| {
            let proto = if v6 { PROTO_IPV6 } else { PROTO_IPIP };
            outer(eth, outer_v6, proto, datagram)
        }),
        Tunnel::GreIp {
            outer_v6,
            checksum,
            key,
            seq,
        } => ip_tunnel(frame, |eth, v6, datagram| {
            let proto = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
            let gre = gre(proto, checksum, key, seq, datagram);
            outer(eth, outer_v6, PROTO_GRE, &gre)
        }),
        Tunnel::GreEthernet { outer_v6 } => {
            let gre = gre(GRE_TEB, false, None, None, frame);
            outer(router(), outer_v6, PROTO_GRE, &gre)
        }
        Tunnel::Erspan1 => {
            let gre = gre(GRE_ERSPAN, false, None, None, frame);
            outer(router(), false, PROTO_GRE, &gre)
        }
        Tunnel::Erspan2 { session } => {
            let mut e = Vec::new();
            // Version 1, VLAN 0; COS 0, encapsulation 0 (untagged as sent), session; index.
            e.u16(1 << 12).u16(session & 0x3FF).u32(0x0000_0001);
            e.bytes(frame);
            let gre = gre(GRE_ERSPAN, false, None, Some(1), &e);
            outer(router(), false, PROTO_GRE, &gre)
        }
        Tunnel::Erspan3 { subheader } => {
            let mut e = Vec::new();
            // Version 2, VLAN 0; session 7; a timestamp; SGT 0; frame type 0 (Ethernet),
            // hardware id 1, granularity 3 (IEEE 1588), the O bit.
            e.u16(2 << 12).u16(7).u32(0x1234_5678).u16(0);
            e.u16((1 << 4) | (3 << 1) | u16::from(subheader));
            if subheader {
                // Platform 3: port id and a timestamp's upper seconds (Wireshark decodes it).
                e.u32((3 << 26) | 1).u32(0);
            }
            e.bytes(frame);
            let gre = gre(GRE_ERSPAN3, false, None, Some(2), &e);
            outer(router(), false, PROTO_GRE, &gre)
        }
        Tunnel::Vxlan { outer_v6, vni } => {
            assert!(vni < 1 << 24, "VNI {vni} exceeds 24 bits");
            let mut v = Vec::new();
            v.u32(0x0800_0000).u32(vni << 8).bytes(frame);
            if outer_v6 {
                router()
                    .ipv6(OUTER_A6, OUTER_B6)
                    .udp(49321, VXLAN_PORT)
                    .payload(&v)
            } else {
                router()
                    .ipv4(OUTER_A, OUTER_B)
                    .udp(49321, VXLAN_PORT)
                    .payload(&v)
            }
        }
    }
}

/// A GRE packet (version 0) of `payload`, typed `proto`.
pub fn gre(
    proto: u16,
    with_checksum: bool,
    key: Option<u32>,
    seq: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let mut flags = 0;
    if with_checksum {
        flags |= GRE_C;
    }
    if key.is_some() {
        flags |= GRE_K;
    }
    if seq.is_some() {
        flags |= GRE_S;
    }
    let mut g = Vec::new();
    g.u16(flags).u16(proto);
    if with_checksum {
        g.u32(0);
    }
    if let Some(k) = key {
        g.u32(k);
    }
    if let Some(s) = seq {
        g.u32(s);
    }
    g.bytes(payload);
    if with_checksum {
        // Over the GRE header and payload, checksum field zero (RFC 2784 §2.5).
        let sum = checksum(&g);
        g[4..6].copy_from_slice(&sum.to_be_bytes());
    }
    g
}

fn router() -> Eth {
    Eth::new(ROUTER_A, ROUTER_B)
}

fn outer(eth: Eth, v6: bool, proto: u8, payload: &[u8]) -> Vec<u8> {
    if v6 {
        eth.ipv6(OUTER_A6, OUTER_B6).raw(proto, payload)
    } else {
        eth.ipv4(OUTER_A, OUTER_B).raw(proto, payload)
    }
}

/// Splits an Ethernet frame into its header (addresses and tags, as a builder) and its IP
/// datagram (without the Ethernet padding); frames that are not IP are returned as they are.
fn ip_tunnel(frame: &[u8], carry: impl FnOnce(Eth, bool, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let mac = |at: usize| -> Mac { frame[at..at + 6].try_into().unwrap() };
    let mut eth = Eth::new(mac(6), mac(0));
    let mut off = 12;
    let be16 = |at: usize| u16::from_be_bytes([frame[at], frame[at + 1]]);
    loop {
        match be16(off) {
            ETHERTYPE_VLAN => eth = eth.vlan(be16(off + 2) & 0x0FFF),
            ETHERTYPE_QINQ => eth = eth.svlan(be16(off + 2) & 0x0FFF),
            _ => break,
        }
        off += 4;
    }
    let ip = &frame[off + 2..];
    let (v6, len) = match be16(off) {
        ETHERTYPE_IPV4 => (false, usize::from(u16::from_be_bytes([ip[2], ip[3]]))),
        ETHERTYPE_IPV6 => (true, 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]))),
        _ => return frame.to_vec(),
    };
    carry(eth, v6, &ip[..len.min(ip.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_fields_in_order_with_the_checksum_over_everything() {
        let g = gre(ETHERTYPE_IPV4, true, Some(0xAABB_CCDD), Some(9), &[1, 2, 3]);
        assert_eq!(&g[..4], &[0xB0, 0x00, 0x08, 0x00]);
        assert_eq!(&g[8..16], &[0xAA, 0xBB, 0xCC, 0xDD, 0, 0, 0, 9]);
        assert_eq!(checksum(&g), 0, "a valid checksum sums to zero");
    }

    #[test]
    fn ip_tunnels_keep_the_frame_header_and_drop_its_padding() {
        let frame = Eth::new([2; 6], [0xFF; 6])
            .vlan(5)
            .ipv4(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
            .udp(137, 137)
            .payload(&[]);
        assert_eq!(frame.len(), 60, "padded to the Ethernet minimum");
        let w = wrap(Tunnel::IpInIp { outer_v6: false }, &frame);
        assert_eq!(&w[..16], &frame[..16], "addresses and tag");
        assert_eq!(w.len(), 18 + 20 + 28);
        assert_eq!(&w[18 + 20..], &frame[18..18 + 28]);
    }
}
