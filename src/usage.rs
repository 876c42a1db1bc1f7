//! The recent-usage record: per-label bytes of the last hour, kept in memory
//! for an on-device "network usage" screen (`Logger::recent_usage`). It is
//! fed by the sampler with each event it emits, never by the push path, and
//! answers from memory: no disk, no parsing the log.
//!
//! Two rings of time buckets: 1 s buckets covering the last minute (windows
//! up to a minute are answered from them) and 1 min buckets covering the last
//! hour (longer windows). A bucket stores only the labels that moved in it,
//! at most [`MAX_LABELS_PER_BUCKET`], each with its total and cellular
//! `tx`/`rx`; a bucket's storage is reused, never freed, when the ring comes
//! round. So the memory is fixed whatever the traffic: at most
//! [`MAX_RECORD_BYTES`] (about 462 KiB), reached only when 96 labels move in
//! every second and every minute of an hour.
//!
//! Bytes are placed at the end of the event that reported them (the tick), so
//! a window's answer is exact to the poll interval. A window is widened to
//! whole buckets: at most 1 s more for windows up to a minute, 1 min more
//! beyond.

use crate::labels::LABEL_COUNT;
use crate::sampler::Event;
use std::mem::size_of;
use std::time::Duration;

/// Shortest window `recent_usage` answers: one fine bucket.
pub(crate) const MIN_WINDOW: Duration = Duration::from_secs(1);
/// Longest window `recent_usage` answers: what the coarse ring covers.
pub(crate) const MAX_WINDOW: Duration = Duration::from_secs(3600);
/// Width of a fine bucket, ms: the resolution of windows up to a minute.
const FINE_BUCKET_MS: u64 = 1_000;
/// Longest window the fine ring answers, ms; longer ones use the coarse ring.
const FINE_SPAN_MS: u64 = 60_000;
/// Width of a coarse bucket, ms: the resolution of windows past a minute.
const COARSE_BUCKET_MS: u64 = 60_000;
/// Buckets in a ring: a window of the ring's span, widened to whole buckets,
/// touches span / width + 1 of them.
const FINE_BUCKETS: usize = (FINE_SPAN_MS / FINE_BUCKET_MS) as usize + 1;
/// Same for the coarse ring, whose span is [`MAX_WINDOW`].
const COARSE_BUCKETS: usize = (MAX_WINDOW.as_millis() as u64 / COARSE_BUCKET_MS) as usize + 1;
/// Distinct labels one bucket holds. Upstream has 13 labels and hosts add a
/// few dozen; 96 keeps the worst case under 512 KiB. Bytes of a further label
/// in a full bucket are left out of the record (they are in the log all the
/// same) and counted; the first time, the log says so.
pub(crate) const MAX_LABELS_PER_BUCKET: usize = 96;
/// The record's worst-case memory, bytes: every bucket of both rings full.
pub(crate) const MAX_RECORD_BYTES: usize = (FINE_BUCKETS + COARSE_BUCKETS)
    * (MAX_LABELS_PER_BUCKET * size_of::<Entry>() + size_of::<Bucket>())
    + 2 * size_of::<Ring>();
const _: () = assert!(MAX_RECORD_BYTES <= 512 << 10, "the contract promises at most 512 KiB");

/// Bytes of one label over a window, for an on-device usage screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelUsage {
    /// Label id, 0..=255.
    pub label: u32,
    /// Its registered or upstream name; `None` when it has none.
    pub name: Option<String>,
    /// Bytes sent over every network.
    pub tx: u64,
    /// Bytes received over every network.
    pub rx: u64,
    /// The part of `tx` sent while the default interface was cellular.
    pub cellular_tx: u64,
    /// The part of `rx` received while it was cellular.
    pub cellular_rx: u64,
}

/// One label's bytes in one bucket: `[tx, rx, cellular tx, cellular rx]`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    label: u8,
    bytes: [u64; 4],
}

