//! The frame parser: one source of truth per protocol, compiled into the XDP program and
//! into the daemon's userspace engine.
//!
//! Everything reads through [`Packet`], whose XDP implementation is the single bounds-checked
//! accessor the verifier sees, and reports through [`Sink`], whose XDP implementation bumps
//! per-CPU counters and writes to the event queue. Offsets only ever grow by bounded amounts
//! (header lengths, a fixed number of loop turns), which keeps the verifier's job small.
//!
//! A frame is parsed in two phases. Phase 1 ([`triage`]) walks the link and network headers
//! and the transport header's ports with nothing but packet reads, and says whether the
//! frame can matter at all; most traffic on a busy host does not, and leaves there, costing
//! a few loads and a counter. Phase 2 ([`classify_watched`]) starts where phase 1 stopped
//! (the transport, or the IPX header) and does the rest: classes, events, the flow. Both
//! engines run the same two phases ([`classify`] for callers that hold scratch memory
//! anyway), so what the kernel skips the user engine skips too.

mod eth;
mod ip;
mod ipx;
mod l4;
mod netbios;
mod pptp;
mod tunnel;

pub use crate::event::PPTP_MAX_MESSAGES;

use bytemuck::{Pod, Zeroable};

use crate::{
    class::Class,
    event::{
        Event, EventKind, Family, IcmpBody, NbnsBody, NbssBody, NcpBody, PptpSegment, Record,
        SapResponse, TcpBody, UdpBody,
    },
    maps::FlowKey,
};

/// A frame's bytes. `load` is the only way the parser touches packet memory.
#[allow(
    clippy::len_without_is_empty,
    reason = "a frame is never asked whether it is empty"
)]
pub trait Packet {
    /// `N` bytes at `off`, or `None` when they run past the end of the frame.
    fn load<const N: usize>(&self, off: usize) -> Option<[u8; N]>;
    /// How many bytes `load` can reach.
    fn len(&self) -> usize;
    /// The whole frame's length, which can exceed `len` (XDP fragments of a jumbo frame).
    /// Only asked when a length field claims more than `len`, which is rare.
    fn total_len(&self) -> usize {
        self.len()
    }
    /// Copies the `n` bytes at `off` to the start of `out` (`n <= N`). One call for a
    /// variable-length field: a byte loop would fork the verifier's search once per byte.
    fn copy<const N: usize>(&self, off: usize, n: usize, out: &mut [u8; N]) -> Option<()>;
}

/// Where the parser's results go.
pub trait Sink {
    /// Called at most once per class per frame: classes count frames, so a frame with
    /// several messages of one kind (PPTP control messages coalesced in a segment) is
    /// counted once, and every message still gives its own event.
    fn count(&mut self, class: Class);
    /// Called for each record a stateful detector needs (an [`Event`], a whole
    /// [`SapResponse`] or a segment's [`PptpSegment`]); the sink stamps `ts_ns` and `frame_len` (the whole frame's length,
    /// which the parser may not see all of).
    fn emit<R: Record>(&mut self, record: &mut R);
}

/// What the caller needs after a frame: its classes (a bit per [`Class`]), whether it was
/// malformed or cut short by the capture, and the flow to account it to (watched frames only).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Outcome {
    pub classes: u64,
    pub malformed: u8,
    /// Cut short by the capture, not the wire (see `Stats::truncated`).
    pub truncated: u8,
    pub has_flow: u8,
    pub _pad: u8,
    /// See [`Triage::claimed`].
    pub claimed: u32,
    pub flow: FlowKey,
}

/// What phase 1 learnt of a frame, and where phase 2 starts. `layer` is 0 for a frame
/// that is not watched; otherwise the [`Family`](crate::event::Family) of the innermost
/// network header (IPv4, IPv6 or IPX). Aligned to 8 so it is cleared a word at a time.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Triage {
    /// The transport header (IP) or the IPX header.
    pub off: u32,
    /// The end of the IP payload (IP only).
    pub end: u32,
    /// The innermost IP header, whose addresses the events carry (IP only).
    pub net: u32,
    /// The furthest end a length field claimed past the bytes at hand, or 0: the frame
    /// is malformed if that is past its length on the wire, else cut short by the
    /// capture (see [`settle`]).
    pub claimed: u32,
    pub vlan_id: u16,
    pub layer: u8,
    /// The IP protocol (IP only).
    pub proto: u8,
    /// [`IpxEncap`](crate::event::IpxEncap) (IPX only).
    pub encap: u8,
    pub vlans: u8,
    /// `LINK_GROUP_DST` or 0.
    pub link: u8,
    pub malformed: u8,
    pub truncated: u8,
    /// No length field bounds the frame (an IPv6 jumbogram): its whole length is
    /// whatever the frame holds, fragments included.
    pub unbounded: u8,
    pub _pad: [u8; 6],
}

