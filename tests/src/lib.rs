//! Frame builder for faultd's tests: byte-exact frames of the old-LAN protocols faultd watches,
//! a catalogue of labelled samples, a pcap writer and tshark helpers to check both against an
//! independent dissector.
//!
//! ```
//! use fault_tests::{Carrier, Eth, Network, netbios::{NbName, NbRecord, nbns}};
//! use std::net::Ipv4Addr;
//! let rec = NbRecord::new(NbName::new("DTW4", 0x20), Ipv4Addr::new(10, 0, 0, 2));
//! let frame = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
//!     .vlan(100)
//!     .ipv4(Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1))
//!     .udp(137, 137)
//!     .payload(&nbns::registration(0x1234, &rec, false));
//! assert_eq!(frame.len(), 14 + 4 + 20 + 8 + 68);
//! ```
//!
//! Layout: [`eth`] (Ethernet, VLAN tags, PPPoE/PPP, ARP), [`ip`] (IPv4/IPv6, UDP, TCP, ICMP),
//! [`ipx`] (IPX framings, SAP, RIP), [`netbios`] (names, NBNS, NBDGM, NBSS), [`ncp`],
//! [`pptp`] (control messages, enhanced GRE), [`l2tp`], [`catalogue`], [`scenario`] (timed
//! fault scenarios), [`golden`] (the records each scenario must give, as reviewable
//! files), [`tunnel`] (IP-in-IP, GRE, ERSPAN and VXLAN around any frame), [`pcap`],
//! [`link`] (Ethernet frames re-encapsulated for other link types' captures), [`tshark`],
//! [`netns`] (namespaces, a veth wire, raw sending and HTTP for live end-to-end tests),
//! [`prometheus`] (a real Prometheus scraping a daemon).

pub mod catalogue;
pub mod daemon;
pub mod eth;
pub mod golden;
pub mod ip;
pub mod ipx;
pub mod l2tp;
pub mod link;
pub mod ncp;
pub mod netbios;
pub mod netns;
pub mod pcap;
pub mod pptp;
pub mod prometheus;
pub mod scenario;
pub mod tshark;
pub mod tunnel;

pub use catalogue::{Sample, catalogue};
pub use eth::{Carrier, Eth, Mac};
pub use ip::{Bare, Network};
pub use ipx::{Encap, IpxAddr};
pub use pcap::{TempPcap, pcap_bytes, pcap_bytes_of, pcapng_bytes, write_pcap};

/// Big-endian appends, so message builders read like their wire diagrams.
pub(crate) trait Put {
    fn u8(&mut self, v: u8) -> &mut Self;
    fn u16(&mut self, v: u16) -> &mut Self;
    fn u32(&mut self, v: u32) -> &mut Self;
    fn bytes(&mut self, v: &[u8]) -> &mut Self;
    /// A fixed-size text field, NUL padded (PPTP host names, SAP server names).
    fn padded(&mut self, text: &str, size: usize) -> &mut Self;
}

impl Put for Vec<u8> {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.extend_from_slice(v);
        self
    }
    fn padded(&mut self, text: &str, size: usize) -> &mut Self {
        assert!(text.len() <= size, "{text:?} does not fit in {size} bytes");
        let end = self.len() + size;
        self.bytes(text.as_bytes());
        self.resize(end, 0);
        self
    }
}

/// Length of a message part as a 16-bit wire field; panics rather than wrapping silently.
pub(crate) fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or_else(|_| panic!("length {n} does not fit in 16 bits"))
}
