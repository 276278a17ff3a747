//! Where fault records go: the `--fault-log` file (JSON lines, written per record, so a
//! crash loses none), the recent records `/api/faults` serves, and the metrics.
//!
//! A line reaches the file whole or not at all: a write the file cannot take (a full
//! disk) is cut back off, and the record waits in a bounded queue, in order, until the
//! file takes it again (retried at the next record and at every tick).

use std::{
    collections::VecDeque,
    fs::{File, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use crate::{detect::Fault, metrics::Metrics};

/// Records `/api/faults` can return; older ones are only in the log file.
pub const RECENT: usize = 1000;
/// Records held back while the log file cannot take them (a record is about 1 KiB, so at
/// most a few MiB). Beyond this a new record is not written (counted in
/// `faultd_fault_log_dropped_total`), so what the file gets stays in order.
pub const QUEUED: usize = 4096;

pub struct FaultLog {
    metrics: Arc<Metrics>,
    inner: Mutex<Inner>,
}

struct Inner {
    file: Option<LogFile>,
    recent: VecDeque<Fault>,
}

/// The log file and the lines it has not taken yet.
struct LogFile {
    path: PathBuf,
    file: File,
    queue: VecDeque<String>,
    /// A length to cut the file back to before the next write: a partial line whose
    /// cutting failed, so the next line does not continue it.
    cut_to: Option<u64>,
    /// Failed writes and records dropped since the file last took everything: said once
    /// when the trouble starts and once when it ends, not per record.
    failures: u64,
    dropped: u64,
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
                    .map(|file| LogFile {
                        path: p.to_owned(),
                        file,
                        queue: VecDeque::new(),
                        cut_to: None,
                        failures: 0,
                        dropped: 0,
                    })
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

    /// Logs one record. It is counted and kept for the API whatever becomes of the write:
    /// a full disk must not hide a fault.
    pub fn record(&self, fault: &Fault) {
        self.metrics.fault(fault.kind());
        let mut inner = self.inner.lock().expect("fault log lock");
        if let Some(out) = &mut inner.file {
            if out.queue.len() < QUEUED {
                let mut line = fault.to_json();
                line.push('\n');
                out.queue.push_back(line);
            } else {
                if out.dropped == 0 {
                    log::error!(
                        "fault log {}: {QUEUED} records are waiting for it; further records \
                         are not written (faultd_fault_log_dropped_total), /api/faults still \
                         has them",
                        out.path.display()
                    );
                }
                out.dropped += 1;
                self.metrics.fault_log_dropped();
            }
            out.write_queued(&self.metrics);
        }
        if inner.recent.len() == RECENT {
            inner.recent.pop_front();
        }
        inner.recent.push_back(fault.clone());
    }

    /// Opens the log file's path again (SIGHUP): after logrotate has moved the file away,
    /// records go to a new file of the same name, and the held-back ones with them.
    pub fn reopen(&self) -> Result<(), FaultLogError> {
        let mut inner = self.inner.lock().expect("fault log lock");
        let Some(out) = &mut inner.file else {
            return Ok(());
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out.path)
            .map_err(|source| FaultLogError {
                path: out.path.clone(),
                source,
            })?;
        out.file = file;
        // A partial line to cut belongs to the old file, which this one does not continue.
        out.cut_to = None;
        out.write_queued(&self.metrics);
        Ok(())
    }

    /// Writes the records held back, if the file takes them now (the tick calls this).
    pub fn retry(&self) {
        let mut inner = self.inner.lock().expect("fault log lock");
        if let Some(out) = &mut inner.file
            && !out.queue.is_empty()
        {
            out.write_queued(&self.metrics);
        }
    }

    /// The last `limit` records, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<Fault> {
        let inner = self.inner.lock().expect("fault log lock");
        let skip = inner.recent.len().saturating_sub(limit);
        inner.recent.iter().skip(skip).cloned().collect()
    }

    /// At the end: a last try at the records held back, then what was written is made
    /// durable; says how many records the file never took.
    pub fn sync(&self) -> io::Result<()> {
        let mut inner = self.inner.lock().expect("fault log lock");
        let Some(out) = &mut inner.file else {
            return Ok(());
        };
        out.write_queued(&self.metrics);
        if !out.queue.is_empty() {
            log::error!(
                "fault log {}: {} records could not be written before stopping (the disk \
                 is still full?)",
                out.path.display(),
                out.queue.len()
            );
        }
        out.file.sync_data()
    }
}

impl LogFile {
    /// Writes queued lines in order until one fails, which stays first in the queue.
    fn write_queued(&mut self, metrics: &Metrics) {
        while let Some(line) = self.queue.front() {
            if let Err(e) = write_whole(&mut self.file, &mut self.cut_to, line) {
                if self.failures == 0 {
                    log::error!(
                        "fault log {}: {e}; holding records back (at most {QUEUED}) until it \
                         takes them again",
                        self.path.display()
                    );
                }
                self.failures += 1;
                metrics.fault_log_failed(self.queue.len());
                return;
            }
            self.queue.pop_front();
        }
        if self.failures > 0 {
            log::info!(
                "fault log {}: writing again, the records held back are in it ({} failed \
                 writes, {} records dropped)",
                self.path.display(),
                self.failures,
                self.dropped
            );
            self.failures = 0;
            self.dropped = 0;
        }
        metrics.set_fault_log_queued(0);
    }
}

/// One line, whole or not at all: a write that stops part-way (the disk filled up) is cut
/// back off, so the file never holds half a record. `cut_to` carries a cut that failed to
/// the next write.
fn write_whole(file: &mut File, cut_to: &mut Option<u64>, line: &str) -> io::Result<()> {
    if let Some(len) = *cut_to {
        file.set_len(len)?;
        *cut_to = None;
    }
    // faultd is the file's one writer, so the length now is where this line starts.
    let start = file.metadata()?.len();
    // One write call per line when the disk has room: appends never interleave.
    if let Err(e) = file.write_all(line.as_bytes()) {
        if file.set_len(start).is_err() {
            *cut_to = Some(start);
        }
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/dev/full` fails every write with ENOSPC, as a full disk does.
    #[test]
    fn a_record_the_file_cannot_take_waits_in_order_and_is_counted() {
        let metrics = Arc::new(Metrics::new());
        let log = FaultLog::open(Some(Path::new("/dev/full")), metrics.clone()).unwrap();
        let fault = Fault {
            ts_ns: 1,
            client: "10.0.0.2".into(),
            server: "10.0.0.1".into(),
            summary: "a test record".into(),
            detail: crate::detect::Detail::Canary(crate::detect::canary::Record {}),
            evidence: Vec::new(),
        };
        for _ in 0..3 {
            log.record(&fault);
        }
        log.retry();
        let (text, _) = metrics.encode(None);
        assert!(
            text.contains("faultd_fault_log_write_errors_total 4\n"),
            "{text}"
        );
        assert!(
            text.contains("faultd_fault_log_queued_records 3\n"),
            "{text}"
        );
        assert_eq!(log.recent(10).len(), 3, "the API keeps them");
    }
}
