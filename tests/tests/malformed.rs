//! Bad frames are counted and skipped, never a crash: every catalogue frame cut at every
//! offset (as the wire would cut it, and as a capture's snap length would), and random
//! bytes, through the XDP program and the user engine.

use fault_common::{Class, Stats};
use fault_user::engine::{self, Engine, EngineKind};

struct Pair {
    kernel: Box<dyn Engine>,
    user: Box<dyn Engine>,
    kernel_stats: Stats,
    user_stats: Stats,
    ts: u64,
}

/// What one frame did to the counters: its classes (a bit each) and whether it was
/// malformed, or truncated by the capture.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Verdict {
    classes: u64,
    malformed: bool,
    truncated: bool,
}

fn delta(after: &Stats, before: &Stats) -> Verdict {
    assert_eq!(
        after.frames,
        before.frames + 1,
        "every frame is counted once"
    );
    let classes = Class::ALL
        .iter()
        .filter(|c| after.classes[**c as usize] != before.classes[**c as usize])
        .fold(0, |m, c| m | c.bit());
    Verdict {
        classes,
        malformed: after.malformed != before.malformed,
        truncated: after.truncated != before.truncated,
    }
}

impl Pair {
    fn open(test: &str) -> Option<Pair> {
        let kernel = match engine::open(EngineKind::Kernel) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("SKIPPED {test}: the kernel engine is unavailable ({e}); run as root");
                return None;
            }
        };
        let user = engine::open(EngineKind::User).unwrap();
        Some(Pair {
            kernel,
            user,
            kernel_stats: Stats::default(),
            user_stats: Stats::default(),
            ts: 1,
        })
    }

    /// Runs one whole frame through both engines; panics (naming `what`) unless they agree.
    #[track_caller]
    fn run(&mut self, frame: &[u8], what: &dyn Fn() -> String) -> Verdict {
        self.run_captured(frame, frame.len(), what)
    }

    /// The same for the first bytes of a frame `wire_len` bytes long on the wire.
    #[track_caller]
    fn run_captured(&mut self, frame: &[u8], wire: usize, what: &dyn Fn() -> String) -> Verdict {
        self.ts += 1;
        self.kernel
            .captured(self.ts, frame, wire)
            .unwrap_or_else(|e| panic!("{}: kernel engine: {e}", what()));
        self.user.captured(self.ts, frame, wire).unwrap();
        let k = self.kernel.stats().unwrap();
        let u = self.user.stats().unwrap();
        let (kv, uv) = (delta(&k, &self.kernel_stats), delta(&u, &self.user_stats));
        assert_eq!(kv, uv, "{}: XDP and user engine disagree", what());
        self.kernel_stats = k;
        self.user_stats = u;
        kv
    }
}

/// A node-status message cut before its question type can only be told by its opcode:
/// it counts as a name query, as tshark counts it (no `nbns.type`, so `!(nbns.type==33)`).
/// A PPTP control message cut short counts in `pptp.control.cut`, as one cut at the end of
/// its TCP segment does.
fn fallback(classes: u64) -> u64 {
    let mut extra = 0;
    if classes & Class::PptpControl.bit() != 0 {
        extra |= Class::PptpControlCut.bit();
    }
    if classes & Class::NbnsNbstat.bit() != 0 {
        extra |= Class::NbnsQuery.bit();
    }
    if classes & Class::NbnsNbstatResponse.bit() != 0 {
        extra |= Class::NbnsQueryResponse.bit();
    }
    extra
}

fn names(bits: u64) -> Vec<&'static str> {
    Class::ALL
        .iter()
        .filter(|c| bits & c.bit() != 0)
        .map(|c| c.name())
        .collect()
}

