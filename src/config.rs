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

/// Everything a logger needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of the two log files and their state file; created with mode
    /// 0700 if missing.
    pub log_dir: PathBuf,
    /// The node's backend public log ID; the sockstat IDs derive from it.
    pub backend_public_id: PublicId,
    /// Sampling period P. Default 100 ms.
    pub poll_interval: Duration,
    /// Write period W. Default 10 s.
    pub write_interval: Duration,
    /// Both log files together, in bytes; each file rotates at half. Default 5 MiB.
    pub max_log_bytes: u64,
    /// Where and how to upload.
    pub upload: UploadConfig,
    /// How many times faster than real time the logger's clock runs; 1 (the
    /// default) is real time. Simulations (the demo, soak runs) set e.g. 100
    /// so that ten minutes of traffic take six seconds through the real
    /// threads and disk; event times then run ahead of the wall clock by the
    /// same factor.
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
    /// Upper bound of one request body before compression. Default 256 KiB.
    pub max_body_bytes: usize,
    /// Timeout of one HTTP attempt. Default 45 s.
    pub attempt_timeout: Duration,
    /// First exponential-backoff step (full jitter). Default 2 s.
    pub backoff_base: Duration,
    /// Cap of a backoff step and of a server's Retry-After. Default 5 min.
    pub backoff_cap: Duration,
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
        let parsed = match reqwest::Url::parse(base) {
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
        if self.max_body_bytes == 0 || self.attempt_timeout.is_zero() {
            return bad("upload limits must be non-zero".into());
        }
        Ok(())
    }
}

impl Config {
    /// Checks every field; the logger calls this before touching the disk.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::InvalidArgument(m.to_string()));
        if self.log_dir.as_os_str().is_empty() {
            return bad("log_dir is empty");
        }
        if self.poll_interval < std::time::Duration::from_millis(1) {
            return bad("poll_interval must be at least 1 ms");
        }
        if self.clock_speed == 0 {
            return bad("clock_speed must be at least 1");
        }
        if self.write_interval < self.poll_interval {
            return bad("write_interval must be at least poll_interval");
        }
        // Room for a few full-size lines in each half, or rotation would
        // drop every line it writes.
        if self.max_log_bytes < 4 * (64 << 10) {
            return bad("max_log_bytes must be at least 256 KiB");
        }
        self.upload.validate()
    }
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
