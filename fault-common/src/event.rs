//! Events: the few frames a stateful detector needs, handed to userspace through the event
//! queue. A record goes on the queue whole or not at all, so a full queue is a counted
//! drop rather than a partial write.

use core::mem::offset_of;

use bytemuck::{Pod, Zeroable};

/// What an event's body holds.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    Nbns = 1,
    Nbss = 2,
    Ncp = 3,
    SapEntry = 4,
    Pptp = 5,
    Tcp = 6,
    Udp = 7,
    IcmpUnreachable = 8,
    /// Only in the event queue: a whole SAP response ([`SapResponse`]), which userspace reads as
    /// one `SapEntry` event per server ([`decode`]).
    SapResponse = 9,
    /// Only in the event queue: a TCP segment's PPTP control messages ([`PptpSegment`]),
    /// which userspace reads as one `Pptp` event per message ([`decode`]).
    PptpSegment = 10,
}

impl TryFrom<u8> for EventKind {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        Ok(match v {
            1 => EventKind::Nbns,
            2 => EventKind::Nbss,
            3 => EventKind::Ncp,
            4 => EventKind::SapEntry,
            5 => EventKind::Pptp,
            6 => EventKind::Tcp,
            7 => EventKind::Udp,
            8 => EventKind::IcmpUnreachable,
            9 => EventKind::SapResponse,
            10 => EventKind::PptpSegment,
            other => return Err(other),
        })
    }
}

/// Address family of `src`/`dst` in the header (and of quoted addresses in ICMP bodies).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    None = 0,
    /// IPv4 address in the first 4 bytes.
    Ipv4 = 4,
    Ipv6 = 6,
    /// IPX network (4) + node (6) in the first 10 bytes; the socket is the port.
    Ipx = 17,
}

impl TryFrom<u8> for Family {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        Ok(match v {
            0 => Family::None,
            4 => Family::Ipv4,
            6 => Family::Ipv6,
            17 => Family::Ipx,
            other => return Err(other),
        })
    }
}

/// How an IPX packet was framed on Ethernet (the `encap` header byte; 0 for IP).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpxEncap {
    None = 0,
    EthernetII = 1,
    Raw8023 = 2,
    Llc = 3,
    Snap = 4,
}

impl TryFrom<u8> for IpxEncap {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        Ok(match v {
            0 => IpxEncap::None,
            1 => IpxEncap::EthernetII,
            2 => IpxEncap::Raw8023,
            3 => IpxEncap::Llc,
            4 => IpxEncap::Snap,
            other => return Err(other),
        })
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct EventHeader {
    /// Packet time: live, the kernel's monotonic clock as the packet clock's tick last
    /// wrote it (up to 4 ms old; the coarse clock when nothing ticks), the capture's
    /// timestamp in replay.
    pub ts_ns: u64,
    pub frame_len: u32,
    pub kind: u8,
    pub family: u8,
    pub encap: u8,
    /// Number of 802.1Q/802.1ad tags in front of the network header.
    pub vlans: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    /// Innermost VLAN id (0 when untagged).
    pub vlan_id: u16,
    /// `LINK_GROUP_DST` when the frame went to a broadcast or multicast MAC address: the
    /// one sure sign of a broadcast, since IP cannot tell a subnet's broadcast address.
    pub link: u8,
    pub _pad: u8,
}

pub const LINK_GROUP_DST: u8 = 1;

pub const BODY_LEN: usize = 96;

/// NBNS (UDP 137). The name is the question's, or the first answer's when there is no
/// question (responses); `nb_*` come from the first NB resource record (additional record
/// in registrations, answer in responses).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct NbnsBody {
    pub txid: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
    /// Question type, or the first answer's RR type.
    pub rtype: u16,
    /// `NAME_OK` when `name` holds a decoded first-level name.
    pub name_status: u8,
    /// `RR_OK` when `nb_flags`/`nb_addr`/`ttl` hold the first NB record's data.
    pub rr_status: u8,
    pub name: [u8; 16],
    pub ttl: u32,
    pub nb_flags: u16,
    pub _pad0: u16,
    pub nb_addr: [u8; 4],
    pub _pad1: [u8; BODY_LEN - 44],
}

