//! Pins and attachments. State lives in bpffs under `<pin-path>/v<LAYOUT_VERSION>/`: the
//! maps (so a restart, or an upgrade with the same layout, keeps every counter) and, with
//! `--keep-attached`, one link per interface (`link-<mode>-<iface>`), so the program keeps
//! counting while no daemon runs, and the packet clock's tick (`tick`, see `tick.rs`). The layout version in the path means a daemon never
//! opens a map it cannot read.
//!
//! The pin path belongs to one daemon at a time: `faultd run` holds an exclusive `flock`
//! on its directory for its lifetime (bpffs holds no regular files, so the directory
//! itself is the lock), and `faultd detach` takes the same lock. The directory and those
//! between it and the bpffs mount must be faultd's user's and writable by no one else:
//! bpffs is often mounted 1777, and another user's directory would let them remove or
//! swap faultd's pins.

use std::{
    collections::BTreeSet,
    error::Error as StdError,
    ffi::{CString, OsString},
    fs::{self, DirBuilder},
    io,
    os::{
        fd::{AsRawFd as _, OwnedFd},
        unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _},
    },
    path::{Path, PathBuf},
};

use aya::{
    EbpfLoader,
    programs::{
        ProgramError, Xdp, XdpMode,
        links::{FdLink, LinkError, PinnedLink},
        xdp::XdpLink,
    },
};
use fault_common::maps::{
    LAYOUT_VERSION, MAP_CLOCK, MAP_EVENT_BELL, MAP_EVENT_SEQ, MAP_EVENTS, MAP_FLOWS, MAP_STATS,
};

/// `statfs` magic of a BPF file system.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// The maps that are state: counted data and undelivered events. The scratch map is not.
const PINNED_MAPS: [&str; 6] = [
    MAP_STATS,
    MAP_FLOWS,
    MAP_EVENTS,
    MAP_EVENT_SEQ,
    MAP_EVENT_BELL,
    MAP_CLOCK,
];

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ModeArg {
    /// Native (driver) mode, or skb mode with a warning where the driver has no XDP.
    Auto,
    /// Native (driver) mode only.
    Native,
    /// Generic (skb) mode: every driver, slower.
    Skb,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(
        "{} is not on a BPF file system: mount one (mount -t bpf bpf /sys/fs/bpf) or \
         choose another --pin-path",
        .0.display()
    )]
    NotBpffs(PathBuf),
    #[error("no interface named {0:?} (ip link lists them)")]
    UnknownInterface(String),
    #[error(
        "{0} already carries an XDP program that faultd did not attach: detach it first \
         (ip link set dev {0} xdp off), or if it is a faultd attachment kept with \
         --keep-attached under another --pin-path, `faultd detach --pin-path ...`"
    )]
    Busy(String),
    #[error(
        "the driver of {0} has no native XDP: use --xdp-mode skb (or auto, which falls back \
         to skb)"
    )]
    NoNative(String),
    #[error(
        "permission denied attaching to {0}: faultd run needs CAP_BPF, CAP_NET_ADMIN and \
         CAP_PERFMON, or root"
    )]
    Permission(String),
    #[error("--keep-attached needs BPF links (Linux 5.9+); {0} was attached through netlink")]
    NoLink(String),
    #[error("attaching to {iface}: {source}")]
    Attach {
        iface: String,
        #[source]
        source: ProgramError,
    },
    #[error("the link of {iface}: {source}")]
    Link {
        iface: String,
        #[source]
        source: LinkError,
    },
    #[error("{}: {source}", path.display())]
    Pin {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} is in use by another faultd{}: one daemon per pin path; stop that one, or give \
         this one another --pin-path",
        path.display(),
        held_by(*.pid)
    )]
    Locked { path: PathBuf, pid: Option<u32> },
    #[error(
        "{} is in use by a running faultd{}: stop it first, then detach",
        path.display(),
        held_by(*.pid)
    )]
    InUse { path: PathBuf, pid: Option<u32> },
    #[error(
        "{} {why}: another user could remove or replace faultd's pins; remove it (or fix \
         its owner and mode) or choose another --pin-path",
        path.display()
    )]
    Unsafe { path: PathBuf, why: String },
}

