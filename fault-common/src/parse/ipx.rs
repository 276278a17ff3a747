//! IPX (any of its four Ethernet framings) and what runs on it: NCP, SAP, RIP.

use super::{Ctx, Malformed, Packet, Parsed, Reader, Sink, copy};
use crate::{
    class::Class,
    event::{
        EventKind, Family, NCP_HAS_REPLY_VALUE, NCP_HAS_RPV_REQUEST, NCP_HAS_SUBFUNCTION, NcpBody,
        SAP_ENTRY_LEN, SAP_MAX_ENTRIES,
    },
    ports,
    proto::{ipx, ncp, sap},
};

const IPX_HLEN: usize = 30;
/// NWLink SMB name query: Wireshark skips the low-socket dispatch when it is the high one.
const IPX_SOCKET_NWLINK_NAMEQUERY: u16 = 0x0551;

/// Reply: 8-byte header, 128-byte value segment, more-segments flag, property flags.
const NCP_RPV_REPLY_LEN: usize = 138;

/// Phase 2 for IPX. Inlined: in BPF a call and its return cost a frame 10-20 ns on kernels
/// with return thunks, and the XDP function with both phases in it (400 bytes) plus
/// PPTP's message loop (64) stays under the 512-byte stack limit.
#[inline(always)]
pub(super) fn parse<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    off: usize,
    encap: u8,
) -> Parsed {
    cx.class(Class::Ipx);
    let h = cx.rd.bytes::<IPX_HLEN>(off)?;
    let length = u16::from_be_bytes([h[2], h[3]]) as usize;
    let ptype = h[5];
    let dsock = u16::from_be_bytes([h[16], h[17]]);
    let ssock = u16::from_be_bytes([h[28], h[29]]);
    cx.family = Family::Ipx as u8;
    cx.ev.hdr.family = cx.family;
    cx.ev.hdr.encap = encap;
    cx.ev.hdr.dst[..10].copy_from_slice(&h[6..16]);
    cx.ev.hdr.src[..10].copy_from_slice(&h[18..28]);
    cx.ev.hdr.dport = dsock;
    cx.ev.hdr.sport = ssock;
    cx.flow(0);
    if length < IPX_HLEN {
        return Err(Malformed);
    }
    let payload = off + IPX_HLEN;
    let lim = cx.end_of(off + length, cx.rd.len());
    match service(ssock, dsock, ptype) {
        ports::IPX_NCP => ncp(cx, payload, lim),
        ports::IPX_SAP => sap(cx, payload, lim),
        ports::IPX_RIP => {
            cx.class(Class::IpxRip);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Sockets that have a dissector of their own in Wireshark, besides NCP, SAP and RIP: a
/// packet between two of them is theirs even when its type says NCP.
#[inline(always)]
fn well_known(s: u16) -> bool {
    matches!(
        s,
        0x0451..=0x0457 | 0x0550..=0x0555 | 0x4001 | 0x4003 | 0x85BE | 0x9001 | 0x9004 | 0x900F | 0x9010
    )
}

/// Which service a packet is for, decided as Wireshark does (so the counts agree with
/// tshark's): the lower socket first, then the higher, then the packet type.
#[inline(always)]
fn service(ssock: u16, dsock: u16, ptype: u8) -> u16 {
    let (low, high) = if ssock > dsock {
        (dsock, ssock)
    } else {
        (ssock, dsock)
    };
    if high != IPX_SOCKET_NWLINK_NAMEQUERY && well_known(low) {
        return low;
    }
    if well_known(high) {
        return high;
    }
    if ptype == ipx::TYPE_NCP {
        ports::IPX_NCP
    } else {
        0
    }
}

fn ncp<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, lim: usize) -> Parsed {
    let (off, lim) = cx.converge(off, lim);
    let req_type = cx.rd.be16_in(off, lim)?;
    let class = match req_type {
        ncp::CREATE_CONNECTION => Class::IpxNcpCreate,
        ncp::REQUEST => Class::IpxNcpRequest,
        ncp::REPLY => Class::IpxNcpReply,
        ncp::DESTROY_CONNECTION => Class::IpxNcpDestroy,
        _ => return Ok(()),
    };
    cx.class(class);
    let rd = cx.rd;
    let b = cx.ncp_body();
    b.req_type = req_type;
    let details = ncp_details(rd, off, lim, b);
    cx.emit(EventKind::Ncp);
    details
}

#[inline(always)]
fn ncp_details<P: Packet + ?Sized>(
    rd: Reader<P>,
    off: usize,
    lim: usize,
    b: &mut NcpBody,
) -> Parsed {
    let h = rd.bytes_in::<6>(off, lim)?;
    b.seq = h[2];
    b.conn_low = h[3];
    b.task = h[4];
    b.conn_high = h[5];
    match b.req_type {
        ncp::REQUEST => {
            let Ok(function) = rd.u8_in(off + 6, lim) else {
                return Ok(());
            };
            b.function = function;
            if function == ncp::FN_BINDERY {
                // Length-prefixed subfunction structure: [7..9] length, [9] subfunction.
                b.subfunction = rd.u8_in(off + 9, lim)?;
                b.detail |= NCP_HAS_SUBFUNCTION;
                if b.subfunction == ncp::SUB_READ_PROPERTY_VALUE {
                    read_property_value(rd, off + 10, lim, b)?;
                }
            }
        }
        ncp::REPLY => {
            let r = rd.bytes_in::<2>(off + 6, lim)?;
            b.function = r[0];
            b.status = r[1];
            // Only the request says what was asked; keep what a Read Property Value reply
            // would hold and let the detector pair it.
            if let Ok(v) = rd.bytes_in::<12>(off + 8, lim) {
                b.value = v;
                b.detail |= NCP_HAS_REPLY_VALUE;
            }
            if let Ok(t) = rd.bytes_in::<2>(off + NCP_RPV_REPLY_LEN - 2, lim) {
                b.more_segments = t[0];
                b.property_flags = t[1];
            }
        }
        _ => {
            if let Ok(f) = rd.u8_in(off + 6, lim) {
                b.function = f;
            }
        }
    }
    Ok(())
}

/// Read Property Value parameters: object type, object name, segment, property name.
#[inline(always)]
fn read_property_value<P: Packet + ?Sized>(
    rd: Reader<P>,
    p: usize,
    lim: usize,
    b: &mut NcpBody,
) -> Parsed {
    let t = rd.bytes_in::<3>(p, lim)?;
    b.object_type = u16::from_be_bytes([t[0], t[1]]);
    let n = t[2] as usize;
    if n == 0 || n > b.object_name.len() {
        return Err(Malformed);
    }
    rd.copy_in(p + 3, n, lim, &mut b.object_name)?;
    b.object_name_len = n as u8;
    let q = p + 3 + n;
    let s = rd.bytes_in::<2>(q, lim)?;
    b.segment = s[0];
    let m = s[1] as usize;
    if m == 0 || m > b.property_name.len() {
        return Err(Malformed);
    }
    rd.copy_in(q + 2, m, lim, &mut b.property_name)?;
    b.property_name_len = m as u8;
    b.detail |= NCP_HAS_RPV_REQUEST;
    Ok(())
}

fn sap<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, lim: usize) -> Parsed {
    let (off, lim) = cx.converge(off, lim);
    let op = cx.rd.be16_in(off, lim)?;
    match op {
        sap::GENERAL_QUERY | sap::NEAREST_QUERY => cx.class(Class::IpxSapQuery),
        sap::GENERAL_RESPONSE | sap::NEAREST_RESPONSE => {
            cx.class(Class::IpxSapResponse);
            // The complete entries go over as they came, in one record, one copy.
            let n = (lim.saturating_sub(off + 2) / SAP_ENTRY_LEN).min(SAP_MAX_ENTRIES);
            if n > 0 {
                let r = &mut *cx.sap;
                copy(&mut r.hdr, &cx.ev.hdr);
                r.hdr.kind = EventKind::SapResponse as u8;
                r.op = op;
                r.count = n as u8;
                if cx
                    .rd
                    .copy_in(off + 2, n * SAP_ENTRY_LEN, lim, &mut r.entries)
                    .is_ok()
                {
                    cx.sink.emit(r);
                }
            }
        }
        _ => {}
    }
    Ok(())
}
