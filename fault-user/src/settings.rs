//! What the command line's settings and a configuration file's have in common: durations
//! as people write them, state bounds, and defaults declared once, in the flag's
//! `default_value`.

use std::{fmt, str::FromStr, time::Duration};

use serde::{
    Serialize, Serializer,
    de::{self, Deserialize, Deserializer, Visitor},
};

/// A duration in nanoseconds, the unit of packet time, written `5s`, `1500ms`, `2m`, `1h`,
/// `0.5s` or as a bare number of seconds; from a millisecond to a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub u64);

impl Nanos {
    pub fn ns(self) -> u64 {
        self.0
    }
}

impl From<Nanos> for Duration {
    fn from(n: Nanos) -> Duration {
        Duration::from_nanos(n.0)
    }
}

/// The error follows clap's "invalid value 'X' for '--flag'" (or a file's key): it says what
/// would do.
impl FromStr for Nanos {
    type Err = String;

    fn from_str(text: &str) -> Result<Nanos, String> {
        const ALLOWED: &str = "a duration such as 5s, 1500ms or 2m (units: ms, s, m, h)";
        let t = text.trim();
        let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => t.split_at(i),
            None => (t, "s"),
        };
        let scale = match unit {
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("{text:?}: unknown unit; expected {ALLOWED}")),
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not {ALLOWED}"))?;
        let ns = value * scale;
        if !(1e6..=86_400e9).contains(&ns) {
            return Err(format!("{text:?}: must be from 1ms to 24h"));
        }
        Ok(Nanos(ns.round() as u64))
    }
}

/// A string as on the command line (`"60s"`), or a bare number of seconds as there: a
/// configuration file takes what the flag takes, with the same limits.
impl<'de> Deserialize<'de> for Nanos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Nanos, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Nanos;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"5s\", \"1500ms\" or \"2m\", or seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Nanos, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nanos, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nanos, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Nanos, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(Text)
    }
}

/// A detector's state bound: the most entries one of its maps holds, written as a bare
/// number, from 1 to [`Bound::MAX`]. At the bound the least recently active entry gives way
/// and is counted (`faultd_detector_evictions_total`); memory grows with the bound (README,
/// "Bounds", says how much at the defaults), but only as entries come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bound(pub usize);

impl Bound {
    /// 2^20: a thousand times the defaults' order, and far beyond what a tick can settle.
    pub const MAX: usize = 1 << 20;

    pub fn get(self) -> usize {
        self.0
    }
}

/// As clap's "invalid value 'X' for '--flag'" (or a file's key and line) goes on: what would do.
impl FromStr for Bound {
    type Err = String;

    fn from_str(text: &str) -> Result<Bound, String> {
        let range = || {
            format!(
                "{text:?}: must be a number of entries from 1 to {}",
                Bound::MAX
            )
        };
        let n: u64 = text.trim().parse().map_err(|_| range())?;
        match usize::try_from(n) {
            Ok(n) if (1..=Bound::MAX).contains(&n) => Ok(Bound(n)),
            _ => Err(range()),
        }
    }
}

/// A number as in the file (`clients = 1024`), or a string as on the command line: a
/// configuration file takes what the flag takes, with the same limits.
impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bound, D::Error> {
        struct Number;
        impl Visitor<'_> for Number {
            type Value = Bound;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a number of entries from 1 to {}", Bound::MAX)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bound, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bound, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bound, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(Number)
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A bare number: what `check-config` prints reads back as the same value.
impl Serialize for Bound {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0 as u64)
    }
}

/// A settings group as its flags' defaults make it: `Default` for every group is this, so
/// a default is written once, where `--help` shows it.
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("defaults"));
    let matches = cmd
        .try_get_matches_from(["defaults"])
        .expect("every setting has a default");
    T::from_arg_matches(&matches).expect("every default parses")
}

/// The largest unit that writes it whole: `1h`, `90s`, `1500ms`: what `check-config`
/// prints reads back as the same value.
impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MS: u64 = 1_000_000;
        for (unit, scale) in [("h", 3_600_000 * MS), ("m", 60_000 * MS), ("s", 1000 * MS)] {
            if self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        match self.0 % MS {
            0 => write!(f, "{}ms", self.0 / MS),
            // Below a millisecond only a bare number of seconds says it.
            _ => write!(f, "{}", self.0 as f64 / 1e9),
        }
    }
}

