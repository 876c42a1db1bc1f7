//! Per-label aggregation: the rows of the report's table.

use super::parse::Trace;
use super::radio::Attribution;
use serde::Serialize;
use std::collections::BTreeMap;

/// One label's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelRow {
    /// Label id.
    pub id: u8,
    /// Display name (header, upstream's, or `Label(N)`).
    pub name: String,
    /// Bytes sent.
    pub tx: u64,
    /// Bytes received.
    pub rx: u64,
    /// Fraction (0..=1) of all bytes of all labels.
    pub share: f64,
    /// Bytes (tx + rx) in windows marked cellular.
    pub cellular_bytes: u64,
    /// Windows (events) in which the label moved bytes.
    pub active_windows: u64,
    /// Highest rate of any one window, bytes/s: `(tx+rx)*1000 / max(d, poll_ms)`.
    /// The floor at the poll interval keeps a window cut short by an interface
    /// change (a few ms) from reporting an absurd rate.
    pub peak_bytes_per_sec: f64,
    /// Radio high seconds charged to this label (see [`super::radio`]).
    pub radio_seconds: f64,
}

impl LabelRow {
    /// tx + rx.
    pub fn total(&self) -> u64 {
        self.tx + self.rx
    }
}

/// Aggregates the trace per label, sorted by total bytes (descending, then id).
pub fn rows(trace: &Trace, radio: &Attribution) -> Vec<LabelRow> {
    let mut rows: BTreeMap<u8, LabelRow> = BTreeMap::new();
    for w in &trace.windows {
        let rate_ms = w.d.max(trace.poll_ms as i64) as f64;
        for &(id, tx, rx) in &w.stats {
            let row = rows.entry(id).or_insert_with(|| LabelRow {
                id,
                name: trace.name(id),
                tx: 0,
                rx: 0,
                share: 0.0,
                cellular_bytes: 0,
                active_windows: 0,
                peak_bytes_per_sec: 0.0,
                radio_seconds: 0.0,
            });
            row.tx += tx;
            row.rx += rx;
            row.active_windows += 1;
            if w.cellular {
                row.cellular_bytes += tx + rx;
            }
            row.peak_bytes_per_sec = row.peak_bytes_per_sec.max((tx + rx) as f64 * 1000.0 / rate_ms);
        }
    }
    let total: u64 = rows.values().map(LabelRow::total).sum();
    let mut rows: Vec<LabelRow> = rows.into_values().collect();
    for row in &mut rows {
        row.share = if total == 0 { 0.0 } else { row.total() as f64 / total as f64 };
        row.radio_seconds = radio.per_label.get(&row.id).copied().unwrap_or(0.0);
    }
    rows.sort_by(|a, b| b.total().cmp(&a.total()).then(a.id.cmp(&b.id)));
    rows
}
