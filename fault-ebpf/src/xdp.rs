use aya_ebpf::{
    bindings::{BPF_F_MMAPABLE, BPF_RB_FORCE_WAKEUP, xdp_action},
    helpers::{
        bpf_get_smp_processor_id, bpf_ktime_get_coarse_ns, bpf_ktime_get_ns, bpf_xdp_get_buff_len,
        bpf_xdp_load_bytes,
    },
    macros::{map, perf_event, xdp},
    maps::{Array, PerCpuArray, RingBuf},
    programs::{PerfEventContext, XdpContext},
};
use aya_log_ebpf::warn;
use fault_common::{
    Class, FlowKey, FlowValue, Stats,
    event::Record,
    maps::{
        CLOCK_CALL, CLOCK_IN_METADATA, EVENT_BELL_BYTES, FLOW_BUCKETS, FLOW_WAYS, FlowBucket,
        QUEUE_BELL_CHUNKS, QUEUE_CHUNKS, QUEUE_RECORD_CHUNKS_MAX, QueueChunk, QueueRegion,
        ReplayMeta, queue_record_chunks,
    },
    parse::{self, Packet, Scratch, Sink, Triage},
};

#[map]
static STATS: PerCpuArray<Stats> = PerCpuArray::with_max_entries(1, 0);

/// The flow table: one array, a region of `FLOW_BUCKETS` buckets per CPU (no per-CPU
/// pointer to follow), mappable so userspace reads it in place. Sized for one CPU here;
/// the loader sets the size for the machine's CPUs.
#[map]
static FLOWS: Array<FlowBucket> = Array::with_max_entries(FLOW_BUCKETS, BPF_F_MMAPABLE);

/// The event queue: a region per CPU (see `fault_common::maps::QueueRegion`); sized for
/// one CPU here, by the loader for the machine. Mappable: the daemon reads it in place.
#[map]
static EVENTS: Array<QueueRegion> = Array::with_max_entries(1, BPF_F_MMAPABLE);

/// Rung (a record of the region's head, with a wake-up) when a region passes a quarter
/// full: the only wake-up the daemon gets, besides its 10 ms timer.
#[map]
static EVENT_BELL: RingBuf = RingBuf::with_byte_size(EVENT_BELL_BYTES, 0);

/// The machine's record sequence number, which orders records across CPU regions.
#[map]
static EVENT_SEQ: Array<u64> = Array::with_max_entries(1, 0);

/// The parser's per-frame working memory (see `parse::Scratch` for why not the stack).
#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// Where packet time comes from (see `fault_common::maps::MAP_CLOCK`): live, the time
/// `faultd_tick` last wrote, or `CLOCK_CALL` when nothing ticks. `CLOCK_IN_METADATA` in
/// replay: each frame carries its capture time and wire length in its XDP metadata
/// ([`ReplayMeta`]), so a frame costs replay one system call.
#[map]
static CLOCK: Array<u64> = Array::with_max_entries(1, 0);

/// Frames past this offset are not parsed: a bound the verifier can see on every access.
const MAX_OFFSET: usize = 0x3fff;

struct Frame<'a>(&'a XdpContext);

impl Packet for Frame<'_> {
    #[inline(always)]
    fn load<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        // The verifier grants packet range from `p + K > data_end` only when K is an
        // immediate on the compared register. Left alone, LLVM folds K into the variable
        // part (`data + (off + K)`, range 0), rewrites `p + 1 > end` as `p >= end` (no range
        // at offset 0), or recomputes `p` for the load (the range lands on another
        // register), and it reuses the caller's `off + K` so the variable part is not `off`.
        // Hiding `off` and `p`, and for one byte `n` too, rules all of that out.
        let off = opaque(off);
        if off > MAX_OFFSET {
            return None;
        }
        let p = opaque(self.0.data() + off);
        let n = if N == 1 { opaque(N) } else { N };
        if p + n > self.0.data_end() {
            return None;
        }
        Some(read_words(p))
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.0.data_end() - self.0.data()
    }

    /// Asked only when a length field runs past the bytes at hand, or a read fell short.
    #[inline(always)]
    fn total_len(&self) -> usize {
        wire_len(self.0) as usize
    }

    #[inline(always)]
    fn copy<const N: usize>(&self, off: usize, n: usize, out: &mut [u8; N]) -> Option<()> {
        // The caller has bounded n already, but LLVM may fold that check into a wider
        // compare the verifier cannot map back to n: check it again, visibly.
        let n = opaque(n);
        if off > MAX_OFFSET || n == 0 || n > N {
            return None;
        }
        // A short field in the linear part (a name) is read directly: the helper's call
        // costs more than the loads. Longer ones, and those that reach into a fragment,
        // go to the helper.
        if N < 64 && self.copy_direct(off, n, out).is_some() {
            return Some(());
        }
        // SAFETY: `out` has room for n <= N bytes; the helper checks the packet bounds.
        let r = unsafe {
            bpf_xdp_load_bytes(self.0.ctx, off as u32, out.as_mut_ptr().cast(), n as u32)
        };
        (r == 0).then_some(())
    }
}

