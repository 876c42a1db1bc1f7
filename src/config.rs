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
