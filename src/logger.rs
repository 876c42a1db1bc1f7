//! The logger object: owns the counters, the sampler thread, the writer
//! thread, the on-disk log and the uploader, and is the one type the host
//! talks to (directly from Rust, or through the FFI wrapper).
//!
//! Every method is safe from any thread. The push methods (`add`,
//! `set_totals`, `push_batch`) are lock-free; the control methods take short
//! locks and never wait for disk or network, except `disable`, `flush`,
//! `export` and `shutdown`, whose job is to write what is pending.

use crate::config::Config;
use crate::counters::Counters;
use crate::engine::{lock, Clock, Counts, EngineState, Shared};
use crate::error::{Error, Result};
use crate::fast_handles::{self, FastHandle};
use crate::filch::{FilchOptions, LogFiles};
use crate::interface::InterfaceKind;
use crate::labels::{label_id, LabelNames};
use crate::logid::{sockstat_private_id, PrivateId};
use crate::queue::{default_capacity, Pending, PendingQueue};
use crate::sampler::Sampler;
use crate::upload::{FlushReport, Transport, Uploader};
use crate::wire;
use crate::writer::WriterState;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, OnceLock, TryLockError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long dropping the last handle of a logger that was never shut down
/// waits for the final write; upstream's host gives its shutdown 5 s too.
pub const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

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
pub struct LoggerStats {
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

/// A socket-stats logger. Cheap to share: clones are handles to one logger,
/// which shuts down (writing everything pending) when the last one is dropped.
#[derive(Clone)]
pub struct Logger {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger").field("log_id", &self.log_id()).finish_non_exhaustive()
    }
}

struct Handle {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    private_id: PrivateId,
    /// The JNI fast path's entry for these counters, made at the first ask;
    /// released at shutdown, and in any case when this is dropped.
    fast: Mutex<Option<FastHandle>>,
}

impl Logger {
    /// Creates a disabled logger, opening (or creating) its log directory.
    pub fn new(config: Config) -> Result<Logger> {
        Self::build(config, None)
    }

    /// Same, uploading through a host-provided transport instead of the
    /// built-in HTTP client.
    pub fn with_transport(config: Config, transport: Arc<dyn Transport>) -> Result<Logger> {
        Self::build(config, Some(transport))
    }

