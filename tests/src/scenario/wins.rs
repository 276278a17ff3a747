//! `wins_backup_swap` (Q153073): a WINS client swaps its primary and backup servers when
//! the backup accepts a name the primary did not answer for, and sends the next names to
//! the dead primary.

use super::{
    BROADCAST_HOST, CLIENT, Lan, OTHER_CLIENT, Scenario, WINS_BACKUP, WINS_PRIMARY, netbios::name,
};
use crate::netbios::{NbName, nbns};

const UNICAST_REGISTRATION: &str = "nbns.flags.opcode == 5 && nbns.flags.response == 0 && nbns.flags.broadcast == 0 && eth.dst.ig == 0";
const BROADCAST_REGISTRATION: &str = "nbns.flags.opcode == 5 && nbns.flags.response == 0 && nbns.flags.broadcast == 1 && eth.dst.ig == 1";
const MULTIHOMED_REGISTRATION: &str = "nbns.flags.opcode == 15 && nbns.flags.response == 0";
const REFRESH: &str = "nbns.flags.opcode == 8 && nbns.flags.response == 0 && eth.dst.ig == 0";
const POSITIVE_REGISTRATION: &str =
    "nbns.flags.opcode == 5 && nbns.flags.response == 1 && nbns.flags.rcode == 0";
const NEGATIVE_REGISTRATION: &str =
    "nbns.flags.opcode == 5 && nbns.flags.response == 1 && nbns.flags.rcode == 6";
const WACK: &str = "nbns.flags.opcode == 7 && nbns.flags.response == 1";

const WINS_FAULT: Option<&str> = Some("wins_backup_swap");

/// The WINS scenarios: the fault's variants, then its benign look-alikes.
pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        wins_kb_m_node(),
        wins_h_node_one_name_lost(),
        wins_names_lost_interleaved_multihomed_refresh(),
        wins_second_client_between(),
        wins_vlan_tagged(),
        wins_backup_wack_then_accept(),
        wins_benign_each_name_retried_with_backup(),
        wins_benign_primary_answers(),
        wins_benign_broadcast_only(),
        wins_benign_primary_down_no_backup(),
        wins_benign_many_names(),
    ]
}

/// Registration of `n` (transaction `id`) sent three times to `to`, unanswered.
fn unanswered(lan: &mut Lan, at: u64, client: u8, to: u8, id: u16, n: &NbName) {
    let reg = nbns::registration(id, &lan.record_of(client, n), false);
    lan.thrice(at, client, to, &reg, UNICAST_REGISTRATION);
}

/// Registration of `n` to `server`, answered positively 10 ms later.
fn accepted(lan: &mut Lan, at: u64, client: u8, server: u8, id: u16, n: &NbName) {
    let rec = lan.record_of(client, n);
    let reg = nbns::registration(id, &rec, false);
    lan.udp(at, (client, 137), (server, 137), &reg, UNICAST_REGISTRATION);
    let ok = nbns::registration_response(id, &rec, 0);
    lan.udp(
        at + 10,
        (server, 137),
        (client, 137),
        &ok,
        POSITIVE_REGISTRATION,
    );
}

/// The KB's m-node: broadcast first, then the primary, then the backup, which answers; the
/// next names go through broadcast and then back to the dead primary.
fn wins_kb_m_node() -> Scenario {
    let mut lan = Lan::new(11);
    let (n1, n2, n3) = (name("DTW4", 0x00), name("DTW4", 0x20), name("DTW4", 0x03));
    let bcast = |lan: &mut Lan, at: u64, id: u16, n: &NbName| {
        let reg = nbns::registration(id, &lan.record(n), true);
        for i in 0..3 {
            lan.udp(
                at + i * 750,
                (CLIENT, 137),
                (BROADCAST_HOST, 137),
                &reg,
                BROADCAST_REGISTRATION,
            );
        }
    };
    bcast(&mut lan, 0, 0x0101, &n1);
    unanswered(&mut lan, 2250, CLIENT, WINS_PRIMARY, 0x0102, &n1);
    accepted(&mut lan, 6750, CLIENT, WINS_BACKUP, 0x0103, &n1);
    bcast(&mut lan, 7500, 0x0104, &n2);
    unanswered(&mut lan, 9750, CLIENT, WINS_PRIMARY, 0x0105, &n2);
    bcast(&mut lan, 14250, 0x0106, &n3);
    unanswered(&mut lan, 16500, CLIENT, WINS_PRIMARY, 0x0107, &n3);
    lan.done("wins_kb_m_node", WINS_FAULT)
}

