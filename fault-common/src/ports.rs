//! Ports and sockets faultd watches.

pub const NBNS: u16 = 137;
pub const NBDGM: u16 = 138;
pub const NBSS: u16 = 139;
pub const NCP_IP: u16 = 524;
pub const L2TP: u16 = 1701;
pub const PPTP: u16 = 1723;
/// SMS 1.x/2.0 Helpdesk remote tools (KB Q229097).
pub const SMS_HELPDESK: core::ops::RangeInclusive<u16> = 1761..=1764;
/// SMS 2.0 SP2 remote control, where the KB's fix moves the agent.
pub const SMS_REMOTE_CONTROL: core::ops::RangeInclusive<u16> = 2701..=2704;

pub const IPX_NCP: u16 = 0x0451;
pub const IPX_SAP: u16 = 0x0452;
pub const IPX_RIP: u16 = 0x0453;

#[inline(always)]
pub fn is_sms_helpdesk(p: u16) -> bool {
    SMS_HELPDESK.contains(&p)
}

#[inline(always)]
pub fn is_sms_remote_control(p: u16) -> bool {
    SMS_REMOTE_CONTROL.contains(&p)
}

/// Ports whose ICMP unreachables and TCP handshakes the detectors care about.
#[inline(always)]
pub fn is_watched(p: u16) -> bool {
    matches!(p, NBNS | NBDGM | NBSS | NCP_IP | L2TP | PPTP)
        || is_sms_helpdesk(p)
        || is_sms_remote_control(p)
}
