//! The radio model against upstream's `TestRadioMonitor` (net/sockstats):
//! the same activity sequences, the same stall period (3 s in that test), the
//! same percentages.

use sockstatlog_tools::report::radio::{UpstreamRadioMonitor, INIT_STALL_SECONDS};

/// 2021-01-01T00:00:00Z, where upstream's test clock starts.
const START_SEC: i64 = 1_609_459_200;
/// Upstream's test lowers the 120 s stall period to this.
const TEST_STALL_SECONDS: i64 = 3;

#[derive(Clone, Copy)]
enum Step {
    /// Cellular I/O now.
    Active,
    /// The clock moves on, milliseconds.
    Advance(i64),
}
use Step::*;

/// Runs the steps on a millisecond clock, as upstream's monitor sees them
/// (whole Unix seconds), and returns the percentage at the end.
fn run(steps: &[Step], stall: i64) -> i64 {
    let mut now_ms = START_SEC * 1000;
    let mut monitor = UpstreamRadioMonitor::new(START_SEC);
    for step in steps {
        match step {
            Active => monitor.active(now_ms.div_euclid(1000)),
            Advance(ms) => now_ms += ms,
        }
    }
    monitor.high_percent(now_ms.div_euclid(1000), stall)
}

#[test]
fn reproduces_upstream_test_radio_monitor() {
    let two_active_then_idle_minute: Vec<Step> =
        (0..400).flat_map(|_| [Active, Advance(1000), Active, Advance(59_000)]).collect();
    let cases: [(&str, Vec<Step>, i64); 6] = [
        ("no activity", vec![], 0),
        // Period 2 s < stall 3 s.
        ("active less than init stall period", vec![Active, Advance(1000)], 0),
        // 1 active + 4 idle-tail seconds of a 10 s period.
        ("active, 10 sec idle", vec![Active, Advance(9000)], 50),
        // Seconds 0 and 2 active, 1 is tail: 3 of 3.
        ("active, spanning three seconds", vec![Active, Advance(2100), Active], 100),
        // 2 active + 4 tail per minute = 360 of 3600; wraps the ring 6 times.
        ("400 iterations: 2 sec active, 1 min idle", two_active_then_idle_minute, 10),
        // Only the last of 4 seconds is high (no tail after "now").
        ("activity at end of time window", vec![Advance(3000), Active], 25),
    ];
    for (name, steps, want) in cases {
        assert_eq!(run(&steps, TEST_STALL_SECONDS), want, "{name}");
    }
}

#[test]
fn the_default_stall_period_hides_the_first_two_minutes() {
    assert_eq!(INIT_STALL_SECONDS, 120);
    assert_eq!(run(&[Active, Advance(118_000)], INIT_STALL_SECONDS), 0);
    // 119 s since start is a 120 s period: 5 high seconds → 4 %.
    assert_eq!(run(&[Active, Advance(119_000)], INIT_STALL_SECONDS), 4);
}
