//! What people see of the flow table: flows filtered by class and host, sorted, cut to a
//! number, as a table or JSON lines; and the per-host inventory of the legacy protocols
//! each host speaks. One view for `faultd flows` (the pinned maps of a running or kept
//! program), `faultd replay --flows` (a capture) and `GET /api/flows` (the daemon).
//!
//! Flow times are what the program stamped: packet times in replay (Unix time), the
//! kernel's monotonic clock live; the caller gives the offset that turns them into Unix
//! time (0 in replay), as the daemon does for events.

use std::{
    collections::BTreeMap,
    fmt::{self, Write as _},
    io::{self, Write},
    net::{Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

use fault_common::{Class, FlowKey, FlowValue, event::Family, proto::ip as ipproto};
use serde_json::{Value, json};

use crate::names;

/// The legacy protocol families of the inventory, each a set of classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Legacy {
    NetbiosName,
    NetbiosDatagram,
    NetbiosSession,
    Ipx,
    IpxSap,
    IpxRip,
    IpxNcp,
    NcpIp,
    Pptp,
    L2tp,
    Sms,
}

impl Legacy {
    pub const ALL: [Legacy; 11] = [
        Legacy::NetbiosName,
        Legacy::NetbiosDatagram,
        Legacy::NetbiosSession,
        Legacy::Ipx,
        Legacy::IpxSap,
        Legacy::IpxRip,
        Legacy::IpxNcp,
        Legacy::NcpIp,
        Legacy::Pptp,
        Legacy::L2tp,
        Legacy::Sms,
    ];

    /// The name in the inventory's output.
    pub const fn name(self) -> &'static str {
        match self {
            Legacy::NetbiosName => "netbios-name",
            Legacy::NetbiosDatagram => "netbios-datagram",
            Legacy::NetbiosSession => "netbios-session",
            Legacy::Ipx => "ipx",
            Legacy::IpxSap => "ipx-sap",
            Legacy::IpxRip => "ipx-rip",
            Legacy::IpxNcp => "ipx-ncp",
            Legacy::NcpIp => "ncp-ip",
            Legacy::Pptp => "pptp",
            Legacy::L2tp => "l2tp",
            Legacy::Sms => "sms",
        }
    }

    /// The `--class` it is: every class of that name or below it (`pptp` is `pptp.*`).
    pub const fn class_prefix(self) -> &'static str {
        match self {
            Legacy::NetbiosName => "nbns",
            Legacy::NetbiosDatagram => "nbdgm",
            Legacy::NetbiosSession => "nbss",
            Legacy::Ipx => "ipx",
            Legacy::IpxSap => "ipx.sap",
            Legacy::IpxRip => "ipx.rip",
            Legacy::IpxNcp => "ipx.ncp",
            Legacy::NcpIp => "ncpip",
            Legacy::Pptp => "pptp",
            Legacy::L2tp => "l2tp",
            Legacy::Sms => "sms",
        }
    }

    /// Its classes' bits (a flow speaks it when it has any of them).
    pub fn mask(self) -> u64 {
        class_mask(self.class_prefix())
    }
}

/// The classes named `prefix` or below it (`prefix.`...).
fn class_mask(prefix: &str) -> u64 {
    Class::ALL
        .iter()
        .filter(|c| {
            c.name() == prefix
                || c.name()
                    .strip_prefix(prefix)
                    .is_some_and(|r| r.starts_with('.'))
        })
        .fold(0, |m, c| m | c.bit())
}

/// Every class bit of the legacy protocols.
pub fn legacy_mask() -> u64 {
    Legacy::ALL.iter().fold(0, |m, l| m | l.mask())
}

/// `--class`: a class name (`nbns.registration`) or a prefix of class names ending where a
/// name has a dot (`nbns`, `pptp`, `ipx.ncp`): the classes it stands for, as a bitmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassSet(pub u64);

impl FromStr for ClassSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mask = class_mask(s);
        if mask == 0 {
            return Err(format!(
                "no class {s:?}: a class `faultd classify` counts (nbns.registration) or the \
                 part of its name before a dot (nbns, ipx.ncp, pptp)"
            ));
        }
        Ok(ClassSet(mask))
    }
}

