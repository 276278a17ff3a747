//! The reader against captures written field by field, in every byte order and format.

use super::input::CHUNK;
use super::*;
use Endian::{Big as BE, Little as LE};
use F::{B, H, Q, W};

/// A field of a test capture, written in the byte order given to `put`.
enum F<'a> {
    H(u16),
    W(u32),
    Q(u64),
    B(&'a [u8]),
}

fn put(e: Endian, fields: &[F]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        let (x, n) = match *f {
            H(x) => (u64::from(x), 2),
            W(x) => (u64::from(x), 4),
            Q(x) => (x, 8),
            B(b) => {
                out.extend_from_slice(b);
                continue;
            }
        };
        let (be, le) = (x.to_be_bytes(), x.to_le_bytes());
        out.extend_from_slice(if e == BE { &be[8 - n..] } else { &le[..n] });
    }
    out
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn pcap_header(e: Endian, nanos: bool, link: u32) -> Vec<u8> {
    let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    put(e, &[W(magic), H(2), H(4), W(0), W(0), W(65535), W(link)])
}

fn pcap_rec(e: Endian, secs: u32, frac: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let incl = data.len() as u32;
    put(e, &[W(secs), W(frac), W(incl), W(orig), B(data)])
}

fn ng_block(e: Endian, btype: u32, mut body: Vec<u8>) -> Vec<u8> {
    body.resize(body.len().next_multiple_of(4), 0);
    let len = body.len() as u32 + 12;
    put(e, &[W(btype), W(len), B(&body), W(len)])
}

fn shb(e: Endian, section_len: i64) -> Vec<u8> {
    let body = put(e, &[W(0x1a2b_3c4d), H(1), H(0), Q(section_len as u64)]);
    ng_block(e, 0x0a0d_0d0a, body)
}

fn idb(e: Endian, link: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = put(e, &[H(link), H(0), W(snaplen)]);
    for (code, value) in opts {
        body.extend(put(e, &[H(*code), H(value.len() as u16), B(value)]));
        body.resize(body.len().next_multiple_of(4), 0);
    }
    if !opts.is_empty() {
        body.extend([0; 4]); // opt_endofopt
    }
    ng_block(e, 1, body)
}

/// Enhanced packet block, or with `obsolete` the old packet block (16-bit id, drop count).
fn epb(e: Endian, obsolete: bool, iface: u16, ts: u64, orig: u32, data: &[u8]) -> Vec<u8> {
    let (hi, lo, incl) = ((ts >> 32) as u32, ts as u32, data.len() as u32);
    let body = put(
        e,
        &[W(iface.into()), W(hi), W(lo), W(incl), W(orig), B(data)],
    );
    let mut block = ng_block(e, if obsolete { 2 } else { 6 }, body);
    if obsolete {
        // 16-bit interface id then a 16-bit drop count, where the EPB has a 32-bit id.
        block[8..12].copy_from_slice(&put(e, &[H(iface), H(0)]));
    }
    block
}

fn spb(e: Endian, orig: u32, data: &[u8]) -> Vec<u8> {
    ng_block(e, 3, put(e, &[W(orig), B(data)]))
}

fn snoop_header(datalink: u32) -> Vec<u8> {
    put(BE, &[B(SNOOP_MAGIC), W(2), W(datalink)])
}

fn snoop_rec(secs: u32, usecs: u32, orig: u32, data: &[u8], extra_pad: usize) -> Vec<u8> {
    let rec_len = 24 + data.len().next_multiple_of(4) + extra_pad;
    let (incl, len) = (data.len() as u32, rec_len as u32);
    let mut v = put(BE, &[W(orig), W(incl), W(len), W(0), W(secs), W(usecs)]);
    v.extend_from_slice(data);
    v.resize(rec_len, 0);
    v
}

const ADDR: [u8; 8] = [2, 0, 0, 0, 0, 1, 0xaa, 0xbb];
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn sll1(pkttype: u8, addr_len: u8, proto: u16) -> Vec<u8> {
    let (pkttype, addr_len) = (pkttype.into(), addr_len.into());
    put(BE, &[H(pkttype), H(1), H(addr_len), B(&ADDR), H(proto)])
}

fn sll2(pkttype: u8, addr_len: u8, proto: u16) -> Vec<u8> {
    let types = [pkttype, addr_len];
    put(BE, &[H(proto), H(0), W(3), H(1), B(&types), B(&ADDR)])
}

/// An SLL (v1) or SLL2 header followed by `payload`.
fn cooked(v2: bool, pkttype: u8, addr_len: u8, proto: u16, payload: &[u8]) -> Vec<u8> {
    let sll = if v2 { sll2 } else { sll1 };
    [sll(pkttype, addr_len, proto), payload.to_vec()].concat()
}

fn open(bytes: Vec<u8>) -> Result<Capture, CaptureError> {
    Capture::from_bytes(Path::new("test.cap"), bytes)
}

fn frames(bytes: Vec<u8>) -> Vec<Frame> {
    open(bytes).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
}

fn frame(ts_ns: u64, data: Vec<u8>, wire_len: u32, offset: usize) -> Frame {
    Frame {
        ts_ns,
        data,
        wire_len,
        offset: offset as u64,
    }
}

