//! `ncp_wrong_socket` (Q164987): a NetWare client connects to a stood-in file server at
//! the hard-coded NCP socket instead of the dynamic one it is advertised at.
//!
//! Each scenario has its own IPX network, and its own Ethernet subnet
//! for the MAC addresses (`Lan::net`), so they too can all play at once.

use super::{CLIENT, Lan, Scenario};
use crate::{
    Encap, Eth, IpxAddr,
    eth::BROADCAST,
    ipx::{SAP_FILE_SERVER, SOCKET_NCP, SOCKET_SAP, SapEntry, sap_response},
    ncp,
};

/// The client's NCP socket (not 0x4003, which Wireshark takes for IPX messages), and the
/// dynamic socket LANtegrity gives a stood-in server (the KB's Bad.cap: `10123:1:4007`).
const CLIENT_SOCKET: u16 = 0x4010;
const STAND_IN_SOCKET: u16 = 0x4007;
/// The client's connection to its preferred server, over which it reads the bindery.
const CONNECTION: u16 = 5;
const TASK: u8 = 2;
const PRINT_SERVER: u16 = 0x0047;

const RPV_REQUEST: &str = "ncp.type == 0x2222 && ncp.func == 23 && ncp.subfunc == 61 && ncp.property_name == \"NET_ADDRESS\"";
const CREATE: &str = "ncp.type == 0x1111";
const NCP_REPLY: &str = "ncp.type == 0x3333";

/// tshark's view of each IPX framing.
fn framing(encap: Encap) -> &'static str {
    match encap {
        Encap::EthernetII => "eth.type == 0x8137",
        Encap::Raw8023 => "eth.len && !llc",
        Encap::Llc => "llc.dsap == 0xe0",
        Encap::Snap => "llc.oui == 0 && llc.type == 0x8137",
    }
}

/// An IPX network with a client (node `..:10`), its preferred file server FS1 (node 2),
/// and the host LANtegrity runs on (node 1).
struct Ipx {
    lan: Lan,
    net: u32,
    encap: Encap,
}

const LANTEGRITY: u8 = 1;
const FS1: u8 = 2;

impl Ipx {
    fn new(lan_net: u8, ipx_net: u32, encap: Encap) -> Self {
        Ipx {
            lan: Lan::new(lan_net),
            net: ipx_net,
            encap,
        }
    }

    fn addr(&self, host: u8, socket: u16) -> IpxAddr {
        IpxAddr::new(self.net, self.lan.mac(host), socket)
    }

    fn client(&self) -> IpxAddr {
        self.addr(CLIENT, CLIENT_SOCKET)
    }

    fn send(&mut self, at_ms: u64, src: IpxAddr, dst: IpxAddr, payload: &[u8], check: &str) {
        let (from, to) = (src.node[5], dst.node[5]);
        let eth = if dst.node == BROADCAST {
            Eth::new(self.lan.mac(from), BROADCAST)
        } else {
            self.lan.eth(from, to)
        };
        let frame = eth
            .ipx(self.encap, src, dst)
            .packet_type(0x11)
            .payload(payload);
        let check = format!("({check}) && {}", framing(self.encap));
        self.lan.add(at_ms, frame, &check);
    }

    fn sap(&mut self, at_ms: u64, from: u8, nearest: bool, entries: &[SapEntry]) {
        let src = self.addr(from, SOCKET_SAP);
        let (dst, kind) = if nearest {
            (self.addr(CLIENT, 0x4008), 4)
        } else {
            (IpxAddr::new(self.net, BROADCAST, SOCKET_SAP), 2)
        };
        let frame_eth = if nearest {
            self.lan.eth(from, CLIENT)
        } else {
            Eth::new(self.lan.mac(from), BROADCAST)
        };
        let frame = frame_eth
            .ipx(self.encap, src, dst)
            .payload(&sap_response(nearest, entries));
        let check = format!("ipxsap.packet_type == {kind} && {}", framing(self.encap));
        self.lan.add(at_ms, frame, &check);
    }

    /// Read Property Value for `name`'s NET_ADDRESS over the client's connection to FS1,
    /// and FS1's answer `at`.
    fn net_address(&mut self, at_ms: u64, seq: u8, object_type: u16, name: &str, at: IpxAddr) {
        let fs1 = self.addr(FS1, SOCKET_NCP);
        let q = ncp::read_property_value(
            seq,
            CONNECTION,
            TASK,
            object_type,
            name,
            1,
            ncp::PROPERTY_NET_ADDRESS,
        );
        let check = format!(
            "{RPV_REQUEST} && ncp.object_name == \"{name}\" && ncp.object_type == {object_type}"
        );
        self.send(at_ms, self.client(), fs1, &q, &check);
        let value = ncp::net_address(&at);
        let r = ncp::read_property_value_reply(seq, CONNECTION, TASK, &value, false, 0);
        let hex: Vec<String> = value.iter().map(|b| format!("{b:02x}")).collect();
        let check = format!(
            "ncp.type == 0x3333 && ncp.func == 23 && ncp.subfunc == 61 && ncp.property_data[0:12] == {}",
            hex.join(":")
        );
        self.send(at_ms + 5, fs1, self.client(), &r, &check);
    }

