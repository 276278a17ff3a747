//! Fault records: the common envelope, each fault's own fields as a type of its own, and
//! their JSON Schema (docs/fault-record.schema.json), derived from the same types that
//! print the records, so the two cannot drift apart.

use fault_common::{Event, event::EventKind};
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings, json_schema};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::{FaultKind, canary, nbstat, ncp, ras, sms, wins};
use crate::names;

/// One packet that made the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Evidence {
    /// When the packet was seen.
    #[serde(rename = "ts", serialize_with = "rfc3339")]
    #[schemars(schema_with = "rfc3339_schema")]
    pub ts_ns: u64,
    /// Its source: `address:port`, an IPX `network:node:socket`, or a bare address where the
    /// protocol has no ports (ICMP).
    pub from: String,
    /// Its destination, written as `from` is.
    pub to: String,
    /// What the detector saw in it.
    pub what: String,
}

impl Evidence {
    /// The event's time and endpoints, with what the detector saw in it.
    pub fn of(ev: &Event, what: impl Into<String>) -> Self {
        let h = &ev.hdr;
        // ICMP has no ports: its endpoints are hosts.
        let at = |addr: &[u8; 16], port: u16| match ev.kind() {
            Ok(EventKind::IcmpUnreachable) => names::host(h.family, addr, port),
            _ => names::endpoint(h.family, addr, port),
        };
        Evidence {
            ts_ns: h.ts_ns,
            from: at(&h.src, h.sport),
            to: at(&h.dst, h.dport),
            what: what.into(),
        }
    }
}

/// Why serializing a record cannot fail: serde_json fails only on a map with keys that
/// are not strings, or a `Serialize` that reports an error, and a record has neither.
const SERIALIZES: &str = "a fault record serializes (string keys only)";

/// A fault record (docs/faults.md, "Every record"). Which fault it is follows from its
/// [`Detail`], so the id and the fields cannot disagree.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Time of the packet (or deadline) that completed the signature.
    pub ts_ns: u64,
    pub client: String,
    pub server: String,
    pub summary: String,
    pub detail: Detail,
    pub evidence: Vec<Evidence>,
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        self.detail.kind()
    }

    /// The record as one line of JSON, as the fault log and `faultd replay` print it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect(SERIALIZES)
    }

    /// Records as one JSON array, as `/api/faults` serves them.
    pub fn to_json_array(records: &[Fault]) -> String {
        serde_json::to_string(records).expect(SERIALIZES)
    }

    fn envelope<'a, D>(&'a self, detail: &'a D) -> Envelope<'a, D> {
        let kind = self.kind();
        Envelope {
            fault: kind.id(),
            kb: kind.kb(),
            ts: self.ts_ns,
            client: &self.client,
            server: &self.server,
            summary: &self.summary,
            detail,
            evidence: &self.evidence,
            remedy: kind.remedy(),
        }
    }
}

/// A record as printed: what every record has, with the fault's own fields between the
/// summary and the evidence (the order docs/faults.md gives, and the golden files hold).
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct Envelope<'a, D> {
    /// The fault's id.
    fault: &'static str,
    /// The Microsoft knowledge-base article that describes the fault (`-` for the canary).
    kb: &'static str,
    /// When the fault was established (docs/faults.md, "Clock").
    #[serde(serialize_with = "rfc3339")]
    #[schemars(schema_with = "rfc3339_schema")]
    ts: u64,
    /// The host that suffers the fault (each fault says which).
    client: &'a str,
    /// The other side (each fault says which).
    server: &'a str,
    /// One sentence for a network administrator: who, what was lost, why.
    summary: &'a str,
    #[serde(flatten)]
    detail: &'a D,
    /// The packets that make the case, oldest first.
    evidence: &'a [Evidence],
    /// What fixes the fault or works around it, from its KB article.
    #[serde(skip_serializing_if = "Option::is_none")]
    remedy: Option<&'static str>,
}

fn rfc3339<S: Serializer>(ts_ns: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&names::rfc3339(*ts_ns))
}