/// The first error, from `from_bytes` or the iterator, as "offset kind values".
fn fail(bytes: Vec<u8>) -> String {
    let e = match open(bytes) {
        Err(e) => e,
        Ok(mut cap) => cap.find_map(Result::err).expect("an error"),
    };
    let kind = match e.kind {
        ErrorKind::Io(e) => format!("Io {e}"),
        ErrorKind::UnknownFormat { magic } => format!("UnknownFormat {magic:?}"),
        ErrorKind::Truncated {
            needed: n,
            available: a,
            ..
        } => format!("Truncated {n}/{a}"),
        ErrorKind::BadField { value, .. } => format!("BadField {value}"),
        ErrorKind::UnsupportedLinkType(n) => format!("UnsupportedLinkType {n}"),
        ErrorKind::UnsupportedVersion { major, minor } => format!("Version {major}.{minor}"),
        ErrorKind::BlockLengthMismatch {
            leading: l,
            trailing: t,
        } => format!("Mismatch {l}/{t}"),
        ErrorKind::Inputs(what) => format!("Inputs {what}"),
    };
    format!("{} {kind}", e.offset)
}

/// Offset of piece `i` once `pieces` are concatenated.
fn start(pieces: &[Vec<u8>], i: usize) -> usize {
    pieces[..i].iter().map(Vec::len).sum()
}

#[test]
fn pcap_both_byte_orders_and_resolutions() {
    for (e, nanos) in [(LE, false), (LE, true), (BE, false), (BE, true)] {
        let mut f = pcap_header(e, nanos, 1);
        f.extend(pcap_rec(e, 1, 2, 60, &pattern(1, 60)));
        f.extend(pcap_rec(e, 0x6000_0000, 999_999, 100, &pattern(2, 40)));
        let cap = open(f).unwrap();
        assert_eq!(cap.format(), "pcap");
        let unit = if nanos { 1 } else { 1000 };
        let late = 0x6000_0000 * 1_000_000_000 + 999_999 * unit;
        let want = [
            frame(1_000_000_000 + 2 * unit, pattern(1, 60), 60, 24),
            frame(late, pattern(2, 40), 100, 100),
        ];
        let got: Vec<Frame> = cap.map(Result::unwrap).collect();
        assert_eq!(got, want, "{e:?} {nanos}");
    }
}

#[test]
fn pcap_rejects_bad_headers_and_lengths() {
    let with = |rec: &[u8]| fail([&pcap_header(LE, false, 1), rec].concat());
    let huge = put(LE, &[W(0), W(0), W(300_000), W(300_000)]);
    assert_eq!(with(&huge), "24 BadField 300000");
    assert_eq!(
        with(&pcap_rec(LE, 0, 0, 10, &[0; 10])[..20]),
        "24 Truncated 26/20"
    );
    let mut v23 = pcap_header(BE, false, 1);
    v23[7] = 3;
    assert_eq!(fail(v23), "0 Version 2.3");
    assert_eq!(
        fail(pcap_header(LE, true, 105)),
        "0 UnsupportedLinkType 105"
    );
    assert_eq!(fail(b"GIF89a".to_vec()), "0 UnknownFormat [71, 73, 70, 56]");
    assert_eq!(fail(Vec::new()), "0 Truncated 4/0");
    let mut header = pcap_header(LE, false, 1);
    header.truncate(20);
    assert_eq!(fail(header), "0 Truncated 24/20");
    // FCS bits in the link-type field do not change the link type.
    let mut fcs = pcap_header(LE, false, 0x1400_0001);
    fcs.extend(pcap_rec(LE, 0, 0, 4, &[7; 4]));
    assert_eq!(frames(fcs), [frame(0, vec![7; 4], 4, 24)]);
}

#[test]
fn iterator_ends_after_error() {
    let mut f = pcap_header(LE, false, 1);
    f.extend(pcap_rec(LE, 0, 0, 4, &[1; 4]));
    f.extend(put(LE, &[W(0), W(0), W(MAX_LEN + 1), W(4), B(&[2; 4])]));
    f.extend(pcap_rec(LE, 0, 0, 4, &[3; 4]));
    let mut cap = open(f).unwrap();
    assert_eq!(cap.next().unwrap().unwrap().data, [1; 4]);
    assert_eq!(cap.next().unwrap().unwrap_err().offset, 44);
    assert!(cap.next().is_none());
    assert!(cap.next().is_none());
}

#[test]
fn pcapng_blocks_in_both_byte_orders() {
    for e in [LE, BE] {
        let blocks = [
            shb(e, -1),
            idb(e, 1, 0, &[]),
            epb(e, false, 0, 1_500_000_123, 60, &pattern(1, 60)),
            ng_block(e, 4, vec![0; 4]),
            ng_block(e, 5, put(e, &[W(0), Q(0)])),
            ng_block(e, 0x0000_0bad, vec![1, 2, 3]),
            spb(e, 61, &pattern(3, 61)),
            epb(e, true, 0, 7, 80, &pattern(4, 50)),
        ];
        let cap = open(blocks.concat()).unwrap();
        assert_eq!(cap.format(), "pcapng");
        let want = [
            frame(1_500_000_123_000, pattern(1, 60), 60, start(&blocks, 2)),
            frame(0, pattern(3, 61), 61, start(&blocks, 6)),
            frame(7000, pattern(4, 50), 80, start(&blocks, 7)),
        ];
        assert_eq!(cap.map(Result::unwrap).collect::<Vec<_>>(), want, "{e:?}");
    }
}

