//! Reading capture files (pcap, pcapng, snoop) into Ethernet frames with nanosecond timestamps.
//!
//! The format is chosen by magic bytes only, so a misnamed file still reads. Every link type is
//! turned into an Ethernet frame here (`Link`, `make_frame`), so the classifier has one input
//! shape to deal with. A pcapng interface of a link type faultd does not read is skipped, its
//! packets counted (`Capture::skipped`); a whole file of such a type is refused.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::rc::Rc;

mod input;
mod link;
mod open;
mod pcap;
mod pcapng;
mod snoop;
#[cfg(test)]
mod tests;
mod timeline;

use input::{Input, MAX_BLOCK, bad, take, truncated};
use link::{Link, Named, check_lengths, link, make_frame};
use pcap::pcap_record;
use pcapng::{PcapNg, pcapng_next, pcapng_shb};
use snoop::snoop_record;

pub use open::STDIN;
pub use timeline::Timeline;

/// One captured frame, always in Ethernet form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// In the decompressed data when the file is compressed.
    pub offset: u64,
    pub kind: ErrorKind,
    /// "gzip" or "zstd" for a compressed file.
    pub compression: Option<&'static str>,
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
    /// What is wrong with an input as named, not with its bytes.
    Inputs(&'static str),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = At(self.offset, self.compression);
        match self.path.as_os_str() == STDIN {
            true => write!(f, "standard input: ")?,
            false => write!(f, "{}: ", self.path.display())?,
        }
        match &self.kind {
            ErrorKind::Io(e) if self.compression.is_some() => {
                write!(f, "cannot read or decompress it at {at}: {e}")
            }
            ErrorKind::Io(e) => write!(f, "cannot read file at {at}: {e}"),
            ErrorKind::UnknownFormat {
                magic: [a, b, c, d],
            } => write!(
                f,
                "unknown capture format at {at}: magic {a:02x}{b:02x}{c:02x}{d:02x} \
                 is not pcap, pcapng or snoop"
            ),
            ErrorKind::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "truncated {what} at {at}: needed {needed} bytes, {available} available"
            ),
            ErrorKind::BadField { what, value } => write!(f, "bad {what} at {at}: {value}"),
            ErrorKind::UnsupportedLinkType(n) => {
                write!(f, "unsupported link type {n}{} declared at {at}", Named(*n))
            }
            ErrorKind::UnsupportedVersion { major, minor } => {
                write!(f, "unsupported format version {major}.{minor} at {at}")
            }
            ErrorKind::BlockLengthMismatch { leading, trailing } => write!(
                f,
                "pcapng block at {at} has length {leading} but its trailer says {trailing}"
            ),
            ErrorKind::Inputs(what) => write!(f, "{what}"),
        }
    }
}

/// "byte N", saying which bytes are counted when they are not the file's own.
struct At(u64, Option<&'static str>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At(n, None) => write!(f, "byte {n}"),
            At(n, Some(c)) => write!(f, "byte {n} of the {c}-decompressed data"),
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

enum Kind {
    /// Byte order, nanosecond (not microsecond) timestamps, link type.
    Pcap(Endian, bool, Link),
    PcapNg(PcapNg),
    Snoop,
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
    compression: Option<&'static str>,
}

fn error(path: &Path, (offset, kind): (usize, ErrorKind)) -> CaptureError {
    CaptureError {
        path: path.to_path_buf(),
        offset: offset as u64,
        kind,
        compression: None,
    }
}

impl Capture {
    /// Opens the capture at `path`, or standard input for `-`, compressed with gzip or
    /// zstd or not.
    pub fn open(path: &Path) -> Result<Capture, CaptureError> {
        Capture::open_counted(path, Rc::default())
    }

    /// [`Capture::open`], adding every byte read from the file (before decompression) to
    /// `count`.
    pub fn open_counted(path: &Path, count: Rc<Cell<u64>>) -> Result<Capture, CaptureError> {
        let opened = open::open(path, count)?;
        Capture::start(path, opened.reader, opened.compression)
    }

    /// Reads a capture from `src`, record by record; `path` names it in messages.
    pub fn from_reader(path: &Path, src: Box<dyn Read>) -> Result<Capture, CaptureError> {
        Capture::start(path, src, None)
    }

    fn start(
        path: &Path,
        src: Box<dyn Read>,
        compression: Option<&'static str>,
    ) -> Result<Capture, CaptureError> {
        let mut input = Input::new(src);
        let (kind, pos) = read_header(&mut input).map_err(|e| CaptureError {
            compression,
            ..error(path, e)
        })?;
        Ok(Capture {
            path: path.to_path_buf(),
            input,
            pos,
            done: false,
            kind,
            skipped: Vec::new(),
            compression,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// "gzip" or "zstd" when the file is compressed.
    pub fn compression(&self) -> Option<&'static str> {
        self.compression
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

impl Capture {
    /// Reads the next frame into `out`, whose buffer is reused; false at the end. After an
    /// error, or the end, there is nothing more.
    pub fn read_into(&mut self, out: &mut Frame) -> Result<bool, CaptureError> {
        if self.done {
            return Ok(false);
        }
        let (input, pos) = (&mut self.input, &mut self.pos);
        let result = match &mut self.kind {
            Kind::Pcap(endian, nanos, link) => pcap_record(input, pos, *endian, *nanos, *link, out),
            Kind::PcapNg(ng) => pcapng_next(input, pos, ng, &mut self.skipped, out),
            Kind::Snoop => snoop_record(input, pos, out),
        };
        if matches!(result, Err((_, ErrorKind::UnsupportedLinkType(_)))) {
            // The refusal speaks for every packet skipped.
            self.skipped.clear();
        }
        // Past an error the framing is lost, so nothing after it can be trusted.
        self.done = !matches!(result, Ok(true));
        result.map_err(|e| CaptureError {
            compression: self.compression,
            ..error(&self.path, e)
        })
    }
}

impl Iterator for Capture {
    type Item = Result<Frame, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut frame = Frame::default();
        match self.read_into(&mut frame) {
            Ok(true) => Some(Ok(frame)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
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
