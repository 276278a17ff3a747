//! Transport: UDP, TCP (data offset honoured), ICMP/ICMPv6 unreachables with the header
//! they quote, GRE; and the dispatch to the watched application protocols by port.

use super::{
    Ctx, Malformed, Packet, Parsed, Reader, Sink, Verdict, Walk, ip, netbios, pptp, tunnel,
};
use crate::{
    class::Class,
    event::{EventKind, Family, IcmpBody, QUOTED_NBNS, TCP_FIN, TCP_RST, TCP_SYN},
    ports,
    proto::{ether, icmp, icmpv6, ip as ipproto},
};

const UDP_HLEN: usize = 8;

/// Phase 1: whether a transport header can give a class, an event or a flow, checked as
/// far as phase 2 would check it before deciding, so a frame found unwatched here is
/// malformed exactly when phase 2 would have said so. Ports are a superset of what the
/// protocols below match; phase 2 decides the classes. When `tunnels`, GRE and VXLAN are
/// followed (see [`tunnel`]).
#[inline(always)]
pub(super) fn watched<P: Packet + ?Sized>(
    w: &mut Walk<P>,
    proto: u8,
    off: usize,
    end: usize,
    tunnels: bool,
) -> Result<Verdict, Malformed> {
    Ok(Verdict::from(match proto {
        ipproto::UDP => {
            let (sport, dport, ulen) = udp_header(w.rd, off, end)?;
            w.end_of(off + ulen, end);
            if tunnels
                && either(sport, dport, tunnel::VXLAN_PORT)
                && let Some(eth) = tunnel::vxlan(w, off, ulen, end)
            {
                w.t.off = eth as u32;
                return Ok(Verdict::Ethernet);
            }
            ports::is_watched(sport) || ports::is_watched(dport)
        }
        ipproto::TCP => {
            let (h, doff) = tcp_header(w.rd, off, end)?;
            let sport = u16::from_be_bytes([h[0], h[1]]);
            let dport = u16::from_be_bytes([h[2], h[3]]);
            let watched = ports::is_watched(sport) || ports::is_watched(dport);
            let nbss_only = watched
                && (sport == ports::NBSS || !ports::is_watched(sport))
                && (dport == ports::NBSS || !ports::is_watched(dport));
            if nbss_only {
                // Port 139 alone: only a handshake or a control message matters, not the
                // session messages (SMB) that make up the rest of its traffic.
                h[13] & (TCP_SYN | TCP_FIN | TCP_RST) != 0
                    || w.rd
                        .u8_in(off + doff, end)
                        .is_ok_and(netbios::nbss_control_type)
            } else {
                watched
            }
        }
        ipproto::ICMP if w.t.layer == Family::Ipv4 as u8 => {
            w.rd.bytes_in::<2>(off, end)?[0] == icmp::DEST_UNREACH
        }
        ipproto::ICMPV6 if w.t.layer == Family::Ipv6 as u8 => {
            w.rd.bytes_in::<2>(off, end)?[0] == icmpv6::DEST_UNREACH
        }
        ipproto::GRE => {
            if tunnels && let Some(inner) = tunnel::gre(w, off, end)? {
                return Ok(inner.follow(w.t));
            }
            w.rd.be16_in(off + 2, end)? == ether::PPP
        }
        _ => false,
    }))
}

/// A UDP header's ports and length, or `Malformed` when it is cut short or its length
/// is less than the header's.
#[inline(always)]
fn udp_header<P: Packet + ?Sized>(
    rd: Reader<P>,
    off: usize,
    end: usize,
) -> Result<(u16, u16, usize), Malformed> {
    let h = rd.bytes_in::<8>(off, end)?;
    let ulen = u16::from_be_bytes([h[4], h[5]]) as usize;
    if ulen < UDP_HLEN {
        return Err(Malformed);
    }
    Ok((
        u16::from_be_bytes([h[0], h[1]]),
        u16::from_be_bytes([h[2], h[3]]),
        ulen,
    ))
}

/// A TCP header and its length (data offset), or `Malformed` when either does not fit.
#[inline(always)]
fn tcp_header<P: Packet + ?Sized>(
    rd: Reader<P>,
    off: usize,
    end: usize,
) -> Result<([u8; 20], usize), Malformed> {
    let h = rd.bytes_in::<20>(off, end)?;
    let doff = (h[12] >> 4) as usize * 4;
    if doff < 20 || off + doff > end {
        return Err(Malformed);
    }
    Ok((h, doff))
}

