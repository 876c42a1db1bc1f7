//! The uploader thread's loop: sleep until woken, drain the log batch by
//! batch, retry a batch until the server stores it, record what happened.

use super::http::{PreparedRequest, Sender};
use super::{body, policy, LogSource, Shared, UploadEvent};
use crate::config::UploadConfig;
use crate::counters::Counters;
use crate::filch::Cursor;
use crate::labels::SOCKSTATLOG_LOGGER;
use crate::listener::LoggerEvent;
use crate::sync::lock;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

/// How far a body may exceed `max_body_bytes` before the batch is re-read
/// smaller: one maximal stored line (64 KiB, the on-disk log's line limit)
/// plus its framing, i.e. upstream's "overshoot by one line".
const MAX_OVERSHOOT_BYTES: usize = crate::filch::MAX_LINE_BYTES + 1;
/// Smallest read budget when shrinking a batch whose text conversion blew
/// up; below this the batch is a single line anyway.
const MIN_PEEK_BYTES: usize = 1 << 10;

/// Why a drain pass ended without emptying the log.
struct Stopped;

/// One batch ready to send, and what to commit once it is stored.
struct Prepared {
    request: PreparedRequest,
    cursor: Cursor,
    raw_len: usize,
    compressed: bool,
    lines: u64,
}

pub(super) struct Worker {
    url: String,
    max_body: usize,
    timeout: Duration,
    backoff_base: Duration,
    backoff_cap: Duration,
    files: Arc<dyn LogSource>,
    counters: Arc<Counters>,
    sender: Sender,
    shared: Arc<Shared>,
    /// Consecutive failures and when the first of them happened.
    failures: u32,
    failing_since: Option<Instant>,
    /// The last error printed, so each distinct error is printed once.
    last_logged: Option<String>,
}

impl Worker {
    pub(super) fn new(
        config: &UploadConfig,
        url: String,
        files: Arc<dyn LogSource>,
        counters: Arc<Counters>,
        sender: Sender,
        shared: Arc<Shared>,
    ) -> Worker {
        Worker {
            url,
            max_body: config.max_body_bytes.max(1),
            timeout: config.attempt_timeout,
            backoff_base: config.backoff_base,
            backoff_cap: config.backoff_cap,
            files,
            counters,
            sender,
            shared,
            failures: 0,
            failing_since: None,
            last_logged: None,
        }
    }

    /// Queues an event for the host's listener (never waits for it).
    /// Tells the host's listener, if the logger has one; returns whether
    /// there was a reporter to tell.
    fn report(&self, event: impl FnOnce() -> LoggerEvent) -> bool {
        self.shared.reporter.get().map(|r| r.report(event)).is_some()
    }

    pub(super) fn run(mut self, rt: tokio::runtime::Runtime) {
        rt.block_on(async {
            while self.until_stop(self.shared.wake.notified()).await.is_some() {
                let seq = self.shared.wake_seq.load(SeqCst);
                if self.drain().await.is_err() {
                    break;
                }
                lock(&self.shared.state).drained_seq = seq;
                self.shared.changed.notify_all();
                // The flush is complete for its caller; making the read
                // position durable (one fdatasync) need not delay it. A failure
                // is retried by the next commit or flush.
                let res = self.files.sync_read_position();
                if let Err(e) = res {
                    let err = format!("committing the read position: {e}");
                    if self.last_logged.as_deref() != Some(err.as_str()) {
                        self.report(|| LoggerEvent::WriteFailed { reason: err.clone() });
                        self.last_logged = Some(err.clone());
                    }
                    lock(&self.shared.state).last_error = Some(err);
                }
            }
        });
        // Stopping mid-drain: make the commits so far durable (best effort; a
        // failure only means a power loss could re-send a few batches).
        let _ = self.files.sync_read_position();
        // Don't wait for a host transport call still blocking a helper thread.
        rt.shutdown_background();
        lock(&self.shared.state).exited = true;
        self.shared.changed.notify_all();
    }

