//! The logger's timeline: Unix milliseconds on a clock that keeps counting
//! while the device sleeps, anchored to the wall clock at each `enable`.
//!
//! `Instant` will not do on a phone: on Android it is CLOCK_MONOTONIC and on
//! iOS CLOCK_UPTIME_RAW, and both stop while the device is suspended, so after
//! a night asleep every event would be hours behind its `client_time`. The
//! clocks that count sleep are CLOCK_BOOTTIME on Linux and Android and
//! CLOCK_MONOTONIC on Apple platforms (there CLOCK_UPTIME_RAW is the one that
//! stops). The wall clock is read only when anchoring, so a wall-clock step
//! while enabled never bends a window; the next `enable` re-anchors.
//!
//! Tests replace the system source with a manual one (`#[cfg(test)]`), which
//! lets them suspend the device: move both clocks by hours without any real
//! time passing.

use std::time::Duration;

/// Nanoseconds per millisecond.
const NS_PER_MS: u64 = 1_000_000;

/// Where the clock reads its time from.
#[derive(Debug, Clone)]
enum Source {
    /// The operating system's sleep-counting clock and wall clock.
    System,
    /// Time a test moves by hand.
    #[cfg(test)]
    Manual(std::sync::Arc<manual::ManualTime>),
}

impl Source {
    /// Nanoseconds on a monotonic clock that counts time asleep.
    fn awake_or_asleep_ns(&self) -> u64 {
        match self {
            Source::System => system_boot_ns(),
            #[cfg(test)]
            Source::Manual(m) => m.boot_ns(),
        }
    }

    /// The wall clock, Unix milliseconds.
    fn wall_ms(&self) -> u64 {
        match self {
            Source::System => (crate::wire::now_unix_ns() / u128::from(NS_PER_MS)) as u64,
            #[cfg(test)]
            Source::Manual(m) => m.wall_ms(),
        }
    }
}

/// The clock id that keeps counting while the device is suspended.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SLEEP_COUNTING_CLOCK: libc::clockid_t = libc::CLOCK_BOOTTIME;
/// On Apple platforms CLOCK_MONOTONIC counts sleep (it is
/// `mach_continuous_time`); CLOCK_UPTIME_RAW, behind `Instant`, does not.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SLEEP_COUNTING_CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;

/// Reads [`SLEEP_COUNTING_CLOCK`] in nanoseconds.
fn system_boot_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // every supported kernel knows, so the call cannot fail (it returns -1
    // only for a bad id or pointer, and then `ts` stays 0: time stands still
    // rather than the logger panicking inside the host).
    unsafe { libc::clock_gettime(SLEEP_COUNTING_CLOCK, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// Where the timeline was pinned to the wall clock.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    wall_ms: u64,
    boot_ns: u64,
}

/// The logger's clock: the wall clock at the last [`Clock::anchor`], advanced
/// by the sleep-counting clock (times `speed` in simulations). Not shared
/// between threads by itself: the engine keeps it under its lock, so every
/// reading is ordered with the sampler's state.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    source: Source,
    anchor: Anchor,
    speed: u64,
}

impl Clock {
    /// The system clock, anchored now, running `speed` times faster than real
    /// time (1 is real time; the demo and soak runs simulate faster).
    pub(crate) fn system(speed: u32) -> Self {
        Self::with_source(Source::System, speed)
    }

    fn with_source(source: Source, speed: u32) -> Self {
        let anchor = Anchor { wall_ms: source.wall_ms(), boot_ns: source.awake_or_asleep_ns() };
        Clock { source, anchor, speed: u64::from(speed.max(1)) }
    }

    /// Pins the timeline to the wall clock now. The engine calls it at each
    /// `enable`, while sampling is off, so no open window sees time jump.
    pub(crate) fn anchor(&mut self) {
        self.anchor = Anchor { wall_ms: self.source.wall_ms(), boot_ns: self.source.awake_or_asleep_ns() };
    }

