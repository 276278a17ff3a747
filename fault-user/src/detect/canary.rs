//! The test detector: an NBNS name query for `FAULTD-CANARY` that goes unanswered for a
//! second is "a fault". It needs everything a real detector needs (events from the ring
//! buffer, pairing by transaction id and peer, a deadline that only packet time or the
//! tick can pass, bounded state), so a test can prove the pipeline end to end before the
//! real detectors exist, and keep proving it after.

use std::collections::BTreeMap;

use fault_common::{Event, event::NAME_OK};
use serde_json::Map;

use super::{Detector, Evidence, Fault, FaultKind};
use crate::names;

pub const NAME: &str = "FAULTD-CANARY";
const TIMEOUT_NS: u64 = 1_000_000_000;
/// Queries tracked at once; the oldest is dropped (and counted) beyond this.
const CAPACITY: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    client: [u8; 16],
    server: [u8; 16],
    family: u8,
    txid: u16,
}

struct Pending {
    query: Event,
    deadline: u64,
}

#[derive(Default)]
pub struct Canary {
    pending: BTreeMap<Key, Pending>,
    evicted: u64,
}

impl Detector for Canary {
    fn name(&self) -> &'static str {
        "canary"
    }

    fn event(&mut self, ev: &Event, _out: &mut Vec<Fault>) {
        let Some(nb) = ev.nbns() else { return };
        let h = &ev.hdr;
        let opcode = (nb.flags >> 11) & 0xf;
        let response = nb.flags & 0x8000 != 0;
        if opcode != 0 {
            return;
        }
        if response {
            let key = Key {
                client: h.dst,
                server: h.src,
                family: h.family,
                txid: nb.txid,
            };
            self.pending.remove(&key);
            return;
        }
        let name = names::netbios_name(&nb.name);
        if nb.name_status != NAME_OK || name.strip_prefix(NAME).is_none_or(|r| !r.starts_with('<'))
        {
            return;
        }
        let key = Key {
            client: h.src,
            server: h.dst,
            family: h.family,
            txid: nb.txid,
        };
        // A retransmission keeps the first query and pushes the deadline on.
        let deadline = h.ts_ns.saturating_add(TIMEOUT_NS);
        if let Some(p) = self.pending.get_mut(&key) {
            p.deadline = deadline;
            return;
        }
        if self.pending.len() >= CAPACITY {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.deadline)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.pending.remove(&k);
                self.evicted += 1;
            }
        }
        self.pending.insert(
            key,
            Pending {
                query: *ev,
                deadline,
            },
        );
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>) {
        let due: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now_ns)
            .map(|(k, _)| *k)
            .collect();
        let mut faults: Vec<Fault> = due
            .into_iter()
            .filter_map(|k| self.pending.remove(&k))
            .map(|p| {
                let h = &p.query.hdr;
                let client = names::host(h.family, &h.src, h.sport);
                let server = names::host(h.family, &h.dst, h.dport);
                let name = p
                    .query
                    .nbns()
                    .map_or_else(String::new, |nb| names::netbios_name(&nb.name));
                Fault {
                    kind: FaultKind::Canary,
                    ts_ns: p.deadline,
                    summary: format!(
                        "{client} asked {server} for {name} and got no answer within 1 s \
                         (faultd's test detector)"
                    ),
                    client,
                    server,
                    fields: Map::new(),
                    evidence: vec![Evidence::of(
                        &p.query,
                        format!("NBNS name query for {name}"),
                    )],
                }
            })
            .collect();
        faults.sort_by_key(|f| f.ts_ns);
        out.extend(faults);
    }

    fn evictions(&self) -> u64 {
        self.evicted
    }
}
