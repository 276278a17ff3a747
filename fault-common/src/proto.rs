//! The protocols' numbers (message types, flag bits, codes), named once: the parser (in
//! the XDP program and in userspace), the detectors and the renderer all read these, so
//! none of them can decode a field differently from the others. Ports and IPX sockets are
//! in [`crate::ports`].
//!
//! The frame builder of the tests keeps its own copies on purpose: it is the check against
//! tshark, and would not catch a wrong value it shared.
//!
//! The accessors are `const fn`s that cannot panic, inlined, so the XDP program can use
//! them at no cost to the verifier.

/// EtherTypes (also GRE's protocol type, which uses the same numbers).
pub mod ether {
    /// Type/length values up to this are 802.3 lengths (IEEE 802.3 §3.2.6), not EtherTypes.
    pub const MAX_8023_LEN: u16 = 1500;
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86DD;
    pub const IPX: u16 = 0x8137;
    pub const VLAN_8021Q: u16 = 0x8100;
    pub const VLAN_8021AD: u16 = 0x88A8;
    /// The pre-standard QinQ tag some switches still send.
    pub const VLAN_QINQ_OLD: u16 = 0x9100;
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// PPP, as PPTP's enhanced GRE carries it.
    pub const PPP: u16 = 0x880B;
    /// Transparent Ethernet bridging: a whole Ethernet frame follows (GRE, Cisco HDLC).
    pub const TEB: u16 = 0x6558;
    /// ERSPAN type II, or type I when the GRE header has no sequence number.
    pub const ERSPAN: u16 = 0x88BE;
    pub const ERSPAN3: u16 = 0x22EB;
}

/// IP protocol numbers.
pub mod ip {
    pub const ICMP: u8 = 1;
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
}

/// ICMP (RFC 792) types and codes.
pub mod icmp {
    pub const DEST_UNREACH: u8 = 3;
    /// Code of `DEST_UNREACH`.
    pub const PORT_UNREACH: u8 = 3;
}

/// ICMPv6 (RFC 4443) types and codes.
pub mod icmpv6 {
    pub const DEST_UNREACH: u8 = 1;
    /// Code of `DEST_UNREACH`.
    pub const PORT_UNREACH: u8 = 4;
}

/// NetBIOS name service (RFC 1002 §4.2.1.1): the header's flags word, and record types.
pub mod nbns {
    pub const FLAG_RESPONSE: u16 = 0x8000;
    const OPCODE_SHIFT: u32 = 11;
    const OPCODE_MASK: u16 = 0x000F;
    pub const FLAG_AA: u16 = 0x0400;
    pub const FLAG_TC: u16 = 0x0200;
    pub const FLAG_RD: u16 = 0x0100;
    pub const FLAG_RA: u16 = 0x0080;
    pub const FLAG_BROADCAST: u16 = 0x0010;
    const RCODE_MASK: u16 = 0x000F;

    pub const OPCODE_QUERY: u16 = 0;
    pub const OPCODE_REGISTRATION: u16 = 5;
    pub const OPCODE_RELEASE: u16 = 6;
    pub const OPCODE_WACK: u16 = 7;
    /// Refresh as Windows sends it.
    pub const OPCODE_REFRESH: u16 = 8;
    /// Refresh as RFC 1002's §4.2.4 diagram has it.
    pub const OPCODE_REFRESH_ALT: u16 = 9;
    /// Microsoft's multi-homed registration.
    pub const OPCODE_MULTIHOMED: u16 = 15;

    pub const RTYPE_NB: u16 = 0x0020;
    pub const RTYPE_NBSTAT: u16 = 0x0021;

    #[inline(always)]
    pub const fn opcode(flags: u16) -> u16 {
        (flags >> OPCODE_SHIFT) & OPCODE_MASK
    }

    #[inline(always)]
    pub const fn is_response(flags: u16) -> bool {
        flags & FLAG_RESPONSE != 0
    }

    #[inline(always)]
    pub const fn is_broadcast(flags: u16) -> bool {
        flags & FLAG_BROADCAST != 0
    }

    #[inline(always)]
    pub const fn rcode(flags: u16) -> u16 {
        flags & RCODE_MASK
    }
}

