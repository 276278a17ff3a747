//! `faultd bench`: what the XDP program costs per frame, by class, on a noisy shared machine.
//!
//! Every figure is relative to something measured in the same run: the programs (an empty
//! XDP program, this build's classifier and optionally another build's, `--against`) take
//! turns frame by frame, round after round, so a burst of noise hits them alike. A frame's
//! figure is its minimum over the rounds (noise only ever adds time), and its overhead is
//! the median of the paired per-round differences. The verifier's side is reported too:
//! instructions it walked and how long the load took.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData, PerCpuArray, RingBuf},
    programs::{TestRun, TestRunOptions, Xdp},
};
use fault_common::{
    Class, Event, Stats,
    event::SapResponse,
    maps::{
        MAP_CLOCK, MAP_EVENTS, MAP_STATS, PROGRAM_CLASSIFY, PROGRAM_EMPTY, QUEUE_CHUNK_BYTES,
        QUEUE_CHUNKS, queue_record_chunks,
    },
};
use serde_json::{Value, json};

use crate::{
    capture::Capture,
    ebpf,
    engine::{Engine, EngineError, user::UserEngine},
    queue::EventQueue,
};

/// 10GbE line rate with minimum-size frames, on one core: 14.88 Mpps.
pub const LINE_RATE_NS: f64 = 67.2;
/// What unwatched traffic may cost next to the empty program.
pub const UNWATCHED_RATIO: f64 = 1.5;
/// A frame that hands one event to userspace.
pub const ONE_EVENT_NS: f64 = 100.0;
/// A frame that hands several (a full SAP response: 7 servers).
pub const MANY_EVENTS_NS: f64 = 200.0;

/// Event bytes a batch may leave queued, less a margin: within a CPU's region of the event
/// queue (and an older build's ring buffer, below its wake-up level), so the steady state
/// is measured, not the drop path. Larger batches would also measure cache misses: a
/// batch that fills megabytes writes more memory than the cache holds. Each test-run call
/// swaps the program in and out of the kernel's XDP dispatcher, an RCU grace period each
/// time, which is what makes a run take minutes.
const BATCH_BYTES: u32 = (1 << 19) / 10 * 9;
/// Runs per test-run call at most (more would only make a round longer).
const BATCH_MAX: u32 = 20_000;

/// One program under test.
struct Subject {
    label: String,
    ebpf: Ebpf,
    name: &'static str,
    events: Events,
    info: ProgramStats,
}

/// Where a build's program puts its events: this build's queue, an older build's ring
/// buffer (`--against`), or nowhere (the empty program).
enum Events {
    Queue(EventQueue),
    Ring(RingBuf<MapData>),
    None,
}

impl Events {
    fn drain(&mut self) {
        match self {
            Events::Queue(q) => {
                q.drain_all(|_| {});
            }
            Events::Ring(r) => while r.next().is_some() {},
            Events::None => {}
        }
    }
}

/// What the verifier and the JIT made of a program.
#[derive(Clone, Debug, Default)]
pub struct ProgramStats {
    pub verified_insns: Option<u32>,
    pub xlated_bytes: Option<u32>,
    pub jited_bytes: u32,
    pub load: Duration,
}

#[derive(Debug)]
pub struct Row {
    pub label: String,
    /// The slowest frame of the class (its index in the capture, from 0).
    pub worst_frame: usize,
    pub frames: usize,
    /// Most events one frame of the class hands to userspace.
    pub events: u32,
    /// The slowest frame of the class: its minimum over the rounds.
    pub min_ns: f64,
    /// The slowest frame's median paired difference to the empty program.
    pub over_empty_ns: f64,
    /// Same, to the `--against` program (this build minus that one).
    pub vs_against_ns: Option<f64>,
    /// The `--against` program's figure for the same frame.
    pub against_min_ns: Option<f64>,
    pub target_ns: f64,
}

/// One frame's figures.
#[derive(Debug)]
pub struct FrameRow {
    pub len: usize,
    pub classes: Vec<&'static str>,
    pub events: u32,
    pub min_ns: f64,
    pub over_empty_ns: f64,
    pub against_min_ns: Option<f64>,
}

pub struct Report {
    pub empty_ns: f64,
    pub frames: Vec<FrameRow>,
    pub rounds: u32,
    pub repeat: u32,
    pub rows: Vec<Row>,
    pub programs: Vec<(String, ProgramStats)>,
}

/// Per-frame figures of one program.
#[derive(Clone, Copy)]
struct Figures {
    min: f64,
    /// Median over rounds of (this program - reference) in the same round.
    diff: f64,
}

