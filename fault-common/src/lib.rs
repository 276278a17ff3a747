//! Shared between faultd's XDP program (`fault-ebpf`) and its daemon (`fault-user`):
//! the map and event layouts, the class table, and the frame parser itself, which both
//! sides run (`parse::classify`), so the kernel and userspace engines cannot disagree.
#![cfg_attr(not(test), no_std)]
// The parser writes a few words with inline assembly in BPF (see `parse`).
#![cfg_attr(target_arch = "bpf", feature(asm_experimental_arch))]

#[cfg(feature = "user")]
extern crate std;

pub mod class;
pub mod event;
pub mod maps;
pub mod parse;
pub mod ports;
pub mod proto;

pub use class::{Class, NUM_CLASSES};
pub use event::Event;
pub use maps::{FlowKey, FlowValue, Stats};
