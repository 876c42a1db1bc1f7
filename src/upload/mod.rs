//! On-demand upload of the on-disk log to a logtail-compatible server.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use crate::config::UploadConfig;
use crate::counters::Counters;
use crate::error::Result;
use crate::filch::LogFiles;
use crate::logid::PrivateId;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One HTTP request the uploader wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Full URL: `{base}/c/{collection}/{private id hex}`.
    pub url: String,
    /// Header name/value pairs (e.g. `Content-Encoding: zstd`).
    pub headers: Vec<(String, String)>,
    /// The body (a JSON array of log lines, maybe zstd-compressed).
    pub body: Vec<u8>,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status code; only 200 means stored.
    pub status: u16,
    /// Response headers (`Retry-After` is honoured).
    pub headers: Vec<(String, String)>,
    /// At most the first KiB of the body, for error messages.
    pub body: Vec<u8>,
}

/// A way to send upload requests other than the built-in HTTP client, e.g.
/// through URLSession or OkHttp so the upload bypasses the host's own tunnel.
/// Called on the uploader's thread; it may block, and should enforce its own
/// timeout.
pub trait Transport: Send + Sync {
    /// Sends one request. `Err` is a transport failure (no HTTP answer); it is
    /// retried like a 5xx.
    fn send(&self, request: HttpRequest) -> std::result::Result<HttpResponse, String>;
}

/// What a `flush` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// True when the log was fully drained before the timeout.
    pub drained: bool,
    /// Requests answered 200.
    pub batches: u64,
    /// Log lines delivered.
    pub entries: u64,
    /// Body bytes before compression.
    pub raw_bytes: u64,
    /// Body bytes as sent.
    pub sent_bytes: u64,
    /// HTTP attempts, including failed ones.
    pub attempts: u64,
    /// The last failure, if any attempt failed.
    pub last_error: Option<String>,
}

/// Totals since the logger started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadStats {
    /// Requests answered 200.
    pub batches: u64,
    /// Lines delivered.
    pub entries: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Bytes sent on the wire (bodies).
    pub sent_bytes: u64,
}

/// The uploader: a thread running a small tokio runtime, idle until woken.
#[derive(Debug)]
pub struct Uploader {
    _private: (),
}

impl Uploader {
    /// Validates the config (URL scheme) and starts the uploader thread.
    pub fn start(
        _config: &UploadConfig,
        _private_id: PrivateId,
        _files: Arc<Mutex<LogFiles>>,
        _counters: Arc<Counters>,
        _transport: Option<Arc<dyn Transport>>,
    ) -> Result<Uploader> {
        todo!()
    }
    /// Wakes the uploader; returns at once.
    pub fn start_flush(&self) {
        todo!()
    }
    /// Wakes the uploader and waits until the log is drained or `timeout` passes.
    pub fn flush(&self, _timeout: Duration) -> FlushReport {
        todo!()
    }
    /// Totals so far.
    pub fn stats(&self) -> UploadStats {
        todo!()
    }
    /// Stops the thread, waiting at most `timeout`; an upload in flight is abandoned
    /// (its lines stay on disk, uncommitted).
    pub fn shutdown(&self, _timeout: Duration) {
        todo!()
    }
}
