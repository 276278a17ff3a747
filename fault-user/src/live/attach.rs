//! Pins and attachments. State lives in bpffs under `<pin-path>/v<LAYOUT_VERSION>/`: the
//! maps (so a restart, or an upgrade with the same layout, keeps every counter) and, with
//! `--keep-attached`, one link per interface (`link-<mode>-<iface>`), so the program keeps
//! counting while no daemon runs. The layout version in the path means a daemon never
//! opens a map it cannot read.

use std::{
    error::Error as StdError,
    ffi::CString,
    fs, io,
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
use fault_common::maps::{LAYOUT_VERSION, MAP_CLOCK, MAP_EVENTS, MAP_FLOWS, MAP_STATS};

/// `statfs` magic of a BPF file system.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// The maps that are state: counted data and undelivered events. The scratch map is not.
const PINNED_MAPS: [&str; 4] = [MAP_STATS, MAP_FLOWS, MAP_EVENTS, MAP_CLOCK];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
    #[error("permission denied attaching to {0}: faultd run needs root or CAP_BPF + CAP_NET_ADMIN")]
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
}

/// The pin directory of this layout version.
#[derive(Clone, Debug)]
pub struct Pins {
    root: PathBuf,
    dir: PathBuf,
}

impl Pins {
    pub fn new(root: &Path) -> Self {
        Pins {
            root: root.to_owned(),
            dir: root.join(format!("v{LAYOUT_VERSION}")),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks the root is on bpffs (creating it there if needed): pinning anywhere else
    /// fails with an error that does not say why.
    pub fn prepare(&self) -> Result<(), AttachError> {
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
            log::info!("mounted a BPF file system on {BPFFS}");
        }
        fs::create_dir_all(&self.dir).map_err(|source| AttachError::Pin {
            path: self.dir.clone(),
            source,
        })
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

const BPFFS: &str = "/sys/fs/bpf";

fn mount_bpffs(at: &Path) -> bool {
    let Ok(target) = CString::new(at.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: NUL-terminated strings that outlive the call; no data argument.
    unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            target.as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
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

fn interface_exists(iface: &str) -> bool {
    let Ok(c) = CString::new(iface) else {
        return false;
    };
    // SAFETY: a NUL-terminated name; the call reads nothing else.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

/// Checks every interface exists before anything is loaded or pinned.
pub fn check_interfaces(ifaces: &[String]) -> Result<(), AttachError> {
    match ifaces.iter().find(|i| !interface_exists(i)) {
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
    if let Some((_, kept_mode, pin)) = pins.kept_links().into_iter().find(|(i, ..)| i == iface) {
        return reuse(prog, iface, kept_mode, pin);
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
    let Ok(versions) = fs::read_dir(root) else {
        return Ok(removed);
    };
    let pin_err = |path: &Path| {
        let path = path.to_owned();
        move |source| AttachError::Pin { path, source }
    };
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
