//! Plain-data records of the FFI and their conversions to and from the core
//! types. Durations cross the boundary as whole milliseconds, paths and IDs
//! as strings; defaults come from the core's constants, never repeated here.
//!
//! Every integer is the platforms' own signed type (Kotlin `Int`/`Long`,
//! Swift `Int32`/`Int64`): labels `i32`, byte counts, sizes, timeouts and
//! statistics `i64`. Kotlin mangles the JVM name of any function taking an
//! unsigned (inline-class) type, which makes it uncallable from Java, and
//! Android counts bytes in `long`, Apple in `Int64`. The core keeps its
//! unsigned types; the checked conversions live here, in one place: a
//! negative input is an `InvalidArgument`, an output beyond `i64::MAX`
//! (never reached in practice: 8 EiB) saturates.

use super::{HostString, SockstatError};
use crate::config::{self, Config, UploadConfig};
use crate::logid::PublicId;
use std::time::Duration;

/// A label from the FFI: negative is an `InvalidArgument` (the core checks
/// the upper bound, 255, and names the label in its message).
pub(super) fn label(what: &str, v: i32) -> Result<u32, SockstatError> {
    u32::try_from(v).map_err(|_| invalid(what, v.into()))
}

/// A byte count, size or millisecond value from the FFI: negative is an
/// `InvalidArgument`.
pub(super) fn unsigned(what: &str, v: i64) -> Result<u64, SockstatError> {
    u64::try_from(v).map_err(|_| invalid(what, v))
}

/// A millisecond timeout or interval from the FFI.
pub(super) fn millis(what: &str, v: i64) -> Result<Duration, SockstatError> {
    unsigned(what, v).map(Duration::from_millis)
}

fn invalid(what: &str, v: i64) -> SockstatError {
    SockstatError::InvalidArgument { reason: format!("{what} must not be negative (got {v})") }
}

/// A core counter or size on its way out; saturates at `i64::MAX`.
pub(super) fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Everything a logger needs; start from `defaultLoggerConfig(...)` and
/// override fields.
#[derive(Debug, Clone, uniffi::Record)]
pub struct LoggerConfig {
    /// Directory of the log files (created 0700 if missing).
    pub log_dir: HostString,
    /// The node's backend public log ID, 64 hex characters.
    pub backend_public_id: HostString,
    /// Sampling period in ms. Default 100.
    pub poll_interval_ms: i64,
    /// Write period in ms. Default 10 000.
    pub write_interval_ms: i64,
    /// Both log files together, bytes. Default 5 MiB.
    pub max_log_bytes: i64,
    /// Log server base URL. Default `https://log.tailscale.com`.
    pub base_url: HostString,
    /// Collection in the upload URL. Default `sockstats.log.tailscale.io`.
    pub collection: HostString,
    /// Accept a plain `http://` base URL (tests, a local collector). Default false.
    pub allow_http: bool,
    /// One request body before compression, bytes. Default 256 KiB.
    pub max_body_bytes: i64,
    /// Timeout of one upload attempt, ms. Default 45 000.
    pub attempt_timeout_ms: i64,
    /// First backoff step, ms. Default 2 000.
    pub backoff_base_ms: i64,
    /// Longest backoff step and Retry-After cap, ms. Default 300 000.
    pub backoff_cap_ms: i64,
    /// Upload over a cellular or metered network. Default true; when false,
    /// `startFlush`/`flush` there wait for an unmetered network.
    pub upload_on_metered: bool,
}

impl LoggerConfig {
    pub(super) fn with_defaults(log_dir: HostString, backend_public_id: HostString) -> Self {
        let up = UploadConfig::default();
        LoggerConfig {
            log_dir,
            backend_public_id,
            poll_interval_ms: ms(config::DEFAULT_POLL_INTERVAL),
            write_interval_ms: ms(config::DEFAULT_WRITE_INTERVAL),
            max_log_bytes: signed(config::DEFAULT_MAX_LOG_BYTES),
            base_url: up.base_url.into(),
            collection: up.collection.into(),
            allow_http: up.allow_http,
            max_body_bytes: signed(u64::try_from(up.max_body_bytes).unwrap_or(u64::MAX)),
            attempt_timeout_ms: ms(up.attempt_timeout),
            backoff_base_ms: ms(up.backoff_base),
            backoff_cap_ms: ms(up.backoff_cap),
            upload_on_metered: up.upload_on_metered,
        }
    }
}