pub const NAME_OK: u8 = 1;
pub const NAME_MALFORMED: u8 = 2;
pub const RR_OK: u8 = 1;

/// NBSS (TCP 139) control message: anything but a session message (type 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct NbssBody {
    pub msg_type: u8,
    pub flags: u8,
    /// Negative response error code.
    pub error: u8,
    /// Bit 0: called name decoded; bit 1: calling name decoded.
    pub names: u8,
    pub length: u32,
    pub called: [u8; 16],
    pub calling: [u8; 16],
    pub retarget_ip: [u8; 4],
    pub retarget_port: u16,
    pub _pad: [u8; BODY_LEN - 46],
}

/// NCP over IPX. `function` is the request's function code or the reply's completion code.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct NcpBody {
    pub req_type: u16,
    pub seq: u8,
    pub conn_low: u8,
    pub task: u8,
    pub conn_high: u8,
    pub function: u8,
    /// Reply: connection status.
    pub status: u8,
    pub subfunction: u8,
    /// `NCP_HAS_SUBFUNCTION` | `NCP_HAS_RPV_REQUEST` | `NCP_HAS_REPLY_VALUE`.
    pub detail: u8,
    pub object_type: u16,
    pub segment: u8,
    pub object_name_len: u8,
    pub property_name_len: u8,
    pub more_segments: u8,
    pub property_flags: u8,
    pub _pad0: [u8; 3],
    pub object_name: [u8; 48],
    pub property_name: [u8; 16],
    /// First 12 bytes of a reply's property value (a NET_ADDRESS is exactly 12).
    pub value: [u8; 12],
}

impl NcpBody {
    /// The object name's bytes: at most the field, whatever the length says (a record
    /// from the queue is data, not a promise).
    pub fn object_name(&self) -> &[u8] {
        &self.object_name[..usize::from(self.object_name_len).min(self.object_name.len())]
    }

    /// The property name's bytes, bounded as [`NcpBody::object_name`] is.
    pub fn property_name(&self) -> &[u8] {
        let len = usize::from(self.property_name_len).min(self.property_name.len());
        &self.property_name[..len]
    }
}

pub const NCP_HAS_SUBFUNCTION: u8 = 1;
pub const NCP_HAS_RPV_REQUEST: u8 = 2;
pub const NCP_HAS_REPLY_VALUE: u8 = 4;

/// One server entry of a SAP general/nearest response (one event per entry, made from a
/// [`SapResponse`] record by [`decode`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct SapEntryBody {
    pub op: u16,
    pub server_type: u16,
    pub index: u8,
    pub _pad0: u8,
    pub socket: u16,
    pub network: [u8; 4],
    pub node: [u8; 6],
    pub hops: u16,
    pub name: [u8; 48],
    pub _pad1: [u8; BODY_LEN - 68],
}

/// A PPTP control message's fields (TCP 1723): a `Pptp` event's body holds one, a
/// [`PptpSegment`] record one per message.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PptpMessage {
    pub msg_type: u16,
    pub length: u16,
    /// Call ID (OCRQ, OCRP, CCRQ, CDN) or peer call id (SLI).
    pub call_id: u16,
    /// OCRP: the peer's (client's) call id.
    pub peer_call_id: u16,
    /// Result code (SCCRP, OCRP, CDN, StopCCRP, ...) or StopCCRQ reason.
    pub result: u8,
    pub error: u8,
    pub cause: u16,
}

/// PPTP control message (TCP 1723).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct PptpBody {
    pub msg: PptpMessage,
    pub _pad: [u8; BODY_LEN - size_of::<PptpMessage>()],
}

impl From<PptpMessage> for PptpBody {
    fn from(msg: PptpMessage) -> Self {
        PptpBody {
            msg,
            _pad: [0; BODY_LEN - size_of::<PptpMessage>()],
        }
    }
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// TCP SYN / SYN-ACK / FIN / RST on a watched port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct TcpBody {
    pub flags: u8,
    pub _pad0: u8,
    pub payload_len: u16,
    pub seq: u32,
    pub ack: u32,
    pub _pad: [u8; BODY_LEN - 12],
}

/// A UDP datagram on an SMS port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct UdpBody {
    pub payload_len: u16,
    pub _pad: [u8; BODY_LEN - 2],
}

