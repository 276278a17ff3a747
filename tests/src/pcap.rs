//! Classic pcap (microsecond timestamps, Ethernet link type) and self-removing temp captures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

const MAGIC_MICROSECONDS: u32 = 0xA1B2_C3D4;
const VERSION: (u16, u16) = (2, 4);
const SNAPLEN: u32 = 65_535;
pub const LINKTYPE_ETHERNET: u32 = 1;

/// A capture file image of `frames` given as (timestamp in ns since the epoch, frame bytes).
pub fn pcap_bytes(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    // Little-endian throughout, like the captures tcpdump writes on x86.
    let mut out = MAGIC_MICROSECONDS.to_le_bytes().to_vec();
    out.extend_from_slice(&VERSION.0.to_le_bytes());
    out.extend_from_slice(&VERSION.1.to_le_bytes());
    // Time zone offset and accuracy are always zero.
    for word in [0, 0, SNAPLEN, LINKTYPE_ETHERNET] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for (ts_ns, frame) in frames {
        let len = u32::try_from(frame.len()).expect("frame too long");
        let sec = u32::try_from(ts_ns / 1_000_000_000).expect("timestamp beyond 2106");
        let usec = (ts_ns % 1_000_000_000 / 1_000) as u32;
        for word in [sec, usec, len, len] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(frame);
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
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("fault-tests-{}-{n}-{tag}.pcap", std::process::id());
        let path = std::env::temp_dir().join(name);
        write_pcap(&path, frames)?;
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
    fn temp_pcap_is_removed() {
        let p = TempPcap::new("unit", &[]).unwrap();
        let path = p.path().to_owned();
        assert!(path.exists());
        drop(p);
        assert!(!path.exists());
    }
}
