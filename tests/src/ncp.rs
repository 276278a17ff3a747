//! NetWare Core Protocol over IPX (socket 0x451), and the NCP/IP framing of TCP/UDP 524.

use crate::ipx::IpxAddr;
use crate::{Put, len16};

pub const TYPE_CREATE_CONNECTION: u16 = 0x1111;
pub const TYPE_REQUEST: u16 = 0x2222;
pub const TYPE_REPLY: u16 = 0x3333;
pub const TYPE_DESTROY_CONNECTION: u16 = 0x5555;

/// Connection number of a client that has none yet.
pub const CONNECTION_NONE: u16 = 0xFFFF;
pub const FUNCTION_BINDERY: u8 = 23;
pub const SUBFUNCTION_READ_PROPERTY_VALUE: u8 = 61;
pub const OBJECT_FILE_SERVER: u16 = 0x0004;
pub const PROPERTY_NET_ADDRESS: &str = "NET_ADDRESS";
pub const PROPERTY_SEGMENT_LEN: usize = 128;
/// Property flag: the value is a set of object ids rather than an item.
pub const PROPERTY_SET: u8 = 0x02;

pub const NCPIP_PORT: u16 = 524;
const NCPIP_REQUEST: &[u8; 4] = b"DmdT";
const NCPIP_REPLY: &[u8; 4] = b"tNcP";
const NCPIP_VERSION: u32 = 1;
const NCPIP_REPLY_BUFFER: u32 = 4098;

/// Type, sequence, connection low, task, connection high: common to every NCP packet.
fn header(kind: u16, seq: u8, connection: u16, task: u8) -> Vec<u8> {
    let [conn_high, conn_low] = connection.to_be_bytes();
    let mut h = Vec::new();
    h.u16(kind).u8(seq).u8(conn_low).u8(task).u8(conn_high);
    h
}

/// Create Service Connection (0x1111) as Linux ncpfs sends it: connection 0xFFFF, function 0.
pub fn create_connection(seq: u8, task: u8) -> Vec<u8> {
    let mut p = header(TYPE_CREATE_CONNECTION, seq, CONNECTION_NONE, task);
    p.u8(0);
    p
}

/// Destroy Service Connection (0x5555).
pub fn destroy_connection(seq: u8, connection: u16, task: u8) -> Vec<u8> {
    let mut p = header(TYPE_DESTROY_CONNECTION, seq, connection, task);
    p.u8(0);
    p
}

/// Service request (0x2222) for a function without subfunctions.
pub fn request(seq: u8, connection: u16, task: u8, function: u8, data: &[u8]) -> Vec<u8> {
    let mut p = header(TYPE_REQUEST, seq, connection, task);
    p.u8(function).bytes(data);
    p
}

/// Service request for a function whose subfunction follows a 2-byte SubFuncStrucLen
/// (counting the subfunction byte and its parameters), as function 23 does.
pub fn request_subfunction(
    seq: u8,
    connection: u16,
    task: u8,
    function: u8,
    subfunction: u8,
    params: &[u8],
) -> Vec<u8> {
    let mut data = Vec::new();
    data.u16(len16(1 + params.len()))
        .u8(subfunction)
        .bytes(params);
    request(seq, connection, task, function, &data)
}

/// Read Property Value (23/61) of a bindery object, e.g. a file server's `NET_ADDRESS`.
pub fn read_property_value(
    seq: u8,
    connection: u16,
    task: u8,
    object_type: u16,
    object_name: &str,
    segment: u8,
    property_name: &str,
) -> Vec<u8> {
    let mut params = Vec::new();
    params.u16(object_type);
    length_prefixed(&mut params, object_name, 48);
    params.u8(segment);
    length_prefixed(&mut params, property_name, 16);
    request_subfunction(
        seq,
        connection,
        task,
        FUNCTION_BINDERY,
        SUBFUNCTION_READ_PROPERTY_VALUE,
        &params,
    )
}