impl Triage {
    #[inline(always)]
    pub fn watched(&self) -> bool {
        self.layer != 0
    }
}

/// The parser's working memory for one frame, provided by the caller (a per-CPU map slot
/// in XDP). Kept out of the BPF stack on purpose: the stack is 512 bytes, and the verifier
/// tracks stack and register contents exactly, so per-frame values held there (which
/// classes were seen, every event field) would split its search into a state per
/// combination. Map memory is not tracked, so paths that differ only in these values merge.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Scratch {
    pub event: Event,
    /// A PPTP segment's record (its messages), built here rather than in `event`.
    pub pptp: PptpSegment,
    /// A SAP response's record, built here rather than in `event` (it is larger).
    pub sap: SapResponse,
    pub out: Outcome,
    /// Phase 1's result (see [`triage`]).
    pub triage: Triage,
    /// See [`Ctx::converge`].
    pub through: [u64; 2],
}

// The event queue copies a record in whole chunks, reading up to a chunk less its
// prefix past the record's end: scratch memory must go on that far after each record.
const _: () = {
    use crate::maps::{QUEUE_CHUNK_BYTES, QueuePrefix, queue_record_chunks};
    use core::mem::offset_of;
    /// Whether a record of `size` bytes at `at` can be copied from there.
    const fn fits(at: usize, size: usize) -> bool {
        let read =
            queue_record_chunks(size) as usize * QUEUE_CHUNK_BYTES - size_of::<QueuePrefix>();
        at.is_multiple_of(8) && at + read <= size_of::<Scratch>()
    }
    assert!(fits(offset_of!(Scratch, event), size_of::<Event>()));
    assert!(fits(offset_of!(Scratch, pptp), size_of::<PptpSegment>()));
    assert!(fits(offset_of!(Scratch, sap), size_of::<SapResponse>()));
};

/// A header ended before its fixed fields did, or a field contradicts the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Says what a frame that fell short was: `failed` when the parser stopped inside a
/// header, `claimed` as in [`Triage::claimed`]. A frame shorter than its length on the
/// wire (cut by a capture's snap length; live, longer than the part of a multi-buffer
/// frame XDP reads) fell short because of the capture: `truncated`. Otherwise, or when a
/// length field claims more than even the wire carried, the wire got it wrong:
/// `malformed`. Decided once per frame, here, and not where each length is read: the
/// wire length can cost a helper call, and each call site would cost the verifier a walk.
#[inline(always)]
fn settle<P: Packet + ?Sized>(
    rd: Reader<P>,
    failed: bool,
    claimed: u32,
    malformed: &mut u8,
    truncated: &mut u8,
) {
    if !failed && claimed == 0 {
        return;
    }
    let wire = rd.total_len();
    if claimed as usize > wire || rd.len() >= wire {
        *malformed = 1;
    } else {
        *truncated = 1;
    }
}

pub(crate) type Parsed = Result<(), Malformed>;

/// Bounds-checked reads. `_in` variants also stop at `lim`, the end of the enclosing PDU,
/// which can come before the end of the frame (Ethernet pads short frames).
pub(crate) struct Reader<'a, P: Packet + ?Sized> {
    pkt: &'a P,
}

impl<P: Packet + ?Sized> Clone for Reader<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P: Packet + ?Sized> Copy for Reader<'_, P> {}

