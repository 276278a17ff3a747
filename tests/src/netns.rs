//! Live wires for end-to-end tests and `cargo xtask demo`: throwaway network namespaces joined
//! by a veth pair that carries nothing but the frames a test writes into it, plus the few
//! helpers such a test needs around a running faultd (raw frame sending, a tiny HTTP GET, a
//! poll-until helper instead of sleeps).
//!
//! Everything here needs root (`CAP_NET_ADMIN` and `CAP_SYS_ADMIN`); set-up goes through
//! `ip` (iproute2) so that what a test builds can be reproduced by hand from a shell.
//!
//! ```no_run
//! use fault_tests::netns::{Netns, Veth, send_frames};
//! let (left, right) = (Netns::new("left")?, Netns::new("right")?);
//! let wire = Veth::new(&left, &right, 1500)?;
//! // Attach faultd to `wire.a` inside `left` (e.g. `left.command("faultd")`), then:
//! let frame = vec![0xFF; 60];
//! assert_eq!(send_frames(&right, &wire.b, &[frame])?, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One counter for namespace and interface names, so that names never repeat within a process
/// (the pid in them keeps concurrent test binaries apart).
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Runs a set-up command; its stderr goes into the error because `ip` failures are only
/// understandable with the message `ip` printed.
fn run_checked(cmd: &mut Command) -> io::Result<()> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{shown}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn ip(args: &[&str]) -> io::Result<()> {
    run_checked(Command::new("ip").args(args))
}

/// Best-effort `ip` for `Drop`: cleanup must never panic, and a failed cleanup of something
/// already gone is the normal case.
fn ip_quietly(args: &[&str]) {
    let _ = Command::new("ip")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// A named network namespace (`ip netns add`), deleted on drop, so a test's interfaces, sockets
/// and daemon are isolated from the host and from other tests running at the same time.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// A fresh namespace named `fd-<tag>-<pid>-<n>`, with `lo` up (so loopback TCP, e.g. to a
    /// daemon's HTTP server inside it, works at once).
    pub fn new(tag: &str) -> io::Result<Netns> {
        let name = format!("fd-{tag}-{}-{}", std::process::id(), next_id());
        ip(&["netns", "add", &name])?;
        // Built before the next step so that a failure still deletes the namespace.
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The name `ip -n`, `ip netns exec` and friends know it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bind mount that keeps the namespace alive; what `setns` and `nsenter --net=` open.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `f` inside the namespace and returns its result, so that a test can open sockets
    /// there without a child process. `f` runs on a fresh thread that joins the namespace:
    /// `setns` moves only the calling thread, so the caller's own thread never changes namespace.
    /// A panic in `f` is passed on to the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        let ns = File::open(self.path()).map_err(|e| {
            io::Error::new(e.kind(), format!("open {}: {e}", self.path().display()))
        })?;
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                // SAFETY: plain syscall on a descriptor that `ns` keeps open for the call.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    let e = io::Error::last_os_error();
                    return Err(io::Error::new(
                        e.kind(),
                        format!("setns into {}: {e}", self.name),
                    ));
                }
                Ok(f())
            });
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// A command that runs `program` in this network namespace and nothing else.
    ///
    /// It is `nsenter --net=<path> -- program` rather than `ip netns exec`, because the latter
    /// also enters a new mount namespace and remounts `/sys` there, which hides the bpf
    /// filesystem on `/sys/fs/bpf` (pinned maps and links) and `/sys/kernel/debug`; a daemon
    /// started that way could not share pins with the host or with the test.
    /// The namespace must outlive the process: `ip netns del` only drops the name, and a process
    /// still inside keeps the namespace (and its interfaces) alive.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        cmd
    }

    /// Sets a sysctl of this namespace, e.g. `("net.ipv6.conf.fa1x2.disable_ipv6", "1")`, by
    /// writing `/proc/sys/...` from a thread inside it: `/proc/sys/net` shows the network
    /// namespace of the thread that opens it, so no child process is needed. Interface names
    /// containing dots cannot be written in this dotted form.
    pub fn sysctl(&self, key: &str, value: &str) -> io::Result<()> {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        self.run(|| std::fs::write(&path, value))?.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("sysctl {key}={value} in {}: {e}", self.name),
            )
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip_quietly(&["netns", "del", &self.name]);
    }
}