#[test]
fn pcapng_timestamp_resolution_and_offset() {
    let f = [
        shb(LE, -1),
        idb(LE, 1, 0, &[(2, b"eth0"), (9, &[9])]),
        idb(LE, 1, 0, &[(9, &[0x80 | 10])]),
        idb(LE, 1, 0, &[(14, &100u64.to_le_bytes())]),
        epb(LE, false, 0, 1_234_567_890_123_456_789, 4, &[0; 4]),
        epb(LE, false, 1, 3 * 1024 + 512, 4, &[1; 4]),
        epb(LE, false, 2, 5, 4, &[2; 4]),
    ];
    let ts: Vec<u64> = frames(f.concat()).iter().map(|f| f.ts_ns).collect();
    let want = [1_234_567_890_123_456_789, 3_500_000_000, 100_000_005_000];
    assert_eq!(ts, want);
}

#[test]
fn pcapng_sections_change_byte_order_and_interfaces() {
    let ip4 = cooked(false, 0, 6, 0x0800, &[0x45; 4]);
    let ip6 = cooked(true, 1, 6, 0x86dd, &[0x60; 4]);
    let blocks = [
        shb(LE, -1),
        idb(LE, 1, 0, &[]),
        idb(LE, 113, 0, &[]),
        epb(LE, false, 1, 1, 20, &ip4),
        epb(LE, false, 0, 2, 60, &pattern(9, 60)),
        shb(BE, 56),
        idb(BE, 276, 0, &[(9, &[9])]),
        epb(BE, false, 0, 3, 24, &ip6),
        shb(LE, -1),
        idb(LE, 1, 32, &[]),
        spb(LE, 60, &pattern(5, 60)),
    ];
    let ip4_eth = [&[0; 6][..], &MAC, &[8, 0], &[0x45; 4]].concat();
    let ip6_eth = [&[0xff; 6][..], &MAC, &[0x86, 0xdd], &[0x60; 4]].concat();
    let want = [
        frame(1000, ip4_eth, 18, start(&blocks, 3)),
        frame(2000, pattern(9, 60), 60, start(&blocks, 4)),
        frame(3, ip6_eth, 18, start(&blocks, 7)),
        frame(0, pattern(5, 32), 60, start(&blocks, 10)),
    ];
    assert_eq!(frames(blocks.concat()), want);
}

#[test]
fn pcapng_rejects_broken_blocks() {
    let head = [shb(LE, -1), idb(LE, 1, 0, &[])].concat();
    let with = |tail: Vec<u8>| fail([head.clone(), tail].concat());
    let mut mismatch = epb(LE, false, 0, 0, 4, &[0; 4]);
    let n = mismatch.len();
    mismatch[n - 4] = 0;
    assert_eq!(with(mismatch), "48 Mismatch 36/0");
    assert_eq!(with(put(LE, &[W(6), W(30), B(&[0; 22])])), "48 BadField 30");
    assert_eq!(with(put(LE, &[W(6), W(16), W(0), W(16)])), "48 BadField 16");
    assert_eq!(with(epb(LE, false, 1, 0, 4, &[0; 4])), "48 BadField 1");
    assert_eq!(with(idb(LE, 1, 0, &[(9, &[39])])), "48 BadField 39");
    let mut caplen = epb(LE, false, 0, 0, 99, &[0; 4]);
    caplen[20] = 9; // captured length 9, but the block holds 4 data bytes
    assert_eq!(with(caplen), "48 BadField 9");
    let mut magic = shb(LE, -1);
    magic[8] = 0;
    assert_eq!(fail(magic), format!("0 BadField {}", 0x003c_2b1a));
    let mut v2 = shb(BE, -1);
    v2[13] = 2;
    assert_eq!(fail(v2), "0 Version 2.0");
}

#[test]
fn snoop_records_and_rejects() {
    let f = [
        snoop_header(4),
        snoop_rec(0x3650_f2df, 885_516, 60, &pattern(1, 60), 0),
        snoop_rec(7, 1, 100, &pattern(2, 41), 8),
        snoop_rec(8, 2, 4, &[3; 4], 0),
    ];
    let cap = open(f.concat()).unwrap();
    assert_eq!(cap.format(), "snoop");
    let want = [
        frame(
            0x3650_f2df * 1_000_000_000 + 885_516_000,
            pattern(1, 60),
            60,
            16,
        ),
        frame(7_000_001_000, pattern(2, 41), 100, 100),
        frame(8_000_002_000, vec![3; 4], 4, 100 + 24 + 44 + 8),
    ];
    assert_eq!(cap.map(Result::unwrap).collect::<Vec<_>>(), want);
    let mut v3 = snoop_header(4);
    v3[11] = 3;
    assert_eq!(fail(v3), "0 Version 3.0");
    assert_eq!(fail(snoop_header(0)), "0 UnsupportedLinkType 0");
    let mut short = snoop_rec(0, 0, 8, &[0; 8], 0);
    short[11] = 24; // a 24-byte record cannot hold 8 data bytes
    assert_eq!(fail([snoop_header(4), short].concat()), "16 BadField 24");
}

