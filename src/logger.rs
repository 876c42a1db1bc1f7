//! The logger object: owns the counters, the sampler thread, the writer
//! thread, the on-disk log and the uploader, and is the one type the host
//! talks to (directly from Rust, or through the FFI wrapper).
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use crate::config::Config;
use crate::error::Result;
use crate::interface::InterfaceKind;
use crate::upload::{FlushReport, Transport};
use std::sync::Arc;
use std::time::Duration;

/// One counter push in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterSample {
    /// Label id, 0..=255.
    pub label: u32,
    /// Bytes sent (added), or the cumulative total (`is_total`).
    pub tx: u64,
    /// Bytes received (added), or the cumulative total.
    pub rx: u64,
    /// `tx`/`rx` are cumulative totals (`set_totals`) rather than increments (`add`).
    pub is_total: bool,
}

/// Counters of everything the logger did, for health checks and bug reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sampling is on.
    pub enabled: bool,
    /// Events the sampler emitted.
    pub events: u64,
    /// Log entries written to disk (events, headers, text lines).
    pub entries_written: u64,
    /// Bytes appended to the log files.
    pub bytes_written: u64,
    /// Unread bytes lost to rotation of a full log.
    pub dropped_bytes: u64,
    /// Bytes of a torn last line discarded after a crash.
    pub torn_bytes: u64,
    /// Counter resets seen by `set_totals`.
    pub resets: u64,
    /// Times the sampler and writer threads woke up.
    pub wakeups: u64,
    /// Pending events merged because the writer fell behind.
    pub queue_merges: u64,
    /// Failed writes or fsyncs of the log.
    pub write_errors: u64,
    /// Bytes in the log files now.
    pub stored_bytes: u64,
    /// Bytes not yet uploaded.
    pub unread_bytes: u64,
    /// Upload requests answered 200.
    pub upload_batches: u64,
    /// Lines uploaded.
    pub upload_entries: u64,
    /// Upload attempts that failed.
    pub upload_failures: u64,
}

/// A socket-stats logger. Cheap to share (`Clone` shares one logger).
#[derive(Debug, Clone)]
pub struct Logger {
    _private: Arc<()>,
}

impl Logger {
    /// Creates a disabled logger, opening (or creating) its log directory.
    pub fn new(_config: Config) -> Result<Logger> {
        todo!()
    }
    /// Same, uploading through a host-provided transport instead of the built-in client.
    pub fn with_transport(_config: Config, _transport: Arc<dyn Transport>) -> Result<Logger> {
        todo!()
    }
    /// Starts sampling now (baseline at this instant). No-op if enabled.
    pub fn enable(&self) -> Result<()> {
        todo!()
    }
    /// Stops sampling, closes the open window and writes everything pending. No-op if disabled.
    pub fn disable(&self) -> Result<()> {
        todo!()
    }
    /// Whether sampling is on.
    pub fn is_enabled(&self) -> bool {
        todo!()
    }
    /// Adds bytes to a label. Lock-free, never blocks. Label above 255 → InvalidArgument.
    pub fn add(&self, _label: u32, _tx: u64, _rx: u64) -> Result<()> {
        todo!()
    }
    /// Reports cumulative totals for a label (reset-safe).
    pub fn set_totals(&self, _label: u32, _tx_total: u64, _rx_total: u64) -> Result<()> {
        todo!()
    }
    /// Many pushes in one call. All labels are checked first; on error nothing is applied.
    pub fn push_batch(&self, _samples: &[CounterSample]) -> Result<()> {
        todo!()
    }
    /// Names a label.
    pub fn register_label(&self, _label: u32, _name: &str) -> Result<()> {
        todo!()
    }
    /// Sets the current default interface.
    pub fn set_interface(&self, _name: &str, _kind: InterfaceKind) -> Result<()> {
        todo!()
    }
    /// Logs a free-form text line (a logtail text entry).
    pub fn write_text(&self, _text: &str) -> Result<()> {
        todo!()
    }
    /// Writes pending events to disk and wakes the uploader; returns at once.
    pub fn start_flush(&self) -> Result<()> {
        todo!()
    }
    /// Writes pending events and uploads until drained or `timeout`.
    pub fn flush(&self, _timeout: Duration) -> Result<FlushReport> {
        todo!()
    }
    /// The sockstat public log ID (hex), under which the server shows the log.
    pub fn log_id(&self) -> String {
        todo!()
    }
    /// Every line on disk, oldest first, after writing what is pending.
    pub fn export(&self) -> Result<Vec<String>> {
        todo!()
    }
    /// Current counters.
    pub fn stats(&self) -> Result<Stats> {
        todo!()
    }
    /// A raw handle for the JNI fast path: valid for the life of the process;
    /// after shutdown pushes through it are ignored.
    pub fn fast_counters_handle(&self) -> u64 {
        todo!()
    }
    /// Disables, writes everything pending, stops the threads (waiting at most
    /// `timeout` in all). Every later call returns `Closed`.
    pub fn shutdown(&self, _timeout: Duration) -> Result<()> {
        todo!()
    }
}
