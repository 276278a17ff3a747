//! The live-test plumbing of `fault_tests::netns` on a real kernel: a veth pair carries exactly
//! the frames sent into it and nothing else, the HTTP helper talks to a server inside a
//! namespace, nothing outlives its owner, and `Netns::command` changes the network namespace
//! only. Every test needs root and says loudly when it skips.

use fault_tests::catalogue;
use fault_tests::netns::{self, HttpResponse, Netns, Veth, http_get, send_frames, wait_for};
use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const MTU: u32 = 4000;

fn root_or_skip(test: &str) -> bool {
    if netns::is_root() {
        return true;
    }
    // Straight to the stderr stream: `eprintln!` would be swallowed by the test harness.
    let _ = writeln!(
        io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: needs root (network namespaces, raw sockets) !!!!!!!!\n"
    );
    false
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The interface names in `ip -o link` output (without the `@peer` suffix).
fn link_names(ip_o_link: &str) -> Vec<String> {
    ip_o_link
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap().to_owned())
        .collect()
}

fn ethertype(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[12], frame[13]])
}

/// 50 distinct frames: catalogue samples that fit the MTU (all IPX framings and every VLAN
/// tagged one among them) and one frame of exactly MTU + Ethernet header.
fn frames_to_send() -> Vec<Vec<u8>> {
    const N: usize = 50;
    let samples: Vec<_> = catalogue()
        .into_iter()
        .filter(|s| (14..=MTU as usize).contains(&s.frame.len()))
        .collect();
    let wanted = |s: &fault_tests::Sample| {
        let framings = ["ipx_ethernet_ii_", "ipx_raw_8023_", "ipx_llc_", "ipx_snap_"];
        framings.iter().any(|f| s.name.starts_with(f))
            || [0x8100, 0x88A8].contains(&ethertype(&s.frame))
    };
    let mut chosen: Vec<usize> = (0..samples.len())
        .filter(|&i| wanted(&samples[i]))
        .collect();
    chosen.extend((0..samples.len()).filter(|&i| !wanted(&samples[i])));
    let mut seen = HashSet::new();
    let mut picked: Vec<usize> = chosen
        .into_iter()
        .filter(|&i| seen.insert(samples[i].frame.clone()))
        .take(N - 1)
        .collect();
    picked.sort_unstable(); // catalogue order on the wire
    let mut frames: Vec<Vec<u8>> = picked.iter().map(|&i| samples[i].frame.clone()).collect();
    // Local experimental EtherType, a counting payload: the largest frame the MTU allows.
    let mut jumbo = vec![0x02, 0, 0, 0, 0, 0xA, 0x02, 0, 0, 0, 0, 0xB, 0x88, 0xB5];
    jumbo.extend((0..MTU as usize).map(|i| i as u8));
    frames.push(jumbo);
    assert_eq!(frames.len(), N);
    frames
}

