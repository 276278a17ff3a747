//! The detectors faultd runs, in one table: each fault's id, KB article, constructor and
//! settings. The catalogue, the ids and KB names of records, `Pipeline::standard` and the
//! metrics' per-fault series all come from [`REGISTRY`]; docs/adding-a-detector.md walks
//! through adding a row.

use serde::{Deserialize, Serialize};

use crate::settings::Allow;

use super::{Detector, FaultKind, canary, nbns, nbstat, ncp, ras, sms, wins};

/// One detector, and the fault it finds.
pub struct Entry {
    pub kind: FaultKind,
    /// The fault's name: in records (`fault`), metrics (`fault`, `detector` labels) and as
    /// its settings' key in [`Config`].
    pub id: &'static str,
    /// The Microsoft knowledge-base article that describes the fault.
    pub kb: &'static str,
    /// The detector, built from the settings groups it reads.
    pub new: fn(&Config) -> Box<dyn Detector>,
    /// What fixes the fault or works around it, as the KB article says: every record
    /// carries it (`remedy`), `faultd explain` prints it, and docs/runbooks.md's "What to
    /// do" says it word for word (a test holds them together).
    pub remedy: Option<&'static str>,
    /// The hosts its records must not name (`allow` in its settings).
    pub allow: fn(&Config) -> &Allow,
}

/// The fault catalogue (docs/faults.md), in [`FaultKind`]'s order.
pub const REGISTRY: &[Entry] = &[
    Entry {
        kind: FaultKind::WinsBackupSwap,
        id: "wins_backup_swap",
        kb: "Q153073",
        new: |c| Box::new(wins::WinsBackupSwap::new(&c.nbns, &c.wins_backup_swap)),
        remedy: Some(
            "Bring the primary WINS server back, then have the client register its names again (restart its networking). No general fix for TCP/IP-32 was released: point such clients at one WINS server they can reach, or move them to a newer TCP/IP stack.",
        ),
        allow: |c| &c.wins_backup_swap.allow,
    },
    Entry {
        kind: FaultKind::NcpWrongSocket,
        id: "ncp_wrong_socket",
        kb: "Q164987",
        new: |c| Box::new(ncp::NcpWrongSocket::new(&c.ncp_wrong_socket)),
        remedy: Some(
            "Install the current Windows NT 4.0 service pack on the client (its Nwrdr.sys has the fix), or have the file server use NCP socket 0x451.",
        ),
        allow: |c| &c.ncp_wrong_socket.allow,
    },
    Entry {
        kind: FaultKind::NetbiosIpConnectFailure,
        id: "netbios_ip_connect_failure",
        kb: "Q251166",
        new: |c| {
            Box::new(nbstat::NbstatConnectFailure::new(
                &c.nbns,
                &c.netbios_ip_connect_failure,
            ))
        },
        remedy: Some(
            "Install Windows NT 4.0 Service Pack 6 or later on the client, or let UDP 137 through from the client to the server.",
        ),
        allow: |c| &c.netbios_ip_connect_failure.allow,
    },
    Entry {
        kind: FaultKind::SmsPortConflict,
        id: "sms_port_conflict",
        kb: "Q229097",
        new: |c| Box::new(sms::SmsPortConflict::new(&c.sms_port_conflict)),
        remedy: Some(
            "Apply the SMS fix that moves Remote Control to its registered ports 2701-2704 (sms-rcinfo, sms-remctrl, sms-chat, sms-xfer), or use a NetBIOS session for Remote Control instead of IP sockets; otherwise move the other program off 1761-1764.",
        ),
        allow: |c| &c.sms_port_conflict.allow,
    },
    Entry {
        kind: FaultKind::RasPortLeak,
        id: "ras_port_leak",
        kb: "Q244717",
        new: |c| Box::new(ras::RasPortLeak::new(&c.ras_port_leak)),
        remedy: Some(
            "Restart the Remote Access Service to get the ports back now, and install the fix for Q244717 (or the next Windows NT 4.0 service pack, which has it).",
        ),
        allow: |c| &c.ras_port_leak.allow,
    },
];

/// The plumbing's test detector: outside the catalogue, so it has no metrics series until
/// it fires and no flag in `--help`.
pub const CANARY: Entry = Entry {
    kind: FaultKind::Canary,
    id: "canary",
    kb: "-",
    new: |_| Box::new(canary::Canary::default()),
    remedy: None,
    allow: |_| &NO_ONE,
};

/// The canary's: it has no settings.
static NO_ONE: Allow = Allow::none();

// A kind without its row, or rows out of order, fails the build here: FaultKind::entry
// finds a row by the kind's position.
const _: () = {
    assert!(
        REGISTRY.len() == FaultKind::Canary as usize,
        "REGISTRY has one row per FaultKind before Canary"
    );
    let mut i = 0;
    while i < REGISTRY.len() {
        assert!(
            REGISTRY[i].kind as usize == i,
            "REGISTRY's rows are in FaultKind's order"
        );
        i += 1;
    }
};

