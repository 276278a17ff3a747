//! Reading capture files (pcap, pcapng, snoop) into Ethernet frames with nanosecond timestamps.
//!
//! The format is chosen by magic bytes only, so a misnamed file still reads. Every link type is
//! turned into an Ethernet frame here, so the classifier has one input shape to deal with.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

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
                write!(f, "unsupported link type {n} declared at byte {at}")
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

/// `len` bytes from `start`, or a Truncated error blaming the record that begins at `start`.
fn take<'a>(b: &'a [u8], start: usize, len: usize, what: &'static str) -> Res<&'a [u8]> {
    let available = b.len().saturating_sub(start);
    if available < len {
        let (needed, available) = (len as u64, available as u64);
        return Err((
            start,
            ErrorKind::Truncated {
                what,
                needed,
                available,
            },
        ));
    }
    Ok(&b[start..start + len])
}

fn bad(at: usize, what: &'static str, value: impl Into<u64>) -> (usize, ErrorKind) {
    let value = value.into();
    (at, ErrorKind::BadField { what, value })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Ethernet,
    Sll,
    Sll2,
}

fn link_type(lt: u32, at: usize) -> Res<Link> {
    match lt {
        1 => Ok(Link::Ethernet),
        113 => Ok(Link::Sll),
        276 => Ok(Link::Sll2),
        n => Err((at, ErrorKind::UnsupportedLinkType(n))),
    }
}

fn check_lengths(at: usize, incl: u32, orig: u32) -> Res<()> {
    if incl > MAX_LEN {
        return Err(bad(at, "included length (over 256 KiB)", incl));
    }
    if incl > orig {
        return Err(bad(at, "included length (above original length)", incl));
    }
    Ok(())
}

/// Turns a record's bytes into an Ethernet frame; `orig` is the record's length on the wire.
fn make_frame(link: Link, data: &[u8], orig: u32, ts_ns: u64, at: usize) -> Res<Frame> {
    let offset = at as u64;
    let be = Endian::Big;
    let cooked = |len| take(data, 0, len, "Linux cooked header").map_err(|(_, k)| (at, k));
    // SLL fields are in network byte order whatever the file's byte order.
    let (hdr, pkttype, addr_len, addr, proto) = match link {
        Link::Ethernet => {
            return Ok(Frame {
                ts_ns,
                data: data.to_vec(),
                wire_len: orig,
                offset,
            });
        }
        Link::Sll => {
            let h = cooked(16)?;
            (16, be.u16(h, 0), be.u16(h, 4), &h[6..14], be.u16(h, 14))
        }
        Link::Sll2 => {
            let h = cooked(20)?;
            (
                20,
                u16::from(h[10]),
                u16::from(h[11]),
                &h[12..20],
                be.u16(h, 0),
            )
        }
    };
    let payload = &data[hdr..];
    let mut out = Vec::with_capacity(14 + payload.len());
    out.extend_from_slice(match pkttype {
        1 => &[0xff; 6],
        2 => &[1, 0, 0, 0, 0, 0],
        _ => &[0; 6],
    });
    out.extend_from_slice(if addr_len == 6 { &addr[..6] } else { &[0; 6] });
    let wire_payload = orig - hdr as u32; // orig >= incl >= hdr, checked by the caller
    // Values up to 1500 are not EtherTypes, so the frame gets an 802.3 length instead. For
    // ETH_P_802_3 (1) and ETH_P_802_2 (4) that is the payload length, capped so it can never read
    // as an EtherType. Linux stores any other small value for outgoing 802.3 frames, where it is
    // the frame's own length field (payload minus Ethernet padding), so it is kept as it is.
    let type_or_len = match proto {
        1 | 4 => wire_payload.min(1500) as u16,
        _ => proto,
    };
    out.extend_from_slice(&type_or_len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(Frame {
        ts_ns,
        data: out,
        wire_len: wire_payload + 14,
        offset,
    })
}

struct Iface {
    link: Link,
    snaplen: u32,
    /// if_tsresol as stored: high bit set means 2^-n, otherwise 10^-n.
    tsresol: u8,
    tsoffset_s: i64,
}

enum Kind {
    /// Byte order, nanosecond (not microsecond) timestamps, link type.
    Pcap(Endian, bool, Link),
    PcapNg {
        endian: Endian,
        ifaces: Vec<Iface>,
    },
    Snoop,
}

/// An open capture; iterate it for frames.
pub struct Capture {
    path: PathBuf,
    bytes: Vec<u8>,
    pos: usize,
    done: bool,
    kind: Kind,
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
        let bytes = std::fs::read(path).map_err(|e| error(path, (0, ErrorKind::Io(e))))?;
        Capture::from_bytes(path, bytes)
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Capture, CaptureError> {
        let (kind, pos) = read_header(&bytes).map_err(|e| error(path, e))?;
        Ok(Capture {
            path: path.to_path_buf(),
            bytes,
            pos,
            done: false,
            kind,
        })
    }

    pub fn format(&self) -> &'static str {
        match self.kind {
            Kind::Pcap(..) => "pcap",
            Kind::PcapNg { .. } => "pcapng",
            Kind::Snoop => "snoop",
        }
    }
}