/// The labels that moved during one bucket's time.
#[derive(Debug, Default)]
struct Bucket {
    /// Which bucket of the timeline this is (time / width); stale once the
    /// ring has come round, which the index shows.
    index: u64,
    entries: Vec<Entry>,
}

/// A ring of buckets of one width.
#[derive(Debug)]
struct Ring {
    width_ms: u64,
    buckets: Vec<Bucket>,
    /// The index of the bucket being filled, if any.
    head: Option<u64>,
    /// Position + 1 of each label in the head bucket (0: not there), so that
    /// adding to the head costs no search.
    head_pos: [u8; LABEL_COUNT],
}

impl Ring {
    fn new(width_ms: u64, len: usize) -> Ring {
        let buckets = (0..len).map(|_| Bucket { index: u64::MAX, entries: Vec::new() }).collect();
        Ring { width_ms, buckets, head: None, head_pos: [0; LABEL_COUNT] }
    }

    /// Adds an event's stats at `at_ms`; returns how many labels a full
    /// bucket left out. Time never goes back within a ring: an earlier `at_ms`
    /// lands in the head bucket.
    fn add(&mut self, at_ms: u64, cellular: bool, stats: &[(u8, u64, u64)]) -> u64 {
        let index = (at_ms / self.width_ms).max(self.head.unwrap_or(0));
        let len = self.buckets.len() as u64;
        let bucket = &mut self.buckets[(index % len) as usize];
        if self.head != Some(index) {
            bucket.index = index;
            bucket.entries.clear();
            self.head_pos = [0; LABEL_COUNT];
            self.head = Some(index);
        }
        let mut left_out = 0;
        for &(label, tx, rx) in stats {
            let pos = &mut self.head_pos[label as usize];
            if *pos == 0 {
                let len = bucket.entries.len();
                if len == MAX_LABELS_PER_BUCKET {
                    left_out += 1;
                    continue;
                }
                if len == bucket.entries.capacity() {
                    // Grow by doubling, but never past the cap the budget counts.
                    bucket.entries.reserve_exact(len.max(4).min(MAX_LABELS_PER_BUCKET - len));
                }
                bucket.entries.push(Entry { label, bytes: [0; 4] });
                *pos = bucket.entries.len() as u8;
            }
            let b = &mut bucket.entries[*pos as usize - 1].bytes;
            b[0] = b[0].saturating_add(tx);
            b[1] = b[1].saturating_add(rx);
            if cellular {
                b[2] = b[2].saturating_add(tx);
                b[3] = b[3].saturating_add(rx);
            }
        }
        left_out
    }

    /// Adds up every bucket from the one holding `from_ms` to the one holding
    /// `to_ms` into `sums`.
    fn sum(&self, from_ms: u64, to_ms: u64, sums: &mut [[u64; 4]; LABEL_COUNT]) {
        let (first, last) = (from_ms / self.width_ms, to_ms / self.width_ms);
        debug_assert!(last - first < self.buckets.len() as u64);
        for bucket in self.buckets.iter().filter(|b| (first..=last).contains(&b.index)) {
            for e in &bucket.entries {
                let s = &mut sums[e.label as usize];
                for (s, b) in s.iter_mut().zip(e.bytes) {
                    *s = s.saturating_add(b);
                }
            }
        }
    }

    fn clear(&mut self) {
        for b in &mut self.buckets {
            b.index = u64::MAX;
            b.entries.clear();
        }
        self.head = None;
        self.head_pos = [0; LABEL_COUNT];
    }
}

/// The record of one logger. Not synchronised: the engine keeps it under a lock.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug)]
pub(crate) struct Usage {
    fine: Ring,
    coarse: Ring,
    /// End of the latest event recorded, on the engine's timeline.
    latest_ms: u64,
    /// Labels left out of a full bucket (their bytes are in the log).
    left_out: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            fine: Ring::new(FINE_BUCKET_MS, FINE_BUCKETS),
            coarse: Ring::new(COARSE_BUCKET_MS, COARSE_BUCKETS),
            latest_ms: 0,
            left_out: 0,
        }
    }
}

