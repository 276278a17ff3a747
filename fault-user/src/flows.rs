//! The XDP program's flow table, read in place: the map is created mappable
//! (`BPF_F_MMAPABLE`), so reading every slot is a scan of shared memory, not a system call
//! per bucket (about 1 ms instead of 50 for 32,768 buckets).

use std::{
    collections::BTreeMap,
    io,
    os::fd::{AsFd as _, AsRawFd as _},
    ptr::NonNull,
};

use aya::maps::{Map, MapData};
use fault_common::{
    FlowKey, FlowValue,
    maps::{FLOW_WAYS, FlowBucket, FlowSlot},
};

pub struct FlowTable {
    /// Keeps the map alive as long as the mapping.
    _map: MapData,
    base: NonNull<FlowSlot>,
    slots: usize,
    bytes: usize,
}

// SAFETY: the mapping is read-only and owned by this value; reads are volatile copies.
unsafe impl Send for FlowTable {}

impl FlowTable {
    pub fn new(map: Map) -> io::Result<FlowTable> {
        let Map::Array(data) = map else {
            return Err(io::Error::other("the flow table is not an array map"));
        };
        let buckets = data.info().map_err(io::Error::other)?.max_entries() as usize;
        let bytes = buckets * size_of::<FlowBucket>();
        // SAFETY: a read-only shared mapping of the map's own fd, of the map's size.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ,
                libc::MAP_SHARED,
                data.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(FlowTable {
            _map: data,
            base: NonNull::new(p.cast()).expect("mmap succeeded"),
            slots: buckets * FLOW_WAYS,
            bytes,
        })
    }

    /// Every slot in use. The program may be writing one as it is read: a slot is copied
    /// whole, but can mix an old and a new flow's words, as a copy read by a system call can.
    pub fn slots(&self) -> impl Iterator<Item = FlowSlot> + '_ {
        (0..self.slots)
            // SAFETY: in the mapping, aligned (the kernel maps from a page boundary and a
            // bucket is a whole number of 8-byte words).
            .map(|i| unsafe { std::ptr::read_volatile(self.base.as_ptr().add(i)) })
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

impl Drop for FlowTable {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.bytes) };
    }
}
