//! Map value layouts and sizes: the contract between the XDP program and the daemon.

use bytemuck::{Pod, Zeroable};

use crate::class::NUM_CLASSES;

/// Bumped whenever a map's key or value layout changes; pinned maps live under a path
/// that includes it, so a daemon never reads a map it cannot parse.
pub const LAYOUT_VERSION: u32 = 5;

/// Flows the table holds per CPU: `FLOW_BUCKETS` buckets of `FLOW_WAYS` slots, indexed by
/// the flow key's fingerprint; a new flow takes an empty slot of its bucket or the least
/// recently seen one (counted in `Stats::flow_updates_failed`). Far cheaper per frame than
/// an LRU hash map, and userspace reads it by index.
pub const FLOW_CAPACITY: u32 = 65_536;
pub const FLOW_WAYS: usize = 4;
pub const FLOW_BUCKETS: u32 = FLOW_CAPACITY / FLOW_WAYS as u32;
/// The event queue: a region per CPU, each with one producer (that CPU's XDP program) and
/// one consumer (the daemon), so a record costs no lock, no wake-up (but at a quarter
/// full, `MAP_EVENT_BELL`) and no cache line shared with other CPUs but the sequence
/// number's. A region is [`QueueRegion`]: its
/// positions and `QUEUE_CHUNKS` 64-byte chunks (2 MiB: 16,384 events of two chunks, every
/// kind's but NCP's, 160 ms of a 100,000-event/s burst on one CPU, 16 of the daemon's
/// drains).
pub const QUEUE_CHUNKS: u64 = 1 << 15;
pub const QUEUE_CHUNK_BYTES: usize = 64;
/// A queue chunk: eight words, copied as such.
pub type QueueChunk = [u64; 8];
/// The most chunks a record takes: a SAP response with every entry, behind its prefix.
pub const QUEUE_RECORD_CHUNKS_MAX: u64 = 10;

/// What a record's first chunk starts with. `seq` orders records across CPUs: one counter
/// for the machine, taken once a record is sure to fit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct QueuePrefix {
    pub seq: u64,
    /// The record's bytes (the chunks hold them from the prefix's end on).
    pub len: u32,
    pub _pad: u32,
}

/// Chunks taken by a record of `len` bytes behind its prefix.
pub const fn queue_record_chunks(len: usize) -> u64 {
    (size_of::<QueuePrefix>() + len).div_ceil(QUEUE_CHUNK_BYTES) as u64
}

/// A region's positions, in chunks since the map was made: `head` is moved by the XDP
/// program once a record is whole, `tail` by the daemon once it has read up to it. Each
/// on its own cache line, so the two sides do not share one.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct QueueCtl {
    pub head: u64,
    pub _head_line: [u64; 7],
    pub tail: u64,
    pub _tail_line: [u64; 7],
}

/// One CPU's region of the event queue, the `EVENTS` map's value. A record starts at chunk
/// `position % QUEUE_CHUNKS` and its chunks follow contiguously, on into the spare chunks
/// at the end rather than wrapping: the program copies a record with one bounded offset,
/// and the daemon reads it whole.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct QueueRegion {
    pub ctl: QueueCtl,
    pub chunks: [QueueChunk; QUEUE_CHUNKS as usize + QUEUE_RECORD_CHUNKS_MAX as usize - 1],
}

const _: () = assert!(QUEUE_CHUNKS.is_power_of_two());

pub const MAP_STATS: &str = "STATS";
pub const MAP_FLOWS: &str = "FLOWS";
pub const MAP_EVENTS: &str = "EVENTS";
pub const MAP_EVENT_SEQ: &str = "EVENT_SEQ";
/// A ring buffer that only wakes the daemon: the record that takes a CPU's region past
/// `QUEUE_BELL_CHUNKS` rings it, so a burst is read at once rather than at the next drain.
pub const MAP_EVENT_BELL: &str = "EVENT_BELL";
pub const QUEUE_BELL_CHUNKS: u64 = QUEUE_CHUNKS / 4;
pub const EVENT_BELL_BYTES: u32 = 4096;
/// Where a watched frame's time comes from, one word: [`CLOCK_CALL`],
/// [`CLOCK_IN_METADATA`], or else the kernel's monotonic clock as the tick program
/// ([`PROGRAM_TICK`]) last wrote it.
pub const MAP_CLOCK: &str = "CLOCK";
/// CLOCK's entry when nothing ticks: each watched frame calls the kernel's coarse clock.
pub const CLOCK_CALL: u64 = 0;
/// CLOCK's entry in replay: packet time rides in each frame's XDP metadata.
pub const CLOCK_IN_METADATA: u64 = 1;
/// The tick program's period. A helper call costs a watched frame ~20 ns on kernels that
/// return through a mitigation thunk, where reading a word costs ~1; the tick's 4 ms is a
/// jiffy at 250 Hz, the coarse clock's own resolution on most distributions' kernels, and
/// far below the detectors' shortest timeout (1.5 s).
pub const TICK_NS: u64 = 4_000_000;

