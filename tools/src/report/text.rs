//! The report as text for a terminal, and the human-readable units shared
//! with the charts.

use super::Report;
use std::fmt::Write;

/// Binary unit steps: logs are sized in KiB/MiB (5 MiB default), so are reports.
const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// `1536` → `1.5 KiB`; whole bytes below 1 KiB.
pub fn human_bytes(bytes: f64) -> String {
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The binary unit to show values up to `max` bytes in: `(bytes per unit, name)`.
/// Charts scale their axis by it so that ticks fall on round numbers of the unit.
pub fn binary_unit(max: f64) -> (f64, &'static str) {
    let mut scale = 1.0;
    let mut unit = 0;
    while max / scale >= 1024.0 && unit + 1 < UNITS.len() {
        scale *= 1024.0;
        unit += 1;
    }
    (scale, UNITS[unit])
}

/// A tick value without needless decimals: `2`, `2.5`, `0.25`.
pub fn tick(value: f64) -> String {
    let s = format!("{value:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A rate in bytes per second, e.g. `12.0 KiB/s`.
pub fn human_rate(bytes_per_sec: f64) -> String {
    format!("{}/s", human_bytes(bytes_per_sec))
}

/// Seconds as `m:ss`, or `h:mm:ss` from one hour.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Unix milliseconds as `2023-03-29 01:44:44 UTC` (whole seconds, rounded
/// down; Unix time, so no leap seconds).
pub fn utc_datetime(unix_ms: i64) -> String {
    format!("{} UTC", super::calendar::datetime(unix_ms))
}

/// The table, the totals and the radio summary.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} entries, {} events, poll {} ms",
        report.source.display(),
        report.entries,
        report.events,
        report.poll_ms
    );
    let _ = writeln!(out, "{}", span_line(report));
    if report.duplicates > 0 || report.torn_lines > 0 || report.corrupt_lines > 0 {
        let _ = writeln!(
            out,
            "skipped: duplicate entries {}, torn lines {}, corrupt lines {}",
            report.duplicates, report.torn_lines, report.corrupt_lines
        );
    }
    if let Some(first) = &report.first_corrupt {
        let _ = writeln!(out, "first corrupt line: {first}");
    }
    if report.clamped_names > 0 {
        let _ = writeln!(
            out,
            "label names cut to {} characters: {}",
            super::parse::MAX_LABEL_NAME_CHARS,
            report.clamped_names
        );
    }
    let name_width = report.labels.iter().map(|r| r.name.len()).chain([5]).max().unwrap_or(5);
    let _ = writeln!(
        out,
        "\n{:<name_width$}  {:>10}  {:>10}  {:>6}  {:>10}  {:>8}  {:>12}  {:>8}",
        "label", "tx", "rx", "share", "cellular", "windows", "peak rate", "radio s"
    );
    for r in &report.labels {
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>10}  {:>10}  {:>5.1}%  {:>10}  {:>8}  {:>12}  {:>8.1}",
            r.name,
            human_bytes(r.tx as f64),
            human_bytes(r.rx as f64),
            r.share * 100.0,
            human_bytes(r.cellular_bytes as f64),
            r.active_windows,
            human_rate(r.peak_bytes_per_sec),
            r.radio_seconds
        );
    }
    let t = &report.totals;
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>10}  {:>10}  {:>6}  {:>10}  {:>8}  {:>12}  {:>8}",
        "total",
        human_bytes(t.tx as f64),
        human_bytes(t.rx as f64),
        "",
        human_bytes(t.cellular_bytes as f64),
        report.events,
        "",
        report.radio.high_seconds
    );
    let r = &report.radio;
    let _ = writeln!(
        out,
        "\nradio: {} active cellular seconds kept the radio high for {} s ({}); \
         upstream radio high percent: {}% over the last hour of the log, {}% over the whole log",
        r.active_seconds,
        r.high_seconds,
        human_duration(r.high_seconds as f64),
        r.high_percent_last_hour,
        r.high_percent_whole_log
    );
    if let Some(u) = &report.unattributed {
        super::unattributed::render(u, &mut out);
    }
    out.push_str(&legend());
    out
}

/// `span 3:20, 2023-03-29 01:44:44 UTC to 2023-03-29 01:48:04 UTC`: the
/// first window's start and the last one's end, so that a log can be lined
/// up with a device's own logs and a server's.
fn span_line(report: &Report) -> String {
    match (report.start_ms, report.end_ms, report.span_ms()) {
        (Some(start), Some(end), Some(span)) => {
            format!("span {}, {} to {}", human_duration(span as f64 / 1000.0), utc_datetime(start), utc_datetime(end))
        }
        _ => "span: empty (no events)".into(),
    }
}

/// What the radio figures mean, under them.
fn legend() -> String {
    use super::radio::{INIT_STALL_SECONDS, RADIO_HIGH_IDLE_SECONDS, RADIO_SAMPLE_SECONDS};
    let tail = RADIO_HIGH_IDLE_SECONDS - 1;
    format!(
        "\nlegend:\n  \
         radio s: seconds of cellular radio high-power time charged to the label. A second with cellular I/O\n    \
         keeps the radio high, and so do the {tail} idle seconds after it; an active second is shared among its\n    \
         labels by bytes, an idle one goes like the second before it. The column adds up to the total.\n  \
         radio high percent: upstream's figure (net/sockstats): the share of seconds the radio was high, over\n    \
         the log's last {} minutes (0 for a log under {INIT_STALL_SECONDS} s, as upstream) and over the whole log.\n",
        RADIO_SAMPLE_SECONDS / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_binary_and_durations_clock_like() {
        assert_eq!(human_bytes(0.0), "0 B");
        assert_eq!(human_bytes(1023.0), "1023 B");
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(5.0 * 1024.0 * 1024.0), "5.0 MiB");
        assert_eq!(human_rate(2048.0), "2.0 KiB/s");
        assert_eq!(human_duration(75.0), "1:15");
        assert_eq!(binary_unit(1000.0), (1.0, "B"));
        assert_eq!(binary_unit(3.0 * 1024.0 * 1024.0), (1024.0 * 1024.0, "MiB"));
        assert_eq!(
            (tick(2.0), tick(2.5), tick(0.25), tick(0.0)),
            ("2".into(), "2.5".into(), "0.25".into(), "0".into())
        );
        assert_eq!(human_duration(3725.0), "1:02:05");
    }

    #[test]
    fn report_times_name_their_zone() {
        assert_eq!(utc_datetime(1_680_054_284_000), "2023-03-29 01:44:44 UTC");
    }
}