impl Usage {
    /// Records an event's bytes at its end. Returns how many labels a full
    /// bucket left out (0 almost always).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn record(&mut self, ev: &Event) -> u64 {
        let end = ev.start_ms.saturating_add(ev.dur_ms);
        self.latest_ms = self.latest_ms.max(end);
        let left_out = self.fine.add(end, ev.cellular, &ev.stats) + self.coarse.add(end, ev.cellular, &ev.stats);
        self.left_out += left_out;
        left_out
    }

    /// Sampling starts again at `now` (a new `enable`, which re-anchors the
    /// clock to the wall clock). The record is kept, unless the clock now
    /// reads earlier than its latest bytes (the wall clock stepped back):
    /// those times would lie in the future, so the record starts afresh.
    pub(crate) fn note_enable(&mut self, now_ms: u64) {
        if now_ms < self.latest_ms {
            self.fine.clear();
            self.coarse.clear();
            self.latest_ms = 0;
        }
    }

    /// Per label `[tx, rx, cellular tx, cellular rx]` over the `window`
    /// before `now_ms`, widened to whole buckets. `window` must be within
    /// [`MIN_WINDOW`]..=[`MAX_WINDOW`] (the caller checks).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn totals(&self, now_ms: u64, window: Duration) -> Box<[[u64; 4]; LABEL_COUNT]> {
        let window_ms = window.as_millis().min(MAX_WINDOW.as_millis()) as u64;
        let ring = if window_ms <= FINE_SPAN_MS { &self.fine } else { &self.coarse };
        let mut sums = Box::new([[0u64; 4]; LABEL_COUNT]);
        ring.sum(now_ms.saturating_sub(window_ms), now_ms, &mut sums);
        sums
    }
}

/// Checks a `recent_usage` window: 1 s to 1 h.
pub(crate) fn check_window(window: Duration) -> crate::Result<()> {
    if window < MIN_WINDOW || window > MAX_WINDOW {
        return Err(crate::Error::InvalidArgument(format!(
            "recent usage window {window:?} is outside its range {MIN_WINDOW:?} to {MAX_WINDOW:?}"
        )));
    }
    Ok(())
}

