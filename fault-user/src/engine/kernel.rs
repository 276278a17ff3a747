//! The kernel engine: each frame goes through the loaded XDP program with
//! BPF_PROG_TEST_RUN, exactly as the live attachment would run it (one system call per
//! frame: its time rides along as XDP metadata); results are read back from the same maps
//! the daemon reads.

use aya::{
    Ebpf,
    maps::{Array, PerCpuArray},
    programs::{TestRun, TestRunOptions, Xdp},
};
use fault_common::{
    Event, Stats, event,
    maps::{
        CLOCK_IN_METADATA, MAP_CLOCK, MAP_EVENTS, MAP_FLOWS, MAP_STATS, PROGRAM_CLASSIFY,
        ReplayMeta,
    },
};

use super::{Engine, EngineError, Run, XDP_PASS, handed};
use crate::{flows::FlowTable, queue::EventQueue};

/// BPF_PROG_TEST_RUN refuses XDP input shorter than an Ethernet header.
const ETH_HLEN: usize = 14;
/// The capture time and wire length in front of each frame, as XDP metadata.
const META_LEN: u32 = size_of::<ReplayMeta>() as u32;

/// `struct xdp_md` as BPF_PROG_TEST_RUN takes it: `data` is the metadata's length (the
/// kernel takes it from the headroom, so the frame's room is unchanged), `data_end` the
/// length of metadata and frame together.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct XdpMd {
    data: u32,
    data_end: u32,
    data_meta: u32,
    ingress_ifindex: u32,
    rx_queue_index: u32,
    egress_ifindex: u32,
}

pub struct KernelEngine {
    ebpf: Ebpf,
    events: EventQueue,
    /// The frame handed to the kernel: its capture time as XDP metadata, then the frame.
    buf: Vec<u8>,
    flows: FlowTable,
    /// Runts the kernel cannot be handed (live, NICs drop them before XDP): counted here
    /// exactly as the parser counts them, as frames malformed or truncated.
    runts: Runts,
}

#[derive(Default)]
struct Runts {
    malformed: u64,
    truncated: u64,
}

fn map_err(map: &'static str) -> impl FnOnce(aya::maps::MapError) -> EngineError {
    move |source| EngineError::Map { map, source }
}

impl KernelEngine {
    pub fn new() -> Result<Self, EngineError> {
        let mut ebpf = crate::ebpf::load()?;
        let events = EventQueue::new(take(&mut ebpf, MAP_EVENTS)?).map_err(EngineError::Queue)?;
        let clock = take(&mut ebpf, MAP_CLOCK)?;
        let mut clock: Array<_, u64> = Array::try_from(clock).map_err(map_err(MAP_CLOCK))?;
        clock
            .set(0, CLOCK_IN_METADATA, 0)
            .map_err(map_err(MAP_CLOCK))?;
        let flows = FlowTable::new(take(&mut ebpf, MAP_FLOWS)?).map_err(EngineError::Flows)?;
        Ok(KernelEngine {
            ebpf,
            events,
            buf: Vec::new(),
            flows,
            runts: Runts::default(),
        })
    }
}

fn take(ebpf: &mut Ebpf, name: &'static str) -> Result<aya::maps::Map, EngineError> {
    ebpf.take_map(name)
        .ok_or(EngineError::Load(crate::ebpf::LoadError::Missing(name)))
}

impl Engine for KernelEngine {
    fn captured(&mut self, ts_ns: u64, data: &[u8], wire_len: usize) -> Result<(), EngineError> {
        if data.len() < ETH_HLEN {
            if wire_len > data.len() {
                self.runts.truncated += 1;
            } else {
                self.runts.malformed += 1;
            }
            return Ok(());
        }
        let meta = ReplayMeta {
            // No capture is from 1970 to the nanosecond; the user engine does the same.
            ts_ns: ts_ns.max(1),
            // The whole frame's, so a frame longer than the kernel takes is not cut short.
            wire_len: wire_len.max(data.len()) as u64,
        };
        let data = handed(data);
        self.buf.clear();
        self.buf.extend_from_slice(bytemuck::bytes_of(&meta));
        self.buf.extend_from_slice(data);
        let md = XdpMd {
            data: META_LEN,
            data_end: self.buf.len() as u32,
            ..XdpMd::default()
        };
        let opts = TestRunOptions {
            data_in: Some(&self.buf),
            ctx_in: Some(bytemuck::bytes_of(&md)),
            repeat: 1,
            ..Default::default()
        };
        let prog: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_CLASSIFY)
            .and_then(|p| p.try_into().ok())
            .expect("checked when loading");
        let res = prog.test_run(opts).map_err(|source| EngineError::TestRun {
            len: data.len(),
            source,
        })?;
        if res.return_value != XDP_PASS {
            return Err(EngineError::NotPass(res.return_value));
        }
        Ok(())
    }

    fn drain_events(&mut self, out: &mut Vec<Event>) -> Result<(), EngineError> {
        self.events
            .drain_all(|item| event::decode(item, |e| out.push(e)));
        Ok(())
    }

    fn stats(&mut self) -> Result<Stats, EngineError> {
        let map: PerCpuArray<_, Stats> =
            PerCpuArray::try_from(self.ebpf.map(MAP_STATS).ok_or(missing(MAP_STATS))?)
                .map_err(map_err(MAP_STATS))?;
        let mut stats = Stats::default();
        for cpu in map.get(&0, 0).map_err(map_err(MAP_STATS))?.iter() {
            stats.add(cpu);
        }
        stats.frames += self.runts.malformed + self.runts.truncated;
        stats.malformed += self.runts.malformed;
        stats.truncated += self.runts.truncated;
        Ok(stats)
    }

    fn snapshot(&mut self) -> Result<Run, EngineError> {
        let mut run = Run {
            stats: self.stats()?,
            ..Run::default()
        };
        run.flows = self.flows.merged();
        Ok(run)
    }
}

fn missing(name: &'static str) -> EngineError {
    EngineError::Load(crate::ebpf::LoadError::Missing(name))
}
