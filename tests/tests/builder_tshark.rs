//! The frame builder judged by tshark: every catalogue sample lands in exactly its classes,
//! the important fields decode to what was built, checksums verify and nothing is malformed.

use fault_tests::eth::lcp_echo_request;
use fault_tests::ip::{Bare, ICMP_PORT_UNREACHABLE, PROTO_GRE, quote_ipv4};
use fault_tests::ipx::{self, Encap, IpxAddr, SapEntry};
use fault_tests::netbios::{NbName, NbRecord, nbdgm, nbns, nbss};
use fault_tests::tshark::{self, CHECKSUM_PREFS, PROBLEMS_FILTER};
use fault_tests::{Carrier, Eth, Network, Sample, TempPcap, catalogue, l2tp, ncp, pptp};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

const A_MAC: [u8; 6] = [0x00, 0x0C, 0x29, 0x0A, 0x0A, 0x0A];
const B_MAC: [u8; 6] = [0x00, 0x0C, 0x29, 0x0B, 0x0B, 0x0B];
const A: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 3);
const B: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 200);
const A6: Ipv6Addr = Ipv6Addr::new(0xFD00, 0, 0, 0, 0, 0, 0, 3);
const B6: Ipv6Addr = Ipv6Addr::new(0xFD00, 0, 0, 0, 0, 0, 0, 200);

/// Frames 1 ms apart from a fixed epoch, in order.
fn timed(frames: impl IntoIterator<Item = Vec<u8>>) -> Vec<(u64, Vec<u8>)> {
    const START_NS: u64 = 1_700_000_000_000_000_000;
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| (START_NS + i as u64 * 1_000_000, f))
        .collect()
}

fn catalogue_pcap() -> (Vec<Sample>, TempPcap) {
    let samples = catalogue();
    let pcap = TempPcap::new("catalogue", &timed(samples.iter().map(|s| s.frame.clone())))
        .expect("write catalogue pcap");
    (samples, pcap)
}

#[test]
fn catalogue_classes_match_tshark() {
    if !tshark::available_or_skip("catalogue_classes_match_tshark") {
        return;
    }
    let started = Instant::now();
    let (samples, pcap) = catalogue_pcap();
    let mut seen = vec![BTreeSet::new(); samples.len()];
    for (class, frames) in tshark::class_frames(pcap.path()) {
        for f in frames {
            seen[f as usize - 1].insert(class);
        }
    }
    let wrong: Vec<String> = samples
        .iter()
        .zip(&seen)
        .enumerate()
        .filter_map(|(i, (s, got))| {
            let want: BTreeSet<&str> = s.classes.iter().copied().collect();
            (want != *got).then(|| {
                format!(
                    "  {} (frame {}): expected {want:?}, tshark says {got:?}",
                    s.name,
                    i + 1
                )
            })
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} samples are not in the classes the catalogue claims:\n{}",
        wrong.len(),
        samples.len(),
        wrong.join("\n")
    );
    eprintln!(
        "{} samples × {} class filters checked with tshark in {:.1?}",
        samples.len(),
        tshark::CLASS_FILTERS.len(),
        started.elapsed()
    );
}

/// Expert errors (bad checksums included, with validation on) and malformed frames.
fn problems(pcap: &TempPcap) -> Vec<(usize, String)> {
    let rows = tshark::fields_with_prefs(
        pcap.path(),
        PROBLEMS_FILTER,
        &["frame.number", "_ws.expert.message"],
        CHECKSUM_PREFS,
    );
    rows.into_iter()
        .map(|r| (r[0].parse().expect("frame number"), r[1].clone()))
        .collect()
}

