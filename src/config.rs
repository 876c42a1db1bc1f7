//! All tunables of a logger in one place, each with its default and the reason
//! for it. Construct with [`Config::new`] and override fields as needed.

use crate::logid::PublicId;
use std::path::PathBuf;
use std::time::Duration;

/// How often the sampler takes a snapshot of the counters. 100 ms is upstream's
/// resolution: fine enough to see bursts, coarse enough to cost nothing.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How often pending events are written to disk. Upstream moved from 3 s to
/// 10 s to break a feedback loop in which the upload of the log was itself
/// logged; it also bounds fsyncs to one every 10 s.
pub const DEFAULT_WRITE_INTERVAL: Duration = Duration::from_secs(10);
/// Both log files together. 5 MiB because the log is uploaded over whatever
/// network the phone has, often cellular.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 5 << 20;
/// Upstream's log server.
pub const DEFAULT_BASE_URL: &str = "https://log.tailscale.com";
/// Upstream's collection for socket stats.
pub const DEFAULT_COLLECTION: &str = "sockstats.log.tailscale.io";
/// Upstream's limit for one upload body before compression (logtail `maxSize`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 << 10;
/// Upstream's per-attempt HTTP timeout.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(45);
/// First backoff step when the server gives no Retry-After. Short, because an
/// upload only runs when someone asked for it and is waiting.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(2);
/// Longest backoff step, and the cap on a server's Retry-After: upstream's
/// 5 minutes, so a rate-limited server is not hammered and a stuck one is
/// retried within a debugging session.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(300);

/// Shortest poll interval: the sampler's timeline has millisecond resolution.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(1);
/// Longest poll interval: a minute-long window can no longer tell which
/// burst used which network, and `d` stays small.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Longest write interval: what a crash can lose, and what the pending queue
/// holds, stays at ten minutes of events.
pub const MAX_WRITE_INTERVAL: Duration = Duration::from_secs(600);
/// Longest line the log stores, including its `\n`: upstream's hard line
/// limit. One sockstats entry is far smaller; text entries are cut to fit.
/// A fixed limit of the log format, not a setting; it lives here because
/// the log budget's range below derives from it.
pub(crate) const MAX_LINE_BYTES: usize = 64 << 10;
/// Smallest log budget: room for a few full-size lines in each half, or
/// rotation would drop every line it writes.
pub const MIN_MAX_LOG_BYTES: u64 = 4 * MAX_LINE_BYTES as u64;
/// Largest log budget: 1 GiB, far more than any upload should carry.
pub const MAX_MAX_LOG_BYTES: u64 = 1 << 30;
/// Smallest upload body: a few event lines.
pub const MIN_BODY_BYTES: usize = 1 << 10;
/// Largest upload body: 4 MiB before compression; the uploader holds about
/// three copies while sending one, which must fit a 50 MiB extension.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Shortest attempt timeout: less cannot complete a TLS handshake.
pub const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest attempt timeout: a stuck request is abandoned within ten minutes.
pub const MAX_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(600);
/// Shortest backoff step: a zero step would retry in a tight loop.
pub const MIN_BACKOFF: Duration = Duration::from_millis(1);
/// Longest backoff step (and Retry-After cap): an hour, so a failing upload
/// is retried within the same day's debugging session.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Fastest simulated clock: at 10 000× a 100 ms window lasts 10 µs of real
/// time, about as fine as the threads can follow.
pub const MAX_CLOCK_SPEED: u32 = 10_000;

/// Everything a logger needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of the two log files and their state file; created with mode
    /// 0700 if missing.
    pub log_dir: PathBuf,
    /// The node's backend public log ID; the sockstat IDs derive from it.
    pub backend_public_id: PublicId,
    /// Sampling period P, whole milliseconds. Default 100 ms; 1 ms to 60 s.
    pub poll_interval: Duration,
    /// Write period W. Default 10 s; from `poll_interval` to 10 min.
    pub write_interval: Duration,
    /// Both log files together, in bytes; each file rotates at half. Default
    /// 5 MiB; 256 KiB to 1 GiB.
    pub max_log_bytes: u64,
    /// Where and how to upload.
    pub upload: UploadConfig,
    /// How many times faster than real time the logger's clock runs; 1 (the
    /// default) is real time. Simulations (the demo, soak runs) set e.g. 100
    /// so that ten minutes of traffic take six seconds through the real
    /// threads and disk; event times then run ahead of the wall clock by the
    /// same factor. 1 to 10 000.
    pub clock_speed: u32,
}

