//! Where fault records go: the `--fault-log` file (JSON lines, flushed per record, so a
//! crash loses none), the recent records `/api/faults` serves, and the metrics.

use std::{
    collections::VecDeque,
    fs::{File, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use serde_json::Value;

use crate::{detect::Fault, metrics::Metrics};

/// Records `/api/faults` can return; older ones are only in the log file.
pub const RECENT: usize = 1000;

pub struct FaultLog {
    metrics: Arc<Metrics>,
    inner: Mutex<Inner>,
}

struct Inner {
    file: Option<(PathBuf, File)>,
    recent: VecDeque<Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("fault log {}: {source}", path.display())]
pub struct FaultLogError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl FaultLog {
    pub fn open(path: Option<&Path>, metrics: Arc<Metrics>) -> Result<Self, FaultLogError> {
        let file = path
            .map(|p| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map(|f| (p.to_owned(), f))
                    .map_err(|source| FaultLogError {
                        path: p.to_owned(),
                        source,
                    })
            })
            .transpose()?;
        Ok(FaultLog {
            metrics,
            inner: Mutex::new(Inner {
                file,
                recent: VecDeque::new(),
            }),
        })
    }

    /// Logs one record. A write error is returned but the record is still counted and
    /// kept for the API: a full disk must not hide a fault.
    pub fn record(&self, fault: &Fault) -> Result<(), FaultLogError> {
        self.metrics.fault(fault.kind);
        let json = fault.to_json();
        let mut inner = self.inner.lock().expect("fault log lock");
        let written = match &mut inner.file {
            Some((path, file)) => {
                let mut line = json.to_string();
                line.push('\n');
                // One write per record: appends from one process never interleave.
                file.write_all(line.as_bytes())
                    .and_then(|()| file.flush())
                    .map_err(|source| FaultLogError {
                        path: path.clone(),
                        source,
                    })
            }
            None => Ok(()),
        };
        if inner.recent.len() == RECENT {
            inner.recent.pop_front();
        }
        inner.recent.push_back(json);
        written
    }

    /// The last `limit` records, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<Value> {
        let inner = self.inner.lock().expect("fault log lock");
        let skip = inner.recent.len().saturating_sub(limit);
        inner.recent.iter().skip(skip).cloned().collect()
    }

    pub fn sync(&self) -> io::Result<()> {
        let inner = self.inner.lock().expect("fault log lock");
        match &inner.file {
            Some((_, f)) => f.sync_data(),
            None => Ok(()),
        }
    }
}
