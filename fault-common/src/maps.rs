//! Map value layouts and sizes: the contract between the XDP program and the daemon.

use bytemuck::{Pod, Zeroable};

use crate::class::NUM_CLASSES;

/// Bumped whenever a map's key or value layout changes; pinned maps live under a path
/// that includes it, so a daemon never reads a map it cannot parse.
pub const LAYOUT_VERSION: u32 = 2;

/// Flow-map capacity: LRU, so the least recently seen flow makes room.
pub const FLOW_CAPACITY: u32 = 65_536;
/// Ring buffer size in bytes (a power of two, a multiple of the page size).
pub const EVENT_RING_BYTES: u32 = 1 << 22;
/// The XDP program wakes the daemon only once this much is waiting in the ring; below it,
/// the daemon's drain timer (`live::DRAIN_EVERY`) picks the records up.
pub const EVENT_RING_WAKE_BYTES: u32 = EVENT_RING_BYTES / 8;

pub const MAP_STATS: &str = "STATS";
pub const MAP_FLOWS: &str = "FLOWS";
pub const MAP_EVENTS: &str = "EVENTS";
pub const MAP_CLOCK: &str = "CLOCK";
/// CLOCK's entry in replay: packet time rides in each frame's XDP metadata.
pub const CLOCK_IN_METADATA: u64 = 1;
pub const PROGRAM_CLASSIFY: &str = "faultd_classify";
/// An empty XDP program: the benchmark's baseline.
pub const PROGRAM_EMPTY: &str = "faultd_empty";

/// Per-CPU counters, one entry. One lookup per frame serves every counter.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Stats {
    pub frames: u64,
    /// Frames cut short inside a header faultd had started to parse, or with an
    /// impossible length field: counted, never dropped.
    pub malformed: u64,
    pub events: u64,
    /// Events lost because the ring buffer was full.
    pub events_dropped: u64,
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
        self.events += o.events;
        self.events_dropped += o.events_dropped;
        self.flow_updates_failed += o.flow_updates_failed;
        for (a, b) in self.classes.iter_mut().zip(o.classes.iter()) {
            *a += *b;
        }
    }
}

/// Directional flow: IP 5-tuple, or IPX (network, node, socket) pair with `proto` = 0.
#[repr(C)]
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

#[cfg(feature = "user")]
mod user {
    // SAFETY: plain-old-data with no padding (bytemuck::Pod is derived on each).
    unsafe impl aya::Pod for super::Stats {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowValue {}
}