/// `--host`: an IPv4 or IPv6 address or network (CIDR), or an IPX network number
/// (`0001012a`) or network and node (`0001012a:000000000001`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    V4 { addr: u32, prefix: u8 },
    V6 { addr: u128, prefix: u8 },
    Ipx { net: [u8; 4], node: Option<[u8; 6]> },
}

fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not an address or network: 10.1.2.3, 10.1.0.0/16, fe80::/10, or an \
                 IPX network (0001012a) or network:node (0001012a:000000000001)"
            )
        };
        let (a, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        if let Ok(v4) = a.parse::<Ipv4Addr>() {
            let prefix = prefix.unwrap_or(32);
            if prefix > 32 {
                return Err(bad());
            }
            return Ok(Net::V4 {
                addr: u32::from(v4),
                prefix,
            });
        }
        if let Ok(v6) = a.parse::<Ipv6Addr>() {
            let prefix = prefix.unwrap_or(128);
            if prefix > 128 {
                return Err(bad());
            }
            return Ok(Net::V6 {
                addr: u128::from(v6),
                prefix,
            });
        }
        if prefix.is_none() {
            let (net, node) = match a.split_once(':') {
                Some((n, h)) => (n, Some(hex_bytes::<6>(h).ok_or_else(bad)?)),
                None => (a, None),
            };
            if let Some(net) = hex_bytes::<4>(net) {
                return Ok(Net::Ipx { net, node });
            }
        }
        Err(bad())
    }
}

fn prefix_match<const BITS: u32>(a: u128, b: u128, prefix: u8) -> bool {
    let prefix = u32::from(prefix);
    prefix == 0 || (a ^ b) >> (BITS - prefix) == 0
}