#[test]
fn linux_cooked_v1_and_v2_become_ethernet() {
    let ipx_raw = [&[0xff, 0xff, 0, 30][..], &[0x11; 26]].concat();
    let llc = [&[0xe0, 0xe0, 0x03][..], &[0x22; 17]].concat();
    // An outgoing frame: the protocol field holds its 802.3 length, 36, before 10 pad bytes.
    let snap_padded = [&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x80, 0xf3][..], &[0x33; 38]].concat();
    let multicast = [1, 0, 0, 0, 0, 0];
    // (packet type, address length, protocol, payload, bytes cut by snaplen, dst, src, type)
    let cases = [
        (0, 6, 0x0800, vec![0x45; 20], 0, [0; 6], MAC, 0x0800),
        (1, 6, 0x8137, vec![0xff; 30], 0, [0xff; 6], MAC, 0x8137),
        (1, 6, 0x0001, ipx_raw, 0, [0xff; 6], MAC, 30),
        (2, 6, 0x0004, llc, 20, multicast, MAC, 40),
        (4, 0, 36, snap_padded, 0, [0; 6], [0; 6], 36),
        (3, 6, 0x0004, vec![0x44; 1600], 400, [0; 6], MAC, 1500),
    ];
    for v2 in [false, true] {
        let (link, hdr) = if v2 { (276, 20) } else { (113, 16) };
        let mut f = pcap_header(LE, false, link);
        let mut want = Vec::new();
        for (pkttype, alen, proto, payload, cut, dst, src, tl) in &cases {
            let eth = [&dst[..], src, &u16::to_be_bytes(*tl), payload].concat();
            let wire = payload.len() as u32 + cut;
            want.push(frame(0, eth, wire + 14, f.len()));
            let rec = cooked(v2, *pkttype, *alen, *proto, payload);
            f.extend(pcap_rec(LE, 0, 0, wire + hdr, &rec));
        }
        assert_eq!(frames(f), want, "SLL v2: {v2}");
    }
    let mut short = pcap_header(LE, false, 113);
    short.extend(pcap_rec(LE, 0, 0, 10, &[0; 10]));
    assert_eq!(fail(short), "24 Truncated 16/10");
}

/// The first bytes of an IPv4 header to `dst`: all a link conversion looks at.
fn ipv4_to(dst: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 20];
    h.resize(16, 0);
    h.extend(dst);
    h
}

/// The first bytes of an IPv6 header whose destination starts with `dst0`.
fn ipv6_to(dst0: u8) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.resize(24, 0);
    h.push(dst0);
    h.resize(40, 1);
    h
}

fn eth(dst: [u8; 6], type_or_len: u16, payload: &[u8]) -> Vec<u8> {
    [&dst[..], &[0; 6], &type_or_len.to_be_bytes(), payload].concat()
}

const BCAST: [u8; 6] = [0xff; 6];
const MCAST: [u8; 6] = [1, 0, 0, 0, 0, 0];
const UNICAST: [u8; 6] = [0; 6];
/// What a frame faultd does not watch is given (IEEE 802 Local Experimental 1).
const UNWATCHED: u16 = 0x88b5;

/// Reads a pcap of link type `lt` holding `(record, bytes cut by snaplen)` in both file
/// byte orders, and checks it gives the frames `want` (their wire lengths follow).
#[track_caller]
fn check_link(lt: u32, hdr: u32, cases: &[(Vec<u8>, u32, Vec<u8>)]) {
    for e in [LE, BE] {
        let mut f = pcap_header(e, false, lt);
        let mut want = Vec::new();
        for (rec, cut, eth) in cases {
            let wire = rec.len() as u32 + cut;
            want.push(frame(0, eth.clone(), wire - hdr + 14, f.len()));
            f.extend(pcap_rec(e, 0, 0, wire, rec));
        }
        assert_eq!(frames(f), want, "link type {lt}, {e:?}");
    }
}

#[test]
fn raw_ip_becomes_ethernet_by_version_or_link_type() {
    let (v4, v6) = (ipv4_to([10, 0, 0, 1]), ipv6_to(0x20));
    let subnet_bcast = ipv4_to([10, 0, 0, 255]);
    let (bcast, mcast, mcast6) = (ipv4_to([255; 4]), ipv4_to([239, 1, 2, 3]), ipv6_to(0xff));
    let (neither, empty) = (vec![0x52; 30], vec![]);
    let cases = [
        (v4.clone(), 0, eth(UNICAST, 0x0800, &v4)),
        (v6.clone(), 100, eth(UNICAST, 0x86dd, &v6)),
        (bcast.clone(), 0, eth(BCAST, 0x0800, &bcast)),
        (mcast.clone(), 0, eth(MCAST, 0x0800, &mcast)),
        (mcast6.clone(), 0, eth(MCAST, 0x86dd, &mcast6)),
        // No link address says a subnet's broadcast address is not a host's.
        (subnet_bcast.clone(), 0, eth(UNICAST, 0x0800, &subnet_bcast)),
        // Not IP: counted as a frame, never classified; the file goes on.
        (neither.clone(), 0, eth(UNICAST, UNWATCHED, &neither)),
        (empty.clone(), 0, eth(UNICAST, UNWATCHED, &empty)),
    ];
    for lt in [101, 12, 14] {
        check_link(lt, 0, &cases);
    }
    // LINKTYPE_IPV4 and LINKTYPE_IPV6 fix the version whatever the first byte says.
    let v6_in_v4 = eth(UNICAST, 0x0800, &v6);
    check_link(228, 0, &[cases[0].clone(), (v6.clone(), 0, v6_in_v4)]);
    check_link(
        229,
        0,
        &[cases[1].clone(), (v4.clone(), 0, eth(UNICAST, 0x86dd, &v4))],
    );
    let mut huge = pcap_header(LE, false, 101);
    huge.extend(pcap_rec(LE, 0, 0, u32::MAX, &v4));
    assert_eq!(frames(huge)[0].wire_len, u32::MAX);
}

