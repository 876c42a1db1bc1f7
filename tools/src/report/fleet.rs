//! The fleet report (`sockstatlog report --postgres URL --fleet`), computed
//! in the database from the hourly rollups the collector maintains with
//! every insert: per label, bytes sent and received over every network and
//! the cellular part, and on how many devices; the devices that moved the
//! most. Also the resolution of a `--log-id` a person gives (the backend ID,
//! or either sockstat ID) to the log the collector stores.
//!
//! Times select whole hours: the rollups are hourly, so `--since S` keeps
//! the hours that end after S (the hour containing S included) and
//! `--until U` the hours that start before U; `from`/`to` are the first and
//! last event times (`t`, ms) actually counted.

use crate::collector::error::{Error, Result};
use crate::collector::pg::pg_err;
use crate::report::calendar;
use crate::report::text::human_bytes;
use deadpool_postgres::Pool;
use serde::Serialize;
use sockstatlog::logid::{sockstat_private_id, PrivateId, PublicId};
use std::fmt::Write as _;

/// Devices listed unless `--top N` says otherwise.
pub const DEFAULT_TOP: usize = 20;
/// One hour in ms: the rollups' granularity.
const HOUR_MS: i64 = 3_600_000;

/// What to report on.
#[derive(Debug, Clone)]
pub struct FleetQuery {
    /// Event time (ms) from which to count; `None`: from the start.
    pub since_ms: Option<i64>,
    /// Event time (ms) up to which to count; `None`: to the end.
    pub until_ms: Option<i64>,
    /// Devices listed in `top_devices`.
    pub top: usize,
}

/// One label across the fleet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FleetLabel {
    /// The label (0-255).
    pub label: i16,
    /// The name most devices registered for it, if any did.
    pub name: Option<String>,
    /// Bytes sent, every network.
    pub tx: i64,
    /// Bytes received, every network.
    pub rx: i64,
    /// The cellular part of `tx`.
    pub cellular_tx: i64,
    /// The cellular part of `rx`.
    pub cellular_rx: i64,
    /// Devices on which it moved bytes.
    pub devices: i64,
}

/// One device, named by its public sockstat ID.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FleetDevice {
    /// The public sockstat log ID (the private one is a write credential).
    pub log_id: String,
    /// Bytes sent.
    pub tx: i64,
    /// Bytes received.
    pub rx: i64,
    /// The cellular part of `tx`.
    pub cellular_tx: i64,
    /// The cellular part of `rx`.
    pub cellular_rx: i64,
}

/// The fleet report; serialised as the `--json` output.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Fleet {
    /// Devices with entries in the period.
    pub devices: i64,
    /// Events (entries with a time) in the period.
    pub entries: i64,
    /// First event time counted, ms (null when nothing is).
    pub from: Option<i64>,
    /// Last event time counted, ms.
    pub to: Option<i64>,
    /// Labels by tx+rx, descending.
    pub labels: Vec<FleetLabel>,
    /// Devices by tx+rx, descending, at most `top`.
    pub top_devices: Vec<FleetDevice>,
}

/// The hour range `[lo, hi)` (hour starts, ms) a query covers.
fn hour_range(q: &FleetQuery) -> (i64, i64) {
    let lo = q.since_ms.map_or(i64::MIN, |s| s.div_euclid(HOUR_MS) * HOUR_MS);
    let hi = q.until_ms.unwrap_or(i64::MAX);
    (lo, hi)
}

const TOTALS: &str = "SELECT count(DISTINCT log_id), coalesce(sum(entries), 0)::int8, min(first_t), max(last_t)
    FROM sockstatlog_hours WHERE hour >= $1 AND hour < $2";

/// Devices per label by grouping per (label, device) first: a hash
/// aggregate of at most labels x devices groups, where `count(DISTINCT)`
/// would sort every rollup row (9.3 s against 10 M rows, see BENCHMARKS.md).
const LABELS: &str = "SELECT label, sum(tx)::int8, sum(rx)::int8, sum(ctx)::int8, sum(crx)::int8, count(*)
    FROM (SELECT label, log_id, sum(tx) AS tx, sum(rx) AS rx,
                 coalesce(sum(tx) FILTER (WHERE cellular), 0) AS ctx,
                 coalesce(sum(rx) FILTER (WHERE cellular), 0) AS crx
          FROM sockstatlog_rollup WHERE hour >= $1 AND hour < $2
          GROUP BY label, log_id) AS per_device
    GROUP BY label ORDER BY sum(tx) + sum(rx) DESC, label";

const NAMES: &str = "SELECT DISTINCT ON (label) label, name
    FROM (SELECT label, name, count(*) AS devices FROM sockstatlog_label_names GROUP BY label, name) AS n
    ORDER BY label, devices DESC, name";

