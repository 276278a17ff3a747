//! Many captures as one: files, directories of them and standard input, merged in packet
//! time order. Rotated captures (tcpdump -G/-C, dumpcap's ring buffer) follow one another;
//! captures of two interfaces of one incident interleave. A file is opened only once its
//! first frame is due and closed at its end, so a day of rotated files holds one or two open.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, binary_heap::PeekMut};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{Capture, CaptureError, ErrorKind, Frame, STDIN};

/// Files opened at the start and kept open: a few cost little, and spare reading their first
/// records twice; beyond them a file is reopened when its first frame is due.
const KEEP_OPEN: usize = 8;

/// The frames of many captures in time order ([`Timeline::next_into`]), each with the
/// index of its file ([`Timeline::path`]). A file that fails part-way stops there and the others go on: the
/// failure is in [`Timeline::finish`].
pub struct Timeline {
    files: Vec<PathBuf>,
    /// Files not yet open, latest first frame first: the next one due is last.
    pending: Vec<Pending>,
    /// The open files, by index, each with its next frame.
    open: Vec<Option<Open>>,
    /// (time of the next frame, file index) of every open file.
    due: BinaryHeap<Reverse<(u64, usize)>>,
    notes: Vec<String>,
    failures: Vec<CaptureError>,
    read: Rc<Cell<u64>>,
    size: Option<u64>,
}

struct Pending {
    first_ts: u64,
    index: usize,
    kept: Option<Open>,
}

struct Open {
    capture: Capture,
    next: Frame,
}

/// A file to read, and whether it was found in a directory (rather than named).
type Named = (PathBuf, bool);

/// The capture files `inputs` names, directories expanded; notes on what was left out.
fn expand(inputs: &[PathBuf]) -> Result<(Vec<Named>, Vec<String>), CaptureError> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let fail = |path: &Path, kind| CaptureError {
        path: path.to_path_buf(),
        offset: 0,
        kind,
        compression: None,
    };
    let mut stdin = false;
    for input in inputs {
        if input.as_os_str() == STDIN {
            if std::mem::replace(&mut stdin, true) {
                return Err(fail(input, ErrorKind::Inputs("named more than once")));
            }
            files.push((input.clone(), false));
            continue;
        }
        if !input.is_dir() {
            files.push((input.clone(), false));
            continue;
        }
        let io = |e| fail(input, ErrorKind::Io(e));
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(input).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            // Hidden files are an editor's or a tool's own, not captures.
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // Symbolic links followed: a dangling one, a FIFO (whose reader would wait for
            // a writer) or a device is no capture file.
            let skipped = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => {
                    entries.push(path);
                    continue;
                }
                Ok(m) if m.is_dir() => "a directory (directories are read one level deep)",
                Ok(_) => "not a regular file",
                Err(_) => "a link to nothing",
            };
            notes.push(format!("{}: skipped, {skipped}", path.display()));
        }
        // Rotated files are named in order (capture_00001_..., x.pcap0, x.pcap1 ...); the
        // merge puts frames in time order anyway, this only makes messages come in order.
        entries.sort();
        if entries.is_empty() {
            return Err(fail(input, ErrorKind::Inputs("a directory with no files")));
        }
        files.extend(entries.into_iter().map(|p| (p, true)));
    }
    Ok((files, notes))
}

/// What the first look at a capture found.
enum Peek {
    Frame(Open),
    /// No frame: only the notes on what was skipped in it.
    Empty(Vec<String>),
    /// Its header read, its first record bad: a failure part-way, like any later one.
    Failed(CaptureError),
}

/// `path` opened, with its first frame; an error when it cannot be opened or its header
/// is not a capture's.
fn first(path: &Path, read: &Rc<Cell<u64>>) -> Result<Peek, CaptureError> {
    let mut capture = match Capture::open_counted(path, read.clone()) {
        // A decompressor may hold back everything up to a window's length, the capture's
        // header with it: a stream broken anywhere in that stretch fails here, part-way.
        Err(e) if e.compression.is_some() && matches!(e.kind, ErrorKind::Io(_)) => {
            return Ok(Peek::Failed(e));
        }
        opened => opened?,
    };
    let mut next = Frame::default();
    Ok(match capture.read_into(&mut next) {
        Ok(true) => Peek::Frame(Open { capture, next }),
        Ok(false) => Peek::Empty(capture.skipped_notes()),
        Err(e) => Peek::Failed(e),
    })
}

/// A file in a directory that is none of faultd's: another kind of file, or one a capture
/// tool has only begun to write.
fn not_a_capture(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::UnknownFormat { .. } | ErrorKind::Truncated { .. }
    )
}