    /// Create Service Connection to `to`, sent `times` times a second apart; answered (by
    /// a reply with connection `answer`) after the first when given.
    fn connect(&mut self, at_ms: u64, seq: u8, to: IpxAddr, times: u64, answer: Option<u16>) {
        for i in 0..times {
            let create = ncp::create_connection(seq, TASK);
            self.send(at_ms + i * 1000, self.client(), to, &create, CREATE);
        }
        if let Some(conn) = answer {
            let r = ncp::reply(seq, conn, TASK, 0, 0, &[]);
            self.send(at_ms + 5, to, self.client(), &r, NCP_REPLY);
        }
    }

    fn done(self, name: &'static str, fault: Option<&'static str>) -> Scenario {
        self.lan.done(name, fault)
    }
}

const NCP_FAULT: Option<&str> = Some("ncp_wrong_socket");

/// Every NetWare scenario: the KB's Bad.cap in each IPX framing, the address learned from
/// SAP instead, then the benign look-alikes. Server names are unique across scenarios, as
/// NetWare's are across an internetwork.
pub fn ncp() -> Vec<Scenario> {
    let mut v: Vec<Scenario> = Encap::ALL
        .into_iter()
        .enumerate()
        .map(|(i, encap)| ncp_kb_bad_cap(40 + i as u8, 0x0001_0123 + i as u32, encap))
        .collect();
    v.extend([
        ncp_learned_from_sap_answered(),
        ncp_sap_general_several_servers(),
        ncp_benign_connect_to_advertised_socket(),
        ncp_benign_server_advertised_at_451(),
        ncp_benign_unadvertised_address(),
        ncp_benign_not_a_file_server(),
        ncp_benign_stand_in_and_own_server(),
        ncp_benign_stand_in_withdrawn(),
    ]);
    v
}

/// Bad.cap: the NET_ADDRESS of DTW4 (stood in for by LANtegrity; DTW5-7 in the other
/// framings) read from the bindery is `net:1:4007`; the client connects to `net:1:0451`,
/// three times, and nothing answers.
fn ncp_kb_bad_cap(lan: u8, net: u32, encap: Encap) -> Scenario {
    let mut x = Ipx::new(lan, net, encap);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    let server = match encap {
        Encap::EthernetII => "DTW4",
        Encap::Raw8023 => "DTW5",
        Encap::Llc => "DTW6",
        Encap::Snap => "DTW7",
    };
    x.net_address(0, 7, ncp::OBJECT_FILE_SERVER, server, stand_in);
    x.connect(100, 0, stand_in.with_socket(SOCKET_NCP), 3, None);
    let name = match encap {
        Encap::EthernetII => "ncp_kb_bad_cap_ethernet_ii",
        Encap::Raw8023 => "ncp_kb_bad_cap_raw_802_3",
        Encap::Llc => "ncp_kb_bad_cap_802_2",
        Encap::Snap => "ncp_kb_bad_cap_snap",
    };
    x.done(name, NCP_FAULT)
}

/// The stand-in's address from a SAP nearest response; LANtegrity's own NetWare answers
/// on 0x451 (as itself, not as the stood-in server).
fn ncp_learned_from_sap_answered() -> Scenario {
    let mut x = Ipx::new(44, 0x0001_0127, Encap::EthernetII);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    let entry = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "DTW8",
        addr: stand_in,
        hops: 1,
    };
    x.sap(0, LANTEGRITY, true, &[entry]);
    x.connect(100, 0, stand_in.with_socket(SOCKET_NCP), 1, Some(9));
    x.done("ncp_learned_from_sap_answered", NCP_FAULT)
}