impl Serialize for Nanos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Hosts a detector must not report, from a configuration file's `allow = [...]`: an
/// address or a network (`192.0.2.7`, `10.1.0.0/16`, `2001:db8::/32`). A record whose
/// client or server is one of them is dropped (a known scanner on the SMS ports, say).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allow(Vec<(std::net::IpAddr, u8)>);

impl Allow {
    pub const fn none() -> Allow {
        Allow(Vec::new())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `host` (an address, or an address and port, as records write them) is in
    /// the list; an IPX address never is.
    pub fn covers(&self, host: &str) -> bool {
        let ip = host
            .parse::<std::net::IpAddr>()
            .or_else(|_| host.parse::<std::net::SocketAddr>().map(|s| s.ip()));
        let Ok(ip) = ip else { return false };
        self.0.iter().any(|&(net, len)| same_prefix(net, ip, len))
    }
}

fn same_prefix(net: std::net::IpAddr, ip: std::net::IpAddr, len: u8) -> bool {
    use std::net::IpAddr::{V4, V6};
    let (a, b, bits) = match (net, ip) {
        (V4(n), V4(i)) => (
            u128::from(u32::from(n)) << 96,
            u128::from(u32::from(i)) << 96,
            32,
        ),
        (V6(n), V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    let len = u32::from(len).min(bits);
    len == 0 || (a ^ b) >> (128 - len) == 0
}

impl FromStr for Allow {
    type Err = String;

    /// One entry: an address or a network.
    fn from_str(text: &str) -> Result<Allow, String> {
        let bad = || format!("{text:?} is not an address or a network such as 10.1.0.0/16");
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let ip: std::net::IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return Err(bad());
        }
        Ok(Allow(vec![(ip, len)]))
    }
}

impl<'de> Deserialize<'de> for Allow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Allow, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        let mut all = Vec::new();
        for e in &entries {
            all.extend(e.parse::<Allow>().map_err(de::Error::custom)?.0);
        }
        Ok(Allow(all))
    }
}

impl Serialize for Allow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(ip, len)| format!("{ip}/{len}")))
    }
}

#[cfg(test)]
mod tests {
    use super::Nanos;

    #[test]
    fn durations_as_written() {
        let ok = [
            ("5s", 5_000_000_000),
            ("1500ms", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1h", 3_600_000_000_000),
            ("0.5s", 500_000_000),
            (" 7 ", 7_000_000_000),
            ("1ms", 1_000_000),
            ("24h", 86_400_000_000_000),
        ];
        for (text, ns) in ok {
            assert_eq!(text.parse::<Nanos>(), Ok(Nanos(ns)), "{text}");
        }
        for bad in ["soon", "5d", "0s", "25h", "0.5ms", "", "-1s"] {
            assert!(bad.parse::<Nanos>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bounds_from_1_to_the_max() {
        use super::Bound;
        assert_eq!("1".parse::<Bound>(), Ok(Bound(1)));
        assert_eq!(" 4096 ".parse::<Bound>(), Ok(Bound(4096)));
        assert_eq!("1048576".parse::<Bound>(), Ok(Bound(Bound::MAX)));
        for bad in ["0", "1048577", "-1", "1k", "", "99999999999999999999999"] {
            let err = bad.parse::<Bound>().unwrap_err();
            assert!(err.contains("from 1 to 1048576"), "{bad}: {err}");
        }
        let parse = |json: &str| serde_json::from_str::<Bound>(json).map_err(|e| e.to_string());
        assert_eq!(parse("16"), Ok(Bound(16)));
        assert_eq!(parse(r#""16""#), Ok(Bound(16)));
        assert!(parse("0").unwrap_err().contains("from 1 to 1048576"));
        assert!(parse("-3").unwrap_err().contains("from 1 to 1048576"));
        assert!(parse("2.5").is_err());
        assert_eq!(serde_json::to_string(&Bound(16)).unwrap(), "16");
    }

    #[test]
    fn a_file_takes_what_the_flag_takes() {
        let parse = |json: &str| serde_json::from_str::<Nanos>(json).map_err(|e| e.to_string());
        assert_eq!(parse(r#""60s""#), Ok(Nanos(60_000_000_000)));
        assert_eq!(parse("60"), Ok(Nanos(60_000_000_000)));
        assert_eq!(parse("0.25"), Ok(Nanos(250_000_000)));
        let err = parse(r#""25h""#).unwrap_err();
        assert!(err.contains("from 1ms to 24h"), "{err}");
        assert!(parse("true").is_err());
    }
}
