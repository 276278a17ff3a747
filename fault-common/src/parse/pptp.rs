//! PPTP control connection (RFC 2637) on TCP 1723.
//!
//! A TCP segment can carry several control messages back to back (a sender coalesces
//! them: Set-Link-Info then Call-Clear-Request, WAN-Error-Notify then
//! Call-Disconnect-Notify). Each one starts where the previous one's Length says, and each
//! one is handed to the detectors, in order: one `Pptp` event per whole message. Classes
//! stay per frame ([`Sink::count`] at most once per class): a segment is in
//! `pptp.call_clear_request` when any of its messages is a Call-Clear-Request, however
//! many are.
//!
//! faultd does not reassemble TCP. A message that runs past the end of its segment (the
//! rest comes in the next one) counts its classes, since its header is there, and
//! `pptp.control.cut`, but gives no event: its fields are not all there, and a guessed
//! call id would pair with the wrong call. The next segment starts inside that message,
//! where no header is; it gives nothing, whole messages after the tail included.

use super::{Ctx, Malformed, Packet, Parsed, Reader, Sink, copy};
use crate::{
    class::Class,
    event::{EventKind, PPTP_MAX_MESSAGES as MAX_MESSAGES, PptpMessage},
    proto::pptp::{
        CCRQ, CDN, CONTROL_MESSAGE, ICCN, ICRP, ICRQ, MAGIC_COOKIE, OCRP, OCRQ, SCCRP, SLI,
        STOP_CCRP, STOP_CCRQ, WEN,
    },
};

const HLEN: usize = 12;
/// Every control message of a TCP 1723 segment (`off`..`lim`), up to [`MAX_MESSAGES`];
/// stops at the first that is not one (a segment of something else, or one that starts
/// inside a message cut at the end of the previous segment). The whole messages go to
/// the sink in one record, those before a malformed one too. A function of its own in
/// BPF, unlike the rest of phase 2: inlined into the XDP function, its loop costs every
/// PPTP segment ~28 ns more than the call does (`faultd bench --against`, 40,000 runs x 8).
#[inline(never)]
pub(super) fn control<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    off: usize,
    lim: usize,
) -> Parsed {
    cx.pptp.count = 0;
    let parsed = messages(cx, off, lim);
    if cx.pptp.count != 0 {
        let r = &mut *cx.pptp;
        copy(&mut r.hdr, &cx.ev.hdr);
        r.hdr.kind = EventKind::PptpSegment as u8;
        cx.sink.emit(r);
    }
    parsed
}

#[inline(always)]
fn messages<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, lim: usize) -> Parsed {
    let mut at = off;
    let mut i = 0;
    while i < MAX_MESSAGES {
        // Through untracked memory on every turn: the paths through one message's types
        // and fields reach the next turn as one verifier state.
        let (p, lim) = cx.converge(at, lim);
        match message(cx, p, lim, i)? {
            Some(next) => at = next,
            None => return Ok(()),
        }
        i += 1;
    }
    let (p, lim) = cx.converge(at, lim);
    if p < lim {
        cx.class(Class::PptpControlUnparsed);
    }
    Ok(())
}

/// The message at `p`, the segment's `i`th: its classes, and when it is whole its fields,
/// as the record's next message. Where the next one starts, or `None` when there is none
/// to look for.
#[inline(always)]
fn message<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    p: usize,
    lim: usize,
    i: usize,
) -> Result<Option<usize>, Malformed> {
    if p >= lim {
        return Ok(None);
    }
    let Ok(h) = cx.rd.bytes_in::<HLEN>(p, lim) else {
        // After a whole message, fewer bytes than a header are the next one's start, cut
        // by the segment's end; at the start of a segment they may be anything.
        if i != 0 {
            cx.class(Class::PptpControlCut);
        }
        return Ok(None);
    };
    let length = u16::from_be_bytes([h[0], h[1]]) as usize;
    let pptp_type = u16::from_be_bytes([h[2], h[3]]);
    let magic = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if magic != MAGIC_COOKIE || length < HLEN || pptp_type != CONTROL_MESSAGE {
        return Ok(None);
    }
    let msg_type = u16::from_be_bytes([h[8], h[9]]);
    cx.class(Class::PptpControl);
    match msg_type {
        OCRQ => cx.class(Class::PptpOutCallRequest),
        OCRP => cx.class(Class::PptpOutCallReply),
        CCRQ => cx.class(Class::PptpCallClearRequest),
        CDN => cx.class(Class::PptpCallDisconnectNotify),
        _ => {}
    }
    let end = p + length;
    if end > lim {
        cx.class(Class::PptpControlCut);
        return Ok(None);
    }
    let Some(m) = cx.pptp.messages.get_mut(i) else {
        return Ok(None);
    };
    *m = PptpMessage {
        msg_type,
        length: length as u16,
        ..PptpMessage::default()
    };
    // A Length too short for the message's own fields is malformed: no event, and the
    // messages after it are not trusted either.
    fields(cx.rd, p + HLEN, end, m)?;
    cx.pptp.count = i as u8 + 1;
    Ok(Some(end))
}

/// The fields that follow the header, by message type (RFC 2637 §2), up to the message's
/// end `lim`.
#[inline(always)]
fn fields<P: Packet + ?Sized>(rd: Reader<P>, f: usize, lim: usize, b: &mut PptpMessage) -> Parsed {
    match b.msg_type {
        // SCCRP: version, then result and error.
        SCCRP => {
            let r = rd.bytes_in::<4>(f, lim)?;
            b.result = r[2];
            b.error = r[3];
        }
        // StopCCRQ: reason; StopCCRP: result, error.
        STOP_CCRQ | STOP_CCRP => {
            let r = rd.bytes_in::<2>(f, lim)?;
            b.result = r[0];
            b.error = r[1];
        }
        // OCRQ, ICRQ, CCRQ: call id. ICCN, WEN, SLI: peer call id.
        OCRQ | ICRQ | ICCN | CCRQ | WEN | SLI => b.call_id = rd.be16_in(f, lim)?,
        // OCRP, ICRP: call id, peer call id, result, error, cause.
        OCRP | ICRP => {
            let r = rd.bytes_in::<8>(f, lim)?;
            b.call_id = u16::from_be_bytes([r[0], r[1]]);
            b.peer_call_id = u16::from_be_bytes([r[2], r[3]]);
            b.result = r[4];
            b.error = r[5];
            b.cause = u16::from_be_bytes([r[6], r[7]]);
        }
        // CDN: call id, result, error, cause.
        CDN => {
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
