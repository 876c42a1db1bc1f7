//! The engine: the sampler and its clock under one lock, the control
//! operations that must act at an exact instant (enable, disable, interface
//! changes), and the sampler thread's loop, which ticks on the E + k·P grid
//! and sleeps without a timeout while no counter moves. It hands every entry
//! to the [`Writer`] and never looks inside it.
//!
//! Every clock reading is taken under the engine's lock, so the sampler sees
//! time in the order its operations run: a tick can never slip between a
//! control call's reading and its action and leave a window that ends
//! before it starts.

use crate::clock::Clock;
use crate::counters::Counters;
use crate::interface::{is_cellular, InterfaceKind};
use crate::labels::LabelNames;
use crate::queue::Pending;
use crate::sampler::{Event, Sampler};
use crate::sync::lock;
use crate::usage::{self, LabelUsage, Usage};
use crate::wire;
use crate::writer::Writer;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// What the lock guards: the windowing state machine and its timeline.
#[derive(Debug)]
struct State {
    sampler: Sampler,
    clock: Clock,
}

/// The sampling half of a logger.
pub(crate) struct Engine {
    state: Mutex<State>,
    counters: Arc<Counters>,
    writer: Arc<Writer>,
    poll_ms: u64,
    /// Events emitted by the sampler.
    events: AtomicU64,
    /// Sampler thread wake-ups.
    wakeups: AtomicU64,
    /// Tells the sampler thread to exit.
    stop: AtomicBool,
    /// Per-label bytes of the last hour, fed with every event (usage.rs).
    usage: Mutex<Usage>,
    /// The record's overflow was noted in the log.
    usage_noted: AtomicBool,
}

impl Engine {
    /// A disabled engine ticking every `poll_ms` on `clock`, reading
    /// `counters` and handing entries to `writer`.
    pub(crate) fn new(poll_ms: u64, clock: Clock, counters: Arc<Counters>, writer: Arc<Writer>) -> Engine {
        Engine {
            state: Mutex::new(State { sampler: Sampler::new(poll_ms), clock }),
            counters,
            writer,
            poll_ms,
            events: AtomicU64::new(0),
            wakeups: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            usage: Mutex::new(Usage::default()),
            usage_noted: AtomicBool::new(false),
        }
    }

    fn push_event(&self, ev: Event) {
        self.events.fetch_add(1, Relaxed);
        let left_out = lock(&self.usage).record(&ev);
        if left_out > 0 {
            self.note_usage_left_out();
        }
        self.writer.push(Pending::Event(ev));
    }

    /// Takes the lock, reads the clock, and runs the ticks a control call at
    /// that instant must see first (those strictly before it: a call at a
    /// tick's instant counts in that tick).
    fn catch_up(&self) -> (MutexGuard<'_, State>, u64) {
        let mut st = lock(&self.state);
        let now = st.clock.now_ms();
        st.sampler.run_ticks(now, false, &self.counters, |ev| self.push_event(ev));
        (st, now)
    }

    /// Starts sampling now, re-anchoring the clock to the wall clock; queues
    /// the header entry naming `labels` first. Returns whether the state
    /// changed.
    pub(crate) fn enable(&self, labels: &LabelNames) -> bool {
        let mut st = lock(&self.state);
        if st.sampler.is_enabled() {
            return false;
        }
        st.clock.anchor();
        let now = st.clock.now_ms();
        lock(&self.usage).note_enable(now);
        self.writer.push(Pending::Object(wire::header_object(self.poll_ms, &labels.named())));
        st.sampler.enable(now, &self.counters);
        drop(st);
        self.wake_sampler();
        true
    }

    /// Stops sampling now, queueing the closed window. Returns whether the
    /// state changed.
    pub(crate) fn disable(&self) -> bool {
        let (mut st, now) = self.catch_up();
        if !st.sampler.is_enabled() {
            return false;
        }
        if let Some(ev) = st.sampler.disable(now, &self.counters) {
            self.push_event(ev);
        }
        true
    }

    /// Records the default interface; a cellular flip closes the window now.
    pub(crate) fn set_interface(&self, name: &str, kind: InterfaceKind) {
        let (mut st, now) = self.catch_up();
        let cellular = is_cellular(name, kind);
        if cellular == st.sampler.is_cellular() {
            return;
        }
        if let Some(ev) = st.sampler.set_cellular(now, cellular, &self.counters) {
            self.push_event(ev);
        }
        self.writer.note_flip();
    }

    /// Per-label bytes over the `window` before now, up to the last tick
    /// (the ticks due are run first), largest first; `name_of` names labels.
    pub(crate) fn recent_usage(
        &self,
        window: Duration,
        name_of: impl FnMut(u8) -> Option<String>,
    ) -> crate::Result<Vec<LabelUsage>> {
        usage::check_window(window)?;
        let (st, now) = self.catch_up();
        let sums = lock(&self.usage).totals(now, window);
        drop(st);
        Ok(usage::ranked(&sums, name_of))
    }

