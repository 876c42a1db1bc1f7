//! The writer: the one owner of the on-disk log. Its thread runs the log
//! service: it holds [`LogFiles`] on its own stack (no other thread can reach
//! them), and with it the encoder that numbers entries and the retry buffer
//! of a failed write. Everyone else talks to it through this module's narrow
//! interface: the sampler and the host *push* entries into the pending queue
//! (a short lock, never held across I/O); the host and the uploader *ask* it
//! for a job on the log (write now, export, peek a batch, commit a cursor)
//! and get the answer back over a channel; `stats()` reads the counters and
//! the file totals the thread *publishes* after each job, never the files.
//!
//! Every write interval (and when asked: disable, flush, export, shutdown)
//! the thread takes the pending entries, wraps each as a logtail line with
//! `client_time`/`proc_id`/`proc_seq`, appends them to the log in one write
//! and fsyncs. It sleeps without a timeout while nothing is pending, and
//! wakes once per interval while traffic flows. When it exits (shutdown) it
//! closes the log, giving the directory up: nothing else holds it.
//!
//! Nothing here is reported to a caller as the caller's mistake: a line too
//! long to store is dropped and counted on its own, and when the disk fails
//! (the append, or the fsync after it) the encoded lines wait in a bounded
//! retry buffer that gives up its *oldest* lines first, counted, and are
//! appended again at the next write.

mod access;
mod encoder;

#[cfg(feature = "testing")]
pub use access::OwnedLog;
pub(crate) use access::WriterLog;
#[cfg(not(feature = "testing"))]
pub(crate) use encoder::Encoder;
#[cfg(feature = "testing")]
pub use encoder::{Encoded, Encoder};

use crate::error::{Error, Result};
use crate::filch::{FilchError, FilchStats, LogFiles};
use crate::listener::{LoggerEvent, Reporter};
use crate::os_totals::OsTotals;
use crate::queue::{Pending, PendingQueue};
use crate::sync::lock;
use crate::threads::Deadline;
use crate::wire;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::Duration;

/// Encoded lines kept for the next attempt after a failed append (e.g. a full
/// disk), at most this many bytes: ten minutes of busy 100 ms events. Beyond
/// it the oldest lines are dropped and counted, so the newest survive.
pub(crate) const MAX_RETRY_BYTES: usize = 1 << 20;

