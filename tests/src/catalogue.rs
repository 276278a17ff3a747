//! Labelled sample frames: at least one for every class of [`crate::tshark::CLASS_FILTERS`],
//! several for the ones faults are built from, and some that belong to no class.

use crate::eth::{BROADCAST, Eth, Mac, lcp_echo_request};
use crate::ip::*;
use crate::ipx::*;
use crate::netbios::{NbName, NbRecord, nbdgm, nbns, nbss};
use crate::{Carrier, Network, l2tp, ncp, pptp};
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug)]
pub struct Sample {
    pub name: &'static str,
    /// Exactly the classes whose tshark filter matches `frame`.
    pub classes: Vec<&'static str>,
    pub frame: Vec<u8>,
}

pub const CLIENT_MAC: Mac = [0x00, 0x0C, 0x29, 0x11, 0x22, 0x33];
pub const SERVER_MAC: Mac = [0x00, 0x0C, 0x29, 0x44, 0x55, 0x66];
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 22, 129);
pub const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 22, 1);
pub const SUBNET_BROADCAST: Ipv4Addr = Ipv4Addr::new(192, 168, 22, 255);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xDB8, 0, 0x22, 0, 0, 0, 0x129);
pub const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xDB8, 0, 0x22, 0, 0, 0, 1);

pub const IPX_NET: u32 = 0x0001_0123;
/// A NetWare server's internal network and node.
pub const FILE_SERVER: IpxAddr = IpxAddr::new(0xC0FF_EE01, [0, 0, 0, 0, 0, 1], SOCKET_NCP);
pub const IPX_CLIENT: IpxAddr = IpxAddr::new(IPX_NET, CLIENT_MAC, 0x4003);
pub const FILE_SERVER_NAME: &str = "FS1";
/// Connection number the file server assigns in the NCP samples.
pub const NCP_CONNECTION: u16 = 0x0105;

/// IPv4 Router Alert option (RFC 2113): four bytes, so IHL becomes 6.
const ROUTER_ALERT: [u8; 4] = [0x94, 0x04, 0x00, 0x00];

/// The frame of the catalogue's sample called `name`.
pub fn sample(name: &str) -> Vec<u8> {
    catalogue()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("the catalogue has no sample {name}"))
        .frame
}

pub fn catalogue() -> Vec<Sample> {
    let mut c = Catalogue {
        samples: Vec::new(),
        next_port: 49152,
    };
    name_service(&mut c);
    datagram_and_session(&mut c);
    ipx_and_ncp(&mut c);
    tunnels(&mut c);
    icmp_errors(&mut c);
    sms(&mut c);
    unwatched(&mut c);
    c.samples
}

struct Catalogue {
    samples: Vec<Sample>,
    next_port: u16,
}

impl Catalogue {
    fn add(&mut self, name: &'static str, classes: &[&'static str], frame: Vec<u8>) {
        assert!(
            self.samples.iter().all(|s| s.name != name),
            "duplicate sample {name}"
        );
        self.samples.push(Sample {
            name,
            classes: classes.to_vec(),
            frame,
        });
    }

    /// A fresh client port, so that no two TCP samples share a connection and tshark's
    /// sequence analysis never sees a sample as another's retransmission.
    fn port(&mut self) -> u16 {
        self.next_port += 1;
        self.next_port
    }

    /// TCP segments between a fresh client port and `server_port` of the server.
    fn tcp(&mut self, server_port: u16, segments: Vec<Segment>) {
        for (name, classes, from_client, data) in segments {
            let port = self.port();
            let frame = if from_client {
                let ip = to_server().ipv4(CLIENT, SERVER);
                ip.tcp(port, server_port).payload(&data)
            } else {
                let ip = to_client().ipv4(SERVER, CLIENT);
                ip.tcp(server_port, port).payload(&data)
            };
            self.add(name, classes, frame);
        }
    }
}