impl<P: Packet + ?Sized> Reader<'_, P> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.pkt.len()
    }
    #[inline(always)]
    fn total_len(&self) -> usize {
        self.pkt.total_len()
    }
    #[inline(always)]
    fn bytes<const N: usize>(&self, off: usize) -> Result<[u8; N], Malformed> {
        self.pkt.load::<N>(off).ok_or(Malformed)
    }
    #[inline(always)]
    fn u8(&self, off: usize) -> Result<u8, Malformed> {
        self.bytes::<1>(off).map(|b| b[0])
    }
    #[inline(always)]
    fn be16(&self, off: usize) -> Result<u16, Malformed> {
        self.bytes::<2>(off).map(u16::from_be_bytes)
    }
    #[inline(always)]
    fn bytes_in<const N: usize>(&self, off: usize, lim: usize) -> Result<[u8; N], Malformed> {
        if off + N > lim {
            return Err(Malformed);
        }
        self.bytes::<N>(off)
    }
    #[inline(always)]
    fn u8_in(&self, off: usize, lim: usize) -> Result<u8, Malformed> {
        self.bytes_in::<1>(off, lim).map(|b| b[0])
    }
    #[inline(always)]
    fn be16_in(&self, off: usize, lim: usize) -> Result<u16, Malformed> {
        self.bytes_in::<2>(off, lim).map(u16::from_be_bytes)
    }
    /// `n` bytes at `off`, ending by `lim`, into the start of `out`.
    #[inline(always)]
    fn copy_in<const N: usize>(
        &self,
        off: usize,
        n: usize,
        lim: usize,
        out: &mut [u8; N],
    ) -> Parsed {
        if n > N || off + n > lim {
            return Err(Malformed);
        }
        self.pkt.copy(off, n, out).ok_or(Malformed)
    }
}

/// Where phase 1 goes after a header. A tunnel's inner header starts at `Triage::off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Verdict {
    /// Nothing faultd watches follows.
    Unwatched,
    /// The frame is watched; the [`Triage`] says where phase 2 starts.
    Watched,
    Ipv4,
    Ipv6,
    Ethernet,
}

impl From<bool> for Verdict {
    #[inline(always)]
    fn from(watched: bool) -> Self {
        if watched {
            Verdict::Watched
        } else {
            Verdict::Unwatched
        }
    }
}

/// Phase 1's state: the reads and what they found, no scratch memory and no sink.
pub(crate) struct Walk<'a, P: Packet + ?Sized> {
    rd: Reader<'a, P>,
    t: &'a mut Triage,
}

impl<P: Packet + ?Sized> Walk<'_, P> {
    #[inline(always)]
    fn end_of(&mut self, claimed: usize, avail: usize) -> usize {
        end_of(claimed, avail, &mut self.t.claimed)
    }
}

/// The end of a PDU whose length field says it ends at `claimed`, as far as the parser
/// can read (`avail`). A length that runs past the bytes at hand is noted in `furthest`
/// (see [`settle`]), and the PDU is still parsed as far as it goes.
#[inline(always)]
fn end_of(claimed: usize, avail: usize, furthest: &mut u32) -> usize {
    if claimed <= avail {
        return claimed;
    }
    let c = claimed.min(u32::MAX as usize) as u32;
    if c > *furthest {
        *furthest = c;
    }
    avail
}

/// Parser state for one frame. The event is written in place, field by field, into
/// memory the caller provides (a per-CPU map slot in XDP): built on the BPF stack it would
/// both overflow the 512-byte limit and keep the verifier from merging paths.
pub(crate) struct Ctx<'a, P: Packet + ?Sized, S: Sink> {
    rd: Reader<'a, P>,
    sink: &'a mut S,
    ev: &'a mut Event,
    pptp: &'a mut PptpSegment,
    sap: &'a mut SapResponse,
    out: &'a mut Outcome,
    #[cfg_attr(
        not(target_arch = "bpf"),
        expect(dead_code, reason = "used by converge in BPF")
    )]
    through: &'a mut [u64; 2],
    /// `Family` of the network header, kept out of `ev` so branches on it stay visible.
    family: u8,
}

/// Zeroes `v` with one 8-byte store per word. A plain `= zeroed()` becomes a call to
/// memset, which in BPF is a byte loop the verifier walks again on every path.
#[inline(always)]
fn clear<T: Pod>(v: &mut T) {
    const { assert!(align_of::<T>() >= 8 && size_of::<T>().is_multiple_of(8)) };
    let p = (v as *mut T).cast::<u64>();
    let mut i = 0;
    while i < size_of::<T>() / 8 {
        // SAFETY: in bounds and aligned (asserted above); volatile keeps LLVM from turning
        // the stores back into a memset call.
        unsafe { core::ptr::write_volatile(p.add(i), 0) };
        i += 1;
    }
}