/// Drops whole lines from the front of `retry` until it is at most `max`
/// bytes; returns the lines and bytes dropped.
fn trim_oldest(retry: &mut String, max: usize) -> (u64, u64) {
    if retry.len() <= max {
        return (0, 0);
    }
    let excess = retry.len() - max;
    // Cut just after the first newline at or past the excess: only whole
    // lines go, and what is left fits.
    let cut = match retry.as_bytes()[excess.saturating_sub(1)..].iter().position(|&b| b == b'\n') {
        Some(i) => excess.saturating_sub(1) + i + 1,
        None => retry.len(),
    };
    let lines = retry.as_bytes()[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
    retry.drain(..cut);
    (lines, cut as u64)
}

/// Called with the result of the write that covers everything pending when
/// it was registered.
type Waiter = Box<dyn FnOnce(&Result<()>) + Send>;

/// Work for the log service, run on its thread with the log in hand.
type Job = Box<dyn FnOnce(&Writer, &mut LogService) + Send>;

/// What the engine, the host and the uploader hand over, and the thread's
/// sleep state. Its lock is held only to move things in or out, never
/// across I/O.
struct Inbox {
    queue: PendingQueue,
    waiters: Vec<Waiter>,
    jobs: Vec<Job>,
    /// The thread sleeps without a timeout, waiting for the first entry.
    idle: bool,
    /// Closed at shutdown: later entries and jobs are refused.
    closed: bool,
}

/// What only the writer thread touches: the log, and what a write needs.
pub(crate) struct LogService {
    files: LogFiles,
    encoder: Encoder,
    /// Lines whose append or fsync failed, to write before the next batch.
    retry: String,
    /// The last distinct write error, so each is logged once.
    last_logged: Option<String>,
}

impl LogService {
    /// The service for `files`, numbering entries as logger `proc_id`.
    pub(crate) fn new(files: LogFiles, proc_id: u32) -> LogService {
        LogService { files, encoder: Encoder::with_proc_id(proc_id), retry: String::new(), last_logged: None }
    }

    /// The log, for a job.
    pub(crate) fn files(&mut self) -> &mut LogFiles {
        &mut self.files
    }
}

/// Counters of the writer's work, read by `stats()`.
#[derive(Debug, Default)]
pub(crate) struct WriterCounts {
    /// Entries appended to the log (and fsynced).
    pub(crate) entries_written: AtomicU64,
    /// Bytes appended to the log.
    pub(crate) bytes_written: AtomicU64,
    /// Failed appends or fsyncs.
    pub(crate) write_errors: AtomicU64,
    /// Entries given up: too long to store, the oldest past the retry bound,
    /// or the oldest pending past the queue's byte budget.
    pub(crate) dropped_entries: AtomicU64,
    /// Bytes of the encoded lines given up (queue drops count entries only).
    pub(crate) dropped_bytes: AtomicU64,
    /// Thread wake-ups.
    pub(crate) wakeups: AtomicU64,
}

/// What the thread publishes for `stats()` after every write and job.
#[derive(Debug, Default, Clone)]
struct Published {
    files: FilchStats,
    /// The last write error, cleared by a successful write.
    last_error: Option<String>,
}

/// The write path of one logger: the shared half. The log itself lives on
/// the thread ([`Writer::run`]).
pub(crate) struct Writer {
    inbox: Mutex<Inbox>,
    /// Wakes the thread: the first entry, a write request, a job, shutdown.
    wake: Condvar,
    /// Real time between writes while entries keep coming.
    interval: Duration,
    counts: WriterCounts,
    /// Copied in and out, never held across I/O.
    published: Mutex<Published>,
    /// Failures go to the host's listener through this.
    reporter: Reporter,
    /// The host's OS byte totals, written as an `os` entry with each write.
    os: OsTotals,
    /// Tests make every append fail, as a full disk does.
    #[cfg(test)]
    pub(crate) fail_appends: std::sync::atomic::AtomicBool,
}

impl Writer {
    /// A writer whose pending queue holds `queue_capacity` entries before it
    /// merges and `queue_budget` bytes before it drops the oldest, writing
    /// every `interval` of real time once [`Writer::run`] runs.
    pub(crate) fn new(queue_capacity: usize, queue_budget: usize, interval: Duration) -> Writer {
        Writer {
            inbox: Mutex::new(Inbox {
                queue: PendingQueue::new(queue_capacity, queue_budget),
                waiters: Vec::new(),
                jobs: Vec::new(),
                idle: false,
                closed: false,
            }),
            wake: Condvar::new(),
            interval,
            counts: WriterCounts::default(),
            published: Mutex::new(Published::default()),
            reporter: Reporter::default(),
            os: OsTotals::default(),
            #[cfg(test)]
            fail_appends: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The host's OS byte totals (os_totals.rs).
    pub(crate) fn os_totals(&self) -> &OsTotals {
        &self.os
    }

    /// Queues an entry; wakes the thread only if it sleeps waiting for one.
    /// Returns false (and drops the entry) once the writer is closed.
    pub(crate) fn push(&self, p: Pending) -> bool {
        let mut inbox = lock(&self.inbox);
        if inbox.closed {
            return false;
        }
        let was_empty = inbox.queue.is_empty();
        inbox.queue.push(p);
        if was_empty && inbox.idle {
            self.wake.notify_one();
        }
        true
    }

    /// The cellular flag changed: pending events on either side are never
    /// merged into one window.
    pub(crate) fn note_flip(&self) {
        lock(&self.inbox).queue.note_flip();
    }

    /// Asks the thread to write everything pending now, and then to call
    /// `then` with the result. Returns at once, never touching the disk.
    /// After shutdown `then` gets [`Error::Closed`] at once.
    pub(crate) fn write_soon(&self, then: impl FnOnce(&Result<()>) + Send + 'static) {
        let mut inbox = lock(&self.inbox);
        if inbox.closed {
            drop(inbox);
            then(&Err(Error::Closed));
            return;
        }
        inbox.waiters.push(Box::new(then));
        self.wake.notify_one();
    }

    /// Runs `job` on the log service's thread and returns at once; `reply`
    /// gets its result, or is dropped unsent when the writer closed first.
    pub(crate) fn ask<R: Send + 'static>(
        &self,
        job: impl FnOnce(&Writer, &mut LogService) -> R + Send + 'static,
        reply: impl FnOnce(R) + Send + 'static,
    ) -> bool {
        let mut inbox = lock(&self.inbox);
        if inbox.closed {
            return false;
        }
        inbox.jobs.push(Box::new(move |w: &Writer, s: &mut LogService| reply(job(w, s))));
        self.wake.notify_one();
        true
    }

    /// Runs `job` on the log service's thread and waits for its result, as
    /// long as the disk takes: for the host calls whose job is I/O (disable,
    /// export) and for the uploader. [`Error::Closed`] after shutdown.
    pub(crate) fn call<R: Send + 'static>(
        &self,
        job: impl FnOnce(&Writer, &mut LogService) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        if !self.ask(job, move |r| {
            let _ = tx.send(r);
        }) {
            return Err(Error::Closed);
        }
        rx.recv().map_err(|_| Error::Closed)
    }

    /// Refuses further entries and jobs and tells the thread to run the jobs
    /// it has, make its final write, close the log and exit. Waiters
    /// registered before still get their result.
    pub(crate) fn close(&self) {
        lock(&self.inbox).closed = true;
        self.wake.notify_all();
    }

    /// Pending events merged so far because the writer fell behind.
    pub(crate) fn queue_merges(&self) -> u64 {
        lock(&self.inbox).queue.merges()
    }

    /// Bytes the pending queue holds now, and its budget.
    #[cfg(test)]
    pub(crate) fn queue_bytes(&self) -> (usize, usize) {
        let inbox = lock(&self.inbox);
        (inbox.queue.bytes(), inbox.queue.budget())
    }

    /// Work counters.
    pub(crate) fn counts(&self) -> &WriterCounts {
        &self.counts
    }

    /// The entries dropped so far, the writer's and the pending queue's.
    pub(crate) fn dropped_entries(&self) -> u64 {
        self.counts.dropped_entries.load(Relaxed) + lock(&self.inbox).queue.dropped()
    }

    /// The most recent write failure, cleared by the next successful write.
    pub(crate) fn last_error(&self) -> Option<String> {
        lock(&self.published).last_error.clone()
    }

    /// The log's counters as the thread last published them.
    pub(crate) fn file_stats(&self) -> FilchStats {
        lock(&self.published).files
    }

    fn publish(&self, log: &LogService) {
        lock(&self.published).files = log.files.stats();
    }

    /// Writes everything pending now and fsyncs, then answers the waiters
    /// registered before. Runs on the service thread (it needs the log).
    pub(crate) fn write_pending(&self, log: &mut LogService) -> Result<()> {
        let (mut items, waiters) = {
            let mut inbox = lock(&self.inbox);
            (inbox.queue.take(), std::mem::take(&mut inbox.waiters))
        };
        items.extend(self.os.take_entry().map(Pending::Object));
        let result = self.write_batch(log, &items);
        self.publish(log);
        for w in waiters {
            w(&result);
        }
        result
    }

    fn write_batch(&self, log: &mut LogService, items: &[Pending]) -> Result<()> {
        if items.is_empty() && log.retry.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut log.retry);
        let retried = buf.len();
        let encoded = log.encoder.encode_batch(items, wire::now_unix_ns(), &mut buf);
        if encoded.dropped > 0 {
            self.count_dropped(encoded.dropped, encoded.dropped_bytes);
            self.report(|| LoggerEvent::EntriesDropped {
                entries: encoded.dropped,
                bytes: encoded.dropped_bytes,
                reason: "longer than the log's line limit".into(),
            });
        }
        if buf.is_empty() {
            return Ok(());
        }
        #[cfg(test)]
        if self.fail_appends.load(Relaxed) {
            let full = std::io::Error::from_raw_os_error(28); // ENOSPC
            return self.write_failed(log, buf, FilchError::Io { context: "test".into(), source: full });
        }
        // An fsync failure is handled like a failed append: on Linux the
        // kernel may drop the dirty pages and report success next time, so
        // the lines are appended again (the server drops the duplicates by
        // proc_id/proc_seq; a line that did reach the disk is sent twice).
        match log.files.append(buf.as_bytes()).and_then(|()| log.files.sync()) {
            Ok(()) => {
                self.counts.bytes_written.fetch_add(buf.len() as u64, Relaxed);
                let retried_lines = buf.as_bytes()[..retried].iter().filter(|&&b| b == b'\n').count() as u64;
                self.counts.entries_written.fetch_add(encoded.lines + retried_lines, Relaxed);
                log.last_logged = None;
                lock(&self.published).last_error = None;
                Ok(())
            }
            Err(e) => self.write_failed(log, buf, e),
        }
    }

    /// Keeps the lines whose append or fsync failed for the next write,
    /// giving up the oldest past [`MAX_RETRY_BYTES`].
    fn write_failed(&self, log: &mut LogService, mut buf: String, e: FilchError) -> Result<()> {
        self.note_error(log, &e.to_string());
        let (lines, bytes) = trim_oldest(&mut buf, MAX_RETRY_BYTES);
        if lines > 0 {
            self.count_dropped(lines, bytes);
            let reason = "the oldest pending, while the disk failed for longer than the retry buffer holds".into();
            self.report(|| LoggerEvent::EntriesDropped { entries: lines, bytes, reason });
        }
        log.retry = buf;
        Err(e.into())
    }

    fn count_dropped(&self, entries: u64, bytes: u64) {
        self.counts.dropped_entries.fetch_add(entries, Relaxed);
        self.counts.dropped_bytes.fetch_add(bytes, Relaxed);
    }

    fn note_error(&self, log: &mut LogService, msg: &str) {
        self.counts.write_errors.fetch_add(1, Relaxed);
        lock(&self.published).last_error = Some(msg.to_string());
        if log.last_logged.as_deref() != Some(msg) {
            self.report(|| LoggerEvent::WriteFailed { reason: format!("writing the log failed: {msg}") });
            log.last_logged = Some(msg.to_string());
        }
    }

    /// Queues an event for the host's listener (never waits for it).
    fn report(&self, event: impl FnOnce() -> LoggerEvent) {
        self.reporter.report(event);
    }

    /// Where failures are reported: the logger shares it with the uploader.
    pub(crate) fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    /// The thread's body, owning `log`: sleep with no timeout until the first
    /// entry, then write once per interval for as long as entries keep
    /// coming; a write request cuts the wait short; jobs run as they come
    /// without moving the next write. At close: the jobs already asked for,
    /// one final write, then the log is closed (the directory given up).
    pub(crate) fn run(&self, mut log: LogService) {
        self.publish(&log);
        // When the next interval write is due; `None` while nothing is pending.
        let mut due: Option<Deadline> = None;
        loop {
            let (jobs, write, closed) = self.next_work(&mut due);
            self.run_jobs(jobs, &mut log);
            if closed {
                break;
            }
            if write {
                due = None;
                // Errors are counted and logged inside; the lines are kept.
                let _ = self.write_pending(&mut log);
            }
        }
        let jobs = std::mem::take(&mut lock(&self.inbox).jobs);
        self.run_jobs(jobs, &mut log);
        let _ = self.write_pending(&mut log);
        // The uploader's last commits may have been only rewritten in place;
        // it may ask after the close, so the owner makes them durable (best
        // effort: a failure only means a power loss re-sends a few batches).
        let _ = log.files.sync_read_position();
        log.files.close();
    }

    /// Sleeps until there is work: jobs, a write (requested, or due), or
    /// the close. Returns the jobs, whether to write, and whether closed.
    fn next_work(&self, due: &mut Option<Deadline>) -> (Vec<Job>, bool, bool) {
        let mut inbox = lock(&self.inbox);
        loop {
            if due.is_none() && !inbox.queue.is_empty() {
                *due = Some(Deadline::after(self.interval));
            }
            let write = !inbox.waiters.is_empty() || due.is_some_and(|d| d.passed());
            if write || inbox.closed || !inbox.jobs.is_empty() {
                return (std::mem::take(&mut inbox.jobs), write, inbox.closed);
            }
            inbox.idle = due.is_none();
            inbox = match due {
                None => self.wake.wait(inbox).unwrap_or_else(|e| e.into_inner()),
                Some(d) => self.wake.wait_timeout(inbox, d.left()).unwrap_or_else(|e| e.into_inner()).0,
            };
            inbox.idle = false;
            self.counts.wakeups.fetch_add(1, Relaxed);
        }
    }

    fn run_jobs(&self, jobs: Vec<Job>, log: &mut LogService) {
        if jobs.is_empty() {
            return;
        }
        for job in jobs {
            job(self, log);
        }
        self.publish(log);
    }
}

