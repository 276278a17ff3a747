//! Link layer: Ethernet II, up to two 802.1Q/802.1ad tags, 802.3 with raw IPX, 802.2 LLC
//! and SNAP, and PPPoE sessions (L2TP is seen inside PPPoE on broadband links).

use super::{Ctx, Packet, Parsed, Sink, ip, ipx};
use crate::event::{IpxEncap, LINK_GROUP_DST};

const ETH_HLEN: usize = 14;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_IPX: u16 = 0x8137;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
const ETH_P_QINQ_OLD: u16 = 0x9100;
const ETH_P_PPPOE_SESSION: u16 = 0x8864;
/// Type/length values up to this are 802.3 lengths (IEEE 802.3 §3.2.6).
const MAX_8023_LEN: u16 = 1500;
const MAX_VLAN_TAGS: usize = 2;

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

pub(super) fn parse<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>) -> Parsed {
    let mut ethertype = cx.rd.be16(12)?;
    cx.ev.hdr.link = cx.rd.u8(0)? & LINK_GROUP_DST;
    let mut off = ETH_HLEN;
    for _ in 0..MAX_VLAN_TAGS {
        if !matches!(ethertype, ETH_P_8021Q | ETH_P_8021AD | ETH_P_QINQ_OLD) {
            break;
        }
        cx.ev.hdr.vlan_id = cx.rd.be16(off)? & 0x0fff;
        cx.ev.hdr.vlans += 1;
        ethertype = cx.rd.be16(off + 2)?;
        off += 4;
    }

    if ethertype <= MAX_8023_LEN {
        return ieee8023(cx, off, ethertype as usize);
    }
    match ethertype {
        ETH_P_IPV4 => ip::network(cx, off, false),
        ETH_P_IPV6 => ip::network(cx, off, true),
        ETH_P_IPX => ipx::parse(cx, off, IpxEncap::EthernetII),
        ETH_P_PPPOE_SESSION => pppoe(cx, off),
        _ => Ok(()),
    }
}

/// 802.3 frame: the two bytes after the length tell raw IPX (`FF FF`, the IPX checksum),
/// 802.2 LLC with the NetWare SAP (`E0 E0 03`) and SNAP carrying type 0x8137.
fn ieee8023<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, len: usize) -> Parsed {
    cx.end_of(off + len, cx.rd.len());
    let Ok(llc) = cx.rd.bytes::<3>(off) else {
        // Too short to say what it carries: not ours, not malformed.
        return Ok(());
    };
    match llc {
        [0xFF, 0xFF, _] => ipx::parse(cx, off, IpxEncap::Raw8023),
        [0xE0, 0xE0, 0x03] => ipx::parse(cx, off + 3, IpxEncap::Llc),
        [0xAA, 0xAA, 0x03] => {
            let Ok(snap) = cx.rd.bytes::<5>(off + 3) else {
                return Ok(());
            };
            if snap == [0, 0, 0, 0x81, 0x37] {
                ipx::parse(cx, off + 8, IpxEncap::Snap)
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// PPPoE session stage (RFC 2516): 6-byte header, then the PPP protocol field.
fn pppoe<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize) -> Parsed {
    let vt = cx.rd.u8(off)?;
    if vt != 0x11 {
        return Ok(());
    }
    match cx.rd.be16(off + 6)? {
        PPP_IPV4 => ip::network(cx, off + 8, false),
        PPP_IPV6 => ip::network(cx, off + 8, true),
        _ => Ok(()),
    }
}
