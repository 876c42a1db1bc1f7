//! The UniFFI surface: the one object, records and error enum that Swift and
//! Kotlin see. Every method is a one-line delegation to [`crate::Logger`];
//! the only code here converts between FFI records and core types
//! (`ffi/records.rs`), adapts the host's upload transport (`ffi/transport.rs`)
//! and maps the rich internal [`crate::Error`] onto [`SockstatError`] in one
//! place. Nothing here panics: every failure is a typed error.

mod listener;
mod network;
mod records;
mod text;
mod transport;
mod usage;

pub(crate) use listener::LoggerListener;
pub(crate) use records::{CounterSample, FlushReport, LoggerConfig, LoggerStats, SockstatIds};
pub(crate) use text::HostString;
pub(crate) use transport::UploadTransport;

use crate::interface::InterfaceKind;
use crate::logger::Logger;
use crate::logid::{sockstat_private_id, PublicId};
use records::{millis, unsigned};
use std::sync::Arc;

/// The errors a Swift or Kotlin caller can act on. Each message says what
/// went wrong (`reason`), never just that something did.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SockstatError {
    /// An argument was out of range or malformed (a negative label, count
    /// or timeout, a label above 255, a label name too long, a setting
    /// outside its range, ...).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What was wrong with it.
        reason: String,
    },
    /// A log ID was not 64 hex characters.
    #[error("invalid log id: {reason}")]
    InvalidLogId {
        /// Upstream's parse message, e.g. `invalid hex length: 3`.
        reason: String,
    },
    /// The operating system refused a file operation.
    #[error("i/o error: {reason}")]
    Io {
        /// What was being done, and the OS error.
        reason: String,
    },
    /// Another logger (in this process or another) holds the log directory.
    /// One logger per directory: shut the other one down first, or use
    /// another directory; `export_log_dir` still reads it.
    #[error("log directory {dir} is in use by another logger")]
    DirectoryInUse {
        /// The directory.
        dir: String,
    },
    /// The logger was shut down; every call after `shutdown` gets this.
    #[error("logger is shut down")]
    Closed,
    /// An upload did not complete, or a host transport failed.
    #[error("upload failed: {reason}")]
    Upload {
        /// HTTP status, timeout or transport error.
        reason: String,
    },
}

/// The one mapping from the core's error onto the public enum.
impl From<crate::Error> for SockstatError {
    fn from(e: crate::Error) -> Self {
        use crate::filch::FilchError;
        use crate::Error as E;
        match e {
            E::InvalidArgument(reason) => SockstatError::InvalidArgument { reason },
            E::InvalidLogId(e) => SockstatError::InvalidLogId { reason: e.to_string() },
            e @ E::Io { .. } => SockstatError::Io { reason: e.to_string() },
            // A line the log refuses is the library's problem, never the
            // caller's argument (the writer drops such lines before this).
            E::Filch(e @ (FilchError::LineTooLong | FilchError::Io { .. } | FilchError::NotRegularFile { .. })) => {
                SockstatError::Io { reason: e.to_string() }
            }
            E::Filch(FilchError::DirInUse { dir }) => SockstatError::DirectoryInUse { dir: dir.display().to_string() },
            E::Filch(FilchError::Closed) => SockstatError::Closed,
            E::Closed => SockstatError::Closed,
            E::Upload(reason) => SockstatError::Upload { reason },
            e @ E::NoTransport => SockstatError::Upload { reason: e.to_string() },
        }
    }
}

impl From<crate::logid::LogIdError> for SockstatError {
    fn from(e: crate::logid::LogIdError) -> Self {
        crate::Error::from(e).into()
    }
}

/// A host-implemented trait method threw something that is not a
/// `SockstatError` (or the call failed); without this UniFFI would panic.
impl From<uniffi::UnexpectedUniFFICallbackError> for SockstatError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        SockstatError::Upload { reason: format!("host transport failed: {}", e.reason) }
    }
}

/// The kind of link the default route uses (the core's enum, exported as is).
#[uniffi::remote(Enum)]
pub enum InterfaceKind {
    Cellular,
    Wifi,
    Wired,
    Other,
    None,
    Unknown,
}