/// A writer with its thread running, for the unit tests of this module and
/// the engine's; closing and joining it when dropped.
#[cfg(test)]
pub(crate) mod rig {
    use super::*;
    use crate::filch::FilchOptions;
    use crate::threads::{self, Worker};
    use std::sync::Arc;

    pub(crate) struct Running {
        pub(crate) writer: Arc<Writer>,
        thread: Option<Worker>,
    }

    impl Running {
        /// A writer on a log in `dir` (which it claims a proc_id in).
        pub(crate) fn start(dir: &std::path::Path, capacity: usize, budget: usize, interval: Duration) -> Running {
            let mut files = LogFiles::open(dir, FilchOptions::default()).unwrap();
            let proc_id = files.claim_proc_id().unwrap();
            let writer = Arc::new(Writer::new(capacity, budget, interval));
            let (w, log) = (writer.clone(), LogService::new(files, proc_id));
            let thread = threads::spawn("sockstatlog-test-writer", move || w.run(log)).unwrap();
            Running { writer, thread: Some(thread) }
        }

        /// Writes what is pending now, on the writer's thread.
        pub(crate) fn write(&self) -> Result<()> {
            self.writer.call(|w, log| w.write_pending(log)).unwrap()
        }

        /// Every line in the log.
        pub(crate) fn export(&self) -> Vec<Vec<u8>> {
            self.writer.call(|_, log| log.files().export()).unwrap().unwrap()
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.writer.close();
            if let Some(t) = self.thread.take() {
                t.join_by(Deadline::after(Duration::from_secs(60)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rig::Running;
    use super::*;
    use crate::filch::MAX_LINE_BYTES;
    use crate::queue::MAX_PENDING_BYTES;
    use crate::sampler::Event;
    use serde_json::Value;

    fn event(t: u64) -> Pending {
        Pending::Event(Event { start_ms: t, dur_ms: 100, cellular: false, stats: vec![(1, t, 0)] })
    }

    fn start(dir: &std::path::Path, capacity: usize) -> Running {
        Running::start(dir, capacity, MAX_PENDING_BYTES, Duration::from_secs(1))
    }

    /// (proc_id, proc_seq) of each line.
    fn ids(lines: &[Vec<u8>]) -> Vec<(u64, u64)> {
        lines
            .iter()
            .map(|l| {
                let v = serde_json::from_slice::<Value>(l).unwrap();
                (v["logtail"]["proc_id"].as_u64().unwrap(), v["logtail"]["proc_seq"].as_u64().unwrap())
            })
            .collect()
    }

    #[test]
    fn a_line_too_long_to_store_is_dropped_alone_and_the_rest_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let r = start(dir.path(), 100);
        let w = &r.writer;
        // An object no text entry can become (write_text cuts), e.g. a header
        // from a future version with more labels than fit a line.
        let huge = Pending::Object(format!("{{\"x\":\"{}\"}}", "y".repeat(MAX_LINE_BYTES)));
        assert!(w.push(event(1)) && w.push(huge) && w.push(event(2)));
        r.write().unwrap();
        let seqs: Vec<u64> = ids(&r.export()).iter().map(|&(_, seq)| seq).collect();
        assert_eq!(seqs, [1, 2], "the dropped entry used no sequence number");
        assert_eq!(w.counts().dropped_entries.load(Relaxed), 1);
        assert_eq!(w.counts().write_errors.load(Relaxed), 0);
        assert_eq!(w.counts().entries_written.load(Relaxed), 2);
    }

    #[test]
    fn the_retry_buffer_gives_up_its_oldest_lines_first_and_counts_them() {
        let mut retry: String = (0..10).map(|i| format!("line{i}-{}\n", "z".repeat(10))).collect();
        let each = retry.len() / 10;
        let (lines, bytes) = trim_oldest(&mut retry, each * 3 + 1);
        assert_eq!((lines, bytes), (7, 7 * each as u64));
        assert!(retry.starts_with("line7-") && retry.ends_with("line9-zzzzzzzzzz\n"));
        assert_eq!(trim_oldest(&mut retry, 1 << 20), (0, 0));
    }

    #[test]
    fn on_a_failing_disk_the_newest_entries_survive_and_the_oldest_are_counted_as_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let r = start(dir.path(), 100_000);
        let w = &r.writer;
        w.fail_appends.store(true, Relaxed);
        // Batches of ~100 KiB of text entries until well past the retry bound.
        let (batches, per_batch) = (30, 100);
        for b in 0..batches {
            for i in 0..per_batch {
                assert!(w.push(Pending::Object(wire::text_object(&format!("{b}/{i} {}", "x".repeat(1000))))));
            }
            assert!(r.write().is_err());
        }
        w.fail_appends.store(false, Relaxed);
        w.push(event(7));
        r.write().unwrap();
        let lines = r.export();
        let total = batches * per_batch + 1;
        let dropped = w.counts().dropped_entries.load(Relaxed);
        assert!(dropped > 0, "the bound was passed");
        assert_eq!(lines.len() as u64 + dropped, total, "every entry is on disk or counted");
        let seqs: Vec<u64> = ids(&lines).iter().map(|&(_, seq)| seq).collect();
        let newest: Vec<u64> = (dropped + 1..=total).collect();
        assert_eq!(seqs, newest, "the oldest went, the newest stayed, in order");
        assert!(w.counts().write_errors.load(Relaxed) >= batches);
        assert_eq!(w.last_error(), None, "cleared by the successful write");
    }

    #[test]
    fn a_batch_whose_fsync_failed_is_appended_again_and_nothing_counted_as_written_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let r = start(dir.path(), 100);
        let w = &r.writer;
        w.push(event(1));
        r.write().unwrap();
        // The next fsync fails, and (as on Linux) the dirty pages count as
        // written afterwards: a later fsync reports success without them.
        w.call(|_, log| log.files().fail_next_syncs(1)).unwrap();
        w.push(event(2));
        w.push(event(3));
        assert!(r.write().is_err(), "the fsync failure is reported");
        assert_eq!(w.counts().entries_written.load(Relaxed), 1, "not counted as written");
        assert_eq!(w.counts().write_errors.load(Relaxed), 1);
        assert!(w.last_error().is_some_and(|e| e.contains("fsync")));
        w.push(event(4));
        r.write().unwrap();
        assert_eq!(w.counts().entries_written.load(Relaxed), 4);
        // The first copy of 2 and 3 is what a real failure may have lost;
        // the re-append is the durable one. Same sequence numbers: the
        // server keeps one of each.
        let seqs: Vec<u64> = ids(&r.export()).iter().map(|&(_, seq)| seq).collect();
        assert_eq!(seqs, [1, 2, 3, 2, 3, 4]);
        assert_eq!(w.last_error(), None);
    }

    #[test]
    fn jobs_run_on_the_writer_thread_and_after_close_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = start(dir.path(), 100);
        let name = r.writer.call(|_, _| std::thread::current().name().map(String::from)).unwrap();
        assert_eq!(name.as_deref(), Some("sockstatlog-test-writer"));
        r.writer.close();
        assert!(matches!(r.writer.call(|_, _| ()), Err(Error::Closed)));
        assert!(!r.writer.push(event(1)));
    }
}