/// A setting in milliseconds from the FFI: negative is an `InvalidArgument`
/// naming the field; the range is checked by [`Config::validate`] afterwards.
fn setting_millis(field: &str, ms: i64) -> crate::Result<Duration> {
    u64::try_from(ms)
        .map(Duration::from_millis)
        .map_err(|_| crate::Error::InvalidArgument(format!("{field} {ms} is not a number of milliseconds (0 or more)")))
}

/// A size setting in bytes from the FFI: negative, or more than this
/// platform addresses, is an `InvalidArgument` naming the field.
fn setting_bytes<T: TryFrom<i64>>(field: &str, n: i64) -> crate::Result<T> {
    T::try_from(n)
        .map_err(|_| crate::Error::InvalidArgument(format!("{field} {n} is not a byte count this platform holds")))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl TryFrom<LoggerConfig> for Config {
    type Error = SockstatError;
    fn try_from(c: LoggerConfig) -> Result<Config, SockstatError> {
        // Start from the core's defaults so that fields the FFI does not
        // expose (e.g. the simulation clock speed) keep them. The numbers'
        // conversions are here (`setting_millis`, `setting_bytes`) and the
        // ranges the core's (`Config::validate`), so every error names the field.
        let log_dir = c.log_dir.strict("log_dir")?;
        let mut config = Config::new(log_dir, PublicId::parse(&c.backend_public_id.strict("backend_public_id")?)?);
        config.poll_interval = setting_millis("poll_interval_ms", c.poll_interval_ms)?;
        config.write_interval = setting_millis("write_interval_ms", c.write_interval_ms)?;
        config.max_log_bytes = setting_bytes("max_log_bytes", c.max_log_bytes)?;
        config.upload = UploadConfig {
            base_url: c.base_url.strict("base_url")?,
            collection: c.collection.strict("collection")?,
            allow_http: c.allow_http,
            max_body_bytes: setting_bytes("max_body_bytes", c.max_body_bytes)?,
            attempt_timeout: setting_millis("attempt_timeout_ms", c.attempt_timeout_ms)?,
            backoff_base: setting_millis("backoff_base_ms", c.backoff_base_ms)?,
            backoff_cap: setting_millis("backoff_cap_ms", c.backoff_cap_ms)?,
            upload_on_metered: c.upload_on_metered,
        };
        config.validate()?;
        Ok(config)
    }
}

/// A node's sockstat log IDs, 64 lowercase hex characters each.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub(crate) struct SockstatIds {
    /// The secret the log is uploaded under.
    pub private_id: String,
    /// The ID the log is shown and read back under.
    pub public_id: String,
}

/// One counter push in a batch (`push_batch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct CounterSample {
    /// Label id, 0..=255.
    pub label: i32,
    /// Bytes sent (added), or the cumulative total (`is_total`); not negative.
    pub tx: i64,
    /// Bytes received (added), or the cumulative total; not negative.
    pub rx: i64,
    /// `tx`/`rx` are cumulative totals (`set_totals`) rather than increments (`add`).
    pub is_total: bool,
}

impl TryFrom<CounterSample> for crate::CounterSample {
    type Error = SockstatError;
    fn try_from(s: CounterSample) -> Result<Self, SockstatError> {
        Ok(crate::CounterSample {
            label: label("label", s.label)?,
            tx: unsigned("tx", s.tx)?,
            rx: unsigned("rx", s.rx)?,
            is_total: s.is_total,
        })
    }
}