    fn build(config: Config, transport: Option<Arc<dyn Transport>>) -> Result<Logger> {
        config.validate()?;
        let opts = FilchOptions { max_total_bytes: config.max_log_bytes, ..FilchOptions::default() };
        let files = LogFiles::open(&config.log_dir, opts)?;
        let private_id = sockstat_private_id(&config.backend_public_id);
        let shared = Arc::new(Shared {
            counters: Arc::new(Counters::default()),
            labels: LabelNames::default(),
            clock: Clock::start(config.clock_speed),
            engine: Mutex::new(EngineState {
                sampler: Sampler::new(config.poll_interval.as_millis() as u64),
                interface: String::new(),
                kind: InterfaceKind::Unknown,
            }),
            queue: Mutex::new(PendingQueue::new(default_capacity(&config))),
            queue_cv: Condvar::new(),
            writer_waiting: AtomicBool::new(false),
            writer: Mutex::new(WriterState::new()),
            files: Arc::new(Mutex::new(files)),
            uploader: OnceLock::new(),
            transport,
            counts: Counts::default(),
            closed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            config,
        });
        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            thread::Builder::new()
                .name(name.to_string())
                .spawn(body)
                .map_err(|e| Error::io(format!("starting thread {name}"), e))
        };
        let s = shared.clone();
        let sampler = spawn("sockstatlog-sampler", Box::new(move || s.run_sampler()))?;
        shared.counters.set_sampler_thread(sampler.thread().clone());
        let s = shared.clone();
        let writer = spawn("sockstatlog-writer", Box::new(move || s.run_writer()))?;
        let handle = Handle { shared, threads: Mutex::new(vec![sampler, writer]), private_id, fast: Mutex::new(None) };
        Ok(Logger { handle: Arc::new(handle) })
    }

    fn shared(&self) -> Result<&Shared> {
        let s = &self.handle.shared;
        if s.closed.load(Relaxed) {
            Err(Error::Closed)
        } else {
            Ok(s)
        }
    }

    /// Starts sampling now (the baseline is taken at this instant) and queues
    /// a header entry naming the labels. No-op if already enabled.
    pub fn enable(&self) -> Result<()> {
        self.shared()?.enable();
        Ok(())
    }

    /// Stops sampling, closes the open window and writes everything pending
    /// to disk. No-op if disabled.
    pub fn disable(&self) -> Result<()> {
        let s = self.shared()?;
        s.disable();
        s.write_pending()
    }

    /// Whether sampling is on.
    pub fn is_enabled(&self) -> bool {
        lock(&self.handle.shared.engine).sampler.is_enabled()
    }

    /// Adds bytes to a label. Lock-free, never blocks, never allocates.
    pub fn add(&self, label: u32, tx: u64, rx: u64) -> Result<()> {
        let label = label_id(label)?;
        self.shared()?.counters.add(label, tx, rx);
        Ok(())
    }

    /// Reports cumulative totals for a label; a total that went down is a
    /// reset and counts from zero again (never a wrapped delta).
    pub fn set_totals(&self, label: u32, tx_total: u64, rx_total: u64) -> Result<()> {
        let label = label_id(label)?;
        self.shared()?.counters.set_totals(label, tx_total, rx_total);
        Ok(())
    }

    /// Many pushes in one call. Every label is checked first; on an error
    /// nothing is applied.
    pub fn push_batch(&self, samples: &[CounterSample]) -> Result<()> {
        let s = self.shared()?;
        for sample in samples {
            label_id(sample.label)?;
        }
        for sample in samples {
            let label = sample.label as u8;
            if sample.is_total {
                s.counters.set_totals(label, sample.tx, sample.rx);
            } else {
                s.counters.add(label, sample.tx, sample.rx);
            }
        }
        Ok(())
    }

    /// Names a label (in the next header entry and in reports).
    pub fn register_label(&self, label: u32, name: &str) -> Result<()> {
        self.shared()?.labels.register(label, name)
    }

    /// Sets the current default interface. For [`InterfaceKind::Unknown`]
    /// the kind is inferred from the name. A change between cellular and
    /// not closes the open window now, so bytes are attributed exactly.
    pub fn set_interface(&self, name: &str, kind: InterfaceKind) -> Result<()> {
        self.shared()?.set_interface(name, kind);
        Ok(())
    }

    /// Logs a free-form text line (a logtail text entry), cut at 16 KiB.
    pub fn write_text(&self, text: &str) -> Result<()> {
        self.shared()?.push(Pending::Object(wire::text_object(text)));
        Ok(())
    }

    fn uploader(&self) -> Result<&Uploader> {
        let s = self.shared()?;
        if let Some(u) = s.uploader.get() {
            return Ok(u);
        }
        let u = Uploader::start(
            &s.config.upload,
            self.handle.private_id,
            s.files.clone(),
            s.counters.clone(),
            s.transport.clone(),
        )?;
        // Two racing first flushes: one uploader wins, the other is stopped.
        if let Err(extra) = s.uploader.set(u) {
            extra.shutdown(Duration::ZERO);
        }
        Ok(s.uploader.get().expect("uploader was just set"))
    }

    /// Writes pending events to disk and wakes the uploader; returns without
    /// waiting for the network.
    pub fn start_flush(&self) -> Result<()> {
        self.shared()?.write_pending()?;
        self.uploader()?.start_flush();
        Ok(())
    }

    /// Writes pending events and uploads until the log is drained or
    /// `timeout` passes; the report says which.
    pub fn flush(&self, timeout: Duration) -> Result<FlushReport> {
        self.shared()?.write_pending()?;
        Ok(self.uploader()?.flush(timeout))
    }

    /// The sockstat public log ID (hex), under which the server shows the log.
    pub fn log_id(&self) -> String {
        self.handle.private_id.public().to_hex()
    }

    /// Every line on disk, oldest first, after writing what is pending: for a
    /// share sheet or a bug report.
    pub fn export(&self) -> Result<Vec<String>> {
        let s = self.shared()?;
        s.write_pending()?;
        let lines = lock(&s.files).export()?;
        Ok(lines.into_iter().map(|l| String::from_utf8_lossy(&l).into_owned()).collect())
    }

    /// Current counters.
    pub fn stats(&self) -> Result<LoggerStats> {
        let s = self.shared()?;
        let files = lock(&s.files).stats();
        let up = s.uploader.get().map(Uploader::stats).unwrap_or_default();
        let c = &s.counts;
        Ok(LoggerStats {
            enabled: self.is_enabled(),
            events: c.events.load(Relaxed),
            entries_written: c.entries_written.load(Relaxed),
            bytes_written: c.bytes_written.load(Relaxed),
            dropped_bytes: files.dropped_bytes,
            torn_bytes: files.torn_bytes,
            resets: s.counters.resets(),
            wakeups: c.wakeups.load(Relaxed),
            queue_merges: lock(&s.queue).merges(),
            write_errors: c.write_errors.load(Relaxed),
            stored_bytes: files.stored_bytes,
            unread_bytes: files.unread_bytes,
            upload_batches: up.batches,
            upload_entries: up.entries,
            upload_failures: up.failures,
        })
    }

    /// A handle for the JNI fast path: an opaque number (an index into a
    /// process-wide table and a generation), the same on every call. After
    /// shutdown, or once the logger is freed, pushes through it return
    /// `false`, and the table keeps nothing of this logger.
    pub fn fast_counters_handle(&self) -> Result<u64> {
        let s = self.shared()?;
        let mut fast = lock(&self.handle.fast);
        if fast.is_none() {
            *fast = FastHandle::register(s.counters.clone());
        }
        fast.as_ref().map(FastHandle::value).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "fast_counters_handle: {} loggers already hold one; shut one down first",
                fast_handles::SLOTS
            ))
        })
    }

    /// Closes the open window, writes everything pending, and stops the
    /// threads and the uploader, waiting at most `timeout` in all. Every later
    /// call returns [`Error::Closed`]; a second shutdown too.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        self.handle.shutdown(timeout)
    }
}

