//! The pin path belongs to one daemon: a second `faultd run` (or a `faultd detach`) on it
//! is refused while the first runs, a pin directory another user could change is refused,
//! and a refused start leaves the pin path exactly as it found it. Needs root (skips loudly
//! without).

mod common;

use std::{
    os::unix::fs::{PermissionsExt as _, chown},
    path::{Path, PathBuf},
};

use common::FAULTD;
use fault_tests::{
    catalogue,
    daemon::{self, Daemon, has_xdp, pins_left, run_refused, unique},
    netns::{Netns, Veth, is_root, send_frames},
};

fn root_or_skip(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIPPED {test}: live tests need root (XDP, namespaces, bpffs)");
    }
    is_root()
}

/// `n` catalogue frames that fit a 1500-byte MTU.
fn frames(n: usize) -> Vec<Vec<u8>> {
    let f: Vec<Vec<u8>> = catalogue()
        .into_iter()
        .map(|s| s.frame)
        .filter(|f| (14..=1514).contains(&f.len()))
        .take(n)
        .collect();
    assert_eq!(f.len(), n, "the catalogue has {n} frames");
    f
}

fn detach(pin: &Path) -> (Option<i32>, String) {
    let out = daemon::detach(Path::new(FAULTD), pin);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A pin path the test made by hand, removed whatever happens.
struct MadeByHand(PathBuf);

impl Drop for MadeByHand {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_second_daemon_on_one_pin_path_is_refused_and_the_first_counts_on() {
    if !root_or_skip("a_second_daemon_on_one_pin_path_is_refused") {
        return;
    }
    let (a, b) = (Netns::new("ka").unwrap(), Netns::new("kb").unwrap());
    let (v1, v2) = (
        Veth::new(&a, &b, 1500).unwrap(),
        Veth::new(&a, &b, 1500).unwrap(),
    );
    let (addr, pin) = unique("lock");
    let pin_s = pin.to_str().unwrap();
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &["--iface", &v1.a, "--pin-path", pin_s],
    )
    .unwrap();
    let (first, then) = (frames(20), frames(30));
    send_frames(&b, &v1.b, &first).unwrap();
    d.scrape_until(|s| s.frames_seen() >= 20).unwrap();

    // Another interface (it would share the counters) or the same one (it would take the
    // events): refused either way, naming the daemon that holds the path.
    let (addr2, _) = unique("lock2");
    let addr2 = addr2.to_string();
    let held = format!(
        "{} is in use by another faultd (pid {})",
        pin.display(),
        d.pid()
    );
    for iface in [&v2.a, &v1.a] {
        let args = ["--iface", iface, "--pin-path", pin_s, "--listen", &addr2];
        let (code, err) = run_refused(Path::new(FAULTD), &a, &args);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(&held), "{err}");
    }
    let (code, err) = detach(&pin);
    assert_eq!(code, Some(2), "detach while the daemon runs: {err}");
    assert!(
        err.contains(&format!(
            "{} is in use by a running faultd (pid {})",
            pin.display(),
            d.pid()
        )),
        "{err}"
    );

    // The first daemon is undisturbed: attached, and counting what is sent now.
    send_frames(&b, &v1.b, &then).unwrap();
    let s = d.scrape_until(|s| s.frames_seen() >= 50).unwrap();
    assert_eq!(s.frames_seen(), 50, "every frame counted once");
    assert_eq!(
        s.get(&format!(
            "faultd_xdp_attached{{iface=\"{}\",mode=\"native\"}}",
            v1.a
        )),
        Some(1.0)
    );
    assert!(
        has_xdp(&a, &v1.a),
        "the first daemon's program is still there"
    );
    assert!(!has_xdp(&a, &v2.a), "the refused one attached nothing");
    let (status, log) = d.stop().unwrap();
    assert!(status.success(), "{log}");
    assert_eq!(detach(&pin).0, Some(0), "stopped, detach may go on");
    assert!(!pin.exists(), "left: {:?}", pins_left(&pin));
}

