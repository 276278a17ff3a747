//! NetBIOS over TCP/IP (RFC 1002): the name service on UDP 137 and the session service's
//! control messages on TCP 139.

use super::{Ctx, Malformed, Packet, Parsed, Reader, Sink, decode_netbios_name_into};
use crate::{
    class::Class,
    event::{EventKind, NAME_MALFORMED, NAME_OK, NbnsBody, NbssBody, RR_OK},
    proto::{
        nbns::{
            self, OPCODE_MULTIHOMED, OPCODE_QUERY, OPCODE_REFRESH, OPCODE_REFRESH_ALT,
            OPCODE_REGISTRATION, OPCODE_RELEASE, OPCODE_WACK, RTYPE_NB, RTYPE_NBSTAT,
        },
        nbss,
    },
};

const NBNS_HLEN: usize = 12;
/// Scope labels after the encoded name: real scopes have a few; each allowed label is a
/// path the verifier explores.
const MAX_LABELS: usize = 4;

/// A domain-style name at `off`. When its first label is a 32-character NetBIOS name it is
/// decoded into `decoded`, if the caller wants it (returning true); the offset just past
/// the name is returned either way.
#[inline(always)]
fn name<P: Packet + ?Sized>(
    rd: Reader<P>,
    off: usize,
    lim: usize,
    decoded: Option<&mut [u8; 16]>,
) -> Result<(usize, bool), Malformed> {
    let mut p = off;
    let mut ok = false;
    if rd.u8_in(off, lim)? == 32 {
        let enc = rd.bytes_in::<32>(off + 1, lim)?;
        ok = decoded.is_some_and(|d| decode_netbios_name_into(&enc, d));
        p = off + 33;
    }
    for _ in 0..=MAX_LABELS {
        let len = rd.u8_in(p, lim)?;
        if len == 0 {
            return Ok((p + 1, ok));
        }
        if len & 0xC0 == 0xC0 {
            // Compression pointer (RFC 1035 §4.1.4): ends the name.
            rd.u8_in(p + 1, lim)?;
            return Ok((p + 2, ok));
        }
        if len & 0xC0 != 0 {
            return Err(Malformed);
        }
        p += 1 + len as usize;
    }
    Err(Malformed)
}

pub(super) fn nbns<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    off: usize,
    lim: usize,
) -> Parsed {
    let (off, lim) = cx.converge(off, lim);
    let rd = cx.rd;
    let h = rd.bytes_in::<NBNS_HLEN>(off, lim)?;
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let b = cx.nbns_body();
    b.txid = be(0);
    b.flags = be(2);
    b.qdcount = be(4);
    b.ancount = be(6);
    b.nscount = be(8);
    b.arcount = be(10);
    // The name and its type decide query vs. node status; parse them before classifying,
    // but report a cut-short name only after the class is counted.
    let details = nbns_details(rd, off, lim, b);
    let nbstat = b.rtype == RTYPE_NBSTAT;
    let class = match (nbns::opcode(b.flags), nbns::is_response(b.flags)) {
        (OPCODE_QUERY, false) if nbstat => Class::NbnsNbstat,
        (OPCODE_QUERY, true) if nbstat => Class::NbnsNbstatResponse,
        (OPCODE_QUERY, false) => Class::NbnsQuery,
        (OPCODE_QUERY, true) => Class::NbnsQueryResponse,
        (OPCODE_REGISTRATION | OPCODE_MULTIHOMED, false) => Class::NbnsRegistration,
        (OPCODE_REGISTRATION | OPCODE_MULTIHOMED, true) => Class::NbnsRegistrationResponse,
        (OPCODE_RELEASE, false) => Class::NbnsRelease,
        (OPCODE_RELEASE, true) => Class::NbnsReleaseResponse,
        (OPCODE_WACK, _) => Class::NbnsWack,
        (OPCODE_REFRESH | OPCODE_REFRESH_ALT, false) => Class::NbnsRefresh,
        (OPCODE_REFRESH | OPCODE_REFRESH_ALT, true) => Class::NbnsRefreshResponse,
        _ => return details,
    };
    cx.class(class);
    cx.emit(EventKind::Nbns);
    details
}