impl Handle {
    fn shutdown(&self, timeout: Duration) -> Result<()> {
        let s = &self.shared;
        if s.closed.swap(true, SeqCst) {
            return Err(Error::Closed);
        }
        let deadline = Instant::now() + timeout;
        s.disable();
        let written = s.write_pending();
        // JNI pushes in flight finish before this returns; later ones get `false`.
        if let Some(fast) = lock(&self.fast).as_ref() {
            fast.release();
        }
        s.counters.close();
        s.stop.store(true, SeqCst);
        s.wake_sampler();
        {
            let _q = lock(&s.queue);
            s.queue_cv.notify_all();
        }
        for t in lock(&self.threads).drain(..) {
            while !t.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        if let Some(u) = s.uploader.get() {
            u.shutdown(deadline.saturating_duration_since(Instant::now()));
        }
        // Give the directory up for the next logger. A thread still inside
        // the log (a stuck disk) keeps it until this logger is freed.
        match s.files.try_lock() {
            Ok(mut f) => f.close(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().close(),
            Err(TryLockError::WouldBlock) => {}
        }
        written
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.shutdown(DROP_SHUTDOWN_TIMEOUT);
    }
}

/// Every line in the log directory `dir`, oldest first, without a logger and
/// without touching the directory: it works while another process's logger
/// holds it (see [`crate::filch::export_dir`]).
pub fn export_log_dir(dir: &std::path::Path) -> Result<Vec<String>> {
    let lines = crate::filch::export_dir(dir, FilchOptions::default().max_line_bytes)?;
    Ok(lines.into_iter().map(|l| String::from_utf8_lossy(&l).into_owned()).collect())
}
