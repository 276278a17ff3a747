//! NetBIOS over TCP/IP (RFC 1001/1002): names, name service (UDP 137), datagram service
//! (UDP 138) and session service (TCP 139).

use crate::{Put, len16};
use std::fmt;
use std::net::Ipv4Addr;

/// Length byte of an encoded name's only label: 16 bytes become 32 half-byte characters.
const ENCODED_LABEL_LEN: u8 = 32;
/// Second-level encoded name: length byte, 32 characters, root label.
pub const ENCODED_NAME_LEN: usize = 34;
const NAME_CHARS: usize = 15;

/// A 16-byte NetBIOS name: up to 15 characters and the suffix (type) byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NbName {
    pub name: String,
    pub suffix: u8,
}

impl NbName {
    pub fn new(name: &str, suffix: u8) -> Self {
        assert!(name.len() <= NAME_CHARS, "NetBIOS name {name:?} too long");
        Self {
            name: name.to_owned(),
            suffix,
        }
    }

    /// The `*` wildcard of NBSTAT requests.
    pub fn wildcard() -> Self {
        Self::new("*", 0)
    }

    /// First-level form: the wildcard is NUL padded, every other name space padded.
    pub fn raw(&self) -> [u8; 16] {
        let pad = if self.name == "*" { 0 } else { b' ' };
        let mut raw = [pad; 16];
        raw[..self.name.len()].copy_from_slice(self.name.as_bytes());
        raw[15] = self.suffix;
        raw
    }

    /// Second-level form, 34 bytes: 0x20, each nibble as 'A' + nibble, 0x00.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Vec::with_capacity(ENCODED_NAME_LEN);
        e.push(ENCODED_LABEL_LEN);
        for b in self.raw() {
            e.push(b'A' + (b >> 4));
            e.push(b'A' + (b & 0x0F));
        }
        e.push(0);
        e
    }

    /// Inverse of [`NbName::encode`] (padding trimmed); `None` unless exactly that form.
    pub fn decode(encoded: &[u8]) -> Option<Self> {
        let [ENCODED_LABEL_LEN, chars @ .., 0] = encoded else {
            return None;
        };
        if chars.len() != 32 || chars.iter().any(|c| !(b'A'..=b'P').contains(c)) {
            return None;
        }
        let raw: Vec<u8> = chars
            .chunks(2)
            .map(|p| ((p[0] - b'A') << 4) | (p[1] - b'A'))
            .collect();
        let name = String::from_utf8_lossy(&raw[..NAME_CHARS]);
        Some(Self {
            name: name.trim_end_matches([' ', '\0']).to_owned(),
            suffix: raw[15],
        })
    }
}

/// `NAME<XX>`, as faultd's records and tshark print names.
impl fmt::Display for NbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}<{:02X}>", self.name, self.suffix)
    }
}

/// A name with the address owning it, as registration, release and refresh carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbRecord {
    pub name: NbName,
    pub addr: Ipv4Addr,
    /// Seconds.
    pub ttl: u32,
    pub nb_flags: u16,
}

impl NbRecord {
    /// A unique name of an H-node with the TTL Windows asks for (300000 s).
    pub fn new(name: NbName, addr: Ipv4Addr) -> Self {
        Self {
            name,
            addr,
            ttl: 300_000,
            nb_flags: nbns::ONT_H,
        }
    }

    pub fn ttl(mut self, ttl: u32) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn nb_flags(mut self, nb_flags: u16) -> Self {
        self.nb_flags = nb_flags;
        self
    }
}

/// Name service messages (RFC 1002 §4.2); `id` is the transaction id everywhere.
pub mod nbns {
    use super::*;

    pub const FLAG_RESPONSE: u16 = 0x8000;
    pub const FLAG_AA: u16 = 0x0400;
    pub const FLAG_TC: u16 = 0x0200;
    pub const FLAG_RD: u16 = 0x0100;
    pub const FLAG_RA: u16 = 0x0080;
    pub const FLAG_BROADCAST: u16 = 0x0010;