/// The primary, then the backup for the first name; the second name back to the primary.
fn h_node_one_name_lost(lan: &mut Lan, client: u8, at: u64, id: u16) {
    let (n1, n2) = (name("PC42", 0x00), name("PC42", 0x20));
    unanswered(lan, at, client, WINS_PRIMARY, id, &n1);
    accepted(lan, at + 4500, client, WINS_BACKUP, id + 1, &n1);
    unanswered(lan, at + 6000, client, WINS_PRIMARY, id + 2, &n2);
}

fn wins_h_node_one_name_lost() -> Scenario {
    let mut lan = Lan::new(12);
    h_node_one_name_lost(&mut lan, CLIENT, 0, 0x0201);
    lan.done("wins_h_node_one_name_lost", WINS_FAULT)
}

/// Three names lost at once, their retransmissions interleaved: a registration, a
/// multi-homed registration and a refresh.
fn wins_names_lost_interleaved_multihomed_refresh() -> Scenario {
    let mut lan = Lan::new(13);
    let n1 = name("SRV7", 0x00);
    let (n2, n3, n4) = (name("SRV7", 0x20), name("SRV7", 0x03), name("SALES", 0x00));
    unanswered(&mut lan, 0, CLIENT, WINS_PRIMARY, 0x0301, &n1);
    accepted(&mut lan, 4500, CLIENT, WINS_BACKUP, 0x0302, &n1);
    let reg = nbns::registration(0x0303, &lan.record(&n2), false);
    lan.thrice(6000, CLIENT, WINS_PRIMARY, &reg, UNICAST_REGISTRATION);
    let multi = nbns::multihomed_registration(0x0304, &lan.record(&n3));
    lan.thrice(6100, CLIENT, WINS_PRIMARY, &multi, MULTIHOMED_REGISTRATION);
    let refresh = nbns::refresh(0x0305, &lan.record(&n4));
    lan.thrice(6200, CLIENT, WINS_PRIMARY, &refresh, REFRESH);
    lan.done("wins_names_lost_interleaved_multihomed_refresh", WINS_FAULT)
}

/// The benign client (every name: primary, timeout, backup) between the faulty one's
/// packets, on the same servers.
fn wins_second_client_between() -> Scenario {
    let mut lan = Lan::new(14);
    h_node_one_name_lost(&mut lan, CLIENT, 0, 0x0401);
    each_name_retried_with_backup(&mut lan, OTHER_CLIENT, 700, 0x0501);
    lan.done("wins_second_client_between", WINS_FAULT)
}

fn wins_vlan_tagged() -> Scenario {
    let mut lan = Lan::tagged(15, 42);
    h_node_one_name_lost(&mut lan, CLIENT, 0, 0x0601);
    lan.done("wins_vlan_tagged", WINS_FAULT)
}

/// The backup first asks the client to wait (WACK), then accepts: the swap comes with the
/// acceptance.
fn wins_backup_wack_then_accept() -> Scenario {
    let mut lan = Lan::new(16);
    let (n1, n2) = (name("LAB3", 0x00), name("LAB3", 0x20));
    unanswered(&mut lan, 0, CLIENT, WINS_PRIMARY, 0x0701, &n1);
    let rec = lan.record(&n1);
    let reg = nbns::registration(0x0702, &rec, false);
    lan.udp(
        4500,
        (CLIENT, 137),
        (WINS_BACKUP, 137),
        &reg,
        UNICAST_REGISTRATION,
    );
    let wack = nbns::wack(0x0702, &n1, 2, 0x2900);
    lan.udp(4510, (WINS_BACKUP, 137), (CLIENT, 137), &wack, WACK);
    let ok = nbns::registration_response(0x0702, &rec, 0);
    lan.udp(
        6000,
        (WINS_BACKUP, 137),
        (CLIENT, 137),
        &ok,
        POSITIVE_REGISTRATION,
    );
    unanswered(&mut lan, 7000, CLIENT, WINS_PRIMARY, 0x0703, &n2);
    lan.done("wins_backup_wack_then_accept", WINS_FAULT)
}

