//! The logger object: owns the counters, the sampler thread, the writer
//! thread, the on-disk log and the uploader, and is the one type the host
//! talks to (directly from Rust, or through the FFI wrapper).
//!
//! Every method is safe from any thread. The push methods (`add`,
//! `set_totals`, `push_batch`) are lock-free; the control methods take short
//! locks (never one held across I/O: the log files belong to the writer
//! thread alone, and `stats` reads what it publishes) and never wait for disk
//! or network, except `disable`, `flush`, `export` and `shutdown`, whose job
//! is to write what is pending (`flush` and `shutdown` at most their timeout).

use crate::clock::Clock;
use crate::config::Config;
use crate::counters::Counters;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::fast_handles::{self, FastHandle};
use crate::filch::{FilchOptions, LogFiles};
use crate::interface::InterfaceKind;
use crate::labels::{label_id, LabelNames};
use crate::logid::{sockstat_private_id, PrivateId};
use crate::metered::{NetworkCost, DEFERRED_METERED};
use crate::queue::{default_capacity, Pending, MAX_PENDING_BYTES};
use crate::sync::lock;
use crate::threads::{self, Deadline, Worker};
use crate::upload::{FlushReport, Transport, Uploader};
use crate::usage::LabelUsage;
use crate::wire;
use crate::writer::{LogService, Writer, WriterLog};
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

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
    /// Bytes lost before an upload: unread lines dropped by rotation of a
    /// full log, and entries the writer gave up (see `dropped_entries`).
    pub dropped_bytes: u64,
    /// Entries lost that way: unread lines dropped by rotation, lines too
    /// long to store, the oldest pending lines given up while the disk
    /// failed for longer than the retry buffer holds, and the oldest pending
    /// entries dropped past the queue's 1 MiB budget while the disk stalled.
    pub dropped_entries: u64,
    /// Bytes of a torn last line discarded after a crash.
    pub torn_bytes: u64,
    /// Counter resets seen by `set_totals`.
    pub resets: u64,
    /// Events dropped because the host's listener fell behind (see
    /// [`Logger::set_listener`]).
    pub listener_dropped_events: u64,
    /// Windows in which some label's sum passed `u64::MAX` bytes (forged or
    /// buggy byte counts) and was logged as `u64::MAX` instead of wrapping.
    pub saturated_windows: u64,
    /// Times the sampler and writer threads woke up.
    pub wakeups: u64,
    /// Pending events merged because the writer fell behind.
    pub queue_merges: u64,
    /// Failed writes or fsyncs of the log.
    pub write_errors: u64,
    /// The most recent write failure, until a write succeeds again.
    pub last_write_error: Option<String>,
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
    config: Config,
    counters: Arc<Counters>,
    labels: LabelNames,
    engine: Arc<Engine>,
    writer: Arc<Writer>,
    /// The uploader, started at the first flush.
    uploader: OnceLock<Arc<Uploader>>,
    /// A host transport to upload through instead of the built-in client.
    transport: Option<Arc<dyn Transport>>,
    /// The sampler and writer threads.
    threads: Mutex<Vec<Worker>>,
    /// Set once `shutdown` starts: every later call gets `Closed`.
    closed: AtomicBool,
    private_id: PrivateId,
    /// The JNI fast path's entry for these counters, made at the first ask;
    /// released at shutdown, and in any case when this is dropped.
    fast: Mutex<Option<FastHandle>>,
    /// May an upload use the network now (`upload_on_metered`, metered.rs).
    cost: NetworkCost,
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
        let mut files = LogFiles::open(&config.log_dir, opts)?;
        // Unique in this directory (persisted before use), so the server's
        // de-duplication by (proc_id, proc_seq) never mistakes this logger's
        // entries for an earlier one's.
        let proc_id = files.claim_proc_id()?;
        let speed = config.clock_speed;
        let write_interval = config.write_interval / speed;
        let writer = Arc::new(Writer::new(default_capacity(&config), MAX_PENDING_BYTES, write_interval));
        let counters = Arc::new(Counters::default());
        let poll_ms = config.poll_interval.as_millis() as u64; // validated: at most an hour
        let engine = Arc::new(Engine::new(poll_ms, Clock::system(speed), counters.clone(), writer.clone()));

        // The one place the logger's threads start; `shutdown` joins them.
        let e = engine.clone();
        let sampler = threads::spawn("sockstatlog-sampler", move || e.run_sampler())?;
        counters.set_sampler_thread(sampler.thread().clone());
        let w = writer.clone();
        // The log moves to the writer thread, its one owner from here on.
        let service = LogService::new(files, proc_id);
        let writer_thread = match threads::spawn("sockstatlog-writer", move || w.run(service)) {
            Ok(t) => t,
            Err(e) => {
                engine.stop();
                sampler.join_by(Deadline::after(DROP_SHUTDOWN_TIMEOUT));
                return Err(e);
            }
        };
        let handle = Handle {
            cost: NetworkCost::new(config.upload.upload_on_metered),
            private_id: sockstat_private_id(&config.backend_public_id),
            config,
            counters,
            labels: LabelNames::default(),
            engine,
            writer,
            uploader: OnceLock::new(),
            transport,
            threads: Mutex::new(vec![sampler, writer_thread]),
            closed: AtomicBool::new(false),
            fast: Mutex::new(None),
        };
        Ok(Logger { handle: Arc::new(handle) })
    }

    /// The logger, unless it was shut down.
    fn open(&self) -> Result<&Handle> {
        let h = &*self.handle;
        if h.closed.load(SeqCst) {
            Err(Error::Closed)
        } else {
            Ok(h)
        }
    }

    /// Starts sampling now (the baseline is taken at this instant, and the
    /// clock is anchored to the wall clock) and queues a header entry naming
    /// the labels. No-op if already enabled.
    pub fn enable(&self) -> Result<()> {
        let h = self.open()?;
        h.engine.enable(&h.labels);
        Ok(())
    }

    /// Stops sampling, closes the open window and writes everything pending
    /// to disk. No-op if disabled. An error is the disk's (the entries stay
    /// pending and are retried).
    pub fn disable(&self) -> Result<()> {
        let h = self.open()?;
        h.engine.disable();
        h.writer.call(|w, log| w.write_pending(log))?
    }

    /// Whether sampling is on.
    pub fn is_enabled(&self) -> bool {
        self.handle.engine.is_enabled()
    }

    /// Adds bytes to a label. Lock-free, never blocks, never allocates. `Ok`
    /// means the bytes will be in the log; after `shutdown` began, `Closed`.
    pub fn add(&self, label: u32, tx: u64, rx: u64) -> Result<()> {
        let label = label_id(label)?;
        closed_unless(self.open()?.counters.try_add(label, tx, rx))
    }

    /// Reports cumulative totals for a label; a total that went down is a
    /// reset and counts from zero again (never a wrapped delta).
    pub fn set_totals(&self, label: u32, tx_total: u64, rx_total: u64) -> Result<()> {
        let label = label_id(label)?;
        closed_unless(self.open()?.counters.try_set_totals(label, tx_total, rx_total))
    }

    /// Many pushes in one call. Every label is checked first; on an error
    /// nothing is applied.
    pub fn push_batch(&self, samples: &[CounterSample]) -> Result<()> {
        let h = self.open()?;
        for sample in samples {
            label_id(sample.label)?;
        }
        for sample in samples {
            let label = sample.label as u8;
            if sample.is_total {
                h.counters.set_totals(label, sample.tx, sample.rx);
            } else {
                h.counters.add(label, sample.tx, sample.rx);
            }
        }
        // Checked after the pushes, as `try_add` does: Ok means all of them
        // are in the final snapshot.
        closed_unless(!h.counters.is_closed())
    }

    /// Names a label (in the next header entry and in reports).
    pub fn register_label(&self, label: u32, name: &str) -> Result<()> {
        self.open()?.labels.register(label, name)
    }

    /// Sets the current default interface. For [`InterfaceKind::Unknown`]
    /// the kind is inferred from the name. A change between cellular and
    /// not closes the open window now, so bytes are attributed exactly.
    pub fn set_interface(&self, name: &str, kind: InterfaceKind) -> Result<()> {
        let h = self.open()?;
        h.engine.set_interface(name, kind);
        if h.cost.set_interface(kind.resolve(name)) {
            self.start_waiting_upload();
        }
        Ok(())
    }

    /// Says whether the current network is metered (Android: it lacks
    /// `NET_CAPABILITY_NOT_METERED`; iOS: `NWPath.isExpensive` or
    /// `isConstrained`). With `upload_on_metered` off, uploads wait while it
    /// is, or while the interface is cellular; an upload that waited starts
    /// once neither holds.
    pub fn set_network_metered(&self, metered: bool) -> Result<()> {
        if self.open()?.cost.set_metered(metered) {
            self.start_waiting_upload();
        }
        Ok(())
    }

    /// Reports the operating system's cumulative byte totals for this app
    /// (Android: `TrafficStats.getUidTxBytes`/`getUidRxBytes` for its UID),
    /// at any cadence: the latest is written as an `{"os":{"tx":…,"rx":…}}`
    /// entry with the log's next write, so a report can show the bytes no
    /// label counted. A host without such counters (iOS) never calls it.
    pub fn record_os_totals(&self, tx: u64, rx: u64) -> Result<()> {
        self.open()?.writer.os_totals().record(tx, rx);
        Ok(())
    }

    /// Logs a free-form text line (a logtail text entry), cut so that the
    /// encoded line fits the log's 64 KiB line limit (and at upstream's
    /// 16 KiB of text).
    pub fn write_text(&self, text: &str) -> Result<()> {
        closed_unless(self.open()?.writer.push(Pending::Object(wire::text_object(text))))
    }

    fn uploader(&self) -> Result<Arc<Uploader>> {
        let h = self.open()?;
        if let Some(u) = h.uploader.get() {
            return Ok(u.clone());
        }
        let u = Uploader::start(
            &h.config.upload,
            h.private_id,
            Arc::new(WriterLog(h.writer.clone())),
            h.counters.clone(),
            h.transport.clone(),
        )?;
        u.report_to(h.writer.reporter().clone());
        // Two racing first flushes: one uploader wins, the other is stopped.
        if let Err(extra) = h.uploader.set(Arc::new(u)) {
            extra.shutdown(Duration::ZERO);
        }
        Ok(h.uploader.get().expect("uploader was just set").clone())
    }

    /// Registers (or with `None` removes) the listener that hears about
    /// background failures: write failures, dropped entries, upload
    /// failures. It is called on a thread of the library's own, never on
    /// the caller's or a pusher's; a slow one delays nothing else (see
    /// `listener.rs`).
    pub fn set_listener(&self, listener: Option<Arc<dyn crate::Listener>>) -> Result<()> {
        self.open()?.writer.reporter().set_listener(listener)
    }

    /// Asks the writer to write what is pending and then wakes the uploader;
    /// returns at once, never waiting for the disk or the network. With
    /// `upload_on_metered` off on a cellular or metered network, the upload
    /// waits for an unmetered one and starts by itself then.
    pub fn start_flush(&self) -> Result<()> {
        if self.open()?.cost.defer() {
            return Ok(());
        }
        self.start_upload()
    }

    /// Starts the upload that waited for an unmetered network. A failure to
    /// start it (the uploader's thread could not be created, or the logger
    /// is shutting down) is not the network change's: the next flush
    /// reports it.
    fn start_waiting_upload(&self) {
        let _ = self.start_upload();
    }

    fn start_upload(&self) -> Result<()> {
        let up = self.uploader()?;
        self.open()?.writer.write_soon(move |_| up.start_flush());
        Ok(())
    }

    /// Writes pending entries and uploads until the log is drained or
    /// `timeout` passes; the report says which. If writing the newest
    /// entries fails (a full disk), what is already on disk is uploaded all
    /// the same and the report's `write_error` says why the rest is not.
    /// With `upload_on_metered` off on a cellular or metered network, nothing
    /// is sent: the report's `deferred` is `"metered"`, and the upload starts
    /// by itself on an unmetered network.
    pub fn flush(&self, timeout: Duration) -> Result<FlushReport> {
        if self.open()?.cost.defer() {
            return Ok(FlushReport { deferred: Some(DEFERRED_METERED.into()), ..FlushReport::default() });
        }
        self.force_flush(timeout)
    }

    /// [`Logger::flush`] whatever the network: uploads now even on a
    /// cellular or metered one (a user's explicit "send now").
    pub fn force_flush(&self, timeout: Duration) -> Result<FlushReport> {
        let deadline = Deadline::after(timeout);
        let up = self.uploader()?;
        let (tx, rx) = mpsc::channel();
        self.open()?.writer.write_soon(move |r| {
            let _ = tx.send(r.as_ref().err().map(ToString::to_string));
        });
        let write_error = match rx.recv_timeout(deadline.left()) {
            Ok(e) => e,
            Err(_) => Some("writing the log did not finish within the flush timeout".to_string()),
        };
        let mut report = up.flush(deadline.left());
        report.write_error = write_error;
        Ok(report)
    }

    /// Per-label bytes of the last `window` (1 s to 1 h, else
    /// `InvalidArgument`), from memory, largest `tx + rx` first: the labels
    /// that moved, up to the last sampler tick. Windows up to a minute have
    /// 1 s resolution, longer ones 1 min (docs/contract.md, "Recent usage").
    /// The record survives `disable`; after `shutdown`, `Closed`.
    pub fn recent_usage(&self, window: Duration) -> Result<Vec<LabelUsage>> {
        let h = self.open()?;
        let named = h.labels.named();
        h.engine.recent_usage(window, |id| named.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone()))
    }

    /// The sockstat public log ID (hex), under which the server shows the log.
    pub fn log_id(&self) -> String {
        self.handle.private_id.public().to_hex()
    }

    /// Every line on disk, oldest first, after writing what is pending: for a
    /// share sheet or a bug report. If that write fails, the lines already on
    /// disk are returned all the same (the failure is in `stats()`).
    pub fn export(&self) -> Result<Vec<String>> {
        let h = self.open()?;
        let lines = h.writer.call(|w, log| {
            let _ = w.write_pending(log);
            log.files().export()
        })??;
        Ok(lines.into_iter().map(|l| String::from_utf8_lossy(&l).into_owned()).collect())
    }

    /// Current counters. Never waits for the disk: the log's totals are as
    /// the writer thread last published them (after its last write or job).
    pub fn stats(&self) -> Result<LoggerStats> {
        let h = self.open()?;
        let files = h.writer.file_stats();
        let up = h.uploader.get().map(|u| u.stats()).unwrap_or_default();
        let w = h.writer.counts();
        Ok(LoggerStats {
            enabled: self.is_enabled(),
            events: h.engine.events(),
            entries_written: w.entries_written.load(Relaxed),
            bytes_written: w.bytes_written.load(Relaxed),
            dropped_bytes: files.dropped_bytes + w.dropped_bytes.load(Relaxed),
            dropped_entries: files.dropped_lines + h.writer.dropped_entries(),
            torn_bytes: files.torn_bytes,
            resets: h.counters.resets(),
            listener_dropped_events: h.writer.reporter().dropped(),
            saturated_windows: h.counters.saturated_windows(),
            wakeups: h.engine.wakeups() + w.wakeups.load(Relaxed),
            queue_merges: h.writer.queue_merges(),
            write_errors: w.write_errors.load(Relaxed),
            last_write_error: h.writer.last_error(),
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
        let h = self.open()?;
        let mut fast = lock(&h.fast);
        if fast.is_none() {
            *fast = FastHandle::register(h.counters.clone());
        }
        fast.as_ref().map(FastHandle::value).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "fast_counters_handle: {} loggers already hold one; shut one down first",
                fast_handles::SLOTS
            ))
        })
    }

    /// Closes the counters, closes the open window, writes everything
    /// pending, and stops the threads and the uploader, waiting at most
    /// `timeout` in all. Every push that returned `Ok` before is in the log;
    /// every later call returns [`Error::Closed`], a second shutdown too.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        self.handle.shutdown(timeout)
    }
}