    pub const OPCODE_QUERY: u16 = 0;
    pub const OPCODE_REGISTRATION: u16 = 5;
    pub const OPCODE_RELEASE: u16 = 6;
    pub const OPCODE_WACK: u16 = 7;
    pub const OPCODE_REFRESH: u16 = 8;
    pub const OPCODE_REFRESH_ALT: u16 = 9;
    pub const OPCODE_MULTIHOMED_REGISTRATION: u16 = 15;

    pub const RCODE_FMT_ERR: u8 = 1;
    pub const RCODE_SRV_ERR: u8 = 2;
    pub const RCODE_NAM_ERR: u8 = 3;
    pub const RCODE_IMP_ERR: u8 = 4;
    pub const RCODE_RFS_ERR: u8 = 5;
    pub const RCODE_ACT_ERR: u8 = 6;
    pub const RCODE_CFT_ERR: u8 = 7;

    pub const TYPE_NULL: u16 = 0x000A;
    pub const TYPE_NB: u16 = 0x0020;
    pub const TYPE_NBSTAT: u16 = 0x0021;
    pub const CLASS_IN: u16 = 0x0001;

    pub const NB_GROUP: u16 = 0x8000;
    pub const ONT_B: u16 = 0x0000;
    pub const ONT_P: u16 = 0x2000;
    pub const ONT_M: u16 = 0x4000;
    pub const ONT_H: u16 = 0x6000;
    pub const NAME_ACTIVE: u16 = 0x0400;

    /// Registration and release requests point back at the question name (RFC 1002 §4.2.2).
    const POINTER_TO_QUESTION: [u8; 2] = [0xC0, 0x0C];
    const NBSTAT_STATISTICS_LEN: usize = 46;

    fn flags(opcode: u16, bits: u16) -> u16 {
        (opcode << 11) | bits
    }

    fn header(id: u16, flags: u16, [qd, an, ns, ar]: [u16; 4]) -> Vec<u8> {
        let mut h = Vec::with_capacity(12);
        h.u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
        h
    }

    fn resource(out: &mut Vec<u8>, name: &[u8], rr_type: u16, ttl: u32, rdata: &[u8]) {
        out.bytes(name)
            .u16(rr_type)
            .u16(CLASS_IN)
            .u32(ttl)
            .u16(len16(rdata.len()))
            .bytes(rdata);
    }

    fn addr_entry(nb_flags: u16, addr: Ipv4Addr) -> Vec<u8> {
        let mut e = Vec::with_capacity(6);
        e.u16(nb_flags).bytes(&addr.octets());
        e
    }

    fn question(id: u16, flags: u16, name: &NbName, q_type: u16) -> Vec<u8> {
        let mut m = header(id, flags, [1, 0, 0, 0]);
        m.bytes(&name.encode()).u16(q_type).u16(CLASS_IN);
        m
    }

    /// Question plus the compressed additional record: registration, release, refresh.
    fn name_request(id: u16, flags: u16, rec: &NbRecord) -> Vec<u8> {
        let mut m = header(id, flags, [1, 0, 0, 1]);
        m.bytes(&rec.name.encode()).u16(TYPE_NB).u16(CLASS_IN);
        let rdata = addr_entry(rec.nb_flags, rec.addr);
        resource(&mut m, &POINTER_TO_QUESTION, TYPE_NB, rec.ttl, &rdata);
        m
    }

    /// A response with one answer record under the full name.
    fn answer(id: u16, flags: u16, name: &NbName, rr_type: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut m = header(id, flags, [0, 1, 0, 0]);
        resource(&mut m, &name.encode(), rr_type, ttl, rdata);
        m
    }

    fn broadcast_bit(broadcast: bool) -> u16 {
        if broadcast { FLAG_BROADCAST } else { 0 }
    }