/// ICMP/ICMPv6 destination unreachable quoting a datagram to or from a watched port.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct IcmpBody {
    pub icmp_type: u8,
    pub code: u8,
    pub quoted_family: u8,
    /// IP protocol of the quoted datagram (6 TCP, 17 UDP).
    pub quoted_proto: u8,
    pub quoted_src: [u8; 16],
    pub quoted_dst: [u8; 16],
    pub quoted_sport: u16,
    pub quoted_dport: u16,
    /// `QUOTED_NBNS` when the quote reaches an NBNS message's question type: then the
    /// three fields below say which request the error answers.
    pub quoted_app: u8,
    pub _pad0: u8,
    pub quoted_txid: u16,
    pub quoted_flags: u16,
    pub quoted_rtype: u16,
    pub _pad: [u8; BODY_LEN - 48],
}

pub const QUOTED_NBNS: u8 = 1;

/// Every body variant has the same size, so the union has no padding and any bit pattern
/// is a valid value of every field. Aligned to 8 so it can be cleared a word at a time.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub union EventBody {
    pub raw: [u8; BODY_LEN],
    pub nbns: NbnsBody,
    pub nbss: NbssBody,
    pub ncp: NcpBody,
    pub sap: SapEntryBody,
    pub pptp: PptpBody,
    pub tcp: TcpBody,
    pub udp: UdpBody,
    pub icmp: IcmpBody,
}

const _: () = {
    assert!(size_of::<NbnsBody>() == BODY_LEN);
    assert!(size_of::<NbssBody>() == BODY_LEN);
    assert!(size_of::<NcpBody>() == BODY_LEN);
    assert!(size_of::<SapEntryBody>() == BODY_LEN);
    assert!(size_of::<PptpBody>() == BODY_LEN);
    assert!(size_of::<TcpBody>() == BODY_LEN);
    assert!(size_of::<UdpBody>() == BODY_LEN);
    assert!(size_of::<IcmpBody>() == BODY_LEN);
    assert!(size_of::<EventHeader>() == 56);
    assert!(size_of::<Event>() == 56 + BODY_LEN);
};

// SAFETY: every field is Pod and exactly BODY_LEN bytes (asserted above): no padding, and
// every bit pattern is valid for every field.
unsafe impl Zeroable for EventBody {}
unsafe impl Pod for EventBody {}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Event {
    pub hdr: EventHeader,
    pub body: EventBody,
}

/// Typed, checked views of the body: the kind tag decides which one is valid.
impl Event {
    pub fn kind(&self) -> Result<EventKind, u8> {
        EventKind::try_from(self.hdr.kind)
    }
    pub fn nbns(&self) -> Option<&NbnsBody> {
        // SAFETY (all accessors): every variant is Pod, so any bytes are a valid value.
        (self.hdr.kind == EventKind::Nbns as u8).then_some(unsafe { &self.body.nbns })
    }
    pub fn nbss(&self) -> Option<&NbssBody> {
        (self.hdr.kind == EventKind::Nbss as u8).then_some(unsafe { &self.body.nbss })
    }
    pub fn ncp(&self) -> Option<&NcpBody> {
        (self.hdr.kind == EventKind::Ncp as u8).then_some(unsafe { &self.body.ncp })
    }
    pub fn sap(&self) -> Option<&SapEntryBody> {
        (self.hdr.kind == EventKind::SapEntry as u8).then_some(unsafe { &self.body.sap })
    }
    pub fn pptp(&self) -> Option<&PptpMessage> {
        (self.hdr.kind == EventKind::Pptp as u8).then_some(unsafe { &self.body.pptp.msg })
    }
    pub fn tcp(&self) -> Option<&TcpBody> {
        (self.hdr.kind == EventKind::Tcp as u8).then_some(unsafe { &self.body.tcp })
    }
    pub fn udp(&self) -> Option<&UdpBody> {
        (self.hdr.kind == EventKind::Udp as u8).then_some(unsafe { &self.body.udp })
    }
    pub fn icmp(&self) -> Option<&IcmpBody> {
        (self.hdr.kind == EventKind::IcmpUnreachable as u8).then_some(unsafe { &self.body.icmp })
    }
    pub fn raw_body(&self) -> &[u8; BODY_LEN] {
        // SAFETY: the raw byte view is valid for any contents.
        unsafe { &self.body.raw }
    }
}

