//! pcapng blocks: sections, interfaces and the three kinds of packet block.

use super::*;

pub(super) struct Iface {
    /// `Err(link type)` for a link faultd does not read: its packets are skipped.
    pub(super) link: Result<Link, u32>,
    pub(super) snaplen: u32,
    /// if_tsresol as stored: high bit set means 2^-n, otherwise 10^-n.
    pub(super) tsresol: u8,
    pub(super) tsoffset_s: i64,
}

/// What a pcapng file has declared so far.
pub(super) struct PcapNg {
    /// The current section's byte order.
    pub(super) endian: Endian,
    /// The current section's interfaces.
    pub(super) ifaces: Vec<Iface>,
    /// An interface of a link type faultd reads was declared, in any section.
    pub(super) readable: bool,
    /// Where the first interface of a link type faultd does not read was declared, and
    /// its link type: the file is refused there if none is readable.
    pub(super) first_unreadable: Option<(usize, u32)>,
}

/// A pcapng block's total length, checked; `at` is where the block starts.
pub(super) fn pcapng_length(input: &mut Input, at: usize, e: Endian, min: u32) -> Res<u32> {
    let leading = e.u32(input.take(at, 8, "pcapng block header")?, 4);
    if !leading.is_multiple_of(4) || leading < min {
        return Err(bad(at, "pcapng block total length", leading));
    }
    Ok(leading)
}

/// Checks a pcapng block's framing and returns its body (between length and trailer),
/// held whole: at most `MAX_BLOCK` bytes.
pub(super) fn pcapng_block(input: &mut Input, at: usize, e: Endian, min: u32) -> Res<&[u8]> {
    let leading = pcapng_length(input, at, e, min)?;
    if leading > MAX_BLOCK {
        return Err(bad(at, "pcapng block total length (over 320 KiB)", leading));
    }
    let block = input.take(at, leading as usize, "pcapng block")?;
    let trailing = e.u32(block, block.len() - 4);
    if trailing != leading {
        return Err((at, ErrorKind::BlockLengthMismatch { leading, trailing }));
    }
    Ok(&block[8..block.len() - 4])
}

/// Checks a pcapng block's framing and passes over it, holding none of it: a block
/// faultd does not read may have any length.
pub(super) fn pcapng_pass(input: &mut Input, at: usize, e: Endian) -> Res<usize> {
    let leading = pcapng_length(input, at, e, 12)?;
    let trailing = e.u32(input.tail(at, leading as usize, 4, "pcapng block")?, 0);
    if trailing != leading {
        return Err((at, ErrorKind::BlockLengthMismatch { leading, trailing }));
    }
    Ok(leading as usize)
}

/// Reads a Section Header Block; its byte-order magic decides how the whole section is read.
pub(super) fn pcapng_shb(input: &mut Input, at: usize) -> Res<(Endian, usize)> {
    let h = input.take(at, 12, "pcapng section header block")?;
    let endian = match h[8..12] {
        [0x1a, 0x2b, 0x3c, 0x4d] => Endian::Big,
        [0x4d, 0x3c, 0x2b, 0x1a] => Endian::Little,
        _ => return Err(bad(at, "pcapng byte-order magic", Endian::Big.u32(h, 8))),
    };
    let body = pcapng_block(input, at, endian, 28)?;
    let (major, minor) = (endian.u16(body, 4), endian.u16(body, 6));
    if major != 1 {
        return Err((at, ErrorKind::UnsupportedVersion { major, minor }));
    }
    // The section length (possibly -1) is not needed: blocks are walked one by one.
    Ok((endian, body.len() + 12))
}

/// The link type of the interface a packet block at `at` belongs to, when faultd does not
/// read that link: the block is then passed over unread. `None` for a block too short to
/// be a packet block, or one cut before its interface id: reading it whole says what is
/// wrong.
pub(super) fn unread_link(
    input: &mut Input,
    at: usize,
    e: Endian,
    btype: u32,
    min_body: u32,
    ifaces: &[Iface],
) -> Res<Option<u32>> {
    let h = input.get(at, 12)?;
    if h.len() < 12 || e.u32(h, 4) < 12 + min_body {
        return Ok(None);
    }
    let id = match btype {
        6 => e.u32(h, 8),
        2 => u32::from(e.u16(h, 8)),
        _ => 0, // simple packet block: the first interface
    };
    Ok(ifaces.get(id as usize).and_then(|i| i.link.err()))
}

/// Counts a packet of an interface faultd does not read.
pub(super) fn count_skipped(skipped: &mut Vec<(u32, u64)>, lt: u32) {
    match skipped.iter_mut().find(|(t, _)| *t == lt) {
        Some((_, n)) => *n += 1,
        None => skipped.push((lt, 1)),
    }
}

