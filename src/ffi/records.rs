//! Plain-data records of the FFI and their conversions to and from the core
//! types. Durations cross the boundary as whole milliseconds, paths and IDs
//! as strings; defaults come from the core's constants, never repeated here.

use super::SockstatError;
use crate::config::{self, Config, UploadConfig};
use crate::logid::PublicId;
use std::time::Duration;

/// Everything a logger needs; start from `defaultLoggerConfig(...)` and
/// override fields.
#[derive(Debug, Clone, uniffi::Record)]
pub struct LoggerConfig {
    /// Directory of the log files (created 0700 if missing).
    pub log_dir: String,
    /// The node's backend public log ID, 64 hex characters.
    pub backend_public_id: String,
    /// Sampling period in ms. Default 100.
    pub poll_interval_ms: u64,
    /// Write period in ms. Default 10 000.
    pub write_interval_ms: u64,
    /// Both log files together, bytes. Default 5 MiB.
    pub max_log_bytes: u64,
    /// Log server base URL. Default `https://log.tailscale.com`.
    pub base_url: String,
    /// Collection in the upload URL. Default `sockstats.log.tailscale.io`.
    pub collection: String,
    /// Accept a plain `http://` base URL (tests, a local collector). Default false.
    pub allow_http: bool,
    /// One request body before compression, bytes. Default 256 KiB.
    pub max_body_bytes: u64,
    /// Timeout of one upload attempt, ms. Default 45 000.
    pub attempt_timeout_ms: u64,
    /// First backoff step, ms. Default 2 000.
    pub backoff_base_ms: u64,
    /// Longest backoff step and Retry-After cap, ms. Default 300 000.
    pub backoff_cap_ms: u64,
}

impl LoggerConfig {
    pub(super) fn with_defaults(log_dir: String, backend_public_id: String) -> Self {
        let up = UploadConfig::default();
        LoggerConfig {
            log_dir,
            backend_public_id,
            poll_interval_ms: ms(config::DEFAULT_POLL_INTERVAL),
            write_interval_ms: ms(config::DEFAULT_WRITE_INTERVAL),
            max_log_bytes: config::DEFAULT_MAX_LOG_BYTES,
            base_url: up.base_url,
            collection: up.collection,
            allow_http: up.allow_http,
            max_body_bytes: up.max_body_bytes as u64,
            attempt_timeout_ms: ms(up.attempt_timeout),
            backoff_base_ms: ms(up.backoff_base),
            backoff_cap_ms: ms(up.backoff_cap),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl TryFrom<LoggerConfig> for Config {
    type Error = SockstatError;
    fn try_from(c: LoggerConfig) -> Result<Config, SockstatError> {
        let max_body_bytes = usize::try_from(c.max_body_bytes).map_err(|_| SockstatError::InvalidArgument {
            reason: format!("max_body_bytes {} does not fit this platform", c.max_body_bytes),
        })?;
        // Start from the core's defaults so that fields the FFI does not
        // expose (e.g. the simulation clock speed) keep them.
        let mut config = Config::new(c.log_dir, PublicId::parse(&c.backend_public_id)?);
        config.poll_interval = Duration::from_millis(c.poll_interval_ms);
        config.write_interval = Duration::from_millis(c.write_interval_ms);
        config.max_log_bytes = c.max_log_bytes;
        config.upload = UploadConfig {
            base_url: c.base_url,
            collection: c.collection,
            allow_http: c.allow_http,
            max_body_bytes,
            attempt_timeout: Duration::from_millis(c.attempt_timeout_ms),
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            backoff_cap: Duration::from_millis(c.backoff_cap_ms),
        };
        Ok(config)
    }
}

/// One counter push in a batch.
#[derive(Debug, Clone, Copy, uniffi::Record)]
pub struct CounterSample {
    /// Label id, 0..=255.
    pub label: u32,
    /// Bytes sent (or the cumulative total when `is_total`).
    pub tx: u64,
    /// Bytes received (or the cumulative total when `is_total`).
    pub rx: u64,
    /// `tx`/`rx` are cumulative totals (as `setTotals`), not increments (as `add`).
    pub is_total: bool,
}

pub(super) fn core_samples(samples: Vec<CounterSample>) -> Vec<crate::CounterSample> {
    samples
        .into_iter()
        .map(|s| crate::CounterSample { label: s.label, tx: s.tx, rx: s.rx, is_total: s.is_total })
        .collect()
}

/// What a `flush` did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FlushReport {
    /// The log was fully uploaded before the timeout.
    pub drained: bool,
    /// Requests the server stored (HTTP 200).
    pub batches: u64,
    /// Log lines delivered.
    pub entries: u64,
    /// Body bytes before compression.
    pub raw_bytes: u64,
    /// Body bytes as sent.
    pub sent_bytes: u64,
    /// HTTP attempts, failed ones included.
    pub attempts: u64,
    /// The last failure, if any attempt failed.
    pub last_error: Option<String>,
}

impl From<crate::upload::FlushReport> for FlushReport {
    fn from(r: crate::upload::FlushReport) -> Self {
        FlushReport {
            drained: r.drained,
            batches: r.batches,
            entries: r.entries,
            raw_bytes: r.raw_bytes,
            sent_bytes: r.sent_bytes,
            attempts: r.attempts,
            last_error: r.last_error,
        }
    }
}

/// Counters of everything the logger did (see the core's `Stats`).
#[derive(Debug, Clone, uniffi::Record)]
pub struct LoggerStats {
    /// Sampling is on.
    pub enabled: bool,
    /// Events the sampler emitted.
    pub events: u64,
    /// Log entries written to disk.
    pub entries_written: u64,
    /// Bytes appended to the log files.
    pub bytes_written: u64,
    /// Unread bytes lost to rotation of a full log.
    pub dropped_bytes: u64,
    /// Bytes of a torn last line discarded after a crash.
    pub torn_bytes: u64,
    /// Counter resets seen by `setTotals`.
    pub resets: u64,
    /// Sampler and writer wake-ups.
    pub wakeups: u64,
    /// Pending events merged because the writer fell behind.
    pub queue_merges: u64,
    /// Failed writes or fsyncs.
    pub write_errors: u64,
    /// Bytes in the log files now.
    pub stored_bytes: u64,
    /// Bytes not yet uploaded.
    pub unread_bytes: u64,
    /// Upload requests answered 200.
    pub upload_batches: u64,
    /// Lines uploaded.
    pub upload_entries: u64,
    /// Failed upload attempts.
    pub upload_failures: u64,
}

impl From<crate::Stats> for LoggerStats {
    fn from(s: crate::Stats) -> Self {
        LoggerStats {
            enabled: s.enabled,
            events: s.events,
            entries_written: s.entries_written,
            bytes_written: s.bytes_written,
            dropped_bytes: s.dropped_bytes,
            torn_bytes: s.torn_bytes,
            resets: s.resets,
            wakeups: s.wakeups,
            queue_merges: s.queue_merges,
            write_errors: s.write_errors,
            stored_bytes: s.stored_bytes,
            unread_bytes: s.unread_bytes,
            upload_batches: s.upload_batches,
            upload_entries: s.upload_entries,
            upload_failures: s.upload_failures,
        }
    }
}

/// A node's sockstat log IDs, 64 lowercase hex characters each.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SockstatIds {
    /// The secret the log is uploaded under.
    pub private_id: String,
    /// The ID the log is shown and read back under.
    pub public_id: String,
}
