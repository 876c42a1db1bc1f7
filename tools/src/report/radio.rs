//! The cellular radio model: which seconds kept the radio in its high-power
//! state, who caused each of them, and upstream's "radio high percent".
//!
//! The model is upstream's radio monitor (net/sockstats): a second with
//! cellular I/O is *active*; the radio stays high through it and the idle
//! seconds less than [`RADIO_HIGH_IDLE_SECONDS`] after the last active one.
//!
//! Attribution (what upstream does not do): an active second is charged to
//! the labels with bytes in it, in proportion to those bytes; each idle-tail
//! second is charged like the active second it follows. So the charges of all
//! labels add up to the number of high seconds.

use super::parse::Window;
use std::collections::BTreeMap;

/// Upstream's ring of per-second samples: the percentage looks back one hour.
pub const RADIO_SAMPLE_SECONDS: i64 = 3600;
/// An idle second is high while it is less than this many seconds after the
/// last active second (Android's documented worst-case high-power idle time,
/// upstream's `radioHighIdle`): an isolated active second costs 5 high seconds.
pub const RADIO_HIGH_IDLE_SECONDS: i64 = 5;
/// Upstream reports 0 until it has watched this long, so that every client
/// does not report 100% right after start (`initStallPeriod`).
pub const INIT_STALL_SECONDS: i64 = 120;
/// Milliseconds per second, for splitting windows into Unix seconds.
const MS_PER_SECOND: i64 = 1000;

/// Upstream's radio monitor, reproduced sample for sample (including its
/// ring-buffer quirk: the slot of `now` still holds the second exactly one
/// hour earlier, and counts as active if that second was).
#[derive(Debug, Clone)]
pub struct UpstreamRadioMonitor {
    /// `usage[s % 3600]` = the latest active second `s` in that slot.
    /// (Upstream's zero means "never", which is the same for any real clock.)
    usage: Vec<Option<i64>>,
    start: i64,
}

impl UpstreamRadioMonitor {
    /// A monitor that started watching at Unix second `start`.
    pub fn new(start: i64) -> Self {
        UpstreamRadioMonitor { usage: vec![None; RADIO_SAMPLE_SECONDS as usize], start }
    }

    /// Records cellular I/O during Unix second `sec` (calls must not go back in time).
    pub fn active(&mut self, sec: i64) {
        self.usage[sec.rem_euclid(RADIO_SAMPLE_SECONDS) as usize] = Some(sec);
    }

    /// Percent (0..=100) of the last hour, or of the time since start when
    /// shorter, that the radio was high as of Unix second `now`; 0 while that
    /// period is shorter than `stall_seconds` ([`INIT_STALL_SECONDS`] upstream).
    pub fn high_percent(&self, now: i64, stall_seconds: i64) -> i64 {
        let since_start = now - self.start;
        if since_start <= 0 {
            return 0;
        }
        let period = since_start.saturating_add(1).min(RADIO_SAMPLE_SECONDS);
        let period_start = now - period;
        let mut high = 0;
        let mut last_active = None;
        // Oldest slot first: the one just after `now`'s.
        for c in 0..RADIO_SAMPLE_SECONDS {
            let slot = (now + 1 + c).rem_euclid(RADIO_SAMPLE_SECONDS) as usize;
            if self.usage[slot].is_some_and(|s| s >= period_start) {
                high += 1;
                last_active = Some(c);
            } else if last_active.is_some_and(|l| c - l < RADIO_HIGH_IDLE_SECONDS) {
                high += 1;
            }
        }
        if period < stall_seconds {
            return 0;
        }
        high * 100 / period
    }
}

/// Splits the window `[t, t+d)` (ms) over the buckets of `bucket_ms` it
/// touches: `(bucket index, fraction of the window in it)`. A zero-length
/// window falls wholly in the bucket holding `t`.
pub fn split_window(t: i64, d: i64, bucket_ms: i64) -> Vec<(i64, f64)> {
    let first = t.div_euclid(bucket_ms);
    if d <= 0 {
        return vec![(first, 1.0)];
    }
    let last = (t + d - 1).div_euclid(bucket_ms);
    (first..=last)
        .map(|b| {
            let overlap = (t + d).min((b + 1) * bucket_ms) - t.max(b * bucket_ms);
            (b, overlap as f64 / d as f64)
        })
        .collect()
}

