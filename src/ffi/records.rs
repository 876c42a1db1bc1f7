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
        // Start from the core's defaults so that fields the FFI does not
        // expose (e.g. the simulation clock speed) keep them. The numbers'
        // conversions and ranges are the core's (`config::millis`,
        // `Config::validate`), so every error names the field.
        let mut config = Config::new(c.log_dir, PublicId::parse(&c.backend_public_id)?);
        config.poll_interval = config::millis("poll_interval_ms", c.poll_interval_ms)?;
        config.write_interval = config::millis("write_interval_ms", c.write_interval_ms)?;
        config.max_log_bytes = config::byte_count("max_log_bytes", c.max_log_bytes)?;
        config.upload = UploadConfig {
            base_url: c.base_url,
            collection: c.collection,
            allow_http: c.allow_http,
            max_body_bytes: config::byte_count("max_body_bytes", c.max_body_bytes)?,
            attempt_timeout: config::millis("attempt_timeout_ms", c.attempt_timeout_ms)?,
            backoff_base: config::millis("backoff_base_ms", c.backoff_base_ms)?,
            backoff_cap: config::millis("backoff_cap_ms", c.backoff_cap_ms)?,
        };
        config.validate()?;
        Ok(config)
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
