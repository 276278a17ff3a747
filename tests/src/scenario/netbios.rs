//! What the NetBIOS families, `wins` and `nbstat`, share: names, and
//! name service requests as Windows NT retransmits them.

use super::{CLIENT, Lan, Scenario, nbstat, wins};
use crate::netbios::{NbName, NbRecord};

/// Every NetBIOS scenario: `wins_backup_swap` (Q153073) and `netbios_ip_connect_failure`
/// (Q251166), each fault's variants first, then its benign look-alikes.
pub fn netbios() -> Vec<Scenario> {
    let mut v = wins::scenarios();
    v.extend(nbstat::scenarios());
    v
}

/// Windows NT retransmits a name service request every 1.5 s, three times in all.
pub(super) const RETRY_MS: u64 = 1500;

pub(super) fn name(n: &str, suffix: u8) -> NbName {
    NbName::new(n, suffix)
}

impl Lan {
    pub(super) fn record(&self, name: &NbName) -> NbRecord {
        NbRecord::new(name.clone(), self.ip(CLIENT))
    }

    pub(super) fn record_of(&self, host: u8, name: &NbName) -> NbRecord {
        NbRecord::new(name.clone(), self.ip(host))
    }

    /// `msg` sent three times, `RETRY_MS` apart, from `from` to `to` on UDP 137.
    pub(super) fn thrice(&mut self, at_ms: u64, from: u8, to: u8, msg: &[u8], check: &str) {
        for i in 0..3 {
            self.udp(at_ms + i * RETRY_MS, (from, 137), (to, 137), msg, check);
        }
    }
}