/// Bytes (tx + rx) each label moved over cellular in each Unix second it was
/// active. A window spanning a second boundary makes every second it touches
/// active, and its bytes are split in proportion to the time in each second.
pub fn cellular_seconds(windows: &[Window]) -> BTreeMap<i64, BTreeMap<u8, f64>> {
    let mut seconds: BTreeMap<i64, BTreeMap<u8, f64>> = BTreeMap::new();
    for w in windows.iter().filter(|w| w.cellular) {
        for (sec, fraction) in split_window(w.t, w.d, MS_PER_SECOND) {
            let labels = seconds.entry(sec).or_default();
            for &(label, tx, rx) in &w.stats {
                *labels.entry(label).or_default() += (tx + rx) as f64 * fraction;
            }
        }
    }
    seconds
}

/// High seconds and who caused them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attribution {
    /// Seconds with cellular I/O.
    pub active_seconds: u64,
    /// Active seconds plus their idle tails.
    pub high_seconds: u64,
    /// High seconds charged to each label; they sum to `high_seconds`.
    pub per_label: BTreeMap<u8, f64>,
}

/// Charges every high second to labels. Idle tails stop at `end_sec` (the
/// log's last second), as upstream's stop at "now".
pub fn attribute(seconds: &BTreeMap<i64, BTreeMap<u8, f64>>, end_sec: i64) -> Attribution {
    let mut out = Attribution { active_seconds: seconds.len() as u64, ..Default::default() };
    let mut iter = seconds.iter().peekable();
    while let Some((&sec, labels)) = iter.next() {
        let next_active = iter.peek().map_or(i64::MAX, |(&s, _)| s);
        let tail = (RADIO_HIGH_IDLE_SECONDS - 1).min(next_active - sec - 1).min(end_sec - sec).max(0);
        let charged = (1 + tail) as f64;
        out.high_seconds += 1 + tail as u64;
        let total: f64 = labels.values().sum();
        for (&label, &bytes) in labels {
            // A second whose labels all moved 0 bytes is shared equally.
            let share = if total > 0.0 { bytes / total } else { 1.0 / labels.len() as f64 };
            *out.per_label.entry(label).or_default() += charged * share;
        }
    }
    out
}

/// Upstream's percentage for a whole log: high seconds over the span
/// `start_sec..=end_sec`, 0 for a span under [`INIT_STALL_SECONDS`].
pub fn whole_log_percent(high_seconds: u64, start_sec: i64, end_sec: i64) -> i64 {
    let span = end_sec - start_sec + 1;
    if span < INIT_STALL_SECONDS {
        return 0;
    }
    high_seconds as i64 * 100 / span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_across_a_second_boundary_is_split_by_time() {
        assert_eq!(split_window(950, 100, 1000), vec![(0, 0.5), (1, 0.5)]);
        assert_eq!(split_window(1000, 100, 1000), vec![(1, 1.0)]);
        assert_eq!(split_window(1999, 0, 1000), vec![(1, 1.0)]);
        assert_eq!(split_window(-1, 2, 1000), vec![(-1, 0.5), (0, 0.5)]);
    }

    #[test]
    fn a_tail_is_charged_to_the_second_before_it_and_cut_by_the_next_activity() {
        let seconds =
            BTreeMap::from([(10, BTreeMap::from([(1, 300.0), (2, 100.0)])), (12, BTreeMap::from([(2, 5.0)]))]);
        // 10 high (+ 11 tail) charged 3:1; 12 high + 13..=16 tail to label 2.
        let a = attribute(&seconds, 100);
        assert_eq!((a.active_seconds, a.high_seconds), (2, 7));
        assert_eq!(a.per_label, BTreeMap::from([(1, 1.5), (2, 5.5)]));
        // The log ends at 14: the tail stops there.
        assert_eq!(attribute(&seconds, 14).high_seconds, 5);
    }

    #[test]
    fn a_second_of_zero_byte_entries_is_shared_equally() {
        let seconds = BTreeMap::from([(0, BTreeMap::from([(1, 0.0), (2, 0.0)]))]);
        assert_eq!(attribute(&seconds, 0).per_label, BTreeMap::from([(1, 0.5), (2, 0.5)]));
    }
}
