//! IPv4 (options, fragments), IPv6 (extension headers), UDP, TCP, ICMP and ICMPv6 errors.

use crate::eth::{Carrier, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::{Put, len16};
use std::net::{Ipv4Addr, Ipv6Addr};

pub const PROTO_HOP_BY_HOP: u8 = 0;
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_IPV6_ROUTING: u8 = 43;
pub const PROTO_IPV6_FRAGMENT: u8 = 44;
pub const PROTO_GRE: u8 = 47;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_IPV6_DEST_OPTIONS: u8 = 60;

pub const ICMP_DEST_UNREACHABLE: u8 = 3;
pub const ICMP_HOST_UNREACHABLE: u8 = 1;
pub const ICMP_PORT_UNREACHABLE: u8 = 3;
pub const ICMPV6_DEST_UNREACHABLE: u8 = 1;
pub const ICMPV6_PORT_UNREACHABLE: u8 = 4;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

const IPV4_HEADER_LEN: usize = 20;
const IPV4_MAX_OPTIONS: usize = 40;
const IPV4_DF: u16 = 0x4000;
const IPV4_MF: u16 = 0x2000;
const IPV4_CHECKSUM_AT: usize = 10;
const UDP_CHECKSUM_AT: usize = 6;
const TCP_CHECKSUM_AT: usize = 16;
const ICMP_CHECKSUM_AT: usize = 2;
const TCP_OPTION_MSS: u8 = 2;
const IPV6_OPTION_PADN: u8 = 1;

/// Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum(data, 0))
}

fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    !(acc as u16)
}