    /// Uploads batches until the log is empty (commits are mostly cheap, see
    /// `filch`; `run` makes the position durable afterwards). While one
    /// batch is in flight the next one is read and compressed on a helper
    /// thread, so the server's time and ours overlap.
    async fn drain(&mut self) -> Result<(), Stopped> {
        let mut ahead: Option<tokio::task::JoinHandle<Result<Option<Prepared>, String>>> = None;
        loop {
            // A read-ahead batch that failed or came back empty is simply
            // prepared again below; one read before a rotation is stale.
            let ready = match ahead.take() {
                Some(handle) => handle.await.ok().and_then(Result::ok).flatten(),
                None => None,
            };
            let ready = ready.filter(|p| self.files.is_current(p.cursor));
            let next = match ready {
                Some(p) => Ok(Some(p)),
                None => self.next_batch(),
            };
            let prepared = match next {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.failed(format!("reading the log: {e}"), None).await?;
                    continue;
                }
            };
            if prepared.lines == 0 && prepared.request.body.len() <= 2 {
                // Only empty lines: nothing to send, just move past them.
                self.commit(prepared.cursor).await?;
                continue;
            }
            let (files, url, max_body, after) = (self.files.clone(), self.url.clone(), self.max_body, prepared.cursor);
            ahead = Some(tokio::task::spawn_blocking(move || prepare(&*files, &url, max_body, Some(after))));
            self.deliver(&prepared).await?;
            self.commit(prepared.cursor).await?;
        }
    }

    /// Sends one batch until it is stored.
    async fn deliver(&mut self, p: &Prepared) -> Result<(), Stopped> {
        loop {
            lock(&self.shared.state).stats.attempts += 1;
            let ex = self.until_stop(self.sender.send(&p.request, self.timeout)).await.ok_or(Stopped)?;
            self.counters.add(SOCKSTATLOG_LOGGER, p.request.wire_bytes(), ex.rx_bytes);
            let sent = p.request.body.len();
            let (err, retry_after) = match ex.result {
                Ok(r) if r.status == 200 => {
                    self.succeeded(p);
                    return Ok(());
                }
                Ok(r) => {
                    let ra = r
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                        .and_then(|(_, v)| policy::parse_retry_after(v, SystemTime::now()));
                    (policy::status_error(sent, p.compressed, r.status, &r.body), ra)
                }
                Err(e) => {
                    let how = if p.compressed { "compressed" } else { "not-compressed" };
                    (format!("log upload of {sent} bytes {how} failed: {e}"), None)
                }
            };
            self.failed(err, retry_after).await?;
        }
    }

    fn succeeded(&mut self, p: &Prepared) {
        let (raw_bytes, sent_bytes) = (p.raw_len as u64, p.request.body.len() as u64);
        {
            let mut st = lock(&self.shared.state);
            st.stats.batches += 1;
            st.stats.entries += p.lines;
            st.stats.raw_bytes += raw_bytes;
            st.stats.sent_bytes += sent_bytes;
        }
        let told = self.shared.tell(&UploadEvent::Stored { entries: p.lines, raw_bytes, sent_bytes });
        if let Some(since) = self.failing_since.take() {
            let failures = self.failures;
            let reported = self.report(|| LoggerEvent::UploadRecovered { failures: failures.into() });
            if !reported && !told {
                eprintln!("sockstatlog: upload succeeded after {failures} failures and {:.1?}", since.elapsed());
            }
        }
        self.failures = 0;
        self.last_logged = None;
    }

    /// Records a failure, prints it if it differs from the last one, and
    /// waits before the next try.
    async fn failed(&mut self, err: String, retry_after: Option<Duration>) -> Result<(), Stopped> {
        self.failures = self.failures.saturating_add(1);
        self.failing_since.get_or_insert_with(Instant::now);
        // A failure like the last one is counted but not told again.
        let new_cause = self.last_logged.as_deref() != Some(err.as_str());
        let consecutive_failures = self.failures.into();
        let reported =
            new_cause && self.report(|| LoggerEvent::UploadFailed { reason: err.clone(), consecutive_failures });
        let wait = policy::next_wait(retry_after, self.failures, self.backoff_base, self.backoff_cap, fastrand::f64());
        let attempts = {
            let mut st = lock(&self.shared.state);
            st.stats.failures += 1;
            st.stats.retry_waits += 1;
            st.stats.retry_wait_ms += wait.as_millis() as u64;
            st.last_error = Some(err.clone());
            st.stats.attempts
        };
        let told = self.shared.tell(&UploadEvent::Failed { attempts, error: err.clone(), retry_in: wait });
        if new_cause {
            // Only a host with neither a listener nor an observer (a Rust
            // host's `upload_log_dir`) hears of it on stderr.
            if !reported && !told {
                eprintln!("sockstatlog: {err}");
            }
            self.last_logged = Some(err);
        }
        self.shared.changed.notify_all();
        self.until_stop(tokio::time::sleep(wait)).await.ok_or(Stopped)
    }

    /// Commits the read position (durably only at the log's policy points);
    /// a failure means the batch will be sent again (the server drops the
    /// duplicates), after a backoff so a broken disk does not turn into a
    /// tight upload loop.
    async fn commit(&mut self, cursor: Cursor) -> Result<(), Stopped> {
        let res = self.files.commit(cursor);
        match res {
            Ok(()) => Ok(()),
            Err(e) => self.failed(format!("committing the read position: {e}"), None).await,
        }
    }

    /// The next batch from disk, framed and compressed, or `None` when the
    /// log is empty.
    fn next_batch(&self) -> Result<Option<Prepared>, String> {
        prepare(&*self.files, &self.url, self.max_body, None)
    }

    /// Runs `f` unless shutdown is signalled first (`None` then).
    async fn until_stop<F: Future>(&self, f: F) -> Option<F::Output> {
        if self.shared.stopping.load(SeqCst) {
            return None;
        }
        let mut stop = pin!(self.shared.stop.notified());
        let mut f = pin!(f);
        poll_fn(|cx| {
            if stop.as_mut().poll(cx).is_ready() || self.shared.stopping.load(SeqCst) {
                return Poll::Ready(None);
            }
            f.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

/// Reads, frames and compresses one batch: the oldest uncommitted lines, or
/// with `after` the lines just after that (not yet committed) batch. `None`
/// when the log is empty, or, with `after`, when nothing can be read ahead
/// (see `LogFiles::peek_after`). Only the reading happens on the log's side.
fn prepare(
    files: &dyn LogSource,
    url: &str,
    max_body: usize,
    after: Option<Cursor>,
) -> Result<Option<Prepared>, String> {
    let mut budget = max_body;
    loop {
        let batch = match after {
            None => files.peek(budget)?,
            Some(c) => match files.peek_after(c, budget)? {
                Some(b) => b,
                None => return Ok(None),
            },
        };
        if batch.lines.is_empty() && batch.skipped_long_lines == 0 {
            if after.is_none() {
                // Nothing to send; step over any blank lines the batch covered
                // (a no-op commit when there were none).
                files.commit(batch.cursor)?;
            }
            return Ok(None);
        }
        let now = SystemTime::now();
        let framing = body::frame(&batch.lines, batch.skipped_long_lines, now);
        let len = framing.raw_len();
        // Text conversion can inflate odd lines (control bytes escape to
        // 6 bytes); re-read fewer lines rather than send a huge body.
        let fits = len <= max_body + MAX_OVERSHOOT_BYTES;
        if !fits && batch.lines.len() > 1 && budget > MIN_PEEK_BYTES {
            budget /= 2;
            continue;
        }
        let lines = batch.lines.iter().filter(|l| !l.is_empty()).count() as u64;
        let b = framing.build().map_err(|e| format!("compressing: {e}"))?;
        drop(framing);
        let cursor = batch.cursor;
        drop(batch);
        let request = PreparedRequest { url: url.to_string(), headers: b.headers(), body: b.bytes.into() };
        return Ok(Some(Prepared { request, cursor, raw_len: b.raw_len, compressed: b.compressed, lines }));
    }
}