fn length_prefixed(out: &mut Vec<u8>, text: &str, max: usize) {
    assert!(
        (1..=max).contains(&text.len()),
        "{text:?} must be 1..={max} bytes"
    );
    out.u8(text.len() as u8).bytes(text.as_bytes());
}

/// Service reply (0x3333): completion code, connection status, then `data`.
pub fn reply(
    seq: u8,
    connection: u16,
    task: u8,
    completion: u8,
    status: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut p = header(TYPE_REPLY, seq, connection, task);
    p.u8(completion).u8(status).bytes(data);
    p
}

/// Successful Read Property Value reply: the 128-byte segment (zero padded), the
/// more-segments flag and the property flags; 138 bytes in all.
pub fn read_property_value_reply(
    seq: u8,
    connection: u16,
    task: u8,
    value: &[u8],
    more_segments: bool,
    property_flags: u8,
) -> Vec<u8> {
    assert!(value.len() <= PROPERTY_SEGMENT_LEN);
    let mut data = value.to_vec();
    data.resize(PROPERTY_SEGMENT_LEN, 0);
    data.u8(if more_segments { 0xFF } else { 0 })
        .u8(property_flags);
    reply(seq, connection, task, 0, 0, &data)
}

/// NET_ADDRESS property value: network(4) node(6) socket(2).
pub fn net_address(addr: &IpxAddr) -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    v.u32(addr.net).bytes(&addr.node).u16(addr.socket);
    v
}

/// NCP/IP request framing: 'DmdT', total length, version, reply buffer size, NCP packet.
pub fn ncpip_request(ncp: &[u8]) -> Vec<u8> {
    let mut p = NCPIP_REQUEST.to_vec();
    p.u32((16 + ncp.len()) as u32)
        .u32(NCPIP_VERSION)
        .u32(NCPIP_REPLY_BUFFER)
        .bytes(ncp);
    p
}

/// NCP/IP reply framing: 'tNcP', total length, NCP reply.
pub fn ncpip_reply(ncp: &[u8]) -> Vec<u8> {
    let mut p = NCPIP_REPLY.to_vec();
    p.u32((8 + ncp.len()) as u32).bytes(ncp);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_connection_header() {
        assert_eq!(create_connection(0, 2), [0x11, 0x11, 0, 0xFF, 2, 0xFF, 0]);
    }

    #[test]
    fn read_property_value_layout() {
        let r = read_property_value(
            3,
            0x0105,
            1,
            OBJECT_FILE_SERVER,
            "FS1",
            1,
            PROPERTY_NET_ADDRESS,
        );
        assert_eq!(&r[..10], &[0x22, 0x22, 3, 0x05, 1, 0x01, 23, 0, 20, 61]);
        assert_eq!(usize::from(u16::from_be_bytes([r[7], r[8]])), r.len() - 9);
        assert_eq!(&r[10..16], &[0, 4, 3, b'F', b'S', b'1']);
        assert_eq!(r[16], 1);
        assert_eq!(r[17], 11);
        let addr = IpxAddr::new(0x0102_0304, [0, 0, 0, 0, 0, 1], 0x4007);
        let reply = read_property_value_reply(3, 0x0105, 1, &net_address(&addr), false, 0);
        assert_eq!(reply.len(), 138);
        assert_eq!(&reply[8..20], &[1, 2, 3, 4, 0, 0, 0, 0, 0, 1, 0x40, 0x07]);
    }

    #[test]
    fn ncpip_lengths() {
        let r = ncpip_request(&request(0x9B, 42, 3, 0x48, &[0; 13]));
        assert_eq!(&r[..16], b"DmdT\0\0\0\x24\0\0\0\x01\0\0\x10\x02");
        assert_eq!(&ncpip_reply(&[0; 8])[..8], b"tNcP\0\0\0\x10");
    }
}