/// What a `flush` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub(crate) struct FlushReport {
    /// True when the log was fully drained before the timeout.
    pub drained: bool,
    /// Requests answered 200.
    pub batches: i64,
    /// Log lines delivered.
    pub entries: i64,
    /// Body bytes before compression.
    pub raw_bytes: i64,
    /// Body bytes as sent.
    pub sent_bytes: i64,
    /// HTTP attempts, including failed ones.
    pub attempts: i64,
    /// The last failure, if any attempt failed during this flush.
    pub last_error: Option<String>,
    /// Writing the newest entries failed (or did not finish in time) before
    /// this upload: what was on disk was uploaded, these were not.
    pub write_error: Option<String>,
    /// `"metered"` when nothing was sent because `upload_on_metered` is off
    /// and the network is cellular or metered (the upload starts by itself
    /// on an unmetered network); null when the upload ran.
    pub deferred: Option<String>,
}

impl From<crate::FlushReport> for FlushReport {
    fn from(r: crate::FlushReport) -> Self {
        FlushReport {
            drained: r.drained,
            batches: signed(r.batches),
            entries: signed(r.entries),
            raw_bytes: signed(r.raw_bytes),
            sent_bytes: signed(r.sent_bytes),
            attempts: signed(r.attempts),
            last_error: r.last_error,
            write_error: r.write_error,
            deferred: r.deferred,
        }
    }
}

/// Counters of everything the logger did, for health checks and bug reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub(crate) struct LoggerStats {
    /// Sampling is on.
    pub enabled: bool,
    /// Events the sampler emitted.
    pub events: i64,
    /// Log entries written to disk (events, headers, text lines).
    pub entries_written: i64,
    /// Bytes appended to the log files.
    pub bytes_written: i64,
    /// Bytes lost before an upload: unread lines dropped by rotation of a
    /// full log, and entries the writer gave up (see `dropped_entries`).
    pub dropped_bytes: i64,
    /// Entries lost that way: rotation, lines too long to store, the oldest
    /// pending lines past the retry bound while the disk failed.
    pub dropped_entries: i64,
    /// Bytes of a torn last line discarded after a crash.
    pub torn_bytes: i64,
    /// Counter resets seen by `set_totals`.
    pub resets: i64,
    /// Events dropped because the host's listener fell behind.
    pub listener_dropped_events: i64,
    /// Windows in which some label's sum passed the 64-bit range (forged or
    /// buggy byte counts) and was logged as 2^64 - 1 instead of wrapping.
    pub saturated_windows: i64,
    /// Times the sampler and writer threads woke up.
    pub wakeups: i64,
    /// Pending events merged because the writer fell behind.
    pub queue_merges: i64,
    /// Failed writes or fsyncs of the log.
    pub write_errors: i64,
    /// The most recent write failure, until a write succeeds again.
    pub last_write_error: Option<String>,
    /// Bytes in the log files now.
    pub stored_bytes: i64,
    /// Bytes not yet uploaded.
    pub unread_bytes: i64,
    /// Upload requests answered 200.
    pub upload_batches: i64,
    /// Lines uploaded.
    pub upload_entries: i64,
    /// Upload attempts that failed.
    pub upload_failures: i64,
}

