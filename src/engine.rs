//! The logger's shared state and its sampler thread: the clock that maps
//! monotonic time onto Unix milliseconds, the control operations (enable,
//! disable, interface changes) that must act at an exact instant, and the
//! thread that ticks on the E + k·P grid and sleeps without a timeout while
//! no counter moves.

use crate::config::Config;
use crate::counters::Counters;
use crate::filch::LogFiles;
use crate::interface::{is_cellular, InterfaceKind};
use crate::labels::LabelNames;
use crate::queue::{Pending, PendingQueue};
use crate::sampler::{Event, Sampler};
use crate::upload::{Transport, Uploader};
use crate::wire;
use crate::writer::WriterState;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Monotonic time expressed as Unix milliseconds: the wall clock read once at
/// start, advanced by `Instant` (times `speed` in simulations), so a
/// wall-clock step never bends a window.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    origin_ms: u64,
    speed: u64,
}

impl Clock {
    /// A clock starting now, running `speed` times faster than real time.
    pub fn start(speed: u32) -> Self {
        let origin_ms = (wire::now_unix_ns() / 1_000_000) as u64;
        Clock { origin: Instant::now(), origin_ms, speed: u64::from(speed.max(1)) }
    }

    /// Now, in Unix milliseconds on this clock's timeline.
    pub fn now_ms(&self) -> u64 {
        self.origin_ms + (self.origin.elapsed().as_micros() as u64 * self.speed) / 1000
    }

    /// How long until `ms` on this timeline (zero if past). Sleeping this long
    /// guarantees that [`Clock::now_ms`] then reads at least `ms` (hence the
    /// rounding up).
    pub fn until(&self, ms: u64) -> Duration {
        let micros = (ms.saturating_sub(self.origin_ms) * 1000).div_ceil(self.speed);
        (self.origin + Duration::from_micros(micros)).saturating_duration_since(Instant::now())
    }

    /// A span of this clock's time in real time.
    pub fn real(&self, d: Duration) -> Duration {
        d / self.speed as u32
    }
}

/// The sampler with the interface it attributes traffic to.
#[derive(Debug)]
pub struct EngineState {
    /// The windowing state machine.
    pub sampler: Sampler,
    /// Current default interface name, as the host gave it.
    pub interface: String,
    /// Its kind, as the host gave it.
    pub kind: InterfaceKind,
}

/// Counters of the threads' work, read by `stats()`.
#[derive(Debug, Default)]
pub struct Counts {
    /// Events emitted by the sampler.
    pub events: AtomicU64,
    /// Entries appended to the log.
    pub entries_written: AtomicU64,
    /// Bytes appended to the log.
    pub bytes_written: AtomicU64,
    /// Sampler and writer thread wake-ups.
    pub wakeups: AtomicU64,
    /// Failed appends or fsyncs.
    pub write_errors: AtomicU64,
}

/// Everything the logger's threads and its handle share.
pub struct Shared {
    /// The logger's configuration.
    pub config: Config,
    /// The label counters the host pushes into.
    pub counters: Arc<Counters>,
    /// Label names.
    pub labels: LabelNames,
    /// The shared timeline.
    pub clock: Clock,
    /// Sampler and interface; locked briefly by ticks and control calls.
    pub engine: Mutex<EngineState>,
    /// Pending entries between the sampler and the writer.
    pub queue: Mutex<PendingQueue>,
    /// Wakes the writer when the queue stops being empty, and at shutdown.
    pub queue_cv: Condvar,
    /// The writer sleeps without a timeout, waiting for the first entry.
    pub writer_waiting: AtomicBool,
    /// Serialises writes to the log (sequence numbers, retry buffer).
    pub writer: Mutex<WriterState>,
    /// The on-disk log, shared with the uploader.
    pub files: Arc<Mutex<LogFiles>>,
    /// The uploader, started at the first flush.
    pub uploader: OnceLock<Uploader>,
    /// A host transport to upload through instead of the built-in client.
    pub transport: Option<Arc<dyn Transport>>,
    /// Work counters.
    pub counts: Counts,
    /// Set once `shutdown` starts: every later call gets `Closed`.
    pub closed: AtomicBool,
    /// Tells the threads to exit.
    pub stop: AtomicBool,
}

