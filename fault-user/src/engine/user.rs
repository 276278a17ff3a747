//! The user engine: the XDP program's parser, compiled for userspace, over the same
//! frames. No privilege needed; the tests hold it to the kernel engine's results.

use std::collections::BTreeMap;

use bytemuck::Zeroable;
use fault_common::{
    Class, Event, FlowKey, FlowValue, Stats,
    event::{self, Record},
    parse::{self, Packet, Scratch, Sink},
};

use super::{Engine, EngineError, LINEAR_MAX, Run, handed};

/// A frame as BPF_PROG_TEST_RUN presents it to XDP: the parser reads at most
/// `LINEAR_MAX` bytes, the rest being fragments; the whole length (on the wire, for a
/// frame the capture cut short) is still known.
struct Linear<'a> {
    visible: &'a [u8],
    total: usize,
}

impl Packet for Linear<'_> {
    fn load<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        self.visible.load(off)
    }
    fn len(&self) -> usize {
        self.visible.len()
    }
    fn total_len(&self) -> usize {
        self.total
    }
    fn copy<const M: usize>(&self, off: usize, n: usize, out: &mut [u8; M]) -> Option<()> {
        self.visible.copy(off, n, out)
    }
}

#[derive(Default)]
pub struct UserEngine {
    stats: Stats,
    flows: BTreeMap<FlowKey, FlowValue>,
    events: Vec<Event>,
}

struct Collect<'a> {
    stats: &'a mut Stats,
    events: &'a mut Vec<Event>,
    ts_ns: u64,
    len: u32,
}

impl Sink for Collect<'_> {
    fn count(&mut self, class: Class) {
        self.stats.classes[class as usize] += 1;
    }

    fn emit<R: Record>(&mut self, record: &mut R) {
        let h = record.header();
        h.ts_ns = self.ts_ns;
        h.frame_len = self.len;
        self.stats.events += record.events();
        // Through the same decoding as the event queue's records.
        let bytes = bytemuck::bytes_of(record);
        event::decode(&bytes[..record.ring_len()], |e| self.events.push(e));
    }
}

impl Engine for UserEngine {
    fn captured(&mut self, ts_ns: u64, data: &[u8], wire_len: usize) -> Result<(), EngineError> {
        self.stats.frames += 1;
        let total = data.len().max(wire_len);
        let data = handed(data);
        let frame = Linear {
            visible: &data[..data.len().min(LINEAR_MAX)],
            total,
        };
        let mut sink = Collect {
            stats: &mut self.stats,
            events: &mut self.events,
            ts_ns: ts_ns.max(1),
            len: data.len() as u32,
        };
        let mut scratch = Scratch::zeroed();
        parse::classify(&frame, &mut sink, &mut scratch);
        let out = scratch.out;
        self.stats.malformed += u64::from(out.malformed);
        self.stats.truncated += u64::from(out.truncated);
        if out.has_flow != 0 {
            let ts = ts_ns.max(1);
            let f = self.flows.entry(out.flow).or_insert(FlowValue {
                first_ns: ts,
                ..Default::default()
            });
            f.packets += 1;
            f.bytes += data.len() as u64;
            f.last_ns = ts;
            f.classes |= out.classes;
        }
        Ok(())
    }

    fn drain_events(&mut self, out: &mut Vec<Event>) -> Result<(), EngineError> {
        out.append(&mut self.events);
        Ok(())
    }

    fn stats(&mut self) -> Result<Stats, EngineError> {
        Ok(self.stats)
    }

    fn snapshot(&mut self) -> Result<Run, EngineError> {
        Ok(Run {
            stats: self.stats,
            flows: self.flows.clone(),
        })
    }
}