/// `*(width *)p = v`, written out for the reason [`write_words`] gives.
macro_rules! store {
    ($p:expr, $v:expr, $width:literal) => {{
        let (p, v) = ($p, $v as u64);
        // SAFETY: the caller checked `p .. p + width` is in the value it writes.
        unsafe {
            core::arch::asm!(
                concat!("*(", $width, " *)({0} + 0) = {1}"),
                in(reg) p,
                in(reg) v,
                options(nostack),
            )
        };
    }};
}

impl Frame<'_> {
    /// [`Packet::copy`] as loads of the powers of two that make up `n` (`n <= N < 64`):
    /// no loop, so the verifier walks each piece once per combination of the pieces before
    /// it, and a copy of `n` whose link to `n` it cannot follow (see [`unlinked`]) decides
    /// them, so what the caller does with `n` afterwards is walked once, not once per value.
    #[inline(always)]
    fn copy_direct<const N: usize>(&self, off: usize, n: usize, out: &mut [u8; N]) -> Option<()> {
        let n = unlinked(n);
        let mut at = 0;
        self.piece::<32, N>(off, n, &mut at, out)?;
        self.piece::<16, N>(off, n, &mut at, out)?;
        self.piece::<8, N>(off, n, &mut at, out)?;
        self.piece::<4, N>(off, n, &mut at, out)?;
        self.piece::<2, N>(off, n, &mut at, out)?;
        self.piece::<1, N>(off, n, &mut at, out)
    }

    /// Copies the `K` bytes at `off + at` to `out[at..]` when `n` has the bit `K`.
    #[inline(always)]
    fn piece<const K: usize, const N: usize>(
        &self,
        off: usize,
        n: usize,
        at: &mut usize,
        out: &mut [u8; N],
    ) -> Option<()> {
        if K > N || n & K == 0 {
            return Some(());
        }
        let bytes = self.load::<K>(off + *at)?;
        let dst = out.get_mut(*at..*at + K)?;
        write_words(dst.as_mut_ptr() as usize, bytes);
        *at += K;
        Some(())
    }
}

/// `v` as a new value to the verifier: a multiplication by one, after which it no longer
/// shares the identity of the register it was copied from (a move would keep it, and
/// what a branch learns of one would be learnt of both).
#[inline(always)]
fn unlinked(mut v: usize) -> usize {
    // SAFETY: a multiplication of a register by one.
    unsafe { core::arch::asm!("{0} *= 1", inout(reg) v, options(pure, nomem, nostack)) };
    v
}

/// Writes `bytes` at `p` (in map memory, bounds already checked) a word at a time: the
/// stores [`read_words`]'s loads are (LLVM stores an `[u8; N]` a byte at a time).
#[inline(always)]
fn write_words<const N: usize>(p: usize, bytes: [u8; N]) {
    let mut i = 0;
    while i + 8 <= N {
        let w = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
        store!(p + i, w, "u64");
        i += 8;
    }
    if i + 4 <= N {
        let w = u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
        store!(p + i, w, "u32");
        i += 4;
    }
    if i + 2 <= N {
        let w = u16::from_le_bytes(bytes[i..i + 2].try_into().unwrap_or_default());
        store!(p + i, w, "u16");
        i += 2;
    }
    if i < N {
        store!(p + i, bytes[i], "u8");
    }
}

/// The `N` bytes at packet address `p` (bounds already checked), read a word at a time.
/// `[u8; N]` has alignment 1, so a plain read becomes one load per byte: LLVM's BPF
/// backend never emits an unaligned wider load. The kernel allows them on packet memory
/// wherever unaligned access is cheap (x86, arm64), so the loads are written out.
#[inline(always)]
fn read_words<const N: usize>(p: usize) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i + 8 <= N {
        out[i..i + 8].copy_from_slice(&load_u64(p + i).to_le_bytes());
        i += 8;
    }
    if i + 4 <= N {
        out[i..i + 4].copy_from_slice(&load_u32(p + i).to_le_bytes());
        i += 4;
    }
    if i + 2 <= N {
        out[i..i + 2].copy_from_slice(&load_u16(p + i).to_le_bytes());
        i += 2;
    }
    if i < N {
        out[i] = load_u8(p + i);
    }
    out
}