/// Phase 2. `off` is the transport header, `end` the end of the IP payload. Inlined, as
/// `ipx::parse` is.
#[inline(always)]
pub(super) fn dispatch<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    proto: u8,
    off: usize,
    end: usize,
) -> Parsed {
    match proto {
        ipproto::UDP => udp(cx, off, end),
        ipproto::TCP => tcp(cx, off, end),
        ipproto::ICMP if cx.family == Family::Ipv4 as u8 => icmp4(cx, off, end),
        ipproto::ICMPV6 if cx.family == Family::Ipv6 as u8 => icmp6(cx, off, end),
        ipproto::GRE => {
            let proto = cx.rd.be16_in(off + 2, end)?;
            if proto == ether::PPP {
                cx.class(Class::PptpGre);
                cx.flow(ipproto::GRE);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[inline(always)]
fn either(sport: u16, dport: u16, port: u16) -> bool {
    sport == port || dport == port
}

fn udp<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, end: usize) -> Parsed {
    let (sport, dport, ulen) = udp_header(cx.rd, off, end)?;
    cx.ev.hdr.sport = sport;
    cx.ev.hdr.dport = dport;
    cx.flow(ipproto::UDP);
    let payload = off + UDP_HLEN;
    let lim = cx.end_of(off + ulen, end);

    if either(sport, dport, ports::NCP_IP) {
        cx.class(Class::NcpIp);
    }
    let sms = sms_classes(cx, sport, dport);
    if sms && (ports::is_sms_helpdesk(sport) || ports::is_sms_helpdesk(dport)) {
        cx.udp_body().payload_len = lim.saturating_sub(payload) as u16;
        cx.emit(EventKind::Udp);
    }
    // NBNS first: with 137 on either side tshark's lower-port-first dispatch lands there.
    if either(sport, dport, ports::NBNS) {
        netbios::nbns(cx, payload, lim)
    } else if either(sport, dport, ports::NBDGM) {
        if lim > payload {
            cx.class(Class::Nbdgm);
        }
        Ok(())
    } else if either(sport, dport, ports::L2TP) {
        l2tp(cx, payload, lim)
    } else {
        Ok(())
    }
}

/// L2TP over UDP 1701: versions 2 and 3 share the first word (T bit, version nibble).
fn l2tp<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, lim: usize) -> Parsed {
    let Ok(w) = cx.rd.be16_in(off, lim) else {
        return Ok(());
    };
    if matches!(w & 0x000f, 2 | 3) {
        cx.class(Class::L2tp);
        if w & 0x8000 != 0 {
            cx.class(Class::L2tpControl);
        }
    }
    Ok(())
}

/// Counts the SMS classes; true when either port is an SMS port.
#[inline(always)]
fn sms_classes<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, sport: u16, dport: u16) -> bool {
    let mut sms = false;
    if ports::is_sms_helpdesk(sport) || ports::is_sms_helpdesk(dport) {
        cx.class(Class::SmsHelpdesk);
        sms = true;
    }
    if ports::is_sms_remote_control(sport) || ports::is_sms_remote_control(dport) {
        cx.class(Class::SmsRemoteControl);
        sms = true;
    }
    sms
}

fn tcp<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, end: usize) -> Parsed {
    let (h, doff) = tcp_header(cx.rd, off, end)?;
    let sport = u16::from_be_bytes([h[0], h[1]]);
    let dport = u16::from_be_bytes([h[2], h[3]]);
    cx.ev.hdr.sport = sport;
    cx.ev.hdr.dport = dport;
    cx.flow(ipproto::TCP);
    let flags = h[13];
    let payload = off + doff;

    if either(sport, dport, ports::NCP_IP) {
        cx.class(Class::NcpIp);
    }
    let sms = sms_classes(cx, sport, dport);
    let control = either(sport, dport, ports::NBSS) || either(sport, dport, ports::PPTP) || sms;
    if control && flags & (TCP_SYN | TCP_FIN | TCP_RST) != 0 {
        let body = cx.tcp_body();
        body.flags = flags;
        body.payload_len = (end - payload) as u16;
        body.seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        body.ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        cx.emit(EventKind::Tcp);
    }
    if either(sport, dport, ports::NBSS) {
        netbios::nbss(cx, payload, end)
    } else if either(sport, dport, ports::PPTP) {
        pptp::control(cx, payload, end)
    } else {
        Ok(())
    }
}