/// A veth pair between two namespaces that carries only the test's frames: end `a` in one
/// namespace (where faultd listens), end `b` in the other (where the test sends).
///
/// Neither end has an address and both have IPv6 disabled before they come up, so the kernel
/// itself never transmits on them (no router solicitations, MLD reports or duplicate address
/// detection); whatever arrives on `a` was sent on `b` by the test.
#[derive(Debug)]
pub struct Veth {
    /// Interface name of the end inside `ns_a`.
    pub a: String,
    /// Interface name of the end inside `ns_b`.
    pub b: String,
    ns_a: String,
}

impl Veth {
    /// Creates the pair directly inside the two namespaces (it never exists in the host's),
    /// with both ends at `mtu`, IPv6 off and link up. Names are `fa…`/`fb…`, at most 15 bytes
    /// (the kernel's `IFNAMSIZ` limit) and unique across processes and calls.
    ///
    /// Note: native XDP on a veth refuses programs without multi-buffer (`frags`) support when
    /// the peer's MTU exceeds a page minus XDP headroom and overhead (3506 with 4 KiB pages:
    /// "Peer MTU is too large to set XDP"); faultd's programs are `frags`, so any MTU works.
    pub fn new(ns_a: &Netns, ns_b: &Netns, mtu: u32) -> io::Result<Veth> {
        let (a, b) = veth_names(std::process::id(), next_id());
        let veth = Veth {
            a,
            b,
            ns_a: ns_a.name().to_owned(),
        };
        veth.create(ns_a, ns_b, mtu)?;
        Ok(veth)
    }

    /// Deletes the pair, as `ip link del` does; [`Veth::recreate`] makes it again.
    pub fn delete(&self) -> io::Result<()> {
        ip(&["-n", &self.ns_a, "link", "del", &self.a])
    }

    /// Makes the pair again after [`Veth::delete`]: the same names, in the same namespaces
    /// (new interfaces, with new indexes).
    pub fn recreate(&self, ns_a: &Netns, ns_b: &Netns, mtu: u32) -> io::Result<()> {
        self.create(ns_a, ns_b, mtu)
    }

    fn create(&self, ns_a: &Netns, ns_b: &Netns, mtu: u32) -> io::Result<()> {
        let mtu = mtu.to_string();
        #[rustfmt::skip]
        ip(&[
            "link", "add", &self.a, "mtu", &mtu, "netns", ns_a.name(),
            "type", "veth", "peer", "name", &self.b, "mtu", &mtu, "netns", ns_b.name(),
        ])?;
        // From here on, drop (or the namespaces' deletion) removes the pair.
        for (ns, ifname) in [(ns_a, &self.a), (ns_b, &self.b)] {
            disable_ipv6(ns, ifname)?;
        }
        for (ns, ifname) in [(ns_a, &self.a), (ns_b, &self.b)] {
            ip(&["-n", ns.name(), "link", "set", ifname, "up"])?;
        }
        Ok(())
    }
}

/// `fa<pid>x<n>`/`fb<pid>x<n>`, cut down to fit 15 bytes whatever the pid and counter.
fn veth_names(pid: u32, n: u32) -> (String, String) {
    let (pid, n) = (pid % 100_000, n % 10_000_000);
    (format!("fa{pid}x{n}"), format!("fb{pid}x{n}"))
}

/// Switches IPv6 off on a (down) interface so that bringing it up sends nothing. A kernel
/// without IPv6 (`ipv6.disable=1`) has nothing to switch off.
fn disable_ipv6(ns: &Netns, ifname: &str) -> io::Result<()> {
    let has_ipv6 = ns.run(|| Path::new("/proc/sys/net/ipv6/conf").exists())?;
    if !has_ipv6 {
        return Ok(());
    }
    ns.sysctl(&format!("net.ipv6.conf.{ifname}.disable_ipv6"), "1")
}

impl Drop for Veth {
    fn drop(&mut self) {
        // Deleting either end deletes both; usually the namespaces' deletion already did.
        ip_quietly(&["-n", &self.ns_a, "link", "del", &self.a]);
    }
}

/// The index of an interface of the calling thread's namespace.
fn ifindex(ifname: &str) -> io::Result<u32> {
    let name = CString::new(ifname).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `name` is a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        let e = io::Error::last_os_error();
        // ENODEV has no ErrorKind of its own; a missing interface is NotFound to callers.
        let kind = match e.raw_os_error() {
            Some(libc::ENODEV) => io::ErrorKind::NotFound,
            _ => e.kind(),
        };
        return Err(io::Error::new(kind, format!("interface {ifname}: {e}")));
    }
    Ok(ifindex)
}