/// `*dst = *src`, one 8-byte load and store per word: a plain assignment of a struct this
/// size becomes a call to memcpy, a byte loop in BPF.
#[inline(always)]
fn copy<T: Pod>(dst: &mut T, src: &T) {
    const { assert!(align_of::<T>() >= 8 && size_of::<T>().is_multiple_of(8)) };
    let (d, s) = (
        (dst as *mut T).cast::<u64>(),
        (src as *const T).cast::<u64>(),
    );
    let mut i = 0;
    while i < size_of::<T>() / 8 {
        // SAFETY: both in bounds and aligned (asserted above); volatile keeps LLVM from
        // turning the copy back into a memcpy call.
        unsafe { core::ptr::write_volatile(d.add(i), core::ptr::read_volatile(s.add(i))) };
        i += 1;
    }
}

macro_rules! body {
    ($(#[$m:meta])* $fn:ident, $field:ident, $ty:ty) => {
        $(#[$m])*
        #[inline(always)]
        pub(crate) fn $fn(&mut self) -> &mut $ty {
            clear(&mut self.ev.body);
            // SAFETY: every body variant is Pod, so the zeroed bytes are a valid value.
            unsafe { &mut self.ev.body.$field }
        }
    };
}

impl<'a, P: Packet + ?Sized, S: Sink> Ctx<'a, P, S> {
    #[inline(always)]
    fn class(&mut self, c: Class) {
        if self.out.classes & c.bit() == 0 {
            self.out.classes |= c.bit();
            self.sink.count(c);
        }
    }

    body!(
        /// Starts an NBNS event body (zeroed).
        nbns_body, nbns, NbnsBody
    );
    body!(nbss_body, nbss, NbssBody);
    body!(ncp_body, ncp, NcpBody);
    body!(tcp_body, tcp, TcpBody);
    body!(udp_body, udp, UdpBody);
    body!(icmp_body, icmp, IcmpBody);

    /// Passes an offset pair through untracked memory before a protocol parser starts.
    /// The verifier then sees the same unknown (still bounds-checked on every load) values
    /// whichever link, network and transport headers led here, so those paths merge into
    /// one state instead of each re-exploring the protocol parser. Free outside BPF.
    #[inline(always)]
    fn converge(&mut self, off: usize, lim: usize) -> (usize, usize) {
        #[cfg(target_arch = "bpf")]
        // SAFETY: `through` is valid, exclusively borrowed memory.
        unsafe {
            let p = self.through.as_mut_ptr();
            core::ptr::write_volatile(p, off as u64);
            core::ptr::write_volatile(p.add(1), lim as u64);
            (
                core::ptr::read_volatile(p) as usize,
                core::ptr::read_volatile(p.add(1)) as usize,
            )
        }
        #[cfg(not(target_arch = "bpf"))]
        (off, lim)
    }

    /// See [`end_of`].
    #[inline(always)]
    fn end_of(&mut self, claimed: usize, avail: usize) -> usize {
        end_of(claimed, avail, &mut self.out.claimed)
    }

    /// Hands the event whose body was just filled to the sink.
    #[inline(always)]
    fn emit(&mut self, kind: EventKind) {
        self.ev.hdr.kind = kind as u8;
        self.sink.emit(self.ev);
    }

    /// Accounts the frame to a flow (the caller updates the flow map).
    #[inline(always)]
    fn flow(&mut self, proto: u8) {
        let h = &self.ev.hdr;
        self.out.has_flow = 1;
        self.out.flow = FlowKey {
            family: self.family,
            proto,
            sport: h.sport,
            dport: h.dport,
            _pad: 0,
            src: h.src,
            dst: h.dst,
        };
    }
}

/// Phase 1: whether an Ethernet frame can be in any class, give an event or be accounted
/// to a flow; and if so, where phase 2 starts. Reads the frame, writes `t`, and nothing
/// else. `t` is the caller's: in XDP, scratch memory the verifier does not track, so the
/// many link and network paths reach phase 2 as one state.
#[inline(always)]
pub fn triage<P: Packet + ?Sized>(pkt: &P, t: &mut Triage) {
    clear(t);
    let mut w = Walk {
        rd: Reader { pkt },
        t,
    };
    let failed = match eth::walk(&mut w) {
        // Phase 2 settles a watched frame.
        Ok(true) => return,
        Ok(false) => false,
        Err(Malformed) => true,
    };
    w.t.layer = 0;
    settle(
        w.rd,
        failed,
        w.t.claimed,
        &mut w.t.malformed,
        &mut w.t.truncated,
    );
}

/// Phase 2, for a frame whose [`triage`] in `scratch.triage` found it watched. Never
/// fails: a frame the parser cannot follow is simply not in any watched class, and one cut
/// short inside a header it had started is `malformed`, or `truncated` when the capture
/// cut it (keeping the classes it had already earned either way). The result is left in `scratch.out`.
#[inline(always)]
pub fn classify_watched<P: Packet + ?Sized, S: Sink>(pkt: &P, sink: &mut S, scratch: &mut Scratch) {
    clear(&mut scratch.event.hdr);
    clear(&mut scratch.out);
    let t = scratch.triage;
    let mut cx = Ctx {
        rd: Reader { pkt },
        sink,
        ev: &mut scratch.event,
        pptp: &mut scratch.pptp,
        sap: &mut scratch.sap,
        out: &mut scratch.out,
        through: &mut scratch.through,
        family: t.layer,
    };
    cx.out.claimed = t.claimed;
    cx.ev.hdr.link = t.link;
    cx.ev.hdr.vlans = t.vlans;
    cx.ev.hdr.vlan_id = t.vlan_id;
    let parsed = if t.layer == Family::Ipx as u8 {
        ipx::parse(&mut cx, t.off as usize, t.encap)
    } else {
        ip::addresses(&mut cx, t.net as usize)
            .and_then(|()| l4::dispatch(&mut cx, t.proto, t.off as usize, t.end as usize))
    };
    settle(
        cx.rd,
        parsed.is_err(),
        cx.out.claimed,
        &mut cx.out.malformed,
        &mut cx.out.truncated,
    );
    // Only watched frames occupy a flow slot: unwatched traffic must not evict them.
    if cx.out.classes == 0 {
        cx.out.has_flow = 0;
    }
}

/// Both phases, leaving the result in `scratch.out` (zero classes and no flow for a frame
/// phase 1 turned away).
#[inline(always)]
pub fn classify<P: Packet + ?Sized, S: Sink>(pkt: &P, sink: &mut S, scratch: &mut Scratch) {
    triage(pkt, &mut scratch.triage);
    if scratch.triage.watched() {
        classify_watched(pkt, sink, scratch);
    } else {
        clear(&mut scratch.out);
        scratch.out.malformed = scratch.triage.malformed;
        scratch.out.truncated = scratch.triage.truncated;
    }
}

/// A byte slice as a [`Packet`]: the userspace engine, tests and fuzzing.
impl Packet for [u8] {
    #[inline(always)]
    fn load<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        let end = off.checked_add(N)?;
        self.get(off..end)?.try_into().ok()
    }
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn copy<const N: usize>(&self, off: usize, n: usize, out: &mut [u8; N]) -> Option<()> {
        let src = self.get(off..off.checked_add(n)?)?;
        out.get_mut(..n)?.copy_from_slice(src);
        Some(())
    }
}

/// Decodes a first-level encoded NetBIOS name (32 characters 'A'..'P') into its 16 bytes.
#[inline(always)]
pub fn decode_netbios_name(enc: &[u8; 32]) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    decode_netbios_name_into(enc, &mut out).then_some(out)
}