    /// Name query: 0x0110 broadcast, 0x0100 unicast to a WINS server.
    pub fn query(id: u16, name: &NbName, broadcast: bool) -> Vec<u8> {
        let flags = flags(OPCODE_QUERY, FLAG_RD | broadcast_bit(broadcast));
        question(id, flags, name, TYPE_NB)
    }

    /// Positive query response from an end node (0x8500) listing (NB_FLAGS, address) entries.
    pub fn query_response(
        id: u16,
        name: &NbName,
        ttl: u32,
        entries: &[(u16, Ipv4Addr)],
    ) -> Vec<u8> {
        let rdata: Vec<u8> = entries
            .iter()
            .flat_map(|(f, a)| addr_entry(*f, *a))
            .collect();
        let flags = flags(OPCODE_QUERY, FLAG_RESPONSE | FLAG_AA | FLAG_RD);
        answer(id, flags, name, TYPE_NB, ttl, &rdata)
    }

    /// Negative query response (RFC 1002 §4.2.14): NULL record, usually rcode NAM_ERR.
    pub fn negative_query_response(id: u16, name: &NbName, rcode: u8) -> Vec<u8> {
        let flags = flags(OPCODE_QUERY, FLAG_RESPONSE | FLAG_AA | FLAG_RD) | u16::from(rcode);
        answer(id, flags, name, TYPE_NULL, 0, &[])
    }

    /// Node status request: 0x0000 unicast, 0x0010 broadcast; `name` is usually the wildcard.
    pub fn nbstat_request(id: u16, name: &NbName, broadcast: bool) -> Vec<u8> {
        question(
            id,
            flags(OPCODE_QUERY, broadcast_bit(broadcast)),
            name,
            TYPE_NBSTAT,
        )
    }

    /// Node status response (0x8400): the name table with NAME_FLAGS, then 46 bytes of
    /// statistics of which, as Windows sends them, only the unit id (MAC) is filled in.
    pub fn nbstat_response(
        id: u16,
        name: &NbName,
        table: &[(NbName, u16)],
        unit_id: [u8; 6],
    ) -> Vec<u8> {
        let mut rdata = vec![u8::try_from(table.len()).expect("too many names")];
        for (n, name_flags) in table {
            rdata.bytes(&n.raw()).u16(*name_flags);
        }
        let stats_at = rdata.len();
        rdata.bytes(&unit_id);
        rdata.resize(stats_at + NBSTAT_STATISTICS_LEN, 0);
        answer(
            id,
            flags(OPCODE_QUERY, FLAG_RESPONSE | FLAG_AA),
            name,
            TYPE_NBSTAT,
            0,
            &rdata,
        )
    }

    /// Registration request: 0x2900 unicast to WINS, 0x2910 broadcast.
    pub fn registration(id: u16, rec: &NbRecord, broadcast: bool) -> Vec<u8> {
        name_request(
            id,
            flags(OPCODE_REGISTRATION, FLAG_RD | broadcast_bit(broadcast)),
            rec,
        )
    }

    /// Name overwrite demand (0x2810): the broadcast sent after three unanswered ones.
    pub fn overwrite_demand(id: u16, rec: &NbRecord) -> Vec<u8> {
        name_request(id, flags(OPCODE_REGISTRATION, FLAG_BROADCAST), rec)
    }

    /// Multi-homed registration request (Microsoft opcode 15, 0x7900).
    pub fn multihomed_registration(id: u16, rec: &NbRecord) -> Vec<u8> {
        name_request(id, flags(OPCODE_MULTIHOMED_REGISTRATION, FLAG_RD), rec)
    }

    /// Registration response 0xAD80 | rcode (0 positive; e.g. ACT_ERR when the name is taken).
    pub fn registration_response(id: u16, rec: &NbRecord, rcode: u8) -> Vec<u8> {
        let bits = FLAG_RESPONSE | FLAG_AA | FLAG_RD | FLAG_RA | u16::from(rcode);
        record_response(id, flags(OPCODE_REGISTRATION, bits), rec)
    }