#[test]
fn a_pin_directory_another_user_could_change_is_refused() {
    if !root_or_skip("a_pin_directory_another_user_could_change_is_refused") {
        return;
    }
    let a = Netns::new("oa").unwrap();
    let (_, pin) = unique("owner");
    let made = MadeByHand(pin.clone());
    let run = |pin: &Path| {
        let args = [
            "--iface",
            "lo",
            "--pin-path",
            pin.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ];
        run_refused(Path::new(FAULTD), &a, &args)
    };
    let chmod = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };

    // Made first by another user (nobody), who could then remove faultd's pins.
    std::fs::create_dir(&pin).unwrap();
    chown(&pin, Some(65534), Some(65534)).unwrap();
    let (code, err) = run(&pin);
    assert_eq!(code, Some(2), "{err}");
    let want = format!(
        "{} is owned by uid 65534, not by faultd's user (uid 0)",
        pin.display()
    );
    assert!(err.contains(&want), "{err}");
    assert_eq!(
        pins_left(&pin),
        Vec::<String>::new(),
        "nothing pinned in it"
    );

    // Root's, but anyone may write to it.
    chown(&pin, Some(0), Some(0)).unwrap();
    chmod(&pin, 0o777);
    let (code, err) = run(&pin);
    assert_eq!(code, Some(2), "{err}");
    let want = format!(
        "{} is writable by its group or others (mode 777)",
        pin.display()
    );
    assert!(err.contains(&want), "{err}");
    assert_eq!(pins_left(&pin), Vec::<String>::new());

    // A directory between the pin path and the mount that others may write to.
    let inner = pin.join("faultd");
    chmod(&pin, 0o775);
    let (code, err) = run(&inner);
    assert_eq!(code, Some(2), "{err}");
    let want = format!(
        "{} is writable by its group or others (mode 775)",
        pin.display()
    );
    assert!(err.contains(&want), "{err}");
    assert!(!inner.exists(), "nothing created under it");
    drop(made);
}

#[test]
fn a_refused_start_leaves_the_pin_path_as_it_found_it() {
    if !root_or_skip("a_refused_start_leaves_the_pin_path_as_it_found_it") {
        return;
    }
    let (a, b) = (Netns::new("na").unwrap(), Netns::new("nb").unwrap());
    let (v1, v2) = (
        Veth::new(&a, &b, 1500).unwrap(),
        Veth::new(&a, &b, 1500).unwrap(),
    );
    // The first daemon holds v1 (busy for others) and its listen port (taken).
    let (addr, pin) = unique("holder");
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &["--iface", &v1.a, "--pin-path", pin.to_str().unwrap()],
    )
    .unwrap();
    let (addr2, pin2) = unique("refused");
    let (pin2_s, addr2_s, taken) = (pin2.to_str().unwrap(), addr2.to_string(), addr.to_string());
    let busy = ["--iface", &v1.a, "--pin-path", pin2_s, "--listen", &addr2_s];
    let port = ["--iface", &v2.a, "--pin-path", pin2_s, "--listen", &taken];
    let refused = |args: &[&str], says: &str| {
        let (code, err) = run_refused(Path::new(FAULTD), &a, args);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    };
    let busy_says = format!("{} already carries an XDP program", v1.a);
    let port_says = format!("cannot listen on {addr}");

    // A pin path that does not exist yet stays absent.
    refused(&busy, &busy_says);
    assert!(!pin2.exists(), "left: {:?}", pins_left(&pin2));
    refused(&port, &port_says);
    assert!(!pin2.exists(), "left: {:?}", pins_left(&pin2));

    // One that holds an earlier run's state keeps exactly that.
    let sent = frames(25);
    let d2 = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr2,
        &["--iface", &v2.a, "--pin-path", pin2_s],
    )
    .unwrap();
    send_frames(&b, &v2.b, &sent).unwrap();
    d2.scrape_until(|s| s.frames_seen() >= 25).unwrap();
    d2.stop().unwrap();
    let found = pins_left(&pin2);
    assert!(!found.is_empty(), "the earlier run's maps are pinned");
    refused(&busy, &busy_says);
    assert_eq!(pins_left(&pin2), found);
    refused(&port, &port_says);
    assert_eq!(pins_left(&pin2), found);
    // ...and its counters: the next run starts where the earlier one stopped.
    let d2 = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr2,
        &["--iface", &v2.a, "--pin-path", pin2_s],
    )
    .unwrap();
    assert_eq!(d2.scrape().unwrap().frames_seen(), 25);
    assert!(has_xdp(&a, &v1.a), "the first daemon is still attached");
    d2.stop().unwrap();
    d.stop().unwrap();
    for p in [&pin, &pin2] {
        assert_eq!(detach(p).0, Some(0));
    }
}
