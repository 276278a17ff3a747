//! faultd's XDP program. It parses every frame with the shared parser
//! (`fault_common::parse`), counts classes in a per-CPU array, accounts watched frames to a
//! flow table, and writes detector events to a per-CPU event queue. It never drops or rewrites
//! traffic: every path returns `XDP_PASS`.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// Inline asm for a register-only optimisation barrier (see `xdp::opaque`).
#![cfg_attr(target_arch = "bpf", feature(asm_experimental_arch))]

#[cfg(target_arch = "bpf")]
mod xdp;

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("fault-ebpf only builds for the BPF target; fault-user's build.rs builds it");
}