fn held_by(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// The pin directory of this layout version.
#[derive(Clone, Debug)]
pub struct Pins {
    root: PathBuf,
    dir: PathBuf,
}

impl Pins {
    pub fn new(root: &Path) -> Self {
        // Absolute, so the directories up to the bpffs mount can be walked.
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
        Pins {
            dir: root.join(format!("v{LAYOUT_VERSION}")),
            root,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the pin path for this daemon: checks it is on bpffs (mounting bpffs on
    /// `/sys/fs/bpf` if nothing is mounted there), that faultd's user owns it and the
    /// directories between it and the mount, creates what is missing, and locks it. The
    /// guard holds the lock; until [`PinGuard::started`], dropping it also removes what
    /// this run pinned or created, so a refused start leaves the pin path as it found it.
    pub fn prepare(&self) -> Result<PinGuard, AttachError> {
        let mut probe = self.root.as_path();
        while !probe.exists() {
            probe = probe.parent().unwrap_or(Path::new("/"));
        }
        if !is_bpffs(probe) {
            // Where systemd has not mounted it (containers, minimal VMs), do what it would.
            let standard = Path::new(BPFFS);
            if !(self.root.starts_with(standard) && mount_bpffs(standard) && is_bpffs(standard)) {
                return Err(AttachError::NotBpffs(self.root.clone()));
            }
            log::info!("mounted a BPF file system on {BPFFS} (mode 0700)");
            probe = standard;
        }
        let mount = mount_point(probe).map_err(|source| AttachError::Pin {
            path: probe.to_owned(),
            source,
        })?;
        // Below the mount, down to the pin path: each checked, or created faultd's own.
        let mut chain: Vec<&Path> = self
            .root
            .ancestors()
            .take_while(|p| *p != mount && p.starts_with(&mount))
            .collect();
        chain.reverse();
        let mut guard = PinGuard {
            lock: None,
            dir: self.dir.clone(),
            created: None,
            found: BTreeSet::new(),
            started: false,
        };
        for d in chain {
            guard.own_dir(d)?;
        }
        // A bounded retry: `faultd detach` may remove the directory between our opening
        // and locking it, and a lock on a removed directory guards nothing.
        for _ in 0..3 {
            let fd = open_dir(&self.root)?;
            if let Err(e) = try_lock(&fd) {
                return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    AttachError::Locked {
                        path: self.root.clone(),
                        pid: lock_holder(&fd),
                    }
                } else {
                    pin_err(&self.root)(e)
                });
            }
            if same_inode(&fd, &self.root) {
                guard.lock = Some(fd);
                break;
            }
            guard.own_dir(&self.root)?;
        }
        if guard.lock.is_none() {
            return Err(pin_err(&self.root)(io::Error::other(
                "removed and created again while faultd was locking it; try again",
            )));
        }
        guard.own_dir(&self.dir)?;
        guard.found = entries(&self.dir).map_err(pin_err(&self.dir))?;
        Ok(guard)
    }

    /// Makes the loader open the pinned maps, or create and pin them the first time.
    pub fn apply(&self, loader: &mut EbpfLoader<'_>) {
        for name in PINNED_MAPS {
            loader.map_pin_path(name, self.dir.join(name));
        }
    }

    /// bpffs refuses names with a dot (reserved), and VLAN interfaces have them; an
    /// interface name never has a colon.
    fn link_path(&self, iface: &str, mode: &str) -> PathBuf {
        self.dir
            .join(format!("link-{mode}-{}", iface.replace('.', ":")))
    }

    /// Attachments kept by earlier runs: `(iface, mode, pin)`.
    pub fn kept_links(&self) -> Vec<(String, &'static str, PathBuf)> {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<_> = dir
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let rest = name.strip_prefix("link-")?;
                let (mode, iface) = rest.split_once('-')?;
                let mode = mode_name(mode)?;
                Some((iface.replace(':', "."), mode, e.path()))
            })
            .collect();
        out.sort();
        out
    }
}

fn mode_name(s: &str) -> Option<&'static str> {
    match s {
        "native" => Some("native"),
        "skb" => Some("skb"),
        _ => None,
    }
}

/// The pin directory, held by this daemon: the lock lives as long as the guard.
pub struct PinGuard {
    /// The pin path's directory, `flock`ed exclusively.
    lock: Option<OwnedFd>,
    /// The layout version's directory.
    dir: PathBuf,
    /// The topmost directory this run created.
    created: Option<PathBuf>,
    /// What `dir` held when the lock was taken.
    found: BTreeSet<OsString>,
    started: bool,
}

impl PinGuard {
    /// The daemon is running: what it pinned is state now, kept when it stops.
    pub fn started(&mut self) {
        self.started = true;
    }

