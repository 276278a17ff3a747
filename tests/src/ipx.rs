//! IPX in its four Ethernet framings, plus SAP and RIP.

use crate::eth::{ETHERTYPE_IPX, Eth, Mac};
use crate::{Carrier, Put, len16};
use std::fmt;

pub const IPX_HEADER_LEN: usize = 30;
/// Every observed IPX packet carries "no checksum".
pub const IPX_NO_CHECKSUM: u16 = 0xFFFF;

pub const SOCKET_NCP: u16 = 0x0451;
pub const SOCKET_SAP: u16 = 0x0452;
pub const SOCKET_RIP: u16 = 0x0453;
pub const SOCKET_NETBIOS: u16 = 0x0455;

pub const PACKET_TYPE_UNKNOWN: u8 = 0;
pub const PACKET_TYPE_RIP: u8 = 1;
pub const PACKET_TYPE_PEP: u8 = 4;
pub const PACKET_TYPE_NCP: u8 = 0x11;
pub const PACKET_TYPE_NETBIOS: u8 = 0x14;

const LLC_IPX: [u8; 3] = [0xE0, 0xE0, 0x03];
const SNAP_IPX: [u8; 8] = [0xAA, 0xAA, 0x03, 0x00, 0x00, 0x00, 0x81, 0x37];

pub const SAP_GENERAL_QUERY: u16 = 1;
pub const SAP_GENERAL_RESPONSE: u16 = 2;
pub const SAP_NEAREST_QUERY: u16 = 3;
pub const SAP_NEAREST_RESPONSE: u16 = 4;
pub const SAP_FILE_SERVER: u16 = 0x0004;
pub const SAP_ANY_SERVER: u16 = 0xFFFF;
pub const SAP_MAX_ENTRIES: usize = 7;
const SAP_NAME_LEN: usize = 48;

pub const RIP_REQUEST: u16 = 1;
pub const RIP_RESPONSE: u16 = 2;
pub const RIP_ALL_NETWORKS: u32 = 0xFFFF_FFFF;

/// A full IPX address; displays as faultd's records print it: `NNNNNNNN:HHHHHHHHHHHH:SSSS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpxAddr {
    pub net: u32,
    pub node: Mac,
    pub socket: u16,
}

impl IpxAddr {
    pub const fn new(net: u32, node: Mac, socket: u16) -> Self {
        Self { net, node, socket }
    }

    pub const fn with_socket(self, socket: u16) -> Self {
        Self { socket, ..self }
    }

    fn put(&self, out: &mut Vec<u8>) {
        out.u32(self.net).bytes(&self.node).u16(self.socket);
    }
}

impl fmt::Display for IpxAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}:", self.net)?;
        for b in self.node {
            write!(f, "{b:02x}")?;
        }
        write!(f, ":{:04x}", self.socket)
    }
}

/// The four ways NetWare puts IPX on Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// Ethertype 0x8137.
    EthernetII,
    /// Novell "raw" 802.3: length field, then the IPX header's FF FF checksum.
    Raw8023,
    /// 802.2 LLC, DSAP/SSAP 0xE0, UI.
    Llc,
    /// 802.2 SNAP, OUI 0, type 0x8137.
    Snap,
}

impl Encap {
    pub const ALL: [Encap; 4] = [Encap::EthernetII, Encap::Raw8023, Encap::Llc, Encap::Snap];
}

#[derive(Clone, Debug)]
pub struct Ipx {
    eth: Eth,
    encap: Encap,
    src: IpxAddr,
    dst: IpxAddr,
    transport_control: u8,
    packet_type: u8,
}

impl Eth {
    /// An IPX packet on this link; the packet type defaults to what the well-known socket uses.
    pub fn ipx(self, encap: Encap, src: IpxAddr, dst: IpxAddr) -> Ipx {
        let packet_type = [dst.socket, src.socket]
            .iter()
            .find_map(|s| match *s {
                SOCKET_NCP => Some(PACKET_TYPE_NCP),
                SOCKET_SAP => Some(PACKET_TYPE_PEP),
                SOCKET_RIP => Some(PACKET_TYPE_RIP),
                SOCKET_NETBIOS => Some(PACKET_TYPE_NETBIOS),
                _ => None,
            })
            .unwrap_or(PACKET_TYPE_UNKNOWN);
        Ipx {
            eth: self,
            encap,
            src,
            dst,
            transport_control: 0,
            packet_type,
        }
    }
}

impl Ipx {
    pub fn packet_type(mut self, packet_type: u8) -> Self {
        self.packet_type = packet_type;
        self
    }

    /// Transport control: the number of routers passed.
    pub fn hops(mut self, hops: u8) -> Self {
        self.transport_control = hops;
        self
    }