    /// The first time a full bucket leaves labels out of the recent-usage
    /// record, says so once in the log (the count is in the record).
    #[cold]
    fn note_usage_left_out(&self) {
        if !self.usage_noted.swap(true, Relaxed) {
            let text = format!(
                "sockstatlog: more than {} labels moved in one recent-usage bucket; \
                 recent_usage leaves the rest out (the log has them all)",
                usage::MAX_LABELS_PER_BUCKET
            );
            self.writer.push(Pending::Object(wire::text_object(&text)));
        }
    }

    /// Whether sampling is on.
    pub(crate) fn is_enabled(&self) -> bool {
        lock(&self.state).sampler.is_enabled()
    }

    /// Events emitted so far.
    pub(crate) fn events(&self) -> u64 {
        self.events.load(Relaxed)
    }

    /// Sampler thread wake-ups so far.
    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups.load(Relaxed)
    }

    /// Makes the sampler thread re-read its deadline.
    fn wake_sampler(&self) {
        if let Some(t) = self.counters.sampler_thread() {
            t.unpark();
        }
    }

    /// Tells the sampler thread to exit.
    pub(crate) fn stop(&self) {
        self.stop.store(true, SeqCst);
        self.wake_sampler();
    }

    /// Runs every tick due now; returns how long the thread may sleep
    /// (`None`: until a push or a control call wakes it).
    fn run_due(&self) -> Option<Duration> {
        let mut st = lock(&self.state);
        let now = st.clock.now_ms();
        st.sampler.run_ticks(now, true, &self.counters, |ev| self.push_event(ev));
        st.sampler.next_deadline().map(|t| st.clock.until(t))
    }

    /// The sampler thread's body: tick when due, sleep until the next tick,
    /// or sleep without a timeout while disabled or idle.
    pub(crate) fn run_sampler(&self) {
        while !self.stop.load(SeqCst) {
            match self.run_due() {
                Some(d) => thread::park_timeout(d),
                None => thread::park(),
            }
            self.wakeups.fetch_add(1, Relaxed);
        }
    }
}