impl Timeline {
    /// Opens every input: capture files, `-` for standard input (once), and directories,
    /// whose files are read one level deep, hidden ones left out. A file named that is not
    /// a capture is an error; one in a directory that is not is skipped, and a note says so.
    pub fn open(inputs: &[PathBuf]) -> Result<Timeline, CaptureError> {
        let (named, notes) = expand(inputs)?;
        let read = Rc::new(Cell::new(0));
        let mut t = Timeline {
            files: Vec::new(),
            pending: Vec::new(),
            open: Vec::new(),
            due: BinaryHeap::new(),
            notes,
            failures: Vec::new(),
            read,
            size: Some(0),
        };
        let few = named.len() <= KEEP_OPEN;
        let mut reread = false;
        for (path, in_dir) in named {
            let index = t.files.len();
            let opened = match first(&path, &t.read) {
                Err(e) if in_dir && not_a_capture(&e.kind) => {
                    t.notes.push(format!("{e}: skipped, not a capture"));
                    continue;
                }
                // Opening is all or nothing: a name mistyped is said before any result.
                Err(e) => return Err(e),
                Ok(Peek::Failed(e)) => {
                    t.failures.push(e);
                    None
                }
                Ok(Peek::Empty(notes)) => {
                    t.notes.extend(notes);
                    None
                }
                Ok(Peek::Frame(o)) => Some(o),
            };
            let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file());
            t.size = t.size.zip(meta.as_ref()).map(|(n, m)| n + m.len());
            t.files.push(path);
            t.open.push(None);
            let Some(o) = opened else { continue };
            // A pipe (standard input, a FIFO, <(...)) cannot be read again. A decompressor
            // holds its window (up to 128 MiB for zstd --long) while open, so a compressed
            // file is read again when due rather than held.
            let keep = meta.is_none() || (few && o.capture.compression().is_none());
            reread |= !keep;
            t.pending.push(Pending {
                first_ts: o.next.ts_ns,
                index,
                kept: keep.then_some(o),
            });
        }
        if reread {
            // What will be read again is counted when it is.
            t.read.set(0);
        }
        t.pending.sort_by_key(|p| Reverse((p.first_ts, p.index)));
        Ok(t)
    }

    pub fn path(&self, index: usize) -> &Path {
        &self.files[index]
    }

    /// Bytes read so far from the files themselves (compressed, where they are).
    pub fn bytes_read(&self) -> u64 {
        self.read.get()
    }

    /// The size of all the files; unknown when standard input is one of them.
    pub fn bytes_total(&self) -> Option<u64> {
        self.size
    }

    /// Notes for the user (what was skipped, and why), and the files that failed part-way;
    /// call at the end.
    pub fn finish(mut self) -> (Vec<String>, Vec<CaptureError>) {
        for o in self.open.iter().flatten() {
            self.notes.extend(o.capture.skipped_notes());
        }
        (self.notes, self.failures)
    }

    fn admit(&mut self, p: Pending) {
        let opened = match p.kept {
            Some(o) => Some(o),
            None => match first(&self.files[p.index], &self.read) {
                Ok(Peek::Frame(o)) => Some(o),
                Ok(Peek::Empty(notes)) => {
                    self.notes.extend(notes);
                    None
                }
                Ok(Peek::Failed(e)) | Err(e) => {
                    self.failures.push(e);
                    None
                }
            },
        };
        // A file rewritten since its first look (a ring buffer reusing its names) goes by
        // its frame's time now: later is merged in order, earlier cannot be.
        if let Some(o) = opened {
            self.due.push(Reverse((o.next.ts_ns, p.index)));
            self.open[p.index] = Some(o);
        }
    }
}

impl Timeline {
    /// The next frame in time order, into `out` (its buffer is reused: a replay allocates
    /// nothing per frame); the index of its file, or `None` at the end of them all.
    pub fn next_into(&mut self, out: &mut Frame) -> Option<usize> {
        // A file joins when its first frame is due: no later than the earliest frame held
        // (a tie goes to the file named first, as between open files).
        while let Some(p) = self.pending.last() {
            if self
                .due
                .peek()
                .is_some_and(|Reverse(d)| (p.first_ts, p.index) > *d)
            {
                break;
            }
            let p = self.pending.pop().expect("just seen");
            self.admit(p);
        }
        let mut top = self.due.peek_mut()?;
        let Reverse((_, index)) = *top;
        let o = self.open[index].as_mut().expect("a file due is open");
        std::mem::swap(out, &mut o.next);
        match o.capture.read_into(&mut o.next) {
            // Mostly the same file is due again: the heap is only sifted, not popped and
            // pushed.
            Ok(true) => *top = Reverse((o.next.ts_ns, index)),
            end => {
                PeekMut::pop(top);
                if let Err(e) = end {
                    self.failures.push(e);
                }
                let o = self.open[index].take().expect("open");
                self.notes.extend(o.capture.skipped_notes());
            }
        }
        Some(index)
    }
}