/// Upload settings. Uploads happen only on demand (`start_flush`/`flush`).
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Log server base URL, no trailing slash. Default `https://log.tailscale.com`.
    pub base_url: String,
    /// Collection name in the URL. Default `sockstats.log.tailscale.io`.
    pub collection: String,
    /// Allow a plain `http://` base URL (loopback tests, a local collector).
    /// Default false: only `https://` is accepted.
    pub allow_http: bool,
    /// Upper bound of one request body before compression. Default 256 KiB;
    /// 1 KiB to 4 MiB.
    pub max_body_bytes: usize,
    /// Timeout of one HTTP attempt. Default 45 s; 100 ms to 10 min.
    pub attempt_timeout: Duration,
    /// First exponential-backoff step (full jitter). Default 2 s; 1 ms to
    /// `backoff_cap`.
    pub backoff_base: Duration,
    /// Cap of a backoff step and of a server's Retry-After. Default 5 min;
    /// `backoff_base` to 1 h.
    pub backoff_cap: Duration,
    /// Upload over a cellular or metered network. Default true. When false,
    /// `start_flush`/`flush` on such a network wait for an unmetered one
    /// (the report's `deferred` says so) and `force_flush` uploads anyway.
    pub upload_on_metered: bool,
}

impl Config {
    /// A config with every default, for this log directory and node.
    pub fn new(log_dir: impl Into<PathBuf>, backend_public_id: PublicId) -> Self {
        Config {
            log_dir: log_dir.into(),
            backend_public_id,
            poll_interval: DEFAULT_POLL_INTERVAL,
            write_interval: DEFAULT_WRITE_INTERVAL,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            upload: UploadConfig::default(),
            clock_speed: 1,
        }
    }
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            collection: DEFAULT_COLLECTION.to_string(),
            allow_http: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_cap: DEFAULT_BACKOFF_CAP,
            upload_on_metered: true,
        }
    }
}

impl UploadConfig {
    /// Checks what can be checked before any upload: a parsable base URL with
    /// the `https` scheme (plain `http` only when explicitly allowed), a
    /// collection that is one path segment, and non-zero limits. The uploader
    /// relies on this one check.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::InvalidArgument(m));
        let base = self.base_url.trim_end_matches('/');
        let parsed = match url::Url::parse(base) {
            Ok(u) => u,
            Err(e) => return bad(format!("upload base URL {base:?}: {e}")),
        };
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return bad(format!(
                    "refusing plain http upload URL {base:?}: use https:// or set allow_http \
                     (meant for loopback tests and a local collector)"
                ))
            }
            other => return bad(format!("upload base URL {base:?}: scheme {other:?} is not https")),
        }
        let c = &self.collection;
        if c.is_empty() || c.contains(['/', '?', '#']) {
            return bad(format!("upload collection {c:?} is not a path segment"));
        }
        in_range("upload.max_body_bytes", self.max_body_bytes, MIN_BODY_BYTES, MAX_BODY_BYTES, bytes)?;
        in_range("upload.attempt_timeout", self.attempt_timeout, MIN_ATTEMPT_TIMEOUT, MAX_ATTEMPT_TIMEOUT, span)?;
        in_range("upload.backoff_cap", self.backoff_cap, MIN_BACKOFF, MAX_BACKOFF, span)?;
        in_range("upload.backoff_base", self.backoff_base, MIN_BACKOFF, self.backoff_cap, span)?;
        Ok(())
    }
}

impl Config {
    /// Checks every field against its documented range; the logger calls
    /// this before touching the disk. The error names the field and the range.
    pub fn validate(&self) -> crate::Result<()> {
        if self.log_dir.as_os_str().is_empty() {
            return Err(crate::Error::InvalidArgument("log_dir is empty".into()));
        }
        in_range("poll_interval", self.poll_interval, MIN_POLL_INTERVAL, MAX_POLL_INTERVAL, span)?;
        if !self.poll_interval.subsec_nanos().is_multiple_of(1_000_000) {
            return Err(crate::Error::InvalidArgument(format!(
                "poll_interval {:?} is not a whole number of milliseconds",
                self.poll_interval
            )));
        }
        in_range("write_interval", self.write_interval, self.poll_interval, MAX_WRITE_INTERVAL, span)?;
        in_range("max_log_bytes", self.max_log_bytes, MIN_MAX_LOG_BYTES, MAX_MAX_LOG_BYTES, |n| bytes(n as usize))?;
        in_range("clock_speed", self.clock_speed, 1, MAX_CLOCK_SPEED, |n| n.to_string())?;
        self.upload.validate()
    }
}

