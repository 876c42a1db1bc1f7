//! The writer: it owns the pending queue, the encoder that numbers entries,
//! the retry buffer of a failed append, the on-disk log and its thread's
//! loop. Every write interval (and when asked: disable, flush, export,
//! shutdown) it takes the pending entries, wraps each as a logtail line with
//! `client_time`/`proc_id`/`proc_seq`, appends them to the log in one write
//! and fsyncs. Its thread sleeps without a timeout while nothing is pending,
//! and wakes once per interval while traffic flows.
//!
//! Nothing here is reported to a caller as the caller's mistake: a line too
//! long to store is dropped and counted on its own, and when the disk fails
//! the encoded lines wait in a bounded retry buffer that gives up its
//! *oldest* lines first, counted.

use crate::error::{Error, Result};
use crate::filch::{LogFiles, MAX_LINE_BYTES};
use crate::os_totals::OsTotals;
use crate::queue::{Pending, PendingQueue};
use crate::sync::lock;
use crate::wire::{self, EntryMeta};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Encoded lines kept for the next attempt after a failed append (e.g. a full
/// disk), at most this many bytes: ten minutes of busy 100 ms events. Beyond
/// it the oldest lines are dropped and counted, so the newest survive.
pub(crate) const MAX_RETRY_BYTES: usize = 1 << 20;

/// Numbers entries and encodes them as logtail lines.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug)]
pub(crate) struct Encoder {
    /// Random id of this logger instance (`proc_id`).
    proc_id: u32,
    /// Sequence number of the last entry encoded (`proc_seq`).
    seq: u64,
}

/// What [`Encoder::encode_batch`] did.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// Lines appended to the buffer.
    pub lines: u64,
    /// Entries dropped because their line exceeds the log's line limit.
    pub dropped: u64,
    /// Bytes of those lines.
    pub dropped_bytes: u64,
}

impl Encoder {
    /// An encoder for a new logger instance.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new() -> Self {
        // Never 0, so a reader can tell "absent" from a real id.
        Encoder { proc_id: fastrand::u32(1..), seq: 0 }
    }

    /// Encodes pending entries as logtail lines onto `buf`, numbering them
    /// from the last sequence number; all share one `client_time`, the moment
    /// of writing. A line longer than [`MAX_LINE_BYTES`] is left out (and does
    /// not use up a sequence number): only that entry is lost.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn encode_batch(&mut self, items: &[Pending], client_time_ns: u128, buf: &mut String) -> Encoded {
        let mut done = Encoded::default();
        let mut object = String::new();
        for item in items {
            let line_start = buf.len();
            let meta = EntryMeta { client_time_ns, proc_id: self.proc_id, proc_seq: self.seq + 1 };
            match item {
                Pending::Event(ev) => {
                    object.clear();
                    wire::encode_event(ev, &mut object);
                    wire::wrap_object(&meta, &object, buf);
                }
                Pending::Object(o) => wire::wrap_object(&meta, o, buf),
            }
            let len = buf.len() - line_start;
            if len > MAX_LINE_BYTES {
                buf.truncate(line_start);
                done.dropped += 1;
                done.dropped_bytes += len as u64;
            } else {
                self.seq += 1;
                done.lines += 1;
            }
        }
        done
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

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

/// What the engine and the logger hand over, and the thread's sleep state.
struct Inbox {
    queue: PendingQueue,
    waiters: Vec<Waiter>,
    /// The thread sleeps without a timeout, waiting for the first entry.
    idle: bool,
    /// Closed at shutdown: later entries are refused.
    closed: bool,
}

/// What a write needs, serialised so lines reach the file in sequence order.
struct Output {
    encoder: Encoder,
    /// Lines that failed to append, to write before the next batch.
    retry: String,
    /// The last distinct write error, so each is logged once.
    last_error: Option<String>,
}

/// Counters of the writer's work, read by `stats()`.
#[derive(Debug, Default)]
pub(crate) struct WriterCounts {
    /// Entries appended to the log.
    pub(crate) entries_written: AtomicU64,
    /// Bytes appended to the log.
    pub(crate) bytes_written: AtomicU64,
    /// Failed appends or fsyncs.
    pub(crate) write_errors: AtomicU64,
    /// Entries given up: too long to store, or the oldest past the retry bound.
    pub(crate) dropped_entries: AtomicU64,
    /// Their bytes.
    pub(crate) dropped_bytes: AtomicU64,
    /// Thread wake-ups.
    pub(crate) wakeups: AtomicU64,
}