    fn record_response(id: u16, flags: u16, rec: &NbRecord) -> Vec<u8> {
        answer(
            id,
            flags,
            &rec.name,
            TYPE_NB,
            rec.ttl,
            &addr_entry(rec.nb_flags, rec.addr),
        )
    }

    /// WACK (0xBC00): "wait `ttl` seconds"; RDATA echoes the request's flags word.
    pub fn wack(id: u16, name: &NbName, ttl: u32, request_flags: u16) -> Vec<u8> {
        let flags = flags(OPCODE_WACK, FLAG_RESPONSE | FLAG_AA);
        answer(id, flags, name, TYPE_NB, ttl, &request_flags.to_be_bytes())
    }

    /// Release request: 0x3000 unicast, 0x3010 broadcast.
    pub fn release(id: u16, rec: &NbRecord, broadcast: bool) -> Vec<u8> {
        name_request(id, flags(OPCODE_RELEASE, broadcast_bit(broadcast)), rec)
    }

    /// Release response 0xB400 | rcode.
    pub fn release_response(id: u16, rec: &NbRecord, rcode: u8) -> Vec<u8> {
        record_response(
            id,
            flags(OPCODE_RELEASE, FLAG_RESPONSE | FLAG_AA) | u16::from(rcode),
            rec,
        )
    }

    /// Refresh request, opcode 8 (0x4000) as Windows sends it.
    pub fn refresh(id: u16, rec: &NbRecord) -> Vec<u8> {
        name_request(id, flags(OPCODE_REFRESH, 0), rec)
    }

    /// Refresh request with the opcode 9 of RFC 1002's §4.2.4 diagram (0x4800).
    pub fn refresh_alternate(id: u16, rec: &NbRecord) -> Vec<u8> {
        name_request(id, flags(OPCODE_REFRESH_ALT, 0), rec)
    }

    /// Refresh response 0xC580 | rcode.
    pub fn refresh_response(id: u16, rec: &NbRecord, rcode: u8) -> Vec<u8> {
        let bits = FLAG_RESPONSE | FLAG_AA | FLAG_RD | FLAG_RA | u16::from(rcode);
        record_response(id, flags(OPCODE_REFRESH, bits), rec)
    }
}

/// Datagram service (RFC 1002 §4.4).
pub mod nbdgm {
    use super::*;

    pub const DIRECT_UNIQUE: u8 = 0x10;
    pub const DIRECT_GROUP: u8 = 0x11;
    pub const BROADCAST: u8 = 0x12;
    /// FLAGS: first fragment, sent by a B-node, no more fragments.
    const FLAGS_FIRST_B_NODE: u8 = 0x02;

    /// Direct-group datagram from `src_ip:src_port` (the NetBIOS sender, normally port 138).
    pub fn direct_group(
        id: u16,
        src_ip: Ipv4Addr,
        src_port: u16,
        src: &NbName,
        dst: &NbName,
        data: &[u8],
    ) -> Vec<u8> {
        let (src, dst) = (src.encode(), dst.encode());
        let mut d = Vec::new();
        d.u8(DIRECT_GROUP)
            .u8(FLAGS_FIRST_B_NODE)
            .u16(id)
            .bytes(&src_ip.octets())
            .u16(src_port)
            .u16(len16(src.len() + dst.len() + data.len()))
            .u16(0) // packet offset
            .bytes(&src)
            .bytes(&dst)
            .bytes(data);
        d
    }
}

/// Session service (RFC 1002 §4.3): 4-byte header TYPE FLAGS LENGTH(17 bits).
pub mod nbss {
    use super::*;

    pub const SESSION_MESSAGE: u8 = 0x00;
    pub const SESSION_REQUEST: u8 = 0x81;
    pub const POSITIVE_RESPONSE: u8 = 0x82;
    pub const NEGATIVE_RESPONSE: u8 = 0x83;
    pub const RETARGET_RESPONSE: u8 = 0x84;
    pub const KEEPALIVE: u8 = 0x85;

