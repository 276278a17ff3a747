//! What the NetBIOS detectors read from an event: who talks to whom, and what an NBNS
//! message is (RFC 1002 §4.2.1.1), in one place.

use fault_common::{
    Event,
    event::{LINK_GROUP_DST, NAME_OK, NbnsBody},
    ports,
};

use super::Host;
use crate::names;

/// Sent to one host: neither the MAC nor the IP destination is a group address.
pub fn unicast(ev: &Event) -> bool {
    ev.hdr.link & LINK_GROUP_DST == 0 && !Host::dst(ev).is_group()
}

pub const OPCODE_QUERY: u16 = 0;
pub const OPCODE_REGISTRATION: u16 = 5;
pub const OPCODE_WACK: u16 = 7;
pub const OPCODE_REFRESH: u16 = 8;
pub const OPCODE_REFRESH_ALT: u16 = 9;
pub const OPCODE_MULTIHOMED: u16 = 15;
pub const TYPE_NBSTAT: u16 = 0x0021;
const FLAG_RESPONSE: u16 = 0x8000;
const FLAG_BROADCAST: u16 = 0x0010;

/// An NBNS message's flags word, taken apart.
#[derive(Clone, Copy, Debug)]
pub struct Flags(pub u16);

impl Flags {
    pub fn opcode(self) -> u16 {
        (self.0 >> 11) & 0xf
    }
    pub fn response(self) -> bool {
        self.0 & FLAG_RESPONSE != 0
    }
    pub fn broadcast(self) -> bool {
        self.0 & FLAG_BROADCAST != 0
    }
    pub fn rcode(self) -> u16 {
        self.0 & 0xf
    }
    /// Registration in the wide sense of docs/faults.md: registration, refresh,
    /// multi-homed.
    pub fn registration(self) -> bool {
        matches!(
            self.opcode(),
            OPCODE_REGISTRATION | OPCODE_REFRESH | OPCODE_REFRESH_ALT | OPCODE_MULTIHOMED
        )
    }
}

/// The NBNS message of an event, when it is one and came over UDP 137.
pub fn message(ev: &Event) -> Option<(&NbnsBody, Flags)> {
    let nb = ev.nbns()?;
    Some((nb, Flags(nb.flags)))
}

/// The message's (question or first answer) name, when it decoded.
pub fn name(nb: &NbnsBody) -> Option<[u8; 16]> {
    (nb.name_status == NAME_OK).then_some(nb.name)
}

/// `NAME<XX>`, or `?` for a name that did not decode.
pub fn show(name: Option<[u8; 16]>) -> String {
    name.map_or_else(|| "?".into(), |n| names::netbios_name(&n))
}

/// Both ports are the name service's: what a Windows client sends and answers from.
pub fn port_137_both(ev: &Event) -> bool {
    ev.hdr.sport == ports::NBNS && ev.hdr.dport == ports::NBNS
}
