//! Reading capture files (pcap, pcapng, snoop) into Ethernet frames with nanosecond timestamps.
//!
//! The format is chosen by magic bytes only, so a misnamed file still reads. Every link type is
//! turned into an Ethernet frame here (`Link`, `make_frame`), so the classifier has one input
//! shape to deal with. A pcapng interface of a link type faultd does not read is skipped, its
//! packets counted (`Capture::skipped`); a whole file of such a type is refused.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use fault_common::proto::ether;

/// One captured frame, always in Ethernet form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub ts_ns: u64,
    pub data: Vec<u8>,
    /// length on the wire (orig_len); data may be shorter (snaplen)
    pub wire_len: u32,
    /// byte offset in the file where this record starts
    pub offset: u64,
}

#[derive(Debug)]
pub struct CaptureError {
    pub path: PathBuf,
    pub offset: u64,
    pub kind: ErrorKind,
}

#[derive(Debug)]
pub enum ErrorKind {
    Io(std::io::Error),
    UnknownFormat {
        magic: [u8; 4],
    },
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    BadField {
        what: &'static str,
        value: u64,
    },
    UnsupportedLinkType(u32),
    UnsupportedVersion {
        major: u16,
        minor: u16,
    },
    /// pcapng repeats a block's length after its body; disagreement means the framing is lost.
    BlockLengthMismatch {
        leading: u32,
        trailing: u32,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        write!(f, "{}: ", self.path.display())?;
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "cannot read file at byte {at}: {e}"),
            ErrorKind::UnknownFormat {
                magic: [a, b, c, d],
            } => write!(
                f,
                "unknown capture format at byte {at}: magic {a:02x}{b:02x}{c:02x}{d:02x} \
                 is not pcap, pcapng or snoop"
            ),
            ErrorKind::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "truncated {what} at byte {at}: needed {needed} bytes, {available} available"
            ),
            ErrorKind::BadField { what, value } => write!(f, "bad {what} at byte {at}: {value}"),
            ErrorKind::UnsupportedLinkType(n) => {
                write!(
                    f,
                    "unsupported link type {n}{} declared at byte {at}",
                    Named(*n)
                )
            }
            ErrorKind::UnsupportedVersion { major, minor } => {
                write!(f, "unsupported format version {major}.{minor} at byte {at}")
            }
            ErrorKind::BlockLengthMismatch { leading, trailing } => write!(
                f,
                "pcapng block at byte {at} has length {leading} but its trailer says {trailing}"
            ),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Anything larger is a corrupt length field, not a packet (no link we read has such frames).
const MAX_LEN: u32 = 256 * 1024;
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const SNOOP_MAGIC: &[u8; 8] = b"snoop\0\0\0";

/// Internal errors carry the offset only; the path is attached once, in `Capture`.
type Res<T> = Result<T, (usize, ErrorKind)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    /// Callers have already checked the length (via `take` or a block-size check).
    fn uint(self, b: &[u8], at: usize, n: usize) -> u64 {
        let bytes = b[at..at + n].iter();
        let fold = |acc: u64, &x: &u8| (acc << 8) | u64::from(x);
        match self {
            Endian::Big => bytes.fold(0, fold),
            Endian::Little => bytes.rev().fold(0, fold),
        }
    }
    fn u16(self, b: &[u8], at: usize) -> u16 {
        self.uint(b, at, 2) as u16
    }
    fn u32(self, b: &[u8], at: usize) -> u32 {
        self.uint(b, at, 4) as u32
    }
}

/// How much the reader asks its source for at a time.
const CHUNK: usize = 64 * 1024;
/// The longest pcapng block held in memory whole: a section or interface header, or a
/// packet of an interface faultd reads (a record of at most `MAX_LEN` and room for its
/// options). Blocks faultd does not read are passed over at any length.
const MAX_BLOCK: u32 = MAX_LEN + 64 * 1024;

/// A capture's bytes, read from its source through a window that holds the record at hand
/// and no more: memory stays flat whatever the capture's size. Records are read in file
/// order, so whatever lies before the offset asked for is let go.
struct Input {
    src: Box<dyn Read>,
    /// The window is `buf[lo..hi]`; the rest is room to read into, kept between reads so
    /// that a source giving a few bytes per read costs no clearing of fresh memory.
    buf: Vec<u8>,
    lo: usize,
    hi: usize,
    /// The stream offset of `buf[lo]`.
    base: usize,
    /// The source has no more bytes: `end()` is then the stream's length.
    eof: bool,
}

impl Input {
    fn new(src: Box<dyn Read>) -> Input {
        Input {
            src,
            buf: Vec::new(),
            lo: 0,
            hi: 0,
            base: 0,
            eof: false,
        }
    }

    /// The offset just past the bytes read so far.
    fn end(&self) -> usize {
        self.base + (self.hi - self.lo)
    }

    /// Up to `len` bytes from `at`: fewer only where the stream ends. `at` is never before
    /// the offset of an earlier call.
    fn get(&mut self, at: usize, len: usize) -> Res<&[u8]> {
        debug_assert!(at >= self.base && len <= MAX_BLOCK as usize);
        let want = at + len;
        while self.end() < want && !self.eof {
            // Let go of what lies before `at` (all that was read, when `at` is beyond it).
            let gone = at.min(self.end()) - self.base;
            self.lo += gone;
            self.base += gone;
            // At least a chunk, so small records cost a read per chunk, and at most what
            // the request needs, so passing over a long block holds no more than a chunk.
            let n = (want - self.end()).clamp(CHUNK, len.max(CHUNK));
            if self.buf.len() - self.hi < n {
                self.buf.copy_within(self.lo..self.hi, 0);
                (self.lo, self.hi) = (0, self.hi - self.lo);
                if self.buf.len() - self.hi < n {
                    self.buf.resize(self.hi + n, 0);
                }
            }
            let got = loop {
                match self.src.read(&mut self.buf[self.hi..]) {
                    Ok(got) => break got,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err((self.end(), ErrorKind::Io(e))),
                }
            };
            self.hi += got;
            self.eof = got == 0;
        }
        let from = self.lo + (at - self.base).min(self.hi - self.lo);
        let to = self.lo + (want - self.base).min(self.hi - self.lo);
        Ok(&self.buf[from..to])
    }

    /// `len` bytes from `at`, or a Truncated error blaming the record that begins at `at`.
    fn take(&mut self, at: usize, len: usize, what: &'static str) -> Res<&[u8]> {
        let b = self.get(at, len)?;
        if b.len() < len {
            return Err(truncated(at, what, len, b.len()));
        }
        Ok(b)
    }

    /// Whether the stream ends at `at`.
    fn ends_at(&mut self, at: usize) -> Res<bool> {
        Ok(self.get(at, 1)?.is_empty())
    }

    /// The last `n` bytes of the `len`-byte record at `at`, passing over the rest without
    /// holding it; a Truncated error when the stream ends inside the record.
    fn tail(&mut self, at: usize, len: usize, n: usize, what: &'static str) -> Res<&[u8]> {
        self.get(at + len - n, n)?;
        if self.end() < at + len {
            let available = self.end().saturating_sub(at);
            return Err(truncated(at, what, len, available));
        }
        // Held already: no read.
        self.get(at + len - n, n)
    }
}

fn truncated(at: usize, what: &'static str, needed: usize, available: usize) -> (usize, ErrorKind) {
    let (needed, available) = (needed as u64, available as u64);
    (
        at,
        ErrorKind::Truncated {
            what,
            needed,
            available,
        },
    )
}

/// `len` bytes from `start`, or a Truncated error blaming the record that begins at `start`.
fn take<'a>(b: &'a [u8], start: usize, len: usize, what: &'static str) -> Res<&'a [u8]> {
    let available = b.len().saturating_sub(start);
    if available < len {
        return Err(truncated(start, what, len, available));
    }
    Ok(&b[start..start + len])
}

fn bad(at: usize, what: &'static str, value: impl Into<u64>) -> (usize, ErrorKind) {
    let value = value.into();
    (at, ErrorKind::BadField { what, value })
}

/// How the records of a link type become Ethernet frames: the one place that knows link headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Ethernet,
    Sll,
    Sll2,
    /// No link header: an IP packet whose version says which, or whose link type fixes it.
    RawIp(Option<u16>),
    /// Cisco HDLC: address, control, then an EtherType (with a few values of Cisco's own).
    CiscoHdlc,
    /// BSD loopback (DLT_NULL) and OpenBSD's loop: a 4-byte address family.
    Loopback,
}

/// The links faultd reads; `None` for any other link type.
fn link(lt: u32) -> Option<Link> {
    Some(match lt {
        0 | 108 => Link::Loopback,
        1 => Link::Ethernet,
        // 12 and 14 are what several OSes' libpcaps wrote for DLT_RAW before LINKTYPE_RAW (101).
        12 | 14 | 101 => Link::RawIp(None),
        104 => Link::CiscoHdlc,
        113 => Link::Sll,
        228 => Link::RawIp(Some(ether::IPV4)),
        229 => Link::RawIp(Some(ether::IPV6)),
        276 => Link::Sll2,
        _ => return None,
    })
}

/// Names of link types a capture of other traffic is likely to hold, for the messages about
/// them; not a full registry.
fn link_type_name(lt: u32) -> Option<&'static str> {
    Some(match lt {
        6 => "Token Ring",
        9 | 50 => "PPP",
        10 => "FDDI",
        105 => "802.11",
        107 => "Frame Relay",
        117 => "pflog",
        119 => "802.11 Prism",
        127 => "802.11 radiotap",
        163 => "802.11 AVS",
        186 | 189 | 220 | 249 | 266 => "USB",
        187 | 201 => "Bluetooth HCI",
        192 => "802.11 PPI",
        195 | 215 | 230 => "802.15.4",
        227 => "SocketCAN",
        239 => "NFLOG",
        251 | 256 => "Bluetooth LE",
        252 => "Wireshark upper PDU",
        253 => "Netlink",
        254 => "Bluetooth monitor",
        _ => return None,
    })
}

