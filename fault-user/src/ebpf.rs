//! The XDP object embedded in this binary, and loading it into the kernel.

use aya::{Ebpf, EbpfLoader, programs::Xdp};
use fault_common::maps::{FLOW_BUCKETS, MAP_EVENTS, MAP_FLOWS, PROGRAM_CLASSIFY};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/fault-ebpf"));

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "this faultd was built with AYA_BUILD_SKIP=1 and carries no XDP program: rebuild it \
         without (cargo xtask build), or use --engine user"
    )]
    NoObject,
    #[error(
        "permission denied loading the XDP program{}: faultd run and the kernel engine need \
         CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, or root (offline, --engine user needs no \
         privilege)",
        lacking()
    )]
    Permission,
    #[error("loading the XDP object: {0}")]
    Object(#[source] aya::EbpfError),
    #[error("the kernel rejected the XDP program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("the XDP object has no {0}: it does not match this faultd")]
    Missing(&'static str),
}

/// Which capabilities this process lacks, for the message: the kernel's EPERM does not say.
/// With all three, the likely refuser is a seccomp filter: a container runtime's default
/// profile that allows bpf() only with CAP_SYS_ADMIN (Docker's before 23, containerd's
/// before 1.7, podman's as Debian 12 ships it).
fn lacking() -> String {
    let missing = crate::live::preflight::missing_capabilities();
    if !missing.is_empty() {
        format!(" (this process lacks {})", missing.join(", "))
    } else if seccomp_filtered() {
        " (this process has the capabilities, but a seccomp filter is active: a container \
         runtime's default profile may allow bpf() only with CAP_SYS_ADMIN, as Docker's \
         before 23, containerd's before 1.7 and podman's in Debian 12 do; give the \
         container a profile that allows bpf and perf_event_open)"
            .into()
    } else {
        String::new()
    }
}

/// Whether a seccomp filter applies to this process (`Seccomp: 2` in /proc/self/status).
fn seccomp_filtered() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.strip_prefix("Seccomp:").is_some_and(|v| v.trim() == "2"))
    })
}

/// EPERM, or the verifier's EACCES when a capability is missing: without CAP_PERFMON it
/// refuses the program's pointer arithmetic as it would an unprivileged user's.
fn is_eperm(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.raw_os_error() {
                Some(libc::EPERM) => return true,
                Some(libc::EACCES) => {
                    return !crate::live::preflight::missing_capabilities().is_empty();
                }
                _ => {}
            }
        }
        cur = e.source();
    }
    false
}

/// This build's XDP object, as embedded.
pub fn object() -> &'static [u8] {
    OBJECT
}

/// Parses the object and loads the classifier into the kernel (not attached), with maps
/// of its own.
pub fn load() -> Result<Ebpf, LoadError> {
    load_with(&mut EbpfLoader::new())
}

/// As [`load`], through a loader the caller set up (the daemon's pinned maps).
pub fn load_with(loader: &mut EbpfLoader<'_>) -> Result<Ebpf, LoadError> {
    if OBJECT.is_empty() {
        return Err(LoadError::NoObject);
    }
    let mut ebpf = load_object(loader, OBJECT)?;
    load_program(&mut ebpf, PROGRAM_CLASSIFY)?;
    Ok(ebpf)
}

/// The CPUs this machine can have: the flow table and the event queue have a region for
/// each.
pub fn possible_cpus() -> u32 {
    aya::util::nr_cpus().map_or(1, |n| n.max(1)) as u32
}

/// Creates an object's maps (no program loaded yet), the flow table and the event queue
/// with a region for every CPU this machine can have.
pub fn load_object(loader: &mut EbpfLoader<'_>, object: &[u8]) -> Result<Ebpf, LoadError> {
    load_object_sized(loader.map_max_entries(MAP_EVENTS, possible_cpus()), object)
}

/// As [`load_object`], for an older build's object whose events go through a ring buffer
/// (`faultd bench --against`): sized as [`load_object`] sizes the queue, the ring would
/// shrink to a page.
pub fn load_ring_object(loader: &mut EbpfLoader<'_>, object: &[u8]) -> Result<Ebpf, LoadError> {
    load_object_sized(loader, object)
}

fn load_object_sized(loader: &mut EbpfLoader<'_>, object: &[u8]) -> Result<Ebpf, LoadError> {
    loader
        .map_max_entries(MAP_FLOWS, possible_cpus() * FLOW_BUCKETS)
        .load(object)
        .map_err(|e| {
            if is_eperm(&e) {
                LoadError::Permission
            } else {
                LoadError::Object(e)
            }
        })
}

/// Loads one more XDP program of the object (the classifier is loaded by [`load`]).
pub fn load_program(ebpf: &mut Ebpf, name: &'static str) -> Result<(), LoadError> {
    let program = |source| LoadError::Program { name, source };
    let prog: &mut Xdp = ebpf
        .program_mut(name)
        .ok_or(LoadError::Missing(name))?
        .try_into()
        .map_err(program)?;
    prog.load().map_err(|e| {
        if is_eperm(&e) {
            LoadError::Permission
        } else {
            program(e)
        }
    })
}
