//! Link types: how each one's records become Ethernet frames.

use fault_common::proto::ether;

use super::*;

/// How the records of a link type become Ethernet frames: the one place that knows link headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    Ethernet,
    Sll,
    Sll2,
    /// No link header: an IP packet whose version says which, or whose link type fixes it.
    RawIp(Option<u16>),
    /// Cisco HDLC: address, control, then an EtherType (with a few values of Cisco's own).
    CiscoHdlc,
    /// BSD loopback (DLT_NULL) and OpenBSD's loop: a 4-byte address family.
    Loopback,
}

/// The links faultd reads; `None` for any other link type.
pub(super) fn link(lt: u32) -> Option<Link> {
    Some(match lt {
        0 | 108 => Link::Loopback,
        1 => Link::Ethernet,
        // 12 and 14 are what several OSes' libpcaps wrote for DLT_RAW before LINKTYPE_RAW (101).
        12 | 14 | 101 => Link::RawIp(None),
        104 => Link::CiscoHdlc,
        113 => Link::Sll,
        228 => Link::RawIp(Some(ether::IPV4)),
        229 => Link::RawIp(Some(ether::IPV6)),
        276 => Link::Sll2,
        _ => return None,
    })
}

/// Names of link types a capture of other traffic is likely to hold, for the messages about
/// them; not a full registry.
pub(super) fn link_type_name(lt: u32) -> Option<&'static str> {
    Some(match lt {
        6 => "Token Ring",
        9 | 50 => "PPP",
        10 => "FDDI",
        105 => "802.11",
        107 => "Frame Relay",
        117 => "pflog",
        119 => "802.11 Prism",
        127 => "802.11 radiotap",
        163 => "802.11 AVS",
        186 | 189 | 220 | 249 | 266 => "USB",
        187 | 201 => "Bluetooth HCI",
        192 => "802.11 PPI",
        195 | 215 | 230 => "802.15.4",
        227 => "SocketCAN",
        239 => "NFLOG",
        251 | 256 => "Bluetooth LE",
        252 => "Wireshark upper PDU",
        253 => "Netlink",
        254 => "Bluetooth monitor",
        _ => return None,
    })
}

/// Displays " (name)" after a link type when it has one.
pub(super) struct Named(pub(super) u32);

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match link_type_name(self.0) {
            Some(name) => write!(f, " ({name})"),
            None => Ok(()),
        }
    }
}

/// Checks a record's lengths and returns its length on the wire. Some writers store an
/// original length below the captured one (tshark reads such records); the bytes captured
/// were on the wire, so the wire length is taken as at least the captured length.
pub(super) fn check_lengths(at: usize, incl: u32, orig: u32) -> Res<u32> {
    if incl > MAX_LEN {
        return Err(bad(at, "included length (over 256 KiB)", incl));
    }
    Ok(orig.max(incl))
}

/// IEEE 802 Local Experimental EtherType 1, which nothing faultd watches uses: a protocol with
/// no EtherType of its own (or not an IP version) gets it, so its frame is counted and not
/// classified.
pub(super) const ETH_P_UNWATCHED: u16 = 0x88b5;

pub(super) const NO_MAC: [u8; 6] = [0; 6];
pub(super) const BROADCAST: [u8; 6] = [0xff; 6];
pub(super) const MULTICAST: [u8; 6] = [1, 0, 0, 0, 0, 0];

/// The Ethernet header a link header stands for.
pub(super) struct EthHeader {
    pub(super) dst: [u8; 6],
    pub(super) src: [u8; 6],
    pub(super) type_or_len: u16,
}

/// The EtherType of an IP packet, from its version.
pub(super) fn ip_version_type(ip: &[u8]) -> u16 {
    match ip.first().map(|b| b >> 4) {
        Some(4) => ether::IPV4,
        Some(6) => ether::IPV6,
        _ => ETH_P_UNWATCHED,
    }
}

/// The destination MAC for a packet of a link without addresses. A datagram to the limited
/// broadcast or a multicast address went to a group MAC address on any LAN, so it gets one,
/// as an Ethernet capture would have it; a subnet's broadcast address cannot be told from a
/// host's, so a datagram to it reads as unicast.
pub(super) fn ip_dst_mac(ip: &[u8], ethertype: u16) -> [u8; 6] {
    match ethertype {
        ether::IPV4 => match ip.get(16..20) {
            Some([255, 255, 255, 255]) => BROADCAST,
            Some([a, ..]) if a >> 4 == 0xe => MULTICAST,
            _ => NO_MAC,
        },
        ether::IPV6 if ip.get(24) == Some(&0xff) => MULTICAST,
        _ => NO_MAC,
    }
}

