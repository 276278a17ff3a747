//! snoop (RFC 1761) records.

use super::*;

pub(super) fn snoop_record(input: &mut Input, pos: &mut usize, out: &mut Frame) -> Res<bool> {
    let at = *pos;
    if input.ends_at(at)? {
        return Ok(false);
    }
    let be = Endian::Big;
    let h = input.take(at, 24, "snoop record header")?;
    let (orig, incl, rec_len) = (be.u32(h, 0), be.u32(h, 4), be.u32(h, 8));
    let ts = u64::from(be.u32(h, 16)) * 1_000_000_000 + u64::from(be.u32(h, 20)) * 1000;
    let orig = check_lengths(at, incl, orig)?;
    if rec_len < 24 + incl {
        return Err(bad(at, "snoop record length (too short)", rec_len));
    }
    // The record length covers padding after the data (of any length), so it is what
    // moves us on; the record must hold it all.
    let rec_len = rec_len as usize;
    match input.get(at, 24 + incl as usize)? {
        rec if rec.len() == 24 + incl as usize => {
            make_frame(Link::Ethernet, &rec[24..], orig, ts, at, out)?
        }
        rec => return Err(truncated(at, "snoop record", rec_len, rec.len())),
    }
    input.tail(at, rec_len, 0, "snoop record")?;
    *pos = at + rec_len;
    Ok(true)
}