/// Servers in one SAP response: NetWare sends up to 7; one spare.
pub const SAP_MAX_ENTRIES: usize = 8;
/// A SAP server entry on the wire (Novell's SAP): type, name, network, node, socket, hops.
pub const SAP_ENTRY_LEN: usize = 64;

/// A SAP general/nearest response as the XDP program hands it over: the entries' bytes
/// as they came, in one queue record (a record costs more than copying 512 bytes), and
/// decoded in userspace by [`decode`].
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct SapResponse {
    /// `kind` is [`EventKind::SapResponse`].
    pub hdr: EventHeader,
    /// 2 (general) or 4 (nearest).
    pub op: u16,
    /// Complete entries in `entries`.
    pub count: u8,
    pub _pad: [u8; 5],
    pub entries: [u8; SAP_MAX_ENTRIES * SAP_ENTRY_LEN],
}

/// A TCP segment's PPTP control messages as the XDP program hands them over: one record
/// for the segment (a record costs more than its messages' fields), decoded in userspace
/// by [`decode`] into one `Pptp` event per message, in order.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct PptpSegment {
    /// `kind` is [`EventKind::PptpSegment`].
    pub hdr: EventHeader,
    /// Messages in `messages`.
    pub count: u8,
    pub _pad: [u8; 7],
    pub messages: [PptpMessage; PPTP_MAX_MESSAGES],
}

/// PPTP control messages parsed per TCP segment. The shortest is 16 bytes (Echo-Request,
/// Call-Clear-Request), so a 1460-byte segment could hold 91, but senders coalesce what
/// one burst of activity writes: a message or two behind an unacknowledged one, or, the
/// largest burst, a server dropping every call at once, whose 148-byte
/// Call-Disconnect-Notifies fill a full segment with 9, then its
/// Stop-Control-Connection-Request: 10. Each turn is one more pass over the message parser
/// for the verifier, so the bound is what real traffic needs, not what a segment could
/// hold. The bytes after the last message parsed count the segment in
/// `pptp.control.unparsed`, and give no class or event of their own.
pub const PPTP_MAX_MESSAGES: usize = 10;

/// A record the XDP program writes to the event queue.
pub trait Record: Pod {
    fn header(&mut self) -> &mut EventHeader;
    /// How many events the record holds (what `STATS.events` counts).
    fn events(&self) -> u64;
    /// How many of its bytes go on the queue (the rest is unused room).
    fn ring_len(&self) -> usize {
        size_of::<Self>()
    }
}

impl Record for Event {
    #[inline(always)]
    fn header(&mut self) -> &mut EventHeader {
        &mut self.hdr
    }
    #[inline(always)]
    fn events(&self) -> u64 {
        1
    }
    /// Up to its body's last field: most events take two queue chunks, not three.
    #[inline(always)]
    fn ring_len(&self) -> usize {
        size_of::<EventHeader>() + body_len(self.hdr.kind)
    }
}

/// The bytes of a body of `kind` that hold its fields; the padding after them does not
/// go on the queue, and reads back as zeros ([`decode`]).
#[inline(always)]
const fn body_len(kind: u8) -> usize {
    const NBNS: u8 = EventKind::Nbns as u8;
    const NBSS: u8 = EventKind::Nbss as u8;
    const TCP: u8 = EventKind::Tcp as u8;
    const UDP: u8 = EventKind::Udp as u8;
    const ICMP: u8 = EventKind::IcmpUnreachable as u8;
    const PPTP: u8 = EventKind::Pptp as u8;
    match kind {
        NBNS => offset_of!(NbnsBody, _pad1),
        NBSS => offset_of!(NbssBody, _pad),
        TCP => offset_of!(TcpBody, _pad),
        UDP => offset_of!(UdpBody, _pad),
        ICMP => offset_of!(IcmpBody, _pad),
        PPTP => size_of::<PptpMessage>(),
        _ => BODY_LEN,
    }
}