/// Every detector's settings: the "Detectors" flags of `faultd run` and `faultd replay`,
/// and the shape of a configuration file's `[detectors]` table. A group per fault, keyed
/// by its id, and `nbns`, which two NetBIOS detectors share. The fields are in the order
/// of `--help`.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args, Deserialize, Serialize)]
#[command(next_help_heading = "Detectors")]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    #[command(flatten)]
    pub nbns: nbns::Settings,
    #[command(flatten)]
    pub wins_backup_swap: wins::Settings,
    #[command(flatten)]
    pub netbios_ip_connect_failure: nbstat::Settings,
    #[command(flatten)]
    pub ncp_wrong_socket: ncp::Settings,
    #[command(flatten)]
    pub sms_port_conflict: sms::Settings,
    #[command(flatten)]
    pub ras_port_leak: ras::Settings,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::settings::{Bound, Nanos};

    #[test]
    fn each_row_builds_the_detector_named_by_its_id() {
        let config = Config::default();
        let mut ids = BTreeSet::new();
        for e in REGISTRY.iter().chain([&CANARY]) {
            assert_eq!((e.new)(&config).name(), e.id);
            assert_eq!(e.kind.id(), e.id);
            assert_eq!(e.kind.kb(), e.kb);
            assert!(ids.insert(e.id), "{} twice", e.id);
        }
    }

    /// The keys a struct's `Deserialize` takes: serde hands them to `deserialize_struct`.
    fn keys<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
        use serde::de::{Error as _, Visitor, value::Error};
        struct Probe<'a>(&'a mut &'static [&'static str]);
        impl<'de> serde::Deserializer<'de> for Probe<'_> {
            type Error = Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
                Err(Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Error> {
                *self.0 = fields;
                Err(Error::custom("probed"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
                enum identifier ignored_any
            }
        }
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(Probe(&mut fields));
        fields.to_vec()
    }

    /// A configuration file names a detector's settings by its fault id (a detector
    /// without settings has no group): a group named otherwise fails here.
    #[test]
    fn the_config_names_its_groups_by_fault_id() {
        let keys = keys::<Config>();
        assert!(keys.contains(&"nbns"), "{keys:?}");
        for key in &keys {
            assert!(
                *key == "nbns" || REGISTRY.iter().any(|e| e.id == *key),
                "[detectors.{key}] is not a fault id"
            );
        }
        let groups: serde_json::Map<String, Value> =
            keys.iter().map(|k| (k.to_string(), json!({}))).collect();
        let parsed: Config = serde_json::from_value(Value::Object(groups)).unwrap();
        assert_eq!(parsed, Config::default());
        assert!(serde_json::from_value::<Config>(json!({"wins": {}})).is_err());
    }

    #[test]
    fn a_file_sets_what_the_flags_set() {
        let config: Config = serde_json::from_value(json!({
            "nbns": {"timeout": "1s"},
            "wins_backup_swap": {"episode": "2m"},
            "ras_port_leak": {"clear_timeout": 3, "entries": 5},
            "ncp_wrong_socket": {"pending": 7},
        }))
        .unwrap();
        let s = |n: u64| Nanos(n * 1_000_000_000);
        assert_eq!(config.nbns.timeout, s(1));
        assert_eq!(config.wins_backup_swap.episode, s(120));
        assert_eq!(config.ras_port_leak.clear_timeout, s(3));
        assert_eq!(config.ras_port_leak.entries, Bound(5));
        assert_eq!(config.ncp_wrong_socket.pending, Bound(7));
        assert_eq!(config.ncp_wrong_socket.nodes, Bound(1024));
        assert_eq!(
            config.sms_port_conflict,
            Config::default().sms_port_conflict
        );
        let typo = serde_json::from_value::<Config>(json!({"nbns": {"timout": "1s"}}));
        assert!(typo.unwrap_err().to_string().contains("timout"));
    }

    #[test]
    fn defaults_are_the_flags_defaults() {
        let c = Config::default();
        let s = |n: u64| Nanos(n * 1_000_000_000);
        assert_eq!(c.nbns.timeout, s(5));
        assert_eq!(c.wins_backup_swap.episode, s(60));
        assert_eq!(c.netbios_ip_connect_failure.window, s(30));
        assert_eq!(c.ncp_wrong_socket.timeout, s(5));
        assert_eq!(c.sms_port_conflict.report_interval, s(3600));
        assert_eq!(c.ras_port_leak.clear_timeout, s(10));
        assert_eq!(c.wins_backup_swap.clients, Bound(1024));
        assert_eq!(c.netbios_ip_connect_failure.episodes, Bound(4096));
        assert_eq!(c.ncp_wrong_socket.nodes, Bound(1024));
        assert_eq!(c.ncp_wrong_socket.pending, Bound(1024));
        assert_eq!(c.sms_port_conflict.entries, Bound(4096));
        assert_eq!(c.ras_port_leak.entries, Bound(1024));
    }

    /// `faultd_detector_state_capacity{detector}` is the sum of the detector's maps'
    /// bounds: the configured ones.
    #[test]
    fn the_capacity_follows_the_configured_bounds() {
        let capacity = |c: &Config| -> Vec<(&str, usize)> {
            super::super::Pipeline::standard(c, false)
                .capacity()
                .collect()
        };
        assert_eq!(
            capacity(&Config::default()),
            [
                ("wins_backup_swap", 1024),
                ("ncp_wrong_socket", 4 * 1024),
                ("netbios_ip_connect_failure", 4 * 4096),
                ("sms_port_conflict", 3 * 4096),
                ("ras_port_leak", 5 * 1024),
            ]
        );
        let config: Config = serde_json::from_value(json!({
            "wins_backup_swap": {"clients": 2},
            "netbios_ip_connect_failure": {"episodes": 3},
            "ncp_wrong_socket": {"nodes": 4, "pending": 5},
            "sms_port_conflict": {"entries": 6},
            "ras_port_leak": {"entries": 7},
        }))
        .unwrap();
        assert_eq!(
            capacity(&config),
            [
                ("wins_backup_swap", 2),
                ("ncp_wrong_socket", 4 + 4 + 5 + 5),
                ("netbios_ip_connect_failure", 4 * 3),
                ("sms_port_conflict", 3 * 6),
                ("ras_port_leak", 5 * 7),
            ]
        );
    }
}
