//! `sockstatlog report`'s engine : reads a device log
//! directory, an exported file or a collector file, and summarises it per
//! label, with the cellular radio time each label caused, as text, JSON
//! (serde) or charts (SVG and PNG).
//!
//! [`build`] reads and aggregates, [`render_text`] prints, [`write_charts`]
//! draws. Parsing, the radio model, the per-label table and the charts each
//! live in their own file.
//!
//! Choices a reader of the numbers should know:
//! - **Device directories are read, never opened as a log**: plain read-only
//!   reads in the log's own order ([`sockstatlog::log_files_oldest_first`]);
//!   an unterminated last line is a torn write and is skipped, and
//!   a corrupt line (a bad byte, a NUL hole a crash left) is skipped and
//!   counted, the first one named. In other inputs a bad line is an error.
//!   Entries repeated with the same `(proc_id, proc_seq)` count once.
//! - **Peak rate** is the busiest single window, `(tx+rx)*1000 / max(d, poll)`:
//!   a window cut to a few ms by an interface change would otherwise report
//!   an absurd rate.
//! - **Seconds**: a cellular window makes every Unix second it overlaps
//!   active, and its bytes are split between them in proportion to time.
//! - **Radio charging**: an active second is charged to its labels in
//!   proportion to their bytes in it; each idle-tail second (up to 4 after
//!   the last active second, cut by the next activity and by the log's end)
//!   is charged like the active second before it. Charges sum to the high
//!   seconds.
//! - **Upstream's percentage**: the log is replayed into upstream's monitor
//!   as if it started at the first event's second and "now" were the log's
//!   last second, so the figure covers the last hour of the log (or all of
//!   it when shorter), with the 120 s minimum. The whole-log figure applies
//!   the same formula to the whole span.

mod bars;
pub mod calendar;
pub mod charts;
pub mod fleet;
pub mod parse;
pub mod radio;
mod style;
pub mod table;
pub mod text;
pub mod unattributed;

pub use charts::{write_charts, ChartOptions};
pub use parse::{Trace, Window};
pub use table::LabelRow;
pub use text::render_text;

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why a report could not be built or drawn.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The input could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A device log directory the library could not list.
    #[error(transparent)]
    LogDir(#[from] sockstatlog::Error),
    /// A directory without either log file.
    #[error("{}: not a log directory (no sockstats.log1.txt or sockstats.log2.txt)", .0.display())]
    NotALogDir(PathBuf),
    /// A line that is not a valid entry.
    #[error("{}:{line}: {msg}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// Charts could not be drawn or written.
    #[error("charts: {0}")]
    Chart(String),
    /// The collector's database could not be read (or the arguments naming
    /// it are wrong).
    #[error("{0}")]
    Database(String),
}

/// Byte totals over all labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Bytes sent.
    pub tx: u64,
    /// Bytes received.
    pub rx: u64,
    /// Bytes in cellular windows.
    pub cellular_bytes: u64,
}

/// The radio summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RadioReport {
    /// Seconds with cellular I/O.
    pub active_seconds: u64,
    /// Seconds the radio was high (active plus idle tails); the labels'
    /// `radio_seconds` add up to this.
    pub high_seconds: u64,
    /// Upstream's figure as of the log's last second, over the hour before
    /// it (or since the log's first second when shorter), with upstream's
    /// 120 s minimum.
    pub high_percent_last_hour: i64,
    /// The same formula over the whole log: `high_seconds * 100 / span`.
    pub high_percent_whole_log: i64,
}

/// A summarised log.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was read.
    pub source: PathBuf,
    /// Entries read (duplicates excluded).
    pub entries: u64,
    /// Events (windows with bytes) among them.
    pub events: u64,
    /// Entries skipped as already seen (same `proc_id`, `proc_seq`).
    pub duplicates: u64,
    /// Torn last lines of device files, skipped.
    pub torn_lines: u64,
    /// Corrupt lines of device files (a bad byte, a NUL hole a crash left),
    /// skipped.
    pub corrupt_lines: u64,
    /// The first of them, `file:line: what is wrong`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_corrupt: Option<String>,
    /// Label names cut to the longest kept (hostile or broken headers).
    #[serde(skip_serializing_if = "is_zero")]
    pub clamped_names: u64,
    /// Poll interval of the logger (header), ms.
    pub poll_ms: u64,
    /// Start of the first window, Unix ms.
    pub start_ms: Option<i64>,
    /// End of the last window, Unix ms.
    pub end_ms: Option<i64>,
    /// Totals over all labels.
    pub totals: Totals,
    /// One row per label, by total bytes, largest first.
    pub labels: Vec<LabelRow>,
    /// The radio summary.
    pub radio: RadioReport,
    /// Bytes the OS counted and no label did, from the log's `os` entries
    /// (Android); absent without two of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unattributed: Option<unattributed::Unattributed>,
    /// The events themselves, for the charts.
    #[serde(skip)]
    pub trace: Trace,
}

impl Report {
    /// Length of the log in ms, if it has events.
    pub fn span_ms(&self) -> Option<i64> {
        Some(self.end_ms? - self.start_ms?)
    }
}

/// Reads `path` (a device log directory or a JSON Lines file) and summarises it.
pub fn build(path: &Path) -> Result<Report, ReportError> {
    let trace = parse::read_trace(path)?;
    Ok(summarise(path, trace))
}

/// Summarises an already-read trace (`source` is only for display).
pub fn summarise(source: &Path, trace: Trace) -> Report {
    let start_ms = trace.windows.iter().map(|w| w.t).min();
    let end_ms = trace.windows.iter().map(Window::end).max();
    let (start_sec, end_sec) = match (start_ms, end_ms) {
        // The last second a window touches: its end is exclusive.
        (Some(s), Some(e)) => (s.div_euclid(1000), (e - 1).max(s).div_euclid(1000)),
        _ => (0, 0),
    };
    let seconds = radio::cellular_seconds(&trace.windows);
    let attribution = radio::attribute(&seconds, end_sec);
    let mut monitor = radio::UpstreamRadioMonitor::new(start_sec);
    for &sec in seconds.keys() {
        monitor.active(sec);
    }
    let radio = RadioReport {
        active_seconds: attribution.active_seconds,
        high_seconds: attribution.high_seconds,
        high_percent_last_hour: monitor.high_percent(end_sec, radio::INIT_STALL_SECONDS),
        high_percent_whole_log: radio::whole_log_percent(attribution.high_seconds, start_sec, end_sec),
    };
    let labels = table::rows(&trace, &attribution);
    let totals = Totals {
        tx: labels.iter().map(|r| r.tx).sum(),
        rx: labels.iter().map(|r| r.rx).sum(),
        cellular_bytes: labels.iter().map(|r| r.cellular_bytes).sum(),
    };
    Report {
        source: source.to_path_buf(),
        entries: trace.entries,
        events: trace.windows.len() as u64,
        duplicates: trace.duplicates,
        torn_lines: trace.torn_lines,
        corrupt_lines: trace.corrupt_lines,
        first_corrupt: trace.first_corrupt.clone(),
        clamped_names: trace.clamped_names,
        poll_ms: trace.poll_ms,
        start_ms,
        end_ms,
        totals,
        labels,
        radio,
        unattributed: unattributed::summarise(&trace.os),
        trace,
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
