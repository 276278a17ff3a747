//! Only here so fault-user can name this crate as a build dependency (cargo needs a
//! library target for that); the program itself is the `fault-ebpf` binary.
#![no_std]