    pub const NOT_LISTENING_ON_CALLED: u8 = 0x80;
    pub const NOT_LISTENING_FOR_CALLING: u8 = 0x81;
    pub const CALLED_NOT_PRESENT: u8 = 0x82;
    pub const INSUFFICIENT_RESOURCES: u8 = 0x83;
    pub const UNSPECIFIED_ERROR: u8 = 0x8F;

    const FLAG_LENGTH_EXTENSION: u8 = 0x01;

    fn packet(kind: u8, trailer: &[u8]) -> Vec<u8> {
        assert!(trailer.len() < 1 << 17, "NBSS length exceeds 17 bits");
        let extension = if trailer.len() > 0xFFFF {
            FLAG_LENGTH_EXTENSION
        } else {
            0
        };
        let mut p = vec![kind, extension];
        p.u16(trailer.len() as u16).bytes(trailer);
        p
    }

    /// `*SMBSERVER<20>` is the called name every CIFS server must accept.
    pub fn smbserver() -> NbName {
        NbName::new("*SMBSERVER", 0x20)
    }

    pub fn session_request(called: &NbName, calling: &NbName) -> Vec<u8> {
        packet(
            SESSION_REQUEST,
            &[called.encode(), calling.encode()].concat(),
        )
    }

    pub fn positive_response() -> Vec<u8> {
        packet(POSITIVE_RESPONSE, &[])
    }

    pub fn negative_response(error: u8) -> Vec<u8> {
        packet(NEGATIVE_RESPONSE, &[error])
    }

    pub fn retarget_response(ip: Ipv4Addr, port: u16) -> Vec<u8> {
        let mut t = ip.octets().to_vec();
        t.u16(port);
        packet(RETARGET_RESPONSE, &t)
    }

    pub fn keepalive() -> Vec<u8> {
        packet(KEEPALIVE, &[])
    }

    pub fn session_message(payload: &[u8]) -> Vec<u8> {
        packet(SESSION_MESSAGE, payload)
    }
}

