//! The packet clock's tick. A watched frame needs a time (its flow's last-seen, its
//! events' `ts_ns`); a helper call for it costs ~20 ns a frame on kernels that return
//! through a mitigation thunk, reading a word ~1 ns. So a perf event program writes the
//! kernel's monotonic clock into CLOCK every `TICK_NS`, driven by a CPU clock event on one
//! CPU (the kernel's timer, not this daemon's scheduling), and the XDP program reads it.
//! Where the event cannot be opened (no CAP_PERFMON, a seccomp filter, a kernel without
//! software events), CLOCK stays `CLOCK_CALL` and every watched frame calls the clock.
//!
//! While attachments are kept (`--keep-attached`), a tick is kept with them, pinned as
//! `tick`: a program counting without a daemon still needs the time. Whatever happens,
//! the rule is that nothing leaves CLOCK holding a time that no tick moves on: a run that
//! ends with no tick left behind (refused, or not keeping anything) writes `CLOCK_CALL`.

use std::{fs, io, path::Path, time::Duration};

use aya::{
    maps::{Array, Map, MapData},
    programs::{
        PerfEvent,
        links::FdLink,
        perf_event::{PerfEventConfig, PerfEventLink, PerfEventScope, SamplePolicy, SoftwareEvent},
    },
    util::online_cpus,
};
use fault_common::maps::{CLOCK_CALL, MAP_CLOCK, PROGRAM_TICK, TICK_NS};

/// The tick's link, pinned under this name while attachments are kept.
pub const TICK_PIN: &str = "tick";

/// This run's tick. Dropped without [`Tick::keep`], it stops, and unless a kept tick is
/// still pinned, CLOCK goes back to `CLOCK_CALL`.
pub struct Tick {
    link: Option<PerfEventLink>,
    dir: std::path::PathBuf,
}

impl Tick {
    pub fn period(&self) -> Duration {
        Duration::from_nanos(TICK_NS)
    }

    /// Pins this tick in place of an earlier run's, so it outlives the daemon with the
    /// attachments it serves. Called once the run has started (a refused start keeps the
    /// earlier tick, which the attachments it leaves behind still need).
    pub fn keep(&mut self) -> anyhow::Result<()> {
        let Some(link) = self.link.take() else {
            return Ok(());
        };
        let pin = self.dir.join(TICK_PIN);
        remove(&pin)?;
        // The pin holds the link: the tick outlives this process until the pin goes.
        FdLink::try_from(link)?.pin(&pin)?;
        Ok(())
    }
}

impl Drop for Tick {
    fn drop(&mut self) {
        if self.link.take().is_none() {
            return;
        }
        // This run's tick has stopped. An earlier run's kept tick still moves CLOCK on;
        // without one, frames must call the clock again.
        if !self.dir.join(TICK_PIN).exists() {
            call_clock(&self.dir);
        }
    }
}

/// Starts a tick on the first online CPU, unpinned (see [`Tick::keep`]).
pub fn start(ebpf: &mut aya::Ebpf, dir: &Path) -> anyhow::Result<Tick> {
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
    Ok(Tick {
        link: Some(prog.take_link(id)?),
        dir: dir.to_owned(),
    })
}

/// At the end of a run that keeps nothing: an earlier run's kept tick goes once no kept
/// attachment is left for it to serve, and CLOCK goes back to `CLOCK_CALL`.
pub fn release_unneeded(dir: &Path, kept_links: usize) {
    if kept_links != 0 {
        return;
    }
    let pin = dir.join(TICK_PIN);
    if pin.exists() {
        if let Err(e) = remove(&pin) {
            log::warn!("removing the kept packet clock tick {}: {e}", pin.display());
            return;
        }
        call_clock(dir);
    }
}

/// Writes `CLOCK_CALL` through the pinned CLOCK map.
fn call_clock(dir: &Path) {
    let path = dir.join(MAP_CLOCK);
    let set = MapData::from_pin(&path)
        .map_err(anyhow::Error::from)
        .and_then(|m| Ok(Array::<MapData, u64>::try_from(Map::Array(m))?))
        .and_then(|mut a| Ok(a.set(0, CLOCK_CALL, 0)?));
    if let Err(e) = set {
        log::warn!(
            "the packet clock's tick stopped, and {} could not be reset: {e:#}; frames seen \
             before the next start keep its last time",
            path.display()
        );
    }
}

fn remove(pin: &Path) -> io::Result<()> {
    match fs::remove_file(pin) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