/// Receives on `ifname` (inside the calling thread's namespace) every frame the interface
/// gets, as it was on the wire, until `grace` after `sent` delivers the time sending finished.
fn capture(
    ifname: &str,
    ready: mpsc::Sender<()>,
    sent: mpsc::Receiver<Instant>,
    grace: Duration,
) -> io::Result<Vec<Vec<u8>>> {
    let err = |what: &str| {
        let e = io::Error::last_os_error();
        io::Error::new(e.kind(), format!("{what}: {e}"))
    };
    let name = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: valid C string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(ifindex, 0, "no {ifname} here");
    // Protocol 0 until bound, so no frame of another interface slips in before `bind`.
    // SAFETY: plain syscall, owned at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(err("socket"));
    }
    // SAFETY: fresh descriptor.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    // SAFETY: option values of the sizes passed.
    unsafe {
        let opt = (&one as *const libc::c_int).cast();
        let len = size_of::<libc::c_int>() as libc::socklen_t;
        if libc::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, opt, len) != 0 {
            return Err(err("PACKET_AUXDATA"));
        }
        let opt = (&timeout as *const libc::timeval).cast();
        let len = size_of::<libc::timeval>() as libc::socklen_t;
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, opt, len) != 0 {
            return Err(err("SO_RCVTIMEO"));
        }
    }
    // SAFETY: all-zero sockaddr_ll is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = ifindex as i32;
    let addr_len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `addr` is a sockaddr_ll of `addr_len` bytes.
    if unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_ll).cast(), addr_len) } != 0 {
        return Err(err("bind"));
    }
    ready.send(()).unwrap();

    let mut frames = Vec::new();
    let mut sent_at = None;
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 65536];
    let mut control = [0u64; 16];
    loop {
        sent_at = sent_at.or_else(|| sent.try_recv().ok());
        if sent_at.is_some_and(|t| t.elapsed() >= grace) || Instant::now() >= give_up {
            return Ok(frames);
        }
        // SAFETY: every pointer in `msg` refers to a live buffer of the length given.
        let (n, msg, from) = unsafe {
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = addr_len;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of_val(&control);
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_TRUNC);
            (n, msg, from)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        assert!(n <= buf.len(), "a {n}-byte frame overflowed the buffer");
        assert_eq!(
            from.sll_ifindex, ifindex as i32,
            "frame from another interface"
        );
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            continue;
        }
        let mut frame = buf[..n].to_vec();
        // The receive path moves the outer VLAN tag out of the frame (into skb metadata);
        // AF_PACKET reports it in the auxdata, and it goes back where it was on the wire.
        // SAFETY: `msg` was filled by recvmsg with `control` as its control buffer.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_PACKET
                    && (*cmsg).cmsg_type == libc::PACKET_AUXDATA
                {
                    let aux: libc::tpacket_auxdata =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                        let tpid = if aux.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                            aux.tp_vlan_tpid
                        } else {
                            0x8100
                        };
                        let tag = [tpid.to_be_bytes(), aux.tp_vlan_tci.to_be_bytes()].concat();
                        frame.splice(12..12, tag);
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        frames.push(frame);
    }
}

/// IPX in any of its four Ethernet framings.
fn is_ipx(frame: &[u8]) -> bool {
    match (ethertype(frame), &frame[14..16]) {
        (0x8137, _) => true,
        (0..=1500, [0xFF, 0xFF] | [0xE0, 0xE0]) => true,
        (0..=1500, [0xAA, 0xAA]) => frame[20..22] == [0x81, 0x37],
        _ => false,
    }
}

fn describe(frames: &[Vec<u8>]) -> Vec<String> {
    frames
        .iter()
        .map(|f| format!("{} bytes, type {:04x}", f.len(), ethertype(f)))
        .collect()
}

#[test]
fn veth_carries_exactly_the_sent_frames() {
    if !root_or_skip("veth_carries_exactly_the_sent_frames") {
        return;
    }
    let (ns_a, ns_b) = (Netns::new("wa").unwrap(), Netns::new("wb").unwrap());
    let veth = Veth::new(&ns_a, &ns_b, MTU).unwrap();
    let frames = frames_to_send();
    let ipx = frames.iter().filter(|f| is_ipx(f)).count();
    let vlan = frames
        .iter()
        .filter(|f| [0x8100, 0x88A8].contains(&ethertype(f)))
        .count();
    assert!(ipx >= 4 && vlan >= 2, "{ipx} IPX and {vlan} VLAN frames");

    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel();
    let received = std::thread::scope(|scope| {
        let receiver = scope
            .spawn(|| ns_a.run(|| capture(&veth.a, ready_tx, sent_rx, Duration::from_secs(1))));
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("receiver ready");
        let n = send_frames(&ns_b, &veth.b, &frames).unwrap();
        sent_tx.send(Instant::now()).unwrap();
        assert_eq!(n, frames.len());
        receiver.join().unwrap().unwrap().unwrap()
    });

    assert_eq!(
        received.len(),
        frames.len(),
        "received {:?}",
        describe(&received)
    );
    for (i, (got, want)) in received.iter().zip(&frames).enumerate() {
        assert!(
            got == want,
            "frame {i}: received {} bytes, sent {} bytes\n got {:02x?}\nwant {:02x?}",
            got.len(),
            want.len(),
            &got[..got.len().min(64)],
            &want[..want.len().min(64)]
        );
    }
    drop(veth);
}