/// Decodes an encoded NetBIOS name into `out` (as [`decode_netbios_name`]); false, and
/// `out` untouched, when it is not one. What the parser calls, in both engines.
#[inline(always)]
pub(crate) fn decode_netbios_name_into(enc: &[u8; 32], out: &mut [u8; 16]) -> bool {
    let Some([a, b, c, d]) = decode_netbios_words(enc) else {
        return false;
    };
    let (lo, hi) = (
        u64::from(a) | u64::from(b) << 32,
        u64::from(c) | u64::from(d) << 32,
    );
    #[cfg(target_arch = "bpf")]
    // SAFETY: both stores are inside `out`. Written out because LLVM stores an `[u8; N]` a
    // byte at a time (it cannot know `out` is aligned, and BPF has no unaligned stores of
    // its own); the kernel allows them in map memory where unaligned access is cheap.
    unsafe {
        let p = out.as_mut_ptr();
        core::arch::asm!(
            "*(u64 *)({0} + 0) = {1}",
            "*(u64 *)({0} + 8) = {2}",
            in(reg) p,
            in(reg) lo.to_le(),
            in(reg) hi.to_le(),
            options(nostack),
        );
    }
    #[cfg(not(target_arch = "bpf"))]
    {
        out[..8].copy_from_slice(&lo.to_le_bytes());
        out[8..].copy_from_slice(&hi.to_le_bytes());
    }
    true
}