/// Transaction id, flags and question type of an NBNS request quoted by an ICMP error
/// (the quote may stop anywhere: `None` when it stops before the question type).
#[inline(always)]
pub(super) fn quoted_question<P: Packet + ?Sized>(
    rd: Reader<P>,
    off: usize,
    lim: usize,
) -> Option<(u16, u16, u16)> {
    let h = rd.bytes_in::<NBNS_HLEN>(off, lim).ok()?;
    let be = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    if be(4) == 0 {
        return None;
    }
    let (after, _) = name(rd, off + NBNS_HLEN, lim, None).ok()?;
    let rtype = rd.be16_in(after, lim).ok()?;
    Some((be(0), be(2), rtype))
}

/// Fills the name, its type, and the first NB record's flags, address and TTL.
#[inline(always)]
fn nbns_details<P: Packet + ?Sized>(
    rd: Reader<P>,
    off: usize,
    lim: usize,
    b: &mut NbnsBody,
) -> Parsed {
    if b.qdcount == 0 && b.ancount == 0 {
        return Ok(());
    }
    let (after, ok) = name(rd, off + NBNS_HLEN, lim, Some(&mut b.name))?;
    b.name_status = if ok { NAME_OK } else { NAME_MALFORMED };
    b.rtype = rd.be16_in(after, lim)?;
    // Requests carry their record (if any) as the additional record after the question;
    // responses have no question and the name just parsed starts the answer.
    let rr = if b.qdcount > 0 {
        if b.ancount != 0 || b.nscount != 0 || b.arcount == 0 {
            return Ok(());
        }
        name(rd, after + 4, lim, None)?.0
    } else {
        after
    };
    let fixed = rd.bytes_in::<10>(rr, lim)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]);
    if rtype == RTYPE_NB && rdlen >= 6 {
        let rdata = rd.bytes_in::<6>(rr + 10, lim)?;
        b.ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        b.nb_flags = u16::from_be_bytes([rdata[0], rdata[1]]);
        b.nb_addr.copy_from_slice(&rdata[2..6]);
        b.rr_status = RR_OK;
    }
    Ok(())
}

/// Whether an NBSS message of type `t` can be a control message: phase 1 turns away the
/// rest (session messages carry SMB, the bulk of traffic on port 139).
#[inline(always)]
pub(super) fn nbss_control_type(t: u8) -> bool {
    (nbss::REQUEST..=nbss::KEEPALIVE).contains(&t)
}

/// NBSS control message at the start of a TCP 139 segment. Only a segment that holds
/// exactly one well-formed control message counts: the middle of a long session message
/// must not pass for a header.
pub(super) fn nbss<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    off: usize,
    lim: usize,
) -> Parsed {
    let (off, lim) = cx.converge(off, lim);
    let rd = cx.rd;
    let Ok(h) = rd.bytes_in::<4>(off, lim) else {
        return Ok(());
    };
    let (msg_type, flags) = (h[0], h[1]);
    let length = u16::from_be_bytes([h[2], h[3]]) as usize | ((flags as usize & 1) << 16);
    if flags & 0xFE != 0 || off + 4 + length != lim {
        return Ok(());
    }
    let class = match (msg_type, length) {
        (nbss::REQUEST, _) => Class::NbssRequest,
        (nbss::POSITIVE, 0) => Class::NbssPositive,
        (nbss::NEGATIVE, 1) => Class::NbssNegative,
        (nbss::RETARGET, 6) => Class::NbssRetarget,
        (nbss::KEEPALIVE, 0) => Class::NbssKeepalive,
        _ => return Ok(()),
    };
    cx.class(class);
    let b = cx.nbss_body();
    b.msg_type = msg_type;
    b.flags = flags;
    b.length = length as u32;
    let details = nbss_details(rd, off + 4, lim, b);
    cx.emit(EventKind::Nbss);
    details
}

#[inline(always)]
fn nbss_details<P: Packet + ?Sized>(
    rd: Reader<P>,
    off: usize,
    lim: usize,
    b: &mut NbssBody,
) -> Parsed {
    match b.msg_type {
        nbss::REQUEST => {
            let (calling_off, called) = name(rd, off, lim, Some(&mut b.called))?;
            let (_, calling) = name(rd, calling_off, lim, Some(&mut b.calling))?;
            b.names = called as u8 | (calling as u8) << 1;
        }
        nbss::NEGATIVE => b.error = rd.u8_in(off, lim)?,
        nbss::RETARGET => {
            let r = rd.bytes_in::<6>(off, lim)?;
            b.retarget_ip.copy_from_slice(&r[..4]);
            b.retarget_port = u16::from_be_bytes([r[4], r[5]]);
        }
        _ => {}
    }
    Ok(())
}
