//! Traffic that reaches faultd inside a tunnel or a port mirror (IP-in-IP, GRE with IP or
//! Ethernet, ERSPAN I-III, VXLAN) is the traffic it carries: every fault scenario and
//! every catalogue sample, carried each way, gives the same records and class counts as
//! bare, on both engines; tshark vouches that each carried frame is what it should be.

mod common;

use std::collections::BTreeMap;

use common::{BASE_NS, engines, faultd, replay};
use fault_tests::{
    TempPcap, catalogue, scenario,
    tshark::{self, class_counts},
    tunnel::{Tunnel, wrap},
};
use serde_json::Value;

fn carried(tunnel: Tunnel, frames: &[(u64, Vec<u8>)]) -> Vec<(u64, Vec<u8>)> {
    frames.iter().map(|(t, f)| (*t, wrap(tunnel, f))).collect()
}

fn tag(tunnel: Tunnel) -> String {
    format!("{tunnel:?}")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// `faultd classify --format json`'s class counts (zero counts left out), and malformed.
fn classify(pcap: &TempPcap, engine: &str) -> (BTreeMap<String, u64>, u64) {
    let path = pcap.path().to_str().unwrap();
    let (code, out, err) = faultd(&["classify", path, "--format", "json", "--engine", engine]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let classes = v["classes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect();
    (classes, v["malformed"].as_u64().unwrap())
}

fn catalogue_frames() -> Vec<(u64, Vec<u8>)> {
    catalogue()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (BASE_NS + i as u64 * 1_000_000, s.frame))
        .collect()
}

#[test]
fn every_scenario_through_every_tunnel_gives_the_same_records() {
    let bare = scenario::merged(&scenario::all(), BASE_NS, 1);
    let pcap = TempPcap::new("tunnels-bare", &bare).unwrap();
    let want = replay(pcap.path(), "user", &[]);
    assert!(
        want.len() > 20,
        "the scenarios give records: {}",
        want.len()
    );
    for tunnel in Tunnel::ALL {
        let pcap = TempPcap::new(&tag(tunnel), &carried(tunnel, &bare)).unwrap();
        for engine in engines() {
            let got = replay(pcap.path(), engine, &[]);
            assert_eq!(got.len(), want.len(), "{tunnel:?} ({engine} engine)");
            assert_eq!(got, want, "{tunnel:?} ({engine} engine)");
        }
    }
}

#[test]
fn every_sample_through_every_tunnel_counts_as_bare_and_as_tshark_says() {
    let bare = catalogue_frames();
    let pcap = TempPcap::new("tunnels-catalogue", &bare).unwrap();
    let (want, malformed) = classify(&pcap, "user");
    assert_eq!(malformed, 0);
    let tshark = tshark::available_or_skip("tunnels");
    // tshark's counts, not faultd's: on the bare catalogue the two differ where written
    // down (reassembled fragments, say), and carrying the frames must change neither.
    let tshark_counts = |pcap: &TempPcap| -> BTreeMap<String, u64> {
        class_counts(pcap.path())
            .into_iter()
            .map(|(c, n)| (c.to_owned(), n as u64))
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    let tshark_bare = if tshark {
        tshark_counts(&pcap)
    } else {
        BTreeMap::new()
    };
    for tunnel in Tunnel::ALL {
        let frames = carried(tunnel, &bare);
        let pcap = TempPcap::new(&tag(tunnel), &frames).unwrap();
        for engine in engines() {
            let got = classify(&pcap, engine);
            assert_eq!(got, (want.clone(), 0), "{tunnel:?} ({engine} engine)");
        }
        if !tshark {
            continue;
        }
        assert_eq!(
            tshark_counts(&pcap),
            tshark_bare,
            "{tunnel:?}: tshark's class counts"
        );
        // Every frame the tunnel took is decoded as that tunnel, and none as broken.
        let wrapped = frames.iter().zip(&bare).filter(|(w, b)| w.1 != b.1).count();
        if !tunnel.carries_ip_only() {
            assert_eq!(wrapped, frames.len());
        }
        assert_eq!(
            tshark::count(pcap.path(), tunnel.filter()),
            wrapped,
            "{tunnel:?}: `{}`",
            tunnel.filter()
        );
        let bad = "_ws.malformed || _ws.expert.severity >= error";
        assert_eq!(tshark::count(pcap.path(), bad), 0, "{tunnel:?}: {bad}");
    }
}

/// One level deep: a tunnel inside a tunnel is not followed (tshark does follow it, so
/// here faultd counts less than tshark, by design: each level costs the verifier a copy
/// of the header walk). PPTP's own GRE (version 1) stays `pptp.gre` when carried.
#[test]
fn a_tunnel_in_a_tunnel_is_not_followed_and_pptp_gre_stays_pptp() {
    let samples = catalogue();
    let nbns = samples
        .iter()
        .find(|s| s.classes.contains(&"nbns.registration"))
        .unwrap();
    let gre = samples.iter().find(|s| s.classes == ["pptp.gre"]).unwrap();
    let vxlan = Tunnel::Vxlan {
        outer_v6: false,
        vni: 1,
    };
    let teb = Tunnel::GreEthernet { outer_v6: false };
    let frames = vec![
        (BASE_NS, wrap(teb, &wrap(vxlan, &nbns.frame))),
        (BASE_NS + 1, wrap(vxlan, &gre.frame)),
        (BASE_NS + 2, wrap(Tunnel::Erspan1, &gre.frame)),
    ];
    let pcap = TempPcap::new("tunnel-in-tunnel", &frames).unwrap();
    for engine in engines() {
        let (classes, malformed) = classify(&pcap, engine);
        assert_eq!(malformed, 0);
        assert_eq!(
            classes,
            BTreeMap::from([("pptp.gre".to_owned(), 2)]),
            "{engine} engine"
        );
    }
    if tshark::available_or_skip("tunnel-in-tunnel") {
        assert_eq!(
            tshark::frames(pcap.path(), "nbns"),
            [1],
            "tshark follows it"
        );
    }
}