/// An `AF_PACKET` socket bound to one interface of the calling thread's namespace.
fn packet_socket(ifname: &str, protocol: u16) -> io::Result<OwnedFd> {
    let ifindex = ifindex(ifname)?;
    // SAFETY: plain syscall; the descriptor is owned right away.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol.to_be();
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: `addr` is a sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("bind to {ifname}: {e}")));
    }
    Ok(sock)
}

/// Writes `frames` onto `ifname` inside `ns`, byte for byte (no padding, no checksum fixing),
/// and returns how many were sent: the live counterpart of a pcap, for feeding faultd real
/// traffic. Frames go out in order, each with its own `send`.
///
/// A frame shorter than an Ethernet header is a caller bug and fails the whole call before
/// anything is sent; a frame the kernel refuses (e.g. longer than the MTU) fails it with the
/// frame's index, length and the OS error, after the frames before it went out.
pub fn send_frames(ns: &Netns, ifname: &str, frames: &[Vec<u8>]) -> io::Result<usize> {
    let timed: Vec<(Duration, &[u8])> = frames
        .iter()
        .map(|f| (Duration::ZERO, f.as_slice()))
        .collect();
    send(ns, ifname, &timed)
}

/// [`send_frames`] on a schedule: each `(ts_ns, frame)` goes out `ts_ns` minus the first
/// frame's `ts_ns` after the first, as a capture's timestamps would have it (a scenario
/// played live). Late frames go out at once, in order.
pub fn send_timed(ns: &Netns, ifname: &str, frames: &[(u64, Vec<u8>)]) -> io::Result<usize> {
    let start = frames.first().map_or(0, |(t, _)| *t);
    let timed: Vec<(Duration, &[u8])> = frames
        .iter()
        .map(|(t, f)| (Duration::from_nanos(t.saturating_sub(start)), f.as_slice()))
        .collect();
    send(ns, ifname, &timed)
}

fn send(ns: &Netns, ifname: &str, frames: &[(Duration, &[u8])]) -> io::Result<usize> {
    if let Some((i, (_, frame))) = frames.iter().enumerate().find(|(_, (_, f))| f.len() < 14) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "frame {i} is {} bytes, shorter than an Ethernet header (14)",
                frame.len()
            ),
        ));
    }
    ns.run(|| {
        // Protocol 0: the socket receives nothing, so it never queues the test's own traffic.
        let sock = packet_socket(ifname, 0)?;
        let start = std::time::Instant::now();
        for (i, (at, frame)) in frames.iter().enumerate() {
            if let Some(wait) = at.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            // SAFETY: `frame` is a valid buffer of the length passed.
            let sent =
                unsafe { libc::send(sock.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if sent < 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(
                    e.kind(),
                    format!("frame {i} ({} bytes) on {ifname}: {e}", frame.len()),
                ));
            }
            if sent as usize != frame.len() {
                return Err(io::Error::other(format!(
                    "frame {i} ({} bytes) on {ifname}: only {sent} bytes sent",
                    frame.len()
                )));
            }
        }
        Ok(frames.len())
    })?
}

/// Frames per `sendmmsg` in [`blast`].
const BLAST_BATCH: usize = 256;