/// A socket-stats logger. Create one per process (per network extension),
/// push counters into it from any thread, and call `shutdown` when the
/// tunnel stops. In Kotlin it is `AutoCloseable`; `close()` releases this
/// handle, `shutdown` stops the logger.
#[derive(Debug, uniffi::Object)]
pub(crate) struct SockstatLogger {
    inner: Logger,
}

#[uniffi::export]
impl SockstatLogger {
    /// Creates a disabled logger uploading with the built-in HTTPS client.
    #[uniffi::constructor]
    pub(crate) fn new(config: LoggerConfig) -> Result<Arc<Self>, SockstatError> {
        Ok(Arc::new(Self { inner: Logger::new(config.try_into()?)? }))
    }

    /// Creates a disabled logger that uploads through the host's transport.
    #[uniffi::constructor]
    pub(crate) fn with_transport(
        config: LoggerConfig,
        transport: Arc<dyn UploadTransport>,
    ) -> Result<Arc<Self>, SockstatError> {
        let transport = Arc::new(transport::HostTransport(transport));
        Ok(Arc::new(Self { inner: Logger::with_transport(config.try_into()?, transport)? }))
    }

    /// Starts sampling now. No-op if enabled.
    pub(crate) fn enable(&self) -> Result<(), SockstatError> {
        Ok(self.inner.enable()?)
    }

    /// Stops sampling and writes what is pending. No-op if disabled.
    pub(crate) fn disable(&self) -> Result<(), SockstatError> {
        Ok(self.inner.disable()?)
    }

    /// Whether sampling is on.
    pub(crate) fn is_enabled(&self) -> bool {
        self.inner.is_enabled()
    }

    /// Adds bytes to a label (0..=255; `tx`, `rx` not negative). Never blocks.
    pub(crate) fn add(&self, label: i32, tx: i64, rx: i64) -> Result<(), SockstatError> {
        let (l, tx, rx) = (records::label("label", label)?, unsigned("tx", tx)?, unsigned("rx", rx)?);
        Ok(self.inner.add(l, tx, rx)?)
    }

    /// Reports cumulative totals for a label; a decrease counts as a reset.
    pub(crate) fn set_totals(&self, label: i32, tx_total: i64, rx_total: i64) -> Result<(), SockstatError> {
        let l = records::label("label", label)?;
        let (tx, rx) = (unsigned("tx_total", tx_total)?, unsigned("rx_total", rx_total)?);
        Ok(self.inner.set_totals(l, tx, rx)?)
    }

