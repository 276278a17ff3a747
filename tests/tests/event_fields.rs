//! Every field of every event the XDP program emits for the catalogue, compared with
//! tshark's decoding of the same frame: the XDP parser and Wireshark's dissectors were
//! written independently, so agreement means the fields are right.

use std::collections::BTreeMap;

use fault_common::parse::PPTP_MAX_MESSAGES;
use fault_common::{
    Event,
    event::{NAME_OK, NCP_HAS_REPLY_VALUE, NCP_HAS_RPV_REQUEST, NCP_HAS_SUBFUNCTION, RR_OK},
};
use fault_tests::{TempPcap, tshark};
use fault_user::{
    engine::{self, EngineKind},
    names,
};

const FIELDS: &[&str] = &[
    "frame.number",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "nbns.id",
    "nbns.flags",
    "nbns.name",
    "nbns.addr",
    "nbns.ttl",
    "nbss.type",
    "nbss.called_name",
    "nbss.calling_name",
    "nbss.error_code",
    "nbss.retarget_ip_address",
    "nbss.retarget_port",
    "ncp.type",
    "ncp.seq",
    "ncp.connection",
    "ncp.task",
    "ncp.func",
    "ncp.subfunc",
    "ncp.completion_code",
    "ncp.connection_status",
    "ncp.object_name",
    "ncp.property_name",
    "ncp.property_segment",
    "ncp.property_data",
    "ipxsap.server.type",
    "ipxsap.server.name",
    "ipxsap.server.network",
    "ipxsap.server.node",
    "ipxsap.server.socket",
    "ipxsap.server.intermediate_networks",
    "pptp.control_message_type",
    "pptp.call_id",
    "pptp.peer_call_id",
    "pptp.out_result",
    "pptp.disc_result",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
    "tcp.payload",
];

/// One frame's tshark fields: name -> every occurrence.
type Decoded = BTreeMap<&'static str, Vec<String>>;

fn num(s: &str) -> u64 {
    let s = s.trim();
    s.strip_prefix("0x").map_or_else(
        || s.parse().unwrap(),
        |h| u64::from_str_radix(h, 16).unwrap(),
    )
}

/// tshark writes `NAME<1d>` (lower-case suffix), appends a description to record names, and
/// spells each NUL of the wildcard's padding (`*<00><00>…`); docs/faults.md's form trims
/// padding, so the wildcard is `*<00>`.
fn tshark_name(s: &str) -> String {
    let s = s.split(" (").next().unwrap();
    if let Some(rest) = s.strip_prefix('*')
        && !rest.is_empty()
        && rest.split("<00>").all(str::is_empty)
    {
        return "*<00>".into();
    }
    match s.rfind('<') {
        Some(i) => format!("{}{}", &s[..i], s[i..].to_uppercase()),
        None => s.to_string(),
    }
}

struct Check<'a> {
    frame: u64,
    kind: &'static str,
    d: &'a Decoded,
    failures: Vec<String>,
}

impl Check<'_> {
    fn field(&self, name: &str, occurrence: usize) -> Option<&str> {
        self.d
            .get(name)?
            .get(occurrence)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
    #[track_caller]
    fn eq(&mut self, name: &str, occurrence: usize, ours: String, norm: fn(&str) -> String) {
        match self.field(name, occurrence) {
            Some(theirs) if norm(theirs) == ours => {}
            theirs => self.failures.push(format!(
                "frame {} {}: {name}[{occurrence}]: faultd {ours:?}, tshark {theirs:?}",
                self.frame, self.kind
            )),
        }
    }
    #[track_caller]
    fn num(&mut self, name: &str, occurrence: usize, ours: u64) {
        self.eq(name, occurrence, ours.to_string(), |s| num(s).to_string());
    }
}

fn same(s: &str) -> String {
    s.to_string()
}

