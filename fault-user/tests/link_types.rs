//! The link types faultd reads besides Ethernet and Linux cooked (raw IP, Cisco HDLC, BSD
//! loopback), and pcapng files that mix in interfaces it does not read. The traffic is the
//! fault scenarios' (`fault_tests::scenario`), re-encapsulated for each link
//! (`fault_tests::link`); tshark vouches that each such capture holds what the Ethernet one
//! does, and `faultd classify` and `faultd replay` must then give what they give for the
//! Ethernet capture of the same frames, on both engines.

mod common;

use std::{collections::BTreeSet, path::Path};

use common::{BASE_NS, engines, faultd, replay};
use fault_tests::{
    TempPcap,
    link::{AF_INET6_BSD, AF_INET6_DARWIN, AF_INET6_FREEBSD, Link},
    pcap_bytes_of, pcapng_bytes, scenario, tshark,
};
use serde_json::Value;

/// Every link, and each way its header can be written.
fn links() -> Vec<Link> {
    let null = |little_endian, inet6| Link::Null {
        little_endian,
        inet6,
    };
    vec![
        Link::RawIp(101),
        Link::RawIp(12),
        Link::RawIp(14),
        Link::Ipv4,
        Link::Ipv6,
        Link::CiscoHdlc,
        null(true, AF_INET6_BSD),
        null(false, AF_INET6_DARWIN),
        null(true, AF_INET6_FREEBSD),
        Link::Loop,
    ]
}

/// `faultd classify --format json` on `path`: what it prints without the file name, and its
/// stderr.
#[track_caller]
fn classify(path: &Path, engine: &str) -> (Value, String) {
    let (file, json) = (path.to_str().unwrap(), "json");
    let args = ["classify", file, "--format", json, "--engine", engine];
    let (code, out, err) = faultd(&args);
    assert_eq!(code, 0, "faultd {args:?}: {err}");
    let mut json: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["file"], path.to_str().unwrap());
    json.as_object_mut().unwrap().remove("file");
    (json, err)
}

/// The fault families whose scenarios the link carries: only sms_ipv6 is IPv6, and NCP
/// needs IPX (in Ethernet II framing, the one with an EtherType).
fn families_carried(link: Link) -> BTreeSet<&'static str> {
    let ip = [
        "netbios_ip_connect_failure",
        "ras_port_leak",
        "sms_port_conflict",
        "wins_backup_swap",
    ];
    match link {
        Link::Ipv6 => ["sms_port_conflict"].into(),
        Link::RawIp(_) | Link::Ipv4 => ip.into(),
        Link::CiscoHdlc | Link::Null { .. } | Link::Loop => {
            ip.into_iter().chain(["ncp_wrong_socket"]).collect()
        }
    }
}

#[test]
fn every_link_gives_the_classes_and_records_of_the_ethernet_capture() {
    let test = "every_link_gives_the_classes_and_records_of_the_ethernet_capture";
    let with_tshark = tshark::available_or_skip(test);
    let frames = scenario::merged(&scenario::all(), BASE_NS, 1);
    for link in links() {
        let carried: Vec<_> = frames
            .iter()
            .filter_map(|(t, f)| Some(((*t, f.clone()), (*t, link.record(f)?))))
            .collect();
        let (eth, on_link): (Vec<_>, Vec<_>) = carried.into_iter().unzip();
        let tag = format!("link-{}", link.link_type());
        let eth = TempPcap::new(&format!("{tag}-ethernet"), &eth).unwrap();
        let bytes = pcap_bytes_of(link.link_type(), &on_link);
        let capture = TempPcap::with_bytes(&tag, "pcap", &bytes).unwrap();
        let path = capture.path();

        if with_tshark {
            let through_link = tshark::count(path, link.tshark_filter());
            assert_eq!(
                through_link,
                on_link.len(),
                "{link:?}: tshark reads the link"
            );
            let problems = tshark::count(path, tshark::PROBLEMS_FILTER);
            assert_eq!(problems, 0, "{link:?}: tshark finds problems");
            assert_eq!(
                tshark::class_counts(path),
                tshark::class_counts(eth.path()),
                "{link:?}: tshark counts the classes of the Ethernet capture"
            );
            if link.has_addresses() {
                let group = |p: &Path, f| tshark::count(p, f);
                assert_eq!(
                    group(path, "chdlc.address == 0x8f"),
                    group(eth.path(), "eth.dst.ig == 1"),
                    "{link:?}: broadcasts marked"
                );
            }
        }

        for engine in engines() {
            let what = format!("{link:?}, {engine} engine");
            let (got, err) = classify(path, engine);
            assert_eq!(got, classify(eth.path(), engine).0, "{what}");
            assert_eq!(
                got["frames"],
                on_link.len(),
                "{what}: every record is a frame"
            );
            assert_eq!(err, "", "{what}: nothing skipped, nothing to say");

            let want = replay(eth.path(), engine, &[]);
            let faults: BTreeSet<&str> =
                want.iter().map(|r| r["fault"].as_str().unwrap()).collect();
            assert_eq!(faults, families_carried(link), "{what}: records to compare");
            // Where the link has no addresses, nbstat_benign_broadcast's query to the
            // subnet's broadcast address reads as unicast; its NBNS broadcast flag still
            // keeps it from being reported.
            let got = replay(path, engine, &[]);
            assert_eq!(got, want, "{what}");
        }
    }
}

