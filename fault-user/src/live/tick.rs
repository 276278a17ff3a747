//! The packet clock's tick. A watched frame needs a time (its flow's last-seen, its
//! events' `ts_ns`); a helper call for it costs ~20 ns a frame on kernels that return
//! through a mitigation thunk, reading a word ~1 ns. So a perf event program writes the
//! kernel's monotonic clock into CLOCK every `TICK_NS`, driven by a CPU clock event on one
//! CPU (the kernel's timer, not this daemon's scheduling), and the XDP program reads it.
//! Where the event cannot be opened (no CAP_PERFMON, a seccomp filter, a kernel without
//! software events), CLOCK stays `CLOCK_CALL` and every watched frame calls the clock.

use std::{fs, io, path::Path, time::Duration};

use aya::{
    Ebpf,
    programs::{
        PerfEvent,
        links::FdLink,
        perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent},
    },
    util::online_cpus,
};
use fault_common::maps::{PROGRAM_TICK, TICK_NS};

/// The tick's link, pinned under this name while attachments are kept, so frames the
/// program goes on seeing without a daemon still get their time.
pub const TICK_PIN: &str = "tick";

/// Starts the tick on the first online CPU and returns its period. With `keep`, its
/// link is pinned at `dir/tick`; an earlier run's kept tick is replaced either way (it
/// writes the same pinned CLOCK until then, so no frame goes without a time).
pub fn start(ebpf: &mut Ebpf, dir: &Path, keep: bool) -> anyhow::Result<Duration> {
    let prog: &mut PerfEvent = ebpf
        .program_mut(PROGRAM_TICK)
        .ok_or_else(|| anyhow::anyhow!("the object has no {PROGRAM_TICK} program"))?
        .try_into()?;
    prog.load()?;
    let cpu = *online_cpus()
        .map_err(|(_, e)| e)?
        .first()
        .ok_or_else(|| anyhow::anyhow!("no online CPU"))?;
    let id = prog.attach(
        PerfEventConfig::Software(SoftwareEvent::CpuClock),
        PerfEventScope::AllProcessesOneCpu { cpu },
        SamplePolicy::Period(TICK_NS),
        false,
    )?;
    let pin = dir.join(TICK_PIN);
    remove_kept(&pin)?;
    if keep {
        let link = FdLink::try_from(prog.take_link(id)?)?;
        // The pin holds the link: the tick outlives this process until the pin goes.
        link.pin(&pin)?;
    }
    Ok(Duration::from_nanos(TICK_NS))
}

/// Removes an earlier run's kept tick (its link stops with its last reference).
fn remove_kept(pin: &Path) -> io::Result<()> {
    match fs::remove_file(pin) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