/// The write path of one logger.
pub(crate) struct Writer {
    inbox: Mutex<Inbox>,
    /// Wakes the thread: the first entry, a write request, shutdown.
    wake: Condvar,
    output: Mutex<Output>,
    files: Arc<Mutex<LogFiles>>,
    /// Real time between writes while entries keep coming.
    interval: Duration,
    counts: WriterCounts,
    /// The last write error, for `stats()`.
    last_error: Mutex<Option<String>>,
    /// The host's OS byte totals, written as an `os` entry with each write.
    os: OsTotals,
    /// Tests make every append fail, as a full disk does.
    #[cfg(test)]
    pub(crate) fail_appends: std::sync::atomic::AtomicBool,
}

impl Writer {
    /// A writer appending to `files`, merging pending events past
    /// `queue_capacity`, writing every `interval` of real time.
    pub(crate) fn new(files: LogFiles, queue_capacity: usize, interval: Duration) -> Writer {
        Writer {
            inbox: Mutex::new(Inbox {
                queue: PendingQueue::new(queue_capacity),
                waiters: Vec::new(),
                idle: false,
                closed: false,
            }),
            wake: Condvar::new(),
            output: Mutex::new(Output { encoder: Encoder::new(), retry: String::new(), last_error: None }),
            files: Arc::new(Mutex::new(files)),
            interval,
            counts: WriterCounts::default(),
            last_error: Mutex::new(None),
            os: OsTotals::default(),
            #[cfg(test)]
            fail_appends: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The host's OS byte totals (os_totals.rs).
    pub(crate) fn os_totals(&self) -> &OsTotals {
        &self.os
    }

    /// The on-disk log, shared with the uploader and `export`.
    pub(crate) fn files(&self) -> &Arc<Mutex<LogFiles>> {
        &self.files
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

    /// Refuses further entries and tells the thread to make its final write
    /// and exit. Waiters registered before still get their result.
    pub(crate) fn close(&self) {
        lock(&self.inbox).closed = true;
        self.wake.notify_all();
    }

    /// Pending events merged so far because the writer fell behind.
    pub(crate) fn queue_merges(&self) -> u64 {
        lock(&self.inbox).queue.merges()
    }

    /// Work counters.
    pub(crate) fn counts(&self) -> &WriterCounts {
        &self.counts
    }

    /// The most recent write failure, cleared by the next successful write.
    pub(crate) fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// Writes everything pending now and fsyncs, then answers the waiters
    /// registered before. Called by the thread, and directly by `disable`
    /// and `export`, whose job is to write.
    pub(crate) fn write_pending(&self) -> Result<()> {
        let mut out = lock(&self.output);
        let (mut items, waiters) = {
            let mut inbox = lock(&self.inbox);
            (inbox.queue.take(), std::mem::take(&mut inbox.waiters))
        };
        items.extend(self.os.take_entry().map(Pending::Object));
        let result = self.write_locked(&mut out, &items);
        drop(out);
        for w in waiters {
            w(&result);
        }
        result
    }

    fn write_locked(&self, out: &mut Output, items: &[Pending]) -> Result<()> {
        if items.is_empty() && out.retry.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut out.retry);
        let retried = buf.len();
        let encoded = out.encoder.encode_batch(items, wire::now_unix_ns(), &mut buf);
        if encoded.dropped > 0 {
            self.count_dropped(encoded.dropped, encoded.dropped_bytes);
            eprintln!("sockstatlog: dropped {} entries longer than the log's line limit", encoded.dropped);
        }
        if buf.is_empty() {
            return Ok(());
        }
        let result = {
            let mut files = lock(&self.files);
            #[cfg(test)]
            if self.fail_appends.load(Relaxed) {
                let full = std::io::Error::from_raw_os_error(28); // ENOSPC
                return self.append_failed(
                    out,
                    buf,
                    crate::filch::FilchError::Io { context: "test".into(), source: full },
                );
            }
            files.append(buf.as_bytes()).map(|()| files.sync())
        };
        match result {
            Ok(synced) => {
                self.counts.bytes_written.fetch_add(buf.len() as u64, Relaxed);
                let retried_lines = buf.as_bytes()[..retried].iter().filter(|&&b| b == b'\n').count() as u64;
                self.counts.entries_written.fetch_add(encoded.lines + retried_lines, Relaxed);
                out.last_error = None;
                *lock(&self.last_error) = None;
                // The lines are in the file; an fsync failure is counted, but
                // appending them again would duplicate them.
                match synced {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        self.note_error(out, &e.to_string());
                        Err(e.into())
                    }
                }
            }
            Err(e) => self.append_failed(out, buf, e),
        }
    }

    /// Keeps the lines that failed to append for the next write, giving up
    /// the oldest past [`MAX_RETRY_BYTES`].
    fn append_failed(&self, out: &mut Output, mut buf: String, e: crate::filch::FilchError) -> Result<()> {
        self.note_error(out, &e.to_string());
        let (lines, bytes) = trim_oldest(&mut buf, MAX_RETRY_BYTES);
        if lines > 0 {
            self.count_dropped(lines, bytes);
        }
        out.retry = buf;
        Err(e.into())
    }

    fn count_dropped(&self, entries: u64, bytes: u64) {
        self.counts.dropped_entries.fetch_add(entries, Relaxed);
        self.counts.dropped_bytes.fetch_add(bytes, Relaxed);
    }

    fn note_error(&self, out: &mut Output, msg: &str) {
        self.counts.write_errors.fetch_add(1, Relaxed);
        *lock(&self.last_error) = Some(msg.to_string());
        if out.last_error.as_deref() != Some(msg) {
            eprintln!("sockstatlog: writing the log failed: {msg}");
            out.last_error = Some(msg.to_string());
        }
    }

    /// The thread's body: sleep with no timeout until the first entry, then
    /// write once per interval for as long as entries keep coming; a write
    /// request cuts the wait short. At close, one final write, then exit.
    pub(crate) fn run(&self) {
        'idle: loop {
            {
                let mut inbox = lock(&self.inbox);
                while inbox.queue.is_empty() && inbox.waiters.is_empty() && !inbox.closed {
                    inbox.idle = true;
                    inbox = self.wake.wait(inbox).unwrap_or_else(|e| e.into_inner());
                    inbox.idle = false;
                    self.counts.wakeups.fetch_add(1, Relaxed);
                }
                if inbox.closed {
                    break 'idle;
                }
            }
            loop {
                let deadline = Instant::now() + self.interval;
                let mut inbox = lock(&self.inbox);
                while !inbox.closed && inbox.waiters.is_empty() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    inbox = self.wake.wait_timeout(inbox, left).unwrap_or_else(|e| e.into_inner()).0;
                    self.counts.wakeups.fetch_add(1, Relaxed);
                }
                let (closed, nothing) = (inbox.closed, inbox.queue.is_empty() && inbox.waiters.is_empty());
                drop(inbox);
                if closed {
                    break 'idle;
                }
                if nothing {
                    continue 'idle;
                }
                // Errors are counted and logged inside; the lines are kept.
                let _ = self.write_pending();
            }
        }
        let _ = self.write_pending();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filch::FilchOptions;
    use crate::sampler::Event;