macro_rules! packet_load {
    ($name:ident, $ty:ty, $width:literal) => {
        #[inline(always)]
        fn $name(p: usize) -> $ty {
            let v: u64;
            // SAFETY: the caller checked `p .. p + size_of::<$ty>()` against the end of the
            // packet (or metadata) area.
            unsafe {
                core::arch::asm!(
                    concat!("{0} = *(", $width, " *)({1} + 0)"),
                    lateout(reg) v,
                    in(reg) p,
                    options(pure, readonly, nostack),
                )
            };
            v as $ty
        }
    };
}
packet_load!(load_u64, u64, "u64");
packet_load!(load_u32, u32, "u32");
packet_load!(load_u16, u16, "u16");
packet_load!(load_u8, u8, "u8");

/// `v`, as a value LLVM cannot see through: an asm statement that takes and returns it in
/// a register (libbpf's `barrier_var`). `core::hint::black_box` does the same through the
/// stack, a store and a load on every packet read. The asm is a register move rather than
/// empty: an empty one leaves two BTF line records on one instruction, which the kernel
/// refuses.
#[inline(always)]
fn opaque(mut v: usize) -> usize {
    // SAFETY: a move of the register to itself.
    unsafe { core::arch::asm!("{0} = {0}", inout(reg) v, options(pure, nomem, nostack)) };
    v
}

struct Counters<'a> {
    stats: &'a mut Stats,
    now: u64,
    /// u32, with the flag beside it: the struct lives on the XDP function's stack, which
    /// holds both phases (512 bytes for the whole call chain).
    len: u32,
    /// This frame's record was the first this CPU dropped.
    first_drop: bool,
}

impl Sink for Counters<'_> {
    #[inline(always)]
    fn count(&mut self, class: Class) {
        if let Some(c) = self.stats.classes.get_mut(class as usize) {
            *c += 1;
        }
    }

    #[inline(always)]
    fn emit<R: Record>(&mut self, record: &mut R) {
        let h = record.header();
        h.ts_ns = self.now;
        h.frame_len = self.len;
        let len = record.ring_len();
        if push(record, len) {
            self.stats.events += record.events();
        } else {
            self.first_drop |= self.stats.events_dropped == 0;
            self.stats.events_dropped += record.events();
        }
    }
}

/// Appends `record`'s first `len` bytes (it is in scratch memory) to this CPU's region of
/// the event queue; false when the region is full. The record's chunks are copied whole, a
/// word at a time (up to 63 bytes past the record are read: scratch memory has room,
/// asserted in fault-common), in straight-line code the verifier walks once, with a
/// branch past each chunk: records shorter than their type's largest stop there. The
/// head moves only once the record is written, by an atomic add, so the daemon never
/// sees a record before its bytes (on any architecture).
#[inline(always)]
fn push<R: Record>(record: &R, len: usize) -> bool {
    let copied = const { queue_record_chunks(size_of::<R>()) };
    const { assert!(queue_record_chunks(size_of::<R>()) <= QUEUE_RECORD_CHUNKS_MAX) };
    if len > size_of::<R>() {
        return false;
    }
    let n = queue_record_chunks(len);
    // SAFETY: a helper with no arguments.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(region) = EVENTS.get_ptr_mut(cpu) else {
        return false;
    };
    // SAFETY: this CPU's region; `tail` is written by the daemon through its mapping.
    let (head, tail) = unsafe {
        (
            (*region).ctl.head,
            core::ptr::read_volatile(&(*region).ctl.tail),
        )
    };
    if head.wrapping_sub(tail) + n > QUEUE_CHUNKS {
        return false;
    }
    let Some(seq) = EVENT_SEQ.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: an aligned u64 in map memory, shared by every CPU: only touched atomically.
    let seq = unsafe { fetch_add(seq, 1) };
    let at = (head & (QUEUE_CHUNKS - 1)) as usize;
    let words = record as *const R as *const u64;
    // SAFETY: chunks `at .. at + copied` are in the region (it has
    // QUEUE_RECORD_CHUNKS_MAX - 1 spare chunks past QUEUE_CHUNKS); the words read from
    // `words` are in scratch memory.
    unsafe {
        let chunks = &raw mut (*region).chunks as *mut QueueChunk;
        // QueuePrefix { seq, len, _pad: 0 }, written as words: the stack holds both
        // phases and has no room to spare.
        // Word by word, and volatile: left alone, LLVM turns a chunk's copy into a call
        // of compiler-builtins' memcpy, which copies a byte at a time.
        let dst = chunks.add(at) as *mut u64;
        dst.write_volatile(seq);
        dst.add(1).write_volatile(len as u64);
        let mut w = 2;
        while w < copied as usize * 8 {
            if w % 8 == 0 && w / 8 >= n as usize {
                break;
            }
            // Word w of the record's chunks holds the record's word w - 2.
            dst.add(w).write_volatile(words.add(w - 2).read_volatile());
            w += 1;
        }
        // This CPU's head, moved only here; atomically for the ordering.
        fetch_add(&raw mut (*region).ctl.head, n);
        // Rung once per crossing, from map memory (the stack has no room to spare).
        let queued = head.wrapping_sub(tail);
        if queued < QUEUE_BELL_CHUNKS && queued + n >= QUEUE_BELL_CHUNKS {
            let _ = EVENT_BELL.output::<u64>(&(*region).ctl.head, BPF_RB_FORCE_WAKEUP as u64);
        }
    }
    true
}

