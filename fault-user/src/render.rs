//! What `classify` and `replay` print.

use std::fmt::Write as _;

use fault_common::{
    Class, Event, Stats,
    event::{
        EventKind, IpxEncap, LINK_GROUP_DST, NAME_OK, NCP_HAS_REPLY_VALUE, NCP_HAS_RPV_REQUEST,
        NCP_HAS_SUBFUNCTION, QUOTED_NBNS, RR_OK, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN,
    },
    proto::{ip, nbns, nbss, ncp, pptp},
};
use serde_json::{Map, Value, json};

use crate::names::{c_string, endpoint, hex, host, ipx_address, netbios_name, rfc3339};

/// `{"file": …, "frames": N, "classes": {…}, "malformed": M, "truncated": T}`, zero
/// class counts left out, classes in table order.
/// `inputs` as named on the command line: one is `"file"`, more are `"files"`.
pub fn classify_json(inputs: &[String], stats: &Stats) -> Value {
    let mut classes = Map::new();
    for c in Class::ALL {
        let n = stats.classes[c as usize];
        if n != 0 {
            classes.insert(c.name().into(), n.into());
        }
    }
    let mut out = Map::new();
    match inputs {
        [one] => out.insert("file".into(), one.as_str().into()),
        many => out.insert("files".into(), many.into()),
    };
    let rest = json!({
        "frames": stats.frames,
        "classes": classes,
        "malformed": stats.malformed,
        "truncated": stats.truncated,
    });
    if let Value::Object(rest) = rest {
        out.extend(rest);
    }
    Value::Object(out)
}

pub fn classify_text(inputs: &[String], stats: &Stats) -> String {
    let file = inputs.join(", ");
    let mut s = format!(
        "{file}\n  frames     {:>10}\n  malformed  {:>10}\n  truncated  {:>10}\n",
        stats.frames, stats.malformed, stats.truncated
    );
    for c in Class::ALL {
        let n = stats.classes[c as usize];
        if n != 0 {
            let _ = writeln!(s, "  {:<28} {:>10}", c.name(), n);
        }
    }
    s
}

fn nbns_opcode(op: u16) -> &'static str {
    match op {
        nbns::OPCODE_QUERY => "query",
        nbns::OPCODE_REGISTRATION => "registration",
        nbns::OPCODE_RELEASE => "release",
        nbns::OPCODE_WACK => "wack",
        nbns::OPCODE_REFRESH | nbns::OPCODE_REFRESH_ALT => "refresh",
        nbns::OPCODE_MULTIHOMED => "multihomed_registration",
        _ => "unknown",
    }
}

fn nbss_type(t: u8) -> &'static str {
    match t {
        nbss::REQUEST => "session_request",
        nbss::POSITIVE => "positive_response",
        nbss::NEGATIVE => "negative_response",
        nbss::RETARGET => "retarget_response",
        nbss::KEEPALIVE => "keepalive",
        _ => "unknown",
    }
}

fn ncp_type(t: u16) -> &'static str {
    match t {
        ncp::CREATE_CONNECTION => "create_connection",
        ncp::REQUEST => "request",
        ncp::REPLY => "reply",
        ncp::DESTROY_CONNECTION => "destroy_connection",
        _ => "unknown",
    }
}

fn pptp_message(t: u16) -> &'static str {
    match t {
        pptp::SCCRQ => "start_control_connection_request",
        pptp::SCCRP => "start_control_connection_reply",
        pptp::STOP_CCRQ => "stop_control_connection_request",
        pptp::STOP_CCRP => "stop_control_connection_reply",
        pptp::ECHO_RQ => "echo_request",
        pptp::ECHO_RP => "echo_reply",
        pptp::OCRQ => "outgoing_call_request",
        pptp::OCRP => "outgoing_call_reply",
        pptp::ICRQ => "incoming_call_request",
        pptp::ICRP => "incoming_call_reply",
        pptp::ICCN => "incoming_call_connected",
        pptp::CCRQ => "call_clear_request",
        pptp::CDN => "call_disconnect_notify",
        pptp::WEN => "wan_error_notify",
        pptp::SLI => "set_link_info",
        _ => "unknown",
    }
}