/// NetBIOS session service (RFC 1002 §4.3.1) message types.
pub mod nbss {
    pub const SESSION_MESSAGE: u8 = 0x00;
    pub const REQUEST: u8 = 0x81;
    pub const POSITIVE: u8 = 0x82;
    pub const NEGATIVE: u8 = 0x83;
    pub const RETARGET: u8 = 0x84;
    pub const KEEPALIVE: u8 = 0x85;
}

/// PPTP control messages (RFC 2637 §2), by the RFC's abbreviations.
pub mod pptp {
    pub const MAGIC_COOKIE: u32 = 0x1A2B_3C4D;
    /// The header's PPTP Message Type: the only one RFC 2637 defines.
    pub const CONTROL_MESSAGE: u16 = 1;

    /// Start-Control-Connection-Request.
    pub const SCCRQ: u16 = 1;
    /// Start-Control-Connection-Reply.
    pub const SCCRP: u16 = 2;
    /// Stop-Control-Connection-Request.
    pub const STOP_CCRQ: u16 = 3;
    /// Stop-Control-Connection-Reply.
    pub const STOP_CCRP: u16 = 4;
    pub const ECHO_RQ: u16 = 5;
    pub const ECHO_RP: u16 = 6;
    /// Outgoing-Call-Request.
    pub const OCRQ: u16 = 7;
    /// Outgoing-Call-Reply.
    pub const OCRP: u16 = 8;
    /// Incoming-Call-Request.
    pub const ICRQ: u16 = 9;
    /// Incoming-Call-Reply.
    pub const ICRP: u16 = 10;
    /// Incoming-Call-Connected.
    pub const ICCN: u16 = 11;
    /// Call-Clear-Request.
    pub const CCRQ: u16 = 12;
    /// Call-Disconnect-Notify.
    pub const CDN: u16 = 13;
    /// WAN-Error-Notify.
    pub const WEN: u16 = 14;
    /// Set-Link-Info.
    pub const SLI: u16 = 15;

    /// Outgoing-Call-Reply result: the call is up. RFC 2637 defines no result below it.
    pub const OCRP_CONNECTED: u8 = 1;
}

/// IPX (Novell's IPX Router Specification) packet types; sockets are in [`crate::ports`].
pub mod ipx {
    pub const TYPE_NCP: u8 = 0x11;
}

/// NetWare Core Protocol request/reply types, and the calls faultd reads.
pub mod ncp {
    pub const CREATE_CONNECTION: u16 = 0x1111;
    pub const REQUEST: u16 = 0x2222;
    pub const REPLY: u16 = 0x3333;
    pub const DESTROY_CONNECTION: u16 = 0x5555;
    /// Function 23: bindery services, with a length-prefixed subfunction.
    pub const FN_BINDERY: u8 = 0x17;
    /// Bindery subfunction 61: Read Property Value.
    pub const SUB_READ_PROPERTY_VALUE: u8 = 0x3D;
}

/// Service Advertising Protocol operations and values.
pub mod sap {
    pub const GENERAL_QUERY: u16 = 1;
    pub const GENERAL_RESPONSE: u16 = 2;
    pub const NEAREST_QUERY: u16 = 3;
    pub const NEAREST_RESPONSE: u16 = 4;
    /// The "unreachable" hop count: the server is going down.
    pub const HOPS_DOWN: u16 = 16;
    /// A file server's type: SAP's server types are the bindery's object types.
    pub const FILE_SERVER: u16 = 0x0004;
}

#[cfg(test)]
mod tests {
    use super::nbns;

    #[test]
    fn the_nbns_flags_word_comes_apart_as_rfc_1002_draws_it() {
        // Multi-homed registration request with RD (Microsoft's 0x7900), and a negative
        // registration response (0xAD86: R, opcode 5, AA RD RA, rcode 6).
        assert_eq!(nbns::opcode(0x7900), nbns::OPCODE_MULTIHOMED);
        assert!(!nbns::is_response(0x7900));
        let f = 0xAD86;
        assert_eq!(nbns::opcode(f), nbns::OPCODE_REGISTRATION);
        assert!(nbns::is_response(f));
        assert_eq!(f & (nbns::FLAG_AA | nbns::FLAG_RD | nbns::FLAG_RA), 0x0580);
        assert_eq!(nbns::rcode(f), 6);
        assert!(!nbns::is_broadcast(f));
        assert!(nbns::is_broadcast(0x0110));
    }
}