impl Iterator for Capture {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (b, pos) = (&self.bytes, &mut self.pos);
        let result = match &mut self.kind {
            Kind::Pcap(endian, nanos, link) => pcap_record(b, pos, *endian, *nanos, *link),
            Kind::PcapNg { endian, ifaces } => pcapng_next(b, pos, endian, ifaces),
            Kind::Snoop => snoop_record(b, pos),
        };
        // Past an error the framing is lost, so nothing after it can be trusted.
        self.done = !matches!(result, Ok(Some(_)));
        result.map_err(|e| error(&self.path, e)).transpose()
    }
}

/// Detects the format and checks the file header; returns where the first record starts.
fn read_header(b: &[u8]) -> Res<(Kind, usize)> {
    let magic: [u8; 4] = take(b, 0, 4, "capture file magic")?.try_into().unwrap();
    let (endian, nanos) = match magic {
        [0xa1, 0xb2, 0xc3, 0xd4] => (Endian::Big, false),
        [0xd4, 0xc3, 0xb2, 0xa1] => (Endian::Little, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (Endian::Big, true),
        [0x4d, 0x3c, 0xb2, 0xa1] => (Endian::Little, true),
        PCAPNG_SHB => {
            let (endian, len) = pcapng_shb(b, 0)?;
            let ifaces = Vec::new();
            return Ok((Kind::PcapNg { endian, ifaces }, len));
        }
        // A file cut inside the 8-byte magic is a truncated snoop file, not an unknown one.
        _ if SNOOP_MAGIC.starts_with(&b[..b.len().min(8)]) => {
            let h = take(b, 0, 16, "snoop file header")?;
            let (version, datalink) = (Endian::Big.u32(h, 8), Endian::Big.u32(h, 12));
            if version != 2 {
                let major = u16::try_from(version).unwrap_or(u16::MAX);
                return Err((0, ErrorKind::UnsupportedVersion { major, minor: 0 }));
            }
            if datalink != 4 {
                return Err((0, ErrorKind::UnsupportedLinkType(datalink)));
            }
            return Ok((Kind::Snoop, 16));
        }
        _ => return Err((0, ErrorKind::UnknownFormat { magic })),
    };
    let h = take(b, 0, 24, "pcap file header")?;
    let (major, minor) = (endian.u16(h, 4), endian.u16(h, 6));
    if (major, minor) != (2, 4) {
        return Err((0, ErrorKind::UnsupportedVersion { major, minor }));
    }
    // The top bits of the link-type field carry FCS information, not the link type.
    let link = link_type(endian.u32(h, 20) & 0x03ff_ffff, 0)?;
    Ok((Kind::Pcap(endian, nanos, link), 24))
}

fn pcap_record(
    b: &[u8],
    pos: &mut usize,
    e: Endian,
    nanos: bool,
    link: Link,
) -> Res<Option<Frame>> {
    let at = *pos;
    if at == b.len() {
        return Ok(None);
    }
    let h = take(b, at, 16, "pcap record header")?;
    let (secs, frac, incl, orig) = (e.u32(h, 0), e.u32(h, 4), e.u32(h, 8), e.u32(h, 12));
    check_lengths(at, incl, orig)?;
    let rec = take(b, at, 16 + incl as usize, "pcap record")?;
    *pos = at + rec.len();
    let frac_ns = u64::from(frac) * if nanos { 1 } else { 1000 };
    let ts = u64::from(secs) * 1_000_000_000 + frac_ns;
    make_frame(link, &rec[16..], orig, ts, at).map(Some)
}

fn snoop_record(b: &[u8], pos: &mut usize) -> Res<Option<Frame>> {
    let at = *pos;
    if at == b.len() {
        return Ok(None);
    }
    let be = Endian::Big;
    let h = take(b, at, 24, "snoop record header")?;
    let (orig, incl, rec_len) = (be.u32(h, 0), be.u32(h, 4), be.u32(h, 8));
    check_lengths(at, incl, orig)?;
    if rec_len < 24 + incl {
        return Err(bad(at, "snoop record length (too short)", rec_len));
    }
    // The record length covers padding after the data, so it is what moves us on.
    let rec = take(b, at, rec_len as usize, "snoop record")?;
    *pos = at + rec.len();
    let ts = u64::from(be.u32(h, 16)) * 1_000_000_000 + u64::from(be.u32(h, 20)) * 1000;
    make_frame(Link::Ethernet, &rec[24..24 + incl as usize], orig, ts, at).map(Some)
}

/// Checks a pcapng block's framing and returns its body (between length and trailer).
fn pcapng_block(b: &[u8], at: usize, e: Endian, min: u32) -> Res<&[u8]> {
    let leading = e.u32(take(b, at, 8, "pcapng block header")?, 4);
    if !leading.is_multiple_of(4) || leading < min {
        return Err(bad(at, "pcapng block total length", leading));
    }
    let block = take(b, at, leading as usize, "pcapng block")?;
    let trailing = e.u32(block, block.len() - 4);
    if trailing != leading {
        return Err((at, ErrorKind::BlockLengthMismatch { leading, trailing }));
    }
    Ok(&block[8..block.len() - 4])
}

/// Reads a Section Header Block; its byte-order magic decides how the whole section is read.
fn pcapng_shb(b: &[u8], at: usize) -> Res<(Endian, usize)> {
    let h = take(b, at, 12, "pcapng section header block")?;
    let endian = match h[8..12] {
        [0x1a, 0x2b, 0x3c, 0x4d] => Endian::Big,
        [0x4d, 0x3c, 0x2b, 0x1a] => Endian::Little,
        _ => return Err(bad(at, "pcapng byte-order magic", Endian::Big.u32(h, 8))),
    };
    let body = pcapng_block(b, at, endian, 28)?;
    let (major, minor) = (endian.u16(body, 4), endian.u16(body, 6));
    if major != 1 {
        return Err((at, ErrorKind::UnsupportedVersion { major, minor }));
    }
    // The section length (possibly -1) is not needed: blocks are walked one by one.
    Ok((endian, body.len() + 12))
}

fn pcapng_idb(e: Endian, body: &[u8], at: usize) -> Res<Iface> {
    if body.len() < 8 {
        return Err(bad(at, "pcapng block total length", body.len() as u64 + 12));
    }
    let link = link_type(u32::from(e.u16(body, 0)), at)?;
    let mut iface = Iface {
        link,
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
    b: &[u8],
    pos: &mut usize,
    endian: &mut Endian,
    ifaces: &mut Vec<Iface>,
) -> Res<Option<Frame>> {
    loop {
        let at = *pos;
        if at == b.len() {
            return Ok(None);
        }
        if take(b, at, 8, "pcapng block header")?[..4] == PCAPNG_SHB {
            let (e, len) = pcapng_shb(b, at)?;
            (*endian, *pos) = (e, at + len);
            ifaces.clear(); // interface ids are numbered per section
            continue;
        }
        let e = *endian;
        let body = pcapng_block(b, at, e, 12)?;
        *pos = at + body.len() + 12;
        let iface = |id: u32| {
            ifaces
                .get(id as usize)
                .ok_or_else(|| bad(at, "pcapng interface id", id))
        };
        let btype = e.u32(b, at);
        let min_body = match btype {
            1 => {
                let idb = pcapng_idb(e, body, at)?;
                ifaces.push(idb);
                continue;
            }
            2 | 6 => 20,
            3 => 4,
            _ => continue, // NRB, ISB, DSB, custom...: nothing a frame needs
        };
        if body.len() < min_body {
            return Err(bad(at, "pcapng block total length", body.len() as u64 + 12));
        }
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
        check_lengths(at, incl, orig)?;
        let data = body
            .get(data_at..data_at + incl as usize)
            .ok_or_else(|| bad(at, "pcapng captured length (beyond its block)", incl))?;
        let ts_ns = ts.map_or(0, |units| pcapng_ts_ns(units, iface));
        return make_frame(iface.link, data, orig, ts_ns, at).map(Some);
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
        assert_eq!(with(&pcap_rec(LE, 0, 0, 10, &[0; 11])), "24 BadField 11");
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
        f.extend(pcap_rec(LE, 0, 0, 3, &[2; 4]));
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
        assert_eq!(with(idb(LE, 105, 0, &[])), "48 UnsupportedLinkType 105");
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
        let idb = idb(BE, 1, 0, &[(9, &[0x85])]);
        let packets = [epb(BE, false, 0, 1, 9, &[1; 9]), spb(BE, 3, &[2; 3])].concat();
        let valid = [
            [pcap_header(LE, false, 113), sll].concat(),
            [shb(BE, -1), idb, packets].concat(),
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
        let mut f = pcap_header(LE, false, 1);
        f.extend(pcap_rec(LE, 0, 0, 1, &[0; 2]));
        let text = open(f).unwrap().next().unwrap().unwrap_err().to_string();
        let want = "test.cap: bad included length (above original length) at byte 24: 2";
        assert_eq!(text, want);
        let e = Capture::open(Path::new("/nonexistent/dir/gone.pcap"))
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(matches!(e.kind, ErrorKind::Io(_)));
        assert!(text.starts_with("/nonexistent/dir/gone.pcap: cannot read file at byte 0: "));
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
