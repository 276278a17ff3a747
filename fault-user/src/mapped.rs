//! A BPF array map created mappable (`BPF_F_MMAPABLE`), read in place through a shared
//! mapping of its fd: the flow table and the event queue.

use std::{
    io,
    os::fd::{AsFd as _, AsRawFd as _},
    ptr::NonNull,
};

use aya::maps::{Map, MapData};

/// The map's `len` values of type `T`, mapped. Keeps the map alive as long as the mapping.
pub(crate) struct Mapped<T> {
    _map: MapData,
    base: NonNull<T>,
    len: usize,
    bytes: usize,
}

// SAFETY: the mapping is owned by this value (unmapped once, on drop) and is plain
// shared memory; what may be read or written through it, and how, is its users' contract
// with the XDP program.
unsafe impl<T> Send for Mapped<T> {}

impl<T> Mapped<T> {
    /// Maps `map` (`what` names it in errors) with `prot`; refused when its values are not
    /// `T`'s size (another build's map).
    pub(crate) fn new(map: Map, what: &str, prot: libc::c_int) -> io::Result<Mapped<T>> {
        let Map::Array(data) = map else {
            return Err(io::Error::other(format!("{what} is not an array map")));
        };
        let info = data.info().map_err(io::Error::other)?;
        if info.value_size() as usize != size_of::<T>() {
            return Err(io::Error::other(format!(
                "{what} has {}-byte values, not the {} this build reads: another build's map",
                info.value_size(),
                size_of::<T>()
            )));
        }
        let len = info.max_entries() as usize;
        let bytes = len * size_of::<T>();
        // SAFETY: a shared mapping of the map's own fd, of the map's size.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                prot,
                libc::MAP_SHARED,
                data.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapped {
            _map: data,
            base: NonNull::new(p.cast()).expect("mmap succeeded"),
            len,
            bytes,
        })
    }

    /// How many values the map holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The first value (page-aligned); the map's values follow without gaps.
    pub(crate) fn as_ptr(&self) -> *mut T {
        self.base.as_ptr()
    }
}

impl<T> Drop for Mapped<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.bytes) };
    }
}
