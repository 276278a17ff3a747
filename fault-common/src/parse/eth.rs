//! Link layer: Ethernet II, up to two 802.1Q/802.1ad tags, 802.3 with raw IPX, 802.2 LLC
//! and SNAP, and PPPoE sessions (L2TP is seen inside PPPoE on broadband links).
//!
//! Phase 1 only (see [`super::triage`]): the link layer is walked once (twice for a frame
//! carried in a tunnel), and what phase 2 needs of it (tags, the group-address bit, the
//! IPX framing) goes in the [`Triage`].

use super::{Malformed, Packet, Triage, Walk, ip};
use crate::{
    event::{Family, IpxEncap, LINK_GROUP_DST},
    proto::ether,
};

const ETH_HLEN: usize = 14;
const MAX_VLAN_TAGS: usize = 2;

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// True when the frame may be watched; `w.t` then says where phase 2 starts.
#[inline(always)]
pub(super) fn walk<P: Packet + ?Sized>(w: &mut Walk<P>) -> Result<bool, Malformed> {
    match link(w, 0)? {
        Link::Ip(off, v6) => ip::network(w, off, v6),
        Link::Done(watched) => Ok(watched),
    }
}

pub(super) enum Link {
    /// An IP header at this offset (IPv6 when true).
    Ip(usize, bool),
    /// Nothing more to walk: whether the frame is watched.
    Done(bool),
}

/// The Ethernet frame at `eth`: at 0, or inside a tunnel (see [`super::tunnel`]). Its tags
/// and group bit are the ones events carry: for a mirrored or bridged frame, the inner
/// frame's, which are the original traffic's.
#[inline(always)]
pub(super) fn link<P: Packet + ?Sized>(w: &mut Walk<P>, eth: usize) -> Result<Link, Malformed> {
    let mut ethertype = w.rd.be16(eth + 12)?;
    w.t.link = w.rd.u8(eth)? & LINK_GROUP_DST;
    w.t.vlans = 0;
    w.t.vlan_id = 0;
    let mut off = eth + ETH_HLEN;
    for _ in 0..MAX_VLAN_TAGS {
        if !matches!(
            ethertype,
            ether::VLAN_8021Q | ether::VLAN_8021AD | ether::VLAN_QINQ_OLD
        ) {
            break;
        }
        w.t.vlan_id = w.rd.be16(off)? & 0x0fff;
        w.t.vlans += 1;
        ethertype = w.rd.be16(off + 2)?;
        off += 4;
    }

    if ethertype <= ether::MAX_8023_LEN {
        return Ok(Link::Done(ieee8023(w, off, ethertype as usize)));
    }
    Ok(match ethertype {
        ether::IPV4 => Link::Ip(off, false),
        ether::IPV6 => Link::Ip(off, true),
        ether::IPX => {
            // Nothing but the IPX header says where the frame ends (802.3 has its length
            // above): noted here too, so a frame running on into XDP fragments is known
            // before phase 2 (see `Triage::claimed`). Phase 2 reads it again.
            if let Ok(len) = w.rd.be16(off + 2) {
                w.end_of(off + len as usize, w.rd.len());
            }
            Link::Done(ipx(w.t, off, IpxEncap::EthernetII))
        }
        ether::PPPOE_SESSION => match pppoe(w, off)? {
            Some((off, v6)) => Link::Ip(off, v6),
            None => Link::Done(false),
        },
        _ => Link::Done(false),
    })
}

/// Every IPX frame is watched (it is in the `ipx` class), whatever follows.
#[inline(always)]
fn ipx(t: &mut Triage, off: usize, encap: IpxEncap) -> bool {
    t.layer = Family::Ipx as u8;
    t.off = off as u32;
    t.encap = encap as u8;
    true
}

/// 802.3 frame: the two bytes after the length tell raw IPX (`FF FF`, the IPX checksum),
/// 802.2 LLC with the NetWare SAP (`E0 E0 03`) and SNAP carrying type 0x8137.
#[inline(always)]
fn ieee8023<P: Packet + ?Sized>(w: &mut Walk<P>, off: usize, len: usize) -> bool {
    w.end_of(off + len, w.rd.len());
    let Ok(llc) = w.rd.bytes::<3>(off) else {
        // Too short to say what it carries: not ours, not malformed.
        return false;
    };
    match llc {
        [0xFF, 0xFF, _] => ipx(w.t, off, IpxEncap::Raw8023),
        [0xE0, 0xE0, 0x03] => ipx(w.t, off + 3, IpxEncap::Llc),
        [0xAA, 0xAA, 0x03] => {
            // OUI 0, then the EtherType.
            let [hi, lo] = ether::IPX.to_be_bytes();
            w.rd.bytes::<5>(off + 3) == Ok([0, 0, 0, hi, lo]) && ipx(w.t, off + 8, IpxEncap::Snap)
        }
        _ => false,
    }
}

/// PPPoE session stage (RFC 2516): 6-byte header, then the PPP protocol field. Where the
/// IP header starts and whether it is IPv6, if it carries IP.
fn pppoe<P: Packet + ?Sized>(
    w: &mut Walk<P>,
    off: usize,
) -> Result<Option<(usize, bool)>, Malformed> {
    let vt = w.rd.u8(off)?;
    if vt != 0x11 {
        return Ok(None);
    }
    Ok(match w.rd.be16(off + 6)? {
        PPP_IPV4 => Some((off + 8, false)),
        PPP_IPV6 => Some((off + 8, true)),
        _ => None,
    })
}