    /// Now, in Unix milliseconds on this timeline. Never goes backwards
    /// between two anchors.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed_ns = self.source.awake_or_asleep_ns().saturating_sub(self.anchor.boot_ns);
        let scaled_ms = u128::from(elapsed_ns) * u128::from(self.speed) / u128::from(NS_PER_MS);
        self.anchor.wall_ms.saturating_add(u64::try_from(scaled_ms).unwrap_or(u64::MAX))
    }

    /// How long to sleep, in real time, until `ms` on this timeline (zero if
    /// past). Sleeping at least this long guarantees that [`Clock::now_ms`]
    /// then reads at least `ms` (hence the rounding up); a sleep that the
    /// device's suspend stretches only makes it later.
    pub(crate) fn until(&self, ms: u64) -> Duration {
        let ahead_ms = ms.saturating_sub(self.now_ms());
        let micros = (u128::from(ahead_ms) * 1000).div_ceil(u128::from(self.speed));
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
pub(crate) mod manual {
    //! A clock a test moves by hand, including across a simulated suspend.

    use super::{Clock, Source, NS_PER_MS};
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::Duration;

    /// The device's clocks as a test sets them.
    #[derive(Debug)]
    pub(crate) struct ManualTime {
        /// The sleep-counting clock, ns.
        boot: AtomicU64,
        /// The wall clock, Unix ms.
        wall: AtomicU64,
    }

    impl ManualTime {
        /// Clocks at wall time `wall_ms`, and a clock reading this source.
        pub(crate) fn start(wall_ms: u64, speed: u32) -> (Arc<ManualTime>, Clock) {
            let t = Arc::new(ManualTime { boot: AtomicU64::new(1_000 * NS_PER_MS), wall: AtomicU64::new(wall_ms) });
            let clock = Clock::with_source(Source::Manual(t.clone()), speed);
            (t, clock)
        }

        /// Time passes with the device awake (or asleep: the sleep-counting
        /// clock and the wall clock move alike either way; only clocks like
        /// `Instant` would stand still, and the logger reads none of them).
        pub(crate) fn advance(&self, d: Duration) {
            self.boot.fetch_add(d.as_nanos() as u64, SeqCst);
            self.wall.fetch_add(d.as_millis() as u64, SeqCst);
        }

        /// The wall clock steps (NTP, the user) without time passing.
        pub(crate) fn step_wall(&self, by_ms: i64) {
            let w = self.wall.load(SeqCst).saturating_add_signed(by_ms);
            self.wall.store(w, SeqCst);
        }

        pub(super) fn boot_ns(&self) -> u64 {
            self.boot.load(SeqCst)
        }

        /// The wall clock now, Unix ms.
        pub(crate) fn wall_ms(&self) -> u64 {
            self.wall.load(SeqCst)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::manual::ManualTime;
    use super::*;

    const T0: u64 = 1_796_000_000_000; // a 2026 wall time, ms

    #[test]
    fn the_timeline_keeps_the_wall_clocks_pace_across_an_eight_hour_suspend() {
        let (dev, clock) = ManualTime::start(T0, 1);
        dev.advance(Duration::from_millis(250));
        assert_eq!(clock.now_ms(), T0 + 250);
        dev.advance(Duration::from_secs(8 * 3600)); // asleep
        assert_eq!(clock.now_ms(), dev.wall_ms());
    }

    #[test]
    fn a_wall_clock_step_bends_nothing_until_the_next_anchor() {
        let (dev, mut clock) = ManualTime::start(T0, 1);
        dev.advance(Duration::from_millis(100));
        dev.step_wall(-60_000);
        assert_eq!(clock.now_ms(), T0 + 100, "no step while anchored");
        clock.anchor();
        assert_eq!(clock.now_ms(), dev.wall_ms(), "re-anchored");
    }

    #[test]
    fn sleeping_until_a_time_always_reaches_it_at_any_speed() {
        for speed in [1, 7, 100, 1000] {
            let (dev, clock) = ManualTime::start(T0, speed);
            for step in [1, 3, 50, 999] {
                let target = clock.now_ms() + step;
                // The real sleep `until` asks for, applied to the sleep-counting clock.
                let real = clock.until(target);
                dev.advance(real * speed);
                assert!(clock.now_ms() >= target, "speed {speed}, step {step}");
            }
            assert_eq!(clock.until(0), Duration::ZERO, "a past time is due now");
        }
    }

    #[test]
    fn the_system_source_counts_at_least_what_the_monotonic_clock_counts() {
        // CLOCK_BOOTTIME = CLOCK_MONOTONIC + time suspended: never behind it.
        let mono = || {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
        };
        let (m0, b0) = (mono(), system_boot_ns());
        assert!(b0 >= m0, "read after it, so never behind it");
        std::thread::sleep(Duration::from_millis(5));
        assert!(system_boot_ns() - b0 >= 5_000_000, "a 5 ms sleep advances it at least 5 ms");
    }

    #[test]
    fn a_fast_clock_runs_ahead_by_its_speed() {
        let (dev, clock) = ManualTime::start(T0, 1000);
        dev.advance(Duration::from_millis(20));
        assert_eq!(clock.now_ms(), T0 + 20_000);
    }
}