/// Unicast WINS registrations from `clients` hosts of 10.1/16 to 10.0.0.1, one frame each
/// (a name of its own per client): a load that gives the XDP program an event per frame
/// and the `wins_backup_swap` detector a client per frame.
pub fn registration_flood(clients: u16) -> Vec<Vec<u8>> {
    use crate::{Carrier as _, Eth, Network as _};
    let server = Ipv4Addr::new(10, 0, 0, 1);
    (0..clients)
        .map(|i| {
            let client = Ipv4Addr::from(0x0a01_0000 | u32::from(i));
            let rec = NbRecord::new(NbName::new(&format!("HOST{i}"), 0x00), client);
            Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
                .ipv4(client, server)
                .udp(137, 137)
                .payload(&nbns::registration(i, &rec, false))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_observed_names() {
        let smb = nbss::smbserver().encode();
        assert_eq!(&smb[1..33], b"CKFDENECFDEFFCFGEFFCCACACACACACA");
        assert_eq!((smb[0], smb[33], smb.len()), (0x20, 0, ENCODED_NAME_LEN));
        let calling = NbName::new("HAXOR-76BF4B1CE", 0).encode();
        assert_eq!(&calling[1..33], b"EIEBFIEPFCCNDHDGECEGDEECDBEDEFAA");
        assert_eq!(
            &NbName::wildcard().encode()[1..33],
            b"CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
    }

    #[test]
    fn name_round_trip() {
        for n in [
            NbName::new("WIN-HCEGSPNCVSK", 0),
            NbName::new("A", 0x1D),
            NbName::wildcard(),
        ] {
            assert_eq!(NbName::decode(&n.encode()), Some(n.clone()));
        }
        assert_eq!(NbName::new("DTW4", 0x20).to_string(), "DTW4<20>");
        assert_eq!(NbName::decode(b"\x20AAAA\x00"), None);
    }

    #[test]
    fn registration_matches_observed_bytes() {
        // anoop.pcap frame 67.
        let rec = NbRecord::new(
            NbName::new("WIN-HCEGSPNCVSK", 0),
            Ipv4Addr::new(192, 168, 22, 129),
        );
        let m = nbns::registration(0xC817, &rec, false);
        assert_eq!(m.len(), 68);
        assert_eq!(&m[..12], &[0xC8, 0x17, 0x29, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&m[46..50], &[0, 0x20, 0, 1]);
        assert_eq!(
            &m[50..],
            &[
                0xC0, 0x0C, 0, 0x20, 0, 1, 0, 4, 0x93, 0xE0, 0, 6, 0x60, 0, 192, 168, 22, 129
            ]
        );
        assert_eq!(nbns::registration(1, &rec, true)[2..4], [0x29, 0x10]);
    }

    #[test]
    fn flag_words() {
        let rec = NbRecord::new(NbName::new("X", 0), Ipv4Addr::LOCALHOST);
        let flags = |m: Vec<u8>| u16::from_be_bytes([m[2], m[3]]);
        let n = &rec.name;
        assert_eq!(flags(nbns::query(1, n, true)), 0x0110);
        assert_eq!(flags(nbns::query(1, n, false)), 0x0100);
        assert_eq!(flags(nbns::nbstat_request(1, n, false)), 0x0000);
        assert_eq!(flags(nbns::query_response(1, n, 0, &[])), 0x8500);
        assert_eq!(flags(nbns::nbstat_response(1, n, &[], [0; 6])), 0x8400);
        assert_eq!(flags(nbns::registration_response(1, &rec, 0)), 0xAD80);
        assert_eq!(flags(nbns::registration_response(1, &rec, 6)), 0xAD86);
        assert_eq!(flags(nbns::overwrite_demand(1, &rec)), 0x2810);
        assert_eq!(flags(nbns::multihomed_registration(1, &rec)), 0x7900);
        assert_eq!(flags(nbns::wack(1, n, 2, 0x2900)), 0xBC00);
        assert_eq!(flags(nbns::release(1, &rec, true)), 0x3010);
        assert_eq!(flags(nbns::release_response(1, &rec, 0)), 0xB400);
        assert_eq!(flags(nbns::refresh(1, &rec)), 0x4000);
        assert_eq!(flags(nbns::refresh_alternate(1, &rec)), 0x4800);
    }

    #[test]
    fn nbstat_lengths() {
        assert_eq!(
            nbns::nbstat_request(0x8028, &NbName::wildcard(), false).len(),
            50
        );
        let table = [
            (NbName::new("A", 0), 0x4400),
            (NbName::new("WORKGROUP", 0), 0xC400),
        ];
        let r = nbns::nbstat_response(1, &NbName::wildcard(), &table, [0; 6]);
        let rdlength = u16::from_be_bytes([r[54], r[55]]);
        assert_eq!(usize::from(rdlength), 1 + 2 * 18 + 46);
        assert_eq!(r.len(), 56 + usize::from(rdlength));
    }

    #[test]
    fn session_packets() {
        let req = nbss::session_request(&nbss::smbserver(), &NbName::new("HAXOR-76BF4B1CE", 0));
        assert_eq!(&req[..4], &[0x81, 0, 0, 0x44]);
        assert_eq!(nbss::positive_response(), [0x82, 0, 0, 0]);
        assert_eq!(
            nbss::negative_response(nbss::CALLED_NOT_PRESENT),
            [0x83, 0, 0, 1, 0x82]
        );
        assert_eq!(nbss::keepalive(), [0x85, 0, 0, 0]);
        let big = nbss::session_message(&vec![0; 70_000]);
        assert_eq!(&big[..4], &[0, 1, 0x11, 0x70]);
    }
}