/// `*p += v`, returning the old value: BPF's fetching atomic add, a full barrier in the
/// x86-64 and arm64 JITs (a non-fetching one is not ordered on arm64). Written out because
/// core's atomics have no read-modify-write on this target.
///
/// # Safety
/// `p` is an aligned u64 in map memory.
#[inline(always)]
unsafe fn fetch_add(p: *mut u64, v: u64) -> u64 {
    let mut v = v;
    // SAFETY: per the caller.
    unsafe {
        core::arch::asm!(
            "{0} = atomic_fetch_add((u64 *)({1} + 0), {0})",
            inout(reg) v,
            in(reg) p,
            options(nostack),
        )
    };
    v
}

/// Writes the kernel's monotonic clock into CLOCK, for watched frames to read instead of
/// calling the clock themselves. The daemon runs it every `TICK_NS` on one CPU (a CPU
/// clock perf event); replay's CLOCK_IN_METADATA is left alone.
#[perf_event]
pub fn faultd_tick(_ctx: PerfEventContext) -> u32 {
    if let Some(c) = CLOCK.get_ptr_mut(0) {
        // SAFETY: an aligned u64 in map memory, read by XDP programs on every CPU: one
        // aligned store, which they see whole.
        unsafe {
            if core::ptr::read_volatile(c) != CLOCK_IN_METADATA {
                core::ptr::write_volatile(c, bpf_ktime_get_ns());
            }
        }
    }
    // 0: the perf event records no sample.
    0
}

/// `frags`: multi-buffer frames (jumbo MTUs, large test runs) are accepted; the parser reads
/// the linear part, which always holds the headers it needs.
#[xdp(frags)]
pub fn faultd_classify(ctx: XdpContext) -> u32 {
    classify(&ctx);
    xdp_action::XDP_PASS
}