#[test]
fn every_frame_cut_at_every_offset_is_malformed_or_keeps_its_classes() {
    let Some(mut pair) =
        Pair::open("every_frame_cut_at_every_offset_is_malformed_or_keeps_its_classes")
    else {
        return;
    };
    let mut cuts = 0;
    for s in fault_tests::catalogue() {
        let full = pair.run(&s.frame, &|| s.name.to_string());
        assert!(
            !full.malformed,
            "{}: the whole frame is well-formed",
            s.name
        );
        for len in 0..s.frame.len() {
            let cut = &s.frame[..len];
            let v = pair.run(cut, &|| format!("{} cut to {len} bytes", s.name));
            assert_eq!(
                v.classes & !(full.classes | fallback(full.classes)),
                0,
                "{} cut to {len} bytes gained classes {:?}",
                s.name,
                names(v.classes & !full.classes)
            );
            assert!(
                v.classes == full.classes || v.malformed,
                "{} cut to {len} bytes changed {:?} -> {:?} without being counted malformed",
                s.name,
                names(full.classes),
                names(v.classes)
            );
            assert!(!v.truncated, "{} cut to {len} bytes on the wire", s.name);
            if len < 14 {
                assert!(
                    v.malformed && v.classes == 0,
                    "{}: a {len}-byte runt",
                    s.name
                );
            }
            cuts += 1;
        }
    }
    assert!(cuts > 5_000, "only {cuts} truncated frames were tried");
}

/// The same cuts made by a capture (a snap length: the frame was whole on the wire) are
/// never malformed: a frame keeps its classes, or is counted truncated.
#[test]
fn every_frame_cut_by_a_capture_is_truncated_or_keeps_its_classes_never_malformed() {
    let Some(mut pair) = Pair::open("every_frame_cut_by_a_capture") else {
        return;
    };
    let mut truncated = 0;
    for s in fault_tests::catalogue() {
        let wire = s.frame.len();
        let full = pair.run(&s.frame, &|| s.name.to_string());
        for len in 0..wire {
            let cut = &s.frame[..len];
            let what = || format!("{} captured with {len} of its {wire} bytes", s.name);
            let v = pair.run_captured(cut, wire, &what);
            assert!(!v.malformed, "{}: counted malformed", what());
            assert_eq!(
                v.classes & !(full.classes | fallback(full.classes)),
                0,
                "{}: gained classes {:?}",
                what(),
                names(v.classes & !full.classes)
            );
            assert!(
                v.classes == full.classes || v.truncated,
                "{}: changed {:?} -> {:?} without being counted truncated",
                what(),
                names(full.classes),
                names(v.classes)
            );
            if len < 14 {
                assert!(v.truncated && v.classes == 0, "{}", what());
            }
            truncated += u64::from(v.truncated);
        }
    }
    assert!(
        truncated > 5_000,
        "only {truncated} frames counted truncated"
    );
}

/// xorshift64*: deterministic, so a failure names a reproducible case.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn random_bytes_and_mutated_frames_never_upset_either_engine() {
    let Some(mut pair) = Pair::open("random_bytes_and_mutated_frames_never_upset_either_engine")
    else {
        return;
    };
    let samples = fault_tests::catalogue();
    let mut seed = 0x5EED_F00D_u64;
    for i in 0..4000 {
        let frame: Vec<u8> = if i % 2 == 0 {
            let len = (rng(&mut seed) % 300) as usize;
            (0..len).map(|_| rng(&mut seed) as u8).collect()
        } else {
            // A real frame with a few bytes flipped: reaches much deeper than pure noise.
            let mut f = samples[(rng(&mut seed) % samples.len() as u64) as usize]
                .frame
                .clone();
            for _ in 0..1 + rng(&mut seed) % 4 {
                let at = (rng(&mut seed) % f.len() as u64) as usize;
                f[at] = rng(&mut seed) as u8;
            }
            f
        };
        pair.run(&frame, &|| {
            format!("random case {i} ({} bytes: {:02x?})", frame.len(), frame)
        });
    }
    assert_eq!(pair.kernel_stats.frames, 4000);
}