/// Displays " (name)" after a link type when it has one.
struct Named(u32);

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match link_type_name(self.0) {
            Some(name) => write!(f, " ({name})"),
            None => Ok(()),
        }
    }
}

/// Checks a record's lengths and returns its length on the wire. Some writers store an
/// original length below the captured one (tshark reads such records); the bytes captured
/// were on the wire, so the wire length is taken as at least the captured length.
fn check_lengths(at: usize, incl: u32, orig: u32) -> Res<u32> {
    if incl > MAX_LEN {
        return Err(bad(at, "included length (over 256 KiB)", incl));
    }
    Ok(orig.max(incl))
}

/// IEEE 802 Local Experimental EtherType 1, which nothing faultd watches uses: a protocol with
/// no EtherType of its own (or not an IP version) gets it, so its frame is counted and not
/// classified.
const ETH_P_UNWATCHED: u16 = 0x88b5;

const NO_MAC: [u8; 6] = [0; 6];
const BROADCAST: [u8; 6] = [0xff; 6];
const MULTICAST: [u8; 6] = [1, 0, 0, 0, 0, 0];

/// The Ethernet header a link header stands for.
struct EthHeader {
    dst: [u8; 6],
    src: [u8; 6],
    type_or_len: u16,
}

/// The EtherType of an IP packet, from its version.
fn ip_version_type(ip: &[u8]) -> u16 {
    match ip.first().map(|b| b >> 4) {
        Some(4) => ether::IPV4,
        Some(6) => ether::IPV6,
        _ => ETH_P_UNWATCHED,
    }
}

/// The destination MAC for a packet of a link without addresses. A datagram to the limited
/// broadcast or a multicast address went to a group MAC address on any LAN, so it gets one,
/// as an Ethernet capture would have it; a subnet's broadcast address cannot be told from a
/// host's, so a datagram to it reads as unicast.
fn ip_dst_mac(ip: &[u8], ethertype: u16) -> [u8; 6] {
    match ethertype {
        ether::IPV4 => match ip.get(16..20) {
            Some([255, 255, 255, 255]) => BROADCAST,
            Some([a, ..]) if a >> 4 == 0xe => MULTICAST,
            _ => NO_MAC,
        },
        ether::IPV6 if ip.get(24) == Some(&0xff) => MULTICAST,
        _ => NO_MAC,
    }
}

/// The EtherType for a BSD address family. DLT_NULL stores the family in the byte order of
/// the host that captured, LOOP in network order; a family is a small number, so a value
/// with any of its high 16 bits set is read the other way round (as Wireshark does).
fn family_type(value: u32) -> u16 {
    let family = if value >> 16 != 0 {
        value.swap_bytes()
    } else {
        value
    };
    match family {
        2 => ether::IPV4,
        // AF_INET6 differs by OS: 24 NetBSD, OpenBSD, BSD/OS; 28 FreeBSD; 30 Darwin; 10 Linux.
        10 | 24 | 28 | 30 => ether::IPV6,
        23 => ether::IPX, // AF_IPX on the BSDs and Darwin
        _ => ETH_P_UNWATCHED,
    }
}

/// Turns a record's bytes into an Ethernet frame; `orig` is the record's length on the wire
/// (at least its captured length, see `check_lengths`).
fn make_frame(link: Link, data: &[u8], orig: u32, ts_ns: u64, at: usize) -> Res<Frame> {
    let offset = at as u64;
    let be = Endian::Big;
    let header = |len, what| take(data, 0, len, what).map_err(|(_, k)| (at, k));
    // Only Linux cooked captures keep a source address.
    let eth = |dst, src, type_or_len| {
        Some(EthHeader {
            dst,
            src,
            type_or_len,
        })
    };
    // The link header's length, and the Ethernet header it stands for; none when what
    // follows it is an Ethernet frame already. Every field of these headers is in network
    // byte order whatever the file's byte order.
    let (hdr, eth_header) = match link {
        Link::Ethernet => (0, None),
        Link::Sll | Link::Sll2 => {
            let v2 = link == Link::Sll2;
            let h = header(if v2 { 20 } else { 16 }, "Linux cooked header")?;
            let (hdr, pkttype, addr_len, addr, proto) = if v2 {
                let (pkttype, addr_len) = (u16::from(h[10]), u16::from(h[11]));
                (20, pkttype, addr_len, &h[12..20], be.u16(h, 0))
            } else {
                (16, be.u16(h, 0), be.u16(h, 4), &h[6..14], be.u16(h, 14))
            };
            let dst = match pkttype {
                1 => BROADCAST,
                2 => MULTICAST,
                _ => NO_MAC,
            };
            let src = if addr_len == 6 {
                addr[..6].try_into().unwrap()
            } else {
                NO_MAC
            };
            // Values up to 1500 are not EtherTypes, so the frame gets an 802.3 length instead.
            // For ETH_P_802_3 (1) and ETH_P_802_2 (4) that is the payload length, capped so it
            // can never read as an EtherType. Linux stores any other small value for outgoing
            // 802.3 frames, where it is the frame's own length field (payload minus Ethernet
            // padding), so it is kept as it is.
            let wire_payload = orig - hdr as u32; // orig >= incl >= hdr
            let type_or_len = match proto {
                1 | 4 => wire_payload.min(u32::from(ether::MAX_8023_LEN)) as u16,
                _ => proto,
            };
            (hdr, eth(dst, src, type_or_len))
        }
        Link::RawIp(fixed) => {
            let ethertype = fixed.unwrap_or_else(|| ip_version_type(data));
            (0, eth(ip_dst_mac(data, ethertype), NO_MAC, ethertype))
        }
        Link::CiscoHdlc => {
            let h = header(4, "Cisco HDLC header")?;
            match be.u16(h, 2) {
                ether::TEB => (4, None),
                proto => {
                    // 0x8F (rather than 0x0F) marks a broadcast or multicast; only the group
                    // bit of the MAC address matters to the classifier.
                    let dst = if h[0] & 0x80 != 0 { BROADCAST } else { NO_MAC };
                    // Cisco's own values above 1500 (SLARP 0x8035, CDP 0x2000, ...) are not
                    // EtherTypes faultd watches; those up to 1500 would read as 802.3 lengths.
                    let type_or_len = if proto > ether::MAX_8023_LEN {
                        proto
                    } else {
                        ETH_P_UNWATCHED
                    };
                    (4, eth(dst, NO_MAC, type_or_len))
                }
            }
        }
        Link::Loopback => {
            let ethertype = family_type(be.u32(header(4, "loopback header")?, 0));
            (4, eth(ip_dst_mac(&data[4..], ethertype), NO_MAC, ethertype))
        }
    };
    let payload = &data[hdr..];
    let wire_payload = orig - hdr as u32; // orig >= incl >= hdr, checked above
    let Some(eth) = eth_header else {
        return Ok(Frame {
            ts_ns,
            data: payload.to_vec(),
            wire_len: wire_payload,
            offset,
        });
    };
    let mut out = Vec::with_capacity(14 + payload.len());
    out.extend_from_slice(&eth.dst);
    out.extend_from_slice(&eth.src);
    out.extend_from_slice(&eth.type_or_len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(Frame {
        ts_ns,
        data: out,
        // An original length field is not checked against anything, so it may be any value.
        wire_len: wire_payload.saturating_add(14),
        offset,
    })
}

struct Iface {
    /// `Err(link type)` for a link faultd does not read: its packets are skipped.
    link: Result<Link, u32>,
    snaplen: u32,
    /// if_tsresol as stored: high bit set means 2^-n, otherwise 10^-n.
    tsresol: u8,
    tsoffset_s: i64,
}

enum Kind {
    /// Byte order, nanosecond (not microsecond) timestamps, link type.
    Pcap(Endian, bool, Link),
    PcapNg(PcapNg),
    Snoop,
}

/// What a pcapng file has declared so far.
struct PcapNg {
    /// The current section's byte order.
    endian: Endian,
    /// The current section's interfaces.
    ifaces: Vec<Iface>,
    /// An interface of a link type faultd reads was declared, in any section.
    readable: bool,
    /// Where the first interface of a link type faultd does not read was declared, and
    /// its link type: the file is refused there if none is readable.
    first_unreadable: Option<(usize, u32)>,
}

/// An open capture; iterate it for frames.
pub struct Capture {
    path: PathBuf,
    input: Input,
    pos: usize,
    done: bool,
    kind: Kind,
    /// (link type, packets) of the pcapng interfaces skipped so far.
    skipped: Vec<(u32, u64)>,
}

fn error(path: &Path, (offset, kind): (usize, ErrorKind)) -> CaptureError {
    CaptureError {
        path: path.to_path_buf(),
        offset: offset as u64,
        kind,
    }
}

impl Capture {
    pub fn open(path: &Path) -> Result<Capture, CaptureError> {
        let file = File::open(path).map_err(|e| error(path, (0, ErrorKind::Io(e))))?;
        Capture::from_reader(path, Box::new(file))
    }

    /// Reads a capture from `src`, record by record; `path` names it in messages.
    pub fn from_reader(path: &Path, src: Box<dyn Read>) -> Result<Capture, CaptureError> {
        let mut input = Input::new(src);
        let (kind, pos) = read_header(&mut input).map_err(|e| error(path, e))?;
        Ok(Capture {
            path: path.to_path_buf(),
            input,
            pos,
            done: false,
            kind,
            skipped: Vec::new(),
        })
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Capture, CaptureError> {
        Capture::from_reader(path, Box::new(std::io::Cursor::new(bytes)))
    }

    pub fn format(&self) -> &'static str {
        match self.kind {
            Kind::Pcap(..) => "pcap",
            Kind::PcapNg(_) => "pcapng",
            Kind::Snoop => "snoop",
        }
    }

    /// The packets read so far that belong to pcapng interfaces of a link type faultd does
    /// not read: (link type, packets), in the order the link types were first met.
    pub fn skipped(&self) -> &[(u32, u64)] {
        &self.skipped
    }

    /// One line for each link type of [`Capture::skipped`], saying so to the user, e.g.
    /// `x.pcapng: skipped 1,234 frames of interfaces with link type 220 (USB), which faultd
    /// does not read`.
    pub fn skipped_notes(&self) -> Vec<String> {
        let path = self.path.display();
        self.skipped
            .iter()
            .map(|&(lt, n)| {
                let frames = if n == 1 { "frame" } else { "frames" };
                format!(
                    "{path}: skipped {} {frames} of interfaces with link type {lt}{}, \
                     which faultd does not read",
                    thousands(n),
                    Named(lt)
                )
            })
            .collect()
    }
}

/// 1234567 as "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Iterator for Capture {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (input, pos) = (&mut self.input, &mut self.pos);
        let result = match &mut self.kind {
            Kind::Pcap(endian, nanos, link) => pcap_record(input, pos, *endian, *nanos, *link),
            Kind::PcapNg(ng) => pcapng_next(input, pos, ng, &mut self.skipped),
            Kind::Snoop => snoop_record(input, pos),
        };
        if matches!(result, Err((_, ErrorKind::UnsupportedLinkType(_)))) {
            // The refusal speaks for every packet skipped.
            self.skipped.clear();
        }
        // Past an error the framing is lost, so nothing after it can be trusted.
        self.done = !matches!(result, Ok(Some(_)));
        result.map_err(|e| error(&self.path, e)).transpose()
    }
}

