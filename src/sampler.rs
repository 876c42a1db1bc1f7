//! The sampler: turns counter snapshots into windowed events. Pure logic on a
//! millisecond timeline handed in by the caller (real clock or replay's
//! virtual one): no clock, no I/O, no threads.
//!
//! Rules (semantics.md "Sampling and events"): `enable` at E takes the
//! baseline at E; ticks fall at E + k·P; each tick emits the non-zero per-label
//! deltas of the window [S, T] and restarts the window at T; a cellular flip or
//! a disable at X closes the window early at X. When a tick finds nothing
//! changed the sampler goes idle (the driver may sleep until traffic), and on
//! waking it resumes on the same grid as if it had ticked all along.
//!
//! A window's sum per label and direction saturates at `u64::MAX` (pushes
//! summing past 2^63 bytes in one window: forged or buggy byte counts); the
//! window is counted in `Counters::saturated_windows`. After each window the
//! sampler rebases any total past `counters::REBASE_AT`, so the next window
//! starts with room again (see `counters.rs`).

use crate::counters::{Counters, Snapshot, REBASE_AT};

/// One window's traffic: upstream's event `{"t","d","c","s"}`. Public
/// through `replay` (feature `replay`); the library's own otherwise.
#[cfg_attr(not(feature = "replay"), allow(unreachable_pub))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Window start, Unix milliseconds (on the caller's timeline).
    pub start_ms: u64,
    /// Window length in milliseconds.
    pub dur_ms: u64,
    /// The default interface was cellular for the whole window.
    pub cellular: bool,
    /// `(label, tx, rx)` for each label that moved, by ascending label id.
    pub stats: Vec<(u8, u64, u64)>,
}