/// Sends `frames` round and round on `ifname` inside `ns` for `duration`, as fast as the
/// kernel takes them or, with `rate`, paced to that many frames per second; returns how many
/// the kernel took and how long it took. For benchmarks, where [`send_frames`] (a system
/// call per frame) would mostly measure itself.
///
/// Frames go out up to 256 per `sendmmsg`, past the qdisc layer (`PACKET_QDISC_BYPASS`).
/// Pacing follows the clock, not the sleeps: frames that fell due during a long sleep go out
/// at once. A frame the kernel has no buffer for (`ENOBUFS`) is not counted and the blast
/// goes on; any other refusal ends it with an error.
pub fn blast(
    ns: &Netns,
    ifname: &str,
    frames: &[Vec<u8>],
    rate: Option<f64>,
    duration: Duration,
) -> io::Result<(u64, Duration)> {
    if frames.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no frames to blast",
        ));
    }
    ns.run(|| {
        let sock = packet_socket(ifname, 0)?;
        let one: libc::c_int = 1;
        // SAFETY: `one` is a c_int of the size passed.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut iov: Vec<libc::iovec> = frames
            .iter()
            .map(|f| libc::iovec {
                iov_base: f.as_ptr().cast_mut().cast(),
                iov_len: f.len(),
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                // SAFETY: all-zero is a valid mmsghdr (no address: the socket is bound).
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let (mut sent, mut next) = (0u64, 0usize);
        let start = Instant::now();
        loop {
            let elapsed = start.elapsed();
            if elapsed >= duration {
                return Ok((sent, elapsed));
            }
            let mut n = BLAST_BATCH.min(msgs.len() - next);
            if let Some(rate) = rate {
                let due = (rate * elapsed.as_secs_f64()) as u64;
                if due <= sent {
                    let next_due = Duration::from_secs_f64((sent + 1) as f64 / rate);
                    std::thread::sleep(next_due.saturating_sub(elapsed));
                    continue;
                }
                n = n.min((due - sent) as usize);
            }
            // SAFETY: `msgs[next..]` holds at least `n` headers whose buffers (`iov`,
            // `frames`) outlive the call.
            let rc =
                unsafe { libc::sendmmsg(sock.as_raw_fd(), msgs[next..].as_mut_ptr(), n as u32, 0) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::ENOBUFS) {
                    continue;
                }
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "frame {next} ({} bytes) on {ifname}: {e}",
                        frames[next].len()
                    ),
                ));
            }
            sent += rc as u64;
            next = (next + rc as usize) % msgs.len();
        }
    })?
}

/// Attaches the XDP program `prog` to `ifname` inside `ns` in native (driver) mode, or
/// detaches the native one with `None`: the RTM_SETLINK that `ip link set dev IF xdpdrv`
/// sends, without the directories `ip` leaves on bpffs.
pub fn set_xdp(ns: &Netns, ifname: &str, prog: Option<BorrowedFd>) -> io::Result<()> {
    const IFLA_XDP_FD: u16 = 1;
    const IFLA_XDP_FLAGS: u16 = 3;
    const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
    let prog = prog.map_or(-1, |p| p.as_raw_fd());
    ns.run(|| {
        let index = ifindex(ifname)? as i32;
        let mut msg = Vec::with_capacity(52);
        // nlmsghdr: length, type, flags, sequence number, port id.
        msg.extend(52u32.to_ne_bytes());
        msg.extend(libc::RTM_SETLINK.to_ne_bytes());
        msg.extend(((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
        msg.extend([0; 8]);
        // ifinfomsg: family, padding, type, index, flags, change mask.
        msg.extend([0; 4]);
        msg.extend(index.to_ne_bytes());
        msg.extend([0; 8]);
        // IFLA_XDP, nested: the program's descriptor and the mode.
        msg.extend(20u16.to_ne_bytes());
        msg.extend((libc::IFLA_XDP | libc::NLA_F_NESTED as u16).to_ne_bytes());
        msg.extend(8u16.to_ne_bytes());
        msg.extend(IFLA_XDP_FD.to_ne_bytes());
        msg.extend(prog.to_ne_bytes());
        msg.extend(8u16.to_ne_bytes());
        msg.extend(IFLA_XDP_FLAGS.to_ne_bytes());
        msg.extend(XDP_FLAGS_DRV_MODE.to_ne_bytes());
        let context = |e: io::Error| io::Error::new(e.kind(), format!("XDP on {ifname}: {e}"));
        // SAFETY: plain syscall; the descriptor is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(context(io::Error::last_os_error()));
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `msg` is a valid buffer of the length passed.
        if unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) } < 0 {
            return Err(context(io::Error::last_os_error()));
        }
        // The acknowledgement: an NLMSG_ERROR whose error number is 0 on success.
        let mut ack = [0u8; 1024];
        // SAFETY: `ack` is a writable buffer of the length passed.
        let n = unsafe { libc::recv(sock.as_raw_fd(), ack.as_mut_ptr().cast(), ack.len(), 0) };
        if n < 0 {
            return Err(context(io::Error::last_os_error()));
        }
        let kind = u16::from_ne_bytes([ack[4], ack[5]]);
        let errno = i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]);
        if n < 20 || i32::from(kind) != libc::NLMSG_ERROR {
            return Err(context(io::Error::other("unexpected netlink reply")));
        }
        match errno {
            0 => Ok(()),
            e => Err(context(io::Error::from_raw_os_error(-e))),
        }
    })?
}