/// [`decode_netbios_name`]'s bytes as four little-endian words, eight characters at a
/// time: a byte at a time, the 32 characters' nibbles outnumber BPF's registers, and
/// LLVM spills most of them to the stack.
#[inline(always)]
fn decode_netbios_words(enc: &[u8; 32]) -> Option<[u32; 4]> {
    let word = |i: usize| {
        u64::from_le_bytes([
            enc[i],
            enc[i + 1],
            enc[i + 2],
            enc[i + 3],
            enc[i + 4],
            enc[i + 5],
            enc[i + 6],
            enc[i + 7],
        ])
    };
    Some([
        decode_8_chars(word(0))?,
        decode_8_chars(word(8))?,
        decode_8_chars(word(16))?,
        decode_8_chars(word(24))?,
    ])
}

/// Eight encoded characters (little-endian: the first in the low byte) into four bytes,
/// or `None` when one is outside 'A'..='P'.
#[inline(always)]
fn decode_8_chars(w: u64) -> Option<u32> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const A: u64 = 0x4141_4141_4141_4141;
    const Q: u64 = 0x5151_5151_5151_5151;
    // With each byte's high bit set first, no subtraction borrows from the next byte:
    // a byte's high bit stays set in `from_a` when the byte is 'A' or more, and in
    // `from_q` when it is 'Q' or more. Bytes of 0x80 and up are out by `w`'s own bit.
    let from_a = (w | HIGH).wrapping_sub(A);
    let from_q = (w | HIGH).wrapping_sub(Q);
    if (w | !from_a | from_q) & HIGH != 0 {
        return None;
    }
    // Every byte is a nibble now; a character pair (high nibble first) is a 16-bit lane.
    let v = w - A;
    let lanes = ((v & 0x000F_000F_000F_000F) << 4) | ((v >> 8) & 0x000F_000F_000F_000F);
    let pairs = (lanes | (lanes >> 8)) & 0x0000_FFFF_0000_FFFF;
    Some((pairs | (pairs >> 16)) as u32)
}

#[cfg(test)]
mod tests {
    use super::decode_netbios_name;

    /// The decoding RFC 1001 §14.1 describes, a character pair at a time.
    fn reference(enc: &[u8; 32]) -> Option<[u8; 16]> {
        let mut out = [0u8; 16];
        for (i, pair) in enc.chunks_exact(2).enumerate() {
            let nibble = |c: u8| (b'A'..=b'P').contains(&c).then(|| c - b'A');
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(out)
    }

    #[test]
    fn names_decode_as_a_character_pair_at_a_time_does() {
        // Every byte value at every position, in a name otherwise valid.
        let base: [u8; 32] = core::array::from_fn(|i| b'A' + (i as u8 * 7) % 16);
        for pos in 0..32 {
            for c in 0..=255u8 {
                let mut enc = base;
                enc[pos] = c;
                assert_eq!(
                    decode_netbios_name(&enc),
                    reference(&enc),
                    "{c:#x} at {pos}"
                );
            }
        }
        // Every byte value as a name's whole content.
        for c in 0..=255u8 {
            let enc = [c; 32];
            assert_eq!(decode_netbios_name(&enc), reference(&enc), "{c:#x}");
        }
        // RFC 1001 §14.1's example.
        let fred = *b"EGFCEFEECACACACACACACACACACACACA";
        assert_eq!(&decode_netbios_name(&fred).unwrap(), b"FRED            ");
    }
}