const TOP: &str = "SELECT l.public_id, r.tx, r.rx, r.ctx, r.crx
    FROM (SELECT log_id, sum(tx)::int8 AS tx, sum(rx)::int8 AS rx,
                 coalesce(sum(tx) FILTER (WHERE cellular), 0)::int8 AS ctx,
                 coalesce(sum(rx) FILTER (WHERE cellular), 0)::int8 AS crx
          FROM sockstatlog_rollup WHERE hour >= $1 AND hour < $2
          GROUP BY log_id ORDER BY sum(tx) + sum(rx) DESC, log_id LIMIT $3) AS r
    JOIN sockstatlog_logs AS l USING (log_id)
    ORDER BY r.tx + r.rx DESC, l.public_id";

/// The statements [`fleet`] runs, for EXPLAIN in the benchmark.
pub fn statements() -> [(&'static str, &'static str); 3] {
    [("totals", TOTALS), ("labels", LABELS), ("top devices", TOP)]
}

/// Computes the fleet report in the database.
pub async fn fleet(pool: &Pool, server: &str, q: &FleetQuery) -> Result<Fleet> {
    let client = pool.get().await.map_err(|e| pg_err(server, "connecting", e))?;
    let (lo, hi) = hour_range(q);
    let top = i64::try_from(q.top).unwrap_or(i64::MAX);
    let totals = client.query_one(TOTALS, &[&lo, &hi]).await.map_err(|e| pg_err(server, "fleet totals", e))?;
    let names = client.query(NAMES, &[]).await.map_err(|e| pg_err(server, "label names", e))?;
    let names: std::collections::HashMap<i16, String> = names.iter().map(|r| (r.get(0), r.get(1))).collect();
    let labels = client.query(LABELS, &[&lo, &hi]).await.map_err(|e| pg_err(server, "fleet labels", e))?;
    let devices = client.query(TOP, &[&lo, &hi, &top]).await.map_err(|e| pg_err(server, "top devices", e))?;
    Ok(Fleet {
        devices: totals.get(0),
        entries: totals.get(1),
        from: totals.get(2),
        to: totals.get(3),
        labels: labels
            .iter()
            .map(|r| FleetLabel {
                label: r.get(0),
                name: names.get(&r.get::<_, i16>(0)).cloned(),
                tx: r.get(1),
                rx: r.get(2),
                cellular_tx: r.get(3),
                cellular_rx: r.get(4),
                devices: r.get(5),
            })
            .collect(),
        top_devices: devices
            .iter()
            .map(|r| FleetDevice {
                log_id: r.get(0),
                tx: r.get(1),
                rx: r.get(2),
                cellular_tx: r.get(3),
                cellular_rx: r.get(4),
            })
            .collect(),
    })
}

/// The fleet report as a table.
pub fn render_text(f: &Fleet) -> String {
    let mut out = String::new();
    let span = match (f.from, f.to) {
        (Some(a), Some(b)) => format!("{} to {} UTC", calendar::datetime(a), calendar::datetime(b)),
        _ => "no events".to_string(),
    };
    let _ = writeln!(out, "fleet: {} devices, {} events, {span}", f.devices, f.entries);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:>5}  {:<20} {:>11} {:>11} {:>11} {:>11} {:>8}",
        "label", "name", "tx", "rx", "cell tx", "cell rx", "devices"
    );
    for l in &f.labels {
        let name = l.name.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "{:>5}  {:<20} {:>11} {:>11} {:>11} {:>11} {:>8}",
            l.label,
            truncate(name, 20),
            human_bytes(l.tx as f64),
            human_bytes(l.rx as f64),
            human_bytes(l.cellular_tx as f64),
            human_bytes(l.cellular_rx as f64),
            l.devices
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "top {} devices by tx+rx (public sockstat log ID):", f.top_devices.len());
    for d in &f.top_devices {
        let _ = writeln!(
            out,
            "{}  {:>11} {:>11} {:>11} {:>11}",
            d.log_id,
            human_bytes(d.tx as f64),
            human_bytes(d.rx as f64),
            human_bytes(d.cellular_tx as f64),
            human_bytes(d.cellular_rx as f64)
        );
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// A `--since`/`--until` value in ms since the epoch: an RFC 3339 time
/// (`2026-12-05T17:00:00Z`, offsets and fractions allowed) or a duration
/// back from `now_ms` (`90s`, `30m`, `24h`, `7d`).
pub fn parse_time(s: &str, now_ms: i64) -> std::result::Result<i64, String> {
    let s = s.trim();
    if let Some(ms) = parse_duration_ms(s) {
        return Ok(now_ms - ms);
    }
    parse_rfc3339(s)
        .ok_or_else(|| format!("{s:?} is neither an RFC 3339 time (2026-12-05T17:00:00Z) nor a duration (24h)"))
}

fn parse_duration_ms(s: &str) -> Option<i64> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok().filter(|n| *n >= 0)?;
    let ms = match unit {
        's' => 1000,
        'm' => 60_000,
        'h' => HOUR_MS,
        'd' => 24 * HOUR_MS,
        _ => return None,
    };
    n.checked_mul(ms)
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = s.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        let padded: String = digits.chars().chain("000".chars()).take(3).collect();
        frac_ms = padded.parse().ok()?;
    }
    let offset_s = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && matches!(&tz[..1], "+" | "-") && &tz[3..4] == ":" => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60)
        }
        _ => return None,
    };
    let secs = calendar::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    Some(secs * 1000 + frac_ms)
}

