//! Ethernet frames as other links carry them, for captures of those link types: the builder
//! makes Ethernet frames, and [`Link::record`] turns one into what a capture of the link
//! stores (the Ethernet header and any VLAN tags gone, the link's own header in front).

use crate::eth::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_IPX, ETHERTYPE_QINQ, ETHERTYPE_VLAN};

const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const AF_INET: u32 = 2;
/// AF_IPX on the BSDs and Darwin.
const AF_IPX: u32 = 23;
/// AF_INET6 on NetBSD and OpenBSD (FreeBSD has 28, Darwin 30).
pub const AF_INET6_BSD: u32 = 24;
pub const AF_INET6_FREEBSD: u32 = 28;
pub const AF_INET6_DARWIN: u32 = 30;

/// A link type faultd reads besides Ethernet and Linux cooked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// No link header: LINKTYPE_RAW (101), or the DLT_RAW values 12 and 14 that some
    /// libpcaps wrote.
    RawIp(u32),
    /// LINKTYPE_IPV4 (228): raw IPv4 only.
    Ipv4,
    /// LINKTYPE_IPV6 (229): raw IPv6 only.
    Ipv6,
    /// Cisco HDLC (104): address 0x0F (unicast) or 0x8F (broadcast or multicast), control 0,
    /// then the EtherType.
    CiscoHdlc,
    /// BSD loopback, DLT_NULL (0): the address family in the capturing host's byte order.
    Null {
        little_endian: bool,
        /// That host's AF_INET6.
        inet6: u32,
    },
    /// OpenBSD's loop (108): the address family in network byte order.
    Loop,
}

impl Link {
    pub fn link_type(self) -> u32 {
        match self {
            Link::RawIp(lt) => lt,
            Link::Ipv4 => 228,
            Link::Ipv6 => 229,
            Link::CiscoHdlc => 104,
            Link::Null { .. } => 0,
            Link::Loop => 108,
        }
    }

    /// Whether a frame to a broadcast or multicast MAC address says so on this link.
    pub fn has_addresses(self) -> bool {
        self == Link::CiscoHdlc
    }

    /// A tshark display filter matching every frame of a capture of this link that tshark
    /// read through the link's own header.
    pub fn tshark_filter(self) -> &'static str {
        match self {
            Link::RawIp(_) => "raw",
            // Wireshark hands these straight to IPv4/IPv6, with no link layer of their own.
            Link::Ipv4 => "frame.protocols matches \"^ip\"",
            Link::Ipv6 => "frame.protocols matches \"^ipv6\"",
            Link::CiscoHdlc => "chdlc",
            Link::Null { .. } | Link::Loop => "null",
        }
    }

    /// What a capture of this link stores for the Ethernet frame `frame`, or `None` when the
    /// link cannot carry it (IPX on raw IP, 802.3 frames, PPPoE, ...).
    pub fn record(self, frame: &[u8]) -> Option<Vec<u8>> {
        let be16 = |at: usize| {
            frame
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        };
        let group = frame.first()? & 1 != 0;
        let mut at = 12;
        let mut ethertype = be16(at)?;
        while matches!(
            ethertype,
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
        ) {
            at += 4;
            ethertype = be16(at)?;
        }
        let packet = without_padding(ethertype, &frame[at + 2..])?;
        // `without_padding` let only IPv4, IPv6 and IPX through.
        let family = |inet6| match ethertype {
            ETHERTYPE_IPV4 => AF_INET,
            ETHERTYPE_IPV6 => inet6,
            _ => AF_IPX,
        };
        let header: Vec<u8> = match self {
            Link::RawIp(_) if ethertype == ETHERTYPE_IPX => return None,
            Link::RawIp(_) => Vec::new(),
            Link::Ipv4 if ethertype == ETHERTYPE_IPV4 => Vec::new(),
            Link::Ipv6 if ethertype == ETHERTYPE_IPV6 => Vec::new(),
            Link::Ipv4 | Link::Ipv6 => return None,
            Link::CiscoHdlc => {
                let address = if group { 0x8f } else { 0x0f };
                [&[address, 0][..], &ethertype.to_be_bytes()].concat()
            }
            Link::Null {
                little_endian,
                inet6,
            } => {
                let af = family(inet6);
                if little_endian {
                    af.to_le_bytes().to_vec()
                } else {
                    af.to_be_bytes().to_vec()
                }
            }
            Link::Loop => family(AF_INET6_BSD).to_be_bytes().to_vec(),
        };
        Some([&header[..], packet].concat())
    }
}

/// The packet an Ethernet frame of `ethertype` carries, without the padding that brought the
/// frame up to the Ethernet minimum (which no other link adds); `None` for what the links
/// here do not carry.
fn without_padding(ethertype: u16, payload: &[u8]) -> Option<&[u8]> {
    let be16 = |at: usize| {
        payload
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let len = match ethertype {
        ETHERTYPE_IPV4 => be16(2)?,
        ETHERTYPE_IPV6 => 40 + be16(4)?,
        ETHERTYPE_IPX => be16(2)?,
        _ => return None,
    };
    payload.get(..len.min(payload.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Carrier, Eth, Network};
    use std::net::Ipv4Addr;

    #[test]
    fn records_of_a_padded_tagged_frame() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 255));
        let frame = Eth::new([2; 6], [0xff; 6])
            .vlan(7)
            .ipv4(a, b)
            .udp(137, 137)
            .payload(&[1, 2]);
        let ip = &frame[18..18 + 30];
        assert!(frame.len() >= 60, "the builder pads");
        assert_eq!(Link::RawIp(101).record(&frame).unwrap(), ip);
        assert_eq!(Link::Ipv6.record(&frame), None);
        let chdlc = [&[0x8f, 0, 8, 0][..], ip].concat();
        assert_eq!(Link::CiscoHdlc.record(&frame).unwrap(), chdlc);
        let null = Link::Null {
            little_endian: true,
            inet6: AF_INET6_DARWIN,
        };
        assert_eq!(
            null.record(&frame).unwrap(),
            [&[2, 0, 0, 0][..], ip].concat()
        );
        assert_eq!(
            Link::Loop.record(&frame).unwrap(),
            [&[0, 0, 0, 2][..], ip].concat()
        );
    }
}