/// [`Record`] for a record of a header, a `count`, and that many items of `$item` bytes
/// in `$items` (at most `$max`): it holds `count` events, and goes on the queue up to its
/// last item.
macro_rules! array_record {
    ($ty:ty, $items:ident, $max:expr, $item:expr) => {
        impl Record for $ty {
            #[inline(always)]
            fn header(&mut self) -> &mut EventHeader {
                &mut self.hdr
            }
            #[inline(always)]
            fn events(&self) -> u64 {
                u64::from(self.count)
            }
            #[inline(always)]
            fn ring_len(&self) -> usize {
                offset_of!($ty, $items) + usize::from(self.count).min($max) * $item
            }
        }
    };
}

array_record!(SapResponse, entries, SAP_MAX_ENTRIES, SAP_ENTRY_LEN);
array_record!(
    PptpSegment,
    messages,
    PPTP_MAX_MESSAGES,
    size_of::<PptpMessage>()
);

/// A [`PptpSegment`] up to its first message.
const PPTP_SEGMENT_FIXED: usize = offset_of!(PptpSegment, messages);

/// A [`SapResponse`] up to its first entry.
const SAP_RESPONSE_FIXED: usize = offset_of!(SapResponse, entries);

/// The events in one queue record, in order: the record itself, a SAP response's
/// entries, or a PPTP segment's messages. A record too short for its kind yields nothing.
/// Shared by every reader of the queue (the daemon, the kernel engine) and by the user
/// engine, so all see the same events.
pub fn decode(record: &[u8], mut event: impl FnMut(Event)) {
    let Some(&kind) = record.get(offset_of!(EventHeader, kind)) else {
        return;
    };
    match kind {
        k if k == EventKind::SapResponse as u8 => sap_entries(record, event),
        k if k == EventKind::PptpSegment as u8 => pptp_messages(record, event),
        _ if record.len() >= size_of::<EventHeader>() + body_len(kind) => {
            event(array_record::<Event>(record, 0, 1).0)
        }
        _ => {}
    }
}

/// A record of type `T` from the bytes that went on the queue (the rest zeros), and how
/// many items (of `item` bytes each, from `fixed` on) they hold whole.
fn array_record<T: Pod>(record: &[u8], fixed: usize, item: usize) -> (T, usize) {
    let mut r = T::zeroed();
    let n = record.len().min(size_of::<T>());
    bytemuck::bytes_of_mut(&mut r)[..n].copy_from_slice(&record[..n]);
    (r, n.saturating_sub(fixed) / item)
}

/// An event with `hdr`'s addresses and times, of `kind`, with an empty body.
fn event_of(hdr: EventHeader, kind: EventKind) -> Event {
    let mut ev = Event {
        hdr,
        body: EventBody { raw: [0; BODY_LEN] },
    };
    ev.hdr.kind = kind as u8;
    ev
}

fn sap_entries(record: &[u8], mut event: impl FnMut(Event)) {
    let (r, present) = array_record::<SapResponse>(record, SAP_RESPONSE_FIXED, SAP_ENTRY_LEN);
    let mut ev = event_of(r.hdr, EventKind::SapEntry);
    for (i, e) in r
        .entries
        .chunks_exact(SAP_ENTRY_LEN)
        .take(usize::from(r.count).min(present))
        .enumerate()
    {
        let mut body = SapEntryBody::zeroed();
        body.op = r.op;
        body.index = i as u8;
        body.server_type = u16::from_be_bytes([e[0], e[1]]);
        body.name.copy_from_slice(&e[2..50]);
        body.network.copy_from_slice(&e[50..54]);
        body.node.copy_from_slice(&e[54..60]);
        body.socket = u16::from_be_bytes([e[60], e[61]]);
        body.hops = u16::from_be_bytes([e[62], e[63]]);
        ev.body.sap = body;
        event(ev);
    }
}

