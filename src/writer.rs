//! The writer: every write interval (and on disable, flush, export and
//! shutdown) it takes the pending entries, wraps each as a logtail line with
//! `client_time`/`proc_id`/`proc_seq`, appends them to the on-disk log in one
//! write and fsyncs. Its thread sleeps without a timeout while nothing is
//! pending, and wakes once per interval while traffic flows.

use crate::engine::{lock, Shared};
use crate::error::Result;
use crate::queue::Pending;
use crate::wire::{self, EntryMeta};
use std::sync::atomic::Ordering::*;
use std::time::Instant;

/// Encoded lines kept for the next attempt after a failed append (e.g. a full
/// disk), at most this many bytes: ten minutes of busy 100 ms events. Beyond
/// it the oldest retry data is given up and counted as a write error.
pub const MAX_RETRY_BYTES: usize = 1 << 20;

/// What the writer keeps between batches; its mutex serialises writes so that
/// lines reach the file in sequence order.
#[derive(Debug)]
pub struct WriterState {
    /// Random id of this logger instance (`proc_id`).
    pub proc_id: u32,
    /// Sequence number of the last entry encoded (`proc_seq`).
    pub seq: u64,
    /// Lines that failed to append, to write before the next batch.
    pub retry: String,
    /// The last distinct write error, so each is logged once.
    pub last_error: Option<String>,
}

impl WriterState {
    /// A writer for a new logger instance.
    pub fn new() -> Self {
        // Never 0, so a reader can tell "absent" from a real id.
        WriterState { proc_id: fastrand::u32(1..), seq: 0, retry: String::new(), last_error: None }
    }
}

impl Default for WriterState {
    fn default() -> Self {
        Self::new()
    }
}

/// Encodes pending entries as logtail lines onto `buf`, numbering them from
/// the writer's sequence; all share one `client_time`, the moment of writing.
pub fn encode_batch(w: &mut WriterState, items: &[Pending], client_time_ns: u128, buf: &mut String) {
    let mut object = String::new();
    for item in items {
        w.seq += 1;
        let meta = EntryMeta { client_time_ns, proc_id: w.proc_id, proc_seq: w.seq };
        match item {
            Pending::Event(ev) => {
                object.clear();
                wire::encode_event(ev, &mut object);
                wire::wrap_object(&meta, &object, buf);
            }
            Pending::Object(o) => wire::wrap_object(&meta, o, buf),
        }
    }
}

impl Shared {
    /// Writes everything pending now and fsyncs. Called by the writer thread
    /// and synchronously by disable, flush, export and shutdown.
    pub fn write_pending(&self) -> Result<()> {
        let mut w = lock(&self.writer);
        let items = lock(&self.queue).take();
        if items.is_empty() && w.retry.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut w.retry);
        let retried = buf.len();
        encode_batch(&mut w, &items, wire::now_unix_ns(), &mut buf);
        let result = {
            let mut files = lock(&self.files);
            files.append(buf.as_bytes()).map(|()| files.sync())
        };
        match result {
            Ok(synced) => {
                self.counts.bytes_written.fetch_add(buf.len() as u64, Relaxed);
                let entries = items.len() as u64 + buf[..retried].matches('\n').count() as u64;
                self.counts.entries_written.fetch_add(entries, Relaxed);
                w.last_error = None;
                // The lines are in the file; an fsync failure is counted, but
                // appending them again would duplicate them.
                if let Err(e) = synced {
                    self.note_write_error(&mut w, &e.to_string());
                }
                Ok(())
            }
            Err(e) => {
                self.note_write_error(&mut w, &e.to_string());
                if buf.len() <= MAX_RETRY_BYTES {
                    w.retry = buf;
                }
                Err(e.into())
            }
        }
    }

    fn note_write_error(&self, w: &mut WriterState, msg: &str) {
        self.counts.write_errors.fetch_add(1, Relaxed);
        if w.last_error.as_deref() != Some(msg) {
            eprintln!("sockstatlog: writing the log failed: {msg}");
            w.last_error = Some(msg.to_string());
        }
    }

    /// The writer thread's body.
    pub fn run_writer(&self) {
        let interval = self.clock.real(self.config.write_interval);
        'idle: while !self.stop.load(SeqCst) {
            // Sleep with no timeout until the first entry arrives.
            {
                let mut q = lock(&self.queue);
                while q.is_empty() && !self.stop.load(SeqCst) {
                    self.writer_waiting.store(true, SeqCst);
                    q = self.queue_cv.wait(q).unwrap_or_else(|e| e.into_inner());
                    self.writer_waiting.store(false, SeqCst);
                    self.counts.wakeups.fetch_add(1, Relaxed);
                }
            }
            // Then write once per interval for as long as entries keep coming.
            loop {
                let deadline = Instant::now() + interval;
                let mut q = lock(&self.queue);
                while !self.stop.load(SeqCst) {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    q = self.queue_cv.wait_timeout(q, left).unwrap_or_else(|e| e.into_inner()).0;
                    self.counts.wakeups.fetch_add(1, Relaxed);
                }
                let empty = q.is_empty();
                drop(q);
                if self.stop.load(SeqCst) {
                    break 'idle;
                }
                if empty {
                    continue 'idle;
                }
                // Errors are counted and logged inside; the lines are kept.
                let _ = self.write_pending();
            }
        }
    }
}
