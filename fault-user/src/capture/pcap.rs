//! pcap records (the file header is read in `read_header`).

use super::*;

pub(super) fn pcap_record(
    input: &mut Input,
    pos: &mut usize,
    e: Endian,
    nanos: bool,
    link: Link,
    out: &mut Frame,
) -> Res<bool> {
    let at = *pos;
    if input.ends_at(at)? {
        return Ok(false);
    }
    let h = input.take(at, 16, "pcap record header")?;
    let (secs, frac, incl, orig) = (e.u32(h, 0), e.u32(h, 4), e.u32(h, 8), e.u32(h, 12));
    let orig = check_lengths(at, incl, orig)?;
    let rec = input.take(at, 16 + incl as usize, "pcap record")?;
    *pos = at + rec.len();
    let frac_ns = u64::from(frac) * if nanos { 1 } else { 1000 };
    let ts = u64::from(secs) * 1_000_000_000 + frac_ns;
    make_frame(link, &rec[16..], orig, ts, at, out).map(|()| true)
}
