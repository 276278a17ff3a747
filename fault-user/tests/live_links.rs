//! Interfaces come and go: a watched interface that is deleted is said to be gone (a log
//! line, `faultd_xdp_attached` 0), and one made again under its name is watched again (a
//! log line, the metric 1, its frames counted on into the same maps). Needs root (skips
//! loudly without).

mod common;

use std::path::Path;

use common::FAULTD;
use fault_tests::{
    catalogue,
    daemon::{Daemon, has_xdp, unique},
    netns::{Netns, Veth, is_root, send_frames},
};

#[test]
fn an_interface_deleted_and_made_again_is_watched_again() {
    if !is_root() {
        eprintln!("SKIPPED an_interface_deleted_and_made_again_is_watched_again: needs root");
        return;
    }
    let frames: Vec<Vec<u8>> = catalogue()
        .into_iter()
        .map(|s| s.frame)
        .filter(|f| (14..=1514).contains(&f.len()))
        .take(40)
        .collect();
    let (before, after) = frames.split_at(15);
    let (a, b) = (Netns::new("ia").unwrap(), Netns::new("ib").unwrap());
    let veth = Veth::new(&a, &b, 1500).unwrap();
    let (addr, pin) = unique("links");
    let d = Daemon::start(
        Path::new(FAULTD),
        &a,
        addr,
        &["--iface", &veth.a, "--pin-path", pin.to_str().unwrap()],
    )
    .unwrap();
    let attached = format!(
        "faultd_xdp_attached{{iface=\"{}\",mode=\"native\"}}",
        veth.a
    );
    send_frames(&b, &veth.b, before).unwrap();
    d.scrape_until(|s| s.frames_seen() >= 15).unwrap();

    veth.delete().unwrap();
    d.scrape_until(|s| s.get(&attached) == Some(0.0)).unwrap();
    let gone = format!("{} is gone", veth.a);
    assert!(d.log().contains(&gone), "{}", d.log());

    veth.recreate(&a, &b, 1500).unwrap();
    d.scrape_until(|s| s.get(&attached) == Some(1.0)).unwrap();
    let back = format!("{} is back: attached again (native mode)", veth.a);
    assert!(d.log().contains(&back), "{}", d.log());
    assert!(has_xdp(&a, &veth.a), "the new interface carries faultd");

    send_frames(&b, &veth.b, after).unwrap();
    let s = d.scrape_until(|s| s.frames_seen() >= 40).unwrap();
    assert_eq!(s.frames_seen(), 40, "counting goes on in the same maps");
    let (status, log) = d.stop().unwrap();
    assert!(status.success(), "{log}");
    assert!(
        !has_xdp(&a, &veth.a),
        "stopping detaches the new attachment"
    );
    let _ = std::process::Command::new(FAULTD)
        .args(["detach", "--pin-path", pin.to_str().unwrap()])
        .output();
}
