//! Bytes nobody labelled: the OS's own count of the app's socket bytes (the
//! log's `{"os":{"tx","rx"}}` entries, Android's per-UID totals) against the
//! labels' bytes over the same stretch of the log. Per interval between two
//! `os` entries, and in total: unattributed = OS delta − the labels' delta.
//!
//! The stretch is the log's own order: the labels' bytes of an interval are
//! those of the events written between the two `os` entries (the writer puts
//! the `os` entry after the events of its batch), so no clock is compared.
//! The OS counts IP and tunnel headers that labels counting payload do not,
//! so a host that labels everything sees a small steady overhead, which the
//! report names as such; a larger share means traffic no label counted.
//! A total that went down (a reboot resets Android's counters) starts afresh:
//! that interval is left out and counted.

use serde::Serialize;
use std::fmt::Write as _;

/// Largest unattributed share of the OS's bytes still read as header
/// overhead, percent. IPv6 + UDP + a WireGuard data header is 88 bytes on a
/// 1 280-byte tunnel packet (about 7 %); small packets push it up, so 10 %.
pub const HEADER_OVERHEAD_MAX_PERCENT: f64 = 10.0;

/// One `os` entry as read, with the labels' bytes since the previous one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsSample {
    /// The OS's cumulative bytes sent.
    pub tx: u64,
    /// The OS's cumulative bytes received.
    pub rx: u64,
    /// Labels' bytes (tx + rx) in the events between the previous `os` entry and this one.
    pub label_bytes: u64,
    /// End of the last window before this entry, Unix ms (where a chart puts it).
    pub at_ms: Option<i64>,
}

/// One interval between two `os` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Interval {
    /// Where the interval starts (the earlier entry's `at_ms`), Unix ms.
    pub start_ms: Option<i64>,
    /// Where the interval ends (the later entry's `at_ms`), Unix ms.
    pub end_ms: Option<i64>,
    /// The OS's bytes (tx + rx) in it.
    pub os_bytes: u64,
    /// The labels' bytes in it.
    pub label_bytes: u64,
    /// `os_bytes − label_bytes`; negative when the labels counted more.
    pub unattributed: i64,
}

/// The summary over the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unattributed {
    /// Per interval, in log order.
    pub intervals: Vec<Interval>,
    /// The OS's bytes over every interval.
    pub os_bytes: u64,
    /// The labels' bytes over the same intervals.
    pub label_bytes: u64,
    /// `os_bytes − label_bytes`.
    pub unattributed: i64,
    /// Unattributed share of the OS's bytes, percent.
    pub percent: f64,
    /// Intervals left out because an OS total went down (a reboot).
    pub resets: u64,
    /// What the figure most likely is.
    pub verdict: &'static str,
}

/// The verdict for a small, non-negative share.
pub const VERDICT_HEADERS: &str =
    "a small steady overhead: IP and tunnel headers, which the OS counts and labels do not";
/// The verdict for a larger share.
pub const VERDICT_UNLABELLED: &str = "traffic no label counted: a subsystem the host does not label?";
/// The verdict when the labels counted more than the OS.
pub const VERDICT_OVERCOUNTED: &str = "the labels counted more than the OS: bytes pushed that never crossed a socket?";