/// An interface's packet counters, as `ip -s link` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    pub rx_packets: u64,
    pub rx_dropped: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

/// `ifname`'s counters inside `ns`. They are read from `/proc/thread-self/net/dev` on a
/// thread there: `/sys/class/net` shows the namespace sysfs was mounted in, not the caller's.
pub fn link_counters(ns: &Netns, ifname: &str) -> io::Result<LinkCounters> {
    let table = ns.run(|| std::fs::read_to_string("/proc/thread-self/net/dev"))??;
    parse_net_dev(&table, ifname).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no counters for {ifname} in {}", ns.name()),
        )
    })
}

/// One interface's row of `/proc/net/dev`: eight receive columns (bytes, packets, errs,
/// drop, ...), then eight transmit columns in the same order.
fn parse_net_dev(table: &str, ifname: &str) -> Option<LinkCounters> {
    let row = table.lines().find_map(|l| {
        let (name, row) = l.split_once(':')?;
        (name.trim() == ifname).then_some(row)
    })?;
    let v: Vec<u64> = row
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    (v.len() >= 16).then(|| LinkCounters {
        rx_packets: v[1],
        rx_dropped: v[3],
        tx_packets: v[9],
        tx_dropped: v[11],
    })
}

/// What [`http_get`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: Option<String>,
    /// Every header, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Connect, read and write timeout of [`http_get`]: generous for a local daemon, short enough
/// that a hung server fails a test instead of hanging it.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// A minimal HTTP/1.1 GET (`Connection: close`), run inside `ns` when given.
///
/// It exists so that tests and the demo need no HTTP client crate; it only understands what
/// faultd's own server sends: a status line, headers, and a body delimited by
/// `Content-Length`, `Transfer-Encoding: chunked` or the end of the connection. The body must
/// be UTF-8.
pub fn http_get(
    ns: Option<&Netns>,
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> io::Result<HttpResponse> {
    match ns {
        Some(ns) => ns.run(|| get(addr, path, accept))?,
        None => get(addr, path, accept),
    }
}

fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> io::Result<HttpResponse> {
    let context = |e: io::Error| io::Error::new(e.kind(), format!("GET http://{addr}{path}: {e}"));
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).map_err(context)?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .map_err(context)?;
    stream
        .set_write_timeout(Some(HTTP_TIMEOUT))
        .map_err(context)?;
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    http_exchange(&mut stream, addr, path, &headers).map_err(context)
}

/// One `GET path` (`Connection: close`) with extra `headers` over a connected `stream`,
/// plain or TLS; the caller sets its timeouts.
pub fn http_exchange(
    stream: &mut (impl Read + Write),
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<HttpResponse> {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: fault-tests\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;

    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        raw.extend_from_slice(&chunk[..n]);
        // Stops at the end of the message even if the server keeps the connection open.
        if let Some(response) = parse_response(&raw, n == 0)? {
            return Ok(response);
        }
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses a complete response from `raw`; `Ok(None)` while more bytes are needed and the
/// connection is still open (`eof` false).
fn parse_response(raw: &[u8], eof: bool) -> io::Result<Option<HttpResponse>> {
    let incomplete = |what: &str| {
        if eof {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed in the {what} ({} bytes read)", raw.len()),
            ))
        } else {
            Ok(None)
        }
    };
    let Some(head_end) = find(raw, b"\r\n\r\n") else {
        return incomplete("header");
    };
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| bad("header is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next());
    let status = match (version.starts_with("HTTP/1."), code.map(str::parse::<u16>)) {
        (true, Some(Ok(status))) => status,
        _ => return Err(bad(format!("bad status line {status_line:?}"))),
    };
    let (mut content_type, mut length, mut chunked) = (None, None, false);
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
        let value = value.trim();
        headers.push((name.trim().to_ascii_lowercase(), value.to_owned()));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_owned()),
            "content-length" => {
                let n = value
                    .parse::<usize>()
                    .map_err(|_| bad(format!("bad Content-Length {value:?}")))?;
                length = Some(n);
            }
            "transfer-encoding" => {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            }
            _ => {}
        }
    }
    let rest = &raw[head_end + 4..];
    let body = if status / 100 == 1 || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None => return incomplete("chunked body"),
        }
    } else if let Some(length) = length {
        if rest.len() < length {
            return incomplete("body");
        }
        rest[..length].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    let body = String::from_utf8(body).map_err(|e| bad(format!("body is not UTF-8: {e}")))?;
    Ok(Some(HttpResponse {
        status,
        content_type,
        headers,
        body,
    }))
}

