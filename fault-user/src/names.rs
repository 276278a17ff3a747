//! How wire values are shown to people: addresses, NetBIOS names, times. One place, so
//! events, fault records and metrics all spell them the same way (docs/faults.md, "Words
//! used here").

use std::{
    fmt::Write as _,
    net::{Ipv4Addr, Ipv6Addr},
    time::{Duration, UNIX_EPOCH},
};

use fault_common::event::Family;

/// `NAME<XX>`: padding trimmed, the suffix byte in upper-case hex, anything unprintable
/// as `\xNN` (the browser's `\x01\x02__MSBROWSE__\x02<01>` stays readable and unambiguous).
pub fn netbios_name(raw: &[u8; 16]) -> String {
    let body = &raw[..15];
    let end = body
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    let mut s = String::with_capacity(20);
    for &b in &body[..end] {
        if b.is_ascii_graphic() || b == b' ' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02X}");
        }
    }
    let _ = write!(s, "<{:02X}>", raw[15]);
    s
}

/// `NNNNNNNN:HHHHHHHHHHHH:SSSS`, lower-case hex, zero-padded.
pub fn ipx_address(net: &[u8], node: &[u8], socket: u16) -> String {
    let mut s = String::with_capacity(26);
    for b in net.iter().take(4) {
        let _ = write!(s, "{b:02x}");
    }
    s.push(':');
    for b in node.iter().take(6) {
        let _ = write!(s, "{b:02x}");
    }
    let _ = write!(s, ":{socket:04x}");
    s
}

/// An address without its port (IPX addresses always carry their socket).
pub fn host(family: u8, addr: &[u8; 16], port: u16) -> String {
    match Family::try_from(family) {
        Ok(Family::Ipv4) => Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        Ok(Family::Ipv6) => Ipv6Addr::from(*addr).to_string(),
        Ok(Family::Ipx) => ipx_address(&addr[..4], &addr[4..10], port),
        Ok(Family::None) | Err(_) => String::from("-"),
    }
}

/// An address with its port: `10.0.0.1:137`, `[fe80::1]:137`, IPX as `host`.
pub fn endpoint(family: u8, addr: &[u8; 16], port: u16) -> String {
    match Family::try_from(family) {
        Ok(Family::Ipv4) => format!("{}:{port}", host(family, addr, port)),
        Ok(Family::Ipv6) => format!("[{}]:{port}", host(family, addr, port)),
        _ => host(family, addr, port),
    }
}

/// RFC 3339 in UTC with microseconds, from nanoseconds since the epoch.
pub fn rfc3339(ts_ns: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_nanos(ts_ns);
    humantime::format_rfc3339_micros(t).to_string()
}

/// Bytes up to the first NUL, printable ASCII kept, the rest escaped.
pub fn c_string(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let mut s = String::with_capacity(end);
    for &b in &raw[..end] {
        if b.is_ascii_graphic() || b == b' ' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02X}");
        }
    }
    s
}

/// A list as people write it: `A, B and C`.
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A duration as people say it: `30 s`, `1.5 s`, `500 ms`.
pub fn duration(ns: u64) -> String {
    if ns < 1_000_000_000 {
        format!("{} ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{} s", ns / 1_000_000_000)
    } else {
        format!("{:.1} s", ns as f64 / 1e9)
    }
}

/// ` (3 transmissions)` for a retransmitted request, nothing for one sent once.
pub fn transmissions(n: u32) -> String {
    if n > 1 {
        format!(" ({n} transmissions)")
    } else {
        String::new()
    }
}

pub fn hex(raw: &[u8]) -> String {
    raw.iter()
        .fold(String::with_capacity(raw.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netbios_names_as_faults_md_spells_them() {
        assert_eq!(netbios_name(b"DTW4           \x20"), "DTW4<20>");
        assert_eq!(netbios_name(b"*\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), "*<00>");
        assert_eq!(
            netbios_name(b"\x01\x02__MSBROWSE__\x02\x01"),
            "\\x01\\x02__MSBROWSE__\\x02<01>"
        );
    }

    #[test]
    fn ipx_addresses_as_faults_md_spells_them() {
        assert_eq!(
            ipx_address(&[0, 1, 1, 0x23], &[0, 0, 0, 0, 0, 1], 0x4007),
            "00010123:000000000001:4007"
        );
    }

    #[test]
    fn endpoints_and_times() {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[192, 168, 22, 129]);
        assert_eq!(endpoint(4, &a, 137), "192.168.22.129:137");
        let v6: [u8; 16] = "fe80::1".parse::<Ipv6Addr>().unwrap().octets();
        assert_eq!(endpoint(6, &v6, 139), "[fe80::1]:139");
        assert_eq!(rfc3339(1_000_000_001_500), "1970-01-01T00:16:40.000001Z");
    }

    #[test]
    fn lists_and_durations_read_as_sentences() {
        let l = |v: &[&str]| and_list(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&[]), "");
        assert_eq!(l(&["A<20>"]), "A<20>");
        assert_eq!(l(&["A<20>", "B<00>", "C<03>"]), "A<20>, B<00> and C<03>");
        assert_eq!(duration(30_000_000_000), "30 s");
        assert_eq!(duration(1_500_000_000), "1.5 s");
        assert_eq!(duration(500_000_000), "500 ms");
    }
}
