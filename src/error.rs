//! The crate's one rich error type. Every fallible operation in the core returns
//! [`Error`]; the FFI layer maps it onto the small public enum a Swift or Kotlin
//! caller can act on (see `ffi.rs`), in one place.

pub use crate::filch::FilchError;
pub use crate::logid::LogIdError;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller passed something out of range or malformed (a label above
    /// 255, an empty label name, an unparsable URL, ...). The message names it.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A log ID did not parse.
    #[error(transparent)]
    InvalidLogId(#[from] LogIdError),
    /// An operating-system I/O failure, with what we were doing at the time.
    #[error("{context}: {source}")]
    Io {
        /// What the library was doing, e.g. `creating log dir /x`.
        context: String,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// The on-disk log refused or failed an operation.
    #[error(transparent)]
    Filch(#[from] FilchError),
    /// The logger was shut down; every call after `shutdown` gets this.
    #[error("logger is shut down")]
    Closed,
    /// An upload did not complete (the message says why: HTTP status, timeout,
    /// transport error).
    #[error("upload failed: {0}")]
    Upload(String),
    /// An upload was asked of a logger made without a transport, in a build
    /// without the built-in HTTP client (cargo feature `http`, off in the
    /// Android and iOS libraries). Nothing is lost: the log stays on disk.
    #[error(
        "no upload transport: this build has no built-in HTTP client (cargo feature `http`); \
         make the logger with a transport (Rust: Logger::with_transport; Swift: \
         SockstatLogger.withURLSession; Android: SockstatVpnSession)"
    )]
    NoTransport,
}

impl Error {
    /// Wraps an I/O error with a description of what was being done. The
    /// library's own: a host's errors are not the library's.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
