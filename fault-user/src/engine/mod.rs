//! Offline engines: run captured frames through the classifier. `kernel` runs the real XDP
//! program with BPF_PROG_TEST_RUN; `user` runs the same parser compiled for userspace. Both
//! produce the same [`Run`], which is what lets the tests hold them to each other.

pub mod kernel;
pub mod user;

use std::collections::BTreeMap;

use fault_common::{Event, FlowKey, FlowValue, Stats};

/// `BPF_PROG_TEST_RUN` puts at most this much of a frame in the XDP buffer's linear part
/// (a page less the headroom and `skb_shared_info`); the rest goes to fragments the
/// parser does not read. The user engine shows the parser the same prefix.
pub const LINEAR_MAX: usize = 4096 - 256 - 320;

/// The most of a frame BPF_PROG_TEST_RUN takes for an XDP program with frags: the linear
/// part and 17 fragment pages (MAX_SKB_FRAGS: the kernel's default, and the least
/// CONFIG_MAX_SKB_FRAGS allows). Measured on Linux 6.18: 73,152 bytes run, one more fails
/// with ENOMEM. Live, the NIC's MTU bounds frames far below it.
pub const TEST_RUN_MAX: usize = LINEAR_MAX + 17 * 4096;

/// The part of a frame the kernel engine hands to BPF_PROG_TEST_RUN; the wire length goes
/// beside it, as XDP metadata. Both engines count this part's length as the frame's (in
/// events' `frame_len` and flows' bytes), as the XDP program reads it from the buffer.
pub fn handed(frame: &[u8]) -> &[u8] {
    &frame[..frame.len().min(TEST_RUN_MAX)]
}

/// XDP_PASS: the only verdict the program may give.
pub const XDP_PASS: u32 = 2;

/// Everything a capture produced: counters summed over CPUs, flows merged over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub stats: Stats,
    pub flows: BTreeMap<FlowKey, FlowValue>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Load(#[from] crate::ebpf::LoadError),
    #[error("reading map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("BPF_PROG_TEST_RUN failed on a {len}-byte frame: {source}")]
    TestRun {
        len: usize,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("the XDP program returned {0} instead of XDP_PASS: it must never drop traffic")]
    NotPass(u32),
    #[error("mapping the flow table: {0}")]
    Flows(#[source] std::io::Error),
    #[error("mapping the event queue: {0}")]
    Queue(#[source] std::io::Error),
}

pub trait Engine {
    /// Classifies one frame captured at `ts_ns`, whose length on the wire was `wire_len`
    /// (more than `data` holds when the capture cut it short).
    fn captured(&mut self, ts_ns: u64, data: &[u8], wire_len: usize) -> Result<(), EngineError>;
    /// Classifies one whole frame captured at `ts_ns`.
    fn frame(&mut self, ts_ns: u64, data: &[u8]) -> Result<(), EngineError> {
        self.captured(ts_ns, data, data.len())
    }
    /// Moves the events produced so far, in order, to `out`.
    fn drain_events(&mut self, out: &mut Vec<Event>) -> Result<(), EngineError>;
    /// The counters after every frame so far (cheap: no flow-map walk).
    fn stats(&mut self) -> Result<Stats, EngineError>;
    /// The counters and flows after every frame so far.
    fn snapshot(&mut self) -> Result<Run, EngineError>;
}

/// Which engine to run, as chosen on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// The XDP program itself, through BPF_PROG_TEST_RUN (root or CAP_BPF).
    Kernel,
    /// The same parser compiled for userspace (no privilege).
    User,
}

pub fn open(kind: EngineKind) -> Result<Box<dyn Engine>, EngineError> {
    Ok(match kind {
        EngineKind::Kernel => Box::new(kernel::KernelEngine::new()?),
        EngineKind::User => Box::new(user::UserEngine::default()),
    })
}