#[test]
fn catalogue_is_well_formed_with_good_checksums() {
    if !tshark::available_or_skip("catalogue_is_well_formed_with_good_checksums") {
        return;
    }
    let (samples, pcap) = catalogue_pcap();
    let name = |frame: usize| samples[frame - 1].name;
    let bad: Vec<String> = problems(&pcap)
        .into_iter()
        .map(|(f, msg)| format!("  {} (frame {f}): {msg}", name(f)))
        .collect();
    assert!(
        bad.is_empty(),
        "malformed or erroneous frames:\n{}",
        bad.join("\n")
    );

    // Status 1 = good, 0 = bad, 2 = unverified (a quoted, truncated datagram).
    const STATUS: [&str; 5] = [
        "ip.checksum.status",
        "udp.checksum.status",
        "tcp.checksum.status",
        "icmp.checksum.status",
        "icmpv6.checksum.status",
    ];
    let columns: Vec<&str> = ["frame.number", "icmp", "icmpv6"]
        .into_iter()
        .chain(STATUS)
        .collect();
    let rows = tshark::fields_with_prefs(pcap.path(), "", &columns, CHECKSUM_PREFS);
    assert_eq!(
        rows.len(),
        samples.len(),
        "tshark read a different number of frames"
    );
    let mut verified = [0; STATUS.len()];
    for row in &rows {
        let frame: usize = row[0].parse().unwrap();
        let quoting = !row[1].is_empty() || !row[2].is_empty();
        for (i, statuses) in row[3..].iter().enumerate() {
            for status in statuses.split(',').filter(|s| !s.is_empty()) {
                // A quoted, truncated datagram cannot be verified; nothing may be bad.
                let ok = status == "1" || (quoting && status == "2");
                assert!(
                    ok,
                    "{} (frame {frame}): {} = {statuses}",
                    name(frame),
                    STATUS[i]
                );
                verified[i] += usize::from(status == "1");
            }
        }
    }
    for (field, n) in STATUS.iter().zip(verified) {
        assert!(n > 0, "no frame had {field} verified as good");
    }
}

/// Guards the check above against passing vacuously: a broken checksum must be reported.
#[test]
fn problems_filter_catches_a_bad_checksum() {
    if !tshark::available_or_skip("problems_filter_catches_a_bad_checksum") {
        return;
    }
    let good = Eth::new(A_MAC, B_MAC)
        .ipv4(A, B)
        .udp(40000, 40001)
        .payload(&[0; 4]);
    let mut bad = good.clone();
    bad[24] ^= 0xFF; // IPv4 header checksum
    let pcap = TempPcap::new("bad-checksum", &timed([good, bad])).unwrap();
    let found: Vec<usize> = problems(&pcap).into_iter().map(|(f, _)| f).collect();
    assert_eq!(found, [2]);
}