/// `InvalidArgument("<field> <value> is outside <min>..=<max>")` unless
/// `min <= value <= max`.
fn in_range<T: PartialOrd + Copy>(
    field: &str,
    value: T,
    min: T,
    max: T,
    show: impl Fn(T) -> String,
) -> crate::Result<()> {
    if value < min || value > max {
        return Err(crate::Error::InvalidArgument(format!(
            "{field} {} is outside its range {} to {}",
            show(value),
            show(min),
            show(max)
        )));
    }
    Ok(())
}

fn span(d: Duration) -> String {
    format!("{d:?}")
}

fn bytes(n: usize) -> String {
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::new("/tmp/sockstatlog-test", PublicId([0; 32]))
    }

    #[test]
    fn defaults_are_upstreams_and_valid() {
        let c = cfg();
        assert_eq!(c.poll_interval.as_millis(), 100);
        assert_eq!(c.write_interval.as_secs(), 10);
        assert_eq!(c.max_log_bytes, 5 * 1024 * 1024);
        assert_eq!(c.upload.base_url, "https://log.tailscale.com");
        c.validate().unwrap();
    }

    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let mut c = cfg();
        c.upload.base_url = "http://127.0.0.1:9".into();
        assert!(c.validate().unwrap_err().to_string().contains("refusing plain http"));
        c.upload.allow_http = true;
        c.validate().unwrap();
        c.upload.base_url = "ftp://x".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn every_tunable_outside_its_range_is_refused_naming_the_field() {
        type Edit = fn(&mut Config);
        let cases: &[(&str, Edit)] = &[
            ("poll_interval", |c| c.poll_interval = Duration::from_millis(u64::MAX)),
            ("poll_interval", |c| c.poll_interval = Duration::from_micros(1500)),
            ("write_interval", |c| c.write_interval = Duration::from_secs(86_400)),
            ("max_log_bytes", |c| c.max_log_bytes = u64::MAX),
            ("clock_speed", |c| c.clock_speed = u32::MAX),
            ("clock_speed", |c| c.clock_speed = 0),
            ("upload.max_body_bytes", |c| c.upload.max_body_bytes = 0),
            ("upload.max_body_bytes", |c| c.upload.max_body_bytes = usize::MAX),
            ("upload.attempt_timeout", |c| c.upload.attempt_timeout = Duration::ZERO),
            ("upload.attempt_timeout", |c| c.upload.attempt_timeout = Duration::MAX),
            ("upload.backoff_base", |c| c.upload.backoff_base = Duration::ZERO),
            ("upload.backoff_cap", |c| c.upload.backoff_cap = Duration::ZERO),
            ("upload.backoff_cap", |c| c.upload.backoff_cap = Duration::from_secs(u64::MAX)),
            ("upload.backoff_base", |c| {
                c.upload.backoff_base = Duration::from_secs(10);
                c.upload.backoff_cap = Duration::from_secs(5);
            }),
        ];
        for (field, edit) in cases {
            let mut c = cfg();
            edit(&mut c);
            match c.validate() {
                Err(crate::Error::InvalidArgument(m)) => {
                    let named = m.starts_with(&format!("{field} "));
                    assert!(named && (m.contains("range") || m.contains("milliseconds")), "{m}")
                }
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_ffi_config_is_checked_by_the_same_ranges() {
        let id = "ab".repeat(32);
        let ok = crate::ffi::default_logger_config("/tmp/sockstatlog-test".into(), id.clone().into());
        Config::try_from(ok.clone()).unwrap();
        type Edit = fn(&mut crate::ffi::LoggerConfig);
        let cases: &[(&str, Edit)] = &[
            ("poll_interval", |c| c.poll_interval_ms = i64::MAX as _),
            ("write_interval", |c| c.write_interval_ms = i64::MAX as _),
            ("upload.backoff_base", |c| c.backoff_base_ms = 0),
            ("upload.backoff_cap", |c| c.backoff_cap_ms = 0),
            ("upload.max_body_bytes", |c| c.max_body_bytes = 0),
            ("upload.attempt_timeout", |c| c.attempt_timeout_ms = i64::MAX as _),
        ];
        for (field, edit) in cases {
            let mut c = ok.clone();
            edit(&mut c);
            match Config::try_from(c) {
                Err(crate::ffi::SockstatError::InvalidArgument { reason }) => {
                    assert!(reason.starts_with(&format!("{field} ")), "{field}: {reason}")
                }
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn nonsense_intervals_and_sizes_are_refused() {
        let mut c = cfg();
        c.poll_interval = Duration::ZERO;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.write_interval = Duration::from_millis(10);
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.max_log_bytes = 1000;
        assert!(c.validate().is_err());
    }
}
