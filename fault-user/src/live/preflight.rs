//! What `faultd run` checks about the machine before it touches anything: a kernel new
//! enough for the XDP program, and the capabilities loading and attaching it take. Both
//! would otherwise surface later as a verifier log or a bare EPERM/EACCES, which do not
//! say what to change.

use std::ffi::CStr;

/// The XDP program is declared `xdp(frags)` (BPF_F_XDP_HAS_FRAGS) and reads frames with
/// `bpf_xdp_load_bytes` and `bpf_xdp_get_buff_len`: all three came in Linux 5.18. Everything
/// else it uses is older (mappable arrays 5.5, CAP_BPF/CAP_PERFMON 5.8, XDP BPF links 5.9,
/// `bpf_ktime_get_coarse_ns` 5.11).
pub const MIN_KERNEL: (u32, u32) = (5, 18);

/// Capability numbers (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "this kernel is Linux {release}; faultd run needs Linux {}.{} or later (the XDP \
         program reads multi-buffer frames with bpf_xdp_load_bytes, new in 5.18)",
        MIN_KERNEL.0,
        MIN_KERNEL.1
    )]
    KernelTooOld { release: String },
    #[error(
        "this process lacks {}: faultd run needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON \
         (or root); under systemd, AmbientCapabilities= gives them to a non-root user",
        .missing.join(", ")
    )]
    MissingCapabilities { missing: Vec<&'static str> },
}

/// Refuses a kernel older than [`MIN_KERNEL`] and a process without the capabilities
/// `faultd run` uses. A release or capability set faultd cannot read is not refused: the
/// kernel's own answer then decides.
pub fn check() -> Result<(), PreflightError> {
    if let Some(release) = kernel_release()
        && let Some(version) = parse_release(&release)
        && version < MIN_KERNEL
    {
        return Err(PreflightError::KernelTooOld { release });
    }
    let missing = missing_capabilities();
    if !missing.is_empty() {
        return Err(PreflightError::MissingCapabilities { missing });
    }
    Ok(())
}

fn kernel_release() -> Option<String> {
    // SAFETY: uname fills the struct it is given; `u` is zeroed and large enough.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    // SAFETY: uname NUL-terminates `release` within the array.
    let release = unsafe { CStr::from_ptr(u.release.as_ptr()) };
    Some(release.to_string_lossy().into_owned())
}

/// `6.18.44-fc-v1045`, `5.18.0-3-amd64`, `2.6.64` (setarch --uname-2.6): major and minor.
pub fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-', '+', '_']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The capabilities `faultd run` needs that this process does not have in effect, by
/// name; CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, as the kernel lets it.
/// Empty when the set cannot be read.
pub fn missing_capabilities() -> Vec<&'static str> {
    let Some(eff) = effective_capabilities() else {
        return Vec::new();
    };
    missing_from(eff)
}

fn missing_from(eff: u64) -> Vec<&'static str> {
    let has = |cap: u32| eff & (1 << cap) != 0;
    let sys_admin = has(CAP_SYS_ADMIN);
    // CAP_PERFMON: without it the verifier treats the program as unprivileged and refuses
    // its pointer arithmetic on packet and map data.
    [
        (CAP_BPF, "CAP_BPF", sys_admin),
        (CAP_NET_ADMIN, "CAP_NET_ADMIN", false),
        (CAP_PERFMON, "CAP_PERFMON", sys_admin),
    ]
    .into_iter()
    .filter(|&(cap, _, covered)| !has(cap) && !covered)
    .map(|(_, name, _)| name)
    .collect()
}

/// `CapEff` of /proc/self/status: what the kernel checks, whatever the uid.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_parse_to_major_and_minor() {
        assert_eq!(parse_release("6.18.44-fc-v1045"), Some((6, 18)));
        assert_eq!(parse_release("5.18.0-3-amd64"), Some((5, 18)));
        assert_eq!(parse_release("2.6.64"), Some((2, 6)));
        assert_eq!(parse_release("5.4-rc1"), Some((5, 4)));
        assert_eq!(parse_release("weird"), None);
        assert!(parse_release("5.17.15").unwrap() < MIN_KERNEL);
        assert!(parse_release("5.18.0").unwrap() >= MIN_KERNEL);
    }

    #[test]
    fn sys_admin_stands_in_for_bpf_and_perfmon_but_not_net_admin() {
        let bit = |c: u32| 1u64 << c;
        assert!(missing_from(bit(CAP_BPF) | bit(CAP_NET_ADMIN) | bit(CAP_PERFMON)).is_empty());
        assert_eq!(
            missing_from(bit(CAP_NET_ADMIN) | bit(CAP_PERFMON)),
            ["CAP_BPF"]
        );
        assert!(missing_from(bit(CAP_SYS_ADMIN) | bit(CAP_NET_ADMIN)).is_empty());
        assert_eq!(missing_from(bit(CAP_SYS_ADMIN)), ["CAP_NET_ADMIN"]);
        assert_eq!(missing_from(0), ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"]);
    }
}