#[test]
fn cisco_hdlc_becomes_ethernet() {
    let chdlc = |addr: u8, proto: u16, p: &[u8]| [&[addr, 0][..], &proto.to_be_bytes(), p].concat();
    let (v4, v6, ipx) = (
        ipv4_to([10, 0, 0, 255]),
        ipv6_to(0x20),
        vec![0xff, 0xff, 0, 30],
    );
    let slarp = vec![0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff];
    let inner = eth(BCAST, 0x8137, &ipx);
    let cases = [
        (chdlc(0x0f, 0x0800, &v4), 0, eth(UNICAST, 0x0800, &v4)),
        // The broadcast address byte makes a group destination, as on the LAN.
        (chdlc(0x8f, 0x0800, &v4), 0, eth(BCAST, 0x0800, &v4)),
        (chdlc(0x0f, 0x86dd, &v6), 60, eth(UNICAST, 0x86dd, &v6)),
        (chdlc(0x8f, 0x8137, &ipx), 0, eth(BCAST, 0x8137, &ipx)),
        // SLARP keepalives and CDP keep their numbers, which faultd does not watch...
        (chdlc(0x8f, 0x8035, &slarp), 0, eth(BCAST, 0x8035, &slarp)),
        (chdlc(0x8f, 0x2000, &[1; 8]), 0, eth(BCAST, 0x2000, &[1; 8])),
        // ...but a value up to 1500 must not pass for an 802.3 length (UDLD is 0x0111).
        (chdlc(0x0f, 0x0111, &ipx), 0, eth(UNICAST, UNWATCHED, &ipx)),
    ];
    check_link(104, 4, &cases);
    // Transparent bridging carries a whole Ethernet frame, which is the frame.
    let mut f = pcap_header(LE, false, 104);
    f.extend(pcap_rec(LE, 0, 0, 4 + 60, &chdlc(0x0f, 0x6558, &inner)));
    assert_eq!(frames(f), [frame(0, inner, 60, 24)]);
    let mut short = pcap_header(BE, false, 104);
    short.extend(pcap_rec(BE, 0, 0, 80, &[0x0f, 0]));
    assert_eq!(fail(short), "24 Truncated 4/2");
}

#[test]
fn loopback_family_in_either_byte_order() {
    let (v4, v6) = (ipv4_to([255; 4]), ipv6_to(0x20));
    let ipx = vec![0xff, 0xff, 0, 30, 0, 4];
    // (address family, payload, EtherType, destination)
    let families = [
        (2, &v4, 0x0800, BCAST),
        (24, &v6, 0x86dd, UNICAST), // NetBSD, OpenBSD
        (28, &v6, 0x86dd, UNICAST), // FreeBSD
        (30, &v6, 0x86dd, UNICAST), // Darwin
        (10, &v6, 0x86dd, UNICAST), // Linux
        (23, &ipx, 0x8137, UNICAST),
        (7, &ipx, UNWATCHED, UNICAST), // OSI: not ours
    ];
    // DLT_NULL is in the capturing host's byte order, whichever the file's is; LOOP is
    // in network order (and read the same way).
    for (lt, host_le) in [(0, true), (0, false), (108, false)] {
        let cases: Vec<_> = families
            .iter()
            .map(|&(af, p, t, dst)| {
                let af: u32 = af;
                let hdr = if host_le {
                    af.to_le_bytes()
                } else {
                    af.to_be_bytes()
                };
                ([&hdr[..], &p[..]].concat(), 0, eth(dst, t, p))
            })
            .collect();
        check_link(lt, 4, &cases);
    }
    // A value that is no family in either order is not ours either.
    let odd = [&0x0102_0304u32.to_be_bytes()[..], &v4].concat();
    check_link(0, 4, &[(odd, 0, eth(UNICAST, UNWATCHED, &v4))]);
    let mut short = pcap_header(LE, false, 0);
    short.extend(pcap_rec(LE, 0, 0, 3, &[2, 0, 0]));
    assert_eq!(fail(short), "24 Truncated 4/3");
}

#[test]
fn pcapng_skips_and_counts_interfaces_of_other_link_types() {
    let usb = pattern(7, 64);
    // Too long for any link faultd reads, but it is not read.
    let big_usb = vec![0; 300_000];
    let blocks = [
        shb(LE, -1),
        idb(LE, 220, 0, &[]),
        idb(LE, 1, 0, &[]),
        idb(LE, 127, 0, &[]),
        epb(LE, false, 0, 1, 64, &usb),
        epb(LE, false, 1, 2, 60, &pattern(1, 60)),
        epb(LE, false, 0, 3, 300_000, &big_usb),
        epb(LE, false, 2, 4, 30, &[0; 30]),
        spb(LE, 64, &usb),
        shb(BE, -1),
        idb(BE, 189, 0, &[]),
        idb(BE, 104, 0, &[]),
        epb(
            BE,
            false,
            1,
            5,
            24,
            &[&[0x8f, 0, 8, 0][..], &ipv4_to([1; 4])].concat(),
        ),
        epb(BE, true, 0, 6, 48, &usb[..48]),
    ];
    let mut cap = open(blocks.concat()).unwrap();
    let got: Vec<Frame> = cap.by_ref().map(Result::unwrap).collect();
    let want = [
        frame(2000, pattern(1, 60), 60, start(&blocks, 5)),
        frame(
            5000,
            eth(BCAST, 0x0800, &ipv4_to([1; 4])),
            34,
            start(&blocks, 12),
        ),
    ];
    assert_eq!(got, want);
    assert_eq!(cap.skipped(), [(220, 3), (127, 1), (189, 1)]);
    let notes = cap.skipped_notes();
    let want = [
        "test.cap: skipped 3 frames of interfaces with link type 220 (USB), which faultd does not read",
        "test.cap: skipped 1 frame of interfaces with link type 127 (802.11 radiotap), which faultd does not read",
        "test.cap: skipped 1 frame of interfaces with link type 189 (USB), which faultd does not read",
    ];
    assert_eq!(notes, want);
    // A file none of whose interfaces faultd reads is refused, like a pcap of that type.
    let none = [shb(LE, -1), idb(LE, 220, 0, &[]), idb(LE, 147, 0, &[])];
    let tail = [epb(LE, false, 1, 0, 4, &[0; 4])];
    assert_eq!(
        fail([&none[..], &tail].concat().concat()),
        "28 UnsupportedLinkType 220"
    );
    let later = [shb(BE, -1), idb(BE, 1, 0, &[])];
    let ok = [&none[..], &tail, &later].concat().concat();
    assert!(
        frames(ok).is_empty(),
        "a readable interface in any section will do"
    );
    // No interface at all is no reason to refuse: there is nothing to read.
    assert!(frames(shb(LE, -1)).is_empty());
}

