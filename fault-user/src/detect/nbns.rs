//! What the NetBIOS detectors read from an event: who talks to whom, and what an NBNS
//! message is, in their terms (the flag bits themselves are `fault_common::proto::nbns`'s);
//! and the NBNS timeout they share.

use fault_common::{
    Event,
    event::{LINK_GROUP_DST, NAME_OK, NbnsBody},
    ports,
    proto::nbns as wire,
};

use serde::{Deserialize, Serialize};

use super::Host;
use crate::{
    names,
    settings::{self, Nanos},
};

/// The NBNS response timeout, for every detector that waits for an NBNS answer
/// (`wins_backup_swap`'s registrations, `netbios_ip_connect_failure`'s NBSTAT queries).
/// It belongs to the name service, not to a detector: two timeouts would let one detector
/// call a request unanswered that the other still waits for, on the same server.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
#[group(skip)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// An NBNS request with no response this long after its last transmission is unanswered.
    #[arg(
        id = "nbns-timeout",
        long = "nbns-timeout",
        value_name = "DURATION",
        default_value = "5s"
    )]
    pub timeout: Nanos,
}

impl Default for Settings {
    fn default() -> Self {
        settings::defaults()
    }
}

/// Sent to one host: neither the MAC nor the IP destination is a group address.
pub fn unicast(ev: &Event) -> bool {
    ev.hdr.link & LINK_GROUP_DST == 0 && !Host::dst(ev).is_group()
}

/// An NBNS message's flags word, taken apart.
#[derive(Clone, Copy, Debug)]
pub struct Flags(pub u16);

impl Flags {
    pub fn opcode(self) -> u16 {
        wire::opcode(self.0)
    }
    pub fn response(self) -> bool {
        wire::is_response(self.0)
    }
    pub fn broadcast(self) -> bool {
        wire::is_broadcast(self.0)
    }
    pub fn rcode(self) -> u16 {
        wire::rcode(self.0)
    }
    /// Registration in the wide sense of docs/faults.md: registration, refresh,
    /// multi-homed.
    pub fn registration(self) -> bool {
        matches!(
            self.opcode(),
            wire::OPCODE_REGISTRATION
                | wire::OPCODE_REFRESH
                | wire::OPCODE_REFRESH_ALT
                | wire::OPCODE_MULTIHOMED
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
