//! What `sockstatlog upload` says while it works: on a terminal a spinner
//! with the batches, entries and bytes stored so far, and a line for each
//! failed attempt with its cause and when the next one starts; plain lines
//! when asked for (`--progress always`) without a terminal; nothing otherwise.

use crate::report::calendar::time_of_day;
use crate::report::text::human_bytes;
use indicatif::{ProgressBar, ProgressStyle};
use sockstatlog::UploadEvent;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The spinner's redraw period: smooth to the eye, negligible work.
const TICK: Duration = Duration::from_millis(120);

/// When to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    Auto,
    /// Always: a spinner on a terminal, plain lines otherwise (logs of scripts).
    Always,
    /// Never.
    Never,
}

enum Display {
    Quiet,
    Lines,
    Bar(ProgressBar),
}

/// Totals so far, from the uploader's events.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    batches: u64,
    entries: u64,
    raw_bytes: u64,
}

/// The progress display of one upload; fed from the upload thread.
pub struct Progress {
    display: Display,
    totals: Mutex<Totals>,
}

impl Progress {
    /// A display for `mode`, on stderr.
    pub fn new(mode: ProgressMode) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let display = match (mode, terminal) {
            (ProgressMode::Never, _) | (ProgressMode::Auto, false) => Display::Quiet,
            (ProgressMode::Always, false) => Display::Lines,
            (_, true) => {
                let bar = ProgressBar::new_spinner();
                if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(TICK);
                Display::Bar(bar)
            }
        };
        Progress { display, totals: Mutex::default() }
    }

    /// Says what is about to happen.
    pub fn start(&self, what: &str) {
        match &self.display {
            Display::Quiet => {}
            Display::Lines => eprintln!("upload: {what}"),
            Display::Bar(bar) => {
                bar.println(what);
                bar.set_message("waiting for the server's first answer");
            }
        }
    }

    /// Shows one uploader event.
    pub fn event(&self, event: &UploadEvent) {
        let line = match event {
            UploadEvent::Stored { entries, raw_bytes, .. } => {
                let t = {
                    let mut t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
                    t.batches += 1;
                    t.entries += entries;
                    t.raw_bytes += raw_bytes;
                    *t
                };
                let so_far =
                    format!("{} batches, {} entries, {}", t.batches, t.entries, human_bytes(t.raw_bytes as f64));
                if let Display::Bar(bar) = &self.display {
                    bar.set_message(format!("stored {so_far}"));
                    return;
                }
                format!("stored batch {}: {entries} entries; so far {so_far}", t.batches)
            }
            UploadEvent::Failed { attempts, error, retry_in } => failed_line(*attempts, error, *retry_in),
        };
        match &self.display {
            Display::Quiet => {}
            Display::Lines => eprintln!("upload: {line}"),
            Display::Bar(bar) => bar.println(line),
        }
    }

    /// Removes the spinner before the result is printed.
    pub fn finish(&self) {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
    }
}

/// `attempt 3 failed: <cause>; next attempt in 4.1 s, at 17:05:03 UTC`.
fn failed_line(attempts: u64, error: &str, retry_in: Duration) -> String {
    let at = SystemTime::now() + retry_in;
    let at_ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    format!(
        "attempt {attempts} failed: {error}; next attempt in {:.1} s, at {} UTC",
        retry_in.as_secs_f64(),
        time_of_day(at_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_attempt_names_its_cause_and_the_next_attempt() {
        let line = failed_line(3, "log upload of 10 bytes failed: refused", Duration::from_millis(4200));
        assert!(
            line.starts_with("attempt 3 failed: log upload of 10 bytes failed: refused; next attempt in 4.2 s, at ")
        );
        assert!(line.ends_with(" UTC"), "{line}");
    }
}