/// A log as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLog {
    /// The private sockstat ID (what the collector stores under).
    pub private_hex: String,
    /// The public sockstat ID.
    pub public_hex: String,
    /// How the given ID named it.
    pub given_as: &'static str,
}

/// Finds the log a person means by `given`: a sockstat private ID (as in
/// the upload URL), a sockstat public ID, or the node's backend (public)
/// ID, from which the sockstat ID is derived. No such log is an error.
pub async fn resolve_log_id(pool: &Pool, server: &str, given: &str) -> Result<ResolvedLog> {
    let id = PrivateId::parse(given).map_err(|e| Error::Invalid(format!("--log-id {given:?}: {e}")))?.to_hex();
    let from_backend = sockstat_private_id(&PublicId::parse(&id).expect("parsed above")).to_hex();
    let client = pool.get().await.map_err(|e| pg_err(server, "connecting", e))?;
    let rows = client
        .query(
            "SELECT log_id, public_id FROM sockstatlog_logs WHERE log_id = $1 OR public_id = $1 OR log_id = $2",
            &[&id, &from_backend],
        )
        .await
        .map_err(|e| pg_err(server, "looking up the log ID", e))?;
    // The rank of each way to name a log: the private ID (exact) first.
    let found = rows
        .iter()
        .map(|r| {
            let (private, public): (String, String) = (r.get(0), r.get(1));
            let (rank, given_as) = if private == id {
                (0, "its sockstat private ID")
            } else if public == id {
                (1, "its sockstat public ID")
            } else {
                (2, "its node's backend ID")
            };
            (rank, ResolvedLog { private_hex: private, public_hex: public, given_as })
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, log)| log);
    found.ok_or_else(|| {
        Error::Invalid(format!(
            "no log in the database for --log-id {id} (looked for it as a sockstat private ID, a sockstat public \
             ID, and a node's backend ID)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_durations_back_from_now() {
        let now = 1_700_000_000_000;
        let cases = [
            ("24h", Some(now - 24 * HOUR_MS)),
            ("90s", Some(now - 90_000)),
            ("7d", Some(now - 7 * 24 * HOUR_MS)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2023-03-29T01:44:44.508Z", Some(1_680_054_284_508)),
            ("2023-03-29T03:44:44+02:00", Some(1_680_054_284_000)),
            ("1969-12-31T23:00:00Z", Some(-HOUR_MS)),
            ("yesterday", None),
            ("2023-13-01T00:00:00Z", None),
            ("-5h", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_time(input, now).ok(), want, "{input}");
        }
    }

    #[test]
    fn a_since_inside_an_hour_keeps_that_hour() {
        let q = FleetQuery { since_ms: Some(HOUR_MS + 5), until_ms: Some(3 * HOUR_MS), top: 1 };
        assert_eq!(hour_range(&q), (HOUR_MS, 3 * HOUR_MS));
    }
}

/// The database paths of `sockstatlog report`, each on its own runtime:
/// the device report from the database, and the fleet report.
pub mod cli {
    use super::*;
    use crate::report::{self, ReportError};
    use std::path::PathBuf;

    fn runtime() -> std::result::Result<tokio::runtime::Runtime, ReportError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ReportError::Database(format!("starting runtime: {e}")))
    }

    fn db(e: Error) -> ReportError {
        ReportError::Database(e.to_string())
    }

    /// The device's entries from the collector's database, read as a
    /// collector file would be. Says on stderr which log `log_id` resolved
    /// to; a log with no entries is an error.
    pub fn device_report(url: &str, log_id: &str) -> std::result::Result<report::Report, ReportError> {
        let rt = runtime()?;
        let (log, data) = rt
            .block_on(async {
                let (pool, server) = crate::collector::pg::connect_pool(url).await?;
                let log = resolve_log_id(&pool, &server, log_id).await?;
                let data = crate::collector::pg::read_log(&pool, &server, &log.private_hex).await?;
                Ok::<_, Error>((log, data))
            })
            .map_err(db)?;
        eprintln!("report: log {} (public sockstat ID; --log-id was {})", log.public_hex, log.given_as);
        if data.is_empty() {
            return Err(ReportError::Database(format!("log {} has no entries in the database", log.public_hex)));
        }
        let name = PathBuf::from(format!("postgres:{}", log.public_hex));
        let trace = report::parse::read_trace_bytes(&name, &data)?;
        Ok(report::summarise(&name, trace))
    }

    /// The fleet report from the collector's database.
    pub fn fleet_report(url: &str, q: &FleetQuery) -> std::result::Result<Fleet, ReportError> {
        runtime()?
            .block_on(async {
                let (pool, server) = crate::collector::pg::connect_pool(url).await?;
                fleet(&pool, &server, q).await
            })
            .map_err(db)
    }
}