/// Sample name, classes, whether the client sends it, TCP payload.
type Segment = (&'static str, &'static [&'static str], bool, Vec<u8>);

fn to_server() -> Eth {
    Eth::new(CLIENT_MAC, SERVER_MAC)
}

fn to_client() -> Eth {
    Eth::new(SERVER_MAC, CLIENT_MAC)
}

fn to_all() -> Eth {
    Eth::new(CLIENT_MAC, BROADCAST)
}

/// NBNS (UDP 137 → 137) from the client to the server, back, and to the subnet broadcast.
fn up(message: &[u8]) -> Vec<u8> {
    nbns_over(to_server(), message)
}

fn down(message: &[u8]) -> Vec<u8> {
    to_client()
        .ipv4(SERVER, CLIENT)
        .udp(137, 137)
        .payload(message)
}

fn bcast(message: &[u8]) -> Vec<u8> {
    to_all()
        .ipv4(CLIENT, SUBNET_BROADCAST)
        .udp(137, 137)
        .payload(message)
}

fn nbns_over(link: impl Carrier, message: &[u8]) -> Vec<u8> {
    link.ipv4(CLIENT, SERVER).udp(137, 137).payload(message)
}

fn name_service(c: &mut Catalogue) {
    const QUERY: &[&str] = &["nbns.query"];
    const QUERY_RESPONSE: &[&str] = &["nbns.query.response"];
    const NBSTAT: &[&str] = &["nbns.nbstat"];
    const REG: &[&str] = &["nbns.registration"];
    const REG_RESPONSE: &[&str] = &["nbns.registration.response"];
    const RELEASE: &[&str] = &["nbns.release"];
    const REFRESH: &[&str] = &["nbns.refresh"];
    let server = NbName::new("FILESRV", 0x20);
    let star = NbName::wildcard();
    let rec = NbRecord::new(NbName::new("WIN-HCEGSPNCVSK", 0), CLIENT);
    let reg = |id| nbns::registration(id, &rec, false);

    c.add(
        "nbns_query_broadcast",
        QUERY,
        bcast(&nbns::query(0x8001, &server, true)),
    );
    c.add(
        "nbns_query_unicast",
        QUERY,
        up(&nbns::query(0x8002, &server, false)),
    );
    let r = nbns::query_response(0x8002, &server, 300_000, &[(nbns::ONT_H, SERVER)]);
    c.add("nbns_query_response_positive", QUERY_RESPONSE, down(&r));
    let r = nbns::negative_query_response(0x8003, &server, nbns::RCODE_NAM_ERR);
    c.add("nbns_query_response_negative", QUERY_RESPONSE, down(&r));

    c.add(
        "nbns_nbstat_unicast",
        NBSTAT,
        up(&nbns::nbstat_request(0x8028, &star, false)),
    );
    c.add(
        "nbns_nbstat_broadcast",
        NBSTAT,
        bcast(&nbns::nbstat_request(0x8029, &star, true)),
    );
    let q = nbns::nbstat_request(0x802A, &star, false);
    let frame = to_server().ipv4(CLIENT, SERVER).udp(37259, 137).payload(&q);
    c.add("nbns_nbstat_scanner_port", NBSTAT, frame);
    let unique = nbns::ONT_M | nbns::NAME_ACTIVE;
    let table = [
        (NbName::new("FILESRV", 0x00), unique),
        (NbName::new("FILESRV", 0x20), unique),
        (NbName::new("WORKGROUP", 0x00), unique | nbns::NB_GROUP),
    ];
    let r = nbns::nbstat_response(0x8028, &star, &table, SERVER_MAC);
    c.add("nbns_nbstat_response", &["nbns.nbstat.response"], down(&r));

    c.add("nbns_registration_unicast", REG, up(&reg(0xC817)));
    c.add(
        "nbns_registration_broadcast",
        REG,
        bcast(&nbns::registration(0xC818, &rec, true)),
    );
    c.add(
        "nbns_overwrite_demand",
        REG,
        bcast(&nbns::overwrite_demand(0xC819, &rec)),
    );
    c.add(
        "nbns_registration_vlan",
        REG,
        nbns_over(to_server().vlan(100), &reg(0xC81A)),
    );
    c.add(
        "nbns_registration_qinq",
        REG,
        nbns_over(to_server().qinq(200, 100), &reg(0xC81B)),
    );
    let double = to_server().vlan(10).vlan(100);
    c.add(
        "nbns_registration_double_8021q",
        REG,
        nbns_over(double, &reg(0xC81C)),
    );
    c.add(
        "nbns_registration_pppoe",
        REG,
        nbns_over(to_server().pppoe(0x11), &reg(0xC81D)),
    );
    let ip = to_server().ipv4(CLIENT, SERVER);
    let frame = ip
        .options(&ROUTER_ALERT)
        .udp(137, 137)
        .payload(&reg(0xC81E));
    c.add("nbns_registration_ipv4_options", REG, frame);
    let ip6 = to_server().ipv6(CLIENT6, SERVER6);
    c.add(
        "nbns_registration_ipv6",
        REG,
        ip6.clone().udp(137, 137).payload(&reg(0xC81F)),
    );
    let ip6 = ip6
        .hop_by_hop()
        .destination_options()
        .fragment(0, false, 0x0BAD_F00D);
    let frame = ip6.udp(137, 137).payload(&reg(0xC820));
    c.add("nbns_registration_ipv6_extension_headers", REG, frame);
    let frame = to_server()
        .ipv4(CLIENT, SERVER)
        .udp(50123, 137)
        .payload(&reg(0xC821));
    c.add("nbns_registration_ephemeral_port", REG, frame);
    let m = nbns::multihomed_registration(0xC822, &rec);
    c.add("nbns_multihomed_registration", REG, up(&m));

    let r = nbns::registration_response(0xC817, &rec, 0);
    c.add(
        "nbns_registration_response_positive",
        REG_RESPONSE,
        down(&r),
    );
    let owner = NbRecord {
        addr: Ipv4Addr::new(192, 168, 22, 2),
        ..rec.clone()
    };
    let r = nbns::registration_response(0xC818, &owner, nbns::RCODE_ACT_ERR);
    c.add(
        "nbns_registration_response_negative",
        REG_RESPONSE,
        down(&r),
    );
    // tshark dissects the WACK's RDATA (the request's flags word, here 0x2900) as a second
    // nbns.flags, so the registration filters match it too: any occurrence satisfies `==`.
    let w = nbns::wack(0xC817, &rec.name, 2, 0x2900);
    let classes = [
        "nbns.registration",
        "nbns.registration.response",
        "nbns.wack",
    ];
    c.add("nbns_wack", &classes, down(&w));

    c.add(
        "nbns_release_unicast",
        RELEASE,
        up(&nbns::release(0xC830, &rec, false)),
    );
    c.add(
        "nbns_release_broadcast",
        RELEASE,
        bcast(&nbns::release(0xC831, &rec, true)),
    );
    let r = nbns::release_response(0xC830, &rec, 0);
    c.add(
        "nbns_release_response",
        &["nbns.release.response"],
        down(&r),
    );

    c.add("nbns_refresh", REFRESH, up(&nbns::refresh(0xC840, &rec)));
    c.add(
        "nbns_refresh_alternate",
        REFRESH,
        up(&nbns::refresh_alternate(0xC841, &rec)),
    );
    let r = nbns::refresh_response(0xC840, &rec, 0);
    c.add(
        "nbns_refresh_response",
        &["nbns.refresh.response"],
        down(&r),
    );
}

fn datagram_and_session(c: &mut Catalogue) {
    let me = NbName::new("WIN-HCEGSPNCVSK", 0);
    let d = nbdgm::direct_group(
        0x4242,
        CLIENT,
        138,
        &me,
        &NbName::new("WORKGROUP", 0x1E),
        b"hello",
    );
    c.add(
        "nbdgm_direct_group",
        &["nbdgm"],
        to_all()
            .ipv4(CLIENT, SUBNET_BROADCAST)
            .udp(138, 138)
            .payload(&d),
    );

    let smbserver = nbss::smbserver();
    let retarget = Ipv4Addr::new(192, 168, 22, 3);
    c.tcp(
        139,
        vec![
            (
                "nbss_session_request",
                &["nbss.request"],
                true,
                nbss::session_request(&smbserver, &me),
            ),
            (
                "nbss_positive_response",
                &["nbss.positive"],
                false,
                nbss::positive_response(),
            ),
            (
                "nbss_negative_response",
                &["nbss.negative"],
                false,
                nbss::negative_response(nbss::CALLED_NOT_PRESENT),
            ),
            (
                "nbss_retarget_response",
                &["nbss.retarget"],
                false,
                nbss::retarget_response(retarget, 139),
            ),
            (
                "nbss_keepalive",
                &["nbss.keepalive"],
                true,
                nbss::keepalive(),
            ),
            // Session data has no class of its own.
            (
                "nbss_session_message",
                &[],
                true,
                nbss::session_message(b"hello"),
            ),
        ],
    );
    let port = c.port();
    c.add(
        "nbss_syn",
        &[],
        to_server()
            .ipv4(CLIENT, SERVER)
            .tcp(port, 139)
            .flags(TCP_SYN)
            .mss(1460)
            .payload(&[]),
    );
}

/// One name per IPX framing, in [`Encap::ALL`] order.
macro_rules! per_encap {
    ($what:literal) => {
        [
            concat!("ipx_ethernet_ii_", $what),
            concat!("ipx_raw_8023_", $what),
            concat!("ipx_llc_", $what),
            concat!("ipx_snap_", $what),
        ]
    };
}

fn ipx_and_ncp(c: &mut Catalogue) {
    let sap_client = IPX_CLIENT.with_socket(0x4008);
    let local_broadcast = |socket| IpxAddr::new(0, BROADCAST, socket);
    let advertised = FILE_SERVER.with_socket(0x4018);
    let fs_entry = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: FILE_SERVER_NAME,
        addr: advertised,
        hops: 1,
    };
    let names = per_encap!("ncp_create")
        .into_iter()
        .zip(per_encap!("sap_nearest_query"))
        .zip(per_encap!("rip_request"))
        .zip(per_encap!("sap_nearest_response"));
    for (seq, (encap, (((create, query), rip), response))) in
        Encap::ALL.into_iter().zip(names).enumerate()
    {
        let frame = to_server()
            .ipx(encap, IPX_CLIENT, FILE_SERVER)
            .payload(&ncp::create_connection(seq as u8, 2));
        c.add(create, &["ipx", "ipx.ncp.create"], frame);
        let frame = to_all()
            .ipx(encap, sap_client, local_broadcast(SOCKET_SAP))
            .payload(&sap_query(true, SAP_FILE_SERVER));
        c.add(query, &["ipx", "ipx.sap.query"], frame);
        let frame = to_client()
            .ipx(encap, FILE_SERVER.with_socket(SOCKET_SAP), sap_client)
            .payload(&sap_response(true, std::slice::from_ref(&fs_entry)));
        c.add(response, &["ipx", "ipx.sap.response"], frame);
        let frame = to_all()
            .ipx(
                encap,
                IPX_CLIENT.with_socket(SOCKET_RIP),
                local_broadcast(SOCKET_RIP),
            )
            .payload(&rip_request(&[FILE_SERVER.net]));
        c.add(rip, &["ipx", "ipx.rip"], frame);
    }

    // One NCP conversation, so tshark can pair each reply with its request.
    let ncp_frame = |to_fs: bool, data: &[u8]| {
        let (eth, src, dst) = if to_fs {
            (to_server(), IPX_CLIENT, FILE_SERVER)
        } else {
            (to_client(), FILE_SERVER, IPX_CLIENT)
        };
        eth.ipx(Encap::EthernetII, src, dst).payload(data)
    };
    let conn = NCP_CONNECTION;
    c.add(
        "ipx_ncp_create_reply",
        &["ipx", "ipx.ncp.reply"],
        ncp_frame(false, &ncp::reply(0, conn, 2, 0, 0, &[])),
    );
    let rpv = ncp::read_property_value(
        1,
        conn,
        2,
        ncp::OBJECT_FILE_SERVER,
        FILE_SERVER_NAME,
        1,
        ncp::PROPERTY_NET_ADDRESS,
    );
    c.add(
        "ipx_ncp_read_property_value",
        &["ipx", "ipx.ncp.request"],
        ncp_frame(true, &rpv),
    );
    let value = ncp::net_address(&advertised);
    let reply = ncp::read_property_value_reply(1, conn, 2, &value, false, 0);
    c.add(
        "ipx_ncp_read_property_value_reply",
        &["ipx", "ipx.ncp.reply"],
        ncp_frame(false, &reply),
    );
    c.add(
        "ipx_ncp_destroy",
        &["ipx", "ipx.ncp.destroy"],
        ncp_frame(true, &ncp::destroy_connection(2, conn, 2)),
    );
    // Between two dynamic sockets the packet type says NCP, unless one of them is a
    // socket Wireshark dissects by number: 0x4003 is its second IPX message socket.
    let create = ncp::create_connection(4, 2);
    let frame = to_server()
        .ipx(
            Encap::EthernetII,
            IPX_CLIENT.with_socket(0x4010),
            advertised,
        )
        .packet_type(PACKET_TYPE_NCP)
        .payload(&create);
    c.add(
        "ipx_ncp_create_to_advertised_socket",
        &["ipx", "ipx.ncp.create"],
        frame,
    );
    let frame = to_server()
        .ipx(Encap::EthernetII, IPX_CLIENT, advertised)
        .packet_type(PACKET_TYPE_NCP)
        .payload(&create);
    c.add("ipx_message_socket_4003_typed_ncp", &["ipx"], frame);

    let frame = to_all()
        .ipx(Encap::EthernetII, sap_client, local_broadcast(SOCKET_SAP))
        .payload(&sap_query(false, SAP_ANY_SERVER));
    c.add("ipx_sap_general_query", &["ipx", "ipx.sap.query"], frame);
    let servers: Vec<_> = ["FS1", "FS2", "PRINTQ", "GATEWAY", "IIS", "BACKUP", "MAIL"]
        .iter()
        .enumerate()
        .map(|(i, name)| SapEntry {
            server_type: if i < 2 {
                SAP_FILE_SERVER
            } else {
                0x0640 + i as u16
            },
            name,
            addr: IpxAddr::new(0xC0FF_EE01 + i as u32, [0, 0, 0, 0, 0, 1], SOCKET_NCP),
            hops: i as u16,
        })
        .collect();
    let frame = Eth::new(SERVER_MAC, BROADCAST)
        .ipx(
            Encap::EthernetII,
            FILE_SERVER.with_socket(SOCKET_SAP),
            local_broadcast(SOCKET_SAP),
        )
        .payload(&sap_response(false, &servers));
    c.add(
        "ipx_sap_general_response",
        &["ipx", "ipx.sap.response"],
        frame,
    );
    let frame = to_client()
        .qinq(300, 30)
        .ipx(Encap::Snap, FILE_SERVER.with_socket(SOCKET_SAP), sap_client)
        .payload(&sap_response(true, &[fs_entry]));
    c.add(
        "ipx_qinq_snap_sap_nearest_response",
        &["ipx", "ipx.sap.response"],
        frame,
    );
    let frame = to_client()
        .ipx(
            Encap::EthernetII,
            IpxAddr::new(IPX_NET, SERVER_MAC, SOCKET_RIP),
            IPX_CLIENT.with_socket(SOCKET_RIP),
        )
        .payload(&rip_response(&[
            (FILE_SERVER.net, 1, 2),
            (0x0002_0000, 3, 7),
        ]));
    c.add("ipx_rip_response", &["ipx", "ipx.rip"], frame);
    // SMS 1.2 remote control over IPX uses its own sockets; that is not a class.
    let frame = to_client()
        .ipx(
            Encap::Llc,
            IPX_CLIENT.with_socket(0x4100),
            IpxAddr::new(IPX_NET, SERVER_MAC, 0x8238),
        )
        .payload(b"remote control");
    c.add("ipx_sms_remote_control_socket", &["ipx"], frame);

    let (port, ncp_seq) = (c.port(), 0x9B);
    let read = ncp::request(
        ncp_seq,
        42,
        3,
        0x48,
        &[0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 4],
    );
    let frame = to_server()
        .ipv4(CLIENT, SERVER)
        .tcp(port, ncp::NCPIP_PORT)
        .payload(&ncp::ncpip_request(&read));
    c.add("ncpip_request", &["ncpip"], frame);
    let data = ncp::reply(ncp_seq, 42, 3, 0, 0, &[0, 4, b'd', b'a', b't', b'a']);
    let frame = to_client()
        .ipv4(SERVER, CLIENT)
        .tcp(ncp::NCPIP_PORT, port)
        .seq(5000)
        .ack(1000 + 36)
        .payload(&ncp::ncpip_reply(&data));
    c.add("ncpip_reply", &["ncpip"], frame);
}

fn tunnels(c: &mut Catalogue) {
    const CONTROL: &[&str] = &["pptp.control"];
    let (client_call, server_call) = (1, 24);
    let echo = pptp::echo_request(9);
    let messages: Vec<Segment> = vec![
        (
            "pptp_sccrq",
            CONTROL,
            true,
            pptp::sccrq("client", "Microsoft"),
        ),
        (
            "pptp_sccrp",
            CONTROL,
            false,
            pptp::sccrp(pptp::RESULT_OK, 0, "ras", "Microsoft"),
        ),
        (
            "pptp_stop_ccrq",
            CONTROL,
            true,
            pptp::stop_ccrq(pptp::STOP_REASON_NONE),
        ),
        (
            "pptp_stop_ccrp",
            CONTROL,
            false,
            pptp::stop_ccrp(pptp::RESULT_OK, 0),
        ),
        ("pptp_echo_request", CONTROL, true, pptp::echo_request(7)),
        (
            "pptp_echo_reply",
            CONTROL,
            false,
            pptp::echo_reply(7, pptp::RESULT_OK, 0),
        ),
        (
            "pptp_ocrq",
            &["pptp.control", "pptp.out_call_request"],
            true,
            pptp::ocrq(client_call, 1),
        ),
        (
            "pptp_ocrp_connected",
            &["pptp.control", "pptp.out_call_reply"],
            false,
            pptp::ocrp(server_call, client_call, pptp::OCRP_CONNECTED, 0, 0),
        ),
        (
            "pptp_ocrp_busy",
            &["pptp.control", "pptp.out_call_reply"],
            false,
            pptp::ocrp(server_call + 1, client_call + 1, pptp::OCRP_BUSY, 0, 0),
        ),
        ("pptp_icrq", CONTROL, false, pptp::icrq(server_call + 2, 2)),
        (
            "pptp_icrp",
            CONTROL,
            true,
            pptp::icrp(client_call + 2, server_call + 2, 1, 0),
        ),
        ("pptp_iccn", CONTROL, false, pptp::iccn(client_call + 2)),
        (
            "pptp_ccrq",
            &["pptp.control", "pptp.call_clear_request"],
            true,
            pptp::ccrq(client_call),
        ),
        (
            "pptp_cdn",
            &["pptp.control", "pptp.call_disconnect_notify"],
            false,
            pptp::cdn(server_call, pptp::CDN_REQUEST, 0, 0),
        ),
        ("pptp_wen", CONTROL, false, pptp::wen(client_call)),
        ("pptp_sli", CONTROL, true, pptp::sli(server_call)),
        (
            "pptp_cdn_and_stop_ccrq_one_segment",
            &["pptp.control", "pptp.call_disconnect_notify"],
            false,
            pptp::concat(&[
                &pptp::cdn(server_call, pptp::CDN_ADMIN_SHUTDOWN, 0, 0),
                &pptp::stop_ccrq(pptp::STOP_REASON_NONE),
            ]),
        ),
        // tshark 4.0's PPTP dissector reads only the first message of a segment, so the
        // Call-Clear-Request here is invisible to the pptp.call_clear_request filter;
        // faultd, which parses each message, counts it (classify_xdp.rs lists that).
        (
            "pptp_echo_reply_and_ccrq_one_segment",
            CONTROL,
            true,
            pptp::concat(&[
                &pptp::echo_reply(8, pptp::RESULT_OK, 0),
                &pptp::ccrq(client_call + 3),
            ]),
        ),
        // Eleven messages: faultd parses ten (pptp.control.unparsed); tshark only the first.
        (
            "pptp_eleven_messages_one_segment",
            CONTROL,
            true,
            pptp::concat(&[echo.as_slice(); 11]),
        ),
        // Last on the stream: a message running past its segment (pptp.control.cut), whose
        // rest would start the next one.
        (
            "pptp_ccrq_and_cut_sli_one_segment",
            &["pptp.control", "pptp.call_clear_request"],
            true,
            pptp::concat(&[&pptp::ccrq(client_call + 4), &pptp::sli(server_call)[..14]]),
        ),
    ];
    c.tcp(pptp::PORT, messages);
    let gre = pptp::gre(
        server_call,
        Some(0),
        None,
        &lcp_echo_request(1, 0x1234_5678),
    );
    c.add(
        "pptp_gre_data",
        &["pptp.gre"],
        to_server().ipv4(CLIENT, SERVER).raw(PROTO_GRE, &gre),
    );
    let gre = pptp::gre(client_call, None, Some(0), &[]);
    c.add(
        "pptp_gre_ack_only",
        &["pptp.gre"],
        to_client().ipv4(SERVER, CLIENT).raw(PROTO_GRE, &gre),
    );

    const L2TP_CONTROL: &[&str] = &["l2tp", "l2tp.control"];
    let sccrq = l2tp::sccrq("lac", 7);
    c.add("l2tp_sccrq", L2TP_CONTROL, l2tp_frame(to_server(), &sccrq));
    c.add(
        "l2tp_zlb",
        L2TP_CONTROL,
        l2tp_frame(to_server(), &l2tp::zlb(9, 0, 1, 1)),
    );
    let hello = l2tp::control(9, 0, 2, 1, l2tp::HELLO, &[]);
    c.add("l2tp_hello", L2TP_CONTROL, l2tp_frame(to_server(), &hello));
    let data = l2tp::data(9, 3, &lcp_echo_request(1, 0x1234_5678));
    c.add("l2tp_data", &["l2tp"], l2tp_frame(to_server(), &data));
    // As in the `nb6-startup` capture: L2TP from a PPPoE client.
    c.add(
        "l2tp_sccrq_over_pppoe",
        L2TP_CONTROL,
        l2tp_frame(to_server().pppoe(0x2A), &sccrq),
    );
    c.add(
        "l2tp_data_over_pppoe",
        &["l2tp"],
        l2tp_frame(to_server().pppoe(0x2A), &data),
    );
}

fn l2tp_frame(link: impl Carrier, message: &[u8]) -> Vec<u8> {
    link.ipv4(CLIENT, SERVER)
        .udp(l2tp::PORT, l2tp::PORT)
        .payload(message)
}

fn icmp_errors(c: &mut Catalogue) {
    const WATCHED: &[&str] = &["icmp.unreachable", "icmp.unreachable.watched"];
    let nbstat = Bare
        .ipv4(CLIENT, SERVER)
        .udp(137, 137)
        .payload(&nbns::nbstat_request(0x8028, &NbName::wildcard(), false));
    let unreachable = |quoted: &[u8]| {
        to_client()
            .ipv4(SERVER, CLIENT)
            .ttl(64)
            .icmp_unreachable(ICMP_PORT_UNREACHABLE, quoted)
    };
    c.add(
        "icmp_unreachable_quoting_nbstat",
        WATCHED,
        unreachable(&nbstat),
    );
    c.add(
        "icmp_unreachable_quoting_nbstat_8_bytes",
        WATCHED,
        unreachable(quote_ipv4(&nbstat, 8)),
    );
    let sms = Bare.ipv4(CLIENT, SERVER).udp(50000, 1761).payload(b"ping");
    c.add(
        "icmp_unreachable_quoting_udp_1761",
        WATCHED,
        unreachable(&sms),
    );
    let dns = Bare
        .ipv4(CLIENT, SERVER)
        .udp(50001, 53)
        .payload(&dns_query(0x1234, "example.com"));
    c.add(
        "icmp_unreachable_quoting_dns",
        &["icmp.unreachable"],
        unreachable(&dns),
    );
    let syn = Bare
        .ipv4(CLIENT, SERVER)
        .tcp(50002, 139)
        .flags(TCP_SYN)
        .payload(&[]);
    let frame = to_client()
        .ipv4(Ipv4Addr::new(192, 168, 22, 254), CLIENT)
        .icmp_unreachable(ICMP_HOST_UNREACHABLE, &syn);
    c.add("icmp_host_unreachable_quoting_tcp_139", WATCHED, frame);
    // The ncpip and l2tp filters lack `!icmp`: a quoted datagram lands in those classes too.
    let ncpip = Bare
        .ipv4(CLIENT, SERVER)
        .udp(50003, ncp::NCPIP_PORT)
        .payload(b"ping");
    c.add(
        "icmp_unreachable_quoting_udp_524",
        &["ncpip", "icmp.unreachable", "icmp.unreachable.watched"],
        unreachable(&ncpip),
    );
    let l2tp = Bare
        .ipv4(CLIENT, SERVER)
        .udp(l2tp::PORT, l2tp::PORT)
        .payload(&l2tp::sccrq("lac", 7));
    c.add(
        "icmp_unreachable_quoting_l2tp_sccrq",
        &[
            "l2tp",
            "icmp.unreachable",
            "l2tp.control",
            "icmp.unreachable.watched",
        ],
        unreachable(&l2tp),
    );
    // Only ICMPv4 is excluded by the NBNS filters: an ICMPv6 quote counts as the NBNS message.
    let nbstat6 = Bare
        .ipv6(CLIENT6, SERVER6)
        .udp(137, 137)
        .payload(&nbns::nbstat_request(0x8030, &NbName::wildcard(), false));
    let frame = to_client()
        .ipv6(SERVER6, CLIENT6)
        .icmp6_unreachable(ICMPV6_PORT_UNREACHABLE, &nbstat6);
    c.add(
        "icmp6_unreachable_quoting_nbstat",
        &["nbns.nbstat", "icmp6.unreachable"],
        frame,
    );
    let sms6 = Bare
        .ipv6(SERVER6, CLIENT6)
        .udp(50004, 1761)
        .payload(b"ping");
    let frame = to_server()
        .ipv6(CLIENT6, SERVER6)
        .icmp6_unreachable(ICMPV6_PORT_UNREACHABLE, &sms6);
    c.add(
        "icmp6_unreachable_quoting_udp_1761",
        &["sms.helpdesk", "icmp6.unreachable"],
        frame,
    );
}

fn sms(c: &mut Catalogue) {
    const HELPDESK: &[&str] = &["sms.helpdesk"];
    const REMOTE_CONTROL: &[&str] = &["sms.remote_control"];
    let syn = |src_port, dst_port| {
        to_server()
            .ipv4(CLIENT, SERVER)
            .tcp(src_port, dst_port)
            .flags(TCP_SYN)
            .mss(1460)
            .payload(&[])
    };
    let port = c.port();
    c.add("sms_helpdesk_tcp_syn", HELPDESK, syn(port, 1762));
    let rst = to_client()
        .ipv4(SERVER, CLIENT)
        .tcp(1762, port)
        .flags(TCP_RST | TCP_ACK)
        .seq(0)
        .ack(1001)
        .payload(&[]);
    c.add("sms_helpdesk_tcp_rst", HELPDESK, rst);
    let udp = to_server()
        .ipv4(CLIENT, SERVER)
        .udp(1761, 1761)
        .payload(b"hello");
    c.add("sms_helpdesk_udp", HELPDESK, udp);
    // Another program took 1763 as its ephemeral port.
    c.add("sms_helpdesk_ephemeral_collision", HELPDESK, syn(1763, 80));
    let port = c.port();
    c.add(
        "sms_remote_control_tcp_syn",
        REMOTE_CONTROL,
        syn(port, 2702),
    );
    let udp = to_server()
        .ipv4(CLIENT, SERVER)
        .udp(2701, 2701)
        .payload(b"hello");
    c.add("sms_remote_control_udp", REMOTE_CONTROL, udp);
}

fn unwatched(c: &mut Catalogue) {
    let port = c.port();
    let http = to_server()
        .ipv4(CLIENT, SERVER)
        .tcp(port, 80)
        .payload(b"GET / HTTP/1.0\r\n\r\n");
    c.add("http_request", &[], http);
    c.add("arp_request", &[], to_all().arp_request(CLIENT, SERVER));
    let port = c.port();
    let dns = to_server()
        .ipv6(CLIENT6, SERVER6)
        .udp(port, 53)
        .payload(&dns_query(0x4321, "example.com"));
    c.add("ipv6_udp_dns", &[], dns);

    // A registration split in two; the halves use different IP ids so tshark never
    // reassembles them: the UDP header is only in the first, which tshark holds back.
    let rec = NbRecord::new(NbName::new("FRAGMENTED", 0), CLIENT);
    let datagram = Bare
        .ipv4(CLIENT, SERVER)
        .udp(137, 137)
        .payload(&nbns::registration(0xC850, &rec, false));
    let udp = &datagram[20..];
    let frame = to_server()
        .ipv4(CLIENT, SERVER)
        .id(0x5001)
        .fragment(0, true)
        .raw(PROTO_UDP, &udp[..32]);
    c.add("ipv4_fragment_udp_137_first", &[], frame);
    let frame = to_server()
        .ipv4(CLIENT, SERVER)
        .id(0x5002)
        .fragment(32, false)
        .raw(PROTO_UDP, &udp[32..]);
    c.add("ipv4_fragment_udp_137_non_first", &[], frame);

    // The same split with one IP id: tshark classifies the datagram on the frame that
    // completes it, while a per-frame classifier can only see the ports in the first.
    let half = |offset: usize, more, bytes: &[u8]| {
        to_server()
            .ipv4(CLIENT, SERVER)
            .id(0x5003)
            .fragment(offset, more)
            .raw(PROTO_UDP, bytes)
    };
    c.add(
        "ipv4_fragmented_registration_first",
        &[],
        half(0, true, &udp[..32]),
    );
    c.add(
        "ipv4_fragmented_registration_last",
        &["nbns.registration"],
        half(32, false, &udp[32..]),
    );
}

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    const FLAGS_RD: u16 = 0x0100;
    const TYPE_A: u16 = 1;
    const CLASS_IN: u16 = 1;
    let mut q = [id, FLAGS_RD, 1, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    for w in [TYPE_A, CLASS_IN] {
        q.extend_from_slice(&w.to_be_bytes());
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tshark::CLASS_FILTERS;

    #[test]
    fn every_class_has_a_sample_and_names_are_known() {
        let samples = catalogue();
        for (class, _) in CLASS_FILTERS {
            assert!(
                samples.iter().any(|s| s.classes.contains(class)),
                "no sample for {class}"
            );
        }
        for s in &samples {
            for class in &s.classes {
                assert!(
                    CLASS_FILTERS.iter().any(|(c, _)| c == class),
                    "{}: unknown class {class}",
                    s.name
                );
            }
            assert!(s.frame.len() >= 60, "{} is not padded", s.name);
        }
        assert!(samples.iter().filter(|s| s.classes.is_empty()).count() >= 4);
    }
}
