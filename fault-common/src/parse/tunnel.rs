//! Tunnels and mirrors that carry whole frames or datagrams: GRE (RFC 2784, with the key
//! and sequence fields of RFC 2890), Ethernet over GRE (transparent bridging, ERSPAN types
//! I to III, as switches mirror ports to a monitoring host) and VXLAN (RFC 7348). Phase 1
//! follows them one level deep, like IP-in-IP, and phase 2 starts at the inner transport as
//! if the frame had arrived bare: events and flows carry the inner addresses.
//!
//! PPTP's enhanced GRE (version 1) is not a tunnel faultd looks into: it carries PPP with
//! compression and encryption, and is classified as such (`pptp.gre`) in [`super::l4`].

use super::{Malformed, Packet, Triage, Verdict, Walk};
use crate::proto::ether;

const GRE_C: u8 = 0x80;
const GRE_R: u8 = 0x40;
const GRE_K: u8 = 0x20;
const GRE_S: u8 = 0x10;
const GRE_VERSION: u8 = 0x07;

const ERSPAN2_HLEN: usize = 8;
const ERSPAN3_HLEN: usize = 12;
/// ERSPAN III's optional platform-specific subheader, present when the O bit is set.
const ERSPAN3_SUBHEADER: usize = 8;

pub(super) const VXLAN_PORT: u16 = 4789;
const VXLAN_HLEN: usize = 8;
/// The I flag: the VNI is valid. RFC 7348 requires it; without it this is not VXLAN.
const VXLAN_I: u8 = 0x08;

/// What a tunnel carries.
pub(super) enum Inner {
    /// An IP header at this offset (IPv6 when true).
    Ip(usize, bool),
    /// An Ethernet frame at this offset.
    Ethernet(usize),
}

impl Inner {
    /// Phase 1's next step: the verdict, with the inner header's offset left in `t.off`.
    #[inline(always)]
    pub(super) fn follow(self, t: &mut Triage) -> Verdict {
        let (off, v) = match self {
            Inner::Ip(off, false) => (off, Verdict::Ipv4),
            Inner::Ip(off, true) => (off, Verdict::Ipv6),
            Inner::Ethernet(off) => (off, Verdict::Ethernet),
        };
        t.off = off as u32;
        v
    }
}

/// A GRE header at `off`, ending by `end`: what it carries, or `None` for GRE that is not
/// followed (PPTP's version 1, RFC 1701 source routing, other payloads). A header cut short
/// is malformed, as tshark says.
#[inline(always)]
pub(super) fn gre<P: Packet + ?Sized>(
    w: &mut Walk<P>,
    off: usize,
    end: usize,
) -> Result<Option<Inner>, Malformed> {
    let h = w.rd.bytes_in::<4>(off, end)?;
    if h[1] & GRE_VERSION != 0 || h[0] & GRE_R != 0 {
        return Ok(None);
    }
    let mut inner = off + 4;
    if h[0] & GRE_C != 0 {
        inner += 4;
    }
    if h[0] & GRE_K != 0 {
        inner += 4;
    }
    if h[0] & GRE_S != 0 {
        inner += 4;
    }
    Ok(match u16::from_be_bytes([h[2], h[3]]) {
        ether::IPV4 => Some(Inner::Ip(inner, false)),
        ether::IPV6 => Some(Inner::Ip(inner, true)),
        ether::TEB => Some(Inner::Ethernet(inner)),
        // Type I has no header of its own; type II's says version 1.
        ether::ERSPAN if h[0] & GRE_S == 0 => Some(Inner::Ethernet(inner)),
        ether::ERSPAN => {
            let e = w.rd.bytes_in::<1>(inner, end)?;
            (e[0] >> 4 == 1).then_some(Inner::Ethernet(inner + ERSPAN2_HLEN))
        }
        ether::ERSPAN3 => {
            let e = w.rd.bytes_in::<ERSPAN3_HLEN>(inner, end)?;
            // Version 2 and frame type 0 (Ethernet); type 2 (bare IP) is not followed.
            let frame_type = (e[10] >> 2) & 0x1f;
            if e[0] >> 4 != 2 || frame_type != 0 {
                return Ok(None);
            }
            let sub = if e[11] & 1 != 0 { ERSPAN3_SUBHEADER } else { 0 };
            Some(Inner::Ethernet(inner + ERSPAN3_HLEN + sub))
        }
        _ => None,
    })
}

/// A UDP datagram at `off`, `ulen` bytes long, from or to the VXLAN port (either, as
/// tshark decodes it): where its Ethernet frame starts, or `None` when it is not VXLAN,
/// and is then plain UDP.
#[inline(always)]
pub(super) fn vxlan<P: Packet + ?Sized>(
    w: &mut Walk<P>,
    off: usize,
    ulen: usize,
    end: usize,
) -> Option<usize> {
    let flags = w.rd.u8_in(off + 8, end).ok()?;
    (ulen >= 8 + VXLAN_HLEN && flags & VXLAN_I != 0).then_some(off + 8 + VXLAN_HLEN)
}