    fn event(t: u64) -> Pending {
        Pending::Event(Event { start_ms: t, dur_ms: 100, cellular: false, stats: vec![(1, t, 0)] })
    }

    #[test]
    fn a_line_too_long_to_store_is_dropped_alone_and_the_rest_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let w = Writer::new(LogFiles::open(dir.path(), FilchOptions::default()).unwrap(), 100, Duration::from_secs(1));
        // An object no text entry can become (write_text cuts), e.g. a header
        // from a future version with more labels than fit a line.
        let huge = Pending::Object(format!("{{\"x\":\"{}\"}}", "y".repeat(MAX_LINE_BYTES)));
        assert!(w.push(event(1)) && w.push(huge) && w.push(event(2)));
        w.write_pending().unwrap();
        let lines = lock(w.files()).export().unwrap();
        assert_eq!(lines.len(), 2);
        let seqs: Vec<u64> = lines
            .iter()
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["logtail"]["proc_seq"].as_u64().unwrap())
            .collect();
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
        let w =
            Writer::new(LogFiles::open(dir.path(), FilchOptions::default()).unwrap(), 100_000, Duration::from_secs(1));
        w.fail_appends.store(true, Relaxed);
        // Batches of ~100 KiB of text entries until well past the retry bound.
        let (batches, per_batch) = (30, 100);
        for b in 0..batches {
            for i in 0..per_batch {
                assert!(w.push(Pending::Object(wire::text_object(&format!("{b}/{i} {}", "x".repeat(1000))))));
            }
            assert!(w.write_pending().is_err());
        }
        w.fail_appends.store(false, Relaxed);
        w.push(event(7));
        w.write_pending().unwrap();
        let lines = lock(w.files()).export().unwrap();
        let total = batches * per_batch + 1;
        let dropped = w.counts().dropped_entries.load(Relaxed);
        assert!(dropped > 0, "the bound was passed");
        assert_eq!(lines.len() as u64 + dropped, total, "every entry is on disk or counted");
        let seqs: Vec<u64> = lines
            .iter()
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["logtail"]["proc_seq"].as_u64().unwrap())
            .collect();
        let newest: Vec<u64> = (dropped + 1..=total).collect();
        assert_eq!(seqs, newest, "the oldest went, the newest stayed, in order");
        assert!(w.counts().write_errors.load(Relaxed) >= batches);
        assert_eq!(w.last_error(), None, "cleared by the successful write");
    }
}