    pub fn payload(self, data: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(IPX_HEADER_LEN + data.len());
        p.u16(IPX_NO_CHECKSUM)
            .u16(len16(IPX_HEADER_LEN + data.len()))
            .u8(self.transport_control)
            .u8(self.packet_type);
        self.dst.put(&mut p);
        self.src.put(&mut p);
        p.bytes(data);
        match self.encap {
            Encap::EthernetII => self.eth.carry(ETHERTYPE_IPX, &p),
            Encap::Raw8023 => self.eth.ieee8023(&p),
            Encap::Llc => self.eth.ieee8023(&[&LLC_IPX[..], &p].concat()),
            Encap::Snap => self.eth.ieee8023(&[&SNAP_IPX[..], &p].concat()),
        }
    }
}

/// SAP general (type 1) or nearest (type 3) query for `server_type`.
pub fn sap_query(nearest: bool, server_type: u16) -> Vec<u8> {
    let op = if nearest {
        SAP_NEAREST_QUERY
    } else {
        SAP_GENERAL_QUERY
    };
    let mut s = Vec::new();
    s.u16(op).u16(server_type);
    s
}

#[derive(Clone, Debug)]
pub struct SapEntry<'a> {
    pub server_type: u16,
    pub name: &'a str,
    pub addr: IpxAddr,
    /// Intermediate networks; 16 means unreachable.
    pub hops: u16,
}

/// SAP general (type 2) or nearest (type 4) response with 1..=7 64-byte entries.
pub fn sap_response(nearest: bool, entries: &[SapEntry]) -> Vec<u8> {
    assert!((1..=SAP_MAX_ENTRIES).contains(&entries.len()));
    let op = if nearest {
        SAP_NEAREST_RESPONSE
    } else {
        SAP_GENERAL_RESPONSE
    };
    let mut s = Vec::new();
    s.u16(op);
    for e in entries {
        s.u16(e.server_type).padded(e.name, SAP_NAME_LEN);
        e.addr.put(&mut s);
        s.u16(e.hops);
    }
    s
}

/// RIP request for the given networks ([`RIP_ALL_NETWORKS`] asks for the whole table).
pub fn rip_request(networks: &[u32]) -> Vec<u8> {
    let entries: Vec<_> = networks.iter().map(|n| (*n, 0xFFFF, 0xFFFF)).collect();
    rip(RIP_REQUEST, &entries)
}

/// RIP response with (network, hops, ticks) entries.
pub fn rip_response(routes: &[(u32, u16, u16)]) -> Vec<u8> {
    rip(RIP_RESPONSE, routes)
}

fn rip(op: u16, entries: &[(u32, u16, u16)]) -> Vec<u8> {
    let mut r = Vec::new();
    r.u16(op);
    for (net, hops, ticks) in entries {
        r.u32(*net).u16(*hops).u16(*ticks);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpxAddr = IpxAddr::new(0x0001_0123, [0, 0, 0, 0, 0, 1], 0x4007);

    #[test]
    fn address_text_form() {
        assert_eq!(A.to_string(), "00010123:000000000001:4007");
    }

    #[test]
    fn framings_and_lengths() {
        let b = A.with_socket(SOCKET_SAP);
        let frame = |e| {
            Eth::new([1; 6], [2; 6])
                .ipx(e, A, b)
                .payload(&sap_query(true, 4))
        };
        let ii = frame(Encap::EthernetII);
        assert_eq!(&ii[12..18], &[0x81, 0x37, 0xFF, 0xFF, 0, 34]);
        assert_eq!(ii[19], PACKET_TYPE_PEP);
        assert_eq!(ii.len(), 60);
        assert_eq!(&frame(Encap::Raw8023)[12..16], &[0, 34, 0xFF, 0xFF]);
        assert_eq!(
            &frame(Encap::Llc)[12..19],
            &[0, 37, 0xE0, 0xE0, 3, 0xFF, 0xFF]
        );
        assert_eq!(
            &frame(Encap::Snap)[12..24],
            &[0, 42, 0xAA, 0xAA, 3, 0, 0, 0, 0x81, 0x37, 0xFF, 0xFF]
        );
    }

    #[test]
    fn sap_entry_is_64_bytes() {
        let e = SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "FS1",
            addr: A,
            hops: 1,
        };
        let r = sap_response(false, &[e.clone(), e]);
        assert_eq!(r.len(), 2 + 2 * 64);
        assert_eq!(&r[2..7], &[0, 4, b'F', b'S', b'1']);
        assert_eq!(&r[52..56], &A.net.to_be_bytes());
    }
}
