//! On-demand upload of the on-disk log to a logtail-compatible server.
//!
//! One thread, `sockstatlog-upload`, owns a current-thread tokio runtime and
//! sleeps (no timers, no wake-ups) until [`Uploader::start_flush`]. Woken, it
//! drains the log one batch at a time: peek the oldest uncommitted lines
//! (at most one body's worth, so memory does not grow with the log), frame
//! and compress them ([`body`]), POST them, and commit the read position only
//! after a 200. Any other outcome retries the same batch after the server's
//! `Retry-After` or a jittered backoff ([`policy`]). When the log is empty it
//! reports to any waiting [`Uploader::flush`] and sleeps again.
//!
//! The uploader never holds the log: it reads and commits through
//! [`LogSource`], a narrow interface whose logger implementation runs each
//! call as a job on the writer thread, the log's one owner.
//!
//! Delivery is at-least-once from here; the `proc_id`/`proc_seq` of every
//! entry lets the server make it exactly-once (our collector does).

pub(crate) mod body;
mod http;
pub(crate) mod policy;
mod worker;

use crate::config::UploadConfig;
use crate::counters::Counters;
use crate::error::{Error, Result};
use crate::filch::{Batch, Cursor, LogFiles};
use crate::logid::PrivateId;
use crate::sync::lock;
use crate::threads::Deadline;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// All the uploader may do with the log (upstream filch's read-a-line and
/// commit, by the batch): read the oldest uncommitted lines, read ahead past
/// a batch in flight, commit a delivered batch, make the position durable.
/// Errors come back as text, for the uploader's report. Calls may block
/// while the disk does; they are made from the uploader's own threads.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) trait LogSource: Send + Sync {
    /// [`LogFiles::peek`].
    fn peek(&self, max_bytes: usize) -> Result<Batch, String>;
    /// [`LogFiles::peek_after`].
    fn peek_after(&self, after: Cursor, max_bytes: usize) -> Result<Option<Batch>, String>;
    /// [`LogFiles::is_current`]; false when the log is gone.
    fn is_current(&self, cursor: Cursor) -> bool;
    /// [`LogFiles::commit`].
    fn commit(&self, cursor: Cursor) -> Result<(), String>;
    /// [`LogFiles::sync_read_position`].
    fn sync_read_position(&self) -> Result<(), String>;
}

/// A log with no writer (`upload_log_dir`, tests, benches): the uploader is
/// its only user, so the mutex is never contended by a caller that must not wait.
impl LogSource for Mutex<LogFiles> {
    fn peek(&self, max_bytes: usize) -> Result<Batch, String> {
        lock(self).peek(max_bytes).map_err(|e| e.to_string())
    }

    fn peek_after(&self, after: Cursor, max_bytes: usize) -> Result<Option<Batch>, String> {
        lock(self).peek_after(after, max_bytes).map_err(|e| e.to_string())
    }

    fn is_current(&self, cursor: Cursor) -> bool {
        lock(self).is_current(cursor)
    }

    fn commit(&self, cursor: Cursor) -> Result<(), String> {
        lock(self).commit(cursor).map_err(|e| e.to_string())
    }

    fn sync_read_position(&self) -> Result<(), String> {
        lock(self).sync_read_position().map_err(|e| e.to_string())
    }
}

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
/// Called on a blocking helper thread of the uploader; it may block, and
/// should enforce its own timeout. The uploader stops waiting for it after
/// `attempt_timeout`, but never calls it again while an earlier call is still
/// running: a call that never returns stops uploads (one thread, one body),
/// it does not multiply. Only a 200 counts as stored: a redirect is a failed
/// attempt, so the transport should not follow redirects itself.
pub trait Transport: Send + Sync {
    /// Sends one request. `Err` is a transport failure (no HTTP answer); it is
    /// retried like a 5xx.
    fn send(&self, request: HttpRequest) -> std::result::Result<HttpResponse, String>;
}

/// Drains the log directory `dir` (one pulled off a device, or left by a
/// logger that is not running) to the server under `private_id`, through the
/// same uploader a [`Logger`](crate::Logger) uses: each batch is committed
/// after its 200, so an interrupted run resumes where it stopped. The log is
/// opened (and locked: a directory a running logger holds is refused with
/// `DirectoryInUse`). Returns when the log is drained or `timeout` has passed;
/// [`FlushReport::drained`] says which, and `last_error` why not.
pub fn upload_log_dir(
    dir: &std::path::Path,
    config: &UploadConfig,
    private_id: PrivateId,
    timeout: Duration,
) -> Result<FlushReport> {
    drain_dir(dir, config, private_id, timeout, None)
}

