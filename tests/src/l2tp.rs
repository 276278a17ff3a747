//! L2TP version 2 (RFC 2661) on UDP 1701: control messages with AVPs, and data messages.

use crate::{Put, len16};

pub const PORT: u16 = 1701;

const FLAG_TYPE_CONTROL: u16 = 0x8000;
const FLAG_LENGTH: u16 = 0x4000;
const FLAG_SEQUENCE: u16 = 0x0800;
const VERSION_2: u16 = 2;
/// T, L, S and version 2: the only header form control messages may use.
pub const FLAGS_CONTROL: u16 = FLAG_TYPE_CONTROL | FLAG_LENGTH | FLAG_SEQUENCE | VERSION_2;
pub const FLAGS_DATA: u16 = VERSION_2;

const AVP_MANDATORY: u16 = 0x8000;
const AVP_HEADER_LEN: usize = 6;
const VENDOR_IETF: u16 = 0;

pub const AVP_MESSAGE_TYPE: u16 = 0;
pub const AVP_RESULT_CODE: u16 = 1;
pub const AVP_PROTOCOL_VERSION: u16 = 2;
pub const AVP_FRAMING_CAPABILITIES: u16 = 3;
pub const AVP_HOST_NAME: u16 = 7;
pub const AVP_ASSIGNED_TUNNEL_ID: u16 = 9;

pub const SCCRQ: u16 = 1;
pub const SCCRP: u16 = 2;
pub const SCCCN: u16 = 3;
pub const STOP_CCN: u16 = 4;
pub const HELLO: u16 = 6;
pub const ICRQ: u16 = 10;
pub const ICRP: u16 = 11;
pub const ICCN: u16 = 12;
pub const CDN: u16 = 14;

const FRAMING_SYNC_ASYNC: u32 = 3;

/// One attribute-value pair (always vendor 0 here).
pub fn avp(mandatory: bool, attribute: u16, value: &[u8]) -> Vec<u8> {
    let m = if mandatory { AVP_MANDATORY } else { 0 };
    let mut a = Vec::new();
    a.u16(m | len16(AVP_HEADER_LEN + value.len()))
        .u16(VENDOR_IETF)
        .u16(attribute)
        .bytes(value);
    a
}

/// A control message: header, then the Message Type AVP, then `avps` (already encoded).
pub fn control(tunnel: u16, session: u16, ns: u16, nr: u16, message: u16, avps: &[u8]) -> Vec<u8> {
    let body = [
        avp(true, AVP_MESSAGE_TYPE, &message.to_be_bytes()),
        avps.to_vec(),
    ]
    .concat();
    control_header(tunnel, session, ns, nr, &body)
}

fn control_header(tunnel: u16, session: u16, ns: u16, nr: u16, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.u16(FLAGS_CONTROL)
        .u16(len16(12 + body.len()))
        .u16(tunnel)
        .u16(session)
        .u16(ns)
        .u16(nr)
        .bytes(body);
    m
}

/// Zero-length-body control message: a bare acknowledgement.
pub fn zlb(tunnel: u16, session: u16, ns: u16, nr: u16) -> Vec<u8> {
    control_header(tunnel, session, ns, nr, &[])
}

/// Start-Control-Connection-Request opening a tunnel (sent with tunnel id 0).
pub fn sccrq(host: &str, assigned_tunnel: u16) -> Vec<u8> {
    let avps = [
        avp(true, AVP_PROTOCOL_VERSION, &[1, 0]),
        avp(true, AVP_HOST_NAME, host.as_bytes()),
        avp(
            true,
            AVP_FRAMING_CAPABILITIES,
            &FRAMING_SYNC_ASYNC.to_be_bytes(),
        ),
        avp(true, AVP_ASSIGNED_TUNNEL_ID, &assigned_tunnel.to_be_bytes()),
    ]
    .concat();
    control(0, 0, 0, 0, SCCRQ, &avps)
}

/// Data message carrying a PPP frame.
pub fn data(tunnel: u16, session: u16, ppp: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.u16(FLAGS_DATA).u16(tunnel).u16(session).bytes(ppp);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_header_and_message_type() {
        let m = sccrq("lac", 7);
        assert_eq!(&m[..2], &[0xC8, 0x02]);
        assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len());
        assert_eq!(&m[12..20], &[0x80, 8, 0, 0, 0, 0, 0, 1]);
        assert_eq!(zlb(1, 0, 1, 1).len(), 12);
    }
}