fn tcp_flags(f: u8) -> String {
    let names = [
        (TCP_SYN, "SYN"),
        (TCP_ACK, "ACK"),
        (TCP_FIN, "FIN"),
        (TCP_RST, "RST"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
    set.join(",")
}

fn encap(e: u8) -> Option<&'static str> {
    match IpxEncap::try_from(e).ok()? {
        IpxEncap::None => None,
        IpxEncap::EthernetII => Some("ethernet_ii"),
        IpxEncap::Raw8023 => Some("raw_802.3"),
        IpxEncap::Llc => Some("802.2"),
        IpxEncap::Snap => Some("snap"),
    }
}

/// One event as a JSON object: time, kind, endpoints, then the kind's own fields.
pub fn event_json(ev: &Event) -> Value {
    let h = &ev.hdr;
    let mut m = Map::new();
    m.insert("ts".into(), rfc3339(h.ts_ns).into());
    let kind = ev.kind().ok();
    m.insert("event".into(), kind.map_or("unknown", event_name).into());
    m.insert("src".into(), endpoint(h.family, &h.src, h.sport).into());
    m.insert("dst".into(), endpoint(h.family, &h.dst, h.dport).into());
    if let Some(e) = encap(h.encap) {
        m.insert("encap".into(), e.into());
    }
    if h.vlans != 0 {
        m.insert("vlan".into(), h.vlan_id.into());
    }
    if h.link & LINK_GROUP_DST != 0 {
        m.insert("link_broadcast".into(), true.into());
    }
    m.insert("frame_len".into(), h.frame_len.into());
    body_fields(ev, &mut m);
    Value::Object(m)
}

fn event_name(k: EventKind) -> &'static str {
    match k {
        EventKind::Nbns => "nbns",
        EventKind::Nbss => "nbss",
        EventKind::Ncp => "ncp",
        EventKind::SapEntry => "sap_entry",
        EventKind::Pptp => "pptp",
        EventKind::Tcp => "tcp",
        EventKind::Udp => "udp",
        EventKind::IcmpUnreachable => "icmp_unreachable",
        // Decoded into their entries and messages before anything renders them.
        EventKind::SapResponse => "sap_response",
        EventKind::PptpSegment => "pptp_segment",
    }
}