fn check(ev: &Event, c: &mut Check) {
    let h = &ev.hdr;
    match h.family {
        4 => {
            c.eq("ip.src", 0, names::host(4, &h.src, 0), same);
            c.eq("ip.dst", 0, names::host(4, &h.dst, 0), same);
        }
        6 => {
            c.eq("ipv6.src", 0, names::host(6, &h.src, 0), same);
            c.eq("ipv6.dst", 0, names::host(6, &h.dst, 0), same);
        }
        _ => {}
    }
    if let Some(b) = ev.nbns() {
        c.num("udp.srcport", 0, h.sport.into());
        c.num("udp.dstport", 0, h.dport.into());
        c.num("nbns.id", 0, b.txid.into());
        c.num("nbns.flags", 0, b.flags.into());
        if b.name_status == NAME_OK {
            c.eq("nbns.name", 0, names::netbios_name(&b.name), tshark_name);
        }
        if b.rr_status == RR_OK {
            c.eq("nbns.addr", 0, names::host(4, &v4(b.nb_addr), 0), same);
            c.num("nbns.ttl", 0, b.ttl.into());
        }
    } else if let Some(b) = ev.nbss() {
        c.num("tcp.srcport", 0, h.sport.into());
        c.num("nbss.type", 0, b.msg_type.into());
        if b.names & 1 != 0 {
            c.eq(
                "nbss.called_name",
                0,
                names::netbios_name(&b.called),
                tshark_name,
            );
        }
        if b.names & 2 != 0 {
            c.eq(
                "nbss.calling_name",
                0,
                names::netbios_name(&b.calling),
                tshark_name,
            );
        }
        if b.msg_type == 0x83 {
            c.num("nbss.error_code", 0, b.error.into());
        }
        if b.msg_type == 0x84 {
            c.eq(
                "nbss.retarget_ip_address",
                0,
                names::host(4, &v4(b.retarget_ip), 0),
                same,
            );
            c.num("nbss.retarget_port", 0, b.retarget_port.into());
        }
    } else if let Some(b) = ev.ncp() {
        c.num("ncp.type", 0, b.req_type.into());
        c.num("ncp.seq", 0, b.seq.into());
        c.num("ncp.task", 0, b.task.into());
        c.num(
            "ncp.connection",
            0,
            (b.conn_low as u64) | (b.conn_high as u64) << 8,
        );
        if b.req_type == 0x3333 {
            c.num("ncp.completion_code", 0, b.function.into());
            c.num("ncp.connection_status", 0, b.status.into());
        } else if b.req_type == 0x2222 {
            c.num("ncp.func", 0, b.function.into());
        }
        if b.detail & NCP_HAS_SUBFUNCTION != 0 {
            c.num("ncp.subfunc", 0, b.subfunction.into());
        }
        if b.detail & NCP_HAS_RPV_REQUEST != 0 {
            c.eq(
                "ncp.object_name",
                0,
                names::c_string(&b.object_name[..b.object_name_len as usize]),
                same,
            );
            c.eq(
                "ncp.property_name",
                0,
                names::c_string(&b.property_name[..b.property_name_len as usize]),
                same,
            );
            c.num("ncp.property_segment", 0, b.segment.into());
        }
        if b.detail & NCP_HAS_REPLY_VALUE != 0 && c.field("ncp.property_data", 0).is_some() {
            c.eq("ncp.property_data", 0, names::hex(&b.value), |s| {
                s.replace(':', "")[..24].to_string()
            });
        }
    } else if let Some(b) = ev.sap() {
        let i = b.index as usize;
        c.num("ipxsap.server.type", i, b.server_type.into());
        c.eq("ipxsap.server.name", i, names::c_string(&b.name), same);
        c.eq("ipxsap.server.network", i, names::hex(&b.network), |s| {
            s.trim_start_matches("0x").to_lowercase()
        });
        c.eq("ipxsap.server.node", i, names::hex(&b.node), |s| {
            s.replace(':', "")
        });
        c.num("ipxsap.server.socket", i, b.socket.into());
        c.num("ipxsap.server.intermediate_networks", i, b.hops.into());
    } else if let Some(b) = ev.pptp() {
        c.num("pptp.control_message_type", 0, b.msg_type.into());
        match b.msg_type {
            7 | 12 => c.num("pptp.call_id", 0, b.call_id.into()),
            8 => {
                c.num("pptp.call_id", 0, b.call_id.into());
                c.num("pptp.peer_call_id", 0, b.peer_call_id.into());
                c.num("pptp.out_result", 0, b.result.into());
            }
            13 => {
                c.num("pptp.call_id", 0, b.call_id.into());
                c.num("pptp.disc_result", 0, b.result.into());
            }
            _ => {}
        }
    } else if let Some(b) = ev.tcp() {
        c.num("tcp.srcport", 0, h.sport.into());
        c.num("tcp.dstport", 0, h.dport.into());
        c.eq("tcp.flags", 0, (b.flags & 0x17).to_string(), |s| {
            (num(s) & 0x17).to_string()
        });
    } else if ev.udp().is_some() {
        c.num("udp.srcport", 0, h.sport.into());
        c.num("udp.dstport", 0, h.dport.into());
    } else if let Some(b) = ev.icmp() {
        let (t, code) = if b.quoted_family == 6 {
            ("icmpv6.type", "icmpv6.code")
        } else {
            ("icmp.type", "icmp.code")
        };
        c.num(t, 0, b.icmp_type.into());
        c.num(code, 0, b.code.into());
        let (sp, dp) = if b.quoted_proto == 6 {
            ("tcp.srcport", "tcp.dstport")
        } else {
            ("udp.srcport", "udp.dstport")
        };
        c.num(sp, 0, b.quoted_sport.into());
        c.num(dp, 0, b.quoted_dport.into());
    }
}

