//! The host's listener for background failures as a foreign trait (Swift
//! `os.Logger`, Android `android.util.Log`, a crash reporter ...), and the
//! adapter that lets the core's reporter call it. See `crate::listener`.

use super::records::signed;
use crate::listener::{Listener, LoggerEvent as CoreEvent};
use std::sync::Arc;

/// Something that went wrong in the background. The running totals are in
/// `stats()`: `writeErrors`, `droppedEntries`, `uploadFailures`,
/// `listenerDroppedEvents`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub(crate) enum LoggerEvent {
    /// Appending to or syncing the log (or committing its read position)
    /// failed; the entries stay pending and are retried. Reported once per
    /// distinct message until a write succeeds again.
    WriteFailed {
        /// The OS error and what was being done.
        reason: String,
    },
    /// Entries were given up: longer than the log's line limit, or the
    /// oldest pending ones while the disk failed too long.
    EntriesDropped {
        /// Entries given up now.
        entries: i64,
        /// Their bytes.
        bytes: i64,
        /// Why.
        reason: String,
    },
    /// An upload attempt failed; it is retried after a backoff. Reported
    /// once per distinct message while failures continue.
    UploadFailed {
        /// HTTP status, timeout or transport error.
        reason: String,
        /// Failures in a row, this one included.
        consecutive_failures: i64,
    },
    /// An upload succeeded after failures.
    UploadRecovered {
        /// The failures in a row before it.
        failures: i64,
    },
    /// The listener fell more than 64 events behind; this many were dropped.
    EventsMissed {
        /// Events dropped since the last such report.
        count: i64,
    },
}

impl From<CoreEvent> for LoggerEvent {
    fn from(e: CoreEvent) -> Self {
        match e {
            CoreEvent::WriteFailed { reason } => LoggerEvent::WriteFailed { reason },
            CoreEvent::EntriesDropped { entries, bytes, reason } => {
                LoggerEvent::EntriesDropped { entries: signed(entries), bytes: signed(bytes), reason }
            }
            CoreEvent::UploadFailed { reason, consecutive_failures } => {
                LoggerEvent::UploadFailed { reason, consecutive_failures: signed(consecutive_failures) }
            }
            CoreEvent::UploadRecovered { failures } => LoggerEvent::UploadRecovered { failures: signed(failures) },
            CoreEvent::EventsMissed { count } => LoggerEvent::EventsMissed { count: signed(count) },
        }
    }
}

/// Implemented by the host to hear about background failures. Called on
/// the library's own `sockstatlog-listener` thread, one event at a time, in
/// order; never on a thread of the host's or the packet path. A slow
/// listener delays nothing else: past 64 pending events new ones are dropped
/// and counted. Whatever it throws is ignored.
#[uniffi::export(foreign)]
pub trait LoggerListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: LoggerEvent);
}

/// The host's listener as the core sees it.
pub(super) struct HostListener(pub(super) Arc<dyn LoggerListener>);

impl Listener for HostListener {
    fn on_event(&self, event: CoreEvent) {
        self.0.on_event(event.into());
    }
}