#[test]
fn captured_length_above_original_length_reads() {
    let mut f = pcap_header(LE, false, 1);
    f.extend(pcap_rec(LE, 0, 0, 10, &pattern(1, 11)));
    f.extend(pcap_rec(LE, 0, 0, 0, &pattern(2, 4)));
    let mut sll = pcap_header(BE, true, 113);
    sll.extend(pcap_rec(
        BE,
        0,
        0,
        4,
        &cooked(false, 0, 6, 0x0800, &[0x45; 4]),
    ));
    let ng = [
        shb(BE, -1),
        idb(BE, 0, 0, &[]),
        epb(
            BE,
            false,
            0,
            0,
            7,
            &[&[2, 0, 0, 0][..], &[0x45; 20]].concat(),
        ),
    ];
    let snoop = [snoop_header(4), snoop_rec(0, 0, 3, &pattern(3, 9), 0)].concat();
    assert_eq!(
        frames(f),
        [
            frame(0, pattern(1, 11), 11, 24),
            frame(0, pattern(2, 4), 4, 51)
        ]
    );
    let ip4 = [&[0; 6][..], &MAC, &[8, 0], &[0x45; 4]].concat();
    assert_eq!(frames(sll), [frame(0, ip4, 18, 24)]);
    let ip4 = eth(UNICAST, 0x0800, &[0x45; 20]);
    assert_eq!(frames(ng.concat()), [frame(0, ip4, 34, start(&ng, 2))]);
    assert_eq!(frames(snoop), [frame(0, pattern(3, 9), 9, 16)]);
}

#[test]
fn thousands_separators() {
    let got: Vec<String> = [0, 999, 1000, 1234, 999_999, 1_234_567]
        .map(thousands)
        .into();
    assert_eq!(got, ["0", "999", "1,000", "1,234", "999,999", "1,234,567"]);
}

/// Cuts `pieces.concat()` at every length: a cut on a piece boundary is a clean end, any
/// other cut is a Truncated error at the start of the piece it falls in. Never a panic.
fn check_every_prefix(pieces: &[Vec<u8>]) {
    let full = pieces.concat();
    let all = frames(full.clone());
    let starts: Vec<usize> = (0..=pieces.len()).map(|i| start(pieces, i)).collect();
    for n in 0..=full.len() {
        let result = open(full[..n].to_vec());
        if n < pieces[0].len() {
            let e = result.err().expect("a cut header must fail");
            let truncated = matches!(e.kind, ErrorKind::Truncated { .. });
            assert!(truncated && e.offset == 0, "{n}: {e}");
            continue;
        }
        let mut items: Vec<_> = result.unwrap().collect();
        let cut = *starts.iter().rev().find(|&&s| s <= n).unwrap();
        if cut < n {
            let e = items.pop().unwrap().expect_err("a cut record must fail");
            assert!(matches!(e.kind, ErrorKind::Truncated { .. }), "{n}: {e}");
            assert_eq!(e.offset, cut as u64, "{n}");
        }
        let got: Vec<&Frame> = items.iter().map(|i| i.as_ref().unwrap()).collect();
        let want: Vec<&Frame> = all.iter().filter(|f| f.offset < cut as u64).collect();
        assert_eq!(got, want, "{n}");
    }
}

#[test]
fn truncation_at_every_offset() {
    check_every_prefix(&[
        pcap_header(BE, true, 1),
        pcap_rec(BE, 1, 2, 20, &pattern(1, 20)),
        pcap_rec(BE, 3, 4, 9, &pattern(2, 9)),
    ]);
    check_every_prefix(&[
        pcap_header(LE, false, 113),
        pcap_rec(LE, 1, 2, 20, &cooked(false, 0, 6, 0x800, &[0x45; 4])),
    ]);
    check_every_prefix(&[
        shb(LE, -1),
        idb(LE, 1, 0, &[(9, &[9])]),
        epb(LE, false, 0, 5, 14, &pattern(1, 14)),
        ng_block(LE, 4, vec![0; 4]),
        spb(LE, 6, &pattern(2, 6)),
        epb(LE, true, 0, 5, 7, &pattern(3, 7)),
        shb(BE, -1),
        idb(BE, 276, 0, &[]),
        epb(BE, false, 0, 5, 24, &cooked(true, 0, 6, 0x800, &[0x45; 4])),
    ]);
    check_every_prefix(&[
        pcap_header(BE, false, 104),
        pcap_rec(
            BE,
            1,
            2,
            30,
            &[&[0x8f, 0, 8, 0][..], &ipv4_to([1; 4])].concat(),
        ),
        pcap_rec(BE, 1, 2, 4, &[0x0f, 0, 0x65, 0x58]),
    ]);
    check_every_prefix(&[
        shb(LE, -1),
        // A cut right after an unreadable first interface would refuse the file.
        idb(LE, 0, 0, &[]),
        idb(LE, 220, 0, &[]),
        epb(LE, false, 1, 5, 14, &pattern(1, 14)),
        epb(
            LE,
            false,
            0,
            5,
            24,
            &[&[24, 0, 0, 0][..], &ipv6_to(0xff)].concat(),
        ),
        spb(LE, 6, &pattern(2, 6)),
    ]);
    check_every_prefix(&[
        snoop_header(4),
        snoop_rec(1, 2, 14, &pattern(1, 14), 0),
        snoop_rec(3, 4, 9, &pattern(2, 9), 4),
    ]);
}

