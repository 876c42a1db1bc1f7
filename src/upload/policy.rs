//! When to retry a failed upload: the server's `Retry-After` (integer seconds
//! or an HTTP-date), else exponential backoff with full jitter; and how a
//! failure is described in the log. Pure functions; the clock and the random
//! source are parameters.

use std::time::{Duration, SystemTime};

/// Most of an error response body quoted in the error text (upstream's 1 KiB).
pub(crate) const ERROR_BODY_BYTES: usize = 1 << 10;

/// The wait before the next attempt.
///
/// - A `Retry-After` the server sent wins, capped at `cap` (upstream caps at
///   5 minutes so a bad header cannot park the uploader for hours). A value
///   of zero or a date in the past carries no information, so it falls back
///   to backoff rather than retrying in a tight loop.
/// - Otherwise full-jitter exponential backoff: uniform in
///   `[0, min(cap, base·2^(failures-1))]`. The jitter spreads a fleet of
///   phones that lost the server at the same moment; the exponent keeps a
///   dead server from being hammered. `rand01` is a uniform sample in [0, 1).
pub(crate) fn next_wait(
    retry_after: Option<Duration>,
    failures: u32,
    base: Duration,
    cap: Duration,
    rand01: f64,
) -> Duration {
    if let Some(ra) = retry_after.filter(|d| !d.is_zero()) {
        return ra.min(cap);
    }
    let exp = failures.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exp).min(cap);
    ceiling.mul_f64(rand01.clamp(0.0, 1.0))
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP-date relative to
/// `now` (a past date gives zero). Anything else is ignored.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Upstream's error text for a non-200 answer:
/// `log upload of N bytes compressed|not-compressed failed <code>: <body>`,
/// with up to [`ERROR_BODY_BYTES`] of the body; 4xx other than 408 and 429
/// (the server refusing this very batch, not a passing condition) is called
/// out so it stands out in the log.
pub(crate) fn status_error(sent_bytes: usize, compressed: bool, status: u16, body: &[u8]) -> String {
    let body = &body[..body.len().min(ERROR_BODY_BYTES)];
    let body = String::from_utf8_lossy(body);
    let body = body.trim_end();
    let how = if compressed { "compressed" } else { "not-compressed" };
    let base = format!("log upload of {sent_bytes} bytes {how} failed {status}: {body}");
    if is_rejection(status) {
        format!("server rejected the batch ({status}): {base}; retrying")
    } else {
        base
    }
}

/// A 4xx that is not "try later" (408 Request Timeout, 429 Too Many Requests).
pub(crate) fn is_rejection(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(2);
    const CAP: Duration = Duration::from_secs(300);

    #[test]
    fn retry_after_wins_and_is_capped() {
        let cases = [
            ("seconds", Some(Duration::from_secs(7)), Duration::from_secs(7)),
            ("over-cap", Some(Duration::from_secs(3600)), CAP),
            ("zero-falls-back", Some(Duration::ZERO), Duration::from_secs(1)),
            ("absent", None, Duration::from_secs(1)),
        ];
        for (name, ra, want) in cases {
            assert_eq!(next_wait(ra, 1, BASE, CAP, 0.5), want, "{name}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let top = |f| next_wait(None, f, BASE, CAP, 0.999_999_9);
        assert!(top(1) <= BASE && top(1) > BASE.mul_f64(0.99));
        assert!(top(2) <= BASE * 2 && top(2) > BASE.mul_f64(1.99));
        assert!(top(4) <= BASE * 8);
        assert_eq!(next_wait(None, 30, BASE, CAP, 1.0), CAP);
        assert_eq!(next_wait(None, u32::MAX, BASE, CAP, 1.0), CAP);
        assert_eq!(next_wait(None, 5, BASE, CAP, 0.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let cases = [
            ("seconds", "120", Some(Duration::from_secs(120))),
            ("spaces", " 3 ", Some(Duration::from_secs(3))),
            ("date-ahead", "Sun, 06 Nov 1994 08:49:47 GMT", Some(Duration::from_secs(10))),
            ("date-past", "Sun, 06 Nov 1994 08:00:00 GMT", Some(Duration::ZERO)),
            ("negative", "-1", None),
            ("garbage", "soon", None),
        ];
        for (name, v, want) in cases {
            assert_eq!(parse_retry_after(v, now), want, "{name}");
        }
    }

    #[test]
    fn error_text_matches_upstream_and_flags_rejections() {
        assert_eq!(status_error(120, true, 500, b"oops\n"), "log upload of 120 bytes compressed failed 500: oops");
        assert_eq!(
            status_error(9, false, 400, b"bad json"),
            "server rejected the batch (400): log upload of 9 bytes not-compressed failed 400: \
             bad json; retrying"
        );
        assert!(!is_rejection(429) && !is_rejection(408) && is_rejection(413));
        let long = vec![b'x'; 3000];
        assert!(status_error(1, false, 503, &long).len() < ERROR_BODY_BYTES + 100);
    }
}
