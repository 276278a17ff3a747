//! Frame classes: the unit faultd counts in. Counts nest (an NCP create is also `ipx`).
//! A class counts frames, not the messages in them: a frame is in a class when anything
//! in it is (a TCP segment holding two PPTP Call-Clear-Requests counts once in
//! `pptp.call_clear_request`).

/// Every class faultd counts. The discriminant indexes the per-CPU counter array, so the
/// order is part of the map layout: append, never reorder (bump `LAYOUT_VERSION` if you must).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    NbnsQuery = 0,
    NbnsQueryResponse,
    NbnsNbstat,
    NbnsNbstatResponse,
    NbnsRegistration,
    NbnsRegistrationResponse,
    NbnsRelease,
    NbnsReleaseResponse,
    NbnsWack,
    NbnsRefresh,
    NbnsRefreshResponse,
    Nbdgm,
    NbssRequest,
    NbssPositive,
    NbssNegative,
    NbssRetarget,
    NbssKeepalive,
    Ipx,
    IpxNcpCreate,
    IpxNcpRequest,
    IpxNcpReply,
    IpxNcpDestroy,
    IpxSapQuery,
    IpxSapResponse,
    IpxRip,
    NcpIp,
    PptpControl,
    PptpOutCallRequest,
    PptpOutCallReply,
    PptpCallClearRequest,
    PptpCallDisconnectNotify,
    PptpGre,
    L2tp,
    IcmpUnreachable,
    // Added after the first catalogue: appended, since the order is the map layout.
    L2tpControl,
    SmsHelpdesk,
    SmsRemoteControl,
    IcmpUnreachableWatched,
    Icmp6Unreachable,
    /// A PPTP control message runs past the end of its segment (the rest is in the next
    /// one, which faultd does not reassemble): its classes count, no event.
    PptpControlCut,
    /// A PPTP segment goes on after the last control message faultd parses per segment
    /// ([`PPTP_MAX_MESSAGES`](crate::parse::PPTP_MAX_MESSAGES)).
    PptpControlUnparsed,
}

pub const NUM_CLASSES: usize = Class::PptpControlUnparsed as usize + 1;

impl Class {
    pub const ALL: [Class; NUM_CLASSES] = [
        Class::NbnsQuery,
        Class::NbnsQueryResponse,
        Class::NbnsNbstat,
        Class::NbnsNbstatResponse,
        Class::NbnsRegistration,
        Class::NbnsRegistrationResponse,
        Class::NbnsRelease,
        Class::NbnsReleaseResponse,
        Class::NbnsWack,
        Class::NbnsRefresh,
        Class::NbnsRefreshResponse,
        Class::Nbdgm,
        Class::NbssRequest,
        Class::NbssPositive,
        Class::NbssNegative,
        Class::NbssRetarget,
        Class::NbssKeepalive,
        Class::Ipx,
        Class::IpxNcpCreate,
        Class::IpxNcpRequest,
        Class::IpxNcpReply,
        Class::IpxNcpDestroy,
        Class::IpxSapQuery,
        Class::IpxSapResponse,
        Class::IpxRip,
        Class::NcpIp,
        Class::PptpControl,
        Class::PptpOutCallRequest,
        Class::PptpOutCallReply,
        Class::PptpCallClearRequest,
        Class::PptpCallDisconnectNotify,
        Class::PptpGre,
        Class::L2tp,
        Class::IcmpUnreachable,
        Class::L2tpControl,
        Class::SmsHelpdesk,
        Class::SmsRemoteControl,
        Class::IcmpUnreachableWatched,
        Class::Icmp6Unreachable,
        Class::PptpControlCut,
        Class::PptpControlUnparsed,
    ];

    /// The name used in `faultd classify` output and in metric labels.
    pub const fn name(self) -> &'static str {
        match self {
            Class::NbnsQuery => "nbns.query",
            Class::NbnsQueryResponse => "nbns.query.response",
            Class::NbnsNbstat => "nbns.nbstat",
            Class::NbnsNbstatResponse => "nbns.nbstat.response",
            Class::NbnsRegistration => "nbns.registration",
            Class::NbnsRegistrationResponse => "nbns.registration.response",
            Class::NbnsRelease => "nbns.release",
            Class::NbnsReleaseResponse => "nbns.release.response",
            Class::NbnsWack => "nbns.wack",
            Class::NbnsRefresh => "nbns.refresh",
            Class::NbnsRefreshResponse => "nbns.refresh.response",
            Class::Nbdgm => "nbdgm",
            Class::NbssRequest => "nbss.request",
            Class::NbssPositive => "nbss.positive",
            Class::NbssNegative => "nbss.negative",
            Class::NbssRetarget => "nbss.retarget",
            Class::NbssKeepalive => "nbss.keepalive",
            Class::Ipx => "ipx",
            Class::IpxNcpCreate => "ipx.ncp.create",
            Class::IpxNcpRequest => "ipx.ncp.request",
            Class::IpxNcpReply => "ipx.ncp.reply",
            Class::IpxNcpDestroy => "ipx.ncp.destroy",
            Class::IpxSapQuery => "ipx.sap.query",
            Class::IpxSapResponse => "ipx.sap.response",
            Class::IpxRip => "ipx.rip",
            Class::NcpIp => "ncpip",
            Class::PptpControl => "pptp.control",
            Class::PptpOutCallRequest => "pptp.out_call_request",
            Class::PptpOutCallReply => "pptp.out_call_reply",
            Class::PptpCallClearRequest => "pptp.call_clear_request",
            Class::PptpCallDisconnectNotify => "pptp.call_disconnect_notify",
            Class::PptpGre => "pptp.gre",
            Class::L2tp => "l2tp",
            Class::IcmpUnreachable => "icmp.unreachable",
            Class::L2tpControl => "l2tp.control",
            Class::SmsHelpdesk => "sms.helpdesk",
            Class::SmsRemoteControl => "sms.remote_control",
            Class::IcmpUnreachableWatched => "icmp.unreachable.watched",
            Class::Icmp6Unreachable => "icmp6.unreachable",
            Class::PptpControlCut => "pptp.control.cut",
            Class::PptpControlUnparsed => "pptp.control.unparsed",
        }
    }

    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.iter().copied().find(|c| c.name() == name)
    }

    #[inline(always)]
    pub const fn bit(self) -> u64 {
        1u64 << (self as u32)
    }
}

impl TryFrom<u32> for Class {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        Class::ALL.get(v as usize).copied().ok_or(v)
    }
}