/// What replay puts in front of each frame as XDP metadata (when CLOCK says
/// `CLOCK_IN_METADATA`), so a frame costs one system call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct ReplayMeta {
    /// The frame's capture time.
    pub ts_ns: u64,
    /// Its length on the wire, more than the bytes given when the capture cut it short.
    pub wire_len: u64,
}
pub const PROGRAM_CLASSIFY: &str = "faultd_classify";
/// An empty XDP program: the benchmark's baseline.
pub const PROGRAM_EMPTY: &str = "faultd_empty";
/// A perf event program the daemon runs every [`TICK_NS`] on one CPU: it writes the
/// kernel's monotonic clock into CLOCK.
pub const PROGRAM_TICK: &str = "faultd_tick";

/// Per-CPU counters, one entry. One lookup per frame serves every counter.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Stats {
    pub frames: u64,
    /// Frames cut short inside a header faultd had started to parse, or with an
    /// impossible length field: counted, never dropped.
    pub malformed: u64,
    /// Frames shorter than their length on the wire that ended inside a header faultd had
    /// started to parse: cut by a capture's snap length (replay), or beyond the part of a
    /// multi-buffer frame XDP reads (live). The capture's doing, not the wire's: counted
    /// here, not in `malformed`.
    pub truncated: u64,
    pub events: u64,
    /// Events lost because this CPU's region of the event queue was full.
    pub events_dropped: u64,
    /// Flows pushed out of a full bucket by a new one (or not counted at all, on a CPU the
    /// table has no region for).
    pub flow_updates_failed: u64,
    pub classes: [u64; NUM_CLASSES],
}

impl Default for Stats {
    fn default() -> Self {
        Zeroable::zeroed()
    }
}

impl Stats {
    /// Folds another CPU's (or another run's) counters into this one.
    pub fn add(&mut self, o: &Stats) {
        self.frames += o.frames;
        self.malformed += o.malformed;
        self.truncated += o.truncated;
        self.events += o.events;
        self.events_dropped += o.events_dropped;
        self.flow_updates_failed += o.flow_updates_failed;
        for (a, b) in self.classes.iter_mut().zip(o.classes.iter()) {
            *a += *b;
        }
    }
}

/// Directional flow: IP 5-tuple, or IPX (network, node, socket) pair with `proto` = 0.
/// Aligned to 8 so the table reads it as five words.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Pod, Zeroable)]
pub struct FlowKey {
    pub family: u8,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub _pad: u16,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FlowValue {
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    /// Bit per `Class` seen on this flow.
    pub classes: u64,
}

impl FlowValue {
    /// Merges the per-CPU copies of one flow.
    pub fn merge(&mut self, o: &FlowValue) {
        if o.packets == 0 {
            return;
        }
        if self.packets == 0 || o.first_ns < self.first_ns {
            self.first_ns = o.first_ns;
        }
        self.last_ns = self.last_ns.max(o.last_ns);
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.classes |= o.classes;
    }
}

const _: () = assert!(NUM_CLASSES <= 64, "FlowValue::classes is a u64 bitmap");

/// A slot of the flow table: the key and its counters (`packets` 0: empty).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FlowSlot {
    pub key: FlowKey,
    pub value: FlowValue,
}

/// A bucket of the flow table, the map's value.
pub type FlowBucket = [FlowSlot; FLOW_WAYS];

impl FlowKey {
    /// The key's five words, compared and hashed without a byte loop.
    #[inline(always)]
    pub fn words(&self) -> [u64; 5] {
        const { assert!(size_of::<FlowKey>() == 40 && align_of::<FlowKey>() == 8) };
        let p = (self as *const FlowKey).cast::<u64>();
        // SAFETY: 40 bytes of plain data, 8-aligned (asserted above).
        unsafe {
            [
                p.read(),
                p.add(1).read(),
                p.add(2).read(),
                p.add(3).read(),
                p.add(4).read(),
            ]
        }
    }

    /// The flow's bucket within a CPU's region: a multiply-xor fingerprint of the words.
    #[inline(always)]
    pub fn bucket(&self) -> u32 {
        const M: u64 = 0x9E37_79B9_7F4A_7C15;
        let w = self.words();
        let mut h = 0x243F_6A88_85A3_08D3u64;
        let mut i = 0;
        while i < 5 {
            h = (h ^ w[i]).wrapping_mul(M);
            h ^= h >> 29;
            i += 1;
        }
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        ((h ^ (h >> 32)) as u32) & (FLOW_BUCKETS - 1)
    }

    /// `self == other` without a memcmp call (a byte loop in BPF).
    #[inline(always)]
    pub fn same(&self, other: &FlowKey) -> bool {
        let (a, b) = (self.words(), other.words());
        ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0
    }
}

const _: () = assert!(FLOW_BUCKETS.is_power_of_two());

#[cfg(feature = "user")]
mod user {
    // SAFETY: plain-old-data with no padding (bytemuck::Pod is derived on each).
    unsafe impl aya::Pod for super::Stats {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowValue {}
    unsafe impl aya::Pod for super::FlowSlot {}
}
