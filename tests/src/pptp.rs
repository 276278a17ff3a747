//! PPTP (RFC 2637): control messages on TCP 1723 and enhanced GRE (version 1) data.

use crate::{Put, len16};

pub const PORT: u16 = 1723;
pub const MESSAGE_TYPE_CONTROL: u16 = 1;
pub const MAGIC_COOKIE: u32 = 0x1A2B_3C4D;
pub const PROTOCOL_VERSION: u16 = 0x0100;

pub const SCCRQ: u16 = 1;
pub const SCCRP: u16 = 2;
pub const STOP_CCRQ: u16 = 3;
pub const STOP_CCRP: u16 = 4;
pub const ECHO_REQUEST: u16 = 5;
pub const ECHO_REPLY: u16 = 6;
pub const OCRQ: u16 = 7;
pub const OCRP: u16 = 8;
pub const ICRQ: u16 = 9;
pub const ICRP: u16 = 10;
pub const ICCN: u16 = 11;
pub const CCRQ: u16 = 12;
pub const CDN: u16 = 13;
pub const WEN: u16 = 14;
pub const SLI: u16 = 15;

/// Result codes of OCRP: 1 connected; the rest are rejections.
pub const OCRP_CONNECTED: u8 = 1;
pub const OCRP_GENERAL_ERROR: u8 = 2;
pub const OCRP_NO_CARRIER: u8 = 3;
pub const OCRP_BUSY: u8 = 4;
pub const OCRP_DO_NOT_ACCEPT: u8 = 7;
/// Result codes of CDN.
pub const CDN_LOST_CARRIER: u8 = 1;
pub const CDN_ADMIN_SHUTDOWN: u8 = 3;
pub const CDN_REQUEST: u8 = 4;
pub const RESULT_OK: u8 = 1;
pub const STOP_REASON_NONE: u8 = 1;

const FRAMING_ASYNC_SYNC: u32 = 3;
const BEARER_ANALOG_DIGITAL: u32 = 3;
const BEARER_ANY: u32 = 3;
const FRAMING_ANY: u32 = 3;
const NAME_LEN: usize = 64;
const CALL_STATISTICS_LEN: usize = 128;
const MIN_BPS: u32 = 300;
const MAX_BPS: u32 = 100_000_000;
const RECV_WINDOW: u16 = 64;
const CONNECT_SPEED: u32 = 64_000;
/// Windows' default ACCM: no control characters escaped.
const ACCM_NONE: u32 = 0xFFFF_FFFF;

pub const GRE_PROTOCOL_PPP: u16 = 0x880B;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const GRE_ACK: u16 = 0x0080;
const GRE_VERSION_ENHANCED: u16 = 1;

/// The 12-byte control header (length of the whole message) followed by `body`.
fn control(message: u16, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(12 + body.len());
    m.u16(len16(12 + body.len()))
        .u16(MESSAGE_TYPE_CONTROL)
        .u32(MAGIC_COOKIE)
        .u16(message)
        .u16(0)
        .bytes(body);
    m
}

/// Capabilities shared by SCCRQ and SCCRP after their first 4 body bytes.
fn capabilities(out: &mut Vec<u8>, host: &str, vendor: &str) {
    out.u32(FRAMING_ASYNC_SYNC)
        .u32(BEARER_ANALOG_DIGITAL)
        .u16(0) // maximum channels: unused by PNS
        .u16(1) // firmware revision
        .padded(host, NAME_LEN)
        .padded(vendor, NAME_LEN);
}

/// Start-Control-Connection-Request (156 bytes).
pub fn sccrq(host: &str, vendor: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(PROTOCOL_VERSION).u16(0);
    capabilities(&mut b, host, vendor);
    control(SCCRQ, &b)
}

/// Start-Control-Connection-Reply (156 bytes).
pub fn sccrp(result: u8, error: u8, host: &str, vendor: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(PROTOCOL_VERSION).u8(result).u8(error);
    capabilities(&mut b, host, vendor);
    control(SCCRP, &b)
}

/// Stop-Control-Connection-Request (16 bytes).
pub fn stop_ccrq(reason: u8) -> Vec<u8> {
    control(STOP_CCRQ, &[reason, 0, 0, 0])
}

/// Stop-Control-Connection-Reply (16 bytes).
pub fn stop_ccrp(result: u8, error: u8) -> Vec<u8> {
    control(STOP_CCRP, &[result, error, 0, 0])
}

/// Echo-Request (16 bytes).
pub fn echo_request(identifier: u32) -> Vec<u8> {
    control(ECHO_REQUEST, &identifier.to_be_bytes())
}

/// Echo-Reply (20 bytes).
pub fn echo_reply(identifier: u32, result: u8, error: u8) -> Vec<u8> {
    let mut b = identifier.to_be_bytes().to_vec();
    b.u8(result).u8(error).u16(0);
    control(ECHO_REPLY, &b)
}

/// Outgoing-Call-Request (168 bytes) from the client (PNS).
pub fn ocrq(call_id: u16, serial: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(call_id)
        .u16(serial)
        .u32(MIN_BPS)
        .u32(MAX_BPS)
        .u32(BEARER_ANY)
        .u32(FRAMING_ANY)
        .u16(RECV_WINDOW)
        .u16(0) // processing delay
        .u16(0) // phone number length
        .u16(0)
        .padded("", NAME_LEN) // phone number
        .padded("", NAME_LEN); // subaddress
    control(OCRQ, &b)
}