/// [`upload_log_dir`], telling `observer` about every stored batch and every
/// failed attempt as it happens (a command line's progress display). The
/// observer runs on the upload thread, so it should be quick; while one is
/// given, the uploader prints nothing to stderr itself.
pub fn upload_log_dir_observed(
    dir: &std::path::Path,
    config: &UploadConfig,
    private_id: PrivateId,
    timeout: Duration,
    observer: impl Fn(&UploadEvent) + Send + Sync + 'static,
) -> Result<FlushReport> {
    drain_dir(dir, config, private_id, timeout, Some(Box::new(observer)))
}

fn drain_dir(
    dir: &std::path::Path,
    config: &UploadConfig,
    private_id: PrivateId,
    timeout: Duration,
    observer: Option<Observer>,
) -> Result<FlushReport> {
    let files = LogFiles::open(dir, crate::filch::FilchOptions::default())?;
    let uploader = Uploader::start(config, private_id, Arc::new(Mutex::new(files)), Arc::default(), None)?;
    if let Some(observer) = observer {
        // The thread sleeps until the flush below wakes it: nothing happens before this.
        let _ = uploader.shared.observer.set(observer);
    }
    let report = uploader.flush(timeout);
    uploader.shutdown(Duration::from_secs(1));
    Ok(report)
}

/// One thing the uploader did, as told to an [`upload_log_dir_observed`] observer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadEvent {
    /// The server stored a batch (answered 200).
    Stored {
        /// Log lines in the batch.
        entries: u64,
        /// Body bytes before compression.
        raw_bytes: u64,
        /// Body bytes as sent.
        sent_bytes: u64,
    },
    /// An attempt failed; the same batch is tried again after `retry_in`.
    Failed {
        /// Attempts so far, this one included.
        attempts: u64,
        /// Why (the same text as [`FlushReport::last_error`]).
        error: String,
        /// The wait before the next attempt (backoff or the server's Retry-After).
        retry_in: Duration,
    },
}

/// Receives [`UploadEvent`]s on the upload thread.
type Observer = Box<dyn Fn(&UploadEvent) + Send + Sync>;

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
    /// The last failure, if any attempt failed during this flush.
    pub last_error: Option<String>,
    /// Writing the newest entries to disk failed (or did not finish in time)
    /// before this upload: what was already on disk was uploaded, these were
    /// not. `None` when the write succeeded.
    pub write_error: Option<String>,
    /// Why nothing was sent: `Some("metered")` when `upload_on_metered` is
    /// off and the network is cellular or metered (the upload starts by
    /// itself on an unmetered network); `None` when the upload ran.
    pub deferred: Option<String>,
}

/// Totals since the uploader started.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UploadStats {
    /// Requests answered 200.
    pub batches: u64,
    /// Lines delivered.
    pub entries: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Bytes sent on the wire (bodies of successful requests).
    pub sent_bytes: u64,
    /// Body bytes of successful requests before compression.
    pub raw_bytes: u64,
    /// HTTP attempts, including failed ones.
    pub attempts: u64,
    /// Waits before a retry (Retry-After or backoff).
    pub retry_waits: u64,
    /// Total time spent in those waits, in milliseconds.
    pub retry_wait_ms: u64,
}

/// State shared between the handle and the uploader thread.
struct Shared {
    /// Coalescing wake-up: `notify_one` stores at most one permit, like a
    /// capacity-1 channel.
    wake: tokio::sync::Notify,
    /// Shutdown signal; `stopping` makes it sticky.
    stop: tokio::sync::Notify,
    stopping: AtomicBool,
    /// Incremented by every flush request; the thread reads it before a
    /// drain pass and reports it back as `State::drained_seq` when the pass
    /// found the log empty.
    wake_seq: AtomicU64,
    state: Mutex<State>,
    changed: Condvar,
    /// Where failures are reported (`Uploader::report_to`).
    reporter: std::sync::OnceLock<crate::listener::Reporter>,
    /// Set at most once, before the first flush (see [`upload_log_dir_observed`]).
    observer: std::sync::OnceLock<Observer>,
}

impl Shared {
    /// Tells the observer, if any; returns whether there was one.
    fn tell(&self, event: &UploadEvent) -> bool {
        self.observer.get().map(|observe| observe(event)).is_some()
    }
}

#[derive(Default)]
struct State {
    drained_seq: u64,
    stats: UploadStats,
    last_error: Option<String>,
    exited: bool,
}

/// The uploader: a thread running a small tokio runtime, idle until woken.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) struct Uploader {
    shared: Arc<Shared>,
    thread: Mutex<Option<(JoinHandle<()>, mpsc::Receiver<()>)>>,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader").field("stats", &self.stats()).finish()
    }
}

