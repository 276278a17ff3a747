//! The XDP program's flow table, read in place: the map is created mappable
//! (`BPF_F_MMAPABLE`), so reading every slot is a scan of shared memory, not a system call
//! per bucket (about 1 ms instead of 50 for 32,768 buckets).

pub mod view;

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
};

use aya::maps::{Map, MapData, PerCpuArray};
use fault_common::{
    FlowKey, FlowValue, Stats,
    maps::{FLOW_WAYS, FlowBucket, FlowSlot, LAYOUT_VERSION, MAP_FLOWS, MAP_STATS},
};

use crate::mapped::Mapped;

pub struct FlowTable {
    buckets: Mapped<FlowBucket>,
}

impl FlowTable {
    pub fn new(map: Map) -> io::Result<FlowTable> {
        Ok(FlowTable {
            buckets: Mapped::new(map, "the flow table", libc::PROT_READ)?,
        })
    }

    /// Every slot in use. The program may be writing one as it is read: a slot is copied
    /// whole, but can mix an old and a new flow's words, as a copy read by a system call can.
    pub fn slots(&self) -> impl Iterator<Item = FlowSlot> + '_ {
        let base = self.buckets.as_ptr().cast::<FlowSlot>();
        (0..self.buckets.len() * FLOW_WAYS)
            // SAFETY: in the mapping, aligned (the kernel maps from a page boundary and a
            // bucket is a whole number of 8-byte words).
            .map(move |i| unsafe { std::ptr::read_volatile(base.add(i)) })
            .filter(|s| s.value.packets != 0)
    }

    /// The flows, each CPU's copy merged into one.
    pub fn merged(&self) -> BTreeMap<FlowKey, FlowValue> {
        let mut flows: BTreeMap<FlowKey, FlowValue> = BTreeMap::new();
        for s in self.slots() {
            flows.entry(s.key).or_default().merge(&s.value);
        }
        flows
    }

    /// Distinct flows (one seen on two CPUs has a slot in each region).
    pub fn count(&self) -> u64 {
        self.slots()
            .map(|s| s.key)
            .collect::<std::collections::HashSet<_>>()
            .len() as u64
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PinnedError {
    #[error(
        "nothing is pinned under {}: no faultd runs with this --pin-path, and none left its \
         program attached (faultd run --keep-attached)",
        .0.display()
    )]
    NotPinned(PathBuf),
    #[error("{}: permission denied: reading faultd's maps needs root or CAP_BPF", .0.display())]
    Permission(PathBuf),
    #[error("{}: {source}", path.display())]
    Map {
        path: PathBuf,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("mapping the flow table: {0}")]
    Mmap(#[source] io::Error),
}

/// The flows and counters of the maps pinned under `<pin_path>/v<LAYOUT_VERSION>/`, by a
/// running daemon or by a program kept attached without one. Read in place; nothing is
/// written.
pub fn read_pinned(pin_path: &Path) -> Result<(BTreeMap<FlowKey, FlowValue>, Stats), PinnedError> {
    let dir = pin_path.join(format!("v{LAYOUT_VERSION}"));
    let open = |name: &str| -> Result<Map, PinnedError> {
        let path = dir.join(name);
        if !path.exists() {
            return Err(PinnedError::NotPinned(pin_path.to_owned()));
        }
        let denied = |e: &aya::maps::MapError| {
            crate::live::attach::errno(e).is_some_and(|n| n == libc::EPERM || n == libc::EACCES)
        };
        MapData::from_pin(&path)
            .and_then(Map::from_map_data)
            .map_err(|source| {
                if denied(&source) {
                    PinnedError::Permission(path.clone())
                } else {
                    PinnedError::Map {
                        path: path.clone(),
                        source,
                    }
                }
            })
    };
    let stats_map = open(MAP_STATS)?;
    let flows = FlowTable::new(open(MAP_FLOWS)?).map_err(PinnedError::Mmap)?;
    let stats_map: PerCpuArray<_, Stats> =
        PerCpuArray::try_from(stats_map).map_err(|source| PinnedError::Map {
            path: dir.join(MAP_STATS),
            source,
        })?;
    let mut stats = Stats::default();
    let per_cpu = stats_map.get(&0, 0).map_err(|source| PinnedError::Map {
        path: dir.join(MAP_STATS),
        source,
    })?;
    for cpu in per_cpu.iter() {
        stats.add(cpu);
    }
    Ok((flows.merged(), stats))
}