#[test]
fn veth_ends_have_ipv6_off_and_no_addresses() {
    if !root_or_skip("veth_ends_have_ipv6_off_and_no_addresses") {
        return;
    }
    let (ns_a, ns_b) = (Netns::new("6a").unwrap(), Netns::new("6b").unwrap());
    let veth = Veth::new(&ns_a, &ns_b, 1500).unwrap();
    for (ns, ifname) in [(&ns_a, &veth.a), (&ns_b, &veth.b)] {
        assert!(ifname.len() <= 15, "{ifname}");
        // Read with the sysctl tool in a child process: an independent view of what
        // `Netns::sysctl` wrote from a thread.
        let key = format!("net.ipv6.conf.{ifname}.disable_ipv6");
        let value = stdout_of(ns.command("sysctl").args(["-n", &key]));
        assert_eq!(value.trim(), "1", "{key} in {}", ns.name());
        let addrs = stdout_of(ns.command("ip").args(["-o", "addr", "show", "dev", ifname]));
        assert_eq!(addrs, "", "{ifname} has addresses");
        let link = stdout_of(ns.command("ip").args(["-o", "link", "show", "dev", ifname]));
        assert!(link.contains(",UP,LOWER_UP>"), "{link}");
        assert!(link.contains(" mtu 1500 "), "{link}");
    }
    // The host's view of the same sysctl name does not exist: the pair never lived there.
    let host = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", veth.a);
    assert!(!std::path::Path::new(&host).exists(), "{host}");
}

#[test]
fn send_frames_refuses_runts_and_oversized_frames() {
    if !root_or_skip("send_frames_refuses_runts_and_oversized_frames") {
        return;
    }
    let (ns_a, ns_b) = (Netns::new("ea").unwrap(), Netns::new("eb").unwrap());
    let veth = Veth::new(&ns_a, &ns_b, 1500).unwrap();
    let ok = vec![0xFFu8; 60];

    let err = send_frames(&ns_b, &veth.b, &[ok.clone(), vec![0; 13]]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("frame 1 is 13 bytes"), "{err}");

    // MTU plus header is the largest frame; one byte more is the kernel's EMSGSIZE.
    let max = vec![0xFFu8; 1514];
    assert_eq!(send_frames(&ns_b, &veth.b, &[ok.clone(), max]).unwrap(), 2);
    let err = send_frames(&ns_b, &veth.b, &[ok.clone(), ok, vec![0xFF; 1515]]).unwrap_err();
    assert_eq!(err.raw_os_error(), None, "context lost");
    let text = err.to_string();
    assert!(text.contains("frame 2 (1515 bytes)"), "{text}");
    assert!(
        text.contains(&io::Error::from_raw_os_error(libc::EMSGSIZE).to_string()),
        "{text}"
    );

    let err = send_frames(&ns_b, "nosuchif0", &[vec![0xFF; 60]]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}

/// Serves one request with `response`, then hands back what the client sent; the connection
/// stays open until `close` fires when given, so the client must stop at the message's end.
fn serve_once(
    listener: TcpListener,
    response: &'static str,
    close: Option<mpsc::Receiver<()>>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request = String::new();
        while !request.ends_with("\r\n\r\n") {
            assert_ne!(reader.read_line(&mut request).unwrap(), 0, "{request:?}");
        }
        // In pieces, so the client sees partial messages.
        let mut stream = stream;
        let (head, body) = response.split_at(response.find("\r\n\r\n").unwrap() + 4);
        for part in [head, &body[..body.len() / 2], &body[body.len() / 2..]] {
            stream.write_all(part.as_bytes()).unwrap();
            stream.flush().unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(close) = close {
            let _ = close.recv_timeout(Duration::from_secs(10));
        }
        request
    })
}