/// Outgoing-Call-Reply (32 bytes): the server's `call_id`, the client's as `peer_call_id`.
pub fn ocrp(call_id: u16, peer_call_id: u16, result: u8, error: u8, cause: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(call_id)
        .u16(peer_call_id)
        .u8(result)
        .u8(error)
        .u16(cause)
        .u32(CONNECT_SPEED)
        .u16(RECV_WINDOW)
        .u16(0) // processing delay
        .u32(0); // physical channel id
    control(OCRP, &b)
}

/// Incoming-Call-Request (220 bytes).
pub fn icrq(call_id: u16, serial: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(call_id)
        .u16(serial)
        .u32(BEARER_ANY)
        .u32(0) // physical channel id
        .u16(0) // dialed number length
        .u16(0) // dialing number length
        .padded("", NAME_LEN)
        .padded("", NAME_LEN)
        .padded("", NAME_LEN);
    control(ICRQ, &b)
}

/// Incoming-Call-Reply (24 bytes).
pub fn icrp(call_id: u16, peer_call_id: u16, result: u8, error: u8) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(call_id)
        .u16(peer_call_id)
        .u8(result)
        .u8(error)
        .u16(RECV_WINDOW)
        .u16(0) // processing delay
        .u16(0);
    control(ICRP, &b)
}

/// Incoming-Call-Connected (28 bytes).
pub fn iccn(peer_call_id: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(peer_call_id)
        .u16(0)
        .u32(CONNECT_SPEED)
        .u16(RECV_WINDOW)
        .u16(0) // processing delay
        .u32(FRAMING_ANY);
    control(ICCN, &b)
}

/// Call-Clear-Request (16 bytes) from the client, naming its own call id.
pub fn ccrq(call_id: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(call_id).u16(0);
    control(CCRQ, &b)
}

/// Call-Disconnect-Notify (148 bytes) from the server, naming its own call id.
pub fn cdn(call_id: u16, result: u8, error: u8, cause: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(call_id).u8(result).u8(error).u16(cause).u16(0);
    b.resize(b.len() + CALL_STATISTICS_LEN, 0);
    control(CDN, &b)
}

/// WAN-Error-Notify (40 bytes) with all error counters zero.
pub fn wen(peer_call_id: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(peer_call_id).u16(0);
    b.resize(b.len() + 6 * 4, 0);
    control(WEN, &b)
}

/// Set-Link-Info (24 bytes).
pub fn sli(peer_call_id: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.u16(peer_call_id).u16(0).u32(ACCM_NONE).u32(ACCM_NONE);
    control(SLI, &b)
}

/// Several control messages in one TCP segment, as a busy sender coalesces them.
pub fn concat(messages: &[&[u8]]) -> Vec<u8> {
    messages.concat()
}

/// Enhanced GRE (IP protocol 47) carrying `ppp` for the peer's `call_id`: flags 0x3001 with a
/// sequence number, 0x3081 with an acknowledgment too, 0x2081 for an ack-only packet.
pub fn gre(call_id: u16, seq: Option<u32>, ack: Option<u32>, ppp: &[u8]) -> Vec<u8> {
    let mut flags = GRE_KEY | GRE_VERSION_ENHANCED;
    if seq.is_some() {
        flags |= GRE_SEQUENCE;
    }
    if ack.is_some() {
        flags |= GRE_ACK;
    }
    let mut g = Vec::new();
    g.u16(flags)
        .u16(GRE_PROTOCOL_PPP)
        .u16(len16(ppp.len()))
        .u16(call_id);
    for n in [seq, ack].into_iter().flatten() {
        g.u32(n);
    }
    g.bytes(ppp);
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sizes_match_rfc() {
        let sizes = [
            (sccrq("h", "v"), 156),
            (sccrp(1, 0, "h", "v"), 156),
            (stop_ccrq(1), 16),
            (stop_ccrp(1, 0), 16),
            (echo_request(1), 16),
            (echo_reply(1, 1, 0), 20),
            (ocrq(1, 1), 168),
            (ocrp(1, 1, 1, 0, 0), 32),
            (icrq(1, 1), 220),
            (icrp(1, 1, 1, 0), 24),
            (iccn(1), 28),
            (ccrq(1), 16),
            (cdn(1, 1, 0, 0), 148),
            (wen(1), 40),
            (sli(1), 24),
        ];
        for (i, (m, size)) in sizes.iter().enumerate() {
            assert_eq!(m.len(), *size, "message type {}", i + 1);
            assert_eq!(usize::from(u16::from_be_bytes([m[0], m[1]])), *size);
            assert_eq!(u16::from_be_bytes([m[8], m[9]]) as usize, i + 1);
        }
    }

    #[test]
    fn ocrp_matches_observed_prefix() {
        // packetlife frame 10, up to the connect speed (its receive window is 16, ours 64).
        let m = ocrp(24, 1, OCRP_CONNECTED, 0, 0);
        assert_eq!(
            &m[..24],
            &[
                0x00, 0x20, 0x00, 0x01, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x08, 0x00, 0x00, 0x00, 0x18,
                0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfa, 0x00
            ]
        );
    }

    #[test]
    fn gre_header() {
        let g = gre(24, Some(0), None, &[0; 14]);
        assert_eq!(
            &g[..12],
            &[0x30, 0x01, 0x88, 0x0B, 0, 14, 0, 24, 0, 0, 0, 0]
        );
        assert_eq!(&gre(24, None, Some(5), &[])[..2], &[0x20, 0x81]);
    }
}