fn body_fields(ev: &Event, m: &mut Map<String, Value>) {
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    if let Some(b) = ev.nbns() {
        put("txid", b.txid.into());
        put("opcode", nbns_opcode(nbns::opcode(b.flags)).into());
        put("response", nbns::is_response(b.flags).into());
        put("broadcast", nbns::is_broadcast(b.flags).into());
        put("flags", format!("0x{:04x}", b.flags).into());
        put("rcode", nbns::rcode(b.flags).into());
        if b.name_status == NAME_OK {
            put("name", netbios_name(&b.name).into());
        }
        put("rtype", b.rtype.into());
        if b.rr_status == RR_OK {
            put("nb_addr", host(4, &ipv4_16(b.nb_addr), 0).into());
            put("nb_flags", format!("0x{:04x}", b.nb_flags).into());
            put("ttl", b.ttl.into());
        }
    } else if let Some(b) = ev.nbss() {
        put("type", nbss_type(b.msg_type).into());
        if b.names & 1 != 0 {
            put("called", netbios_name(&b.called).into());
        }
        if b.names & 2 != 0 {
            put("calling", netbios_name(&b.calling).into());
        }
        if b.msg_type == nbss::NEGATIVE {
            put("error", format!("0x{:02x}", b.error).into());
        }
        if b.msg_type == nbss::RETARGET {
            put(
                "retarget",
                endpoint(4, &ipv4_16(b.retarget_ip), b.retarget_port).into(),
            );
        }
    } else if let Some(b) = ev.ncp() {
        put("type", ncp_type(b.req_type).into());
        put("sequence", b.seq.into());
        put(
            "connection",
            (b.conn_low as u16 | (b.conn_high as u16) << 8).into(),
        );
        put("task", b.task.into());
        if b.req_type == ncp::REPLY {
            put("completion", b.function.into());
            put("connection_status", b.status.into());
        } else {
            put("function", b.function.into());
        }
        if b.detail & NCP_HAS_SUBFUNCTION != 0 {
            put("subfunction", b.subfunction.into());
        }
        if b.detail & NCP_HAS_RPV_REQUEST != 0 {
            put("object_type", format!("0x{:04x}", b.object_type).into());
            put("object_name", c_string(b.object_name()).into());
            put("segment", b.segment.into());
            put("property_name", c_string(b.property_name()).into());
        }
        if b.detail & NCP_HAS_REPLY_VALUE != 0 {
            put("value", hex(&b.value).into());
        }
    } else if let Some(b) = ev.sap() {
        put("op", b.op.into());
        put("entry", b.index.into());
        put("server_type", format!("0x{:04x}", b.server_type).into());
        put("server_name", c_string(&b.name).into());
        put("server", ipx_address(&b.network, &b.node, b.socket).into());
        put("hops", b.hops.into());
    } else if let Some(b) = ev.pptp() {
        put("message", pptp_message(b.msg_type).into());
        put("call_id", b.call_id.into());
        put("peer_call_id", b.peer_call_id.into());
        put("result", b.result.into());
        put("error", b.error.into());
        put("cause", b.cause.into());
    } else if let Some(b) = ev.tcp() {
        put("flags", tcp_flags(b.flags).into());
        put("seq", b.seq.into());
        put("ack", b.ack.into());
        put("payload_len", b.payload_len.into());
    } else if let Some(b) = ev.udp() {
        put("payload_len", b.payload_len.into());
    } else if let Some(b) = ev.icmp() {
        put("icmp_type", b.icmp_type.into());
        put("code", b.code.into());
        put(
            "quoted_proto",
            (if b.quoted_proto == ip::TCP {
                "tcp"
            } else {
                "udp"
            })
            .into(),
        );
        put(
            "quoted_src",
            endpoint(b.quoted_family, &b.quoted_src, b.quoted_sport).into(),
        );
        put(
            "quoted_dst",
            endpoint(b.quoted_family, &b.quoted_dst, b.quoted_dport).into(),
        );
        if b.quoted_app == QUOTED_NBNS {
            put("quoted_txid", b.quoted_txid.into());
            put("quoted_flags", format!("0x{:04x}", b.quoted_flags).into());
            put("quoted_rtype", b.quoted_rtype.into());
        }
    }
}

fn ipv4_16(a: [u8; 4]) -> [u8; 16] {
    let mut o = [0u8; 16];
    o[..4].copy_from_slice(&a);
    o
}

/// One line: time, kind, endpoints, then `key=value` for the rest.
pub fn event_text(ev: &Event) -> String {
    let Value::Object(m) = event_json(ev) else {
        unreachable!("event_json builds an object")
    };
    let get = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let mut s = format!(
        "{} {:<16} {} -> {}",
        get("ts"),
        get("event"),
        get("src"),
        get("dst")
    );
    for (k, v) in &m {
        if matches!(k.as_str(), "ts" | "event" | "src" | "dst") {
            continue;
        }
        match v {
            Value::String(t) => {
                let _ = write!(s, " {k}={t}");
            }
            other => {
                let _ = write!(s, " {k}={other}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo xtask fuzz --target event`: an NCP record whose name lengths (0x40
    /// and 0x26) run past their fields (48 and 16 bytes) panicked the renderer.
    #[test]
    fn fuzz_event_ncp_name_lengths_past_their_fields() {
        let record = include_bytes!("../testdata/fuzz/event-ncp-name-lengths-past-their-fields");
        let mut events = Vec::new();
        fault_common::event::decode(record, |e| events.push(e));
        assert_eq!(events.len(), 1);
        let json = event_json(&events[0]);
        assert_eq!(json["event"], "ncp", "{json}");
        let object = json["object_name"].as_str().unwrap();
        let property = json["property_name"].as_str().unwrap();
        assert!(object.len() <= 48 && property.len() <= 16, "{json}");
        assert!(!event_text(&events[0]).is_empty());
    }
}