/// Does nothing: the baseline `faultd bench` measures in the same run, so a figure for the
/// classifier reads as "this much over an empty program on this machine".
#[xdp(frags)]
pub fn faultd_empty(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[inline(always)]
fn classify(ctx: &XdpContext) {
    let Some(stats) = STATS.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: a per-CPU array slot is only touched by this CPU while this program runs.
    let stats = unsafe { &mut *stats };
    stats.frames += 1;
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: as for stats.
    let scratch = unsafe { &mut *scratch };
    triage(ctx, &mut scratch.triage);
    if !scratch.triage.watched() {
        // Most frames end here: no clock, no flow, no event.
        stats.malformed += u64::from(scratch.triage.malformed);
        stats.truncated += u64::from(scratch.triage.truncated);
        return;
    }
    watched(ctx, stats, scratch);
}

/// Phase 2 and what follows it. Inlined, as phase 2's parsers are: a BPF call and its
/// return cost 10-20 ns on hosts whose kernels return through a mitigation thunk
/// (`faultd bench` against a build with this a call: 8-18 ns more per watched frame).
#[inline(always)]
fn watched(ctx: &XdpContext, stats: &mut Stats, scratch: &mut Scratch) {
    let clock = clock();
    let replay = match clock {
        CLOCK_IN_METADATA => replay_meta(ctx),
        _ => None,
    };
    let mut sink = Counters {
        stats,
        now: match (replay, clock) {
            (Some(meta), _) => load_u64(meta),
            // SAFETY: a helper with no arguments.
            (None, CLOCK_CALL | CLOCK_IN_METADATA) => unsafe { bpf_ktime_get_coarse_ns() },
            (None, ticked) => ticked,
        },
        len: frame_len(ctx, replay.is_some(), &scratch.triage) as u32,
        first_drop: false,
    };
    parse::classify_watched(&Frame(ctx), &mut sink, scratch);
    let out = &scratch.out;
    // Once per CPU: a full queue must not turn into a flood of log records. The daemon
    // exports the running count (faultd_events_dropped_total).
    if sink.first_drop {
        warn!(ctx, "event queue full: dropping events (counted in STATS)");
    }
    sink.stats.malformed += u64::from(out.malformed);
    sink.stats.truncated += u64::from(out.truncated);
    if out.has_flow != 0 {
        account_flow(
            sink.stats,
            &out.flow,
            out.classes,
            u64::from(sink.len),
            sink.now,
        );
    }
}

#[inline(always)]
fn triage(ctx: &XdpContext, t: &mut Triage) {
    parse::triage(&Frame(ctx), t);
}

/// The frame's length for its flow and its events: the bytes the program was handed,
/// fragments included. A call for that helper costs as much as the rest of an unwatched
/// frame, so it is made only when it can tell more than the linear part: in replay (large
/// frames come in fragments), when a length field phase 1 read (the IP packet's, an
/// 802.3 frame's, an IPX packet's) claims more than the linear part holds, or when none
/// bounds the frame (an IPv6 jumbogram). Otherwise all a fragment could hold is
/// link-layer padding.
#[inline(always)]
fn frame_len(ctx: &XdpContext, replay: bool, t: &Triage) -> u64 {
    if replay || t.claimed != 0 || t.unbounded != 0 {
        buff_len(ctx)
    } else {
        (ctx.data_end() - ctx.data()) as u64
    }
}

/// The frame's length on the wire: its whole length live, what replay says in the
/// metadata. Asked only when a frame falls short (see `parse::settle`).
#[inline(always)]
fn wire_len(ctx: &XdpContext) -> u64 {
    let whole = buff_len(ctx);
    if clock() != CLOCK_IN_METADATA {
        return whole;
    }
    match replay_meta(ctx) {
        Some(meta) => whole.max(load_u64(meta + 8)),
        None => whole,
    }
}

/// CLOCK's word, read once per watched frame.
#[inline(always)]
fn clock() -> u64 {
    // SAFETY: an aligned u64 in map memory; the tick program may write it at any time,
    // and either value is a valid time.
    CLOCK
        .get_ptr(0)
        .map_or(CLOCK_CALL, |c| unsafe { core::ptr::read_volatile(c) })
}

/// The frame's [`ReplayMeta`], when replay put one in front of it (bounds checked).
#[inline(always)]
fn replay_meta(ctx: &XdpContext) -> Option<usize> {
    let meta = opaque(ctx.metadata());
    (meta + size_of::<ReplayMeta>() <= ctx.data()).then_some(meta)
}

#[inline(always)]
fn account_flow(stats: &mut Stats, key: &FlowKey, classes: u64, len: u64, now: u64) {
    // SAFETY: a helper with no arguments.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(b) = FLOWS.get_ptr_mut(cpu * FLOW_BUCKETS + key.bucket()) else {
        stats.flow_updates_failed += 1;
        return;
    };
    // SAFETY: this CPU's region: only this CPU's program touches it.
    let b = unsafe { &mut *b };
    let mut victim = 0;
    let mut oldest = u64::MAX;
    let mut i = 0;
    while i < FLOW_WAYS {
        let s = &mut b[i];
        // The key is read again for each way (through `opaque`, so LLVM cannot hold its
        // five words in registers across the loop): spilled, they overflow the stack.
        // SAFETY: `key` points at scratch memory, valid for the call.
        let k = unsafe { &*(opaque(key as *const FlowKey as usize) as *const FlowKey) };
        if s.value.packets != 0 && s.key.same(k) {
            let v = &mut s.value;
            v.packets += 1;
            v.bytes += len;
            v.last_ns = now;
            v.classes |= classes;
            return;
        }
        // An empty slot is the oldest of all.
        let age = if s.value.packets == 0 {
            0
        } else {
            s.value.last_ns + 1
        };
        if age < oldest {
            oldest = age;
            victim = i;
        }
        i += 1;
    }
    let s = &mut b[victim & (FLOW_WAYS - 1)];
    if s.value.packets != 0 {
        stats.flow_updates_failed += 1;
    }
    s.key = *key;
    s.value = FlowValue {
        packets: 1,
        bytes: len,
        first_ns: now,
        last_ns: now,
        classes,
    };
}

/// The whole frame's length, fragments included: a helper call, so only for watched frames.
#[inline(always)]
fn buff_len(ctx: &XdpContext) -> u64 {
    // SAFETY: ctx.ctx is the program's own xdp_md.
    unsafe { bpf_xdp_get_buff_len(ctx.ctx) }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable loop{}, so a reachable panic fails the load.
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