#[test]
fn garbage_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as usize
    };
    let sll = pcap_rec(LE, 1, 2, 30, &cooked(false, 1, 6, 4, &[0; 14]));
    let iface = idb(BE, 1, 0, &[(9, &[0x85])]);
    let packets = [epb(BE, false, 0, 1, 9, &[1; 9]), spb(BE, 3, &[2; 3])].concat();
    let loopback = epb(
        LE,
        false,
        1,
        1,
        44,
        &[&[0, 0, 0, 2][..], &ipv4_to([255; 4])].concat(),
    );
    let mixed = [
        shb(LE, -1),
        idb(LE, 189, 0, &[]),
        idb(LE, 108, 0, &[]),
        loopback,
    ];
    let chdlc = pcap_rec(
        BE,
        1,
        2,
        44,
        &[&[0x8f, 0, 0x86, 0xdd][..], &ipv6_to(0xff)].concat(),
    );
    let raw = pcap_rec(LE, 1, 2, 40, &ipv6_to(0xff));
    let valid = [
        [pcap_header(LE, false, 113), sll].concat(),
        [shb(BE, -1), iface, packets].concat(),
        mixed.concat(),
        [pcap_header(BE, false, 104), chdlc].concat(),
        [pcap_header(LE, false, 101), raw].concat(),
        [snoop_header(4), snoop_rec(1, 2, 14, &pattern(1, 14), 0)].concat(),
    ];
    let magics: [&[u8]; 4] = [&PCAPNG_SHB, &[0xd4, 0xc3, 0xb2, 0xa1], SNOOP_MAGIC, &[]];
    for round in 0..3000 {
        let bytes = if round % 2 == 0 {
            // Mutating a valid capture gets parsing deep before it meets nonsense.
            let mut v = valid[round / 2 % valid.len()].clone();
            for _ in 0..1 + rand() % 4 {
                let i = rand() % v.len();
                v[i] = rand() as u8;
            }
            v.truncate(rand() % (v.len() + 8));
            v
        } else {
            let mut v: Vec<u8> = (0..rand() % 200).map(|_| rand() as u8).collect();
            let magic = magics[round / 2 % 4];
            v.splice(..magic.len().min(v.len()), magic.iter().copied());
            v
        };
        if let Ok(cap) = open(bytes) {
            // Every step consumes at least one record header, so this always ends.
            assert!(cap.take(1000).count() < 1000);
        }
    }
}

#[test]
fn error_display_names_file_offset_and_problem() {
    let mut f = pcap_header(LE, false, 1);
    f.extend(pcap_rec(LE, 0, 0, 20, &[0; 20]));
    f.extend([0; 7]);
    let mut cap = Capture::from_bytes(Path::new("dir/capture.pcap"), f).unwrap();
    let text = cap.nth(1).unwrap().unwrap_err().to_string();
    let want =
        "dir/capture.pcap: truncated pcap record header at byte 60: needed 16 bytes, 7 available";
    assert_eq!(text, want);
    let e = Capture::from_bytes(Path::new("x.pcapng"), pcap_header(LE, false, 147));
    let want = "x.pcapng: unsupported link type 147 declared at byte 0";
    assert_eq!(e.err().unwrap().to_string(), want);
    let e = Capture::from_bytes(Path::new("usb.pcap"), pcap_header(BE, false, 220));
    let want = "usb.pcap: unsupported link type 220 (USB) declared at byte 0";
    assert_eq!(e.err().unwrap().to_string(), want);
    // A pcapng file is refused once read through: a later section may be readable.
    let usb = [shb(LE, -1), idb(LE, 220, 0, &[])].concat();
    let mut cap = Capture::from_bytes(Path::new("usb.pcapng"), usb).unwrap();
    let want = "usb.pcapng: unsupported link type 220 (USB) declared at byte 28";
    assert_eq!(cap.next().unwrap().unwrap_err().to_string(), want);
    assert!(cap.next().is_none());
    let e = Capture::open(Path::new("/nonexistent/dir/gone.pcap"))
        .err()
        .unwrap();
    let text = e.to_string();
    assert!(matches!(e.kind, ErrorKind::Io(_)));
    assert!(text.starts_with("/nonexistent/dir/gone.pcap: cannot read file at byte 0: "));
}

/// A source that hands out at most `step` bytes per read, as a pipe may.
struct Trickle {
    bytes: std::io::Cursor<Vec<u8>>,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(self.step);
        self.bytes.read(&mut out[..n])
    }
}

fn trickle(bytes: Vec<u8>, step: usize) -> Capture {
    let bytes = std::io::Cursor::new(bytes);
    Capture::from_reader(Path::new("pipe"), Box::new(Trickle { bytes, step })).unwrap()
}