/// Detects the format and checks the file header; returns where the first record starts.
fn read_header(input: &mut Input) -> Res<(Kind, usize)> {
    let magic: [u8; 4] = input.take(0, 4, "capture file magic")?.try_into().unwrap();
    let (endian, nanos) = match magic {
        [0xa1, 0xb2, 0xc3, 0xd4] => (Endian::Big, false),
        [0xd4, 0xc3, 0xb2, 0xa1] => (Endian::Little, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (Endian::Big, true),
        [0x4d, 0x3c, 0xb2, 0xa1] => (Endian::Little, true),
        PCAPNG_SHB => {
            let (endian, len) = pcapng_shb(input, 0)?;
            let ng = PcapNg {
                endian,
                ifaces: Vec::new(),
                readable: false,
                first_unreadable: None,
            };
            return Ok((Kind::PcapNg(ng), len));
        }
        // A file cut inside the 8-byte magic is a truncated snoop file, not an unknown one.
        _ if SNOOP_MAGIC.starts_with(input.get(0, 8)?) => {
            let h = input.take(0, 16, "snoop file header")?;
            let (version, datalink) = (Endian::Big.u32(h, 8), Endian::Big.u32(h, 12));
            if version != 2 {
                let major = u16::try_from(version).unwrap_or(u16::MAX);
                return Err((0, ErrorKind::UnsupportedVersion { major, minor: 0 }));
            }
            // Snoop numbers its link types its own way; 4 is Ethernet.
            if datalink != 4 {
                return Err((0, ErrorKind::UnsupportedLinkType(datalink)));
            }
            return Ok((Kind::Snoop, 16));
        }
        _ => return Err((0, ErrorKind::UnknownFormat { magic })),
    };
    let h = input.take(0, 24, "pcap file header")?;
    let (major, minor) = (endian.u16(h, 4), endian.u16(h, 6));
    if (major, minor) != (2, 4) {
        return Err((0, ErrorKind::UnsupportedVersion { major, minor }));
    }
    // The top bits of the link-type field carry FCS information, not the link type.
    let lt = endian.u32(h, 20) & 0x03ff_ffff;
    let link = link(lt).ok_or((0, ErrorKind::UnsupportedLinkType(lt)))?;
    Ok((Kind::Pcap(endian, nanos, link), 24))
}

fn pcap_record(
    input: &mut Input,
    pos: &mut usize,
    e: Endian,
    nanos: bool,
    link: Link,
) -> Res<Option<Frame>> {
    let at = *pos;
    if input.ends_at(at)? {
        return Ok(None);
    }
    let h = input.take(at, 16, "pcap record header")?;
    let (secs, frac, incl, orig) = (e.u32(h, 0), e.u32(h, 4), e.u32(h, 8), e.u32(h, 12));
    let orig = check_lengths(at, incl, orig)?;
    let rec = input.take(at, 16 + incl as usize, "pcap record")?;
    *pos = at + rec.len();
    let frac_ns = u64::from(frac) * if nanos { 1 } else { 1000 };
    let ts = u64::from(secs) * 1_000_000_000 + frac_ns;
    make_frame(link, &rec[16..], orig, ts, at).map(Some)
}

fn snoop_record(input: &mut Input, pos: &mut usize) -> Res<Option<Frame>> {
    let at = *pos;
    if input.ends_at(at)? {
        return Ok(None);
    }
    let be = Endian::Big;
    let h = input.take(at, 24, "snoop record header")?;
    let (orig, incl, rec_len) = (be.u32(h, 0), be.u32(h, 4), be.u32(h, 8));
    let ts = u64::from(be.u32(h, 16)) * 1_000_000_000 + u64::from(be.u32(h, 20)) * 1000;
    let orig = check_lengths(at, incl, orig)?;
    if rec_len < 24 + incl {
        return Err(bad(at, "snoop record length (too short)", rec_len));
    }
    // The record length covers padding after the data (of any length), so it is what
    // moves us on; the record must hold it all.
    let rec_len = rec_len as usize;
    let frame = match input.get(at, 24 + incl as usize)? {
        rec if rec.len() == 24 + incl as usize => {
            make_frame(Link::Ethernet, &rec[24..], orig, ts, at)?
        }
        rec => return Err(truncated(at, "snoop record", rec_len, rec.len())),
    };
    input.tail(at, rec_len, 0, "snoop record")?;
    *pos = at + rec_len;
    Ok(Some(frame))
}

/// A pcapng block's total length, checked; `at` is where the block starts.
fn pcapng_length(input: &mut Input, at: usize, e: Endian, min: u32) -> Res<u32> {
    let leading = e.u32(input.take(at, 8, "pcapng block header")?, 4);
    if !leading.is_multiple_of(4) || leading < min {
        return Err(bad(at, "pcapng block total length", leading));
    }
    Ok(leading)
}

/// Checks a pcapng block's framing and returns its body (between length and trailer),
/// held whole: at most `MAX_BLOCK` bytes.
fn pcapng_block(input: &mut Input, at: usize, e: Endian, min: u32) -> Res<&[u8]> {
    let leading = pcapng_length(input, at, e, min)?;
    if leading > MAX_BLOCK {
        return Err(bad(at, "pcapng block total length (over 320 KiB)", leading));
    }
    let block = input.take(at, leading as usize, "pcapng block")?;
    let trailing = e.u32(block, block.len() - 4);
    if trailing != leading {
        return Err((at, ErrorKind::BlockLengthMismatch { leading, trailing }));
    }
    Ok(&block[8..block.len() - 4])
}

/// Checks a pcapng block's framing and passes over it, holding none of it: a block
/// faultd does not read may have any length.
fn pcapng_pass(input: &mut Input, at: usize, e: Endian) -> Res<usize> {
    let leading = pcapng_length(input, at, e, 12)?;
    let trailing = e.u32(input.tail(at, leading as usize, 4, "pcapng block")?, 0);
    if trailing != leading {
        return Err((at, ErrorKind::BlockLengthMismatch { leading, trailing }));
    }
    Ok(leading as usize)
}

/// Reads a Section Header Block; its byte-order magic decides how the whole section is read.
fn pcapng_shb(input: &mut Input, at: usize) -> Res<(Endian, usize)> {
    let h = input.take(at, 12, "pcapng section header block")?;
    let endian = match h[8..12] {
        [0x1a, 0x2b, 0x3c, 0x4d] => Endian::Big,
        [0x4d, 0x3c, 0x2b, 0x1a] => Endian::Little,
        _ => return Err(bad(at, "pcapng byte-order magic", Endian::Big.u32(h, 8))),
    };
    let body = pcapng_block(input, at, endian, 28)?;
    let (major, minor) = (endian.u16(body, 4), endian.u16(body, 6));
    if major != 1 {
        return Err((at, ErrorKind::UnsupportedVersion { major, minor }));
    }
    // The section length (possibly -1) is not needed: blocks are walked one by one.
    Ok((endian, body.len() + 12))
}

/// The link type of the interface a packet block at `at` belongs to, when faultd does not
/// read that link: the block is then passed over unread. `None` for a block too short to
/// be a packet block, or one cut before its interface id: reading it whole says what is
/// wrong.
fn unread_link(
    input: &mut Input,
    at: usize,
    e: Endian,
    btype: u32,
    min_body: u32,
    ifaces: &[Iface],
) -> Res<Option<u32>> {
    let h = input.get(at, 12)?;
    if h.len() < 12 || e.u32(h, 4) < 12 + min_body {
        return Ok(None);
    }
    let id = match btype {
        6 => e.u32(h, 8),
        2 => u32::from(e.u16(h, 8)),
        _ => 0, // simple packet block: the first interface
    };
    Ok(ifaces.get(id as usize).and_then(|i| i.link.err()))
}

/// Counts a packet of an interface faultd does not read.
fn count_skipped(skipped: &mut Vec<(u32, u64)>, lt: u32) {
    match skipped.iter_mut().find(|(t, _)| *t == lt) {
        Some((_, n)) => *n += 1,
        None => skipped.push((lt, 1)),
    }
}

fn pcapng_idb(e: Endian, body: &[u8], at: usize) -> Res<Iface> {
    if body.len() < 8 {
        return Err(bad(at, "pcapng block total length", body.len() as u64 + 12));
    }
    let lt = u32::from(e.u16(body, 0));
    let mut iface = Iface {
        link: link(lt).ok_or(lt),
        snaplen: e.u32(body, 4),
        tsresol: 6,
        tsoffset_s: 0,
    };
    let mut opts = &body[8..];
    while opts.len() >= 4 {
        let (code, len) = (e.u16(opts, 0), usize::from(e.u16(opts, 2)));
        if code == 0 {
            break;
        }
        let value = opts
            .get(4..4 + len)
            .ok_or_else(|| bad(at, "pcapng option length", len as u64))?;
        match (code, len) {
            (9, 1) => iface.tsresol = value[0],
            (14, 8) => iface.tsoffset_s = e.uint(value, 0, 8) as i64,
            _ => {}
        }
        opts = opts.get(4 + len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    // 10^-38 is the finest decimal resolution whose divisor fits the u128 arithmetic below.
    if iface.tsresol & 0x80 == 0 && iface.tsresol > 38 {
        return Err(bad(at, "pcapng if_tsresol", iface.tsresol));
    }
    Ok(iface)
}

fn pcapng_ts_ns(units: u64, iface: &Iface) -> u64 {
    let exp = u32::from(iface.tsresol & 0x7f);
    let units = u128::from(units);
    let ns = if iface.tsresol & 0x80 != 0 {
        (units * 1_000_000_000) >> exp
    } else if exp <= 9 {
        units * 10u128.pow(9 - exp)
    } else {
        units / 10u128.pow(exp - 9)
    };
    let total = ns as i128 + i128::from(iface.tsoffset_s) * 1_000_000_000;
    total.clamp(0, i128::from(u64::MAX)) as u64
}

/// Walks blocks until one yields a frame; IDBs and SHBs update the state on the way.
fn pcapng_next(
    input: &mut Input,
    pos: &mut usize,
    ng: &mut PcapNg,
    skipped: &mut Vec<(u32, u64)>,
) -> Res<Option<Frame>> {
    loop {
        let at = *pos;
        if input.ends_at(at)? {
            // A file none of whose interfaces faultd reads is refused, as a pcap file of
            // such a link type is (it has given no frame); with one readable interface
            // in any section the others are skipped, and counted.
            return match ng.first_unreadable {
                Some((at, lt)) if !ng.readable => Err((at, ErrorKind::UnsupportedLinkType(lt))),
                _ => Ok(None),
            };
        }
        let h = input.take(at, 8, "pcapng block header")?;
        if h[..4] == PCAPNG_SHB {
            let (e, len) = pcapng_shb(input, at)?;
            (ng.endian, *pos) = (e, at + len);
            ng.ifaces.clear(); // interface ids are numbered per section
            continue;
        }
        let e = ng.endian;
        let btype = e.u32(h, 0);
        let min_body = match btype {
            1 => 0,
            2 | 6 => 20,
            3 => 4,
            _ => {
                // NRB, ISB, DSB, custom...: nothing a frame needs.
                *pos = at + pcapng_pass(input, at, e)?;
                continue;
            }
        };
        if btype != 1
            && let Some(lt) = unread_link(input, at, e, btype, min_body, &ng.ifaces)?
        {
            // Checked no further: its lengths need not fit the links faultd reads.
            *pos = at + pcapng_pass(input, at, e)?;
            count_skipped(skipped, lt);
            continue;
        }
        let body = pcapng_block(input, at, e, 12)?;
        *pos = at + body.len() + 12;
        if btype == 1 {
            let idb = pcapng_idb(e, body, at)?;
            match idb.link {
                Ok(_) => ng.readable = true,
                Err(lt) => _ = ng.first_unreadable.get_or_insert((at, lt)),
            }
            ng.ifaces.push(idb);
            continue;
        }
        if body.len() < min_body as usize {
            return Err(bad(at, "pcapng block total length", body.len() as u64 + 12));
        }
        let iface = |id: u32| {
            ng.ifaces
                .get(id as usize)
                .ok_or_else(|| bad(at, "pcapng interface id", id))
        };
        let (iface, ts, incl, orig, data_at) = if btype == 3 {
            let idb = iface(0)?;
            let orig = e.u32(body, 0);
            // A simple packet block records no captured length: it is bounded by the original
            // length, the interface snaplen and the block itself; and it has no timestamp.
            let snap = NonZeroU32::new(idb.snaplen).map_or(u32::MAX, NonZeroU32::get);
            let incl = orig.min(body.len() as u32 - 4).min(snap);
            (idb, None, incl, orig, 4)
        } else {
            // The obsolete packet block (2) has a 16-bit interface id and a drop count where
            // the enhanced one (6) has a 32-bit id; the rest is laid out alike.
            let id = if btype == 6 {
                e.u32(body, 0)
            } else {
                u32::from(e.u16(body, 0))
            };
            let ts = (u64::from(e.u32(body, 4)) << 32) | u64::from(e.u32(body, 8));
            (iface(id)?, Some(ts), e.u32(body, 12), e.u32(body, 16), 20)
        };
        let link = match iface.link {
            Ok(link) => link,
            // unread_link has passed over these already.
            Err(lt) => {
                count_skipped(skipped, lt);
                continue;
            }
        };
        let orig = check_lengths(at, incl, orig)?;
        let data = body
            .get(data_at..data_at + incl as usize)
            .ok_or_else(|| bad(at, "pcapng captured length (beyond its block)", incl))?;
        let ts_ns = ts.map_or(0, |units| pcapng_ts_ns(units, iface));
        return make_frame(link, data, orig, ts_ns, at).map(Some);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Endian::{Big as BE, Little as LE};
    use F::{B, H, Q, W};

    /// A field of a test capture, written in the byte order given to `put`.
    enum F<'a> {
        H(u16),
        W(u32),
        Q(u64),
        B(&'a [u8]),
    }

    fn put(e: Endian, fields: &[F]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in fields {
            let (x, n) = match *f {
                H(x) => (u64::from(x), 2),
                W(x) => (u64::from(x), 4),
                Q(x) => (x, 8),
                B(b) => {
                    out.extend_from_slice(b);
                    continue;
                }
            };
            let (be, le) = (x.to_be_bytes(), x.to_le_bytes());
            out.extend_from_slice(if e == BE { &be[8 - n..] } else { &le[..n] });
        }
        out
    }

    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }

    fn pcap_header(e: Endian, nanos: bool, link: u32) -> Vec<u8> {
        let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        put(e, &[W(magic), H(2), H(4), W(0), W(0), W(65535), W(link)])
    }

    fn pcap_rec(e: Endian, secs: u32, frac: u32, orig: u32, data: &[u8]) -> Vec<u8> {
        let incl = data.len() as u32;
        put(e, &[W(secs), W(frac), W(incl), W(orig), B(data)])
    }

    fn ng_block(e: Endian, btype: u32, mut body: Vec<u8>) -> Vec<u8> {
        body.resize(body.len().next_multiple_of(4), 0);
        let len = body.len() as u32 + 12;
        put(e, &[W(btype), W(len), B(&body), W(len)])
    }

    fn shb(e: Endian, section_len: i64) -> Vec<u8> {
        let body = put(e, &[W(0x1a2b_3c4d), H(1), H(0), Q(section_len as u64)]);
        ng_block(e, 0x0a0d_0d0a, body)
    }

    fn idb(e: Endian, link: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = put(e, &[H(link), H(0), W(snaplen)]);
        for (code, value) in opts {
            body.extend(put(e, &[H(*code), H(value.len() as u16), B(value)]));
            body.resize(body.len().next_multiple_of(4), 0);
        }
        if !opts.is_empty() {
            body.extend([0; 4]); // opt_endofopt
        }
        ng_block(e, 1, body)
    }

    /// Enhanced packet block, or with `obsolete` the old packet block (16-bit id, drop count).
    fn epb(e: Endian, obsolete: bool, iface: u16, ts: u64, orig: u32, data: &[u8]) -> Vec<u8> {
        let (hi, lo, incl) = ((ts >> 32) as u32, ts as u32, data.len() as u32);
        let body = put(
            e,
            &[W(iface.into()), W(hi), W(lo), W(incl), W(orig), B(data)],
        );
        let mut block = ng_block(e, if obsolete { 2 } else { 6 }, body);
        if obsolete {
            // 16-bit interface id then a 16-bit drop count, where the EPB has a 32-bit id.
            block[8..12].copy_from_slice(&put(e, &[H(iface), H(0)]));
        }
        block
    }

    fn spb(e: Endian, orig: u32, data: &[u8]) -> Vec<u8> {
        ng_block(e, 3, put(e, &[W(orig), B(data)]))
    }

    fn snoop_header(datalink: u32) -> Vec<u8> {
        put(BE, &[B(SNOOP_MAGIC), W(2), W(datalink)])
    }

    fn snoop_rec(secs: u32, usecs: u32, orig: u32, data: &[u8], extra_pad: usize) -> Vec<u8> {
        let rec_len = 24 + data.len().next_multiple_of(4) + extra_pad;
        let (incl, len) = (data.len() as u32, rec_len as u32);
        let mut v = put(BE, &[W(orig), W(incl), W(len), W(0), W(secs), W(usecs)]);
        v.extend_from_slice(data);
        v.resize(rec_len, 0);
        v
    }

    const ADDR: [u8; 8] = [2, 0, 0, 0, 0, 1, 0xaa, 0xbb];
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn sll1(pkttype: u8, addr_len: u8, proto: u16) -> Vec<u8> {
        let (pkttype, addr_len) = (pkttype.into(), addr_len.into());
        put(BE, &[H(pkttype), H(1), H(addr_len), B(&ADDR), H(proto)])
    }

    fn sll2(pkttype: u8, addr_len: u8, proto: u16) -> Vec<u8> {
        let types = [pkttype, addr_len];
        put(BE, &[H(proto), H(0), W(3), H(1), B(&types), B(&ADDR)])
    }

    /// An SLL (v1) or SLL2 header followed by `payload`.
    fn cooked(v2: bool, pkttype: u8, addr_len: u8, proto: u16, payload: &[u8]) -> Vec<u8> {
        let sll = if v2 { sll2 } else { sll1 };
        [sll(pkttype, addr_len, proto), payload.to_vec()].concat()
    }

    fn open(bytes: Vec<u8>) -> Result<Capture, CaptureError> {
        Capture::from_bytes(Path::new("test.cap"), bytes)
    }

    fn frames(bytes: Vec<u8>) -> Vec<Frame> {
        open(bytes).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
    }

    fn frame(ts_ns: u64, data: Vec<u8>, wire_len: u32, offset: usize) -> Frame {
        Frame {
            ts_ns,
            data,
            wire_len,
            offset: offset as u64,
        }
    }

    /// The first error, from `from_bytes` or the iterator, as "offset kind values".
    fn fail(bytes: Vec<u8>) -> String {
        let e = match open(bytes) {
            Err(e) => e,
            Ok(mut cap) => cap.find_map(Result::err).expect("an error"),
        };
        let kind = match e.kind {
            ErrorKind::Io(e) => format!("Io {e}"),
            ErrorKind::UnknownFormat { magic } => format!("UnknownFormat {magic:?}"),
            ErrorKind::Truncated {
                needed: n,
                available: a,
                ..
            } => format!("Truncated {n}/{a}"),
            ErrorKind::BadField { value, .. } => format!("BadField {value}"),
            ErrorKind::UnsupportedLinkType(n) => format!("UnsupportedLinkType {n}"),
            ErrorKind::UnsupportedVersion { major, minor } => format!("Version {major}.{minor}"),
            ErrorKind::BlockLengthMismatch {
                leading: l,
                trailing: t,
            } => format!("Mismatch {l}/{t}"),
        };
        format!("{} {kind}", e.offset)
    }

    /// Offset of piece `i` once `pieces` are concatenated.
    fn start(pieces: &[Vec<u8>], i: usize) -> usize {
        pieces[..i].iter().map(Vec::len).sum()
    }

    #[test]
    fn pcap_both_byte_orders_and_resolutions() {
        for (e, nanos) in [(LE, false), (LE, true), (BE, false), (BE, true)] {
            let mut f = pcap_header(e, nanos, 1);
            f.extend(pcap_rec(e, 1, 2, 60, &pattern(1, 60)));
            f.extend(pcap_rec(e, 0x6000_0000, 999_999, 100, &pattern(2, 40)));
            let cap = open(f).unwrap();
            assert_eq!(cap.format(), "pcap");
            let unit = if nanos { 1 } else { 1000 };
            let late = 0x6000_0000 * 1_000_000_000 + 999_999 * unit;
            let want = [
                frame(1_000_000_000 + 2 * unit, pattern(1, 60), 60, 24),
                frame(late, pattern(2, 40), 100, 100),
            ];
            let got: Vec<Frame> = cap.map(Result::unwrap).collect();
            assert_eq!(got, want, "{e:?} {nanos}");
        }
    }

    #[test]
    fn pcap_rejects_bad_headers_and_lengths() {
        let with = |rec: &[u8]| fail([&pcap_header(LE, false, 1), rec].concat());
        let huge = put(LE, &[W(0), W(0), W(300_000), W(300_000)]);
        assert_eq!(with(&huge), "24 BadField 300000");
        assert_eq!(
            with(&pcap_rec(LE, 0, 0, 10, &[0; 10])[..20]),
            "24 Truncated 26/20"
        );
        let mut v23 = pcap_header(BE, false, 1);
        v23[7] = 3;
        assert_eq!(fail(v23), "0 Version 2.3");
        assert_eq!(
            fail(pcap_header(LE, true, 105)),
            "0 UnsupportedLinkType 105"
        );
        assert_eq!(fail(b"GIF89a".to_vec()), "0 UnknownFormat [71, 73, 70, 56]");
        assert_eq!(fail(Vec::new()), "0 Truncated 4/0");
        let mut header = pcap_header(LE, false, 1);
        header.truncate(20);
        assert_eq!(fail(header), "0 Truncated 24/20");
        // FCS bits in the link-type field do not change the link type.
        let mut fcs = pcap_header(LE, false, 0x1400_0001);
        fcs.extend(pcap_rec(LE, 0, 0, 4, &[7; 4]));
        assert_eq!(frames(fcs), [frame(0, vec![7; 4], 4, 24)]);
    }

    #[test]
    fn iterator_ends_after_error() {
        let mut f = pcap_header(LE, false, 1);
        f.extend(pcap_rec(LE, 0, 0, 4, &[1; 4]));
        f.extend(put(LE, &[W(0), W(0), W(MAX_LEN + 1), W(4), B(&[2; 4])]));
        f.extend(pcap_rec(LE, 0, 0, 4, &[3; 4]));
        let mut cap = open(f).unwrap();
        assert_eq!(cap.next().unwrap().unwrap().data, [1; 4]);
        assert_eq!(cap.next().unwrap().unwrap_err().offset, 44);
        assert!(cap.next().is_none());
        assert!(cap.next().is_none());
    }

    #[test]
    fn pcapng_blocks_in_both_byte_orders() {
        for e in [LE, BE] {
            let blocks = [
                shb(e, -1),
                idb(e, 1, 0, &[]),
                epb(e, false, 0, 1_500_000_123, 60, &pattern(1, 60)),
                ng_block(e, 4, vec![0; 4]),
                ng_block(e, 5, put(e, &[W(0), Q(0)])),
                ng_block(e, 0x0000_0bad, vec![1, 2, 3]),
                spb(e, 61, &pattern(3, 61)),
                epb(e, true, 0, 7, 80, &pattern(4, 50)),
            ];
            let cap = open(blocks.concat()).unwrap();
            assert_eq!(cap.format(), "pcapng");
            let want = [
                frame(1_500_000_123_000, pattern(1, 60), 60, start(&blocks, 2)),
                frame(0, pattern(3, 61), 61, start(&blocks, 6)),
                frame(7000, pattern(4, 50), 80, start(&blocks, 7)),
            ];
            assert_eq!(cap.map(Result::unwrap).collect::<Vec<_>>(), want, "{e:?}");
        }
    }

    #[test]
    fn pcapng_timestamp_resolution_and_offset() {
        let f = [
            shb(LE, -1),
            idb(LE, 1, 0, &[(2, b"eth0"), (9, &[9])]),
            idb(LE, 1, 0, &[(9, &[0x80 | 10])]),
            idb(LE, 1, 0, &[(14, &100u64.to_le_bytes())]),
            epb(LE, false, 0, 1_234_567_890_123_456_789, 4, &[0; 4]),
            epb(LE, false, 1, 3 * 1024 + 512, 4, &[1; 4]),
            epb(LE, false, 2, 5, 4, &[2; 4]),
        ];
        let ts: Vec<u64> = frames(f.concat()).iter().map(|f| f.ts_ns).collect();
        let want = [1_234_567_890_123_456_789, 3_500_000_000, 100_000_005_000];
        assert_eq!(ts, want);
    }

    #[test]
    fn pcapng_sections_change_byte_order_and_interfaces() {
        let ip4 = cooked(false, 0, 6, 0x0800, &[0x45; 4]);
        let ip6 = cooked(true, 1, 6, 0x86dd, &[0x60; 4]);
        let blocks = [
            shb(LE, -1),
            idb(LE, 1, 0, &[]),
            idb(LE, 113, 0, &[]),
            epb(LE, false, 1, 1, 20, &ip4),
            epb(LE, false, 0, 2, 60, &pattern(9, 60)),
            shb(BE, 56),
            idb(BE, 276, 0, &[(9, &[9])]),
            epb(BE, false, 0, 3, 24, &ip6),
            shb(LE, -1),
            idb(LE, 1, 32, &[]),
            spb(LE, 60, &pattern(5, 60)),
        ];
        let ip4_eth = [&[0; 6][..], &MAC, &[8, 0], &[0x45; 4]].concat();
        let ip6_eth = [&[0xff; 6][..], &MAC, &[0x86, 0xdd], &[0x60; 4]].concat();
        let want = [
            frame(1000, ip4_eth, 18, start(&blocks, 3)),
            frame(2000, pattern(9, 60), 60, start(&blocks, 4)),
            frame(3, ip6_eth, 18, start(&blocks, 7)),
            frame(0, pattern(5, 32), 60, start(&blocks, 10)),
        ];
        assert_eq!(frames(blocks.concat()), want);
    }

    #[test]
    fn pcapng_rejects_broken_blocks() {
        let head = [shb(LE, -1), idb(LE, 1, 0, &[])].concat();
        let with = |tail: Vec<u8>| fail([head.clone(), tail].concat());
        let mut mismatch = epb(LE, false, 0, 0, 4, &[0; 4]);
        let n = mismatch.len();
        mismatch[n - 4] = 0;
        assert_eq!(with(mismatch), "48 Mismatch 36/0");
        assert_eq!(with(put(LE, &[W(6), W(30), B(&[0; 22])])), "48 BadField 30");
        assert_eq!(with(put(LE, &[W(6), W(16), W(0), W(16)])), "48 BadField 16");
        assert_eq!(with(epb(LE, false, 1, 0, 4, &[0; 4])), "48 BadField 1");
        assert_eq!(with(idb(LE, 1, 0, &[(9, &[39])])), "48 BadField 39");
        let mut caplen = epb(LE, false, 0, 0, 99, &[0; 4]);
        caplen[20] = 9; // captured length 9, but the block holds 4 data bytes
        assert_eq!(with(caplen), "48 BadField 9");
        let mut magic = shb(LE, -1);
        magic[8] = 0;
        assert_eq!(fail(magic), format!("0 BadField {}", 0x003c_2b1a));
        let mut v2 = shb(BE, -1);
        v2[13] = 2;
        assert_eq!(fail(v2), "0 Version 2.0");
    }

    #[test]
    fn snoop_records_and_rejects() {
        let f = [
            snoop_header(4),
            snoop_rec(0x3650_f2df, 885_516, 60, &pattern(1, 60), 0),
            snoop_rec(7, 1, 100, &pattern(2, 41), 8),
            snoop_rec(8, 2, 4, &[3; 4], 0),
        ];
        let cap = open(f.concat()).unwrap();
        assert_eq!(cap.format(), "snoop");
        let want = [
            frame(
                0x3650_f2df * 1_000_000_000 + 885_516_000,
                pattern(1, 60),
                60,
                16,
            ),
            frame(7_000_001_000, pattern(2, 41), 100, 100),
            frame(8_000_002_000, vec![3; 4], 4, 100 + 24 + 44 + 8),
        ];
        assert_eq!(cap.map(Result::unwrap).collect::<Vec<_>>(), want);
        let mut v3 = snoop_header(4);
        v3[11] = 3;
        assert_eq!(fail(v3), "0 Version 3.0");
        assert_eq!(fail(snoop_header(0)), "0 UnsupportedLinkType 0");
        let mut short = snoop_rec(0, 0, 8, &[0; 8], 0);
        short[11] = 24; // a 24-byte record cannot hold 8 data bytes
        assert_eq!(fail([snoop_header(4), short].concat()), "16 BadField 24");
    }

    #[test]
    fn linux_cooked_v1_and_v2_become_ethernet() {
        let ipx_raw = [&[0xff, 0xff, 0, 30][..], &[0x11; 26]].concat();
        let llc = [&[0xe0, 0xe0, 0x03][..], &[0x22; 17]].concat();
        // An outgoing frame: the protocol field holds its 802.3 length, 36, before 10 pad bytes.
        let snap_padded = [&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x80, 0xf3][..], &[0x33; 38]].concat();
        let multicast = [1, 0, 0, 0, 0, 0];
        // (packet type, address length, protocol, payload, bytes cut by snaplen, dst, src, type)
        let cases = [
            (0, 6, 0x0800, vec![0x45; 20], 0, [0; 6], MAC, 0x0800),
            (1, 6, 0x8137, vec![0xff; 30], 0, [0xff; 6], MAC, 0x8137),
            (1, 6, 0x0001, ipx_raw, 0, [0xff; 6], MAC, 30),
            (2, 6, 0x0004, llc, 20, multicast, MAC, 40),
            (4, 0, 36, snap_padded, 0, [0; 6], [0; 6], 36),
            (3, 6, 0x0004, vec![0x44; 1600], 400, [0; 6], MAC, 1500),
        ];
        for v2 in [false, true] {
            let (link, hdr) = if v2 { (276, 20) } else { (113, 16) };
            let mut f = pcap_header(LE, false, link);
            let mut want = Vec::new();
            for (pkttype, alen, proto, payload, cut, dst, src, tl) in &cases {
                let eth = [&dst[..], src, &u16::to_be_bytes(*tl), payload].concat();
                let wire = payload.len() as u32 + cut;
                want.push(frame(0, eth, wire + 14, f.len()));
                let rec = cooked(v2, *pkttype, *alen, *proto, payload);
                f.extend(pcap_rec(LE, 0, 0, wire + hdr, &rec));
            }
            assert_eq!(frames(f), want, "SLL v2: {v2}");
        }
        let mut short = pcap_header(LE, false, 113);
        short.extend(pcap_rec(LE, 0, 0, 10, &[0; 10]));
        assert_eq!(fail(short), "24 Truncated 16/10");
    }

    /// The first bytes of an IPv4 header to `dst`: all a link conversion looks at.
    fn ipv4_to(dst: [u8; 4]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 20];
        h.resize(16, 0);
        h.extend(dst);
        h
    }

    /// The first bytes of an IPv6 header whose destination starts with `dst0`.
    fn ipv6_to(dst0: u8) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.resize(24, 0);
        h.push(dst0);
        h.resize(40, 1);
        h
    }

    fn eth(dst: [u8; 6], type_or_len: u16, payload: &[u8]) -> Vec<u8> {
        [&dst[..], &[0; 6], &type_or_len.to_be_bytes(), payload].concat()
    }

    const BCAST: [u8; 6] = [0xff; 6];
    const MCAST: [u8; 6] = [1, 0, 0, 0, 0, 0];
    const UNICAST: [u8; 6] = [0; 6];
    /// What a frame faultd does not watch is given (IEEE 802 Local Experimental 1).
    const UNWATCHED: u16 = 0x88b5;

    /// Reads a pcap of link type `lt` holding `(record, bytes cut by snaplen)` in both file
    /// byte orders, and checks it gives the frames `want` (their wire lengths follow).
    #[track_caller]
    fn check_link(lt: u32, hdr: u32, cases: &[(Vec<u8>, u32, Vec<u8>)]) {
        for e in [LE, BE] {
            let mut f = pcap_header(e, false, lt);
            let mut want = Vec::new();
            for (rec, cut, eth) in cases {
                let wire = rec.len() as u32 + cut;
                want.push(frame(0, eth.clone(), wire - hdr + 14, f.len()));
                f.extend(pcap_rec(e, 0, 0, wire, rec));
            }
            assert_eq!(frames(f), want, "link type {lt}, {e:?}");
        }
    }

    #[test]
    fn raw_ip_becomes_ethernet_by_version_or_link_type() {
        let (v4, v6) = (ipv4_to([10, 0, 0, 1]), ipv6_to(0x20));
        let subnet_bcast = ipv4_to([10, 0, 0, 255]);
        let (bcast, mcast, mcast6) = (ipv4_to([255; 4]), ipv4_to([239, 1, 2, 3]), ipv6_to(0xff));
        let (neither, empty) = (vec![0x52; 30], vec![]);
        let cases = [
            (v4.clone(), 0, eth(UNICAST, 0x0800, &v4)),
            (v6.clone(), 100, eth(UNICAST, 0x86dd, &v6)),
            (bcast.clone(), 0, eth(BCAST, 0x0800, &bcast)),
            (mcast.clone(), 0, eth(MCAST, 0x0800, &mcast)),
            (mcast6.clone(), 0, eth(MCAST, 0x86dd, &mcast6)),
            // No link address says a subnet's broadcast address is not a host's.
            (subnet_bcast.clone(), 0, eth(UNICAST, 0x0800, &subnet_bcast)),
            // Not IP: counted as a frame, never classified; the file goes on.
            (neither.clone(), 0, eth(UNICAST, UNWATCHED, &neither)),
            (empty.clone(), 0, eth(UNICAST, UNWATCHED, &empty)),
        ];
        for lt in [101, 12, 14] {
            check_link(lt, 0, &cases);
        }
        // LINKTYPE_IPV4 and LINKTYPE_IPV6 fix the version whatever the first byte says.
        let v6_in_v4 = eth(UNICAST, 0x0800, &v6);
        check_link(228, 0, &[cases[0].clone(), (v6.clone(), 0, v6_in_v4)]);
        check_link(
            229,
            0,
            &[cases[1].clone(), (v4.clone(), 0, eth(UNICAST, 0x86dd, &v4))],
        );
        let mut huge = pcap_header(LE, false, 101);
        huge.extend(pcap_rec(LE, 0, 0, u32::MAX, &v4));
        assert_eq!(frames(huge)[0].wire_len, u32::MAX);
    }

    #[test]
    fn cisco_hdlc_becomes_ethernet() {
        let chdlc =
            |addr: u8, proto: u16, p: &[u8]| [&[addr, 0][..], &proto.to_be_bytes(), p].concat();
        let (v4, v6, ipx) = (
            ipv4_to([10, 0, 0, 255]),
            ipv6_to(0x20),
            vec![0xff, 0xff, 0, 30],
        );
        let slarp = vec![0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff];
        let inner = eth(BCAST, 0x8137, &ipx);
        let cases = [
            (chdlc(0x0f, 0x0800, &v4), 0, eth(UNICAST, 0x0800, &v4)),
            // The broadcast address byte makes a group destination, as on the LAN.
            (chdlc(0x8f, 0x0800, &v4), 0, eth(BCAST, 0x0800, &v4)),
            (chdlc(0x0f, 0x86dd, &v6), 60, eth(UNICAST, 0x86dd, &v6)),
            (chdlc(0x8f, 0x8137, &ipx), 0, eth(BCAST, 0x8137, &ipx)),
            // SLARP keepalives and CDP keep their numbers, which faultd does not watch...
            (chdlc(0x8f, 0x8035, &slarp), 0, eth(BCAST, 0x8035, &slarp)),
            (chdlc(0x8f, 0x2000, &[1; 8]), 0, eth(BCAST, 0x2000, &[1; 8])),
            // ...but a value up to 1500 must not pass for an 802.3 length (UDLD is 0x0111).
            (chdlc(0x0f, 0x0111, &ipx), 0, eth(UNICAST, UNWATCHED, &ipx)),
        ];
        check_link(104, 4, &cases);
        // Transparent bridging carries a whole Ethernet frame, which is the frame.
        let mut f = pcap_header(LE, false, 104);
        f.extend(pcap_rec(LE, 0, 0, 4 + 60, &chdlc(0x0f, 0x6558, &inner)));
        assert_eq!(frames(f), [frame(0, inner, 60, 24)]);
        let mut short = pcap_header(BE, false, 104);
        short.extend(pcap_rec(BE, 0, 0, 80, &[0x0f, 0]));
        assert_eq!(fail(short), "24 Truncated 4/2");
    }

    #[test]
    fn loopback_family_in_either_byte_order() {
        let (v4, v6) = (ipv4_to([255; 4]), ipv6_to(0x20));
        let ipx = vec![0xff, 0xff, 0, 30, 0, 4];
        // (address family, payload, EtherType, destination)
        let families = [
            (2, &v4, 0x0800, BCAST),
            (24, &v6, 0x86dd, UNICAST), // NetBSD, OpenBSD
            (28, &v6, 0x86dd, UNICAST), // FreeBSD
            (30, &v6, 0x86dd, UNICAST), // Darwin
            (10, &v6, 0x86dd, UNICAST), // Linux
            (23, &ipx, 0x8137, UNICAST),
            (7, &ipx, UNWATCHED, UNICAST), // OSI: not ours
        ];
        // DLT_NULL is in the capturing host's byte order, whichever the file's is; LOOP is
        // in network order (and read the same way).
        for (lt, host_le) in [(0, true), (0, false), (108, false)] {
            let cases: Vec<_> = families
                .iter()
                .map(|&(af, p, t, dst)| {
                    let af: u32 = af;
                    let hdr = if host_le {
                        af.to_le_bytes()
                    } else {
                        af.to_be_bytes()
                    };
                    ([&hdr[..], &p[..]].concat(), 0, eth(dst, t, p))
                })
                .collect();
            check_link(lt, 4, &cases);
        }
        // A value that is no family in either order is not ours either.
        let odd = [&0x0102_0304u32.to_be_bytes()[..], &v4].concat();
        check_link(0, 4, &[(odd, 0, eth(UNICAST, UNWATCHED, &v4))]);
        let mut short = pcap_header(LE, false, 0);
        short.extend(pcap_rec(LE, 0, 0, 3, &[2, 0, 0]));
        assert_eq!(fail(short), "24 Truncated 4/3");
    }

    #[test]
    fn pcapng_skips_and_counts_interfaces_of_other_link_types() {
        let usb = pattern(7, 64);
        // Too long for any link faultd reads, but it is not read.
        let big_usb = vec![0; 300_000];
        let blocks = [
            shb(LE, -1),
            idb(LE, 220, 0, &[]),
            idb(LE, 1, 0, &[]),
            idb(LE, 127, 0, &[]),
            epb(LE, false, 0, 1, 64, &usb),
            epb(LE, false, 1, 2, 60, &pattern(1, 60)),
            epb(LE, false, 0, 3, 300_000, &big_usb),
            epb(LE, false, 2, 4, 30, &[0; 30]),
            spb(LE, 64, &usb),
            shb(BE, -1),
            idb(BE, 189, 0, &[]),
            idb(BE, 104, 0, &[]),
            epb(
                BE,
                false,
                1,
                5,
                24,
                &[&[0x8f, 0, 8, 0][..], &ipv4_to([1; 4])].concat(),
            ),
            epb(BE, true, 0, 6, 48, &usb[..48]),
        ];
        let mut cap = open(blocks.concat()).unwrap();
        let got: Vec<Frame> = cap.by_ref().map(Result::unwrap).collect();
        let want = [
            frame(2000, pattern(1, 60), 60, start(&blocks, 5)),
            frame(
                5000,
                eth(BCAST, 0x0800, &ipv4_to([1; 4])),
                34,
                start(&blocks, 12),
            ),
        ];
        assert_eq!(got, want);
        assert_eq!(cap.skipped(), [(220, 3), (127, 1), (189, 1)]);
        let notes = cap.skipped_notes();
        let want = [
            "test.cap: skipped 3 frames of interfaces with link type 220 (USB), which faultd does not read",
            "test.cap: skipped 1 frame of interfaces with link type 127 (802.11 radiotap), which faultd does not read",
            "test.cap: skipped 1 frame of interfaces with link type 189 (USB), which faultd does not read",
        ];
        assert_eq!(notes, want);
        // A file none of whose interfaces faultd reads is refused, like a pcap of that type.
        let none = [shb(LE, -1), idb(LE, 220, 0, &[]), idb(LE, 147, 0, &[])];
        let tail = [epb(LE, false, 1, 0, 4, &[0; 4])];
        assert_eq!(
            fail([&none[..], &tail].concat().concat()),
            "28 UnsupportedLinkType 220"
        );
        let later = [shb(BE, -1), idb(BE, 1, 0, &[])];
        let ok = [&none[..], &tail, &later].concat().concat();
        assert!(
            frames(ok).is_empty(),
            "a readable interface in any section will do"
        );
        // No interface at all is no reason to refuse: there is nothing to read.
        assert!(frames(shb(LE, -1)).is_empty());
    }

    #[test]
    fn captured_length_above_original_length_reads() {
        let mut f = pcap_header(LE, false, 1);
        f.extend(pcap_rec(LE, 0, 0, 10, &pattern(1, 11)));
        f.extend(pcap_rec(LE, 0, 0, 0, &pattern(2, 4)));
        let mut sll = pcap_header(BE, true, 113);
        sll.extend(pcap_rec(
            BE,
            0,
            0,
            4,
            &cooked(false, 0, 6, 0x0800, &[0x45; 4]),
        ));
        let ng = [
            shb(BE, -1),
            idb(BE, 0, 0, &[]),
            epb(
                BE,
                false,
                0,
                0,
                7,
                &[&[2, 0, 0, 0][..], &[0x45; 20]].concat(),
            ),
        ];
        let snoop = [snoop_header(4), snoop_rec(0, 0, 3, &pattern(3, 9), 0)].concat();
        assert_eq!(
            frames(f),
            [
                frame(0, pattern(1, 11), 11, 24),
                frame(0, pattern(2, 4), 4, 51)
            ]
        );
        let ip4 = [&[0; 6][..], &MAC, &[8, 0], &[0x45; 4]].concat();
        assert_eq!(frames(sll), [frame(0, ip4, 18, 24)]);
        let ip4 = eth(UNICAST, 0x0800, &[0x45; 20]);
        assert_eq!(frames(ng.concat()), [frame(0, ip4, 34, start(&ng, 2))]);
        assert_eq!(frames(snoop), [frame(0, pattern(3, 9), 9, 16)]);
    }

    #[test]
    fn thousands_separators() {
        let got: Vec<String> = [0, 999, 1000, 1234, 999_999, 1_234_567]
            .map(thousands)
            .into();
        assert_eq!(got, ["0", "999", "1,000", "1,234", "999,999", "1,234,567"]);
    }

    /// Cuts `pieces.concat()` at every length: a cut on a piece boundary is a clean end, any
    /// other cut is a Truncated error at the start of the piece it falls in. Never a panic.
    fn check_every_prefix(pieces: &[Vec<u8>]) {
        let full = pieces.concat();
        let all = frames(full.clone());
        let starts: Vec<usize> = (0..=pieces.len()).map(|i| start(pieces, i)).collect();
        for n in 0..=full.len() {
            let result = open(full[..n].to_vec());
            if n < pieces[0].len() {
                let e = result.err().expect("a cut header must fail");
                let truncated = matches!(e.kind, ErrorKind::Truncated { .. });
                assert!(truncated && e.offset == 0, "{n}: {e}");
                continue;
            }
            let mut items: Vec<_> = result.unwrap().collect();
            let cut = *starts.iter().rev().find(|&&s| s <= n).unwrap();
            if cut < n {
                let e = items.pop().unwrap().expect_err("a cut record must fail");
                assert!(matches!(e.kind, ErrorKind::Truncated { .. }), "{n}: {e}");
                assert_eq!(e.offset, cut as u64, "{n}");
            }
            let got: Vec<&Frame> = items.iter().map(|i| i.as_ref().unwrap()).collect();
            let want: Vec<&Frame> = all.iter().filter(|f| f.offset < cut as u64).collect();
            assert_eq!(got, want, "{n}");
        }
    }

    #[test]
    fn truncation_at_every_offset() {
        check_every_prefix(&[
            pcap_header(BE, true, 1),
            pcap_rec(BE, 1, 2, 20, &pattern(1, 20)),
            pcap_rec(BE, 3, 4, 9, &pattern(2, 9)),
        ]);
        check_every_prefix(&[
            pcap_header(LE, false, 113),
            pcap_rec(LE, 1, 2, 20, &cooked(false, 0, 6, 0x800, &[0x45; 4])),
        ]);
        check_every_prefix(&[
            shb(LE, -1),
            idb(LE, 1, 0, &[(9, &[9])]),
            epb(LE, false, 0, 5, 14, &pattern(1, 14)),
            ng_block(LE, 4, vec![0; 4]),
            spb(LE, 6, &pattern(2, 6)),
            epb(LE, true, 0, 5, 7, &pattern(3, 7)),
            shb(BE, -1),
            idb(BE, 276, 0, &[]),
            epb(BE, false, 0, 5, 24, &cooked(true, 0, 6, 0x800, &[0x45; 4])),
        ]);
        check_every_prefix(&[
            pcap_header(BE, false, 104),
            pcap_rec(
                BE,
                1,
                2,
                30,
                &[&[0x8f, 0, 8, 0][..], &ipv4_to([1; 4])].concat(),
            ),
            pcap_rec(BE, 1, 2, 4, &[0x0f, 0, 0x65, 0x58]),
        ]);
        check_every_prefix(&[
            shb(LE, -1),
            // A cut right after an unreadable first interface would refuse the file.
            idb(LE, 0, 0, &[]),
            idb(LE, 220, 0, &[]),
            epb(LE, false, 1, 5, 14, &pattern(1, 14)),
            epb(
                LE,
                false,
                0,
                5,
                24,
                &[&[24, 0, 0, 0][..], &ipv6_to(0xff)].concat(),
            ),
            spb(LE, 6, &pattern(2, 6)),
        ]);
        check_every_prefix(&[
            snoop_header(4),
            snoop_rec(1, 2, 14, &pattern(1, 14), 0),
            snoop_rec(3, 4, 9, &pattern(2, 9), 4),
        ]);
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        };
        let sll = pcap_rec(LE, 1, 2, 30, &cooked(false, 1, 6, 4, &[0; 14]));
        let iface = idb(BE, 1, 0, &[(9, &[0x85])]);
        let packets = [epb(BE, false, 0, 1, 9, &[1; 9]), spb(BE, 3, &[2; 3])].concat();
        let loopback = epb(
            LE,
            false,
            1,
            1,
            44,
            &[&[0, 0, 0, 2][..], &ipv4_to([255; 4])].concat(),
        );
        let mixed = [
            shb(LE, -1),
            idb(LE, 189, 0, &[]),
            idb(LE, 108, 0, &[]),
            loopback,
        ];
        let chdlc = pcap_rec(
            BE,
            1,
            2,
            44,
            &[&[0x8f, 0, 0x86, 0xdd][..], &ipv6_to(0xff)].concat(),
        );
        let raw = pcap_rec(LE, 1, 2, 40, &ipv6_to(0xff));
        let valid = [
            [pcap_header(LE, false, 113), sll].concat(),
            [shb(BE, -1), iface, packets].concat(),
            mixed.concat(),
            [pcap_header(BE, false, 104), chdlc].concat(),
            [pcap_header(LE, false, 101), raw].concat(),
            [snoop_header(4), snoop_rec(1, 2, 14, &pattern(1, 14), 0)].concat(),
        ];
        let magics: [&[u8]; 4] = [&PCAPNG_SHB, &[0xd4, 0xc3, 0xb2, 0xa1], SNOOP_MAGIC, &[]];
        for round in 0..3000 {
            let bytes = if round % 2 == 0 {
                // Mutating a valid capture gets parsing deep before it meets nonsense.
                let mut v = valid[round / 2 % valid.len()].clone();
                for _ in 0..1 + rand() % 4 {
                    let i = rand() % v.len();
                    v[i] = rand() as u8;
                }
                v.truncate(rand() % (v.len() + 8));
                v
            } else {
                let mut v: Vec<u8> = (0..rand() % 200).map(|_| rand() as u8).collect();
                let magic = magics[round / 2 % 4];
                v.splice(..magic.len().min(v.len()), magic.iter().copied());
                v
            };
            if let Ok(cap) = open(bytes) {
                // Every step consumes at least one record header, so this always ends.
                assert!(cap.take(1000).count() < 1000);
            }
        }
    }

    #[test]
    fn error_display_names_file_offset_and_problem() {
        let mut f = pcap_header(LE, false, 1);
        f.extend(pcap_rec(LE, 0, 0, 20, &[0; 20]));
        f.extend([0; 7]);
        let mut cap = Capture::from_bytes(Path::new("dir/capture.pcap"), f).unwrap();
        let text = cap.nth(1).unwrap().unwrap_err().to_string();
        let want = "dir/capture.pcap: truncated pcap record header at byte 60: needed 16 bytes, 7 available";
        assert_eq!(text, want);
        let e = Capture::from_bytes(Path::new("x.pcapng"), pcap_header(LE, false, 147));
        let want = "x.pcapng: unsupported link type 147 declared at byte 0";
        assert_eq!(e.err().unwrap().to_string(), want);
        let e = Capture::from_bytes(Path::new("usb.pcap"), pcap_header(BE, false, 220));
        let want = "usb.pcap: unsupported link type 220 (USB) declared at byte 0";
        assert_eq!(e.err().unwrap().to_string(), want);
        // A pcapng file is refused once read through: a later section may be readable.
        let usb = [shb(LE, -1), idb(LE, 220, 0, &[])].concat();
        let mut cap = Capture::from_bytes(Path::new("usb.pcapng"), usb).unwrap();
        let want = "usb.pcapng: unsupported link type 220 (USB) declared at byte 28";
        assert_eq!(cap.next().unwrap().unwrap_err().to_string(), want);
        assert!(cap.next().is_none());
        let e = Capture::open(Path::new("/nonexistent/dir/gone.pcap"))
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(matches!(e.kind, ErrorKind::Io(_)));
        assert!(text.starts_with("/nonexistent/dir/gone.pcap: cannot read file at byte 0: "));
    }

    /// A source that hands out at most `step` bytes per read, as a pipe may.
    struct Trickle {
        bytes: std::io::Cursor<Vec<u8>>,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = out.len().min(self.step);
            self.bytes.read(&mut out[..n])
        }
    }

    fn trickle(bytes: Vec<u8>, step: usize) -> Capture {
        let bytes = std::io::Cursor::new(bytes);
        Capture::from_reader(Path::new("pipe"), Box::new(Trickle { bytes, step })).unwrap()
    }

    #[test]
    fn a_source_read_in_pieces_gives_the_same_frames() {
        let big = pattern(5, MAX_LEN as usize);
        let files = [
            [
                pcap_header(LE, false, 1),
                pcap_rec(LE, 1, 2, 60, &pattern(1, 60)),
            ]
            .concat(),
            [pcap_header(BE, true, 1), pcap_rec(BE, 1, 2, MAX_LEN, &big)].concat(),
            [
                shb(LE, -1),
                idb(LE, 220, 0, &[]),
                idb(LE, 1, 0, &[(9, &[9])]),
                epb(LE, false, 0, 1, 70_000, &pattern(7, 70_000)),
                epb(LE, false, 1, 5, 14, &pattern(1, 14)),
                ng_block(LE, 4, vec![0; 100_000]),
                epb(LE, false, 1, 6, MAX_LEN, &big),
                spb(LE, 6, &pattern(2, 6)),
            ]
            .concat(),
            [snoop_header(4), snoop_rec(1, 2, 14, &pattern(1, 14), 9_000)].concat(),
        ];
        for (i, f) in files.iter().enumerate() {
            let whole: Vec<Frame> = frames(f.clone());
            assert!(!whole.is_empty(), "file {i}");
            for step in [1, 3, 4096, 1 << 20] {
                let got: Vec<Frame> = trickle(f.clone(), step).map(Result::unwrap).collect();
                assert_eq!(got, whole, "file {i}, {step} bytes per read");
            }
        }
    }

    #[test]
    fn blocks_faultd_does_not_read_pass_at_any_length_and_the_window_stays_bounded() {
        let huge = 4 << 20;
        let blocks = [
            shb(LE, -1),
            idb(LE, 220, 0, &[]),
            idb(LE, 1, 0, &[]),
            epb(LE, false, 0, 1, huge, &vec![0; huge as usize]),
            ng_block(LE, 0x0000_0bad, vec![1; huge as usize]),
            epb(LE, false, 1, 2, 60, &pattern(1, 60)),
        ];
        let mut cap = trickle(blocks.concat(), 1 << 20);
        let got: Vec<Frame> = cap.by_ref().map(Result::unwrap).collect();
        assert_eq!(got, [frame(2000, pattern(1, 60), 60, start(&blocks, 5))]);
        assert_eq!(cap.skipped(), [(220, 1)]);
        let held = cap.input.buf.len();
        assert!(held <= 2 * MAX_BLOCK as usize + CHUNK, "{held} bytes held");
        // A packet faultd reads is held whole, so its block has a bound.
        let options = vec![0; MAX_BLOCK as usize];
        let long = epb(
            LE,
            false,
            0,
            3,
            60,
            &[&pattern(1, 60)[..], &options].concat(),
        );
        let long = [shb(LE, -1), idb(LE, 1, 0, &[]), long].concat();
        assert_eq!(
            fail(long.clone()),
            format!("48 BadField {}", long.len() - 48)
        );
        let text = trickle(long, 4096).next().unwrap().unwrap_err().to_string();
        let want = "bad pcapng block total length (over 320 KiB) at byte 48";
        assert!(text.starts_with(&format!("pipe: {want}")), "{text}");
    }

    #[test]
    fn an_endless_stream_of_zeros_is_refused_at_once() {
        let zeros = std::io::repeat(0);
        let e = Capture::from_reader(Path::new("/dev/zero"), Box::new(zeros));
        let text = e.err().unwrap().to_string();
        let want = "/dev/zero: unknown capture format at byte 0: magic 00000000 is not pcap, pcapng or snoop";
        assert_eq!(text, want);
    }

    /// Frame counts of the shared real captures against capinfos, an independent reader.
    #[test]
    fn real_captures_match_capinfos() {
        use std::process::Command;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/real");
        let dir = Path::new(dir);
        let Ok(entries) = std::fs::read_dir(dir) else {
            eprintln!("SKIPPED: real capture corpus {} not found", dir.display());
            return;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.retain(|p| p.extension().is_some_and(|x| x != "md"));
        paths.sort();
        assert!(!paths.is_empty(), "no captures in {}", dir.display());
        for path in &paths {
            let capinfos = Command::new("capinfos")
                .args(["-c", "-M"])
                .arg(path)
                .output();
            let out = match capinfos {
                Ok(out) => out,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    eprintln!("SKIPPED: capinfos not found (Debian package wireshark-common)");
                    return;
                }
                Err(e) => panic!("capinfos: {e}"),
            };
            let text = String::from_utf8_lossy(&out.stdout);
            let count = text
                .lines()
                .find_map(|l| l.strip_prefix("Number of packets:"));
            let count: usize = count
                .expect("capinfos packet count")
                .trim()
                .parse()
                .unwrap();
            let got: Result<Vec<Frame>, _> = Capture::open(path).unwrap().collect();
            let got = got.unwrap();
            assert_eq!(got.len(), count, "{}", path.display());
            assert!(got.iter().all(|f| f.data.len() <= f.wire_len as usize));
            if path.ends_with("nbns_nbss_samba_ipx_snap_raw_llc__wswiki_Obsolete_Packets.cap") {
                // The first record holds 88 bytes: a 16-byte SLL header (unicast to us, from
                // 00:0c:29:0d:56:e3, IPv6) and a 72-byte payload.
                let first = &got[0].data;
                assert_eq!(first.len(), 14 + 72);
                let src = [0, 0x0c, 0x29, 0x0d, 0x56, 0xe3];
                assert_eq!(first[..14], [&[0; 6][..], &src, &[0x86, 0xdd]].concat());
                assert_eq!(first[14] >> 4, 6);
                // Frame 286 is outgoing 802.3 SNAP whose SLL protocol field holds its own length
                // (36) before 10 bytes of padding: that length survives the conversion.
                assert_eq!(got[285].data[12..17], [0, 36, 0xaa, 0xaa, 0x03]);
                assert_eq!(got[285].data.len(), 14 + 46);
            }
        }
    }
}