pub(super) fn pcapng_idb(e: Endian, body: &[u8], at: usize) -> Res<Iface> {
    if body.len() < 8 {
        return Err(bad(at, "pcapng block total length", body.len() as u64 + 12));
    }
    let lt = u32::from(e.u16(body, 0));
    let mut iface = Iface {
        link: link(lt).ok_or(lt),
        snaplen: e.u32(body, 4),
        tsresol: 6,
        tsoffset_s: 0,
    };
    let mut opts = &body[8..];
    while opts.len() >= 4 {
        let (code, len) = (e.u16(opts, 0), usize::from(e.u16(opts, 2)));
        if code == 0 {
            break;
        }
        let value = opts
            .get(4..4 + len)
            .ok_or_else(|| bad(at, "pcapng option length", len as u64))?;
        match (code, len) {
            (9, 1) => iface.tsresol = value[0],
            (14, 8) => iface.tsoffset_s = e.uint(value, 0, 8) as i64,
            _ => {}
        }
        opts = opts.get(4 + len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    // 10^-38 is the finest decimal resolution whose divisor fits the u128 arithmetic below.
    if iface.tsresol & 0x80 == 0 && iface.tsresol > 38 {
        return Err(bad(at, "pcapng if_tsresol", iface.tsresol));
    }
    Ok(iface)
}

pub(super) fn pcapng_ts_ns(units: u64, iface: &Iface) -> u64 {
    let exp = u32::from(iface.tsresol & 0x7f);
    let units = u128::from(units);
    let ns = if iface.tsresol & 0x80 != 0 {
        (units * 1_000_000_000) >> exp
    } else if exp <= 9 {
        units * 10u128.pow(9 - exp)
    } else {
        units / 10u128.pow(exp - 9)
    };
    let total = ns as i128 + i128::from(iface.tsoffset_s) * 1_000_000_000;
    total.clamp(0, i128::from(u64::MAX)) as u64
}

/// Walks blocks until one yields a frame; IDBs and SHBs update the state on the way.
pub(super) fn pcapng_next(
    input: &mut Input,
    pos: &mut usize,
    ng: &mut PcapNg,
    skipped: &mut Vec<(u32, u64)>,
    out: &mut Frame,
) -> Res<bool> {
    loop {
        let at = *pos;
        if input.ends_at(at)? {
            // A file none of whose interfaces faultd reads is refused, as a pcap file of
            // such a link type is (it has given no frame); with one readable interface
            // in any section the others are skipped, and counted.
            return match ng.first_unreadable {
                Some((at, lt)) if !ng.readable => Err((at, ErrorKind::UnsupportedLinkType(lt))),
                _ => Ok(false),
            };
        }
        let h = input.take(at, 8, "pcapng block header")?;
        if h[..4] == PCAPNG_SHB {
            let (e, len) = pcapng_shb(input, at)?;
            (ng.endian, *pos) = (e, at + len);
            ng.ifaces.clear(); // interface ids are numbered per section
            continue;
        }
        let e = ng.endian;
        let btype = e.u32(h, 0);
        let min_body = match btype {
            1 => 0,
            2 | 6 => 20,
            3 => 4,
            _ => {
                // NRB, ISB, DSB, custom...: nothing a frame needs.
                *pos = at + pcapng_pass(input, at, e)?;
                continue;
            }
        };
        if btype != 1
            && let Some(lt) = unread_link(input, at, e, btype, min_body, &ng.ifaces)?
        {
            // Checked no further: its lengths need not fit the links faultd reads.
            *pos = at + pcapng_pass(input, at, e)?;
            count_skipped(skipped, lt);
            continue;
        }
        let body = pcapng_block(input, at, e, 12)?;
        *pos = at + body.len() + 12;
        if btype == 1 {
            let idb = pcapng_idb(e, body, at)?;
            match idb.link {
                Ok(_) => ng.readable = true,
                Err(lt) => _ = ng.first_unreadable.get_or_insert((at, lt)),
            }
            ng.ifaces.push(idb);
            continue;
        }
        if body.len() < min_body as usize {
            return Err(bad(at, "pcapng block total length", body.len() as u64 + 12));
        }
        let iface = |id: u32| {
            ng.ifaces
                .get(id as usize)
                .ok_or_else(|| bad(at, "pcapng interface id", id))
        };
        let (iface, ts, incl, orig, data_at) = if btype == 3 {
            let idb = iface(0)?;
            let orig = e.u32(body, 0);
            // A simple packet block records no captured length: it is bounded by the original
            // length, the interface snaplen and the block itself; and it has no timestamp.
            let snap = NonZeroU32::new(idb.snaplen).map_or(u32::MAX, NonZeroU32::get);
            let incl = orig.min(body.len() as u32 - 4).min(snap);
            (idb, None, incl, orig, 4)
        } else {
            // The obsolete packet block (2) has a 16-bit interface id and a drop count where
            // the enhanced one (6) has a 32-bit id; the rest is laid out alike.
            let id = if btype == 6 {
                e.u32(body, 0)
            } else {
                u32::from(e.u16(body, 0))
            };
            let ts = (u64::from(e.u32(body, 4)) << 32) | u64::from(e.u32(body, 8));
            (iface(id)?, Some(ts), e.u32(body, 12), e.u32(body, 16), 20)
        };
        let link = match iface.link {
            Ok(link) => link,
            // unread_link has passed over these already.
            Err(lt) => {
                count_skipped(skipped, lt);
                continue;
            }
        };
        let orig = check_lengths(at, incl, orig)?;
        let data = body
            .get(data_at..data_at + incl as usize)
            .ok_or_else(|| bad(at, "pcapng captured length (beyond its block)", incl))?;
        let ts_ns = ts.map_or(0, |units| pcapng_ts_ns(units, iface));
        return make_frame(link, data, orig, ts_ns, at, out).map(|()| true);
    }
}