impl From<crate::LoggerStats> for LoggerStats {
    fn from(s: crate::LoggerStats) -> Self {
        LoggerStats {
            enabled: s.enabled,
            events: signed(s.events),
            entries_written: signed(s.entries_written),
            bytes_written: signed(s.bytes_written),
            dropped_bytes: signed(s.dropped_bytes),
            dropped_entries: signed(s.dropped_entries),
            torn_bytes: signed(s.torn_bytes),
            resets: signed(s.resets),
            listener_dropped_events: signed(s.listener_dropped_events),
            saturated_windows: signed(s.saturated_windows),
            wakeups: signed(s.wakeups),
            queue_merges: signed(s.queue_merges),
            write_errors: signed(s.write_errors),
            last_write_error: s.last_write_error,
            stored_bytes: signed(s.stored_bytes),
            unread_bytes: signed(s.unread_bytes),
            upload_batches: signed(s.upload_batches),
            upload_entries: signed(s.upload_entries),
            upload_failures: signed(s.upload_failures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKEND: &str = "59b2ea2ba08376d2a22d9375bc7a5a6236b8e4b31e5bc1e0a95bfd5a4a46cc3d";

    #[test]
    fn ffi_settings_convert_only_when_they_can_be_a_time_or_a_size() {
        assert_eq!(setting_millis("poll_interval_ms", 100).unwrap(), Duration::from_millis(100));
        assert_eq!(setting_millis("poll_interval_ms", i64::MAX).unwrap(), Duration::from_millis(i64::MAX as u64));
        let e = setting_millis("poll_interval_ms", -1).unwrap_err().to_string();
        assert!(e.contains("poll_interval_ms -1"), "{e}");
        assert_eq!(setting_bytes::<usize>("max_body_bytes", 4096).unwrap(), 4096);
        assert!(setting_bytes::<u64>("max_log_bytes", -5).is_err());
    }

    #[test]
    fn a_negative_label_or_count_is_an_invalid_argument_naming_the_field() {
        let e = crate::CounterSample::try_from(CounterSample { label: -1, tx: 0, rx: 0, is_total: false });
        assert!(matches!(e, Err(SockstatError::InvalidArgument { ref reason }) if reason.contains("label")), "{e:?}");
        let e = crate::CounterSample::try_from(CounterSample { label: 1, tx: 0, rx: -5, is_total: true });
        assert!(matches!(e, Err(SockstatError::InvalidArgument { ref reason }) if reason.contains("rx")), "{e:?}");
        let ok = crate::CounterSample::try_from(CounterSample { label: 255, tx: i64::MAX, rx: 0, is_total: true });
        assert_eq!(ok.unwrap(), crate::CounterSample { label: 255, tx: i64::MAX as u64, rx: 0, is_total: true });
    }

    #[test]
    fn every_negative_config_field_is_rejected_by_name() {
        type Set = fn(&mut LoggerConfig);
        let cases: [(&str, Set); 7] = [
            ("poll_interval_ms", |c| c.poll_interval_ms = -1),
            ("write_interval_ms", |c| c.write_interval_ms = -1),
            ("max_log_bytes", |c| c.max_log_bytes = -1),
            ("max_body_bytes", |c| c.max_body_bytes = -1),
            ("attempt_timeout_ms", |c| c.attempt_timeout_ms = -1),
            ("backoff_base_ms", |c| c.backoff_base_ms = -1),
            ("backoff_cap_ms", |c| c.backoff_cap_ms = -1),
        ];
        for (field, set) in cases {
            let mut c = LoggerConfig::with_defaults("/tmp/x".into(), BACKEND.into());
            set(&mut c);
            match Config::try_from(c) {
                Err(SockstatError::InvalidArgument { reason }) => assert!(reason.contains(field), "{field}: {reason}"),
                other => panic!("{field}: expected InvalidArgument, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_defaults_round_trip_to_the_cores_defaults() {
        let c = Config::try_from(LoggerConfig::with_defaults("/tmp/x".into(), BACKEND.into())).unwrap();
        let core = Config::new("/tmp/x", PublicId::parse(BACKEND).unwrap());
        assert_eq!(c.poll_interval, core.poll_interval);
        assert_eq!(c.write_interval, core.write_interval);
        assert_eq!(c.max_log_bytes, core.max_log_bytes);
        let (u, cu) = (&c.upload, &core.upload);
        assert_eq!((&u.base_url, &u.collection, u.allow_http), (&cu.base_url, &cu.collection, cu.allow_http));
        assert_eq!((u.max_body_bytes, u.attempt_timeout), (cu.max_body_bytes, cu.attempt_timeout));
        assert_eq!((u.backoff_base, u.backoff_cap), (cu.backoff_base, cu.backoff_cap));
    }

    #[test]
    fn outgoing_counters_saturate_instead_of_wrapping_negative() {
        assert_eq!(signed(u64::MAX), i64::MAX);
        assert_eq!(signed(7), 7);
        let r = FlushReport::from(crate::FlushReport { batches: u64::MAX, ..Default::default() });
        assert_eq!(r.batches, i64::MAX);
    }
}
