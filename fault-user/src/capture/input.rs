//! The byte window a capture is read through, and the errors that blame a record.

use super::*;

/// How much the reader asks its source for at a time.
pub(super) const CHUNK: usize = 64 * 1024;
/// The longest pcapng block held in memory whole: a section or interface header, or a
/// packet of an interface faultd reads (a record of at most `MAX_LEN` and room for its
/// options). Blocks faultd does not read are passed over at any length.
pub(super) const MAX_BLOCK: u32 = MAX_LEN + 64 * 1024;

/// A capture's bytes, read from its source through a window that holds the record at hand
/// and no more: memory stays flat whatever the capture's size. Records are read in file
/// order, so whatever lies before the offset asked for is let go.
pub(super) struct Input {
    pub(super) src: Box<dyn Read>,
    /// The window is `buf[lo..hi]`; the rest is room to read into, kept between reads so
    /// that a source giving a few bytes per read costs no clearing of fresh memory.
    pub(super) buf: Vec<u8>,
    pub(super) lo: usize,
    pub(super) hi: usize,
    /// The stream offset of `buf[lo]`.
    pub(super) base: usize,
    /// The source has no more bytes: `end()` is then the stream's length.
    pub(super) eof: bool,
}

impl Input {
    pub(super) fn new(src: Box<dyn Read>) -> Input {
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
    pub(super) fn end(&self) -> usize {
        self.base + (self.hi - self.lo)
    }

    /// Up to `len` bytes from `at`: fewer only where the stream ends. `at` is never before
    /// the offset of an earlier call.
    pub(super) fn get(&mut self, at: usize, len: usize) -> Res<&[u8]> {
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
    pub(super) fn take(&mut self, at: usize, len: usize, what: &'static str) -> Res<&[u8]> {
        let b = self.get(at, len)?;
        if b.len() < len {
            return Err(truncated(at, what, len, b.len()));
        }
        Ok(b)
    }

    /// Whether the stream ends at `at`.
    pub(super) fn ends_at(&mut self, at: usize) -> Res<bool> {
        Ok(self.get(at, 1)?.is_empty())
    }

    /// The last `n` bytes of the `len`-byte record at `at`, passing over the rest without
    /// holding it; a Truncated error when the stream ends inside the record.
    pub(super) fn tail(
        &mut self,
        at: usize,
        len: usize,
        n: usize,
        what: &'static str,
    ) -> Res<&[u8]> {
        self.get(at + len - n, n)?;
        if self.end() < at + len {
            let available = self.end().saturating_sub(at);
            return Err(truncated(at, what, len, available));
        }
        // Held already: no read.
        self.get(at + len - n, n)
    }
}

pub(super) fn truncated(
    at: usize,
    what: &'static str,
    needed: usize,
    available: usize,
) -> (usize, ErrorKind) {
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
pub(super) fn take<'a>(b: &'a [u8], start: usize, len: usize, what: &'static str) -> Res<&'a [u8]> {
    let available = b.len().saturating_sub(start);
    if available < len {
        return Err(truncated(start, what, len, available));
    }
    Ok(&b[start..start + len])
}

pub(super) fn bad(at: usize, what: &'static str, value: impl Into<u64>) -> (usize, ErrorKind) {
    let value = value.into();
    (at, ErrorKind::BadField { what, value })
}
