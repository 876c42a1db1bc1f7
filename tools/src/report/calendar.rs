//! Unix milliseconds as UTC calendar text, and back: the one civil-calendar
//! conversion the report, the fleet report and the upload progress share
//! (no time-zone crate: UTC only, proleptic Gregorian, any year).

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Days from 0000-03-01 to 1970-01-01 in the calendar `civil_from_days`
/// counts in (eras of 400 years starting on March 1st).
const EPOCH_SHIFT_DAYS: i64 = 719_468;
/// Days in a 400-year era.
const ERA_DAYS: i64 = 146_097;

/// `YYYY-MM-DD HH:MM:SS` of Unix milliseconds, UTC (no zone suffix).
pub fn datetime(unix_ms: i64) -> String {
    let (days, ms_of_day) = (unix_ms.div_euclid(DAY_MS), unix_ms.rem_euclid(DAY_MS));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {}", clock(ms_of_day))
}

/// The time of day of Unix milliseconds in UTC, `01:44:44`.
pub fn time_of_day(unix_ms: i64) -> String {
    clock(unix_ms.rem_euclid(DAY_MS))
}

fn clock(ms_of_day: i64) -> String {
    let s = ms_of_day / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Year, month, day of the day `days` after 1970-01-01 (proleptic Gregorian),
/// by Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + EPOCH_SHIFT_DAYS;
    let era = z.div_euclid(ERA_DAYS);
    let doe = z.rem_euclid(ERA_DAYS); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * ERA_DAYS + doe - EPOCH_SHIFT_DAYS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_read_as_their_utc_dates() {
        let cases = [
            ("epoch", 0, "1970-01-01 00:00:00"),
            ("golden fixture start", 1_680_054_284_000, "2023-03-29 01:44:44"),
            ("leap day", 951_825_600_999, "2000-02-29 12:00:00"),
            ("before the epoch", -1, "1969-12-31 23:59:59"),
            ("end of year 9999", super::super::parse::MAX_T_MS, "9999-12-31 23:59:59"),
        ];
        for (name, ms, want) in cases {
            assert_eq!(datetime(ms), want, "{name}");
        }
        assert_eq!(time_of_day(1_680_054_284_508), "01:44:44");
    }

    #[test]
    fn days_and_civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 59, 11_016, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}");
        }
    }
}
