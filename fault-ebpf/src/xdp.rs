use aya_ebpf::{
    bindings::{
        BPF_F_MMAPABLE, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, xdp_action,
    },
    helpers::{
        bpf_get_smp_processor_id, bpf_ktime_get_coarse_ns, bpf_xdp_get_buff_len, bpf_xdp_load_bytes,
    },
    macros::{map, xdp},
    maps::{Array, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use aya_log_ebpf::warn;
use fault_common::{
    Class, FlowKey, FlowValue, Stats,
    event::Record,
    maps::{
        CLOCK_IN_METADATA, EVENT_RING_BYTES, EVENT_RING_WAKE_BYTES, FLOW_BUCKETS, FLOW_WAYS,
        FlowBucket, ReplayMeta,
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

#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENT_RING_BYTES, 0);

/// The parser's per-frame working memory (see `parse::Scratch` for why not the stack).
#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// 0 live: packet time is the kernel's clock. `CLOCK_IN_METADATA` in replay: each frame
/// carries its capture time and wire length in its XDP metadata ([`ReplayMeta`]), so a
/// frame costs replay one system call.
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
        // SAFETY: `out` has room for n <= N bytes; the helper checks the packet bounds.
        let r = unsafe {
            bpf_xdp_load_bytes(self.0.ctx, off as u32, out.as_mut_ptr().cast(), n as u32)
        };
        (r == 0).then_some(())
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
    len: u64,
    dropped: bool,
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
        h.frame_len = self.len as u32;
        let flags = wakeup(
            self.stats.events + self.stats.events_dropped,
            record.events(),
        );
        // Only the part in use: a SAP response with one server takes 128 bytes, not 576.
        let len = record.ring_len();
        let bytes = bytemuck::bytes_of(&*record);
        let Some(bytes) = bytes.get(..len) else {
            return;
        };
        if EVENTS.output::<[u8]>(bytes, flags).is_ok() {
            self.stats.events += record.events();
        } else {
            self.stats.events_dropped += record.events();
            self.dropped = true;
        }
    }
}

/// Ring-buffer commit flags for a record of `k` events after a CPU's first `n`. The daemon drains the ring on a short
/// timer, so a record need not wake it: a wake-up per record is an interrupt per record (a
/// VM exit when virtual), and the kernel sends one whenever the consumer has caught up,
/// which a fast consumer always has. Only a ring filling up is worth waking it early for,
/// and asking how full it is costs a helper call, so only a record that crosses a multiple of
/// 64 events asks.
#[inline(always)]
fn wakeup(n: u64, k: u64) -> u64 {
    if n % 64 + k >= 64
        && EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= u64::from(EVENT_RING_WAKE_BYTES)
    {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
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

/// Phase 2 and what follows it. Not inlined, so the phase 1 state the XDP function holds
/// is not on the stack of phase 2's deepest call chain.
#[inline(never)]
fn watched(ctx: &XdpContext, stats: &mut Stats, scratch: &mut Scratch) {
    let mut sink = Counters {
        stats,
        now: now(ctx),
        len: buff_len(ctx),
        dropped: false,
    };
    parse::classify_watched(&Frame(ctx), &mut sink, scratch);
    let out = &scratch.out;
    // Once per CPU: a full ring must not turn into a flood of log records. The daemon
    // exports the running count (faultd_events_dropped_total).
    if sink.dropped && sink.stats.events_dropped == 1 {
        warn!(
            ctx,
            "event ring buffer full: dropping events (counted in STATS)"
        );
    }
    sink.stats.malformed += u64::from(out.malformed);
    sink.stats.truncated += u64::from(out.truncated);
    if out.has_flow != 0 {
        account_flow(sink.stats, &out.flow, out.classes, sink.len, sink.now);
    }
}

#[inline(always)]
fn triage(ctx: &XdpContext, t: &mut Triage) {
    parse::triage(&Frame(ctx), t);
}

/// Packet time for a watched frame. Live, the coarse monotonic clock: a tenth of the
/// precise one's cost, and its tick (a jiffy, 1-10 ms) is far below the detectors'
/// shortest timeout (1.5 s).
#[inline(always)]
fn now(ctx: &XdpContext) -> u64 {
    match replay_meta(ctx) {
        Some(meta) => load_u64(meta),
        // SAFETY: a helper with no arguments.
        None => unsafe { bpf_ktime_get_coarse_ns() },
    }
}

/// The frame's length on the wire: its whole length live, what replay says in the
/// metadata. Not inlined: its branches would otherwise split the verifier's states at
/// every length check that calls it.
#[inline(always)]
fn wire_len(ctx: &XdpContext) -> u64 {
    let whole = buff_len(ctx);
    match replay_meta(ctx) {
        Some(meta) => whole.max(load_u64(meta + 8)),
        None => whole,
    }
}

/// In replay, the address of the frame's [`ReplayMeta`] (its bounds checked).
#[inline(always)]
fn replay_meta(ctx: &XdpContext) -> Option<usize> {
    if CLOCK.get(0) != Some(&CLOCK_IN_METADATA) {
        return None;
    }
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