/// The summary, or `None` without two `os` entries to compare.
pub fn summarise(samples: &[OsSample]) -> Option<Unattributed> {
    let mut intervals = Vec::new();
    let mut resets = 0;
    for pair in samples.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.tx < a.tx || b.rx < a.rx {
            resets += 1;
            continue;
        }
        let os_bytes = (b.tx - a.tx).saturating_add(b.rx - a.rx);
        let unattributed = signed(os_bytes) - signed(b.label_bytes);
        intervals.push(Interval {
            start_ms: a.at_ms,
            end_ms: b.at_ms,
            os_bytes,
            label_bytes: b.label_bytes,
            unattributed,
        });
    }
    if intervals.is_empty() && resets == 0 {
        return None;
    }
    let os_bytes: u64 = intervals.iter().map(|i| i.os_bytes).sum();
    let label_bytes: u64 = intervals.iter().map(|i| i.label_bytes).sum();
    let unattributed = signed(os_bytes) - signed(label_bytes);
    let percent = if os_bytes == 0 { 0.0 } else { unattributed as f64 * 100.0 / os_bytes as f64 };
    let verdict = match unattributed {
        u if u < 0 => VERDICT_OVERCOUNTED,
        _ if percent <= HEADER_OVERHEAD_MAX_PERCENT => VERDICT_HEADERS,
        _ => VERDICT_UNLABELLED,
    };
    Some(Unattributed { intervals, os_bytes, label_bytes, unattributed, percent, resets, verdict })
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The chart's line: per interval with a known start and end, `(start,
/// end, unattributed bytes per second)`, seconds since `origin_ms`; a
/// negative figure is drawn at 0.
pub fn chart_steps(u: &Unattributed, origin_ms: i64) -> Vec<(f64, f64, f64)> {
    let secs = |ms: i64| (ms - origin_ms) as f64 / 1000.0;
    u.intervals
        .iter()
        .filter_map(|iv| {
            let (a, b) = (iv.start_ms?, iv.end_ms?);
            (b > a).then(|| (secs(a), secs(b), iv.unattributed.max(0) as f64 * 1000.0 / (b - a) as f64))
        })
        .collect()
}

/// The report's text section.
pub fn render(u: &Unattributed, out: &mut String) {
    let human = |n: i64| {
        let s = super::text::human_bytes(n.unsigned_abs() as f64);
        if n < 0 {
            format!("-{s}")
        } else {
            s
        }
    };
    let _ = writeln!(
        out,
        "\nunattributed bytes (OS totals − labels, {} intervals): {} of the OS's {} ({:.1}%): {}",
        u.intervals.len(),
        human(u.unattributed),
        human(signed(u.os_bytes)),
        u.percent,
        u.verdict
    );
    if u.resets > 0 {
        let _ = writeln!(out, "  {} intervals left out: an OS total went down (a reboot)", u.resets);
    }
    for (i, iv) in u.intervals.iter().enumerate() {
        let _ = writeln!(
            out,
            "  interval {:>3}: OS {:>10}  labels {:>10}  unattributed {:>10}",
            i + 1,
            human(signed(iv.os_bytes)),
            human(signed(iv.label_bytes)),
            human(iv.unattributed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(tx: u64, rx: u64, label_bytes: u64) -> OsSample {
        OsSample { tx, rx, label_bytes, at_ms: None }
    }

    #[test]
    fn unattributed_is_the_os_delta_minus_the_labels_delta_per_interval() {
        // (case, samples, per-interval unattributed, verdict)
        type Case = (&'static str, Vec<OsSample>, Vec<i64>, Option<&'static str>);
        let cases: Vec<Case> = vec![
            ("one-entry", vec![s(10, 10, 0)], vec![], None),
            (
                "headers",
                vec![s(1_000, 1_000, 999), s(2_050, 2_000, 1_900), s(3_100, 3_000, 1_900)],
                vec![150, 150],
                Some(VERDICT_HEADERS),
            ),
            ("forgotten-subsystem", vec![s(0, 0, 0), s(10_000, 0, 1_000)], vec![9_000], Some(VERDICT_UNLABELLED)),
            ("overcounted", vec![s(0, 0, 0), s(100, 0, 500)], vec![-400], Some(VERDICT_OVERCOUNTED)),
            ("reboot", vec![s(500, 500, 0), s(10, 10, 5), s(110, 10, 100)], vec![0], Some(VERDICT_HEADERS)),
        ];
        for (name, samples, want, verdict) in cases {
            let got = summarise(&samples);
            assert_eq!(got.as_ref().map(|u| u.verdict), verdict, "{name}");
            let per: Vec<i64> = got.iter().flat_map(|u| &u.intervals).map(|i| i.unattributed).collect();
            assert_eq!(per, want, "{name}");
            if let Some(u) = got {
                assert_eq!(u.unattributed, want.iter().sum::<i64>(), "{name}: the total is the intervals' sum");
            }
        }
    }
}