#[test]
fn a_source_read_in_pieces_gives_the_same_frames() {
    let big = pattern(5, MAX_LEN as usize);
    let files = [
        [
            pcap_header(LE, false, 1),
            pcap_rec(LE, 1, 2, 60, &pattern(1, 60)),
        ]
        .concat(),
        [pcap_header(BE, true, 1), pcap_rec(BE, 1, 2, MAX_LEN, &big)].concat(),
        [
            shb(LE, -1),
            idb(LE, 220, 0, &[]),
            idb(LE, 1, 0, &[(9, &[9])]),
            epb(LE, false, 0, 1, 70_000, &pattern(7, 70_000)),
            epb(LE, false, 1, 5, 14, &pattern(1, 14)),
            ng_block(LE, 4, vec![0; 100_000]),
            epb(LE, false, 1, 6, MAX_LEN, &big),
            spb(LE, 6, &pattern(2, 6)),
        ]
        .concat(),
        [snoop_header(4), snoop_rec(1, 2, 14, &pattern(1, 14), 9_000)].concat(),
    ];
    for (i, f) in files.iter().enumerate() {
        let whole: Vec<Frame> = frames(f.clone());
        assert!(!whole.is_empty(), "file {i}");
        for step in [1, 3, 4096, 1 << 20] {
            let got: Vec<Frame> = trickle(f.clone(), step).map(Result::unwrap).collect();
            assert_eq!(got, whole, "file {i}, {step} bytes per read");
        }
    }
}

#[test]
fn blocks_faultd_does_not_read_pass_at_any_length_and_the_window_stays_bounded() {
    let huge = 4 << 20;
    let blocks = [
        shb(LE, -1),
        idb(LE, 220, 0, &[]),
        idb(LE, 1, 0, &[]),
        epb(LE, false, 0, 1, huge, &vec![0; huge as usize]),
        ng_block(LE, 0x0000_0bad, vec![1; huge as usize]),
        epb(LE, false, 1, 2, 60, &pattern(1, 60)),
    ];
    let mut cap = trickle(blocks.concat(), 1 << 20);
    let got: Vec<Frame> = cap.by_ref().map(Result::unwrap).collect();
    assert_eq!(got, [frame(2000, pattern(1, 60), 60, start(&blocks, 5))]);
    assert_eq!(cap.skipped(), [(220, 1)]);
    let held = cap.input.buf.len();
    assert!(held <= 2 * MAX_BLOCK as usize + CHUNK, "{held} bytes held");
    // A packet faultd reads is held whole, so its block has a bound.
    let options = vec![0; MAX_BLOCK as usize];
    let long = epb(
        LE,
        false,
        0,
        3,
        60,
        &[&pattern(1, 60)[..], &options].concat(),
    );
    let long = [shb(LE, -1), idb(LE, 1, 0, &[]), long].concat();
    assert_eq!(
        fail(long.clone()),
        format!("48 BadField {}", long.len() - 48)
    );
    let text = trickle(long, 4096).next().unwrap().unwrap_err().to_string();
    let want = "bad pcapng block total length (over 320 KiB) at byte 48";
    assert!(text.starts_with(&format!("pipe: {want}")), "{text}");
}

#[test]
fn an_endless_stream_of_zeros_is_refused_at_once() {
    let zeros = std::io::repeat(0);
    let e = Capture::from_reader(Path::new("/dev/zero"), Box::new(zeros));
    let text = e.err().unwrap().to_string();
    let want =
        "/dev/zero: unknown capture format at byte 0: magic 00000000 is not pcap, pcapng or snoop";
    assert_eq!(text, want);
}

/// Frame counts of the shared real captures against capinfos, an independent reader.
#[test]
fn real_captures_match_capinfos() {
    use std::process::Command;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/real");
    let dir = Path::new(dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("SKIPPED: real capture corpus {} not found", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|x| x != "md"));
    paths.sort();
    assert!(!paths.is_empty(), "no captures in {}", dir.display());
    for path in &paths {
        let capinfos = Command::new("capinfos")
            .args(["-c", "-M"])
            .arg(path)
            .output();
        let out = match capinfos {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("SKIPPED: capinfos not found (Debian package wireshark-common)");
                return;
            }
            Err(e) => panic!("capinfos: {e}"),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let count = text
            .lines()
            .find_map(|l| l.strip_prefix("Number of packets:"));
        let count: usize = count
            .expect("capinfos packet count")
            .trim()
            .parse()
            .unwrap();
        let got: Result<Vec<Frame>, _> = Capture::open(path).unwrap().collect();
        let got = got.unwrap();
        assert_eq!(got.len(), count, "{}", path.display());
        assert!(got.iter().all(|f| f.data.len() <= f.wire_len as usize));
        if path.ends_with("nbns_nbss_samba_ipx_snap_raw_llc__wswiki_Obsolete_Packets.cap") {
            // The first record holds 88 bytes: a 16-byte SLL header (unicast to us, from
            // 00:0c:29:0d:56:e3, IPv6) and a 72-byte payload.
            let first = &got[0].data;
            assert_eq!(first.len(), 14 + 72);
            let src = [0, 0x0c, 0x29, 0x0d, 0x56, 0xe3];
            assert_eq!(first[..14], [&[0; 6][..], &src, &[0x86, 0xdd]].concat());
            assert_eq!(first[14] >> 4, 6);
            // Frame 286 is outgoing 802.3 SNAP whose SLL protocol field holds its own length
            // (36) before 10 bytes of padding: that length survives the conversion.
            assert_eq!(got[285].data[12..17], [0, 36, 0xaa, 0xaa, 0x03]);
            assert_eq!(got[285].data.len(), 14 + 46);
        }
    }
}
