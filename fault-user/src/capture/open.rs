//! Where a capture's bytes come from: a file or standard input (`-`), either of them
//! compressed with gzip or zstd. Compression is found by magic bytes, as the formats are,
//! so `x.pcap.gz` renamed `x.pcap` still reads.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use ruzstd::decoding::{
    BlockDecodingStrategy, FrameDecoder,
    errors::{FrameDecoderError, ReadFrameHeaderError},
};

use super::{CaptureError, ErrorKind, error};

/// The name that stands for standard input, as in most Unix tools.
pub const STDIN: &str = "-";

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// A skippable frame's magic is 0x184D2A5?, little-endian; pzstd starts every file with one.
fn zstd_skippable(head: &[u8]) -> bool {
    matches!(head, [b0, 0x2a, 0x4d, 0x18] if b0 & 0xf0 == 0x50)
}
/// The decoders read a few bytes at a time; this spares a system call for each.
const DECODER_BUFFER: usize = 64 * 1024;

/// A byte source, with what the messages need to say about it.
pub(super) struct Opened {
    pub reader: Box<dyn Read>,
    /// "gzip" or "zstd": the offsets of the reader's errors are then in the decompressed data.
    pub compression: Option<&'static str>,
}

/// Counts the bytes read from the file itself (before decompression), for progress.
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Opens `path` (`-` for standard input) and undoes its compression; every byte read from
/// the file itself is added to `count`.
pub(super) fn open(path: &Path, count: Rc<Cell<u64>>) -> Result<Opened, CaptureError> {
    let fail = |e: io::Error| error(path, (0, ErrorKind::Io(e)));
    let raw: Box<dyn Read> = if path.as_os_str() == STDIN {
        Box::new(io::stdin())
    } else {
        let file = File::open(path).map_err(fail)?;
        // Reading a directory fails with "Is a directory" at the first read; saying so at
        // open names the mistake before anything is printed.
        if file.metadata().map_err(fail)?.is_dir() {
            return Err(fail(io::Error::from_raw_os_error(libc::EISDIR)));
        }
        Box::new(file)
    };
    let mut raw = Counted { inner: raw, count };
    // Four bytes decide; a pipe may hand them over one read at a time.
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match raw.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(got) => n += got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let src = io::Cursor::new(head[..n].to_vec()).chain(raw);
    Ok(if head[..n].starts_with(&GZIP_MAGIC) {
        Opened {
            // Members one after another (pigz, `cat a.gz b.gz`) are one stream, as gzip -d has it.
            reader: Box::new(flate2::read::MultiGzDecoder::new(src)),
            compression: Some("gzip"),
        }
    } else if head[..n] == ZSTD_MAGIC || zstd_skippable(&head[..n]) {
        Opened {
            reader: Box::new(Zstd::new(BufReader::with_capacity(DECODER_BUFFER, src))),
            compression: Some("zstd"),
        }
    } else {
        Opened {
            reader: Box::new(src),
            compression: None,
        }
    })
}

/// zstd decompression of a whole stream: every frame in turn (zstd -T and pzstd write
/// several), skippable frames passed over, as `zstd -d` does.
struct Zstd<R> {
    src: R,
    decoder: FrameDecoder,
    /// A frame is being decoded (its header has been read).
    in_frame: bool,
}

impl<R: BufRead> Zstd<R> {
    fn new(src: R) -> Self {
        Zstd {
            src,
            decoder: FrameDecoder::new(),
            in_frame: false,
        }
    }

    /// Reads the next frame's header; false at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            if self.src.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.decoder.reset(&mut self.src) {
                Ok(()) => return Ok(true),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                    length,
                    ..
                })) => {
                    let skipped =
                        io::copy(&mut (&mut self.src).take(length.into()), &mut io::sink())?;
                    if skipped < u64::from(length) {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "zstd skippable frame cut short",
                        ));
                    }
                }
                Err(e) => return Err(invalid(e)),
            }
        }
    }

    /// A frame that carries a checksum must match it, as `zstd -d` insists: a flipped
    /// bit otherwise passes as a packet.
    fn check_frame(&self) -> io::Result<()> {
        match (
            self.decoder.get_checksum_from_data(),
            self.decoder.get_calculated_checksum(),
        ) {
            (Some(stored), Some(computed)) if stored != computed => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "zstd checksum mismatch: the data is corrupt",
            )),
            _ => Ok(()),
        }
    }
}

/// ruzstd's errors say what they wrap twice over; the outermost's words are enough.
fn invalid(e: impl std::fmt::Display) -> io::Error {
    let text = e.to_string();
    let text = match text.split_once("): ") {
        Some((_, tail)) => tail.to_string(),
        None => text,
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt zstd data: {text}"),
    )
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.in_frame {
                // What is decoded is held back until it leaves the window: decode until
                // some can be handed over, or the frame ends.
                while self.decoder.can_collect() == 0 && !self.decoder.is_finished() {
                    self.decoder
                        .decode_blocks(&mut self.src, BlockDecodingStrategy::UptoBlocks(1))
                        .map_err(invalid)?;
                }
                let n = self.decoder.read(&mut *buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.check_frame()?;
                self.in_frame = false;
            }
            if !self.next_frame()? {
                return Ok(0);
            }
            self.in_frame = true;
        }
    }
}