/// Measures every frame of `path`, `repeat` runs per frame and program split over
/// `rounds` rounds; `against` is another build's XDP object to compare with.
/// What is wrong with what `faultd bench` was given.
#[derive(Debug, thiserror::Error)]
pub enum BenchInputError {
    #[error("{}: no frames to measure", .0.display())]
    NoFrames(PathBuf),
    #[error("--against {}: {source}", path.display())]
    Against {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub fn run(
    path: &Path,
    repeat: u32,
    rounds: u32,
    against: Option<&Path>,
) -> anyhow::Result<Report> {
    let mut capture = Capture::open(path)?;
    let frames: Vec<Vec<u8>> = capture
        .by_ref()
        .map(|f| f.map(|f| f.data))
        .collect::<Result<_, _>>()?;
    for note in capture.skipped_notes() {
        log::warn!("{note}");
    }
    if frames.is_empty() {
        return Err(BenchInputError::NoFrames(path.to_owned()).into());
    }
    let rounds = rounds.max(1);
    let per_round = repeat.div_ceil(rounds).max(1);

    let mut subjects = vec![
        subject("empty", ebpf::object(), PROGRAM_EMPTY)?,
        subject("faultd", ebpf::object(), PROGRAM_CLASSIFY)?,
    ];
    let against_bytes;
    if let Some(p) = against {
        against_bytes = std::fs::read(p).map_err(|source| BenchInputError::Against {
            path: p.to_owned(),
            source,
        })?;
        subjects.push(subject("against", &against_bytes, PROGRAM_CLASSIFY)?);
    }

    let events: Vec<u32> = frames
        .iter()
        .map(|f| Ok(events_of(f)?.1))
        .collect::<Result<_, EngineError>>()?;
    // ns[subject][frame][round]
    let mut ns = vec![vec![Vec::with_capacity(rounds as usize); frames.len()]; subjects.len()];
    for _ in 0..rounds {
        for (f, frame) in frames.iter().enumerate() {
            let batch = if events[f] == 0 {
                BATCH_MAX
            } else {
                (BATCH_BYTES / record_bytes(events[f])).clamp(1, BATCH_MAX)
            };
            for (s, subj) in subjects.iter_mut().enumerate() {
                ns[s][f].push(measure(subj, frame, per_round, batch)?);
            }
        }
    }
    for s in &subjects {
        dropped_none(s)?;
    }
    let figures = |s: usize, reference: usize| -> Vec<Figures> {
        (0..frames.len())
            .map(|f| {
                let mut d: Vec<f64> = ns[s][f]
                    .iter()
                    .zip(&ns[reference][f])
                    .map(|(a, b)| a - b)
                    .collect();
                Figures {
                    min: ns[s][f].iter().copied().fold(f64::INFINITY, f64::min),
                    diff: median(&mut d),
                }
            })
            .collect()
    };
    let empty = figures(0, 0);
    let ours = figures(1, 0);
    let theirs = (subjects.len() > 2).then(|| (figures(1, 2), figures(2, 0)));
    let empty_ns = empty.iter().map(|e| e.min).fold(f64::INFINITY, f64::min);

    let mut by_label: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    let mut frame_rows = Vec::with_capacity(frames.len());
    for (f, frame) in frames.iter().enumerate() {
        let classes = events_of(frame)?.0;
        frame_rows.push(FrameRow {
            len: frame.len(),
            classes: Class::ALL
                .iter()
                .filter(|c| classes & c.bit() != 0)
                .map(|c| c.name())
                .collect(),
            events: events[f],
            min_ns: ours[f].min,
            over_empty_ns: ours[f].diff,
            against_min_ns: theirs.as_ref().map(|(_, t)| t[f].min),
        });
        if classes == 0 {
            // A TCP handshake on a watched port is in no class, yet gives an event.
            let label = if events[f] == 0 {
                "unwatched"
            } else {
                "no class, event"
            };
            by_label
                .entry((usize::MAX - 1, label.into()))
                .or_default()
                .push(f);
        }
        for c in Class::ALL.iter().filter(|c| classes & c.bit() != 0) {
            by_label
                .entry((*c as usize, c.name().into()))
                .or_default()
                .push(f);
        }
    }
    let rows = by_label
        .into_iter()
        .map(|((_, label), idx)| {
            let worst = *idx
                .iter()
                .max_by(|a, b| ours[**a].min.total_cmp(&ours[**b].min))
                .expect("a row has frames");
            let ev = idx.iter().map(|f| events[*f]).max().unwrap_or(0);
            let target_ns = if label == "unwatched" {
                empty_ns * UNWATCHED_RATIO
            } else {
                match ev {
                    0 => LINE_RATE_NS,
                    1 => ONE_EVENT_NS,
                    _ => MANY_EVENTS_NS,
                }
            };
            Row {
                worst_frame: worst,
                frames: idx.len(),
                events: ev,
                min_ns: ours[worst].min,
                over_empty_ns: ours[worst].diff,
                vs_against_ns: theirs.as_ref().map(|(d, _)| d[worst].diff),
                against_min_ns: theirs.as_ref().map(|(_, t)| t[worst].min),
                target_ns,
                label,
            }
        })
        .collect();
    Ok(Report {
        empty_ns,
        frames: frame_rows,
        rounds,
        repeat: per_round * rounds,
        rows,
        programs: subjects
            .into_iter()
            .filter(|s| s.name != PROGRAM_EMPTY)
            .map(|s| (s.label, s.info))
            .collect(),
    })
}

/// Figures of a program that dropped events would partly measure the drop path (a failed
/// write is cheaper than a record): refused rather than printed.
fn dropped_none(s: &Subject) -> anyhow::Result<()> {
    let Some(map) = s.ebpf.map(MAP_STATS) else {
        return Ok(());
    };
    let stats = match PerCpuArray::<_, Stats>::try_from(map) {
        Ok(stats) => stats,
        Err(e) => {
            // Another build's counters, of another layout.
            log::warn!(
                "{}: cannot read its counters ({e}): drops not checked",
                s.label
            );
            return Ok(());
        }
    };
    let dropped: u64 = stats.get(&0, 0)?.iter().map(|c| c.events_dropped).sum();
    anyhow::ensure!(
        dropped == 0,
        "{}: the program dropped {dropped} events during the runs, so its figures would \
         partly measure the drop path",
        s.label
    );
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Loads `name` from `object` on maps of its own, timing the verifier.
fn subject(label: &str, object: &[u8], name: &'static str) -> anyhow::Result<Subject> {
    let mut ebpf = ebpf::load_object(&mut EbpfLoader::new(), object)?;
    if matches!(ebpf.map(MAP_EVENTS), Some(aya::maps::Map::RingBuf(_))) {
        drop(ebpf);
        ebpf = ebpf::load_ring_object(&mut EbpfLoader::new(), object)?;
    }
    let t = Instant::now();
    ebpf::load_program(&mut ebpf, name)?;
    let load = t.elapsed();
    let prog: &Xdp = ebpf.program(name).expect("loaded").try_into()?;
    let info = prog.info()?;
    let info = ProgramStats {
        verified_insns: info.verified_instruction_count(),
        xlated_bytes: info.size_translated(),
        jited_bytes: info.size_jitted(),
        load,
    };
    // As a running daemon keeps it: a tick's time (builds from before the tick call the
    // kernel's clock whatever it holds, as they do live).
    if let Some(clock) = ebpf.map_mut(MAP_CLOCK) {
        let now = crate::live::clock_ns(libc::CLOCK_MONOTONIC);
        Array::<_, u64>::try_from(clock)?.set(0, now as u64, 0)?;
    }
    let events = match ebpf.take_map(MAP_EVENTS) {
        Some(ring @ aya::maps::Map::RingBuf(_)) => Events::Ring(RingBuf::try_from(ring)?),
        Some(queue) => Events::Queue(EventQueue::new(queue)?),
        None => Events::None,
    };
    Ok(Subject {
        label: label.into(),
        ebpf,
        name,
        events,
        info,
    })
}

/// The frame's classes and how many events it hands to userspace.
fn events_of(frame: &[u8]) -> Result<(u64, u32), EngineError> {
    let mut e = UserEngine::default();
    e.frame(1, frame)?;
    let s = e.stats()?;
    let classes = Class::ALL
        .iter()
        .filter(|c| s.classes[**c as usize] != 0)
        .fold(0, |m, c| m | c.bit());
    Ok((classes, s.events as u32))
}

/// At least the queue bytes one frame of `events` events can take, in this build or an
/// older one (`--against`): each event a whole event's chunks, or a SAP response's
/// record, whichever is more (a PPTP segment's record is smaller than either allows).
fn record_bytes(events: u32) -> u32 {
    let chunks = |len| queue_record_chunks(len) as u32 * QUEUE_CHUNK_BYTES as u32;
    (events * chunks(size_of::<Event>())).max(chunks(size_of::<SapResponse>()))
}

const _: () = assert!(BATCH_BYTES as u64 <= QUEUE_CHUNKS * QUEUE_CHUNK_BYTES as u64);

/// Mean ns per run over `runs` runs, in test-run calls of at most `batch`, draining the
/// queue between calls.
fn measure(s: &mut Subject, frame: &[u8], runs: u32, batch: u32) -> anyhow::Result<f64> {
    let prog: &mut Xdp = s.ebpf.program_mut(s.name).expect("loaded").try_into()?;
    let mut total = Duration::ZERO;
    let mut left = runs;
    while left > 0 {
        let n = left.min(batch);
        let opts = TestRunOptions {
            data_in: Some(frame),
            repeat: n,
            ..Default::default()
        };
        total += prog.test_run(opts)?.duration * n;
        left -= n;
        s.events.drain();
    }
    Ok(total.as_nanos() as f64 / f64::from(runs))
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

impl Report {
    pub fn text(&self) -> String {
        let mut s = format!(
            "ns per frame through BPF_PROG_TEST_RUN: {} runs per frame and program in {} \
             interleaved rounds; min = the frame's fastest round, +empty = median paired \
             difference to the empty program (min {:.1} ns); worst = the row's slowest frame \
             (its index in the capture; per-frame figures in the JSON)\n\n",
            self.repeat, self.rounds, self.empty_ns
        );
        for (label, p) in &self.programs {
            s += &format!(
                "{label:<8} verified insns {:>9} (of 1,000,000)  load {:>6.0} ms  xlated {:>7} B  jited {:>7} B\n",
                p.verified_insns.map_or("?".into(), |n| n.to_string()),
                p.load.as_secs_f64() * 1e3,
                p.xlated_bytes.map_or("?".into(), |n| n.to_string()),
                p.jited_bytes,
            );
        }
        let against = self.rows.iter().any(|r| r.vs_against_ns.is_some());
        s += &format!(
            "\n{:<26} {:>6} {:>5} {:>3} {:>8} {:>8} {:>7} {:>7}",
            "class", "frames", "worst", "ev", "min ns", "+empty", "x empty", "target"
        );
        if against {
            s += &format!(" {:>9} {:>10}", "against", "-against");
        }
        s += "\n";
        for r in &self.rows {
            s += &format!(
                "{:<26} {:>6} {:>5} {:>3} {:>8.1} {:>8.1} {:>7.2} {:>7.1}{}",
                r.label,
                r.frames,
                format!("#{}", r.worst_frame),
                r.events,
                r.min_ns,
                r.over_empty_ns,
                r.min_ns / self.empty_ns,
                r.target_ns,
                if r.min_ns <= r.target_ns { "" } else { " !" },
            );
            if let (Some(a), Some(d)) = (r.against_min_ns, r.vs_against_ns) {
                s += &format!(" {a:>9.1} {d:>+10.1}");
            }
            s += "\n";
        }
        let missed: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.min_ns > r.target_ns)
            .collect();
        s += &format!(
            "\ntargets (unwatched <= {UNWATCHED_RATIO}x empty; no event <= {LINE_RATE_NS} ns, \
             10GbE line rate on one core; one event <= {ONE_EVENT_NS} ns; several <= \
             {MANY_EVENTS_NS} ns): {}{}\n",
            met(missed.is_empty()),
            if missed.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} of {} rows over, marked !)",
                    missed.len(),
                    self.rows.len()
                )
            }
        );
        s
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({"class": r.label, "frames": r.frames, "worst_frame": r.worst_frame,
                       "events": r.events,
                       "min_ns": r.min_ns, "over_empty_ns": r.over_empty_ns,
                       "ratio_to_empty": r.min_ns / self.empty_ns,
                       "against_min_ns": r.against_min_ns, "vs_against_ns": r.vs_against_ns,
                       "target_ns": r.target_ns, "met": r.min_ns <= r.target_ns})
            })
            .collect();
        let programs: Vec<Value> = self
            .programs
            .iter()
            .map(|(label, p)| {
                json!({"program": label, "verified_insns": p.verified_insns,
                       "load_ms": p.load.as_secs_f64() * 1e3, "xlated_bytes": p.xlated_bytes,
                       "jited_bytes": p.jited_bytes})
            })
            .collect();
        let frames: Vec<Value> = self
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                json!({"frame": i, "len": f.len, "classes": f.classes, "events": f.events,
                       "min_ns": f.min_ns, "over_empty_ns": f.over_empty_ns,
                       "against_min_ns": f.against_min_ns})
            })
            .collect();
        json!({"rounds": self.rounds, "repeat": self.repeat, "empty_ns": self.empty_ns,
               "programs": programs, "classes": rows, "frames": frames})
    }
}