/// The loop-device harness of the integration tests (a real frozen disk).
#[cfg(test)]
#[path = "../tests/common/frozen.rs"]
mod frozen;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::manual::ManualTime;
    use crate::queue::MAX_PENDING_BYTES;
    use crate::writer::rig::Running;
    use serde_json::Value;

    const T0: u64 = 1_796_000_000_000; // a 2026 wall time, ms
    const SECOND: u64 = 1000;

    /// Real time between the writer's own writes: longer than any test, so
    /// the rig writes only when a test asks.
    const NO_INTERVAL_WRITES: Duration = Duration::from_secs(3600);

    struct Rig {
        dev: Arc<ManualTime>,
        engine: Engine,
        writer: Arc<Writer>,
        counters: Arc<Counters>,
        running: Running,
        _dir: Option<tempfile::TempDir>,
    }

    /// An engine on a manual clock, with no sampler thread (the test plays
    /// it by calling `run_due`), writing to a log in a temporary directory.
    fn rig(queue_capacity: usize) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut r = rig_in(dir.path(), queue_capacity);
        r._dir = Some(dir);
        r
    }

    /// The same, writing to a log in `dir`.
    fn rig_in(dir: &std::path::Path, queue_capacity: usize) -> Rig {
        let running = Running::start(dir, queue_capacity, MAX_PENDING_BYTES, NO_INTERVAL_WRITES);
        let writer = running.writer.clone();
        let counters = Arc::new(Counters::default());
        let (dev, clock) = ManualTime::start(T0, 1);
        let engine = Engine::new(100, clock, counters.clone(), writer.clone());
        Rig { dev, engine, writer, counters, running, _dir: None }
    }

    impl Rig {
        /// A push, and the sampler thread it unparks.
        fn push(&self, tx: u64) {
            self.counters.add(1, tx, 0);
            self.engine.run_due();
        }

        fn pass(&self, ms: u64) {
            self.dev.advance(Duration::from_millis(ms));
            self.engine.run_due();
        }

        /// The events on disk, as (t, d, tx of label 1).
        fn events(&self) -> Vec<(u64, u64, u64)> {
            self.running.write().unwrap();
            let lines = self.running.export();
            lines
                .iter()
                .map(|l| serde_json::from_slice::<Value>(l).unwrap())
                .filter(|v| v.get("s").is_some())
                .map(|v| (v["t"].as_u64().unwrap(), v["d"].as_u64().unwrap(), v["s"]["1"][0].as_u64().unwrap()))
                .collect()
        }
    }

    #[test]
    fn event_times_track_the_wall_clock_across_an_eight_hour_sleep_idle_and_busy() {
        let r = rig(110);
        r.engine.enable(&LabelNames::default());
        // Busy right up to the suspend: asleep with a tick due and bytes in
        // the open window [T0+100, T0+200].
        r.push(1);
        r.pass(150);
        r.push(2);
        let asleep_from = r.dev.wall_ms();
        r.dev.advance(Duration::from_secs(8 * 3600));
        // Woken: the sampler's overdue timeout fires, then traffic resumes.
        r.engine.run_due();
        let woke_at = r.dev.wall_ms();
        r.push(4);
        r.pass(100);
        // Quiet until idle (no tick due), then asleep for another 8 hours.
        r.pass(200);
        r.dev.advance(Duration::from_secs(8 * 3600));
        let second_wake = r.dev.wall_ms();
        r.push(8);
        r.pass(100);
        r.engine.disable();

        let evs = r.events();
        assert_eq!(evs.iter().map(|e| e.2).collect::<Vec<_>>(), [1, 2, 4, 8], "{evs:?}");
        assert_eq!(evs[0].0, T0);
        assert_eq!(evs[1].0, T0 + 100, "pushed before the suspend");
        assert!(evs[1].0 + evs[1].1 <= asleep_from + 100);
        for (e, pushed_at) in [(evs[2], woke_at), (evs[3], second_wake)] {
            assert!(e.0 <= pushed_at && pushed_at - e.0 < SECOND, "t {} vs wall {pushed_at}", e.0);
        }
    }

    #[test]
    fn enable_re_anchors_to_the_wall_clock_after_a_step() {
        let r = rig(110);
        r.engine.enable(&LabelNames::default());
        r.counters.add(1, 1, 0);
        r.pass(100);
        r.engine.disable();
        r.dev.step_wall(3_600_000); // the user fixes the time zone / NTP steps
        r.engine.enable(&LabelNames::default());
        r.counters.add(1, 2, 0);
        r.pass(100);
        r.engine.disable();
        let evs = r.events();
        assert_eq!(evs, [(T0, 100, 1), (T0 + 100 + 3_600_000, 100, 2)]);
    }

    #[test]
    fn a_stalled_queue_never_merges_wifi_windows_across_empty_cellular_time() {
        // A queue of two: the header and the first event fill it.
        let r = rig(2);
        r.engine.enable(&LabelNames::default());
        r.push(1);
        r.pass(100); // Wi-Fi [T0, T0+100]
        r.engine.set_interface("rmnet0", InterfaceKind::Unknown);
        r.pass(50); // cellular, nothing moves: no event
        r.engine.set_interface("wlan0", InterfaceKind::Wifi);
        r.push(2);
        r.pass(100); // Wi-Fi [T0+150, T0+200]
        r.engine.disable();
        assert!(r.writer.push(Pending::Object(wire::text_object("full queue: merge something"))));
        let spans: Vec<(u64, u64)> = r.events().iter().map(|e| (e.0, e.0 + e.1)).collect();
        assert_eq!(spans, [(T0, T0 + 100), (T0 + 150, T0 + 200)]);
    }

    /// Ten minutes of a phone's worst case for the queue while the disk is
    /// frozen: a Wi-Fi/cellular flip every 100 ms (so no two windows merge)
    /// and a text entry every 10 ms (texts never merge), on the virtual
    /// clock. The pending queue stays within its byte budget throughout,
    /// dropping (and counting) the oldest; after the thaw the newest entries
    /// reach the disk.
    #[test]
    fn a_frozen_disk_with_flips_and_text_keeps_the_pending_queue_within_its_budget() {
        const STEP_MS: u64 = 10;
        const FLIP_EVERY_STEPS: u64 = 10;
        const STEPS: u64 = 10 * 60 * 1000 / STEP_MS;
        let mut fs = frozen::FrozenFs::new();
        let r = rig_in(&fs.dir(), 110);
        r.engine.enable(&LabelNames::default());
        r.running.write().unwrap();
        fs.freeze();
        // The writer takes what is pending and blocks inside the disk.
        assert!(r.writer.push(Pending::Object(wire::text_object("the write that blocks"))));
        r.writer.write_soon(|_| {});
        frozen::wait_blocked_in_kernel("sockstatlog-test-writer");
        let mut most = 0;
        for step in 0..STEPS {
            if step.is_multiple_of(FLIP_EVERY_STEPS) {
                let (name, kind) = if (step / FLIP_EVERY_STEPS).is_multiple_of(2) {
                    ("rmnet0", InterfaceKind::Cellular)
                } else {
                    ("wlan0", InterfaceKind::Wifi)
                };
                r.engine.set_interface(name, kind);
            }
            r.counters.add(1, 1500, 40);
            assert!(r.writer.push(Pending::Object(wire::text_object(&format!("step {step}: still frozen")))));
            r.pass(STEP_MS);
            let (bytes, budget) = r.writer.queue_bytes();
            assert!(bytes <= budget, "step {step}: {bytes} bytes pending, budget {budget}");
            most = most.max(bytes);
        }
        let dropped = r.writer.dropped_entries();
        assert!(dropped > 0, "ten minutes of this is past the budget");
        assert!(most > MAX_PENDING_BYTES / 2, "the budget, not something smaller, bounded it: {most}");
        fs.thaw();
        r.engine.disable();
        r.running.write().unwrap();
        let lines = r.running.export();
        let last = String::from_utf8_lossy(lines.last().unwrap()).into_owned();
        assert!(lines.len() as u64 > 1000, "{} lines", lines.len());
        assert!(
            lines.iter().any(|l| String::from_utf8_lossy(l).contains(&format!("step {}: still frozen", STEPS - 1))),
            "the newest text is on disk (last line: {last})"
        );
    }
}
