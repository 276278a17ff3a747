//! `faultd bench`: what the XDP program costs per frame, by class, next to an empty XDP
//! program measured in the same run (BPF_PROG_TEST_RUN with a large repeat count).

use std::{collections::BTreeMap, path::Path, time::Duration};

use aya::{
    Ebpf,
    maps::{MapData, RingBuf},
    programs::{TestRun, TestRunOptions, Xdp},
};
use fault_common::{
    Class,
    maps::{MAP_EVENTS, PROGRAM_CLASSIFY, PROGRAM_EMPTY},
};
use serde_json::{Value, json};

use crate::{
    capture::Capture,
    ebpf::{self, LoadError},
    engine::{Engine, EngineError, user::UserEngine},
};

/// 10GbE line rate with minimum-size frames, on one core: 14.88 Mpps.
pub const LINE_RATE_NS: f64 = 67.2;
/// What unwatched traffic may cost next to the empty program.
pub const UNWATCHED_RATIO: f64 = 1.5;

/// Runs per test-run call: a batch's events fit the ring buffer (4 MiB / 152 B), which is
/// drained between batches, so writing events is measured rather than dropping them.
const BATCH: u32 = 20_000;

#[derive(Debug)]
pub struct Row {
    pub label: String,
    pub frames: usize,
    pub median_ns: f64,
    pub worst_ns: f64,
}

pub struct Report {
    pub empty_ns: f64,
    pub rows: Vec<Row>,
    pub repeat: u32,
}

/// Measures every frame of `path`; rows per class (the frames in that class), one for
/// unwatched frames (in no class), and the empty program.
pub fn run(path: &Path, repeat: u32) -> anyhow::Result<Report> {
    let mut ebpf = ebpf::load()?;
    ebpf::load_program(&mut ebpf, PROGRAM_EMPTY)?;
    let mut ring = RingBuf::try_from(
        ebpf.take_map(MAP_EVENTS)
            .ok_or(LoadError::Missing(MAP_EVENTS))?,
    )?;
    let frames: Vec<Vec<u8>> = Capture::open(path)?
        .map(|f| f.map(|f| f.data))
        .collect::<Result<_, _>>()?;
    let batches = repeat.div_ceil(BATCH);

    let mut empty = Vec::new();
    let mut by_label: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
    for frame in &frames {
        empty.push(measure(
            &mut ebpf,
            PROGRAM_EMPTY,
            frame,
            batches,
            &mut ring,
        )?);
        let ns = measure(&mut ebpf, PROGRAM_CLASSIFY, frame, batches, &mut ring)?;
        let classes = classes_of(frame)?;
        if classes == 0 {
            by_label
                .entry((usize::MAX - 1, "unwatched".into()))
                .or_default()
                .push(ns);
        }
        for c in Class::ALL.iter().filter(|c| classes & c.bit() != 0) {
            by_label
                .entry((*c as usize, c.name().into()))
                .or_default()
                .push(ns);
        }
    }
    let rows = by_label
        .into_iter()
        .map(|((_, label), mut v)| {
            v.sort_by(f64::total_cmp);
            Row {
                label,
                frames: v.len(),
                median_ns: v[v.len() / 2],
                worst_ns: v[v.len() - 1],
            }
        })
        .collect();
    empty.sort_by(f64::total_cmp);
    Ok(Report {
        empty_ns: empty[empty.len() / 2],
        rows,
        repeat: batches * BATCH,
    })
}

fn classes_of(frame: &[u8]) -> Result<u64, EngineError> {
    let mut e = UserEngine::default();
    e.frame(1, frame)?;
    let s = e.stats()?;
    Ok(Class::ALL
        .iter()
        .filter(|c| s.classes[**c as usize] != 0)
        .fold(0, |m, c| m | c.bit()))
}

/// Mean ns per run over `batches` test runs of BATCH repeats each.
fn measure(
    ebpf: &mut Ebpf,
    name: &str,
    frame: &[u8],
    batches: u32,
    ring: &mut RingBuf<MapData>,
) -> anyhow::Result<f64> {
    let prog: &mut Xdp = ebpf.program_mut(name).expect("loaded").try_into()?;
    let mut total = Duration::ZERO;
    for _ in 0..batches {
        let opts = TestRunOptions {
            data_in: Some(frame),
            repeat: BATCH,
            ..Default::default()
        };
        total += prog.test_run(opts)?.duration * BATCH;
        while ring.next().is_some() {}
    }
    Ok(total.as_nanos() as f64 / f64::from(batches * BATCH))
}

impl Report {
    pub fn text(&self) -> String {
        let mut s = format!(
            "ns per frame through BPF_PROG_TEST_RUN ({} runs per frame); empty XDP program: {:.1} ns\n\n",
            self.repeat, self.empty_ns
        );
        s += &format!(
            "{:<28} {:>6} {:>10} {:>10} {:>8} {:>10}\n",
            "class", "frames", "median ns", "worst ns", "x empty", "Mpps"
        );
        for r in &self.rows {
            s += &format!(
                "{:<28} {:>6} {:>10.1} {:>10.1} {:>8.2} {:>10.2}\n",
                r.label,
                r.frames,
                r.median_ns,
                r.worst_ns,
                r.worst_ns / self.empty_ns,
                1e3 / r.worst_ns
            );
        }
        let worst = self
            .rows
            .iter()
            .filter(|r| r.label != "unwatched")
            .map(|r| r.worst_ns)
            .fold(0.0, f64::max);
        s += &format!(
            "\nslowest class: {worst:.1} ns (target {LINE_RATE_NS} ns, 10GbE line rate on one core): {}\n",
            if worst <= LINE_RATE_NS {
                "met"
            } else {
                "NOT met"
            }
        );
        if let Some(u) = self.rows.iter().find(|r| r.label == "unwatched") {
            let ratio = u.worst_ns / self.empty_ns;
            s += &format!(
                "unwatched traffic: {ratio:.2}x the empty program (target {UNWATCHED_RATIO}x): {}\n",
                if ratio <= UNWATCHED_RATIO {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
        s
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({"class": r.label, "frames": r.frames, "median_ns": r.median_ns,
                       "worst_ns": r.worst_ns, "ratio_to_empty": r.worst_ns / self.empty_ns})
            })
            .collect();
        json!({"repeat": self.repeat, "empty_ns": self.empty_ns, "target_ns": LINE_RATE_NS,
               "unwatched_ratio_target": UNWATCHED_RATIO, "classes": rows})
    }
}