fn each_name_retried_with_backup(lan: &mut Lan, client: u8, at: u64, id: u16) {
    let names = [
        name("ACCT1", 0x00),
        name("ACCT1", 0x20),
        name("ACCT1", 0x03),
    ];
    for (i, n) in names.iter().enumerate() {
        let t = at + i as u64 * 6000;
        let id = id + 2 * i as u16;
        unanswered(lan, t, client, WINS_PRIMARY, id, n);
        accepted(lan, t + 4500, client, WINS_BACKUP, id + 1, n);
    }
}

fn wins_benign_each_name_retried_with_backup() -> Scenario {
    let mut lan = Lan::new(17);
    each_name_retried_with_backup(&mut lan, CLIENT, 0, 0x0801);
    lan.done("wins_benign_each_name_retried_with_backup", None)
}

fn wins_benign_primary_answers() -> Scenario {
    let mut lan = Lan::new(18);
    for (i, n) in [name("OK1", 0x00), name("OK1", 0x20), name("OK1", 0x03)]
        .iter()
        .enumerate()
    {
        accepted(
            &mut lan,
            i as u64 * 100,
            CLIENT,
            WINS_PRIMARY,
            0x0901 + i as u16,
            n,
        );
    }
    lan.done("wins_benign_primary_answers", None)
}

/// A b-node: broadcast registrations only, one of them refused by the name's owner.
fn wins_benign_broadcast_only() -> Scenario {
    let mut lan = Lan::new(19);
    let (n1, n2) = (name("BNODE", 0x00), name("WORKGROUP", 0x1D));
    for (i, n) in [&n1, &n2].into_iter().enumerate() {
        let reg = nbns::registration(0x0a01 + i as u16, &lan.record(n), true);
        for k in 0..3 {
            let at = i as u64 * 3000 + k * 750;
            lan.udp(
                at,
                (CLIENT, 137),
                (BROADCAST_HOST, 137),
                &reg,
                BROADCAST_REGISTRATION,
            );
        }
    }
    let owner = lan.record_of(OTHER_CLIENT, &n2);
    let refused = nbns::registration_response(0x0a02, &owner, nbns::RCODE_ACT_ERR);
    lan.udp(
        3010,
        (OTHER_CLIENT, 137),
        (CLIENT, 137),
        &refused,
        NEGATIVE_REGISTRATION,
    );
    lan.done("wins_benign_broadcast_only", None)
}

/// The primary never answers and there is no backup: the client falls back to broadcast
/// (the real capture `nbns_wins_unicast_reg_no_reply_then_bcast` shows this).
fn wins_benign_primary_down_no_backup() -> Scenario {
    let mut lan = Lan::new(20);
    let n = name("LONELY", 0x00);
    unanswered(&mut lan, 0, CLIENT, WINS_PRIMARY, 0x0b01, &n);
    let reg = nbns::registration(0x0b02, &lan.record(&n), true);
    for k in 0..3 {
        lan.udp(
            4500 + k * 750,
            (CLIENT, 137),
            (BROADCAST_HOST, 137),
            &reg,
            BROADCAST_REGISTRATION,
        );
    }
    let demand = nbns::overwrite_demand(0x0b02, &lan.record(&n));
    lan.udp(
        6750,
        (CLIENT, 137),
        (BROADCAST_HOST, 137),
        &demand,
        "nbns.flags == 0x2810",
    );
    lan.done("wins_benign_primary_down_no_backup", None)
}

/// A terminal server registering 40 names, each with the primary (unanswered) and then
/// the backup (accepted), overlapping: more names than an episode keeps registrations
/// for, every one registered.
fn wins_benign_many_names() -> Scenario {
    let mut lan = Lan::new(31);
    for i in 0..40u16 {
        let n = name(&format!("USER{i:02}"), 0x03);
        let t = u64::from(i) * 200;
        unanswered(&mut lan, t, CLIENT, WINS_PRIMARY, 0x0c00 + 2 * i, &n);
        accepted(&mut lan, t + 4500, CLIENT, WINS_BACKUP, 0x0c01 + 2 * i, &n);
    }
    lan.done("wins_benign_many_names", None)
}
