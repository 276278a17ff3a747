//! IPv4 (header length honoured, fragments not followed) and IPv6 (the common extension
//! headers skipped), and IP tunnels one level deep.
//!
//! Phase 1 walks the headers ([`network`]); phase 2 only copies the innermost header's
//! addresses ([`addresses`]), from the offset phase 1 left in the [`Triage`].

use super::{
    Ctx, Malformed, Packet, Parsed, Reader, Sink, Verdict, Walk,
    eth::{self, Link},
    l4,
};
use crate::{event::Family, proto::ip as ipproto};

const MAX_IPV6_EXT_HEADERS: usize = 4;

/// Where a network header leaves off: the transport protocol, its offset, and the end of
/// the IP payload; `None` when there is nothing to follow (a fragment).
type Next = Option<(u8, usize, usize)>;

/// The network layer: an IP header, then whether the transport is one faultd watches. One
/// tunnel is followed: IP-in-IP (4in4, 6in4, 4in6, 6in6) and GRE carrying IP here, in a
/// loop rather than by recursion (BPF has none), so a tunnel costs the verifier a second
/// header parse, not a second copy of everything after it; a tunnel carrying Ethernet
/// walks the inner frame's link layer here too. Records carry the inner addresses.
/// Inlined: a call costs every IP frame 10 ns or so (see `faultd bench`); the offset and
/// family pass through the triage's memory first, so the link layer's many paths reach
/// the IP header as one verifier state (without that, 653 k verified instructions).
#[inline(always)]
pub(super) fn network<P: Packet + ?Sized>(
    w: &mut Walk<P>,
    mut off: usize,
    mut v6: bool,
) -> Result<bool, Malformed> {
    let mut tunnels = true;
    (off, v6) = converge(w.t, off, v6);
    for _ in 0..2 {
        w.t.net = off as u32;
        w.t.layer = if v6 {
            Family::Ipv6 as u8
        } else {
            Family::Ipv4 as u8
        };
        let next = if v6 { ipv6(w, off)? } else { ipv4(w, off)? };
        let Some((proto, l4, end)) = next else {
            return Ok(false);
        };
        (off, v6) = match proto {
            ipproto::IPIP if tunnels => (l4, false),
            ipproto::IPV6 if tunnels => (l4, true),
            _ => {
                w.t.proto = proto;
                w.t.off = l4 as u32;
                w.t.end = end as u32;
                match l4::watched(w, proto, l4, end, tunnels)? {
                    Verdict::Unwatched => return Ok(false),
                    Verdict::Watched => return Ok(true),
                    Verdict::Ipv4 => (w.t.off as usize, false),
                    Verdict::Ipv6 => (w.t.off as usize, true),
                    Verdict::Ethernet => match eth::link(w, w.t.off as usize)? {
                        Link::Ip(off, v6) => converge(w.t, off, v6),
                        Link::Done(watched) => return Ok(watched),
                    },
                }
            }
        };
        tunnels = false;
    }
    // Not reached: the inner header may not tunnel again.
    Ok(false)
}

/// `(off, v6)`, passed through the triage's memory: the link layer's many paths (tags,
/// PPPoE, the inner frame's in a tunnel) then reach the IP header as one state in the
/// verifier's eyes, rather than each walking it again. Free outside BPF.
#[inline(always)]
fn converge(t: &mut super::Triage, off: usize, v6: bool) -> (usize, bool) {
    #[cfg(target_arch = "bpf")]
    // SAFETY: plain fields of memory borrowed exclusively.
    unsafe {
        core::ptr::write_volatile(&mut t.off, off as u32);
        core::ptr::write_volatile(&mut t.proto, u8::from(v6));
        (
            core::ptr::read_volatile(&t.off) as usize,
            core::ptr::read_volatile(&t.proto) != 0,
        )
    }
    #[cfg(not(target_arch = "bpf"))]
    {
        let _ = t;
        (off, v6)
    }
}