fn icmp4<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, end: usize) -> Parsed {
    let h = cx.rd.bytes_in::<2>(off, end)?;
    if h[0] != icmp::DEST_UNREACH {
        return Ok(());
    }
    cx.class(Class::IcmpUnreachable);
    cx.flow(ipproto::ICMP);
    // The quoted datagram: a short or odd quote is still a valid ICMP message.
    let q = off + 8;
    let Ok(ip) = cx.rd.bytes_in::<20>(q, end) else {
        return Ok(());
    };
    let ihl = (ip[0] & 0x0f) as usize * 4;
    if ip[0] >> 4 != 4 || ihl < 20 {
        return Ok(());
    }
    quoted_transport(cx, ip[9], q + ihl, end, |b| {
        b.icmp_type = h[0];
        b.code = h[1];
        b.quoted_family = Family::Ipv4 as u8;
        b.quoted_src[..4].copy_from_slice(&ip[12..16]);
        b.quoted_dst[..4].copy_from_slice(&ip[16..20]);
    })
}

fn icmp6<P: Packet + ?Sized, S: Sink>(cx: &mut Ctx<P, S>, off: usize, end: usize) -> Parsed {
    let h = cx.rd.bytes_in::<2>(off, end)?;
    if h[0] != icmpv6::DEST_UNREACH {
        return Ok(());
    }
    cx.class(Class::Icmp6Unreachable);
    cx.flow(ipproto::ICMPV6);
    let q = off + 8;
    let Ok(ip) = cx.rd.bytes_in::<40>(q, end) else {
        return Ok(());
    };
    if ip[0] >> 4 != 6 {
        return Ok(());
    }
    // The quote may hold extension headers before the transport header, as the datagram did.
    let Ok(Some((proto, l4))) = ip::extensions(cx.rd, ip[6], q + 40, end) else {
        return Ok(());
    };
    quoted_transport(cx, proto, l4, end, |b| {
        b.icmp_type = h[0];
        b.code = h[1];
        b.quoted_family = Family::Ipv6 as u8;
        b.quoted_src.copy_from_slice(&ip[8..24]);
        b.quoted_dst.copy_from_slice(&ip[24..40]);
    })
}

/// The first bytes of the quoted transport header: ports of a TCP/UDP datagram. `ip`
/// fills in what the quoted network header said.
#[inline(always)]
fn quoted_transport<P: Packet + ?Sized, S: Sink>(
    cx: &mut Ctx<P, S>,
    proto: u8,
    off: usize,
    end: usize,
    ip: impl FnOnce(&mut IcmpBody),
) -> Parsed {
    if proto != ipproto::TCP && proto != ipproto::UDP {
        return Ok(());
    }
    let Ok(p) = cx.rd.bytes_in::<4>(off, end) else {
        return Ok(());
    };
    let sport = u16::from_be_bytes([p[0], p[1]]);
    let dport = u16::from_be_bytes([p[2], p[3]]);
    // tshark decodes the quoted header too, so its `tcp.port==524 || udp.port==524` matches
    // an unreachable that quotes NCP/IP; count it the same way.
    if either(sport, dport, ports::NCP_IP) {
        cx.class(Class::NcpIp);
    }
    if ports::is_watched(sport) || ports::is_watched(dport) {
        cx.class(Class::IcmpUnreachableWatched);
        // A host that drops UDP 137 answers the adapter-status query with this error; the
        // quoted question tells that query apart from other name-service traffic.
        let nbns = if proto == ipproto::UDP && either(sport, dport, ports::NBNS) {
            let (q, lim) = cx.converge(off + UDP_HLEN, end);
            netbios::quoted_question(cx.rd, q, lim)
        } else {
            None
        };
        let body = cx.icmp_body();
        if let Some((txid, flags, rtype)) = nbns {
            body.quoted_app = QUOTED_NBNS;
            body.quoted_txid = txid;
            body.quoted_flags = flags;
            body.quoted_rtype = rtype;
        }
        ip(body);
        body.quoted_proto = proto;
        body.quoted_sport = sport;
        body.quoted_dport = dport;
        cx.emit(EventKind::IcmpUnreachable);
    }
    Ok(())
}
