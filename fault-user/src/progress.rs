//! A progress line for long offline runs, on standard error: frames, bytes, rate and time
//! left, redrawn in place a few times a second. It never touches standard output, so
//! what a replay prints is the same with it or without it.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use clap::ValueEnum;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum When {
    /// When standard error is a terminal and standard output is not.
    Auto,
    /// Also to a file or pipe: a line every few seconds and one at the end, for logs.
    Always,
    Never,
}

/// How often the line is redrawn on a terminal, and written elsewhere.
const EVERY_ON_TERMINAL: Duration = Duration::from_millis(250);
const EVERY_IN_LOG: Duration = Duration::from_secs(5);
/// Frames between looks at the clock: reading it per frame would cost more than a frame.
const FRAMES_PER_LOOK: u64 = 4096;

pub struct Progress {
    on: bool,
    /// Redrawn in place; otherwise line after line.
    terminal: bool,
    every: Duration,
    start: Instant,
    last: Instant,
    /// A line has been drawn and not cleared.
    drawn: bool,
}

impl Progress {
    pub fn new(when: When) -> Progress {
        let now = Instant::now();
        let terminal = std::io::stderr().is_terminal();
        Progress {
            on: match when {
                // Records printed to the same terminal would land on the progress line.
                When::Auto => terminal && !std::io::stdout().is_terminal(),
                When::Always => true,
                When::Never => false,
            },
            terminal,
            every: match terminal {
                true => EVERY_ON_TERMINAL,
                false => EVERY_IN_LOG,
            },
            start: now,
            last: now,
            drawn: false,
        }
    }

    /// Called for every frame: `frames` read so far, `bytes` of `total` (unknown for
    /// standard input).
    #[inline]
    pub fn tick(&mut self, frames: u64, bytes: u64, total: Option<u64>) {
        if !self.on || !frames.is_multiple_of(FRAMES_PER_LOOK) {
            return;
        }
        let now = Instant::now();
        if now - self.last >= self.every {
            self.last = now;
            self.show(frames, bytes, total);
        }
    }

    fn show(&mut self, frames: u64, bytes: u64, total: Option<u64>) {
        let line = line(frames, bytes, total, self.start.elapsed());
        self.write(&line);
    }

    fn write(&mut self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            // \r and "erase line": the line is redrawn where it stands.
            let _ = write!(err, "\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// The end: a terminal's line is cleared, so that what follows on stderr starts on a
    /// clean one; a log gets the totals.
    pub fn finish(&mut self, frames: u64, bytes: u64) {
        if !self.on {
            return;
        }
        if self.terminal {
            if self.drawn {
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
                self.drawn = false;
            }
        } else {
            let took = self.start.elapsed();
            let rate = frames as f64 / took.as_secs_f64().max(1e-3);
            let line = format!(
                "faultd: {} frames, {} in {:.1} s, {} frames/s",
                si(frames as f64, ""),
                si(bytes as f64, "B"),
                took.as_secs_f64(),
                si(rate, "")
            );
            self.write(&line);
        }
        self.on = false;
    }
}

impl Drop for Progress {
    /// A run that stops on an error leaves no half-drawn line before the error's message.
    fn drop(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

/// e.g. `faultd: 1.2 M frames, 151 MB of 612 MB (24%), 2.1 M frames/s, 0:21 left`.
pub fn line(frames: u64, bytes: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let mut s = format!(
        "faultd: {} frames, {}",
        si(frames as f64, ""),
        si(bytes as f64, "B")
    );
    if let Some(total) = total.filter(|&t| t > 0) {
        let done = (bytes as f64 / total as f64).min(1.0);
        s += &format!(" of {} ({:.0}%)", si(total as f64, "B"), done * 100.0);
        s += &format!(", {} frames/s", si(frames as f64 / secs, ""));
        if done > 0.0 {
            let left = (secs / done - secs).max(0.0) as u64;
            s += &format!(", {}:{:02} left", left / 60, left % 60);
        }
    } else {
        s += &format!(", {} frames/s", si(frames as f64 / secs, ""));
    }
    s
}

/// 1234567 as "1.2 M" (decimal prefixes, as disk sizes are given).
fn si(v: f64, unit: &str) -> String {
    for (scale, prefix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if v >= scale {
            return format!("{:.1} {prefix}{unit}", v / scale);
        }
    }
    match unit {
        "" => format!("{v:.0}"),
        _ => format!("{v:.0} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_reads_as_a_person_would() {
        let l = line(
            1_200_000,
            151_000_000,
            Some(612_000_000),
            Duration::from_millis(570),
        );
        assert_eq!(
            l,
            "faultd: 1.2 M frames, 151.0 MB of 612.0 MB (25%), 2.1 M frames/s, 0:01 left"
        );
        let l = line(900, 1_000, None, Duration::from_secs(1));
        assert_eq!(l, "faultd: 900 frames, 1.0 kB, 900 frames/s");
    }
}
