//! PPTP control connection (RFC 2637) on TCP 1723.

use super::{Ctx, Packet, Parsed, Reader, Sink};
use crate::{
    class::Class,
    event::{EventKind, PptpBody},
};

const MAGIC_COOKIE: u32 = 0x1A2B_3C4D;
const HLEN: usize = 12;
/// The control message at the start of a TCP 1723 segment. Only the first: a second one
/// batched into the same segment is rare, and tshark (our reference) decodes only the
/// first as well.
pub(super) fn control<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    off: usize,
    lim: usize,
) -> Parsed {
    let (off, lim) = cx.converge(off, lim);
    let Ok(h) = cx.rd.bytes_in::<HLEN>(off, lim) else {
        return Ok(());
    };
    let length = u16::from_be_bytes([h[0], h[1]]) as usize;
    let pptp_type = u16::from_be_bytes([h[2], h[3]]);
    let magic = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if magic != MAGIC_COOKIE || length < HLEN || pptp_type != 1 {
        return Ok(());
    }
    message(cx, off, lim, u16::from_be_bytes([h[8], h[9]]), length)
}

fn message<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    p: usize,
    lim: usize,
    msg_type: u16,
    length: usize,
) -> Parsed {
    cx.class(Class::PptpControl);
    match msg_type {
        7 => cx.class(Class::PptpOutCallRequest),
        8 => cx.class(Class::PptpOutCallReply),
        12 => cx.class(Class::PptpCallClearRequest),
        13 => cx.class(Class::PptpCallDisconnectNotify),
        _ => {}
    }
    let rd = cx.rd;
    let b = cx.pptp_body();
    b.msg_type = msg_type;
    b.length = length as u16;
    let details = fields(rd, p + HLEN, lim, b);
    cx.emit(EventKind::Pptp);
    details
}

/// The fields that follow the header, by message type (RFC 2637 §2).
#[inline(always)]
fn fields<P: Packet + ?Sized>(rd: Reader<P>, f: usize, lim: usize, b: &mut PptpBody) -> Parsed {
    match b.msg_type {
        // SCCRP: version, then result and error.
        2 => {
            let r = rd.bytes_in::<4>(f, lim)?;
            b.result = r[2];
            b.error = r[3];
        }
        // StopCCRQ: reason; StopCCRP: result, error.
        3 | 4 => {
            let r = rd.bytes_in::<2>(f, lim)?;
            b.result = r[0];
            b.error = r[1];
        }
        // OCRQ, ICRQ, CCRQ: call id. ICCN, WEN, SLI: peer call id.
        7 | 9 | 11 | 12 | 14 | 15 => b.call_id = rd.be16_in(f, lim)?,
        // OCRP, ICRP: call id, peer call id, result, error, cause.
        8 | 10 => {
            let r = rd.bytes_in::<8>(f, lim)?;
            b.call_id = u16::from_be_bytes([r[0], r[1]]);
            b.peer_call_id = u16::from_be_bytes([r[2], r[3]]);
            b.result = r[4];
            b.error = r[5];
            b.cause = u16::from_be_bytes([r[6], r[7]]);
        }
        // CDN: call id, result, error, cause.
        13 => {
            let r = rd.bytes_in::<6>(f, lim)?;
            b.call_id = u16::from_be_bytes([r[0], r[1]]);
            b.result = r[2];
            b.error = r[3];
            b.cause = u16::from_be_bytes([r[4], r[5]]);
        }
        _ => {}
    }
    Ok(())
}