impl Net {
    /// Whether the address (of a flow's `family`) is in this network.
    pub fn contains(&self, family: u8, addr: &[u8; 16]) -> bool {
        match (self, Family::try_from(family)) {
            (Net::V4 { addr: n, prefix }, Ok(Family::Ipv4)) => {
                let a = u32::from_be_bytes([addr[0], addr[1], addr[2], addr[3]]);
                prefix_match::<32>(u128::from(a), u128::from(*n), *prefix)
            }
            (Net::V6 { addr: n, prefix }, Ok(Family::Ipv6)) => {
                prefix_match::<128>(u128::from_be_bytes(*addr), *n, *prefix)
            }
            (Net::Ipx { net, node }, Ok(Family::Ipx)) => {
                addr[..4] == net[..] && node.is_none_or(|n| addr[4..10] == n[..])
            }
            _ => false,
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Net::V4 { addr, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from(*addr)),
            Net::V6 { addr, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(*addr)),
            Net::Ipx { net, node } => {
                f.write_str(&names::hex(net))?;
                if let Some(n) = node {
                    write!(f, ":{}", names::hex(n))?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    /// Most packets first.
    #[default]
    Packets,
    /// Most bytes first.
    Bytes,
    /// Most recently seen first.
    Last,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// One row per flow.
    #[default]
    Flow,
    /// One row per host (a flow's source): the legacy protocols it speaks.
    Host,
}

/// The flags `faultd flows` and `faultd replay --flows` share.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Flows")]
pub struct FlowArgs {
    /// Only flows with a frame of this class: a name of `faultd classify`, or the part of
    /// one before a dot (nbns, ipx.ncp, pptp); repeat for any of several.
    #[arg(long = "class", value_name = "CLASS")]
    pub classes: Vec<ClassSet>,
    /// Only flows with either end in this network: 10.1.2.3, 10.1.0.0/16, fe80::/10, an IPX
    /// network (0001012a) or network:node; repeat for any of several.
    #[arg(long = "host", value_name = "CIDR")]
    pub hosts: Vec<Net>,
    #[arg(long, value_enum, default_value_t = Sort::Packets)]
    pub sort: Sort,
    /// At most N rows (all when not given).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// flow: a row per flow; host: per host (a flow's source), the legacy protocols it
    /// speaks (NetBIOS name, datagram and session, IPX and its SAP, RIP and NCP, NCP over
    /// IP, PPTP, L2TP, SMS), with packets and last seen: an inventory.
    #[arg(long, value_enum, default_value_t = By::Flow)]
    pub by: By,
}

impl FlowArgs {
    /// Whether a flow passes the class and host filters.
    pub fn matches(&self, k: &FlowKey, v: &FlowValue) -> bool {
        (self.classes.is_empty() || self.classes.iter().any(|c| v.classes & c.0 != 0))
            && (self.hosts.is_empty()
                || self
                    .hosts
                    .iter()
                    .any(|n| n.contains(k.family, &k.src) || n.contains(k.family, &k.dst)))
    }

    /// The query string of `GET /api/flows`: class, host (each repeatable or
    /// comma-separated), sort, limit (default `default_limit`, at most `max_limit`), by.
    pub fn from_query(
        query: &str,
        default_limit: usize,
        max_limit: usize,
    ) -> Result<FlowArgs, String> {
        let mut a = FlowArgs {
            limit: Some(default_limit),
            ..FlowArgs::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or_else(|| format!("bad escape in {pair:?}"))?;
            let parts = || v.split(',').filter(|s| !s.is_empty());
            match k {
                "class" => {
                    for c in parts() {
                        a.classes.push(c.parse()?);
                    }
                }
                "host" => {
                    for h in parts() {
                        a.hosts.push(h.parse()?);
                    }
                }
                "limit" => {
                    let n: usize = v.parse().map_err(|_| {
                        format!("limit must be a number from 0 to {max_limit}, not {v:?}")
                    })?;
                    a.limit = Some(n.min(max_limit));
                }
                "sort" => {
                    a.sort = <Sort as clap::ValueEnum>::from_str(&v, true)
                        .map_err(|_| format!("sort is packets, bytes or last, not {v:?}"))?;
                }
                "by" => {
                    a.by = <By as clap::ValueEnum>::from_str(&v, true)
                        .map_err(|_| format!("by is flow or host, not {v:?}"))?;
                }
                _ => {
                    return Err(format!(
                        "unknown parameter {pair:?}: class, host, sort, limit and by are"
                    ));
                }
            }
        }
        Ok(a)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The view's rows and whether the table was full.
pub struct View {
    pub args: FlowArgs,
    /// Nanoseconds added to the flows' times to make them Unix time.
    pub offset_ns: i128,
    /// Flows pushed out of the full table (`Stats::flow_updates_failed`): when not 0, the
    /// view is partial.
    pub evicted: u64,
}

fn unix(ns: u64, offset: i128) -> String {
    names::rfc3339(u64::try_from(i128::from(ns) + offset).unwrap_or(0))
}

fn proto_name(k: &FlowKey) -> &'static str {
    match (Family::try_from(k.family), k.proto) {
        (Ok(Family::Ipx), _) => "ipx",
        (_, ipproto::UDP) => "udp",
        (_, ipproto::TCP) => "tcp",
        (_, ipproto::GRE) => "gre",
        (_, ipproto::ICMP) => "icmp",
        (_, ipproto::ICMPV6) => "icmp6",
        _ => "?",
    }
}

fn family_name(family: u8) -> &'static str {
    match Family::try_from(family) {
        Ok(Family::Ipv4) => "ipv4",
        Ok(Family::Ipv6) => "ipv6",
        Ok(Family::Ipx) => "ipx",
        _ => "-",
    }
}

/// A flow's classes by name, in class order.
pub fn class_names(bits: u64) -> Vec<&'static str> {
    Class::ALL
        .iter()
        .filter(|c| bits & c.bit() != 0)
        .map(|c| c.name())
        .collect()
}

/// A host: an IP address, or an IPX network and node (its sockets are its flows').
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Host {
    pub family: u8,
    pub addr: [u8; 16],
}

impl Host {
    fn src(k: &FlowKey) -> Host {
        let mut addr = k.src;
        if k.family == Family::Ipx as u8 {
            addr[10..].fill(0);
        }
        Host {
            family: k.family,
            addr,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.family == Family::Ipx as u8 {
            write!(
                f,
                "{}:{}",
                names::hex(&self.addr[..4]),
                names::hex(&self.addr[4..10])
            )
        } else {
            f.write_str(&names::host(self.family, &self.addr, 0))
        }
    }
}

/// One legacy protocol of a host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Speaks {
    /// Packets of the host's flows with a frame of the protocol.
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// A host of the inventory: its flows that carry a legacy protocol, summed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostRow {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    pub speaks: BTreeMap<Legacy, Speaks>,
}

fn fold(s: &mut Speaks, v: &FlowValue) {
    if s.packets == 0 || v.first_ns < s.first_ns {
        s.first_ns = v.first_ns;
    }
    s.last_ns = s.last_ns.max(v.last_ns);
    s.packets += v.packets;
    s.bytes += v.bytes;
}

/// The inventory: every source of a flow (that passes the filters) carrying a legacy
/// protocol, with what it speaks. Flows of no legacy protocol (ICMP unreachables alone)
/// are left out.
pub fn inventory(flows: &BTreeMap<FlowKey, FlowValue>, args: &FlowArgs) -> BTreeMap<Host, HostRow> {
    let legacy = legacy_mask();
    let mut hosts: BTreeMap<Host, HostRow> = BTreeMap::new();
    for (k, v) in flows {
        if v.packets == 0 || v.classes & legacy == 0 || !args.matches(k, v) {
            continue;
        }
        let row = hosts.entry(Host::src(k)).or_default();
        let mut all = Speaks {
            packets: row.packets,
            bytes: row.bytes,
            first_ns: row.first_ns,
            last_ns: row.last_ns,
        };
        fold(&mut all, v);
        (row.packets, row.bytes, row.first_ns, row.last_ns) =
            (all.packets, all.bytes, all.first_ns, all.last_ns);
        row.flows += 1;
        for l in Legacy::ALL {
            if v.classes & l.mask() != 0 {
                fold(row.speaks.entry(l).or_default(), v);
            }
        }
    }
    hosts
}

fn sort_key(sort: Sort, packets: u64, bytes: u64, last_ns: u64) -> std::cmp::Reverse<u64> {
    std::cmp::Reverse(match sort {
        Sort::Packets => packets,
        Sort::Bytes => bytes,
        Sort::Last => last_ns,
    })
}

/// The flows that pass the filters, sorted, cut to the limit.
pub fn select<'a>(
    flows: &'a BTreeMap<FlowKey, FlowValue>,
    args: &FlowArgs,
) -> Vec<(&'a FlowKey, &'a FlowValue)> {
    let mut rows: Vec<_> = flows
        .iter()
        .filter(|(k, v)| v.packets != 0 && args.matches(k, v))
        .collect();
    // Stable: ties keep the key order.
    rows.sort_by_key(|(_, v)| sort_key(args.sort, v.packets, v.bytes, v.last_ns));
    rows.truncate(args.limit.unwrap_or(usize::MAX));
    rows
}

/// The hosts of the inventory, sorted, cut to the limit.
pub fn select_hosts(flows: &BTreeMap<FlowKey, FlowValue>, args: &FlowArgs) -> Vec<(Host, HostRow)> {
    let mut rows: Vec<_> = inventory(flows, args).into_iter().collect();
    rows.sort_by_key(|(_, r)| sort_key(args.sort, r.packets, r.bytes, r.last_ns));
    rows.truncate(args.limit.unwrap_or(usize::MAX));
    rows
}

impl View {
    pub fn flow_json(&self, k: &FlowKey, v: &FlowValue) -> Value {
        let addr = |a: &[u8; 16]| {
            if k.family == Family::Ipx as u8 {
                Host {
                    family: k.family,
                    addr: *a,
                }
                .to_string()
            } else {
                names::host(k.family, a, 0)
            }
        };
        json!({
            "family": family_name(k.family),
            "proto": proto_name(k),
            "src": addr(&k.src),
            "sport": k.sport,
            "dst": addr(&k.dst),
            "dport": k.dport,
            "packets": v.packets,
            "bytes": v.bytes,
            "first": unix(v.first_ns, self.offset_ns),
            "last": unix(v.last_ns, self.offset_ns),
            "classes": class_names(v.classes),
        })
    }

    pub fn host_json(&self, h: &Host, r: &HostRow) -> Value {
        let speaks: serde_json::Map<String, Value> = r
            .speaks
            .iter()
            .map(|(l, s)| {
                (
                    l.name().to_owned(),
                    json!({
                        "packets": s.packets,
                        "bytes": s.bytes,
                        "first": unix(s.first_ns, self.offset_ns),
                        "last": unix(s.last_ns, self.offset_ns),
                    }),
                )
            })
            .collect();
        json!({
            "host": h.to_string(),
            "family": family_name(h.family),
            "flows": r.flows,
            "packets": r.packets,
            "bytes": r.bytes,
            "first": unix(r.first_ns, self.offset_ns),
            "last": unix(r.last_ns, self.offset_ns),
            "speaks": speaks,
        })
    }

    /// The sentence that says the view is partial, or `None` when nothing was evicted.
    pub fn partial_note(&self) -> Option<String> {
        (self.evicted > 0).then(|| {
            format!(
                "partial: {} flows were pushed out of the full table",
                self.evicted
            )
        })
    }

    /// The rows as JSON values (flows or hosts, as `--by` says).
    pub fn rows_json(&self, flows: &BTreeMap<FlowKey, FlowValue>) -> Vec<Value> {
        match self.args.by {
            By::Flow => select(flows, &self.args)
                .into_iter()
                .map(|(k, v)| self.flow_json(k, v))
                .collect(),
            By::Host => select_hosts(flows, &self.args)
                .iter()
                .map(|(h, r)| self.host_json(h, r))
                .collect(),
        }
    }

    /// `GET /api/flows`: one object, the rows and whether the view is partial.
    pub fn api_json(&self, flows: &BTreeMap<FlowKey, FlowValue>) -> Value {
        let key = match self.args.by {
            By::Flow => "flows",
            By::Host => "hosts",
        };
        json!({
            "partial": self.evicted > 0,
            "evicted": self.evicted,
            key: self.rows_json(flows),
        })
    }

    /// JSON lines: a row a line, then, when the view is partial, a last line
    /// `{"partial":true,"evicted":N}`.
    pub fn write_json(
        &self,
        flows: &BTreeMap<FlowKey, FlowValue>,
        out: &mut impl Write,
    ) -> io::Result<()> {
        for row in self.rows_json(flows) {
            writeln!(out, "{row}")?;
        }
        if self.evicted > 0 {
            writeln!(out, "{}", json!({"partial": true, "evicted": self.evicted}))?;
        }
        Ok(())
    }

    /// An aligned table with a header line.
    pub fn text(&self, flows: &BTreeMap<FlowKey, FlowValue>) -> String {
        let rows: Vec<Vec<String>> = match self.args.by {
            By::Flow => {
                let mut rows = vec![
                    [
                        "SRC", "DST", "PROTO", "PACKETS", "BYTES", "FIRST", "LAST", "CLASSES",
                    ]
                    .map(String::from)
                    .to_vec(),
                ];
                for (k, v) in select(flows, &self.args) {
                    rows.push(vec![
                        names::endpoint(k.family, &k.src, k.sport),
                        names::endpoint(k.family, &k.dst, k.dport),
                        proto_name(k).to_owned(),
                        v.packets.to_string(),
                        v.bytes.to_string(),
                        unix(v.first_ns, self.offset_ns),
                        unix(v.last_ns, self.offset_ns),
                        class_names(v.classes).join(","),
                    ]);
                }
                rows
            }
            By::Host => {
                let mut rows = vec![
                    ["HOST", "FLOWS", "PACKETS", "BYTES", "LAST", "SPEAKS"]
                        .map(String::from)
                        .to_vec(),
                ];
                for (h, r) in select_hosts(flows, &self.args) {
                    let speaks: Vec<String> = r
                        .speaks
                        .iter()
                        .map(|(l, s)| format!("{}({})", l.name(), s.packets))
                        .collect();
                    rows.push(vec![
                        h.to_string(),
                        r.flows.to_string(),
                        r.packets.to_string(),
                        r.bytes.to_string(),
                        unix(r.last_ns, self.offset_ns),
                        speaks.join(","),
                    ]);
                }
                rows
            }
        };
        table(&rows)
    }
}

/// Columns padded to their widest cell; numbers right-aligned; the last column as it is.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let width: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let numeric: Vec<bool> = (0..cols)
        .map(|c| {
            rows.len() > 1
                && rows[1..]
                    .iter()
                    .all(|r| r[c].bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    let mut s = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            if c + 1 == cols {
                line.push_str(cell);
            } else if numeric[c] {
                let _ = write!(line, "{cell:>w$}", w = width[c]);
            } else {
                let _ = write!(line, "{cell:<w$}", w = width[c]);
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0u8; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn flow(
        src: [u8; 4],
        dst: [u8; 4],
        dport: u16,
        packets: u64,
        last: u64,
        c: &[Class],
    ) -> (FlowKey, FlowValue) {
        (
            FlowKey {
                family: Family::Ipv4 as u8,
                proto: ipproto::UDP,
                sport: 137,
                dport,
                _pad: 0,
                src: v4(src),
                dst: v4(dst),
            },
            FlowValue {
                packets,
                bytes: packets * 100,
                first_ns: 1_000_000_000,
                last_ns: last,
                classes: c.iter().fold(0, |m, c| m | c.bit()),
            },
        )
    }

    fn ipx_flow(
        net: u32,
        node: u8,
        socket: u16,
        packets: u64,
        c: &[Class],
    ) -> (FlowKey, FlowValue) {
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&net.to_be_bytes());
        src[9] = node;
        (
            FlowKey {
                family: Family::Ipx as u8,
                proto: 0,
                sport: socket,
                dport: socket,
                _pad: 0,
                src,
                dst: [0xff; 16],
            },
            FlowValue {
                packets,
                bytes: packets * 60,
                first_ns: 5,
                last_ns: 9,
                classes: c.iter().fold(0, |m, c| m | c.bit()),
            },
        )
    }

    fn table_of() -> BTreeMap<FlowKey, FlowValue> {
        [
            flow(
                [10, 0, 0, 1],
                [10, 0, 0, 255],
                137,
                5,
                3_000_000_000,
                &[Class::NbnsRegistration],
            ),
            flow(
                [10, 0, 0, 1],
                [10, 0, 0, 255],
                138,
                2,
                4_000_000_000,
                &[Class::Nbdgm],
            ),
            flow(
                [10, 0, 1, 7],
                [10, 0, 0, 2],
                137,
                9,
                2_000_000_000,
                &[Class::NbnsQuery],
            ),
            flow(
                [192, 168, 0, 9],
                [10, 0, 0, 1],
                1723,
                1,
                8_000_000_000,
                &[Class::PptpControl, Class::PptpOutCallRequest],
            ),
            flow(
                [192, 168, 0, 9],
                [10, 0, 0, 1],
                7,
                3,
                8_000_000_000,
                &[Class::IcmpUnreachable],
            ),
            ipx_flow(0x0001_012a, 1, 0x452, 4, &[Class::Ipx, Class::IpxSapQuery]),
            ipx_flow(0x0001_012a, 1, 0x453, 6, &[Class::Ipx, Class::IpxRip]),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn classes_and_prefixes_parse_to_their_bits() {
        assert_eq!("nbdgm".parse::<ClassSet>().unwrap().0, Class::Nbdgm.bit());
        let nbns = "nbns".parse::<ClassSet>().unwrap().0;
        assert_eq!(nbns.count_ones(), 11);
        assert_eq!(nbns, Legacy::NetbiosName.mask());
        assert_eq!(
            "ipx.ncp".parse::<ClassSet>().unwrap().0,
            Legacy::IpxNcp.mask()
        );
        assert_eq!(Legacy::IpxNcp.mask().count_ones(), 4);
        // "ipx" the class and every ipx.* one; "nb" is no name before a dot.
        assert_eq!("ipx".parse::<ClassSet>().unwrap().0.count_ones(), 8);
        assert!("nb".parse::<ClassSet>().is_err());
        assert_eq!(
            Legacy::L2tp.mask(),
            Class::L2tp.bit() | Class::L2tpControl.bit()
        );
        assert_eq!(Legacy::Ipx.mask().count_ones(), 8);
        assert_eq!(Legacy::Pptp.mask().count_ones(), 8);
        assert_eq!(
            Legacy::Sms.mask(),
            Class::SmsHelpdesk.bit() | Class::SmsRemoteControl.bit()
        );
        // Every class but the ICMP ones is some legacy protocol's.
        let icmp = Class::IcmpUnreachable.bit()
            | Class::IcmpUnreachableWatched.bit()
            | Class::Icmp6Unreachable.bit();
        assert_eq!(legacy_mask() | icmp, (1u64 << Class::ALL.len()) - 1);
        assert_eq!(legacy_mask() & icmp, 0);
    }

    #[test]
    fn networks_match_either_family_as_written() {
        let n: Net = "10.0.0.0/24".parse().unwrap();
        assert!(n.contains(4, &v4([10, 0, 0, 77])));
        assert!(!n.contains(4, &v4([10, 0, 1, 1])));
        assert!(!n.contains(6, &v4([10, 0, 0, 77])));
        let one: Net = "10.0.0.1".parse().unwrap();
        assert!(one.contains(4, &v4([10, 0, 0, 1])) && !one.contains(4, &v4([10, 0, 0, 2])));
        assert!(
            "0.0.0.0/0"
                .parse::<Net>()
                .unwrap()
                .contains(4, &v4([1, 2, 3, 4]))
        );
        let v6: Net = "fe80::/10".parse().unwrap();
        assert!(v6.contains(6, &"fe80::1".parse::<Ipv6Addr>().unwrap().octets()));
        assert!(!v6.contains(6, &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()));
        let ipx: Net = "0001012a".parse().unwrap();
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0, 1, 1, 0x2a]);
        assert!(ipx.contains(17, &a));
        let node: Net = "0001012a:000000000001".parse().unwrap();
        assert!(!node.contains(17, &a));
        a[9] = 1;
        assert!(node.contains(17, &a));
        for bad in ["10.0.0.0/33", "fe80::/129", "nope", "0001012a/8", "01012a"] {
            assert!(bad.parse::<Net>().is_err(), "{bad}");
        }
        assert_eq!(node.to_string(), "0001012a:000000000001");
    }

    #[test]
    fn flows_filter_sort_and_limit() {
        let t = table_of();
        let args = |q: &str| FlowArgs::from_query(q, 100, 1000).unwrap();
        let keys =
            |a: &FlowArgs| -> Vec<u64> { select(&t, a).iter().map(|(_, v)| v.packets).collect() };
        assert_eq!(keys(&args("")), [9, 6, 5, 4, 3, 2, 1]);
        assert_eq!(keys(&args("class=nbns")), [9, 5]);
        assert_eq!(keys(&args("class=nbns,nbdgm&limit=2")), [9, 5]);
        assert_eq!(keys(&args("class=nbdgm&class=pptp")), [2, 1]);
        assert_eq!(keys(&args("host=10.0.0.0%2F24&class=nbns")), [9, 5]);
        assert_eq!(keys(&args("host=10.0.1.0/24")), [9]);
        assert_eq!(keys(&args("host=0001012a")), [6, 4]);
        assert_eq!(keys(&args("sort=last&limit=3")), [3, 1, 2]);
        assert_eq!(keys(&args("limit=5000")).len(), 7);
        assert_eq!(args("limit=5000").limit, Some(1000));
        assert_eq!(args("").limit, Some(100));
        for bad in [
            "class=nope",
            "host=x",
            "limit=-1",
            "sort=size",
            "by=net",
            "what=1",
        ] {
            assert!(FlowArgs::from_query(bad, 100, 1000).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_inventory_groups_each_source_by_legacy_protocol() {
        let t = table_of();
        let inv = inventory(&t, &FlowArgs::default());
        let h = |s: &str| {
            inv.iter()
                .find(|(h, _)| h.to_string() == s)
                .unwrap_or_else(|| panic!("no {s}"))
                .1
        };
        let a = h("10.0.0.1");
        assert_eq!((a.flows, a.packets, a.last_ns), (2, 7, 4_000_000_000));
        assert_eq!(a.speaks[&Legacy::NetbiosName].packets, 5);
        assert_eq!(a.speaks[&Legacy::NetbiosDatagram].packets, 2);
        assert_eq!(a.speaks.len(), 2);
        // The ICMP flow is nobody's legacy protocol.
        let p = h("192.168.0.9");
        assert_eq!((p.flows, p.packets), (1, 1));
        assert_eq!(p.speaks.keys().copied().collect::<Vec<_>>(), [Legacy::Pptp]);
        // Two sockets of one IPX node are one host.
        let x = h("0001012a:000000000001");
        assert_eq!((x.flows, x.packets), (2, 10));
        assert_eq!(x.speaks[&Legacy::Ipx].packets, 10);
        assert_eq!(x.speaks[&Legacy::IpxSap].packets, 4);
        assert_eq!(x.speaks[&Legacy::IpxRip].packets, 6);
        assert_eq!(inv.len(), 4);
        let pptp_only = FlowArgs::from_query("class=pptp&by=host", 100, 1000).unwrap();
        let rows = select_hosts(&t, &pptp_only);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0.to_string(), "192.168.0.9");
    }

    #[test]
    fn a_full_table_makes_the_view_say_it_is_partial() {
        let t = table_of();
        let whole = View {
            args: FlowArgs::default(),
            offset_ns: 0,
            evicted: 0,
        };
        assert_eq!(whole.partial_note(), None);
        let mut out = Vec::new();
        whole.write_json(&t, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 7);
        assert_eq!(whole.api_json(&t)["partial"], false);

        let partial = View {
            evicted: 123,
            ..whole
        };
        assert_eq!(
            partial.partial_note().as_deref(),
            Some("partial: 123 flows were pushed out of the full table")
        );
        let mut out = Vec::new();
        partial.write_json(&t, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(last, json!({"partial": true, "evicted": 123}));
        let api = partial.api_json(&t);
        assert_eq!(
            (api["partial"].clone(), api["evicted"].clone()),
            (json!(true), json!(123))
        );
        assert_eq!(api["flows"].as_array().unwrap().len(), 7);
    }

    #[test]
    fn rows_read_as_the_rest_of_faultd_spells_things() {
        let t = table_of();
        let view = View {
            args: FlowArgs::from_query("class=pptp", 100, 1000).unwrap(),
            offset_ns: 1_700_000_000_000_000_000,
            evicted: 0,
        };
        let rows = view.rows_json(&t);
        assert_eq!(
            rows[0],
            json!({
                "family": "ipv4", "proto": "udp", "src": "192.168.0.9", "sport": 137,
                "dst": "10.0.0.1", "dport": 1723, "packets": 1, "bytes": 100,
                "first": "2023-11-14T22:13:21.000000Z", "last": "2023-11-14T22:13:28.000000Z",
                "classes": ["pptp.control", "pptp.out_call_request"],
            })
        );
        let text = view.text(&t);
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("SRC "));
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("192.168.0.9:137  10.0.0.1:1723  udp"),
            "{row}"
        );
        assert!(row.ends_with("pptp.control,pptp.out_call_request"), "{row}");
        let hosts = View {
            args: FlowArgs::from_query("by=host&host=0001012a", 100, 1000).unwrap(),
            ..view
        };
        let text = hosts.text(&t);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with("ipx(10),ipx-sap(4),ipx-rip(6)"),
            "{text}"
        );
        let j = &hosts.rows_json(&t)[0];
        assert_eq!(j["host"], "0001012a:000000000001");
        assert_eq!(j["speaks"]["ipx-rip"]["packets"], 6);
    }
}