    /// Many pushes in one call; on an invalid sample nothing is applied.
    pub(crate) fn push_batch(&self, samples: Vec<CounterSample>) -> Result<(), SockstatError> {
        let samples = samples.into_iter().map(crate::CounterSample::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(self.inner.push_batch(&samples)?)
    }

    /// Names a label (0..=255; the name 1..=64 printable bytes, no lone
    /// UTF-16 surrogate).
    pub(crate) fn register_label(&self, label: i32, name: HostString) -> Result<(), SockstatError> {
        let label = records::label("label", label)?;
        Ok(self.inner.register_label(label, &name.strict("label name")?)?)
    }

    /// Sets the current default interface; `Unknown` infers the kind from
    /// the name. A name with a lone UTF-16 surrogate is an `InvalidArgument`.
    pub(crate) fn set_interface(&self, name: HostString, kind: InterfaceKind) -> Result<(), SockstatError> {
        Ok(self.inner.set_interface(&name.strict("interface name")?, kind)?)
    }

    /// Logs a free-form text line, whatever it holds: a lone UTF-16
    /// surrogate (a Kotlin/Java string cut inside a character) is stored as
    /// U+FFFD.
    pub(crate) fn write_text(&self, text: HostString) -> Result<(), SockstatError> {
        Ok(self.inner.write_text(&text.lossy())?)
    }

    /// Registers (or with `null`/`nil` removes) the listener that hears about
    /// background failures (write failures, dropped entries, upload
    /// failures), called on a library thread, never the caller's.
    pub(crate) fn set_listener(&self, listener: Option<Arc<dyn LoggerListener>>) -> Result<(), SockstatError> {
        let listener = listener.map(|l| Arc::new(listener::HostListener(l)) as Arc<dyn crate::Listener>);
        Ok(self.inner.set_listener(listener)?)
    }

    /// Writes pending events and wakes the uploader; returns at once.
    pub(crate) fn start_flush(&self) -> Result<(), SockstatError> {
        Ok(self.inner.start_flush()?)
    }

    /// Writes pending events and uploads until drained or `timeout_ms`
    /// (not negative) passes.
    pub(crate) fn flush(&self, timeout_ms: i64) -> Result<FlushReport, SockstatError> {
        Ok(self.inner.flush(millis("timeout_ms", timeout_ms)?)?.into())
    }

    /// The sockstat public log ID (64 hex characters).
    pub(crate) fn log_id(&self) -> String {
        self.inner.log_id()
    }

    /// Every log line on disk, oldest first.
    pub(crate) fn export(&self) -> Result<Vec<String>, SockstatError> {
        Ok(self.inner.export()?)
    }

    /// What the logger did so far.
    pub(crate) fn stats(&self) -> Result<LoggerStats, SockstatError> {
        Ok(self.inner.stats()?.into())
    }

    /// The handle for `dev.sockstatlog.FastCounters` (JNI, a Java `long`):
    /// an opaque, checked number (positive), the same on every call. Once
    /// the logger is shut down or freed, pushes through it return `false`.
    pub(crate) fn fast_counters_handle(&self) -> Result<i64, SockstatError> {
        // The same 64 bits the JNI side reads back from its `jlong`: a
        // bit-for-bit cast, not a range conversion.
        Ok(self.inner.fast_counters_handle()? as i64)
    }

    /// Disables, writes everything, stops the threads, waiting at most
    /// `timeout_ms` (not negative). Every later call fails with `Closed`.
    pub(crate) fn shutdown(&self, timeout_ms: i64) -> Result<(), SockstatError> {
        Ok(self.inner.shutdown(millis("timeout_ms", timeout_ms)?)?)
    }
}

/// A config with every default for this log directory and node
/// (`backend_public_id` is the node's 64-hex backend public log ID; it is
/// checked when the logger is created).
#[uniffi::export]
pub(crate) fn default_logger_config(log_dir: HostString, backend_public_id: HostString) -> LoggerConfig {
    LoggerConfig::with_defaults(log_dir, backend_public_id)
}

/// Every log line in `log_dir`, oldest first, without a logger: nothing in
/// the directory is created, locked or changed, so this reads a directory
/// another process's logger holds (an iOS app reading its extension's
/// app-group directory). A line being written right now is left out.
#[uniffi::export]
pub(crate) fn export_log_dir(log_dir: HostString) -> Result<Vec<String>, SockstatError> {
    Ok(crate::logger::export_log_dir(std::path::Path::new(&log_dir.strict("log_dir")?))?)
}

/// The sockstat private and public log IDs of a node, from its backend
/// public log ID (64 hex characters).
#[uniffi::export]
pub(crate) fn sockstat_log_id(backend_public_id: HostString) -> Result<SockstatIds, SockstatError> {
    let private = sockstat_private_id(&PublicId::parse(&backend_public_id.strict("backend_public_id")?)?);
    Ok(SockstatIds { private_id: private.to_hex(), public_id: private.public().to_hex() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_in_use_reaches_the_bindings_as_its_own_case() {
        let dir = tempfile::tempdir().unwrap();
        let first = crate::Logger::new(crate::Config::new(dir.path(), PublicId([9; 32]))).unwrap();
        let err: SockstatError =
            crate::Logger::new(crate::Config::new(dir.path(), PublicId([9; 32]))).unwrap_err().into();
        assert!(
            matches!(&err, SockstatError::DirectoryInUse { dir: d } if *d == dir.path().display().to_string()),
            "{err:?}"
        );
        first.shutdown(std::time::Duration::from_secs(5)).unwrap();
    }
}