/// Decodes a chunked body (RFC 9112 §7.1); `Ok(None)` if it is not complete yet.
fn dechunk(mut rest: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&rest[..line_end]).map_err(|_| bad("bad chunk size"))?;
        let digits = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(digits, 16)
            .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Optional trailer fields, then an empty line.
            let done = rest.starts_with(b"\r\n") || find(rest, b"\r\n\r\n").is_some();
            return Ok(done.then_some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(bad(format!("chunk of {size} bytes not followed by CRLF")));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Calls `probe` every 50 ms until it returns `Some` or `timeout` has passed (then it is called
/// one last time), so tests wait for a daemon exactly as long as it needs and never sleep a
/// fixed time.
pub fn wait_for<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    const PERIOD: Duration = Duration::from_millis(50);
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(PERIOD.min(deadline - now));
    }
}

/// Whether the live tests can run: they create namespaces and raw sockets, which needs root.
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> io::Result<Option<HttpResponse>> {
        parse_response(raw.as_bytes(), false)
    }

    #[test]
    fn content_length_body() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        let r = parse(raw).unwrap().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
        assert_eq!(r.body, "hello");
        // One byte short: wait while open, fail at EOF.
        let short = &raw[..raw.len() - 1];
        assert_eq!(parse(short).unwrap(), None);
        let err = parse_response(short.as_bytes(), true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let head = "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n";
        let chunks = "4;ext=1\r\nWiki\r\n9\r\npedia in \r\nB\r\n\r\nchunks.\r\n\r\n0\r\n";
        let r = parse(&format!("{head}{chunks}\r\n")).unwrap().unwrap();
        assert_eq!(
            (r.status, r.content_type, r.body.as_str()),
            (404, None, "Wikipedia in \r\nchunks.\r\n")
        );
        let r = parse(&format!("{head}{chunks}X-Trailer: 1\r\n\r\n"))
            .unwrap()
            .unwrap();
        assert_eq!(r.body, "Wikipedia in \r\nchunks.\r\n");
        // Every strict prefix is incomplete, never an error.
        let full = format!("{head}{chunks}\r\n");
        for end in 0..full.len() {
            assert_eq!(parse(&full[..end]).unwrap(), None, "prefix of {end} bytes");
        }
        assert!(parse(&format!("{head}4\r\nWikiXX")).is_err());
        assert!(parse(&format!("{head}zz\r\n")).is_err());
    }

    #[test]
    fn body_until_eof_and_empty_statuses() {
        let raw = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        assert_eq!(parse_response(raw, false).unwrap(), None);
        assert_eq!(
            parse_response(raw, true).unwrap().unwrap().body,
            "all of it"
        );
        let r = parse("HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
        assert_eq!((r.status, r.body.as_str()), (204, ""));
        assert!(parse("SMTP 220 hi\r\n\r\n").is_err());
    }

    #[test]
    fn wait_for_polls_until_some_or_timeout() {
        let mut calls = 0;
        let got = wait_for(Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, Some(3));
        let start = Instant::now();
        let mut calls = 0;
        let got: Option<()> = wait_for(Duration::from_millis(200), || {
            calls += 1;
            None
        });
        assert_eq!(got, None);
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert!((2..=6).contains(&calls), "{calls} probes in 200 ms");
    }

    #[test]
    fn net_dev_rows() {
        let table = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
fa1x2: 1100 10    0    3    0     0          0         0     2200      20    0    4    0     0       0          0
";
        let want = LinkCounters {
            rx_packets: 10,
            rx_dropped: 3,
            tx_packets: 20,
            tx_dropped: 4,
        };
        assert_eq!(parse_net_dev(table, "fa1x2"), Some(want));
        assert_eq!(parse_net_dev(table, "fa1x"), None);
    }

    #[test]
    fn veth_names_fit_ifnamsiz() {
        let (a, b) = veth_names(u32::MAX, u32::MAX - 1);
        assert_eq!((a.len(), b.len()), (15, 15), "{a} {b}");
        assert_eq!(
            veth_names(4_194_304, 12),
            ("fa94304x12".into(), "fb94304x12".into())
        );
    }
}
