//! The XDP program's event queue, read in place. Each CPU has a region of 64-byte chunks
//! with one producer (its XDP program) and one consumer (this reader): a record costs the
//! program no lock, no wake-up (but the bell at a quarter full: see `live`) and no cache
//! line shared with other CPUs but the sequence number's. The regions are merged back into the order the records were made in by
//! that sequence number. See `fault_common::maps::QueueRegion` for the layout.

use std::{
    io,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::mapped::Mapped;
use aya::maps::Map;
use fault_common::{
    event::SapResponse,
    maps::{
        QUEUE_CHUNK_BYTES, QUEUE_CHUNKS, QUEUE_RECORD_CHUNKS_MAX, QueueChunk, QueuePrefix,
        QueueRegion, queue_record_chunks,
    },
};

/// How long a missing sequence number holds back the records after it: a record is
/// written between taking its number and moving its region's head, nanoseconds unless its
/// CPU is interrupted or, virtual, descheduled there. Past this the later records go
/// first; the late one follows when it comes (the detectors take a late event at their
/// clock's time).
const GAP_WAIT: Duration = Duration::from_millis(50);

pub struct EventQueue {
    regions: Mapped<QueueRegion>,
    /// Where this reader is in each region, in chunks (what it publishes as the tail).
    pos: Vec<u64>,
    /// The sequence number the next record should have, once one has been read.
    expected: Option<u64>,
    gap_since: Option<Instant>,
    buf: Vec<u8>,
    /// Each region's head as last read (kept to spare an allocation per read).
    heads: Vec<u64>,
}

impl EventQueue {
    /// The queue of the map `EVENTS`.
    pub fn new(events: Map) -> io::Result<EventQueue> {
        let regions = Mapped::<QueueRegion>::new(
            events,
            "the event queue",
            libc::PROT_READ | libc::PROT_WRITE,
        )?;
        let cpus = regions.len();
        let mut q = EventQueue {
            regions,
            pos: Vec::with_capacity(cpus),
            expected: None,
            gap_since: None,
            buf: vec![0; size_of::<SapResponse>()],
            heads: vec![0; cpus],
        };
        // A pinned queue a previous daemon read part of: go on from where it stopped.
        q.pos = (0..cpus)
            .map(|c| q.word(c, Side::Tail).load(Ordering::Acquire))
            .collect();
        Ok(q)
    }

    fn word(&self, cpu: usize, side: Side) -> &AtomicU64 {
        assert!(cpu < self.regions.len());
        // SAFETY: in the mapping (cpu < len), aligned (page-aligned, and a region is a
        // whole number of 64-byte lines); the program only touches it atomically (head)
        // or reads it (tail).
        unsafe {
            let r = self.regions.as_ptr().add(cpu);
            AtomicU64::from_ptr(match side {
                Side::Head => &raw mut (*r).ctl.head,
                Side::Tail => &raw mut (*r).ctl.tail,
            })
        }
    }

    /// Chunk `i` of a record that starts at position `at` of `cpu`'s region: its chunks
    /// follow one another from `at % QUEUE_CHUNKS`, into the spare ones at the end.
    fn chunk(&self, cpu: usize, at: u64, i: usize) -> QueueChunk {
        let k = (at % QUEUE_CHUNKS) as usize + i;
        assert!(
            cpu < self.regions.len()
                && k < QUEUE_CHUNKS as usize + QUEUE_RECORD_CHUNKS_MAX as usize - 1
        );
        // SAFETY: in the mapping (checked above); the program wrote it before moving the
        // head past it (read with Acquire), and writes it again only after the tail moves
        // past it.
        unsafe {
            let r = self.regions.as_ptr().add(cpu);
            std::ptr::read((&raw const (*r).chunks).cast::<QueueChunk>().add(k))
        }
    }

    fn prefix(&self, cpu: usize, at: u64) -> QueuePrefix {
        let c = self.chunk(cpu, at, 0);
        bytemuck::cast([c[0], c[1]])
    }

    /// Hands up to `max` records to `f`, in the order they were made; returns how many.
    /// A record whose sequence number comes after one not yet written waits for it (see
    /// [`GAP_WAIT`]).
    pub fn drain(&mut self, max: usize, f: impl FnMut(&[u8])) -> usize {
        self.read(max, false, f)
    }

    /// Hands every record written by now to `f`, waiting up to [`GAP_WAIT`] for one whose
    /// number was taken but not yet written: replay's drain after each frame, and the
    /// daemon's last. What the program writes after it stays in the queue (pinned, the
    /// next daemon reads it).
    pub fn drain_all(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        let mut waited = Duration::ZERO;
        loop {
            let k = self.read(usize::MAX, waited >= GAP_WAIT, &mut f);
            n += k;
            if !self.pending() || (k == 0 && waited >= GAP_WAIT) {
                return n;
            }
            if k == 0 {
                std::thread::sleep(Duration::from_millis(1));
                waited += Duration::from_millis(1);
            }
        }
    }

    /// Whether any region holds records not yet read.
    fn pending(&self) -> bool {
        (0..self.pos.len()).any(|c| self.word(c, Side::Head).load(Ordering::Acquire) > self.pos[c])
    }

    fn read(&mut self, max: usize, force: bool, mut f: impl FnMut(&[u8])) -> usize {
        for c in 0..self.pos.len() {
            self.heads[c] = self.word(c, Side::Head).load(Ordering::Acquire);
        }
        let mut n = 0;
        while n < max {
            let mut next: Option<(u64, usize)> = None;
            for c in 0..self.pos.len() {
                if self.pos[c] < self.heads[c] {
                    let seq = self.prefix(c, self.pos[c]).seq;
                    if next.is_none_or(|(s, _)| seq < s) {
                        next = Some((seq, c));
                    }
                }
            }
            let Some((seq, c)) = next else {
                break;
            };
            if self.expected.is_some_and(|e| seq > e) && !force {
                let since = *self.gap_since.get_or_insert_with(Instant::now);
                if since.elapsed() < GAP_WAIT {
                    break;
                }
            }
            self.gap_since = None;
            let at = self.pos[c];
            let len = self.prefix(c, at).len as usize;
            if len > self.buf.len() {
                // Not a record the program writes: the region cannot be read past it.
                log::error!(
                    "event queue: a record of {len} bytes on CPU {c}; skipping the CPU's queued records"
                );
                self.pos[c] = self.heads[c];
                self.word(c, Side::Tail)
                    .store(self.pos[c], Ordering::Release);
                continue;
            }
            let first = size_of::<QueueChunk>() - size_of::<QueuePrefix>();
            let bytes: [u8; QUEUE_CHUNK_BYTES] = bytemuck::cast(self.chunk(c, at, 0));
            let mut filled = len.min(first);
            self.buf[..filled].copy_from_slice(&bytes[size_of::<QueuePrefix>()..][..filled]);
            let mut i = 1;
            while filled < len {
                let bytes: [u8; QUEUE_CHUNK_BYTES] = bytemuck::cast(self.chunk(c, at, i));
                let k = (len - filled).min(QUEUE_CHUNK_BYTES);
                self.buf[filled..filled + k].copy_from_slice(&bytes[..k]);
                filled += k;
                i += 1;
            }
            // Given back before the detectors see it, so a daemon killed in the middle
            // of a batch hands the next one at most this record again.
            self.pos[c] = at + queue_record_chunks(len);
            self.word(c, Side::Tail)
                .store(self.pos[c], Ordering::Release);
            // A late record (after GAP_WAIT) must not send the expected number back.
            self.expected = Some(self.expected.map_or(seq + 1, |e| e.max(seq + 1)));
            n += 1;
            f(&self.buf[..len]);
        }
        n
    }
}

#[derive(Clone, Copy)]
enum Side {
    Head,
    Tail,
}