fn pptp_messages(record: &[u8], mut event: impl FnMut(Event)) {
    let (r, present) =
        array_record::<PptpSegment>(record, PPTP_SEGMENT_FIXED, size_of::<PptpMessage>());
    let mut ev = event_of(r.hdr, EventKind::Pptp);
    for msg in r.messages.iter().take(usize::from(r.count).min(present)) {
        ev.body.pptp = (*msg).into();
        event(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sap_record(count: u8) -> SapResponse {
        let mut r = SapResponse::zeroed();
        r.hdr.kind = EventKind::SapResponse as u8;
        r.hdr.ts_ns = 42;
        r.op = 2;
        r.count = count;
        for (i, e) in r.entries.chunks_exact_mut(SAP_ENTRY_LEN).enumerate() {
            e[..2].copy_from_slice(&4u16.to_be_bytes());
            e[2] = b'A' + i as u8;
            e[50..54].copy_from_slice(&[0, 0, 0, i as u8]);
            e[54..60].copy_from_slice(&[2, 0, 0, 0, 0, i as u8]);
            e[60..62].copy_from_slice(&0x0451u16.to_be_bytes());
            e[62..64].copy_from_slice(&(i as u16 + 1).to_be_bytes());
        }
        r
    }

    fn decoded(record: &[u8]) -> std::vec::Vec<Event> {
        let mut v = std::vec::Vec::new();
        decode(record, |e| v.push(e));
        v
    }

    #[test]
    fn a_sap_record_becomes_one_event_per_entry_it_holds() {
        let r = sap_record(3);
        let bytes = &bytemuck::bytes_of(&r)[..r.ring_len()];
        assert_eq!(bytes.len(), 64 + 3 * SAP_ENTRY_LEN);
        let evs = decoded(bytes);
        assert_eq!(evs.len(), 3);
        for (i, ev) in evs.iter().enumerate() {
            let b = ev.sap().expect("a SAP entry event");
            assert_eq!(ev.hdr.ts_ns, 42);
            assert_eq!((b.op, b.index, b.server_type), (2, i as u8, 4));
            assert_eq!(b.name[0], b'A' + i as u8);
            assert_eq!(b.network, [0, 0, 0, i as u8]);
            assert_eq!(b.node, [2, 0, 0, 0, 0, i as u8]);
            assert_eq!((b.socket, b.hops), (0x0451, i as u16 + 1));
        }
    }

    #[test]
    fn a_pptp_record_becomes_one_event_per_message_it_holds_in_order() {
        let mut r = PptpSegment::zeroed();
        r.hdr.kind = EventKind::PptpSegment as u8;
        r.hdr.ts_ns = 7;
        r.hdr.sport = 1723;
        r.count = 3;
        for (i, m) in r.messages.iter_mut().enumerate() {
            *m = PptpMessage {
                msg_type: 12,
                length: 16,
                call_id: 100 + i as u16,
                ..Default::default()
            };
        }
        let bytes = &bytemuck::bytes_of(&r)[..r.ring_len()];
        assert_eq!(bytes.len(), 64 + 3 * 12);
        let evs = decoded(bytes);
        let calls: std::vec::Vec<_> = evs
            .iter()
            .map(|e| {
                assert_eq!((e.hdr.ts_ns, e.hdr.sport), (7, 1723));
                let m = e.pptp().expect("a PPTP event");
                assert_eq!((m.msg_type, m.length), (12, 16));
                m.call_id
            })
            .collect();
        assert_eq!(calls, [100, 101, 102]);
        // A record cut inside its third message holds two.
        assert_eq!(decoded(&bytes[..64 + 2 * 12 + 5]).len(), 2);
    }

    #[test]
    fn a_cut_record_yields_only_its_complete_entries_and_a_runt_nothing() {
        let r = sap_record(3);
        let bytes = bytemuck::bytes_of(&r);
        // Its count says three, but the bytes hold two and a half.
        assert_eq!(decoded(&bytes[..64 + 2 * SAP_ENTRY_LEN + 10]).len(), 2);
        assert!(decoded(&bytes[..40]).is_empty());
        assert!(decoded(&[]).is_empty());
        // An event record shorter than its kind's fields is dropped, not read past its
        // end; its padding need not be there.
        let mut ev = Event::zeroed();
        ev.hdr.kind = EventKind::Nbns as u8;
        let bytes = bytemuck::bytes_of(&ev);
        assert_eq!(ev.ring_len(), 56 + 44);
        assert!(decoded(&bytes[..99]).is_empty());
        assert_eq!(decoded(&bytes[..100]).len(), 1);
        assert_eq!(decoded(bytes).len(), 1);
    }
}
