//! `faultd run --config FILE`: every flag of `faultd run` as a key of a TOML file, the
//! detectors' in a section each (`[detectors.<fault id>]`, and `[detectors.nbns]` for the
//! timeout two of them share). Flags given on the command line win over the file. The
//! keys are the flags' names with `_` for `-`; an unknown key or a bad value is refused,
//! naming the key and its line.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{detect, live::attach::ModeArg, settings::Nanos};

/// The file, as written: a key left out keeps its flag's default.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xdp_mode: Option<ModeArg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_attached: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_log: Option<PathBuf>,
    /// `text` or `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_config_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_max_connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_header_timeout: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_idle_timeout: Option<Nanos>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request_timeout: Option<Nanos>,
    #[serde(default)]
    pub detectors: detect::Config,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl File {
    /// Reads and checks `path`: the message of a bad file names the key and the line.
    pub fn load(path: &Path) -> Result<File, ConfigError> {
        let fail = |message: String| ConfigError {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let file: File = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
        // What serde cannot say: the limits the flags have.
        if let Some(n) = file.http_max_connections
            && !(1..=65_536).contains(&n)
        {
            return Err(fail(format!(
                "http_max_connections = {n}: must be from 1 to 65536"
            )));
        }
        if file.iface.as_ref().is_some_and(Vec::is_empty) {
            return Err(fail("iface = []: name at least one interface".into()));
        }
        Ok(file)
    }

    /// The file as `check-config` prints it: every key with its effective value.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("every value has a TOML form")
    }
}