/// `Ok` if a push was taken, `Closed` if the logger closed first.
fn closed_unless(taken: bool) -> Result<()> {
    if taken {
        Ok(())
    } else {
        Err(Error::Closed)
    }
}

impl Handle {
    fn shutdown(&self, timeout: Duration) -> Result<()> {
        // Before any state changes (an unrepresentable one is no deadline).
        let deadline = Deadline::after(timeout);
        if self.closed.swap(true, SeqCst) {
            return Err(Error::Closed);
        }
        // JNI pushes in flight finish before this goes on (or the deadline
        // passes and the slot is retired); later ones get `false`.
        if let Some(fast) = lock(&self.fast).as_ref() {
            fast.release(deadline.at());
        }
        // Close the counters first: a push that still reports success has
        // landed before this, so the final snapshot (in disable) sees it.
        self.counters.close();
        self.engine.disable();
        self.engine.stop();
        // The uploader stops asking the log for batches; its last commits
        // are jobs the writer still runs before its final write.
        if let Some(u) = self.uploader.get() {
            u.stop_soon();
        }
        // The writer thread makes the final write (so a stuck disk holds up
        // shutdown by `timeout` at most), answers this waiter, closes the
        // log (giving the directory up) and exits.
        let (tx, rx) = mpsc::channel();
        self.writer.write_soon(move |r| {
            let _ = tx.send(r.as_ref().err().map(ToString::to_string));
        });
        self.writer.close();
        let written = match rx.recv_timeout(deadline.left()) {
            Ok(None) => Ok(()),
            Ok(Some(e)) => Err(Error::io("writing the log at shutdown", std::io::Error::other(e))),
            Err(_) => Err(Error::io(
                "writing the log at shutdown",
                std::io::Error::new(std::io::ErrorKind::TimedOut, "did not finish within the timeout"),
            )),
        };
        for t in lock(&self.threads).drain(..) {
            t.join_by(deadline);
        }
        if let Some(u) = self.uploader.get() {
            u.shutdown(deadline.left());
        }
        self.writer.reporter().close(deadline);
        // The directory is free once the writer thread exited (joined above);
        // past the deadline, a thread still inside a stuck disk call gives it
        // up when that call returns, nobody else can hold it.
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
/// holds it (an iOS app reading its extension's app-group directory) and on
/// a read-only copy. Nothing is created, locked, cut or written. A torn last
/// line (one being written right now) is left out, as are over-long lines and
/// files that are symlinks; while a writer rotates, a line may be missed or
/// seen twice: the result is a snapshot, not a transaction.
pub fn export_log_dir(dir: &std::path::Path) -> Result<Vec<String>> {
    let lines = crate::filch::export_dir(dir, FilchOptions::default().max_line_bytes)?;
    Ok(lines.into_iter().map(|l| String::from_utf8_lossy(&l).into_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logid::PublicId;
    use crate::upload::{HttpRequest, HttpResponse};
    use std::sync::atomic::AtomicU64;

    fn config(dir: &std::path::Path) -> Config {
        let mut c = Config::new(dir, PublicId([7; 32]));
        c.poll_interval = Duration::from_millis(10);
        c.write_interval = Duration::from_millis(50);
        c
    }

    /// Per-label tx summed over the event lines in the directory's log files.
    fn tx_on_disk(dir: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
        let mut sums = std::collections::BTreeMap::new();
        for name in crate::filch::LOG_NAMES {
            let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                for (label, s) in v.get("s").and_then(|s| s.as_object()).into_iter().flatten() {
                    *sums.entry(label.clone()).or_default() += s[0].as_u64().unwrap();
                }
            }
        }
        sums
    }

    /// Pushers race `shutdown` through `push` (returning whether it counted);
    /// what they were told succeeded must be what is on disk.
    fn pushes_racing_shutdown(push: fn(&Logger, u8) -> bool) {
        const PUSHERS: u8 = 3;
        let dir = tempfile::tempdir().unwrap();
        let logger = Logger::new(config(dir.path())).unwrap();
        logger.enable().unwrap();
        let progress = Arc::new(AtomicU64::new(0));
        let pushers: Vec<_> = (0..PUSHERS)
            .map(|t| {
                let (l, progress) = (logger.clone(), progress.clone());
                std::thread::spawn(move || {
                    let mut ok = 0u64;
                    while push(&l, 20 + t) {
                        ok += 1;
                        progress.fetch_add(1, Relaxed);
                    }
                    ok
                })
            })
            .collect();
        // Shut down while every pusher is busy (progress, not a sleep).
        while progress.load(Relaxed) < 30_000 {
            std::thread::yield_now();
        }
        logger.shutdown(Duration::from_secs(60)).unwrap();
        let oks: Vec<u64> = pushers.into_iter().map(|p| p.join().unwrap()).collect();
        let disk = tx_on_disk(dir.path());
        for (t, ok) in oks.iter().enumerate() {
            // Each pusher stops at its first refusal; that one push raced the
            // close and may or may not have been counted. Every success was.
            let on_disk = disk.get(&(20 + t).to_string()).copied().unwrap_or(0);
            assert!(*ok <= on_disk && on_disk <= ok + 1, "label {}: {ok} succeeded, {on_disk} on disk", 20 + t);
        }
    }

    #[test]
    fn every_add_that_returned_ok_while_shutdown_ran_is_on_disk() {
        pushes_racing_shutdown(|l, label| l.add(u32::from(label), 1, 0).is_ok());
    }

    #[test]
    fn every_fast_path_push_that_returned_true_while_shutdown_ran_is_on_disk() {
        // What the JNI methods run behind a handle.
        pushes_racing_shutdown(|l, label| l.handle.counters.try_add(label, 1, 0));
    }

    #[test]
    fn text_that_escapes_past_the_line_limit_is_cut_and_never_stops_logging() {
        let dir = tempfile::tempdir().unwrap();
        let logger = Logger::new(config(dir.path())).unwrap();
        logger.enable().unwrap();
        logger.write_text(&"\u{1}".repeat(11_000)).unwrap();
        logger.add(3, 5, 5).unwrap();
        logger.disable().unwrap();
        logger.write_text("after").unwrap();
        let lines = logger.export().unwrap();
        assert!(lines.iter().any(|l| l.contains("\\u0001\\u0001") && l.contains("…+")), "the long text, cut");
        assert!(lines.iter().any(|l| l.contains("\"text\":\"after\"")));
        let stats = logger.stats().unwrap();
        assert_eq!((stats.write_errors, stats.dropped_entries), (0, 0));
        logger.shutdown(Duration::from_secs(10)).unwrap();
    }

    /// A transport that stores every body it is given and answers 200.
    #[derive(Default)]
    struct Accepting(Mutex<Vec<Vec<u8>>>);

    impl Transport for Accepting {
        fn send(&self, request: HttpRequest) -> std::result::Result<HttpResponse, String> {
            lock(&self.0).push(request.body);
            Ok(HttpResponse { status: 200, headers: vec![], body: vec![] })
        }
    }

    #[test]
    fn flush_on_a_failing_disk_uploads_what_is_stored_and_reports_the_write_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.upload.base_url = "https://sockstatlog.invalid".into();
        let logger = Logger::with_transport(c, Arc::new(Accepting::default())).unwrap();
        logger.write_text("stored before the disk filled").unwrap();
        assert_eq!(logger.export().unwrap().len(), 1);
        logger.handle.writer.fail_appends.store(true, Relaxed);
        logger.write_text("pending while the disk is full").unwrap();

        logger.start_flush().unwrap(); // at once, though the write will fail
        let report = logger.flush(Duration::from_secs(60)).unwrap();
        assert!(report.drained && report.entries == 1, "{report:?}");
        assert!(report.write_error.as_deref().is_some_and(|e| e.contains("No space")), "{report:?}");
        let stats = logger.stats().unwrap();
        assert!(stats.write_errors >= 1 && stats.last_write_error.is_some(), "{stats:?}");

        logger.handle.writer.fail_appends.store(false, Relaxed);
        let report = logger.flush(Duration::from_secs(60)).unwrap();
        assert!(report.entries == 1 && report.write_error.is_none(), "the kept line follows: {report:?}");
        logger.shutdown(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn start_flush_returns_while_the_writer_is_stuck() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.upload.base_url = "https://sockstatlog.invalid".into();
        let logger = Logger::with_transport(c, Arc::new(Accepting::default())).unwrap();
        logger.write_text("pending").unwrap();
        // The writer thread blocks inside a job, as inside a stuck disk call.
        let (release, stuck) = mpsc::channel::<()>();
        assert!(logger.handle.writer.ask(move |_, _| stuck.recv(), |_| {}));
        let (tx, rx) = mpsc::channel();
        let l = logger.clone();
        std::thread::spawn(move || tx.send((l.start_flush().is_ok(), l.stats().is_ok())).unwrap());
        // A generous bound: this detects a caller blocked on the writer, it
        // does not time anything.
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok((true, true)));
        release.send(()).unwrap();
        logger.shutdown(Duration::from_secs(10)).unwrap();
    }

    /// Timeouts at the edges: none, the smallest, and one the clock cannot
    /// add (`Duration::MAX`: no deadline at all).
    const EDGE_TIMEOUTS: [(&str, Duration); 3] =
        [("zero", Duration::ZERO), ("one ns", Duration::from_nanos(1)), ("max", Duration::MAX)];

    fn uploading_logger(dir: &std::path::Path) -> Logger {
        let mut c = config(dir);
        c.upload.base_url = "https://sockstatlog.invalid".into();
        Logger::with_transport(c, Arc::new(Accepting::default())).unwrap()
    }

    #[test]
    fn every_call_that_takes_a_timeout_accepts_zero_one_nanosecond_and_max() {
        for (name, timeout) in EDGE_TIMEOUTS {
            let dir = tempfile::tempdir().unwrap();
            let logger = uploading_logger(dir.path());
            logger.write_text(name).unwrap();
            let report = logger.flush(timeout).unwrap();
            if timeout == Duration::MAX {
                assert!(report.drained && report.entries == 1, "case {name}: {report:?}");
            }
            let up = logger.uploader().unwrap();
            let _ = up.flush(timeout);
            up.shutdown(timeout);
            let done = logger.shutdown(timeout);
            assert!(matches!(logger.shutdown(timeout), Err(Error::Closed)), "case {name}");
            if timeout == Duration::MAX {
                done.unwrap();
                // Shut down in full: the directory is free again.
                Logger::new(config(dir.path())).unwrap().shutdown(timeout).unwrap();
                let upload = crate::config::UploadConfig {
                    base_url: "https://sockstatlog.invalid".into(),
                    ..Default::default()
                };
                let _ = crate::upload::upload_log_dir(dir.path(), &upload, PrivateId([1; 32]), timeout);
            }
        }
    }

    #[test]
    fn the_ffis_millisecond_timeouts_accept_zero_one_and_the_largest() {
        use crate::ffi::{default_logger_config, SockstatLogger};
        for (name, ms) in [("zero", 0i64), ("one ms", 1), ("max", i64::MAX)] {
            let dir = tempfile::tempdir().unwrap();
            let mut cfg = default_logger_config(dir.path().display().to_string().into(), "07".repeat(32).into());
            // Nothing listens there: no request leaves the machine.
            (cfg.base_url, cfg.allow_http) = ("http://127.0.0.1:9".into(), true);
            let logger = SockstatLogger::new(cfg).unwrap();
            // An empty log drains at once, so even "max" returns.
            let report = logger.flush(ms).unwrap();
            assert!(report.drained || ms != i64::MAX, "case {name}: {report:?}");
            logger.write_text(name.into()).unwrap();
            let done = logger.shutdown(ms);
            if ms == i64::MAX {
                done.unwrap();
                let lines = export_log_dir(dir.path()).unwrap();
                assert!(lines.iter().any(|l| l.contains(name)), "case {name}: written at shutdown");
                assert!(Logger::new(config(dir.path())).is_ok(), "case {name}: the directory is free");
            }
        }
    }

    #[test]
    fn shutdown_while_stats_export_and_flush_run_always_frees_the_directory() {
        const ROUNDS: usize = 20;
        let dir = tempfile::tempdir().unwrap();
        for round in 0..ROUNDS {
            let logger = uploading_logger(dir.path());
            logger.enable().unwrap();
            let progress = Arc::new(AtomicU64::new(0));
            let callers: Vec<_> = (0..3)
                .map(|kind| {
                    let (l, progress) = (logger.clone(), progress.clone());
                    std::thread::spawn(move || loop {
                        let _ = l.add(1, 10, 10);
                        let alive = match kind {
                            0 => l.stats().is_ok(),
                            1 => !matches!(l.export(), Err(Error::Closed)),
                            _ => l.flush(Duration::from_millis(1)).is_ok(),
                        };
                        progress.fetch_add(1, Relaxed);
                        if !alive {
                            return;
                        }
                    })
                })
                .collect();
            // Shut down while every caller is busy (progress, not a sleep).
            while progress.load(Relaxed) < 30 {
                std::thread::yield_now();
            }
            logger.shutdown(Duration::from_secs(60)).unwrap();
            callers.into_iter().for_each(|c| c.join().unwrap());
            let next = Logger::new(config(dir.path()));
            assert!(next.is_ok(), "round {round}: {:?}", next.err());
            next.unwrap().shutdown(Duration::from_secs(60)).unwrap();
        }
    }
}
