//! The test detector: an NBNS name query for `FAULTD-CANARY` that goes unanswered for a
//! second is "a fault". It needs everything a real detector needs (events from the ring
//! buffer, pairing by transaction id and peer, a deadline that only packet time or the
//! tick can pass, bounded state), so a test can prove the pipeline end to end before the
//! real detectors exist, and keep proving it after.

use fault_common::{
    Event,
    event::NAME_OK,
    proto::nbns::{self, OPCODE_QUERY},
};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Detail, Detector, Evidence, Fault, bounded::Bounded};
use crate::names;

pub const NAME: &str = "FAULTD-CANARY";
const TIMEOUT_NS: u64 = 1_000_000_000;
/// Queries tracked at once; the least recently sent is dropped (and counted) beyond this.
const CAPACITY: usize = 64;

/// The canary's record has no fields of its own: `client` asked `server` for
/// `FAULTD-CANARY` and got no answer within a second, which is `ts`. Not a fault: only
/// `faultd run --canary` and `faultd replay --canary` (tests) report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Record {}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

pub struct Canary {
    pending: Bounded<Key, Pending>,
}

impl Default for Canary {
    fn default() -> Self {
        Canary {
            pending: Bounded::new(CAPACITY),
        }
    }
}

impl Detector for Canary {
    fn name(&self) -> &'static str {
        "canary"
    }

    fn event(&mut self, ev: &Event, _out: &mut Vec<Fault>) {
        let Some(nb) = ev.nbns() else { return };
        let h = &ev.hdr;
        if nbns::opcode(nb.flags) != OPCODE_QUERY {
            return;
        }
        if nbns::is_response(nb.flags) {
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
        self.pending
            .touch(key, h.ts_ns, || Pending {
                query: *ev,
                deadline,
            })
            .deadline = deadline;
        self.pending.set_due(&key, deadline);
    }

    fn advance(&mut self, now_ns: u64, out: &mut Vec<Fault>) {
        let mut faults: Vec<Fault> = self
            .pending
            .take_due(now_ns)
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
                    ts_ns: p.deadline,
                    summary: format!(
                        "{client} asked {server} for {name} and got no answer within 1 s \
                         (faultd's test detector)"
                    ),
                    client,
                    server,
                    detail: Detail::Canary(Record {}),
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
        self.pending.evicted()
    }

    fn entries(&self) -> usize {
        self.pending.len()
    }

    fn capacity(&self) -> usize {
        self.pending.capacity()
    }
}
