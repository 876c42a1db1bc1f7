//! What the operating system counts for this app's sockets, as the host last
//! reported it (Android: `TrafficStats.getUidTxBytes`/`getUidRxBytes` for the
//! app's UID), and the `{"os":{"tx":…,"rx":…}}` entry that carries it into the
//! log with each write, so that a report can set the OS's bytes against the
//! labels' and show what nobody labelled. iOS has no per-process counter.
//!
//! Pure state behind one short lock; the writer takes the entry.

use crate::sync::lock;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Cumulative bytes since boot (Android's per-UID counters), `[tx, rx]`.
type Totals = [u64; 2];

#[derive(Debug, Default)]
struct State {
    /// The host's latest report.
    latest: Option<Totals>,
    /// What the last entry carried.
    written: Option<Totals>,
}

/// The OS totals of one logger.
#[derive(Debug, Default)]
pub(crate) struct OsTotals {
    state: Mutex<State>,
}

impl OsTotals {
    /// The host's latest cumulative totals (any cadence; the latest wins).
    pub(crate) fn record(&self, tx: u64, rx: u64) {
        lock(&self.state).latest = Some([tx, rx]);
    }

    /// The entry to write now: the latest totals, if they changed since the
    /// last entry (one per write at most, none while nothing changes).
    pub(crate) fn take_entry(&self) -> Option<String> {
        let mut s = lock(&self.state);
        let latest = s.latest?;
        if s.written == Some(latest) {
            return None;
        }
        s.written = Some(latest);
        Some(os_object(latest[0], latest[1]))
    }
}

/// `{"os":{"tx":N,"rx":N}}`: the entry's object (the writer wraps it).
pub(crate) fn os_object(tx: u64, rx: u64) -> String {
    let mut out = String::with_capacity(48);
    let _ = write!(out, "{{\"os\":{{\"tx\":{tx},\"rx\":{rx}}}}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_totals_are_written_once_per_change() {
        let os = OsTotals::default();
        assert_eq!(os.take_entry(), None, "nothing reported yet");
        os.record(10, 20);
        os.record(100, 200); // the latest wins
        assert_eq!(os.take_entry().as_deref(), Some(r#"{"os":{"tx":100,"rx":200}}"#));
        assert_eq!(os.take_entry(), None, "unchanged: no entry");
        os.record(100, 200);
        assert_eq!(os.take_entry(), None);
        os.record(150, 200);
        assert_eq!(os.take_entry().as_deref(), Some(r#"{"os":{"tx":150,"rx":200}}"#));
    }
}