/// Field expectations for one frame: tshark prints every occurrence, joined with ','.
struct Check {
    what: String,
    frame: Vec<u8>,
    fields: Vec<(&'static str, Want)>,
}

enum Want {
    /// The whole value (all occurrences).
    Is(String),
    /// The first occurrence.
    First(String),
    /// A substring (e.g. bytes inside a hex dump).
    Has(String),
    /// The first occurrence of a NetBIOS name, without the description tshark appends to
    /// names in resource records (" (Workstation/Redirector)").
    Name(String),
}

fn is(field: &'static str, v: impl ToString) -> (&'static str, Want) {
    (field, Want::Is(v.to_string()))
}

fn first(field: &'static str, v: impl ToString) -> (&'static str, Want) {
    (field, Want::First(v.to_string()))
}

fn has(field: &'static str, v: impl ToString) -> (&'static str, Want) {
    (field, Want::Has(v.to_string()))
}

fn nb_name(field: &'static str, n: &NbName) -> (&'static str, Want) {
    (field, Want::Name(ws_name(n)))
}

fn check(what: impl ToString, frame: Vec<u8>, fields: Vec<(&'static str, Want)>) -> Check {
    Check {
        what: what.to_string(),
        frame,
        fields,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How tshark prints a NetBIOS name: lower-case hex suffix.
fn ws_name(n: &NbName) -> String {
    format!("{}<{:02x}>", n.name, n.suffix)
}

fn netbios_checks() -> Vec<Check> {
    let mut checks = Vec::new();
    let names = [
        NbName::new("WIN-HCEGSPNCVSK", 0x00),
        NbName::new("SYNERITY", 0x1D),
        NbName::new("DTW4", 0x20),
        NbName::new("X", 0x43),
        NbName::new("WORKGROUP", 0x1E),
    ];
    let to_b = || Eth::new(A_MAC, B_MAC);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(NbName::decode(&name.encode()).as_ref(), Some(name));
        let id = 0x7000 + i as u16;
        let rec = NbRecord::new(name.clone(), A)
            .nb_flags(nbns::ONT_B | nbns::NB_GROUP)
            .ttl(600);
        let links: [(&str, Vec<u8>); 4] = [
            (
                "plain",
                to_b()
                    .ipv4(A, B)
                    .udp(137, 137)
                    .payload(&nbns::registration(id, &rec, false)),
            ),
            (
                "qinq",
                to_b()
                    .qinq(5, 6)
                    .ipv4(A, B)
                    .udp(137, 137)
                    .payload(&nbns::registration(id, &rec, true)),
            ),
            (
                "ipv6+ext",
                to_b()
                    .ipv6(A6, B6)
                    .hop_by_hop()
                    .fragment(0, false, 9)
                    .udp(137, 137)
                    .payload(&nbns::registration(id, &rec, false)),
            ),
            (
                "pppoe",
                to_b()
                    .pppoe(3)
                    .ipv4(A, B)
                    .udp(137, 137)
                    .payload(&nbns::multihomed_registration(id, &rec)),
            ),
        ];
        let flags = ["0x2900", "0x2910", "0x2900", "0x7900"];
        for ((link, frame), flags) in links.into_iter().zip(flags) {
            checks.push(check(
                format!("registration of {name} ({link})"),
                frame,
                vec![
                    is("nbns.id", format!("{id:#06x}")),
                    is("nbns.flags", flags),
                    nb_name("nbns.name", name),
                    is("nbns.addr", A),
                    is("nbns.nb_flags", "0x8000"),
                    is("nbns.ttl", 600),
                    is("nbns.count.queries", 1),
                    is("nbns.count.add_rr", 1),
                ],
            ));
        }
    }

    let rec = NbRecord::new(names[1].clone(), B);
    let to_a = || Eth::new(B_MAC, A_MAC).ipv4(B, A).udp(137, 137);
    let nbns_checks = [
        (
            "negative registration response",
            nbns::registration_response(0x80DA, &rec, nbns::RCODE_ACT_ERR),
            "0xad86",
        ),
        (
            "positive registration response",
            nbns::registration_response(0x80DB, &rec, 0),
            "0xad80",
        ),
        (
            "release response",
            nbns::release_response(0x80DC, &rec, 0),
            "0xb400",
        ),
        (
            "refresh response",
            nbns::refresh_response(0x80DD, &rec, 0),
            "0xc580",
        ),
    ];
    for (what, message, flags) in nbns_checks {
        let id = format!("{:#06x}", u16::from_be_bytes([message[0], message[1]]));
        checks.push(check(
            what,
            to_a().payload(&message),
            vec![
                is("nbns.id", id),
                is("nbns.flags", flags),
                nb_name("nbns.name", &rec.name),
                is("nbns.addr", B),
                is("nbns.nb_flags", "0x6000"),
                is("nbns.ttl", 300_000),
                is("nbns.count.answers", 1),
            ],
        ));
    }
    checks.push(check(
        "query response",
        to_a().payload(&nbns::query_response(
            0x1111,
            &names[2],
            60,
            &[(nbns::ONT_H, B), (nbns::ONT_H, A)],
        )),
        vec![
            is("nbns.flags", "0x8500"),
            is("nbns.addr", format!("{B},{A}")),
        ],
    ));
    checks.push(check(
        "negative query response",
        to_a().payload(&nbns::negative_query_response(
            0x1112,
            &names[2],
            nbns::RCODE_NAM_ERR,
        )),
        vec![is("nbns.flags", "0x8503"), is("nbns.type", 10)],
    ));
    checks.push(check(
        "wack",
        to_a().payload(&nbns::wack(0x1113, &names[0], 2, 0x2900)),
        vec![is("nbns.flags", "0xbc00,0x2900"), is("nbns.ttl", 2)],
    ));
    let request = nbns::nbstat_request(0x8028, &NbName::wildcard(), false);
    checks.push(check(
        "nbstat request",
        Eth::new(A_MAC, B_MAC)
            .ipv4(A, B)
            .udp(137, 137)
            .payload(&request),
        vec![
            is("nbns.flags", "0x0000"),
            is("nbns.type", 33),
            first("nbns.name", format!("*{}", "<00>".repeat(15))),
        ],
    ));
    let table = [(names[2].clone(), 0x4400), (names[4].clone(), 0xC400)];
    checks.push(check(
        "nbstat response",
        to_a().payload(&nbns::nbstat_response(
            0x8028,
            &NbName::wildcard(),
            &table,
            B_MAC,
        )),
        vec![
            is("nbns.flags", "0x8400"),
            is("nbns.number_of_names", 2),
            is("nbns.netbios_name", "DTW4,WORKGROUP"),
            is("nbns.name_flags", "0x4400,0xc400"),
            is("nbns.unit_id", "00:0c:29:0b:0b:0b"),
        ],
    ));

    let dgm = nbdgm::direct_group(0x4242, A, 138, &names[0], &names[4], b"hi");
    checks.push(check(
        "direct group datagram",
        Eth::new(A_MAC, B_MAC)
            .ipv4(A, B)
            .udp(138, 138)
            .payload(&dgm),
        vec![
            is("nbdgm.type", 17),
            is("nbdgm.dgram_id", "0x4242"),
            is("nbdgm.src.ip", A),
            is("nbdgm.source_name", ws_name(&names[0])),
            is("nbdgm.destination_name", ws_name(&names[4])),
        ],
    ));

    let session = |port: u16, data: &[u8]| {
        Eth::new(A_MAC, B_MAC)
            .ipv4(A, B)
            .tcp(port, 139)
            .payload(data)
    };
    let smbserver = nbss::smbserver();
    checks.push(check(
        "session request",
        session(40001, &nbss::session_request(&smbserver, &names[0])),
        vec![
            is("nbss.type", "0x81"),
            is("nbss.length", 68),
            is("nbss.called_name", ws_name(&smbserver)),
            is("nbss.calling_name", ws_name(&names[0])),
        ],
    ));
    checks.push(check(
        "negative session response",
        session(40002, &nbss::negative_response(nbss::CALLED_NOT_PRESENT)),
        vec![is("nbss.type", "0x83"), is("nbss.error_code", "0x82")],
    ));
    checks.push(check(
        "retarget session response",
        session(40003, &nbss::retarget_response(B, 1139)),
        vec![
            is("nbss.retarget_ip_address", B),
            is("nbss.retarget_port", 1139),
        ],
    ));
    checks
}

fn ipx_checks() -> Vec<Check> {
    let client = IpxAddr::new(0x0001_0123, A_MAC, 0x4003);
    let server = IpxAddr::new(0x0BAD_CAFE, [0, 0, 0, 0, 0, 1], ipx::SOCKET_NCP);
    let advertised = server.with_socket(0x4018);
    let (conn, task) = (0x0203, 4);
    let mut checks = Vec::new();
    for encap in Encap::ALL {
        let to_server = |data: &[u8]| {
            Eth::new(A_MAC, B_MAC)
                .ipx(encap, client, server)
                .payload(data)
        };
        let to_client = |data: &[u8]| {
            Eth::new(B_MAC, A_MAC)
                .ipx(encap, server, client)
                .payload(data)
        };
        checks.push(check(
            format!("NCP create ({encap:?})"),
            to_server(&ncp::create_connection(0, task)),
            vec![
                is("ipx.src", "00010123.000c290a0a0a"),
                is("ipx.dst", "0badcafe.000000000001"),
                is("ipx.packet_type", "0x11"),
                is("ipx.len", 37),
                is("ncp.type", "0x1111"),
                is("ncp.seq", 0),
                is("ncp.connection", 65535),
                is("ncp.task", task),
            ],
        ));
        let rpv = ncp::read_property_value(
            1,
            conn,
            task,
            ncp::OBJECT_FILE_SERVER,
            "FS1",
            1,
            "NET_ADDRESS",
        );
        checks.push(check(
            format!("NCP Read Property Value ({encap:?})"),
            to_server(&rpv),
            vec![
                is("ncp.type", "0x2222"),
                is("ncp.seq", 1),
                is("ncp.connection", conn),
                is("ncp.func", "0x17"),
                is("ncp.subfunc", 61),
                is("ncp.object_type", "0x0004"),
                is("ncp.object_name", "FS1"),
                is("ncp.property_segment", 1),
                is("ncp.property_name", "NET_ADDRESS"),
            ],
        ));
        let value = ncp::net_address(&advertised);
        checks.push(check(
            format!("NCP Read Property Value reply ({encap:?})"),
            to_client(&ncp::read_property_value_reply(
                1, conn, task, &value, false, 0,
            )),
            vec![
                is("ncp.type", "0x3333"),
                is("ncp.seq", 1),
                is("ncp.connection", conn),
                is("ncp.completion_code", "0x00"),
                is("ncp.connection_status", 0),
                has("ncp.property_data", hex(&value)),
                is("ncp.property_has_more_segments", "0x00"),
            ],
        ));
        checks.push(check(
            format!("NCP destroy ({encap:?})"),
            to_server(&ncp::destroy_connection(2, conn, task)),
            vec![
                is("ncp.type", "0x5555"),
                is("ncp.seq", 2),
                is("ncp.connection", conn),
            ],
        ));
    }

    let entries: Vec<SapEntry> = [("FS1", advertised, 1), ("LANTEGRITY-STANDIN", server, 16)]
        .into_iter()
        .map(|(name, addr, hops)| SapEntry {
            server_type: ipx::SAP_FILE_SERVER,
            name,
            addr,
            hops,
        })
        .collect();
    let sap = Eth::new(B_MAC, A_MAC)
        .vlan(7)
        .ipx(Encap::Llc, server.with_socket(ipx::SOCKET_SAP), client)
        .payload(&ipx::sap_response(false, &entries));
    checks.push(check(
        "SAP general response",
        sap,
        vec![
            is("ipxsap.packet_type", 2),
            is("ipxsap.server.type", "0x0004,0x0004"),
            is("ipxsap.server.name", "FS1,LANTEGRITY-STANDIN"),
            is("ipxsap.server.network", "0x0badcafe,0x0badcafe"),
            is("ipxsap.server.node", "00:00:00:00:00:01,00:00:00:00:00:01"),
            is("ipxsap.server.socket", "0x4018,0x0451"),
            is("ipxsap.server.intermediate_networks", "1,16"),
        ],
    ));
    let query = Eth::new(A_MAC, [0xFF; 6])
        .ipx(
            Encap::Raw8023,
            client,
            IpxAddr::new(0, [0xFF; 6], ipx::SOCKET_SAP),
        )
        .payload(&ipx::sap_query(true, ipx::SAP_FILE_SERVER));
    checks.push(check(
        "SAP nearest query",
        query,
        vec![
            is("ipxsap.packet_type", 3),
            is("ipx.dst.socket", "0x0452"),
            is("ipx.packet_type", "0x04"),
        ],
    ));
    let rip = Eth::new(B_MAC, A_MAC)
        .ipx(
            Encap::Snap,
            server.with_socket(ipx::SOCKET_RIP),
            client.with_socket(ipx::SOCKET_RIP),
        )
        .payload(&ipx::rip_response(&[(0x0BAD_CAFE, 1, 2), (0x10, 3, 4)]));
    checks.push(check(
        "RIP response",
        rip,
        vec![
            is("ipxrip.packet_type", 2),
            is("ipxrip.route_vector", "0x0badcafe,0x00000010"),
            is("ipxrip.hops", "1,3"),
            is("ipxrip.ticks", "2,4"),
        ],
    ));

    let read = ncp::request(
        0x9B,
        42,
        3,
        0x48,
        &[0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 4],
    );
    let frame = Eth::new(A_MAC, B_MAC)
        .ipv4(A, B)
        .tcp(40100, ncp::NCPIP_PORT)
        .payload(&ncp::ncpip_request(&read));
    checks.push(check(
        "NCP/IP request",
        frame,
        vec![
            is("ncp.type", "0x2222"),
            is("ncp.seq", 155),
            is("ncp.connection", 42),
            is("ncp.func", "0x48"),
        ],
    ));
    checks
}

fn tunnel_checks() -> Vec<Check> {
    let mut port = 40200;
    let mut control = |from_client: bool, message: Vec<u8>| {
        port += 1;
        if from_client {
            Eth::new(A_MAC, B_MAC)
                .ipv4(A, B)
                .tcp(port, pptp::PORT)
                .payload(&message)
        } else {
            Eth::new(B_MAC, A_MAC)
                .ipv4(B, A)
                .tcp(pptp::PORT, port)
                .payload(&message)
        }
    };
    let mut checks = vec![
        check(
            "OCRQ",
            control(true, pptp::ocrq(0x0101, 9)),
            vec![
                is("pptp.length", 168),
                is("pptp.magic_cookie", "0x1a2b3c4d"),
                is("pptp.control_message_type", 7),
                is("pptp.call_id", 0x0101),
                is("pptp.call_serial_number", 9),
            ],
        ),
        check(
            "OCRP",
            control(false, pptp::ocrp(0x0202, 0x0101, pptp::OCRP_BUSY, 0, 0)),
            vec![
                is("pptp.length", 32),
                is("pptp.call_id", 0x0202),
                is("pptp.peer_call_id", 0x0101),
                is("pptp.out_result", 4),
            ],
        ),
        check(
            "CCRQ",
            control(true, pptp::ccrq(0x0101)),
            vec![
                is("pptp.control_message_type", 12),
                is("pptp.call_id", 0x0101),
            ],
        ),
        check(
            "CDN",
            control(false, pptp::cdn(0x0202, pptp::CDN_REQUEST, 0, 0)),
            vec![
                is("pptp.length", 148),
                is("pptp.control_message_type", 13),
                is("pptp.call_id", 0x0202),
                is("pptp.disc_result", 4),
            ],
        ),
        // tshark decodes only the first PPTP message of a segment (one occurrence of each
        // field): faultd's tests check the later ones in the bytes, as here.
        check(
            "SLI and CCRQ in one segment",
            control(
                true,
                pptp::concat(&[&pptp::sli(0x0202), &pptp::ccrq(0x0101)]),
            ),
            vec![
                is("pptp.length", 24),
                is("pptp.control_message_type", 15),
                is("pptp.peer_call_id", 0x0202),
                is("tcp.len", 40),
                // The SLI (24 bytes), then at offset 24 the CCRQ: Length 16, control message,
                // magic cookie, type 12, reserved, call id 0x0101, reserved.
                is(
                    "tcp.payload",
                    concat!(
                        "001800011a2b3c4d000f000002020000ffffffffffffffff",
                        "001000011a2b3c4d000c000001010000"
                    ),
                ),
            ],
        ),
        check(
            "SCCRP",
            control(false, pptp::sccrp(pptp::RESULT_OK, 0, "ras", "Microsoft")),
            vec![
                is("pptp.control_result", 1),
                is("pptp.host_name", "ras"),
                is("pptp.vendor_name", "Microsoft"),
            ],
        ),
    ];
    let ppp = lcp_echo_request(1, 0x0BAD_BEEF);
    let gre = pptp::gre(0x0202, Some(17), Some(16), &ppp);
    checks.push(check(
        "GRE",
        Eth::new(A_MAC, B_MAC).ipv4(A, B).raw(PROTO_GRE, &gre),
        vec![
            is("gre.flags_and_version", "0x3081"),
            is("gre.proto", "0x880b"),
            is("gre.key.payload_length", ppp.len()),
            is("gre.key.call_id", 0x0202),
            is("gre.sequence_number", 17),
            is("gre.ack_number", 16),
        ],
    ));
    let sccrq = l2tp::sccrq("lac", 77);
    checks.push(check(
        "L2TP SCCRQ in PPPoE",
        Eth::new(A_MAC, B_MAC)
            .pppoe(9)
            .ipv4(A, B)
            .udp(l2tp::PORT, l2tp::PORT)
            .payload(&sccrq),
        vec![
            is("l2tp.type", 1),
            is("l2tp.length", sccrq.len()),
            is("l2tp.tunnel", 0),
            is("l2tp.avp.message_type", 1),
            is("l2tp.avp.assigned_tunnel_id", 77),
        ],
    ));
    let data = l2tp::data(77, 5, &ppp);
    checks.push(check(
        "L2TP data",
        Eth::new(A_MAC, B_MAC)
            .ipv4(A, B)
            .udp(l2tp::PORT, l2tp::PORT)
            .payload(&data),
        vec![
            is("l2tp.type", 0),
            is("l2tp.tunnel", 77),
            is("l2tp.session", 5),
        ],
    ));
    checks
}

fn icmp_checks() -> Vec<Check> {
    let quoted = Bare
        .ipv4(A, B)
        .options(&[0x94, 0x04, 0, 0])
        .udp(137, 137)
        .payload(&nbns::nbstat_request(0x8028, &NbName::wildcard(), false));
    let icmp = |quoted: &[u8]| {
        Eth::new(B_MAC, A_MAC)
            .ipv4(B, A)
            .icmp_unreachable(ICMP_PORT_UNREACHABLE, quoted)
    };
    let quoted6 = Bare.ipv6(A6, B6).udp(50000, 1762).payload(b"x");
    vec![
        check(
            "ICMP quoting an optioned NBSTAT datagram, 8 bytes",
            icmp(quote_ipv4(&quoted, 8)),
            vec![
                is("icmp.type", 3),
                is("icmp.code", 3),
                is("ip.src", format!("{B},{A}")),
                is("ip.hdr_len", "20,24"),
                is("udp.dstport", 137),
            ],
        ),
        check(
            "ICMP quoting a whole NBSTAT datagram",
            icmp(&quoted),
            vec![is("udp.length", 58), is("nbns.id", "0x8028")],
        ),
        check(
            "ICMPv6 quoting UDP 1762",
            Eth::new(B_MAC, A_MAC)
                .ipv6(B6, A6)
                .icmp6_unreachable(4, &quoted6),
            vec![
                is("icmpv6.type", 1),
                is("icmpv6.code", 4),
                is("udp.dstport", 1762),
            ],
        ),
    ]
}

#[test]
fn builders_decode_as_built() {
    if !tshark::available_or_skip("builders_decode_as_built") {
        return;
    }
    let checks: Vec<Check> = [
        netbios_checks(),
        ipx_checks(),
        tunnel_checks(),
        icmp_checks(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut fields: Vec<&str> = checks
        .iter()
        .flat_map(|c| c.fields.iter().map(|(f, _)| *f))
        .collect();
    fields.sort_unstable();
    fields.dedup();
    let pcap = TempPcap::new("fields", &timed(checks.iter().map(|c| c.frame.clone()))).unwrap();
    let rows = tshark::fields(pcap.path(), "", &fields);
    assert_eq!(rows.len(), checks.len());

    let mut wrong = Vec::new();
    for (c, row) in checks.iter().zip(&rows) {
        for (field, want) in &c.fields {
            let got = &row[fields.iter().position(|f| f == field).unwrap()];
            let ok = match want {
                Want::Is(v) => got == v,
                Want::First(v) => got.split(',').next() == Some(v.as_str()),
                Want::Has(v) => got.contains(v.as_str()),
                Want::Name(v) => {
                    let first = got.split(',').next().unwrap_or_default();
                    first.split(" (").next() == Some(v.as_str())
                }
            };
            if !ok {
                let want = match want {
                    Want::Is(v) => v.clone(),
                    Want::First(v) => format!("{v},…"),
                    Want::Has(v) => format!("…{v}…"),
                    Want::Name(v) => format!("{v},…"),
                };
                wrong.push(format!(
                    "  {}: {field} = {got:?}, expected {want:?}",
                    c.what
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "tshark decodes differently:\n{}",
        wrong.join("\n")
    );

    let bad = problems(&pcap);
    assert!(
        bad.is_empty(),
        "malformed or erroneous frames: {:?}",
        bad.iter()
            .map(|(f, m)| format!("{} ({m})", checks[f - 1].what))
            .collect::<Vec<_>>()
    );
}