/// A SAP general response lists a print server, a file server at 0x451 and a stood-in
/// one; the client connects to the file server (right) and to the stand-in's node at
/// 0x451 (wrong).
fn ncp_sap_general_several_servers() -> Scenario {
    let mut x = Ipx::new(45, 0x0001_0128, Encap::Raw8023);
    let entries = [
        SapEntry {
            server_type: PRINT_SERVER,
            name: "PRN1",
            addr: x.addr(3, 0x8060),
            hops: 1,
        },
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "FS10",
            addr: x.addr(FS1, SOCKET_NCP),
            hops: 1,
        },
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "DTW9",
            addr: x.addr(LANTEGRITY, STAND_IN_SOCKET),
            hops: 2,
        },
    ];
    x.sap(0, FS1, false, &entries);
    x.connect(100, 0, x.addr(FS1, SOCKET_NCP), 1, Some(5));
    x.connect(200, 1, x.addr(LANTEGRITY, SOCKET_NCP), 2, None);
    x.done("ncp_sap_general_several_servers", NCP_FAULT)
}

fn ncp_benign_connect_to_advertised_socket() -> Scenario {
    let mut x = Ipx::new(46, 0x0001_0129, Encap::EthernetII);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    x.net_address(0, 7, ncp::OBJECT_FILE_SERVER, "DTW10", stand_in);
    x.connect(100, 0, stand_in, 1, Some(3));
    x.done("ncp_benign_connect_to_advertised_socket", None)
}

fn ncp_benign_server_advertised_at_451() -> Scenario {
    let mut x = Ipx::new(47, 0x0001_012a, Encap::Llc);
    let fs1 = x.addr(FS1, SOCKET_NCP);
    let entry = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "FS11",
        addr: fs1,
        hops: 1,
    };
    x.sap(0, FS1, true, &[entry]);
    x.connect(100, 0, fs1, 1, Some(5));
    x.done("ncp_benign_server_advertised_at_451", None)
}

/// Nobody advertised anything on node 7: a connect there, unanswered, is not this fault.
fn ncp_benign_unadvertised_address() -> Scenario {
    let mut x = Ipx::new(48, 0x0001_012b, Encap::Snap);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    x.net_address(0, 7, ncp::OBJECT_FILE_SERVER, "DTW13", stand_in);
    x.connect(100, 0, x.addr(7, SOCKET_NCP), 2, None);
    x.done("ncp_benign_unadvertised_address", None)
}

/// Only file servers count: a print server at a dynamic socket, by SAP and by the bindery.
fn ncp_benign_not_a_file_server() -> Scenario {
    let mut x = Ipx::new(49, 0x0001_012c, Encap::EthernetII);
    let prn = x.addr(LANTEGRITY, 0x8060);
    let entry = SapEntry {
        server_type: PRINT_SERVER,
        name: "PRN1",
        addr: prn,
        hops: 1,
    };
    x.sap(0, LANTEGRITY, false, &[entry]);
    x.net_address(50, 8, PRINT_SERVER, "PRN1", prn);
    x.connect(100, 0, prn.with_socket(SOCKET_NCP), 1, None);
    x.done("ncp_benign_not_a_file_server", None)
}

/// The LANtegrity host advertises its own file server at 0x451 besides a stood-in one.
fn ncp_benign_stand_in_and_own_server() -> Scenario {
    let mut x = Ipx::new(50, 0x0001_012d, Encap::Raw8023);
    let entries = [
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "LANT1",
            addr: x.addr(LANTEGRITY, SOCKET_NCP),
            hops: 1,
        },
        SapEntry {
            server_type: SAP_FILE_SERVER,
            name: "DTW11",
            addr: x.addr(LANTEGRITY, STAND_IN_SOCKET),
            hops: 1,
        },
    ];
    x.sap(0, LANTEGRITY, false, &entries);
    x.connect(100, 0, x.addr(LANTEGRITY, SOCKET_NCP), 1, Some(4));
    x.done("ncp_benign_stand_in_and_own_server", None)
}

/// A stood-in server comes back: LANtegrity withdraws its stand-in (hop count 16) and the
/// real one advertises at 0x451 on its own node; a later connect to the LANtegrity node
/// is no longer against any advertisement.
fn ncp_benign_stand_in_withdrawn() -> Scenario {
    let mut x = Ipx::new(51, 0x0001_012e, Encap::EthernetII);
    let stand_in = x.addr(LANTEGRITY, STAND_IN_SOCKET);
    let up = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "DTW12",
        addr: stand_in,
        hops: 1,
    };
    x.sap(0, LANTEGRITY, false, std::slice::from_ref(&up));
    let down = SapEntry { hops: 16, ..up };
    x.sap(1000, LANTEGRITY, false, &[down]);
    let back = SapEntry {
        server_type: SAP_FILE_SERVER,
        name: "DTW12",
        addr: x.addr(6, SOCKET_NCP),
        hops: 1,
    };
    x.sap(1100, 6, false, &[back]);
    x.connect(2000, 0, x.addr(LANTEGRITY, SOCKET_NCP), 1, None);
    x.done("ncp_benign_stand_in_withdrawn", None)
}