/// The labels that moved, with their names (`name_of`), largest `tx + rx`
/// first (ties by label id).
pub(crate) fn ranked(sums: &[[u64; 4]; LABEL_COUNT], mut name_of: impl FnMut(u8) -> Option<String>) -> Vec<LabelUsage> {
    let mut out: Vec<LabelUsage> = sums
        .iter()
        .enumerate()
        .filter(|(_, s)| s[0] != 0 || s[1] != 0)
        .map(|(label, s)| LabelUsage {
            label: label as u32,
            name: name_of(label as u8),
            tx: s[0],
            rx: s[1],
            cellular_tx: s[2],
            cellular_rx: s[3],
        })
        .collect();
    out.sort_by(|a, b| {
        let total = |u: &LabelUsage| u.tx.saturating_add(u.rx);
        total(b).cmp(&total(a)).then(a.label.cmp(&b.label))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_999_980_000; // a 2026 wall time, ms, on a minute boundary

    fn ev(end_ms: u64, cellular: bool, stats: &[(u8, u64, u64)]) -> Event {
        Event { start_ms: end_ms - 100, dur_ms: 100, cellular, stats: stats.to_vec() }
    }

    /// `(label, tx, rx, cellular tx, cellular rx)`.
    type Row = (u32, u64, u64, u64, u64);

    fn list(u: &Usage, now: u64, window_s: u64) -> Vec<Row> {
        let sums = u.totals(now, Duration::from_secs(window_s));
        ranked(&sums, |_| None).iter().map(|l| (l.label, l.tx, l.rx, l.cellular_tx, l.cellular_rx)).collect()
    }

    #[test]
    fn the_worst_case_memory_is_what_the_contract_states() {
        assert_eq!(size_of::<Entry>(), 40);
        assert_eq!((FINE_BUCKETS, COARSE_BUCKETS), (61, 61));
        // Every bucket of both rings holding its maximum of labels.
        let mut u = Usage::default();
        let all: Vec<(u8, u64, u64)> = (0..=255).map(|l| (l, 1, 1)).collect();
        for s in 0..3700 {
            u.record(&ev(T0 + s * 1000 + 500, s % 2 == 0, &all));
        }
        let held: usize = [&u.fine, &u.coarse].iter().flat_map(|r| &r.buckets).map(|b| b.entries.capacity()).sum();
        assert!(held * size_of::<Entry>() <= MAX_RECORD_BYTES, "{held} entries");
        const { assert!(MAX_RECORD_BYTES <= 512 << 10 && MAX_RECORD_BYTES > 450 << 10) };
        assert_eq!(u.left_out, 3700 * 2 * (256 - MAX_LABELS_PER_BUCKET as u64));
    }

    #[test]
    fn windows_sum_the_buckets_they_cover_at_their_resolution() {
        let mut u = Usage::default();
        u.record(&ev(T0 + 500, false, &[(1, 10, 1)])); // 1 h 2 min ago at the query
        u.record(&ev(T0 + 125_000, true, &[(1, 20, 2), (2, 5, 5)])); // 1 h ago
        u.record(&ev(T0 + 3_660_500, false, &[(3, 100, 0)])); // 65 s ago
        u.record(&ev(T0 + 3_720_200, true, &[(1, 1, 0), (3, 0, 7)])); // 5.8 s ago
        u.record(&ev(T0 + 3_725_100, false, &[(2, 40, 40)])); // 0.9 s ago
        let now = T0 + 3_726_000;
        // (case, window in s, expected (label, tx, rx, cell tx, cell rx) by bytes)
        let cases: &[(&str, u64, &[Row])] = &[
            ("1 s: only the current second", 1, &[(2, 40, 40, 0, 0)]),
            ("6 s: the cellular push too", 6, &[(2, 40, 40, 0, 0), (3, 0, 7, 0, 7), (1, 1, 0, 1, 0)]),
            ("1 min: not the one 65 s ago", 60, &[(2, 40, 40, 0, 0), (3, 0, 7, 0, 7), (1, 1, 0, 1, 0)]),
            ("2 min: minute buckets", 120, &[(3, 100, 7, 0, 7), (2, 40, 40, 0, 0), (1, 1, 0, 1, 0)]),
            (
                "1 h: widened to the minute an hour ago",
                3600,
                &[(3, 100, 7, 0, 7), (2, 45, 45, 5, 5), (1, 21, 2, 21, 2)],
            ),
        ];
        for (name, window, want) in cases {
            assert_eq!(list(&u, now, *window), *want, "{name}");
        }
    }

    #[test]
    fn a_full_bucket_leaves_further_labels_out_and_counts_them() {
        let mut u = Usage::default();
        let many: Vec<(u8, u64, u64)> = (0..100).map(|l| (l, 1, 0)).collect();
        assert_eq!(u.record(&ev(T0 + 100, false, &many)), 2 * 4, "4 labels, in each ring");
        // The next second's bucket has room again; the minute's is still full.
        assert_eq!(u.record(&ev(T0 + 1100, false, &[(99, 5, 0)])), 1);
        assert_eq!(list(&u, T0 + 2000, 1), [(99, 5, 0, 0, 0)]);
        assert!(list(&u, T0 + 2000, 120).iter().all(|l| l.0 < 96));
        assert_eq!(u.left_out, 9);
    }

    #[test]
    fn the_ring_coming_round_forgets_what_it_overwrites_and_keeps_the_rest() {
        let mut u = Usage::default();
        u.record(&ev(T0 + 500, false, &[(1, 1, 0)]));
        u.record(&ev(T0 + 61_500, false, &[(2, 1, 0)])); // the same fine slot, 61 s on
        assert_eq!(list(&u, T0 + 61_600, 60), [(2, 1, 0, 0, 0)]);
        assert_eq!(list(&u, T0 + 61_600, 120), [(1, 1, 0, 0, 0), (2, 1, 0, 0, 0)]);
    }

    #[test]
    fn enable_keeps_the_record_unless_the_clock_stepped_back() {
        let mut u = Usage::default();
        u.record(&ev(T0 + 500, false, &[(1, 1, 0)]));
        u.note_enable(T0 + 10_000);
        assert_eq!(list(&u, T0 + 10_000, 60).len(), 1);
        u.note_enable(T0);
        assert!(list(&u, T0 + 10_000, 60).is_empty());
    }

    #[test]
    fn windows_outside_a_second_to_an_hour_are_refused() {
        for w in [Duration::ZERO, Duration::from_millis(999), Duration::from_secs(3601)] {
            assert!(matches!(check_window(w), Err(crate::Error::InvalidArgument(_))), "{w:?}");
        }
        check_window(MIN_WINDOW).unwrap();
        check_window(MAX_WINDOW).unwrap();
    }
}

#[cfg(test)]
mod engine_tests {
    //! The record as the logger feeds it: through the engine, on the
    //! virtual clock, with no threads (the test plays the sampler thread).

    use crate::clock::manual::ManualTime;
    use crate::counters::Counters;
    use crate::engine::Engine;
    use crate::interface::InterfaceKind;
    use crate::labels::LabelNames;
    use crate::writer::Writer;
    use std::sync::Arc;
    use std::time::Duration;

    const T0: u64 = 1_795_999_980_000;

    fn usage(engine: &Engine) -> Vec<(u32, u64, u64, u64, u64)> {
        let got = engine.recent_usage(Duration::from_secs(60), |_| None).unwrap();
        got.iter().map(|l| (l.label, l.tx, l.rx, l.cellular_tx, l.cellular_rx)).collect()
    }

    #[test]
    fn a_push_shows_once_the_next_tick_passed_and_survives_disable() {
        // The record needs no log: a writer nobody runs takes the events.
        let writer = Arc::new(Writer::new(110, crate::queue::MAX_PENDING_BYTES, Duration::from_secs(10)));
        let counters = Arc::new(Counters::default());
        let (dev, clock) = ManualTime::start(T0, 1);
        let engine = Engine::new(100, clock, counters.clone(), writer);
        engine.enable(&LabelNames::default());

        counters.add(1, 5, 1);
        dev.advance(Duration::from_millis(100));
        assert_eq!(usage(&engine), [], "a call at the tick's instant counts in that tick, not before");
        dev.advance(Duration::from_millis(1));
        assert_eq!(usage(&engine), [(1, 5, 1, 0, 0)], "the tick before the call ran first");

        engine.set_interface("rmnet0", InterfaceKind::Unknown);
        counters.add(2, 100, 0);
        dev.advance(Duration::from_millis(150));
        assert_eq!(usage(&engine), [(2, 100, 0, 100, 0), (1, 5, 1, 0, 0)]);
        counters.add(1, 0, 7);
        engine.disable();
        assert_eq!(usage(&engine), [(2, 100, 0, 100, 0), (1, 5, 8, 0, 7)], "disable closed the window");
        dev.advance(Duration::from_secs(5));
        engine.enable(&LabelNames::default());
        assert_eq!(usage(&engine).len(), 2, "a new enable keeps the record");
        assert!(engine.recent_usage(Duration::from_millis(999), |_| None).is_err());
    }
}
