//! faultd's userspace: capture reading, the offline engines (the XDP program through
//! BPF_PROG_TEST_RUN, or its parser in userspace), and how results are shown.

pub mod bench;
pub mod capture;
pub mod config;
pub mod detect;
pub mod ebpf;
pub mod engine;
pub mod explain;
pub mod faultlog;
pub mod flows;
pub mod live;
mod mapped;
pub mod metrics;
pub mod names;
pub mod progress;
pub mod queue;
pub mod render;
pub mod settings;