fn ipv4<P: Packet + ?Sized>(w: &mut Walk<P>, off: usize) -> Result<Next, Malformed> {
    let h = w.rd.bytes::<20>(off)?;
    if h[0] >> 4 != 4 {
        return Err(Malformed);
    }
    let ihl = (h[0] & 0x0f) as usize * 4;
    let total = u16::from_be_bytes([h[2], h[3]]) as usize;
    if ihl < 20 || total < ihl {
        return Err(Malformed);
    }
    // A fragment (more-fragments set, or an offset) holds part of a datagram: later ones
    // have no transport header, and the first one's payload is cut short by design. XDP
    // does not reassemble, so fragmented datagrams are not followed past this header.
    if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
        return Ok(None);
    }
    let end = w.end_of(off + total, w.rd.len());
    Ok(Some((h[9], off + ihl, end)))
}

fn ipv6<P: Packet + ?Sized>(w: &mut Walk<P>, off: usize) -> Result<Next, Malformed> {
    let h = w.rd.bytes::<8>(off)?;
    if h[0] >> 4 != 6 {
        return Err(Malformed);
    }
    // The addresses are read in phase 2, but a header cut short is malformed here.
    w.rd.bytes::<32>(off + 8)?;
    let payload_len = u16::from_be_bytes([h[4], h[5]]) as usize;
    // A zero payload length means a jumbogram: the frame's end is the limit.
    let end = if payload_len == 0 {
        w.t.unbounded = 1;
        w.rd.len()
    } else {
        w.end_of(off + 40 + payload_len, w.rd.len())
    };
    Ok(extensions(w.rd, h[6], off + 40, w.rd.len())?.map(|(next, l4)| (next, l4, end)))
}

/// The extension headers after an IPv6 header (whose next-header field is `next`) that
/// start at `off`, read up to `lim`: the upper-layer protocol and where it starts, or
/// `None` for a fragment. The outer header and a header quoted by ICMPv6 share this walk.
#[inline(always)]
pub(super) fn extensions<P: Packet + ?Sized>(
    rd: Reader<P>,
    mut next: u8,
    mut off: usize,
    lim: usize,
) -> Result<Option<(u8, usize)>, Malformed> {
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        match next {
            // Hop-by-hop, routing, destination options: length in 8-octet units, less one.
            0 | 43 | 60 => {
                let e = rd.bytes_in::<2>(off, lim)?;
                next = e[0];
                off += (e[1] as usize + 1) * 8;
            }
            // Fragment header: a real fragment is not followed, as for IPv4; an atomic
            // one (offset 0, no more fragments) is a whole datagram.
            44 => {
                let e = rd.bytes_in::<4>(off, lim)?;
                if u16::from_be_bytes([e[2], e[3]]) & 0xfff9 != 0 {
                    return Ok(None);
                }
                next = e[0];
                off += 8;
            }
            // Authentication header: length in 4-octet units, less two.
            51 => {
                let e = rd.bytes_in::<2>(off, lim)?;
                next = e[0];
                off += (e[1] as usize + 2) * 4;
            }
            _ => break,
        }
    }
    Ok(Some((next, off)))
}

/// Phase 2: the innermost IP header's addresses, at `net`, into the event header.
#[inline(always)]
pub(super) fn addresses<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, net: usize) -> Parsed {
    cx.ev.hdr.family = cx.family;
    if cx.family == Family::Ipv6 as u8 {
        let a = cx.rd.bytes::<32>(net + 8)?;
        cx.ev.hdr.src.copy_from_slice(&a[..16]);
        cx.ev.hdr.dst.copy_from_slice(&a[16..]);
    } else {
        let a = cx.rd.bytes::<8>(net + 12)?;
        cx.ev.hdr.src[..4].copy_from_slice(&a[..4]);
        cx.ev.hdr.dst[..4].copy_from_slice(&a[4..]);
    }
    Ok(())
}