/// The whole PPTP control messages of a TCP payload (as tshark prints `tcp.payload`: hex),
/// each where the previous one's Length ends. tshark 4.0 decodes only the first PPTP
/// message of a segment, so the later ones are read from the segment's bytes here.
fn pptp_messages(payload: &str) -> Vec<Vec<u8>> {
    let bytes: Vec<u8> = (0..payload.len() / 2)
        .map(|i| u8::from_str_radix(&payload[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut messages = Vec::new();
    let mut rest = bytes.as_slice();
    while rest.len() >= 12 {
        let length = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest[2..8] != [0, 1, 0x1A, 0x2B, 0x3C, 0x4D] || length < 12 || length > rest.len() {
            break;
        }
        messages.push(rest[..length].to_vec());
        rest = &rest[length..];
    }
    messages
}

/// A PPTP event against the bytes of the message it stands for (RFC 2637's offsets).
fn check_pptp_bytes(ev: &Event, m: &[u8], c: &mut Check) {
    let b = ev.pptp().unwrap();
    let be = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
    let mut want = vec![
        ("length", b.length, be(0)),
        ("message type", b.msg_type, be(8)),
    ];
    match be(8) {
        3 | 4 => want.push(("result", b.result.into(), m[12].into())),
        7 | 9 | 11 | 12 | 14 | 15 => want.push(("call id", b.call_id, be(12))),
        8 | 10 => want.extend([
            ("call id", b.call_id, be(12)),
            ("peer call id", b.peer_call_id, be(14)),
            ("result", b.result.into(), m[16].into()),
        ]),
        13 => want.extend([
            ("call id", b.call_id, be(12)),
            ("result", b.result.into(), m[14].into()),
        ]),
        _ => {}
    }
    for (field, ours, bytes) in want {
        if ours != bytes {
            c.failures.push(format!(
                "frame {} {}: {field}: faultd {ours}, the segment's bytes {bytes}",
                c.frame, c.kind
            ));
        }
    }
}

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut o = [0; 16];
    o[..4].copy_from_slice(&a);
    o
}

#[test]
fn every_event_field_matches_tshark() {
    if !tshark::available_or_skip("every_event_field_matches_tshark") {
        return;
    }
    let mut kernel = match engine::open(EngineKind::Kernel) {
        Ok(k) => k,
        Err(e) => {
            return eprintln!(
                "SKIPPED every_event_field_matches_tshark: kernel engine unavailable ({e}); run as root"
            );
        }
    };
    let samples = fault_tests::catalogue();
    let frames: Vec<(u64, Vec<u8>)> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| (1_000_000_000 * (i as u64 + 1), s.frame.clone()))
        .collect();
    let pcap = TempPcap::new("event-fields", &frames).unwrap();
    let rows = tshark::fields(pcap.path(), "", FIELDS);
    assert_eq!(rows.len(), frames.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, (ts, frame)) in frames.iter().enumerate() {
        let mut events = Vec::new();
        kernel.frame(*ts, frame).unwrap();
        kernel.drain_events(&mut events).unwrap();
        let d: Decoded = FIELDS
            .iter()
            .zip(&rows[i])
            .map(|(f, v)| (*f, v.split(',').map(str::to_string).collect()))
            .collect();
        let on_pptp = ["tcp.srcport", "tcp.dstport"]
            .iter()
            .any(|f| d[f].first().is_some_and(|p| p == "1723"));
        let messages = if on_pptp {
            pptp_messages(&d["tcp.payload"][0])
        } else {
            Vec::new()
        };
        let mut pptp_index = 0;
        for ev in &events {
            assert_eq!(
                ev.hdr.ts_ns, *ts,
                "{}: event time is the frame's capture time",
                samples[i].name
            );
            assert_eq!(
                ev.hdr.frame_len as usize,
                frame.len(),
                "{}",
                samples[i].name
            );
            let kind = ev.kind().map(|k| format!("{k:?}")).unwrap_or_default();
            let mut c = Check {
                frame: i as u64 + 1,
                kind: Box::leak(format!("{} {kind}", samples[i].name).into_boxed_str()),
                d: &d,
                failures: vec![],
            };
            let pptp = ev.pptp().is_some();
            // tshark decodes only the first PPTP message of a segment.
            if !pptp || pptp_index == 0 {
                check(ev, &mut c);
            }
            if pptp {
                match messages.get(pptp_index) {
                    Some(m) => check_pptp_bytes(ev, m, &mut c),
                    None => c.failures.push(format!(
                        "frame {}: PPTP event {pptp_index} stands for no whole message",
                        i + 1
                    )),
                }
                pptp_index += 1;
            }
            failures.extend(c.failures);
            checked += 1;
        }
        // Past the parser's bound, the rest of a segment gives no event.
        if pptp_index != messages.len().min(PPTP_MAX_MESSAGES) {
            failures.push(format!(
                "{}: {pptp_index} PPTP events for {} whole control messages",
                samples[i].name,
                messages.len()
            ));
        }
    }
    assert!(checked >= 80, "only {checked} events were checked");
    assert!(
        failures.is_empty(),
        "{} field mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// NCP names are copied by the XDP program in pieces of 32, 16, 8, 4, 2 and 1 bytes (the
/// powers of two their length is made of): every object name length (1..=48) and every
/// property name length (1..=16) arrives whole, with nothing after it, in both engines.
#[test]
fn ncp_names_of_every_length_arrive_whole() {
    use fault_tests::{
        Eth,
        catalogue::{FILE_SERVER, IPX_CLIENT},
        ipx::Encap,
        ncp,
    };
    let mut kernel = match engine::open(EngineKind::Kernel) {
        Ok(k) => k,
        Err(e) => {
            return eprintln!(
                "SKIPPED ncp_names_of_every_length_arrive_whole: kernel engine unavailable ({e}); run as root"
            );
        }
    };
    let mut user = engine::open(EngineKind::User).unwrap();
    // Distinct bytes at every position, so a piece copied to the wrong place shows.
    let text = |len: usize, first: u8| -> String {
        (0..len)
            .map(|i| char::from(first + (i % 26) as u8))
            .collect()
    };
    for n in 1..=48 {
        let m = (n - 1) % 16 + 1;
        let (object, property) = (text(n, b'A'), text(m, b'a'));
        let rpv = ncp::read_property_value(1, 3, 2, ncp::OBJECT_FILE_SERVER, &object, 1, &property);
        let frame = Eth::new([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])
            .ipx(Encap::EthernetII, IPX_CLIENT, FILE_SERVER)
            .payload(&rpv);
        for (name, engine) in [("kernel", &mut kernel), ("user", &mut user)] {
            let mut events = Vec::new();
            engine.frame(1_000_000_000 * n as u64, &frame).unwrap();
            engine.drain_events(&mut events).unwrap();
            assert_eq!(events.len(), 1, "{name} engine, object name of {n}");
            let b = events[0].ncp().expect("an NCP event");
            assert_eq!(b.detail & NCP_HAS_RPV_REQUEST, NCP_HAS_RPV_REQUEST);
            assert_eq!(b.object_name(), object.as_bytes(), "{name} engine");
            assert_eq!(b.property_name(), property.as_bytes(), "{name} engine");
            assert!(
                b.object_name[n..]
                    .iter()
                    .chain(&b.property_name[m..])
                    .all(|&c| c == 0),
                "{name} engine: bytes after a name of {n} or {m}"
            );
        }
    }
}
