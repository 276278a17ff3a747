//! The shared frame parser, as the XDP program and the user engine run it: each input is a
//! frame whole on the wire, and the same bytes as the start of a longer frame (a snap
//! length, or the part of a multi-buffer frame XDP reads). Every record the parser emits
//! goes through the ring buffer's decoder.
#![no_main]

use bytemuck::Zeroable;
use fault_common::{
    Class,
    event::{self, Record},
    parse::{self, Packet, Scratch, Sink},
};

/// The first bytes of a frame `total` bytes long.
struct Cut<'a> {
    bytes: &'a [u8],
    total: usize,
}

impl Packet for Cut<'_> {
    fn load<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        self.bytes.load(off)
    }
    fn len(&self) -> usize {
        self.bytes.len()
    }
    fn total_len(&self) -> usize {
        self.total
    }
    fn copy<const N: usize>(&self, off: usize, n: usize, out: &mut [u8; N]) -> Option<()> {
        self.bytes.copy(off, n, out)
    }
}

struct Decode;

impl Sink for Decode {
    fn count(&mut self, _: Class) {}
    fn emit<R: Record>(&mut self, record: &mut R) {
        let mut n = 0;
        event::decode(&bytemuck::bytes_of(record)[..record.ring_len()], |_| n += 1);
        assert_eq!(
            n,
            record.events(),
            "a record decodes to the events it counts"
        );
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first two bytes say how much longer the frame was on the wire.
    let Some((extra, frame)) = data.split_first_chunk::<2>() else {
        return;
    };
    let longer = frame.len() + usize::from(u16::from_le_bytes(*extra));
    for total in [frame.len(), longer] {
        let mut scratch = Scratch::zeroed();
        parse::classify(
            &Cut {
                bytes: frame,
                total,
            },
            &mut Decode,
            &mut scratch,
        );
        let out = scratch.out;
        assert!(
            out.malformed == 0 || out.truncated == 0,
            "malformed or truncated, not both"
        );
        assert!(
            total > frame.len() || out.truncated == 0,
            "a whole frame is never truncated"
        );
    }
});