/// Per-label deltas from `a` to `b`, leaving out labels that did not move;
/// `None` when either side is missing or nothing moved (upstream's `delta`).
/// Counters are monotonic here, so the subtraction never wraps in practice;
/// it wraps like upstream's if handed snapshots that go backwards. A total
/// at `u64::MAX` has saturated: its window's sum is `u64::MAX`.
pub(crate) fn delta(a: Option<&Snapshot>, b: Option<&Snapshot>) -> Option<Vec<(u8, u64, u64)>> {
    let (a, b) = (a?, b?);
    let mut out = Vec::new();
    for (label, (x, y)) in a.0.iter().zip(b.0.iter()).enumerate() {
        if x != y {
            out.push((label as u8, window_sum(x[0], y[0]), window_sum(x[1], y[1])));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// One label's bytes in one direction from total `x` to total `y`.
fn window_sum(x: u64, y: u64) -> u64 {
    if y == u64::MAX {
        u64::MAX
    } else {
        y.wrapping_sub(x)
    }
}

#[derive(Debug, Clone, Copy)]
struct Running {
    /// The next grid tick (E + k·P) not yet processed.
    next_tick: u64,
    /// Start of the open window.
    start: u64,
    /// The last tick saw no change; the driver may sleep until traffic.
    idle: bool,
}

/// The windowing state machine of one logger.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug)]
pub(crate) struct Sampler {
    poll_ms: u64,
    running: Option<Running>,
    cellular: bool,
    /// The snapshot at the start of the open window.
    prev: Box<Snapshot>,
    /// Scratch space for the next snapshot, so a tick never allocates.
    scratch: Box<Snapshot>,
}

impl Sampler {
    /// A disabled sampler ticking every `poll_ms` once enabled.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new(poll_ms: u64) -> Self {
        assert!(poll_ms > 0, "poll interval must be at least 1 ms");
        Sampler { poll_ms, running: None, cellular: false, prev: Box::default(), scratch: Box::default() }
    }

    /// Whether the sampler is enabled.
    pub(crate) fn is_enabled(&self) -> bool {
        self.running.is_some()
    }

    /// Whether the current interface counts as cellular.
    pub(crate) fn is_cellular(&self) -> bool {
        self.cellular
    }

    /// Starts sampling at `now`: the baseline is taken now, the first tick is
    /// at `now + P`. No-op when already enabled.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn enable(&mut self, now: u64, counters: &Counters) {
        if self.running.is_some() {
            return;
        }
        counters.snapshot_into(&mut self.prev);
        self.rebase(counters, false);
        self.running = Some(Running { next_tick: now + self.poll_ms, start: now, idle: false });
    }

    /// Stops sampling at `now`, closing the open window. No-op when disabled.
    pub(crate) fn disable(&mut self, now: u64, counters: &Counters) -> Option<Event> {
        let ev = self.close_window(now, counters);
        if self.running.take().is_some_and(|r| r.idle) {
            counters.clear_idle();
        }
        ev
    }

    /// Records whether the default interface is cellular from `now` on. A flip
    /// while enabled closes the open window at `now` under the old flag, so
    /// bytes are attributed to the interface that carried them.
    pub(crate) fn set_cellular(&mut self, now: u64, cellular: bool, counters: &Counters) -> Option<Event> {
        if cellular == self.cellular {
            return None;
        }
        let ev = self.close_window(now, counters);
        self.cellular = cellular;
        ev
    }

    /// The time of the next tick, or `None` when disabled or idle (nothing to
    /// do until traffic arrives).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.running.filter(|r| !r.idle).map(|r| r.next_tick)
    }

    /// True when the last tick saw nothing and the driver may sleep.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn is_idle(&self) -> bool {
        self.running.is_some_and(|r| r.idle)
    }

    /// Processes the tick at [`Sampler::next_deadline`]. Call only when that
    /// is `Some`. If nothing changed since the window opened, the sampler
    /// marks itself idle, unless traffic raced in during the hand-over.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn tick(&mut self, counters: &Counters) -> Option<Event> {
        let r = self.running.as_mut().expect("tick on a disabled or idle sampler");
        debug_assert!(!r.idle);
        let t = r.next_tick;
        r.next_tick += self.poll_ms;
        counters.snapshot_into(&mut self.scratch);
        if *self.scratch == *self.prev {
            r.start = r.start.max(t);
            counters.mark_idle();
            counters.snapshot_into(&mut self.scratch);
            if *self.scratch == *self.prev {
                r.idle = true;
            } else {
                // A push slipped in between our snapshot and mark_idle; it
                // belongs to the next tick, which we keep.
                counters.clear_idle();
            }
            return None;
        }
        std::mem::swap(&mut self.prev, &mut self.scratch);
        let ev = self.emit(t);
        self.rebase(counters, true);
        ev
    }

    /// Resumes after an idle period once traffic arrived at about `now`: the
    /// ticks skipped while idle would have emitted nothing, so the window
    /// restarts at the last grid point before `now` and the next tick is the
    /// first grid point at or after `now`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn wake(&mut self, now: u64) {
        let poll = self.poll_ms;
        if let Some(r) = self.running.as_mut().filter(|r| r.idle) {
            r.idle = false;
            if now >= r.next_tick {
                let behind = (now - r.next_tick) / poll;
                let mut next = r.next_tick + behind * poll;
                if next < now {
                    next += poll;
                }
                r.start = r.start.max(next - poll);
                r.next_tick = next;
            }
        }
    }

    /// Ends an idle period if traffic arrived (a push cleared the counters'
    /// idle flag); `now` is when the traffic was noticed.
    pub(crate) fn wake_on_traffic(&mut self, now: u64, counters: &Counters) {
        if self.is_idle() && !counters.is_idle() {
            self.wake(now);
        }
    }

    /// Runs every due tick strictly before `until` (or also at it when
    /// `inclusive`), handing each event to `sink`. Host calls use the strict
    /// form, so a call at exactly a tick's time is counted in that tick.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn run_ticks(&mut self, until: u64, inclusive: bool, counters: &Counters, mut sink: impl FnMut(Event)) {
        self.wake_on_traffic(until, counters);
        while let Some(t) = self.next_deadline() {
            if t > until || (t == until && !inclusive) {
                break;
            }
            if let Some(ev) = self.tick(counters) {
                sink(ev);
            }
        }
    }

    /// Closes the open window at `now`, or at its start if `now` is before
    /// it: a window never ends before it starts, whatever order the caller's
    /// clock readings arrive in (the engine reads its clock under its lock,
    /// so it never hands in such a time; the clamp makes the class impossible).
    fn close_window(&mut self, now: u64, counters: &Counters) -> Option<Event> {
        let r = self.running?;
        let now = now.max(r.start);
        if r.idle {
            // Nothing moved since the window opened, and nothing can have
            // moved without clearing idle (the caller wakes us first).
            self.running.as_mut().unwrap().start = now;
            return None;
        }
        counters.snapshot_into(&mut self.scratch);
        if *self.scratch == *self.prev {
            self.running.as_mut().unwrap().start = now;
            return None;
        }
        std::mem::swap(&mut self.prev, &mut self.scratch);
        let ev = self.emit(now);
        self.rebase(counters, true);
        ev
    }

    /// After a window (`closed`) or a new baseline: counts the window if a
    /// sum saturated, and takes any total past [`REBASE_AT`] off the counters
    /// and the baseline alike, so the next window's sums are unchanged and
    /// have room (a label's total would otherwise stay at the top and every
    /// later window read 0).
    fn rebase(&mut self, counters: &Counters, closed: bool) {
        if closed && self.prev.0.iter().flatten().any(|&t| t == u64::MAX) {
            counters.count_saturated_window();
        }
        for (label, total) in self.prev.0.iter_mut().enumerate() {
            if total[0] >= REBASE_AT || total[1] >= REBASE_AT {
                counters.rebase(label as u8, *total);
                *total = [0, 0];
            }
        }
    }

    /// Emits the window [start, end] (end clamped to at least start). The
    /// caller has just swapped the boxes (no data moves), so `prev` holds the
    /// new snapshot and `scratch` the old.
    fn emit(&mut self, end: u64) -> Option<Event> {
        let r = self.running.as_mut().unwrap();
        let start = r.start;
        let end = end.max(start);
        r.start = end;
        let stats = delta(Some(&self.scratch), Some(&self.prev))?;
        Some(Event { start_ms: start, dur_ms: end - start, cellular: self.cellular, stats })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(entries: &[(u8, u64, u64)]) -> Snapshot {
        let mut s = Snapshot::default();
        for &(l, tx, rx) in entries {
            s.0[l as usize] = [tx, rx];
        }
        s
    }

    #[test]
    fn delta_matches_upstreams_table() {
        let empty = snap(&[]);
        // (upstream's case name, a, b, expected delta)
        type Case = (&'static str, Option<Snapshot>, Option<Snapshot>, Option<Vec<(u8, u64, u64)>>);
        let cases: &[Case] = &[
            ("nil-a-stat", None, Some(empty.clone()), None),
            ("nil-b-stat", Some(empty.clone()), None, None),
            ("no-change", Some(snap(&[(2, 10, 0)])), Some(snap(&[(2, 10, 0)])), None),
            ("tx-after-empty", Some(empty.clone()), Some(snap(&[(2, 10, 0)])), Some(vec![(2, 10, 0)])),
            ("rx-after-non-empty", Some(snap(&[(2, 10, 10)])), Some(snap(&[(2, 10, 30)])), Some(vec![(2, 0, 20)])),
            // Beyond upstream, which wraps: a saturated total is a saturated sum.
            ("saturated-tx", Some(snap(&[(2, 7, 1)])), Some(snap(&[(2, u64::MAX, 2)])), Some(vec![(2, u64::MAX, 1)])),
            (
                "saturated-both",
                Some(empty.clone()),
                Some(snap(&[(9, u64::MAX, u64::MAX)])),
                Some(vec![(9, u64::MAX, u64::MAX)]),
            ),
        ];
        for (name, a, b, want) in cases {
            assert_eq!(delta(a.as_ref(), b.as_ref()), *want, "{name}");
        }
    }

    #[test]
    fn a_window_summing_past_u64_max_saturates_is_counted_and_the_next_starts_fresh() {
        let c = Counters::default();
        let mut s = Sampler::new(100);
        s.enable(1_000, &c);
        // (case, pushes of one window on label 3, expected tx sum, saturated windows after)
        let max = i64::MAX as u64;
        let cases: &[(&str, &[u64], u64, u64)] = &[
            ("three-i64-max", &[max, max, max], u64::MAX, 1),
            ("small-after-saturation", &[5], 5, 1),
            ("one-i64-max-fits", &[max], max, 1),
            ("two-i64-max-fit-after-the-rebase", &[max, max], 2 * max, 1),
            ("saturated-again", &[max, max, 2], u64::MAX, 2),
            ("fresh-again", &[1, 2], 3, 2),
        ];
        let mut t = 1_100;
        for &(name, pushes, want, saturated) in cases {
            pushes.iter().for_each(|&n| c.add(3, n, 0));
            let ev = s.tick(&c).unwrap_or_else(|| panic!("{name}: no event"));
            assert_eq!((ev.start_ms + ev.dur_ms, ev.stats.clone()), (t, vec![(3, want, 0)]), "{name}");
            assert_eq!(c.saturated_windows(), saturated, "{name}");
            t += 100;
        }
    }

    #[test]
    fn totals_saturated_while_disabled_are_rebased_at_enable() {
        let c = Counters::default();
        let mut s = Sampler::new(100);
        (0..3).for_each(|_| c.add(3, i64::MAX as u64, 0));
        s.enable(1_000, &c);
        c.add(3, 7, 0);
        assert_eq!(s.tick(&c).unwrap().stats, vec![(3, 7, 0)]);
        assert_eq!(c.saturated_windows(), 0, "no window saturated: the bytes came before enable");
    }

    #[test]
    fn enable_baselines_at_the_enable_instant_not_the_first_tick() {
        let c = Counters::default();
        let mut s = Sampler::new(100);
        c.add(1, 500, 0); // before enable: never reported
        s.enable(1000, &c);
        c.add(1, 7, 0);
        assert_eq!(s.next_deadline(), Some(1100));
        let ev = s.tick(&c).unwrap();
        assert_eq!(ev, Event { start_ms: 1000, dur_ms: 100, cellular: false, stats: vec![(1, 7, 0)] });
    }

    #[test]
    fn a_quiet_tick_idles_until_traffic_and_resumes_on_the_grid() {
        let c = Counters::default();
        let mut s = Sampler::new(100);
        s.enable(0, &c);
        assert_eq!(s.tick(&c), None);
        assert!(s.is_idle() && c.is_idle());
        assert_eq!(s.next_deadline(), None, "nothing to do while idle");
        c.add(3, 1, 1); // traffic clears the flag
        s.wake_on_traffic(1234, &c);
        assert_eq!(s.next_deadline(), Some(1300));
        let ev = s.tick(&c).unwrap();
        assert_eq!((ev.start_ms, ev.dur_ms), (1200, 100));
    }

    #[test]
    fn a_flip_timed_before_the_window_start_closes_it_at_its_start_not_before() {
        // The reproducer of a control call whose clock reading (99) was taken
        // before a tick (100) that ran first: the window must not end at 99.
        let c = Counters::default();
        let mut s = Sampler::new(100);
        s.enable(0, &c);
        c.add(1, 5, 0);
        assert_eq!(s.tick(&c).map(|e| (e.start_ms, e.dur_ms)), Some((0, 100)));
        c.add(1, 7, 0);
        let ev = s.set_cellular(99, true, &c).unwrap();
        assert_eq!(ev, Event { start_ms: 100, dur_ms: 0, cellular: false, stats: vec![(1, 7, 0)] });
    }

    /// One step of a random interleaving: (time offset, operation).
    fn step() -> impl proptest::strategy::Strategy<Value = (i64, u8)> {
        (-300i64..300, 0u8..6)
    }

    proptest::proptest! {
        /// Any interleaving of pushes, ticks, flips, enables and disables at
        /// times that may go backwards (readings taken before another call
        /// ran) produces windows that start where the previous one ended or
        /// later, never end before they start, and never wrap `d`.
        #[test]
        fn random_interleavings_never_produce_a_window_that_ends_before_it_starts(
            steps in proptest::collection::vec(step(), 1..200)
        ) {
            let c = Counters::default();
            let mut s = Sampler::new(100);
            let mut now: u64 = 10_000;
            let mut last_end = 0u64;
            let check = |ev: Option<Event>, last_end: &mut u64| {
                if let Some(ev) = ev {
                    proptest::prop_assert!(ev.dur_ms < 100_000, "d wrapped: {:?}", ev);
                    proptest::prop_assert!(ev.start_ms >= *last_end, "overlaps the previous window: {:?}", ev);
                    *last_end = ev.start_ms + ev.dur_ms;
                }
                Ok(())
            };
            for (dt, op) in steps {
                now = now.saturating_add_signed(dt);
                match op {
                    0 => c.add(1, 1, 1),
                    1 => {
                        let mut evs = Vec::new();
                        s.run_ticks(now, true, &c, |e| evs.push(e));
                        for e in evs {
                            check(Some(e), &mut last_end)?;
                        }
                    }
                    2 => { let ev = s.set_cellular(now, !s.is_cellular(), &c); check(ev, &mut last_end)?; }
                    3 => { s.enable(now, &c); }
                    4 => { let ev = s.disable(now, &c); check(ev, &mut last_end)?; last_end = 0; }
                    _ => s.wake_on_traffic(now, &c),
                }
            }
        }
    }

    #[test]
    fn disable_while_idle_withdraws_the_idle_flag() {
        let c = Counters::default();
        let mut s = Sampler::new(100);
        s.enable(0, &c);
        s.tick(&c);
        assert!(c.is_idle());
        assert_eq!(s.disable(150, &c), None);
        assert!(!c.is_idle() && !s.is_enabled());
    }
}