/// A frame of a Linux USB capture (LINKTYPE_USB_LINUX_MMAPPED): the 64-byte usbmon header of
/// a bulk-in completion, with `data` after it.
fn usb_frame(id: u64, data: &[u8]) -> Vec<u8> {
    let mut h = id.to_le_bytes().to_vec();
    h.extend([b'C', 3, 0x81, 2]); // event, transfer type (bulk), endpoint, device
    h.extend(1u16.to_le_bytes()); // bus
    h.extend([b'-', 0]); // no setup packet; data present
    h.extend(1_700_000_000u64.to_le_bytes());
    h.extend(0u32.to_le_bytes()); // microseconds
    h.extend(0i32.to_le_bytes()); // status
    let len = (data.len() as u32).to_le_bytes();
    h.extend(len); // URB length
    h.extend(len); // data captured
    h.resize(64, 0); // setup, interval, start frame, flags, descriptors
    h.extend_from_slice(data);
    h
}

const LINKTYPE_USB_LINUX_MMAPPED: u32 = 220;

#[test]
fn pcapng_with_a_usb_interface_reads_the_ethernet_one_and_says_what_it_skipped() {
    let test = "pcapng_with_a_usb_interface_reads_the_ethernet_one_and_says_what_it_skipped";
    let frames = scenario::merged(&scenario::all(), BASE_NS, 1);
    let mut mixed = Vec::new();
    let mut usb = 0;
    for (i, (t, f)) in frames.iter().enumerate() {
        mixed.push((0, *t, f.clone()));
        for j in 0..3 {
            mixed.push((1, *t + 1 + j, usb_frame(i as u64, &[0x5a; 31])));
            usb += 1;
        }
    }
    assert!(usb > 1000, "thousands separators are shown: {usb}");
    let eth_only: Vec<_> = frames.iter().map(|(t, f)| (0, *t, f.clone())).collect();
    let eth = TempPcap::with_bytes("ethernet", "pcapng", &pcapng_bytes(&[1], &eth_only)).unwrap();
    let both = [1, LINKTYPE_USB_LINUX_MMAPPED];
    let mixed = TempPcap::with_bytes("usb", "pcapng", &pcapng_bytes(&both, &mixed)).unwrap();

    if tshark::available_or_skip(test) {
        assert_eq!(
            tshark::count(mixed.path(), "usb"),
            usb,
            "tshark reads the USB packets"
        );
        assert_eq!(tshark::count(mixed.path(), "eth"), frames.len());
        assert_eq!(
            tshark::class_counts(mixed.path()),
            tshark::class_counts(eth.path())
        );
    }
    let note = format!(
        "faultd: {}: skipped {},{:03} frames of interfaces with link type 220 (USB), \
         which faultd does not read\n",
        mixed.path().display(),
        usb / 1000,
        usb % 1000
    );
    for engine in engines() {
        let (got, err) = classify(mixed.path(), engine);
        assert_eq!(
            got,
            classify(eth.path(), engine).0,
            "{engine}: stdout unchanged"
        );
        assert_eq!(err, note, "{engine}");
        let args = ["replay", mixed.path().to_str().unwrap(), "--engine", engine];
        let (code, out, err) = faultd(&args);
        assert_eq!((code, err.as_str()), (0, note.as_str()), "{engine}");
        let got: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!got.is_empty());
        assert_eq!(got, replay(eth.path(), engine, &[]), "{engine}");
    }
}

#[test]
fn a_pcapng_of_only_usb_interfaces_is_refused_like_a_usb_pcap() {
    let packets = [(0, BASE_NS, usb_frame(1, &[1; 8]))];
    let pcapng = pcapng_bytes(&[LINKTYPE_USB_LINUX_MMAPPED], &packets);
    let pcapng = TempPcap::with_bytes("usb-only", "pcapng", &pcapng).unwrap();
    let usb = [(BASE_NS, usb_frame(1, &[1; 8]))];
    let pcap = pcap_bytes_of(LINKTYPE_USB_LINUX_MMAPPED, &usb);
    let pcap = TempPcap::with_bytes("usb-only", "pcap", &pcap).unwrap();
    for (t, at) in [(&pcapng, 28), (&pcap, 0)] {
        for command in ["classify", "replay"] {
            let (code, out, err) = faultd(&[command, t.path().to_str().unwrap()]);
            assert_eq!((code, out.as_str()), (2, ""), "{command}: {err}");
            let want = format!(
                "faultd: {}: unsupported link type 220 (USB) declared at byte {at}\n",
                t.path().display()
            );
            assert_eq!(err, want, "{command}");
        }
    }
}

/// A raw IP record that is neither IPv4 nor IPv6 is a frame faultd counts and does not
/// classify; the capture reads on.
#[test]
fn a_raw_ip_record_of_another_version_is_counted_not_classified() {
    let frames = scenario::merged(&scenario::sms(), BASE_NS, 1);
    let mut records: Vec<_> = frames
        .iter()
        .filter_map(|(t, f)| Some((*t, Link::RawIp(101).record(f)?)))
        .collect();
    let n = records.len();
    let want_classes = {
        let t = TempPcap::with_bytes("raw", "pcap", &pcap_bytes_of(101, &records)).unwrap();
        classify(t.path(), "user").0["classes"].clone()
    };
    records.insert(n / 2, (records[n / 2].0, vec![0x50; 40]));
    let t = TempPcap::with_bytes("raw-odd", "pcap", &pcap_bytes_of(101, &records)).unwrap();
    for engine in engines() {
        let (got, _) = classify(t.path(), engine);
        assert_eq!(got["frames"], n + 1, "{engine}");
        assert_eq!(got["malformed"], 0, "{engine}");
        assert_eq!(got["classes"], want_classes, "{engine}");
    }
}