const CHUNKED: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
    Transfer-Encoding: chunked\r\n\r\n\
    6\r\n{\"faul\r\n13\r\nts\":[1,2,3],\"ok\":1}\r\n0\r\n\r\n";

#[test]
fn http_get_inside_a_namespace_and_on_the_host() {
    if !root_or_skip("http_get_inside_a_namespace_and_on_the_host") {
        return;
    }
    let ns = Netns::new("http").unwrap();
    let listener = ns
        .run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .unwrap()
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (close_tx, close_rx) = mpsc::channel();
    let server = serve_once(listener, CHUNKED, Some(close_rx));
    let response = http_get(Some(&ns), addr, "/api/faults?x=1", Some("application/json")).unwrap();
    close_tx.send(()).unwrap();
    let request = server.join().unwrap();
    assert_eq!(
        response,
        HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("transfer-encoding".into(), "chunked".into()),
            ],
            body: r#"{"faults":[1,2,3],"ok":1}"#.into(),
        }
    );
    assert!(
        request.starts_with("GET /api/faults?x=1 HTTP/1.1\r\n"),
        "{request}"
    );
    for header in [
        format!("Host: {addr}\r\n"),
        "Connection: close\r\n".into(),
        "Accept: application/json\r\n".into(),
    ] {
        assert!(
            request.contains(&header),
            "{header:?} missing from {request:?}"
        );
    }
    // The server's loopback was the namespace's: the same address on the host's is not it.
    let host_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, addr.port()));
    assert!(host_listener.is_ok(), "host port {} in use", addr.port());

    // On the host, with Content-Length and the connection closed after the body.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = serve_once(
        listener,
        "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot here\n",
        None,
    );
    let response = http_get(None, addr, "/nope", None).unwrap();
    let request = server.join().unwrap();
    assert_eq!(
        (
            response.status,
            response.content_type,
            response.body.as_str()
        ),
        (404, None, "not here\n")
    );
    assert!(!request.contains("Accept:"), "{request}");

    // Nothing listening: refused at once, with the URL in the error.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap();
    let err = http_get(Some(&ns), port, "/x", None).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    assert!(
        err.to_string().contains(&format!("http://{port}/x")),
        "{err}"
    );
}

#[test]
fn drop_removes_namespaces_and_interfaces() {
    if !root_or_skip("drop_removes_namespaces_and_interfaces") {
        return;
    }
    let (ns_a, ns_b) = (Netns::new("da").unwrap(), Netns::new("db").unwrap());
    let veth = Veth::new(&ns_a, &ns_b, 1500).unwrap();
    let names = [ns_a.name().to_owned(), ns_b.name().to_owned()];
    let paths = [ns_a.path(), ns_b.path()];
    let ifnames = [veth.a.clone(), veth.b.clone()];
    let listed = stdout_of(Command::new("ip").args(["netns", "list"]));
    let listed: Vec<&str> = listed.lines().filter_map(|l| l.split(' ').next()).collect();
    for name in &names {
        assert!(listed.contains(&name.as_str()), "{name} not in {listed:?}");
    }
    assert!(paths.iter().all(|p| p.exists()));
    assert!(link_names(&stdout_of(ns_a.command("ip").args(["-o", "link"]))).contains(&ifnames[0]));
    assert!(link_names(&stdout_of(ns_b.command("ip").args(["-o", "link"]))).contains(&ifnames[1]));
    // A thread-held descriptor of the namespace shows when the veth is really gone.
    let held = std::fs::File::open(ns_a.path()).unwrap();

    drop(veth);
    drop((ns_a, ns_b));

    let listed = stdout_of(Command::new("ip").args(["netns", "list"]));
    for name in &names {
        assert!(
            !listed.contains(name.as_str()),
            "{name} still in {listed:?}"
        );
    }
    assert!(paths.iter().all(|p| !p.exists()), "{paths:?}");
    let host_links = link_names(&stdout_of(Command::new("ip").args(["-o", "link"])));
    for ifname in &ifnames {
        assert!(!host_links.contains(ifname), "{ifname} on the host");
    }
    // Even the namespace kept alive by `held` has lost its veth end.
    let links = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: plain syscall on an open namespace descriptor.
                assert_eq!(
                    unsafe { libc::setns(held.as_raw_fd(), libc::CLONE_NEWNET) },
                    0
                );
                let name = std::ffi::CString::new(ifnames[0].as_str()).unwrap();
                // SAFETY: valid C string.
                unsafe { libc::if_nametoindex(name.as_ptr()) }
            })
            .join()
            .unwrap()
    });
    assert_eq!(links, 0, "{} survived", ifnames[0]);
}