impl Uploader {
    /// Validates the config (URL scheme, collection) and starts the uploader
    /// thread. A plain `http://` base URL is refused unless `allow_http`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn start(
        config: &UploadConfig,
        private_id: PrivateId,
        files: Arc<dyn LogSource>,
        counters: Arc<Counters>,
        transport: Option<Arc<dyn Transport>>,
    ) -> Result<Uploader> {
        let url = upload_url(config, &private_id)?;
        let sender = http::Sender::new(transport, config.attempt_timeout, config.allow_http)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::io("starting the upload runtime", e))?;
        let shared = Arc::new(Shared {
            wake: tokio::sync::Notify::new(),
            stop: tokio::sync::Notify::new(),
            stopping: AtomicBool::new(false),
            wake_seq: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            observer: std::sync::OnceLock::new(),
            reporter: std::sync::OnceLock::new(),
        });
        let worker = worker::Worker::new(config, url, files, counters, sender, shared.clone());
        let (done_tx, done_rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("sockstatlog-upload".into())
            .spawn(move || {
                worker.run(rt);
                let _ = done_tx.send(());
            })
            .map_err(|e| Error::io("starting the upload thread", e))?;
        Ok(Uploader { shared, thread: Mutex::new(Some((handle, done_rx))) })
    }

    /// Wakes the uploader; returns at once. Calls while it is busy coalesce
    /// into one more drain pass.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn start_flush(&self) {
        self.shared.wake_seq.fetch_add(1, SeqCst);
        self.shared.wake.notify_one();
    }

    /// Wakes the uploader and waits until the log is drained or `timeout`
    /// passes. The report covers what happened during the wait; on timeout
    /// the uploader keeps trying in the background.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn flush(&self, timeout: Duration) -> FlushReport {
        let deadline = Deadline::after(timeout);
        let seq = self.shared.wake_seq.fetch_add(1, SeqCst) + 1;
        let mut st = lock(&self.shared.state);
        let before = st.stats;
        self.shared.wake.notify_one();
        while st.drained_seq < seq && !st.exited {
            let left = deadline.left();
            if left.is_zero() {
                break;
            }
            st = self.shared.changed.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        let s = st.stats;
        FlushReport {
            drained: st.drained_seq >= seq,
            batches: s.batches - before.batches,
            entries: s.entries - before.entries,
            raw_bytes: s.raw_bytes - before.raw_bytes,
            sent_bytes: s.sent_bytes - before.sent_bytes,
            attempts: s.attempts - before.attempts,
            last_error: if s.failures > before.failures { st.last_error.clone() } else { None },
            write_error: None,
            deferred: None,
        }
    }

    /// Reports upload failures to the host's listener from now on.
    pub(crate) fn report_to(&self, reporter: crate::listener::Reporter) {
        let _ = self.shared.reporter.set(reporter);
    }

    /// Totals so far.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn stats(&self) -> UploadStats {
        lock(&self.shared.state).stats
    }

    /// Stops the thread, waiting at most `timeout`; an upload in flight is
    /// abandoned (its lines stay on disk, uncommitted). Later calls return at once.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn shutdown(&self, timeout: Duration) {
        self.stop_soon();
        let Some((handle, done)) = lock(&self.thread).take() else {
            return;
        };
        if done.recv_timeout(timeout).is_ok() {
            let _ = handle.join();
        } // else: detached; it exits at its next await point.
    }

    /// Tells the thread to stop at its next await point; returns at once.
    pub(crate) fn stop_soon(&self) {
        self.shared.stopping.store(true, SeqCst);
        self.shared.stop.notify_one();
    }
}

impl Drop for Uploader {
    /// Tells the thread to stop without waiting for it.
    fn drop(&mut self) {
        self.stop_soon();
    }
}

/// `{base}/c/{collection}/{private hex}`, after [`UploadConfig::validate`].
fn upload_url(config: &UploadConfig, id: &PrivateId) -> Result<String> {
    config.validate()?;
    let base = config.base_url.trim_end_matches('/');
    Ok(format!("{base}/c/{}/{}", config.collection, id.to_hex()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(base: &str, allow_http: bool) -> UploadConfig {
        UploadConfig { base_url: base.into(), allow_http, ..UploadConfig::default() }
    }

    #[test]
    fn url_uses_collection_and_private_hex() {
        let id = PrivateId([0xab; 32]);
        let url = upload_url(&cfg("https://log.example/", false), &id).unwrap();
        assert_eq!(url, format!("https://log.example/c/sockstats.log.tailscale.io/{}", "ab".repeat(32)));
    }

    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let id = PrivateId([1; 32]);
        let err = upload_url(&cfg("http://127.0.0.1:1", false), &id).unwrap_err();
        assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("allow_http")), "{err}");
        assert!(upload_url(&cfg("http://127.0.0.1:1", true), &id).is_ok());
        assert!(upload_url(&cfg("ftp://x", true), &id).is_err());
        assert!(upload_url(&cfg("not a url", true), &id).is_err());
    }
}