pub(crate) use crate::sync::lock;

impl Shared {
    /// Queues an entry; wakes the writer only if it sleeps waiting for one.
    pub fn push(&self, p: Pending) {
        let mut q = lock(&self.queue);
        let was_empty = q.is_empty();
        q.push(p);
        if was_empty && self.writer_waiting.load(SeqCst) {
            self.queue_cv.notify_one();
        }
    }

    fn push_event(&self, ev: Event) {
        self.counts.events.fetch_add(1, Relaxed);
        self.push(Pending::Event(ev));
    }

    /// Runs the ticks a control call at `now` must see first (those strictly
    /// before it: a call at a tick's instant counts in that tick).
    fn catch_up<'a>(&'a self, now: u64) -> MutexGuard<'a, EngineState> {
        let mut eng = lock(&self.engine);
        eng.sampler.run_ticks(now, false, &self.counters, |ev| self.push_event(ev));
        eng
    }

    /// Starts sampling now; queues the header entry first. Returns whether
    /// the state changed.
    pub fn enable(&self) -> bool {
        let now = self.clock.now_ms();
        let mut eng = self.catch_up(now);
        if eng.sampler.is_enabled() {
            return false;
        }
        let poll_ms = self.config.poll_interval.as_millis() as u64;
        self.push(Pending::Object(wire::header_object(poll_ms, &self.labels.named())));
        eng.sampler.enable(now, &self.counters);
        drop(eng);
        self.wake_sampler();
        true
    }

    /// Stops sampling now, queueing the closed window. Returns whether the
    /// state changed.
    pub fn disable(&self) -> bool {
        let now = self.clock.now_ms();
        let mut eng = self.catch_up(now);
        if !eng.sampler.is_enabled() {
            return false;
        }
        if let Some(ev) = eng.sampler.disable(now, &self.counters) {
            self.push_event(ev);
        }
        true
    }

    /// Records the default interface; a cellular flip closes the window now.
    pub fn set_interface(&self, name: &str, kind: InterfaceKind) {
        let now = self.clock.now_ms();
        let mut eng = self.catch_up(now);
        if let Some(ev) = eng.sampler.set_cellular(now, is_cellular(name, kind), &self.counters) {
            self.push_event(ev);
        }
        eng.interface = name.to_string();
        eng.kind = kind;
    }

    /// Makes the sampler thread re-read its deadline.
    pub fn wake_sampler(&self) {
        if let Some(t) = self.counters.sampler_thread() {
            t.unpark();
        }
    }

    /// The sampler thread's body: tick when due, sleep until the next tick,
    /// or sleep without a timeout while disabled or idle.
    pub fn run_sampler(self: Arc<Self>) {
        while !self.stop.load(SeqCst) {
            let now = self.clock.now_ms();
            let deadline = {
                let mut eng = lock(&self.engine);
                eng.sampler.run_ticks(now, true, &self.counters, |ev| self.push_event(ev));
                eng.sampler.next_deadline()
            };
            match deadline {
                Some(t) => thread::park_timeout(self.clock.until(t)),
                None => thread::park(),
            }
            self.counts.wakeups.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeping_until_a_time_always_reaches_it_at_any_speed() {
        for speed in [1, 7, 100, 1000] {
            let c = Clock::start(speed);
            for step in [1, 3, 50] {
                let t = c.now_ms() + step;
                thread::sleep(c.until(t));
                assert!(c.now_ms() >= t, "speed {speed}, step {step}");
            }
            assert_eq!(c.until(0), Duration::ZERO, "a past time is due now");
        }
    }

    #[test]
    fn a_fast_clock_runs_ahead_by_its_speed() {
        let c = Clock::start(1000);
        let before = c.now_ms();
        thread::sleep(Duration::from_millis(20));
        // At least 20 ms real = 20 s simulated; no upper bound is asserted.
        assert!(c.now_ms() - before >= 20_000);
        assert_eq!(c.real(Duration::from_secs(10)), Duration::from_millis(10));
    }
}