fn rfc3339_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "RFC 3339 in UTC with microseconds.",
        "type": "string",
        "format": "date-time",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"
    })
}

/// The one list of the records' types: the enum, its kinds, the printing and the schema's
/// alternatives all come from it, so a new fault cannot be missing from one of them.
macro_rules! details {
    ($($kind:ident($record:ty)),* $(,)?) => {
        /// A fault's own fields; the variant is the fault.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Detail {
            $($kind($record),)*
        }

        impl Detail {
            pub fn kind(&self) -> FaultKind {
                match self {
                    $(Detail::$kind(_) => FaultKind::$kind,)*
                }
            }
        }

        impl Serialize for Fault {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match &self.detail {
                    $(Detail::$kind(d) => self.envelope(d).serialize(s),)*
                }
            }
        }

        fn alternatives(generator: &mut SchemaGenerator) -> Vec<Value> {
            vec![$(alternative::<$record>(generator, FaultKind::$kind),)*]
        }
    };
}

details! {
    WinsBackupSwap(wins::Record),
    NcpWrongSocket(ncp::Record),
    NetbiosIpConnectFailure(nbstat::Record),
    SmsPortConflict(sms::Record),
    RasPortLeak(ras::Record),
    Canary(canary::Record),
}

/// One fault's records: the envelope with its `fault` and `kb` fixed and its own fields,
/// nothing else.
fn alternative<D: JsonSchema>(generator: &mut SchemaGenerator, kind: FaultKind) -> Value {
    let own = generator.subschema_for::<D>();
    let mut schema = generator.subschema_for::<Envelope<D>>();
    for (field, value) in [("fault", kind.id()), ("kb", kind.kb())] {
        if let Some(Value::Object(p)) = schema.pointer_mut(&format!("/properties/{field}")) {
            p.insert("const".into(), value.into());
        }
    }
    // A fault with a remedy always carries it, and only its own; one without has none.
    match kind.remedy() {
        Some(remedy) => {
            if let Some(Value::Object(p)) = schema.pointer_mut("/properties/remedy") {
                p.insert("const".into(), remedy.into());
            }
            if let Some(Value::Array(r)) = schema.pointer_mut("/required") {
                r.push("remedy".into());
            }
        }
        None => {
            if let Some(Value::Object(p)) = schema.pointer_mut("/properties") {
                p.remove("remedy");
            }
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("title".into(), kind.id().into());
    if let Some(d) = own.get("description") {
        out.insert("description".into(), d.clone());
    }
    for (k, v) in schema.as_object().into_iter().flatten() {
        if k != "title" && k != "description" {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The JSON Schema of every record faultd prints: one alternative per fault, told apart by
/// `fault`. docs/fault-record.schema.json holds it (a test keeps the two the same).
pub fn schema() -> Value {
    // Inlined: the records are small, and a reader of one alternative sees all of it.
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut out = serde_json::Map::new();
    if let Some(meta) = &generator.settings().meta_schema {
        out.insert("$schema".into(), meta.to_string().into());
    }
    out.insert("title".into(), "faultd fault record".into());
    out.insert(
        "description".into(),
        "One record of a fault faultd found, as `faultd replay`, the fault log and \
         /api/faults give it (docs/faults.md). Generated from faultd's record types."
            .into(),
    );
    out.insert("oneOf".into(), alternatives(&mut generator).into());
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use fault_tests::golden::{BLESS, blessing};

    use super::*;

    fn published() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/fault-record.schema.json")
    }

    /// The published schema is what the types give: `FAULTD_BLESS=1` rewrites it after a
    /// change in the records (then review its diff, as with the golden files).
    #[test]
    fn the_published_schema_is_the_generated_one() {
        let mut want = serde_json::to_string_pretty(&schema()).unwrap();
        want.push('\n');
        let path = published();
        if blessing() {
            std::fs::write(&path, &want).unwrap();
            eprintln!("{BLESS}: wrote {}", path.display());
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is not the schema the record types give: run this test with {BLESS}=1 and \
             review the diff",
            path.display()
        );
    }
}