/// The EtherType for a BSD address family. DLT_NULL stores the family in the byte order of
/// the host that captured, LOOP in network order; a family is a small number, so a value
/// with any of its high 16 bits set is read the other way round (as Wireshark does).
pub(super) fn family_type(value: u32) -> u16 {
    let family = if value >> 16 != 0 {
        value.swap_bytes()
    } else {
        value
    };
    match family {
        2 => ether::IPV4,
        // AF_INET6 differs by OS: 24 NetBSD, OpenBSD, BSD/OS; 28 FreeBSD; 30 Darwin; 10 Linux.
        10 | 24 | 28 | 30 => ether::IPV6,
        23 => ether::IPX, // AF_IPX on the BSDs and Darwin
        _ => ETH_P_UNWATCHED,
    }
}

/// Turns a record's bytes into an Ethernet frame; `orig` is the record's length on the wire
/// (at least its captured length, see `check_lengths`).
pub(super) fn make_frame(
    link: Link,
    data: &[u8],
    orig: u32,
    ts_ns: u64,
    at: usize,
    out: &mut Frame,
) -> Res<()> {
    let offset = at as u64;
    let be = Endian::Big;
    let header = |len, what| take(data, 0, len, what).map_err(|(_, k)| (at, k));
    // Only Linux cooked captures keep a source address.
    let eth = |dst, src, type_or_len| {
        Some(EthHeader {
            dst,
            src,
            type_or_len,
        })
    };
    // The link header's length, and the Ethernet header it stands for; none when what
    // follows it is an Ethernet frame already. Every field of these headers is in network
    // byte order whatever the file's byte order.
    let (hdr, eth_header) = match link {
        Link::Ethernet => (0, None),
        Link::Sll | Link::Sll2 => {
            let v2 = link == Link::Sll2;
            let h = header(if v2 { 20 } else { 16 }, "Linux cooked header")?;
            let (hdr, pkttype, addr_len, addr, proto) = if v2 {
                let (pkttype, addr_len) = (u16::from(h[10]), u16::from(h[11]));
                (20, pkttype, addr_len, &h[12..20], be.u16(h, 0))
            } else {
                (16, be.u16(h, 0), be.u16(h, 4), &h[6..14], be.u16(h, 14))
            };
            let dst = match pkttype {
                1 => BROADCAST,
                2 => MULTICAST,
                _ => NO_MAC,
            };
            let src = if addr_len == 6 {
                addr[..6].try_into().unwrap()
            } else {
                NO_MAC
            };
            // Values up to 1500 are not EtherTypes, so the frame gets an 802.3 length instead.
            // For ETH_P_802_3 (1) and ETH_P_802_2 (4) that is the payload length, capped so it
            // can never read as an EtherType. Linux stores any other small value for outgoing
            // 802.3 frames, where it is the frame's own length field (payload minus Ethernet
            // padding), so it is kept as it is.
            let wire_payload = orig - hdr as u32; // orig >= incl >= hdr
            let type_or_len = match proto {
                1 | 4 => wire_payload.min(u32::from(ether::MAX_8023_LEN)) as u16,
                _ => proto,
            };
            (hdr, eth(dst, src, type_or_len))
        }
        Link::RawIp(fixed) => {
            let ethertype = fixed.unwrap_or_else(|| ip_version_type(data));
            (0, eth(ip_dst_mac(data, ethertype), NO_MAC, ethertype))
        }
        Link::CiscoHdlc => {
            let h = header(4, "Cisco HDLC header")?;
            match be.u16(h, 2) {
                ether::TEB => (4, None),
                proto => {
                    // 0x8F (rather than 0x0F) marks a broadcast or multicast; only the group
                    // bit of the MAC address matters to the classifier.
                    let dst = if h[0] & 0x80 != 0 { BROADCAST } else { NO_MAC };
                    // Cisco's own values above 1500 (SLARP 0x8035, CDP 0x2000, ...) are not
                    // EtherTypes faultd watches; those up to 1500 would read as 802.3 lengths.
                    let type_or_len = if proto > ether::MAX_8023_LEN {
                        proto
                    } else {
                        ETH_P_UNWATCHED
                    };
                    (4, eth(dst, NO_MAC, type_or_len))
                }
            }
        }
        Link::Loopback => {
            let ethertype = family_type(be.u32(header(4, "loopback header")?, 0));
            (4, eth(ip_dst_mac(&data[4..], ethertype), NO_MAC, ethertype))
        }
    };
    let payload = &data[hdr..];
    let wire_payload = orig - hdr as u32; // orig >= incl >= hdr, checked above
    // The frame's buffer is reused: a replay allocates nothing per frame.
    (out.ts_ns, out.offset) = (ts_ns, offset);
    out.data.clear();
    let Some(eth) = eth_header else {
        out.data.extend_from_slice(payload);
        out.wire_len = wire_payload;
        return Ok(());
    };
    out.data.extend_from_slice(&eth.dst);
    out.data.extend_from_slice(&eth.src);
    out.data.extend_from_slice(&eth.type_or_len.to_be_bytes());
    out.data.extend_from_slice(payload);
    // An original length field is not checked against anything, so it may be any value.
    out.wire_len = wire_payload.saturating_add(14);
    Ok(())
}