    /// Checks that `d` is faultd's user's and writable by no one else, or creates it so.
    fn own_dir(&mut self, d: &Path) -> Result<(), AttachError> {
        match DirBuilder::new().mode(0o700).create(d) {
            Ok(()) => {
                self.created.get_or_insert_with(|| d.to_owned());
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => check_owned(d),
            Err(e) => Err(pin_err(d)(e)),
        }
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        if self.started {
            return;
        }
        // Only under the lock may anything in the directory go: without it, it is another
        // daemon's.
        if self.lock.is_some()
            && let Ok(now) = entries(&self.dir)
        {
            for name in now.difference(&self.found) {
                let _ = fs::remove_file(self.dir.join(name));
            }
        }
        if let Some(top) = &self.created {
            // Bottom up; remove_dir leaves a directory someone else has filled since.
            for d in self.dir.ancestors() {
                match fs::remove_dir(d) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => break,
                    _ if d == top => break,
                    _ => {}
                }
            }
        }
    }
}

fn pin_err(path: &Path) -> impl FnOnce(io::Error) -> AttachError {
    let path = path.to_owned();
    move |source| AttachError::Pin { path, source }
}

/// Refuses a directory another user owns or may write to (or a symbolic link, which
/// could lead anywhere).
fn check_owned(d: &Path) -> Result<(), AttachError> {
    let md = fs::symlink_metadata(d).map_err(pin_err(d))?;
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let why = if !md.is_dir() {
        "is not a directory".to_owned()
    } else if md.uid() != euid {
        format!(
            "is owned by uid {}, not by faultd's user (uid {euid})",
            md.uid()
        )
    } else if md.mode() & 0o022 != 0 {
        format!(
            "is writable by its group or others (mode {:o})",
            md.mode() & 0o7777
        )
    } else {
        return Ok(());
    };
    Err(AttachError::Unsafe {
        path: d.to_owned(),
        why,
    })
}

fn entries(d: &Path) -> io::Result<BTreeSet<OsString>> {
    fs::read_dir(d)?.map(|e| e.map(|e| e.file_name())).collect()
}

/// The top of the file system `path` is on: its highest ancestor on the same device.
fn mount_point(path: &Path) -> io::Result<PathBuf> {
    let path = std::path::absolute(path)?;
    let dev = fs::metadata(&path)?.dev();
    let mut top = path.as_path();
    while let Some(parent) = top.parent()
        && fs::metadata(parent)?.dev() == dev
    {
        top = parent;
    }
    Ok(top.to_owned())
}

fn open_dir(d: &Path) -> Result<OwnedFd, AttachError> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(d)
        .map(OwnedFd::from)
        .map_err(pin_err(d))
}

/// An exclusive `flock`, without waiting.
fn try_lock(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: flock on a descriptor `fd` keeps open.
    if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn same_inode(fd: &OwnedFd, path: &Path) -> bool {
    let Ok(held) = fd
        .try_clone()
        .map(fs::File::from)
        .and_then(|f| f.metadata())
    else {
        return false;
    };
    fs::symlink_metadata(path).is_ok_and(|now| now.dev() == held.dev() && now.ino() == held.ino())
}

/// The process holding the `flock` on `fd`'s file, from `/proc/locks` (flock has no call
/// that says).
fn lock_holder(fd: &OwnedFd) -> Option<u32> {
    let md = fd.try_clone().map(fs::File::from).ok()?.metadata().ok()?;
    let (major, minor) = (libc::major(md.dev()), libc::minor(md.dev()));
    holder_in(
        &fs::read_to_string("/proc/locks").ok()?,
        major,
        minor,
        md.ino(),
    )
}

/// `/proc/locks` lines read `1: FLOCK  ADVISORY  WRITE 4242 00:29:437487 0 EOF` (the
/// device in hex); a waiter's line has `->` after the number.
fn holder_in(locks: &str, major: u32, minor: u32, ino: u64) -> Option<u32> {
    locks.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) != Some(&"FLOCK") {
            return None;
        }
        let (pid, file) = (f.get(4)?, f.get(5)?);
        let mut parts = file.split(':');
        let maj = u32::from_str_radix(parts.next()?, 16).ok()?;
        let min = u32::from_str_radix(parts.next()?, 16).ok()?;
        let i: u64 = parts.next()?.parse().ok()?;
        ((maj, min, i) == (major, minor, ino))
            .then(|| pid.parse().ok())
            .flatten()
    })
}

const BPFFS: &str = "/sys/fs/bpf";

fn mount_bpffs(at: &Path) -> bool {
    let Ok(target) = CString::new(at.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: NUL-terminated strings that outlive the call.
    unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            target.as_ptr(),
            c"bpf".as_ptr(),
            0,
            // Root's alone: mounted 1777 (as some distributions do), any user could
            // create the pin directory first.
            c"mode=0700".as_ptr().cast(),
        ) == 0
    }
}

fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes only into `st`, which is large enough; `c` is NUL-terminated.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC
    }
}

/// aya's pin errors name the syscall; the OS error under it says what went wrong.
fn as_io(e: &(dyn StdError + 'static)) -> io::Error {
    match errno(e) {
        Some(n) => io::Error::from_raw_os_error(n),
        None => io::Error::other(e.to_string()),
    }
}

/// The OS error somewhere in an error's chain.
pub fn errno(e: &(dyn StdError + 'static)) -> Option<i32> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && let Some(n) = io.raw_os_error()
        {
            return Some(n);
        }
        if let Some(nl) = e.downcast_ref::<aya::sys::NetlinkError>()
            && let Some(n) = nl.raw_os_error()
        {
            return Some(n);
        }
        cur = e.source();
    }
    None
}

/// One interface's attachment, owned by this process.
pub struct Attachment {
    pub iface: String,
    /// The interface's index when attached: an interface of the same name made later has
    /// another.
    pub ifindex: u32,
    pub mode: &'static str,
    /// Whether the attachment was kept from an earlier run (the program was swapped in).
    pub reused: bool,
    link: Option<XdpLink>,
    pin: Option<PathBuf>,
}

impl Attachment {
    /// Ends the attachment: unless `keep`, the interface is left without faultd's program.
    pub fn release(mut self, keep: bool) -> io::Result<()> {
        let result = match (&self.pin, keep) {
            (Some(pin), false) => fs::remove_file(pin),
            _ => Ok(()),
        };
        // Dropping the link closes our descriptor; with the pin gone that detaches.
        drop(self.link.take());
        result
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // An attachment dropped without `release` (an error part-way through start-up)
        // must not leave a kept link this run created.
        if self.link.is_some()
            && !self.reused
            && let Some(pin) = &self.pin
        {
            let _ = fs::remove_file(pin);
        }
    }
}

/// The index of the interface named `iface` now, if there is one.
pub fn ifindex(iface: &str) -> Option<u32> {
    let c = CString::new(iface).ok()?;
    // SAFETY: a NUL-terminated name; the call reads nothing else.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// Checks every interface exists before anything is loaded or pinned.
pub fn check_interfaces(ifaces: &[String]) -> Result<(), AttachError> {
    match ifaces.iter().find(|i| ifindex(i).is_none()) {
        Some(bad) => Err(AttachError::UnknownInterface(bad.clone())),
        None => Ok(()),
    }
}

/// Attaches `prog` to `iface`: takes over the attachment an earlier run kept there (the
/// program is swapped atomically, no frame goes uncounted), or attaches anew in `mode`.
pub fn attach(
    prog: &mut Xdp,
    iface: &str,
    mode: ModeArg,
    pins: &Pins,
    keep: bool,
) -> Result<Attachment, AttachError> {
    let index = ifindex(iface).ok_or_else(|| AttachError::UnknownInterface(iface.to_owned()))?;
    if let Some((_, kept_mode, pin)) = pins.kept_links().into_iter().find(|(i, ..)| i == iface) {
        return reuse(prog, iface, index, kept_mode, pin);
    }
    let tries: &[(XdpMode, &'static str)] = match mode {
        ModeArg::Auto => &[(XdpMode::Driver, "native"), (XdpMode::Skb, "skb")],
        ModeArg::Native => &[(XdpMode::Driver, "native")],
        ModeArg::Skb => &[(XdpMode::Skb, "skb")],
    };
    let mut last = None;
    for &(xdp_mode, name) in tries {
        match prog.attach(iface, xdp_mode) {
            Ok(id) => {
                let link = prog.take_link(id).map_err(|source| AttachError::Attach {
                    iface: iface.to_owned(),
                    source,
                })?;
                let mut att = Attachment {
                    iface: iface.to_owned(),
                    ifindex: index,
                    mode: name,
                    reused: false,
                    link: Some(link),
                    pin: None,
                };
                if keep {
                    pin_link(&mut att, pins.link_path(iface, name))?;
                }
                return Ok(att);
            }
            Err(source) => {
                let err = classify(iface, source);
                match (&err, mode) {
                    (AttachError::NoNative(_), ModeArg::Auto) => {
                        log::warn!(
                            "{iface}: the driver has no native XDP; attaching in skb mode \
                             (slower; faultd_xdp_attached shows mode=\"skb\")"
                        );
                        last = Some(err);
                    }
                    _ => return Err(err),
                }
            }
        }
    }
    Err(last.expect("at least one mode tried"))
}

fn classify(iface: &str, source: ProgramError) -> AttachError {
    let iface = iface.to_owned();
    if let ProgramError::UnknownInterface { .. } = source {
        return AttachError::UnknownInterface(iface);
    }
    match errno(&source) {
        Some(libc::EOPNOTSUPP) => AttachError::NoNative(iface),
        Some(libc::EBUSY | libc::EEXIST) => AttachError::Busy(iface),
        Some(libc::EPERM | libc::EACCES) => AttachError::Permission(iface),
        Some(libc::ENODEV) => AttachError::UnknownInterface(iface),
        _ => AttachError::Attach { iface, source },
    }
}

fn pin_link(att: &mut Attachment, path: PathBuf) -> Result<(), AttachError> {
    let link = att.link.take().expect("a fresh attachment");
    let fd = FdLink::try_from(link).map_err(|_| AttachError::NoLink(att.iface.clone()))?;
    let pinned = fd.pin(&path).map_err(|e| AttachError::Pin {
        path: path.clone(),
        source: as_io(&e),
    })?;
    let link = XdpLink::try_from(FdLink::from(pinned)).map_err(|source| AttachError::Link {
        iface: att.iface.clone(),
        source,
    })?;
    att.link = Some(link);
    att.pin = Some(path);
    Ok(())
}

fn reuse(
    prog: &mut Xdp,
    iface: &str,
    ifindex: u32,
    mode: &'static str,
    pin: PathBuf,
) -> Result<Attachment, AttachError> {
    let attach_err = |source| AttachError::Attach {
        iface: iface.to_owned(),
        source,
    };
    let pinned = PinnedLink::from_pin(&pin).map_err(|e| AttachError::Pin {
        path: pin.clone(),
        source: as_io(&e),
    })?;
    let link = XdpLink::try_from(FdLink::from(pinned)).map_err(|source| AttachError::Link {
        iface: iface.to_owned(),
        source,
    })?;
    let id = prog.attach_to_link(link).map_err(attach_err)?;
    let link = prog.take_link(id).map_err(attach_err)?;
    log::info!("{iface}: took over the attachment kept by an earlier run ({mode} mode)");
    Ok(Attachment {
        iface: iface.to_owned(),
        ifindex,
        mode,
        reused: true,
        link: Some(link),
        pin: Some(pin),
    })
}

/// `faultd detach`: removes every kept attachment and every pinned map under `root`
/// (all layout versions). Returns what it removed.
pub fn detach_all(root: &Path) -> Result<Vec<PathBuf>, AttachError> {
    let mut removed = Vec::new();
    if !root.exists() {
        return Ok(removed);
    }
    // Held until everything is removed: a daemon cannot start on a half-removed path.
    let lock = open_dir(root)?;
    if let Err(e) = try_lock(&lock) {
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            AttachError::InUse {
                path: root.to_owned(),
                pid: lock_holder(&lock),
            }
        } else {
            pin_err(root)(e)
        });
    }
    let versions = fs::read_dir(root).map_err(pin_err(root))?;
    for v in versions.flatten() {
        let vdir = v.path();
        let name = v.file_name();
        if !vdir.is_dir() || !name.to_string_lossy().starts_with('v') {
            continue;
        }
        let mut entries: Vec<PathBuf> = fs::read_dir(&vdir)
            .map_err(pin_err(&vdir))?
            .flatten()
            .map(|e| e.path())
            .collect();
        // Links first: the program stops before its maps go.
        entries.sort_by_key(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("link-"))
        });
        for p in entries {
            fs::remove_file(&p).map_err(pin_err(&p))?;
            removed.push(p);
        }
        fs::remove_dir(&vdir).map_err(pin_err(&vdir))?;
    }
    let _ = fs::remove_dir(root);
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_holder_is_read_from_proc_locks() {
        let locks = "1: POSIX  ADVISORY  WRITE 77 fe:00:437487 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 00:29:437487 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 4343 00:29:437487 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 99 00:29:5 0 EOF\n";
        assert_eq!(holder_in(locks, 0, 0x29, 437_487), Some(4242));
        assert_eq!(holder_in(locks, 0, 0x29, 5), Some(99));
        assert_eq!(
            holder_in(locks, 0xfe, 0, 437_487),
            None,
            "POSIX locks are not ours"
        );
        assert_eq!(holder_in(locks, 0, 0x2a, 437_487), None);
    }
}