fn store(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// The IP header and first `payload_bytes` of an IPv4 datagram: what an ICMP error quotes
/// (RFC 792 asks for 8 bytes; many stacks quote everything, so callers choose).
pub fn quote_ipv4(datagram: &[u8], payload_bytes: usize) -> &[u8] {
    let ihl = usize::from(datagram[0] & 0x0F) * 4;
    &datagram[..datagram.len().min(ihl + payload_bytes)]
}

/// No link layer: the builder returns the bare IP datagram (for ICMP quotes, tunnels, fragments).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bare;

impl Carrier for Bare {
    fn carry(self, _ethertype: u16, packet: &[u8]) -> Vec<u8> {
        packet.to_vec()
    }
}

/// A network layer that transport headers sit on; it supplies their checksum pseudo-header.
pub trait Network: Sized {
    /// One's-complement sum of the pseudo-header for an upper-layer packet of `len` bytes.
    fn pseudo_header(&self, proto: u8, len: usize) -> u64;

    /// Wraps a finished upper-layer packet and hands it to the link layer.
    fn finish(self, proto: u8, upper: &[u8]) -> Vec<u8>;

    fn udp(self, src_port: u16, dst_port: u16) -> Udp<Self> {
        Udp {
            net: self,
            src_port,
            dst_port,
            checksum: true,
        }
    }

    fn tcp(self, src_port: u16, dst_port: u16) -> Tcp<Self> {
        Tcp {
            net: self,
            src_port,
            dst_port,
            seq: 1000,
            ack: 1,
            flags: TCP_PSH | TCP_ACK,
            window: 64240,
            options: Vec::new(),
        }
    }

    /// Writes the checksum of `upper` (checksum field zeroed) at `at`.
    fn seal(&self, proto: u8, upper: &mut [u8], at: usize) {
        let sum = fold(sum(upper, self.pseudo_header(proto, upper.len())));
        store(upper, at, sum);
    }
}

#[derive(Clone, Debug)]
pub struct Ipv4<C> {
    carrier: C,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    tos: u8,
    id: u16,
    flags_fragment: u16,
    ttl: u8,
    options: Vec<u8>,
}

impl<C: Carrier> Ipv4<C> {
    pub(crate) fn new(carrier: C, src: Ipv4Addr, dst: Ipv4Addr) -> Self {
        Self {
            carrier,
            src,
            dst,
            tos: 0,
            id: 1,
            flags_fragment: 0,
            ttl: 128,
            options: Vec::new(),
        }
    }

    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn id(mut self, id: u16) -> Self {
        self.id = id;
        self
    }

    pub fn dont_fragment(mut self) -> Self {
        self.flags_fragment |= IPV4_DF;
        self
    }

    /// IP options (padded with End-of-Options to a multiple of 4), making IHL > 5.
    pub fn options(mut self, options: &[u8]) -> Self {
        self.options = options.to_vec();
        self.options.resize(options.len().next_multiple_of(4), 0);
        assert!(
            self.options.len() <= IPV4_MAX_OPTIONS,
            "IPv4 options too long"
        );
        self
    }

    /// Marks this datagram as a fragment starting `offset` bytes into the original payload.
    pub fn fragment(mut self, offset: usize, more_fragments: bool) -> Self {
        assert!(
            offset.is_multiple_of(8),
            "offset {offset} is not in 8-byte units"
        );
        self.flags_fragment = (self.flags_fragment & IPV4_DF) | len16(offset / 8);
        if more_fragments {
            self.flags_fragment |= IPV4_MF;
        }
        self
    }

    /// Any upper-layer protocol, payload taken as is (GRE, fragments).
    pub fn raw(self, proto: u8, payload: &[u8]) -> Vec<u8> {
        self.finish(proto, payload)
    }

    /// ICMP destination unreachable quoting `quoted` (see [`quote_ipv4`]).
    pub fn icmp_unreachable(self, code: u8, quoted: &[u8]) -> Vec<u8> {
        let mut icmp = icmp_error(ICMP_DEST_UNREACHABLE, code, quoted);
        let sum = checksum(&icmp);
        store(&mut icmp, ICMP_CHECKSUM_AT, sum);
        self.finish(PROTO_ICMP, &icmp)
    }
}

impl<C: Carrier> Network for Ipv4<C> {
    fn pseudo_header(&self, proto: u8, len: usize) -> u64 {
        let acc = sum(&self.src.octets(), 0);
        sum(&self.dst.octets(), acc) + u64::from(proto) + len as u64
    }

    fn finish(self, proto: u8, upper: &[u8]) -> Vec<u8> {
        let header_len = IPV4_HEADER_LEN + self.options.len();
        let mut p = Vec::with_capacity(header_len + upper.len());
        p.u8(0x40 | (header_len / 4) as u8)
            .u8(self.tos)
            .u16(len16(header_len + upper.len()))
            .u16(self.id)
            .u16(self.flags_fragment)
            .u8(self.ttl)
            .u8(proto)
            .u16(0)
            .bytes(&self.src.octets())
            .bytes(&self.dst.octets())
            .bytes(&self.options);
        let sum = checksum(&p);
        store(&mut p, IPV4_CHECKSUM_AT, sum);
        p.bytes(upper);
        self.carrier.carry(ETHERTYPE_IPV4, &p)
    }
}

fn icmp_error(icmp_type: u8, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut m = vec![icmp_type, code, 0, 0, 0, 0, 0, 0];
    m.bytes(quoted);
    m
}

#[derive(Clone, Debug)]
pub struct Ipv6<C> {
    carrier: C,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    /// Extension headers in order: (their protocol number, bytes after the next-header byte).
    extensions: Vec<(u8, Vec<u8>)>,
}

impl<C: Carrier> Ipv6<C> {
    pub(crate) fn new(carrier: C, src: Ipv6Addr, dst: Ipv6Addr) -> Self {
        Self {
            carrier,
            src,
            dst,
            hop_limit: 64,
            extensions: Vec::new(),
        }
    }

    pub fn hop_limit(mut self, hop_limit: u8) -> Self {
        self.hop_limit = hop_limit;
        self
    }

    /// Hop-by-hop options header holding only padding (RFC 8200 requires it to come first).
    pub fn hop_by_hop(self) -> Self {
        self.options_header(PROTO_HOP_BY_HOP)
    }

    /// Destination options header holding only padding.
    pub fn destination_options(self) -> Self {
        self.options_header(PROTO_IPV6_DEST_OPTIONS)
    }

    /// Type 2 routing header (RFC 6275, Mobile IPv6): one address, the one segment left.
    pub fn routing(mut self, home: Ipv6Addr) -> Self {
        // Length 2: 24 bytes in all. Routing type 2, segments left 1, reserved, address.
        let mut body = vec![2, 2, 1, 0, 0, 0, 0];
        body.bytes(&home.octets());
        self.extensions.push((PROTO_IPV6_ROUTING, body));
        self
    }

    fn options_header(mut self, proto: u8) -> Self {
        // Header length 0 means 8 bytes: next header, length, then a 6-byte PadN option.
        self.extensions
            .push((proto, vec![0, IPV6_OPTION_PADN, 4, 0, 0, 0, 0]));
        self
    }

    /// Fragment header; offset 0 without more-fragments is an RFC 6946 atomic fragment.
    pub fn fragment(mut self, offset: usize, more_fragments: bool, id: u32) -> Self {
        assert!(
            offset.is_multiple_of(8),
            "offset {offset} is not in 8-byte units"
        );
        // The offset counts 8-byte units in the top 13 bits: numerically the byte offset.
        let mut body = vec![0];
        body.u16(len16(offset) | u16::from(more_fragments)).u32(id);
        self.extensions.push((PROTO_IPV6_FRAGMENT, body));
        self
    }

    pub fn raw(self, proto: u8, payload: &[u8]) -> Vec<u8> {
        self.finish(proto, payload)
    }

    /// ICMPv6 destination unreachable quoting an IPv6 packet.
    pub fn icmp6_unreachable(self, code: u8, quoted: &[u8]) -> Vec<u8> {
        let mut icmp = icmp_error(ICMPV6_DEST_UNREACHABLE, code, quoted);
        self.seal(PROTO_ICMPV6, &mut icmp, ICMP_CHECKSUM_AT);
        self.finish(PROTO_ICMPV6, &icmp)
    }
}

impl<C: Carrier> Network for Ipv6<C> {
    fn pseudo_header(&self, proto: u8, len: usize) -> u64 {
        let acc = sum(&self.src.octets(), 0);
        sum(&self.dst.octets(), acc) + u64::from(proto) + len as u64
    }

    fn finish(self, proto: u8, upper: &[u8]) -> Vec<u8> {
        let next_headers = self
            .extensions
            .iter()
            .skip(1)
            .map(|(p, _)| *p)
            .chain([proto]);
        let mut chain = Vec::new();
        for ((_, body), next) in self.extensions.iter().zip(next_headers) {
            chain.u8(next).bytes(body);
        }
        let first = self.extensions.first().map_or(proto, |(p, _)| *p);
        let mut p = Vec::with_capacity(40 + chain.len() + upper.len());
        p.u32(6 << 28)
            .u16(len16(chain.len() + upper.len()))
            .u8(first)
            .u8(self.hop_limit)
            .bytes(&self.src.octets())
            .bytes(&self.dst.octets())
            .bytes(&chain)
            .bytes(upper);
        self.carrier.carry(ETHERTYPE_IPV6, &p)
    }
}

#[derive(Clone, Debug)]
pub struct Udp<N> {
    net: N,
    src_port: u16,
    dst_port: u16,
    checksum: bool,
}

impl<N: Network> Udp<N> {
    /// Sends checksum 0 ("none"), which only IPv4 allows.
    pub fn without_checksum(mut self) -> Self {
        self.checksum = false;
        self
    }

    pub fn payload(self, data: &[u8]) -> Vec<u8> {
        let mut d = Vec::with_capacity(8 + data.len());
        d.u16(self.src_port)
            .u16(self.dst_port)
            .u16(len16(8 + data.len()))
            .u16(0)
            .bytes(data);
        if self.checksum {
            self.net.seal(PROTO_UDP, &mut d, UDP_CHECKSUM_AT);
            // A computed zero is sent as all ones: zero on the wire means "no checksum".
            if d[UDP_CHECKSUM_AT..UDP_CHECKSUM_AT + 2] == [0, 0] {
                store(&mut d, UDP_CHECKSUM_AT, 0xFFFF);
            }
        }
        self.net.finish(PROTO_UDP, &d)
    }
}

#[derive(Clone, Debug)]
pub struct Tcp<N> {
    net: N,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: Vec<u8>,
}

impl<N: Network> Tcp<N> {
    pub fn seq(mut self, seq: u32) -> Self {
        self.seq = seq;
        self
    }

    /// Acknowledgment number; only written when the ACK flag is set.
    pub fn ack(mut self, ack: u32) -> Self {
        self.ack = ack;
        self
    }

    /// Flags (`TCP_SYN | TCP_ACK`, ...); the default is PSH|ACK.
    pub fn flags(mut self, flags: u8) -> Self {
        self.flags = flags;
        self
    }

    pub fn window(mut self, window: u16) -> Self {
        self.window = window;
        self
    }

    /// Raw TCP options, padded with End-of-Options to a multiple of 4.
    pub fn options(mut self, options: &[u8]) -> Self {
        self.options = options.to_vec();
        self.options.resize(options.len().next_multiple_of(4), 0);
        assert!(self.options.len() <= 40, "TCP options too long");
        self
    }

    /// Maximum-segment-size option, as every SYN carries.
    pub fn mss(self, mss: u16) -> Self {
        let [hi, lo] = mss.to_be_bytes();
        self.options(&[TCP_OPTION_MSS, 4, hi, lo])
    }

    pub fn payload(self, data: &[u8]) -> Vec<u8> {
        let header_len = 20 + self.options.len();
        let ack = if self.flags & TCP_ACK != 0 {
            self.ack
        } else {
            0
        };
        let mut s = Vec::with_capacity(header_len + data.len());
        s.u16(self.src_port)
            .u16(self.dst_port)
            .u32(self.seq)
            .u32(ack)
            .u8(((header_len / 4) as u8) << 4)
            .u8(self.flags)
            .u16(self.window)
            .u16(0)
            .u16(0)
            .bytes(&self.options)
            .bytes(data);
        self.net.seal(PROTO_TCP, &mut s, TCP_CHECKSUM_AT);
        self.net.finish(PROTO_TCP, &s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_known_ipv4_header() {
        // Wikipedia's worked example: the header checksums to 0xB861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xC0, 0xA8,
            0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7,
        ];
        assert_eq!(checksum(&h), 0xB861);
        h[10..12].copy_from_slice(&0xB861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn odd_length_checksum_pads_with_zero() {
        assert_eq!(checksum(&[0x01]), !0x0100);
    }

    #[test]
    fn ipv4_lengths_options_and_fragments() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let d = Bare
            .ipv4(a, a)
            .options(&[0x94, 0x04, 0, 0, 1])
            .fragment(16, true)
            .raw(PROTO_UDP, &[0; 8]);
        assert_eq!(d[0], 0x47); // 20 + 8 option bytes
        assert_eq!(u16::from_be_bytes([d[2], d[3]]), 36);
        assert_eq!(u16::from_be_bytes([d[6], d[7]]), IPV4_MF | 2);
        assert_eq!(checksum(&d[..32]), 0);
        assert_eq!(quote_ipv4(&d, 4).len(), 32);
    }

    #[test]
    fn udp_and_tcp_checksums_verify() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let d = Bare.ipv4(a, b).udp(137, 137).payload(b"abc");
        let pseudo = Bare.ipv4(a, b).pseudo_header(PROTO_UDP, 11);
        assert_eq!(fold(sum(&d[20..], pseudo)), 0);
        assert_eq!(u16::from_be_bytes([d[24], d[25]]), 11);
        let t = Bare.ipv4(a, b).tcp(1, 2).mss(1460).payload(b"xy");
        assert_eq!(t[32] >> 4, 6);
        let pseudo = Bare.ipv4(a, b).pseudo_header(PROTO_TCP, t.len() - 20);
        assert_eq!(fold(sum(&t[20..], pseudo)), 0);
    }

    #[test]
    fn ipv6_extension_chain() {
        let a: Ipv6Addr = "fe80::1".parse().unwrap();
        let p = Bare
            .ipv6(a, a)
            .hop_by_hop()
            .destination_options()
            .fragment(0, false, 7)
            .udp(137, 137)
            .payload(&[1, 2]);
        assert_eq!(p[6], PROTO_HOP_BY_HOP);
        assert_eq!(&p[40..42], &[PROTO_IPV6_DEST_OPTIONS, 0]);
        assert_eq!(&p[48..50], &[PROTO_IPV6_FRAGMENT, 0]);
        assert_eq!(p[56], PROTO_UDP);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 24 + 10);
        assert_eq!(p.len(), 40 + 24 + 10);
    }
}
