//! Classic pcap (microsecond timestamps, Ethernet or another link type), pcapng with
//! interfaces of several link types, and self-removing temp captures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const MAGIC_MICROSECONDS: u32 = 0xA1B2_C3D4;
const VERSION: (u16, u16) = (2, 4);
const SNAPLEN: u32 = 65_535;
pub const LINKTYPE_ETHERNET: u32 = 1;

/// A capture file image of `frames` given as (timestamp in ns since the epoch, frame bytes).
pub fn pcap_bytes(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    pcap_bytes_of(LINKTYPE_ETHERNET, frames)
}

/// [`pcap_bytes`] with records of link type `link_type` (see [`crate::link`]).
pub fn pcap_bytes_of(link_type: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    pcap_image(link_type, SNAPLEN, frames)
}

/// [`pcap_bytes`] as `tcpdump -s snaplen` writes it: each record holds at most the first
/// `snaplen` bytes of its frame, and the frame's whole length as its original length.
pub fn pcap_bytes_snapped(snaplen: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    pcap_image(LINKTYPE_ETHERNET, snaplen, frames)
}

fn pcap_image(link_type: u32, snaplen: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    // Little-endian throughout, like the captures tcpdump writes on x86.
    let mut out = MAGIC_MICROSECONDS.to_le_bytes().to_vec();
    out.extend_from_slice(&VERSION.0.to_le_bytes());
    out.extend_from_slice(&VERSION.1.to_le_bytes());
    // Time zone offset and accuracy are always zero.
    for word in [0, 0, snaplen, link_type] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for (ts_ns, frame) in frames {
        let len = u32::try_from(frame.len()).expect("frame too long");
        let kept = len.min(snaplen);
        let sec = u32::try_from(ts_ns / 1_000_000_000).expect("timestamp beyond 2106");
        let usec = (ts_ns % 1_000_000_000 / 1_000) as u32;
        for word in [sec, usec, kept, len] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&frame[..kept as usize]);
    }
    out
}

/// A pcapng image (one little-endian section) with an interface of each link type of
/// `interfaces`, in that order, and `packets` given as (interface index, timestamp in ns since
/// the epoch, bytes), each in an enhanced packet block.
pub fn pcapng_bytes(interfaces: &[u32], packets: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
        let len = 12 + body.len().next_multiple_of(4) as u32;
        out.extend_from_slice(&btype.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(&len.to_le_bytes());
    }
    const SHB: u32 = 0x0A0D_0D0A;
    const IDB: u32 = 1;
    const EPB: u32 = 6;
    const IF_TSRESOL: u16 = 9;
    const NANOSECONDS: u8 = 9;
    let mut out = Vec::new();
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length not given
    block(&mut out, SHB, &shb);
    for &lt in interfaces {
        let link = u16::try_from(lt).expect("a pcapng link type has 16 bits");
        let mut idb = link.to_le_bytes().to_vec();
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&SNAPLEN.to_le_bytes());
        idb.extend_from_slice(&IF_TSRESOL.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[NANOSECONDS, 0, 0, 0]);
        idb.extend_from_slice(&[0; 4]); // opt_endofopt
        block(&mut out, IDB, &idb);
    }
    for (iface, ts_ns, data) in packets {
        assert!((*iface as usize) < interfaces.len(), "no interface {iface}");
        let len = u32::try_from(data.len()).expect("packet too long");
        let mut epb = iface.to_le_bytes().to_vec();
        for word in [(ts_ns >> 32) as u32, *ts_ns as u32, len, len] {
            epb.extend_from_slice(&word.to_le_bytes());
        }
        epb.extend_from_slice(data);
        block(&mut out, EPB, &epb);
    }
    out
}

pub fn write_pcap(path: &Path, frames: &[(u64, Vec<u8>)]) -> std::io::Result<()> {
    std::fs::write(path, pcap_bytes(frames))
}

/// A pcap under the temp directory, unique per process and call, removed when dropped
/// unless `FAULT_TESTS_KEEP_PCAP` is set (then its path is printed, for debugging).
#[derive(Debug)]
pub struct TempPcap {
    path: PathBuf,
}

impl TempPcap {
    pub fn new(tag: &str, frames: &[(u64, Vec<u8>)]) -> std::io::Result<Self> {
        Self::with_bytes(tag, "pcap", &pcap_bytes(frames))
    }

    /// A temp file holding `bytes` (a capture image of any format), named `*.{extension}`.
    pub fn with_bytes(tag: &str, extension: &str, bytes: &[u8]) -> std::io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("fault-tests-{}-{n}-{tag}.{extension}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, bytes)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempPcap {
    fn drop(&mut self) {
        if std::env::var_os("FAULT_TESTS_KEEP_PCAP").is_some() {
            eprintln!("kept {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let b = pcap_bytes(&[(1_500_000_123_456, vec![0xAB; 3])]);
        assert_eq!(&b[..4], &[0xD4, 0xC3, 0xB2, 0xA1]);
        assert_eq!(&b[20..24], &[1, 0, 0, 0]);
        assert_eq!(&b[24..28], &1500u32.to_le_bytes());
        assert_eq!(&b[28..32], &123u32.to_le_bytes());
        assert_eq!(&b[32..40], &[3, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(b.len(), 24 + 16 + 3);
    }

    #[test]
    fn pcapng_layout() {
        let b = pcapng_bytes(&[1, 220], &[(1, 5_000_000_001, vec![0xAB; 3])]);
        assert_eq!(&b[..4], &[0x0A, 0x0D, 0x0D, 0x0A]);
        assert_eq!(&b[8..12], &[0x4D, 0x3C, 0x2B, 0x1A]);
        let idb = 28;
        assert_eq!(&b[idb..idb + 4], &1u32.to_le_bytes());
        let idb_len = 12 + 8 + 8 + 4;
        assert_eq!(&b[idb + 4..idb + 8], &(idb_len as u32).to_le_bytes());
        assert_eq!(&b[idb + 8..idb + 10], &1u16.to_le_bytes());
        assert_eq!(
            &b[idb + idb_len + 8..idb + idb_len + 10],
            &220u16.to_le_bytes()
        );
        let epb = idb + 2 * idb_len;
        assert_eq!(&b[epb..epb + 4], &6u32.to_le_bytes());
        assert_eq!(&b[epb + 8..epb + 12], &1u32.to_le_bytes());
        assert_eq!(
            &b[epb + 12..epb + 20],
            &[1, 0, 0, 0, 0x01, 0xF2, 0x05, 0x2A]
        );
        assert_eq!(b.len(), epb + 12 + 20 + 4);
    }

    #[test]
    fn temp_pcap_is_removed() {
        let p = TempPcap::new("unit", &[]).unwrap();
        let path = p.path().to_owned();
        assert!(path.exists());
        drop(p);
        assert!(!path.exists());
    }
}