/// `/sys/fs/bpf` must be the bpf filesystem on the host for the comparison to mean something;
/// most systems mount it at boot, a bare container may not (then it is mounted here, and left
/// mounted, as systemd would have).
fn ensure_bpffs() -> String {
    let fs_type = || stdout_of(Command::new("stat").args(["-f", "-c", "%T", "/sys/fs/bpf"]));
    if fs_type().trim() != "bpf_fs" {
        let status = Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status()
            .unwrap();
        assert!(status.success(), "mount -t bpf bpf /sys/fs/bpf");
    }
    fs_type()
}

#[test]
fn command_enters_the_network_namespace_only() {
    if !root_or_skip("command_enters_the_network_namespace_only") {
        return;
    }
    let (ns_a, ns_b) = (Netns::new("ca").unwrap(), Netns::new("cb").unwrap());
    let veth = Veth::new(&ns_a, &ns_b, 1500).unwrap();

    let links = link_names(&stdout_of(ns_a.command("ip").args(["-o", "link"])));
    assert_eq!(links, ["lo".to_owned(), veth.a.clone()]);

    // Its network namespace is the one at `path()`, its mount namespace the test's own.
    let ns_link = stdout_of(ns_a.command("readlink").arg("/proc/self/ns/net"));
    let ino = std::fs::metadata(ns_a.path()).unwrap().ino();
    assert_eq!(ns_link.trim(), format!("net:[{ino}]"));
    let mnt = stdout_of(ns_a.command("readlink").arg("/proc/self/ns/mnt"));
    let own_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_eq!(mnt.trim(), own_mnt.to_str().unwrap());

    // So the bpf filesystem (pins shared with the daemon) stays in sight...
    assert_eq!(ensure_bpffs().trim(), "bpf_fs");
    let seen = stdout_of(ns_a.command("stat").args(["-f", "-c", "%T", "/sys/fs/bpf"]));
    assert_eq!(seen.trim(), "bpf_fs");
    // ...where `ip netns exec` would have remounted /sys and hidden it.
    let hidden = stdout_of(
        Command::new("ip")
            .args(["netns", "exec", ns_a.name()])
            .args(["stat", "-f", "-c", "%T", "/sys/fs/bpf"]),
    );
    assert_eq!(hidden.trim(), "sysfs");

    // Arguments, environment and exit status pass through.
    let out = ns_b
        .command("sh")
        .args(["-c", "echo \"$X\" \"$1\"; exit 3", "sh", "arg one"])
        .env("X", "env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "env arg one\n");
}

#[test]
fn run_moves_only_its_own_thread_and_passes_panics_on() {
    if !root_or_skip("run_moves_only_its_own_thread_and_passes_panics_on") {
        return;
    }
    let ns = Netns::new("run").unwrap();
    let own = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let inside = ns
        .run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
        .unwrap();
    let ino = std::fs::metadata(ns.path()).unwrap().ino();
    assert_eq!(inside.to_str().unwrap(), format!("net:[{ino}]"));
    assert_eq!(std::fs::read_link("/proc/thread-self/ns/net").unwrap(), own);

    let panic = std::panic::catch_unwind(|| ns.run(|| panic!("inside")));
    let message = panic.unwrap_err();
    assert_eq!(message.downcast_ref::<&str>(), Some(&"inside"));

    // The namespace is empty but for `lo`, which is up.
    let lo = wait_for(Duration::from_secs(2), || {
        let out = stdout_of(ns.command("ip").args(["-o", "link"]));
        out.contains("lo: <LOOPBACK,UP,LOWER_UP>").then_some(out)
    });
    assert_eq!(link_names(&lo.expect("lo up")), ["lo"]);
}
