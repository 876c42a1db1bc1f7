//! The on-disk log (upstream's `logtail/filch`, made crash-safe). It owns the
//! directory's `sockstats.log1.txt` and `sockstats.log2.txt`, which hold
//! newline-terminated lines, and `sockstats.state`, which persists the read
//! position (see the `state` submodule).
//!
//! Reads come from the *older* file starting at the committed read offset;
//! writes append to the *newer* one. When the newer file outgrows half the
//! budget the writer rotates: the older file is truncated (its unread lines are
//! dropped and counted) and the roles swap. When the reader has committed all of
//! the older file it rotates too, losing nothing. Unlike upstream, reading does
//! not consume: [`LogFiles::peek`] hands out lines and only
//! [`LogFiles::commit`], called after the server acknowledged them, moves the
//! persisted read offset, so a crash never loses unacknowledged lines and
//! re-sends at most a bounded number of acknowledged ones (which the server
//! drops by `proc_id`/`proc_seq`):
//!
//! - a commit rewrites the state in place without fsync; every
//!   [`DURABLE_EVERY_COMMITS`]th commit (or after [`DURABLE_EVERY_BYTES`]) and
//!   [`LogFiles::sync_read_position`] (the uploader calls it at the end of each
//!   flush) add one fdatasync of it; a rotation replaces it durably (temp file,
//!   fsync, rename, directory fsync);
//! - so a process crash (kill, panic, OOM) re-sends at most the one batch
//!   whose acknowledgement it had not yet committed, and a power loss at most
//!   [`DURABLE_EVERY_COMMITS`] committed batches more; in the unlikely case
//!   that the power loss tore the in-place write, the torn line fails its
//!   checksum and reading restarts at the start of the older file (at most
//!   half the log, re-sent).
//!
//! One log at a time owns a directory: [`LogFiles::open`] takes an exclusive
//! lock (`sockstats.lock`, see the `dir` submodule) that [`LogFiles::close`]
//! or dropping the log gives back. Reading a directory another log holds is
//! [`export_dir`], which opens nothing for writing. No file is ever opened
//! through a symlink, and the directory and files get owner-only modes.

mod dir;
mod file;
mod lines;
mod state;

use file::LogFile;
use lines::Line;
use state::State;
use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// File names, upstream's `<prefix>.log1.txt`/`.log2.txt` with the prefix
/// `sockstats`, so tools that know upstream's layout find them. Index 0 is
/// `log1`, index 1 is `log2` everywhere in this module.
pub(crate) const LOG_NAMES: [&str; 2] = ["sockstats.log1.txt", "sockstats.log2.txt"];
/// Longest line the log stores (defined beside the log budget it bounds).
pub(crate) use crate::config::MAX_LINE_BYTES;
/// Owner read/write only: the log describes the device's network use.
const FILE_MODE: u32 = 0o600;
/// Owner only, for the same reason as [`FILE_MODE`].
const DIR_MODE: u32 = 0o700;
/// Commits between two fsyncs of the read position: a power loss re-sends at
/// most this many acknowledged batches (the server drops them). A rotation
/// stores the position durably anyway, so with the default 256 KiB batches and
/// 2.5 MiB files the bound that matters is one file (10 batches), and a flush
/// of the full 5 MiB log makes no periodic fsync at all, only the rotation's
/// store and one fdatasync at the end, instead of 20 rounds of fsync + rename
/// + directory fsync.
pub(crate) const DURABLE_EVERY_COMMITS: u32 = 16;
/// Bytes of committed log between two fsyncs of the read position, whatever
/// the batch size: 4 MiB is sixteen default 256 KiB batches, the same bound in
/// bytes, for logs configured with larger files.
pub(crate) const DURABLE_EVERY_BYTES: u64 = 4 << 20;

/// Why the on-disk log refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum FilchError {
    /// A line (including its `\n`) is longer than the line limit; nothing was written.
    #[error("filch: line too long")]
    LineTooLong,
    /// Another log (in this process or another) holds the directory's lock.
    #[error("filch: log directory {} is in use by another logger (it holds {})", .dir.display(), dir::LOCK_NAME)]
    DirInUse {
        /// The directory.
        dir: PathBuf,
    },
    /// A file the log owns is a FIFO, a device or a directory: refused
    /// unread (reading a FIFO could block forever).
    #[error("filch: {} is not a regular file", .path.display())]
    NotRegularFile {
        /// The file.
        path: PathBuf,
    },
    /// The log was closed (a logger shut down); it touches its directory no more.
    #[error("filch: the log is closed")]
    Closed,
    /// An OS error, with what was being done.
    #[error("filch: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Limits of the on-disk log.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilchOptions {
    /// Both files together; each rotates at half. Default 5 MiB.
    pub max_total_bytes: u64,
    /// One line including its `\n`. Default 64 KiB.
    pub max_line_bytes: usize,
}

/// Identifies how far a [`Batch`] reaches, to commit it after a successful upload.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// Rotation epoch the batch was read in.
    pub epoch: u64,
    /// Byte offset in the older file just past the batch's last line.
    pub end: u64,
}

/// Lines handed out by [`LogFiles::peek`], not consumed until committed.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// Each line, without its trailing `\n`.
    pub lines: Vec<Vec<u8>>,
    /// Lines over the line limit that were skipped (reported, never uploaded).
    pub skipped_long_lines: u64,
    /// Commit this after the lines are safely delivered.
    pub cursor: Cursor,
}

/// Counters of the on-disk log.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FilchStats {
    /// Bytes of unread lines lost when a full log rotated.
    pub dropped_bytes: u64,
    /// Lines lost that way.
    pub dropped_lines: u64,
    /// Bytes of a torn last line discarded at open (a crash mid-write).
    pub torn_bytes: u64,
    /// Rotations since open.
    pub rotations: u64,
    /// Bytes currently in both files.
    pub stored_bytes: u64,
    /// Bytes not yet committed (what an upload would still send).
    pub unread_bytes: u64,
}

/// The two-file log. Not internally synchronised: a logger's writer thread owns
/// it (`writer::LogService`); without a writer (`upload_log_dir`) the uploader
/// alone holds it in a mutex.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug)]
pub(crate) struct LogFiles {
    dir: PathBuf,
    opts: FilchOptions,
    files: [LogFile; 2],
    /// Index into `files` of the file being read; the other one is written.
    older: usize,
    /// Bytes of the older file already committed.
    read_offset: u64,
    /// Bumped by every rotation, so a cursor from before one is recognisably stale.
    epoch: u64,
    /// The in-memory state differs from `sockstats.state` because persisting it
    /// failed; nothing may be appended until it is written (see `persist`).
    state_pending: bool,
    /// The state file as the last durable store left it open, for cheap
    /// in-place commits; `None` until the first store.
    state_file: Option<state::StateFile>,
    /// Commits written in place (not yet durable) since the last durable
    /// store, and the log bytes they moved the offset by.
    commits_since_durable: u32,
    bytes_since_durable: u64,
    /// Only the counters; the byte totals are derived from the file lengths.
    counters: FilchStats,
    /// The last `proc_id` a logger of this directory took, persisted with the
    /// read position (see [`LogFiles::claim_proc_id`]).
    proc_id: Option<u32>,
    /// Test seam: this many coming fsyncs of the log files fail (EIO).
    #[cfg(any(test, feature = "testing"))]
    failing_syncs: u32,
    /// The directory's lock, held while this is open; `None` once closed.
    lock: Option<File>,
}

impl Default for FilchOptions {
    fn default() -> Self {
        FilchOptions {
            // Upstream's sockstats budget: uploads may go over cellular.
            max_total_bytes: crate::config::DEFAULT_MAX_LOG_BYTES,
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

/// Maps an `io::Error` to [`FilchError::Io`] with `context`.
fn io_error(context: String) -> impl FnOnce(io::Error) -> FilchError {
    move |source| FilchError::Io { context, source }
}

impl LogFiles {
    /// Opens (creating if needed) the log in `dir`.
    ///
    /// A torn last line in either file is cut off (see [`FilchStats::torn_bytes`]).
    /// The read position comes from the state file when it is consistent with
    /// the files; otherwise upstream's rule picks the older file (the only
    /// non-empty one, else the one with the earlier mtime, log2 on a tie) and
    /// reading restarts at its beginning.
    ///
    /// Fails with [`FilchError::DirInUse`] while another log holds `dir`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn open(dir: &Path, opts: FilchOptions) -> Result<LogFiles, FilchError> {
        dir::prepare(dir)?;
        let lock = dir::lock(dir)?;
        let mut counters = FilchStats::default();
        let mut mtimes = [None; 2];
        let mut open_one = |i: usize| -> Result<LogFile, FilchError> {
            let (file, mtime, torn) = LogFile::open(dir.join(LOG_NAMES[i]))?;
            mtimes[i] = mtime;
            counters.torn_bytes += torn;
            Ok(file)
        };
        // Whether opening creates a file, i.e. whether the directory needs an fsync.
        let existed = LOG_NAMES.iter().all(|name| dir.join(name).symlink_metadata().is_ok());
        let files = [open_one(0)?, open_one(1)?];
        let loaded = state::load(dir)?;
        // The proc_id outlives a read position that no longer fits the files.
        let proc_id = loaded.and_then(|s| s.proc_id);
        let saved = loaded.filter(|s| s.is_consistent_with(&files[s.older]));
        let older = select_older([files[0].len, files[1].len], mtimes);
        let fallback = State { older, read_offset: 0, epoch: 0, proc_id };
        let start = saved.unwrap_or(fallback);
        // Without any state file there is no stale state to replace before
        // writing: the first commit or rotation stores one.
        let state_pending = saved.is_none() && !state::is_absent(dir);
        let mut log = LogFiles {
            dir: dir.to_path_buf(),
            opts,
            files,
            older: start.older,
            read_offset: start.read_offset,
            epoch: start.epoch,
            state_pending,
            state_file: None,
            commits_since_durable: 0,
            bytes_since_durable: 0,
            counters,
            proc_id,
            #[cfg(any(test, feature = "testing"))]
            failing_syncs: 0,
            lock: Some(lock),
        };
        if log.state_pending {
            // A stale state naming the file we now append to could become
            // "consistent" again as that file grows: replace it before writing.
            log.persist()?;
        } else if !existed {
            // Files were just created; make their directory entries durable.
            state::sync_dir(dir)?;
        }
        Ok(log)
    }

    /// Appends whole lines (`data` is one or more `\n`-terminated lines).
    ///
    /// A missing final `\n` is added. If any line is over the line limit,
    /// nothing is written. Not durable until [`LogFiles::sync`].
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn append(&mut self, data: &[u8]) -> Result<(), FilchError> {
        self.check_open()?;
        if data.is_empty() {
            return Ok(());
        }
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        if body.split(|&b| b == b'\n').any(|l| lines::too_long(l.len(), self.opts.max_line_bytes)) {
            return Err(FilchError::LineTooLong);
        }
        self.persist_if_pending()?;
        if self.files[self.newer()].len > self.opts.max_total_bytes / 2 {
            self.rotate_for_writer()?;
        }
        let newer = self.newer();
        if data.ends_with(b"\n") {
            self.files[newer].append(data)
        } else {
            // One write for line and newline, so a crash can't tear in between.
            self.files[newer].append(&[data, b"\n"].concat())
        }
    }

    /// fsyncs the file(s) written since the last sync. After a failure the
    /// kernel may have dropped the dirty pages and a later fsync succeed
    /// without them: the caller must append what it wrote again.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn sync(&mut self) -> Result<(), FilchError> {
        self.check_open()?;
        #[cfg(any(test, feature = "testing"))]
        if self.failing_syncs > 0 && self.files.iter().any(LogFile::is_dirty) {
            self.failing_syncs -= 1;
            // What a failed fsync may leave: the pages gone, the file clean.
            self.files.iter_mut().for_each(LogFile::forget_dirty);
            let source = io::Error::from_raw_os_error(libc::EIO);
            return Err(FilchError::Io { context: "fsync (injected)".into(), source });
        }
        self.files.iter_mut().try_for_each(LogFile::sync)
    }

    /// Test seam: the next `n` fsyncs of written log data fail with EIO, as
    /// a failing flash chip's do, and the data counts as synced afterwards
    /// (Linux's behaviour after an fsync error).
    #[cfg(any(test, feature = "testing"))]
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn fail_next_syncs(&mut self, n: u32) {
        self.failing_syncs = n;
    }

    /// A `proc_id` for a new logger of this directory, different from every
    /// one its log has used: the last one taken plus one (skipping 0), or a
    /// random one when none is on record (a new or wiped directory: random,
    /// so a reinstall does not replay the old install's sequence). Stored
    /// durably before it is returned, so a crash never hands it out twice.
    /// Only a writing logger calls this; reading or exporting never does.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn claim_proc_id(&mut self) -> Result<u32, FilchError> {
        self.check_open()?;
        let next = match self.proc_id {
            Some(last) => last.checked_add(1).unwrap_or(1),
            None => fastrand::u32(1..),
        };
        let before = self.proc_id.replace(next);
        if let Err(e) = self.persist() {
            self.proc_id = before;
            return Err(e);
        }
        Ok(next)
    }

    /// Up to about `max_bytes` of the oldest uncommitted lines, counted as
    /// stored (with their `\n`); the last line may overshoot. Nothing is
    /// consumed: calling it again returns the same lines until a
    /// [`LogFiles::commit`]. A batch never spans both files. A batch with no
    /// lines but with skipped long lines still has a cursor worth committing.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn peek(&mut self, max_bytes: usize) -> Result<Batch, FilchError> {
        self.check_open()?;
        self.persist_if_pending()?;
        if self.read_offset >= self.files[self.older].len && self.files[self.newer()].len > 0 {
            // Everything in the older file is committed: nothing is lost.
            self.rotate()?;
        }
        self.batch_from(self.read_offset, max_bytes)
    }

    /// Like [`LogFiles::peek`], but the lines just after `after`, a batch
    /// handed out and not yet committed, so that the next batch can be read
    /// and compressed while that one is in flight. `None` when there is
    /// nothing to read ahead without a commit first: `after` reaches the end
    /// of the older file (the next batch needs the rotation its commit
    /// allows), is stale (a rotation came in between) or lies behind the read
    /// offset, or the state file still needs writing.
    pub(crate) fn peek_after(&mut self, after: Cursor, max_bytes: usize) -> Result<Option<Batch>, FilchError> {
        let usable = !self.state_pending
            && after.epoch == self.epoch
            && after.end >= self.read_offset
            && after.end < self.files[self.older].len;
        if !usable {
            return Ok(None);
        }
        self.batch_from(after.end, max_bytes).map(Some)
    }

    /// True when a batch with this cursor was read in the current epoch (no
    /// rotation since): only then is it still worth sending.
    pub(crate) fn is_current(&self, cursor: Cursor) -> bool {
        cursor.epoch == self.epoch
    }

    /// Up to about `max_bytes` of lines of the older file from `start`.
    fn batch_from(&self, start: u64, max_bytes: usize) -> Result<Batch, FilchError> {
        let mut batch =
            Batch { lines: Vec::new(), skipped_long_lines: 0, cursor: Cursor { epoch: self.epoch, end: start } };
        let mut total = 0usize;
        let older = &self.files[self.older];
        older.scan(start, self.opts.max_line_bytes, |line, end| {
            batch.cursor.end = end;
            match line {
                Line::TooLong => batch.skipped_long_lines += 1,
                Line::Text([]) => {}
                Line::Text(text) => {
                    total += text.len() + 1;
                    batch.lines.push(text.to_vec());
                }
            }
            if total >= max_bytes {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(batch)
    }

    /// Marks everything up to `cursor` as delivered: written in place at
    /// once (a process crash keeps it), durable at the policy's points (see
    /// the module doc and [`LogFiles::sync_read_position`]).
    ///
    /// A cursor from before a writer rotation is ignored: the rotation
    /// truncated the lines it covers and already counted them as dropped (even
    /// if they did reach the server). A cursor that does not point at a line
    /// start inside the older file, or points behind the current read offset,
    /// is ignored too.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn commit(&mut self, cursor: Cursor) -> Result<(), FilchError> {
        self.check_open()?;
        let older = &self.files[self.older];
        if cursor.epoch != self.epoch || cursor.end <= self.read_offset || cursor.end > older.len {
            return Ok(());
        }
        if !older.at_line_start(cursor.end)? {
            return Ok(());
        }
        // The state must never point past data that a power loss could take back.
        self.sync()?;
        self.bytes_since_durable += cursor.end - self.read_offset;
        self.commits_since_durable += 1;
        self.read_offset = cursor.end;
        self.persist_in_place()?;
        if self.commits_since_durable >= DURABLE_EVERY_COMMITS || self.bytes_since_durable >= DURABLE_EVERY_BYTES {
            self.sync_read_position()?;
        }
        Ok(())
    }

    /// Makes the committed read position durable if the last commits were
    /// only written in place; a no-op otherwise. The uploader calls it when a
    /// flush ends or it shuts down, so a power loss after that re-sends nothing.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn sync_read_position(&mut self) -> Result<(), FilchError> {
        if self.state_pending {
            return self.persist();
        }
        if self.commits_since_durable > 0 {
            let linked = match &mut self.state_file {
                Some(file) => file.sync(&self.dir)?,
                None => false,
            };
            if !linked {
                return self.persist();
            }
            self.commits_since_durable = 0;
            self.bytes_since_durable = 0;
        }
        Ok(())
    }

    /// Every line still on disk, oldest first, including committed lines the
    /// older file still holds. Lines over the limit are left out.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn export(&mut self) -> Result<Vec<Vec<u8>>, FilchError> {
        self.check_open()?;
        let mut out = Vec::new();
        for i in [self.older, self.newer()] {
            self.files[i].scan(0, self.opts.max_line_bytes, |line, _| {
                if let Line::Text(text @ [_, ..]) = line {
                    out.push(text.to_vec());
                }
                ControlFlow::Continue(())
            })?;
        }
        Ok(out)
    }

    /// Gives the directory up: releases its lock, and every later call fails
    /// with [`FilchError::Closed`], so a log kept alive by a straggling
    /// thread never writes into a directory the next log owns.
    pub(crate) fn close(&mut self) {
        self.lock = None;
    }

    fn check_open(&self) -> Result<(), FilchError> {
        match self.lock {
            Some(_) => Ok(()),
            None => Err(FilchError::Closed),
        }
    }

    /// Current counters.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn stats(&self) -> FilchStats {
        let (older, newer) = (self.files[self.older].len, self.files[self.newer()].len);
        FilchStats {
            stored_bytes: older + newer,
            unread_bytes: older.saturating_sub(self.read_offset) + newer,
            ..self.counters
        }
    }

    fn newer(&self) -> usize {
        1 - self.older
    }

    /// The writer's rotation: the older file's unread lines are dropped.
    fn rotate_for_writer(&mut self) -> Result<(), FilchError> {
        let older = &self.files[self.older];
        let mut lost_lines = 0;
        older.scan(self.read_offset, self.opts.max_line_bytes, |line, _| {
            if line != Line::Text(&[]) {
                lost_lines += 1;
            }
            ControlFlow::Continue(())
        })?;
        self.counters.dropped_lines += lost_lines;
        self.counters.dropped_bytes += older.len - self.read_offset;
        self.rotate()
    }

    /// Truncates the older file, swaps roles and persists the new state.
    ///
    /// Truncating before persisting is what makes a crash in between safe. The
    /// old state still names the truncated file with its old offset: if that
    /// offset was past 0 it is now beyond the file's end, so `open` rejects the
    /// state and upstream's selection picks the only non-empty file, the right
    /// older one, from 0 (nothing in it was committed). If the offset was 0 the
    /// state stays valid: the empty file is "older" and the next read rotates
    /// to the other file, nothing lost, nothing repeated. The opposite order
    /// would let a restart append after unread lines of the file the state
    /// calls newer, and later read them out of order.
    fn rotate(&mut self) -> Result<(), FilchError> {
        self.files[self.older].set_len(0)?;
        self.older = self.newer();
        self.read_offset = 0;
        self.epoch += 1;
        self.counters.rotations += 1;
        self.persist()
    }

    fn persist_if_pending(&mut self) -> Result<(), FilchError> {
        if self.state_pending {
            self.persist()?;
        }
        Ok(())
    }

    fn current_state(&self) -> State {
        State { older: self.older, read_offset: self.read_offset, epoch: self.epoch, proc_id: self.proc_id }
    }

    /// Writes the state file durably. Until that succeeds `state_pending` stays
    /// set and every mutating call retries first: appending to the file an
    /// outdated state calls older could make that state look consistent at the
    /// next open.
    fn persist(&mut self) -> Result<(), FilchError> {
        self.state_pending = true;
        self.state_file = None;
        self.state_file = Some(state::store(&self.dir, self.current_state())?);
        self.state_pending = false;
        self.commits_since_durable = 0;
        self.bytes_since_durable = 0;
        Ok(())
    }

    /// A commit's cheap write: the new offset over the old one in the state
    /// file, no fsync. Only the offset changed since the last durable store
    /// (rotations store durably) or since open (where the state file was
    /// absent or valid for this epoch), so a state a power loss leaves behind
    /// names the same older file at an offset no further on: at worst lines
    /// are re-sent, never skipped. Falls back to a durable store when the line
    /// would shrink.
    fn persist_in_place(&mut self) -> Result<(), FilchError> {
        if self.state_pending {
            // The file may still hold a state from before a rotation: only a
            // durable store may replace that.
            return self.persist();
        }
        self.state_pending = true;
        let current = self.current_state();
        if self.state_file.is_none() {
            self.state_file = Some(state::open_for_rewrite(&self.dir)?);
        }
        let written = match self.state_file.as_mut() {
            Some(file) => file.overwrite(current)?,
            None => false,
        };
        if !written {
            return self.persist();
        }
        self.state_pending = false;
        Ok(())
    }
}

impl State {
    /// True when the read offset lies inside `older` at a line start.
    fn is_consistent_with(&self, older: &LogFile) -> bool {
        self.read_offset <= older.len && older.at_line_start(self.read_offset).unwrap_or(false)
    }
}

/// Every line in the log directory `dir`, oldest first, as
/// [`LogFiles::export`] would return them, without opening the log: nothing
/// is created, locked, cut or written, so it works on a directory another
/// process's log holds (an iOS app reading its extension's app-group
/// directory) and on a read-only copy. The order comes from the state file
/// when it is consistent, else from upstream's rule. A torn last line (one
/// being written right now) is left out, as are lines over `max_line_bytes`
/// and files that are symlinks. While a writer rotates, a line may be missed
/// or seen twice: the result is a snapshot, not a transaction.
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) fn export_dir(dir: &Path, max_line_bytes: usize) -> Result<Vec<Vec<u8>>, FilchError> {
    std::fs::metadata(dir).map_err(io_error(format!("open log directory {}", dir.display())))?;
    let mut files: [Option<(File, u64)>; 2] = [None, None];
    let mut mtimes = [None; 2];
    for (i, name) in LOG_NAMES.iter().enumerate() {
        let path = dir.join(name);
        if let Some(file) = dir::open_read_only(&path)? {
            let meta = file.metadata().map_err(io_error(format!("stat {}", path.display())))?;
            mtimes[i] = meta.modified().ok();
            let complete =
                lines::complete_len(&file, meta.len()).map_err(io_error(format!("read {}", path.display())))?;
            files[i] = Some((file, complete));
        }
    }
    let lens = files.each_ref().map(|f| f.as_ref().map_or(0, |(_, len)| *len));
    let older = older_of(dir, lens, mtimes)?;
    let mut out = Vec::new();
    for (file, len) in [older, 1 - older].into_iter().filter_map(|i| files[i].as_ref()) {
        lines::scan(file, 0, *len, max_line_bytes, |line, _| {
            if let Line::Text(text @ [_, ..]) = line {
                out.push(text.to_vec());
            }
            ControlFlow::Continue(())
        })
        .map_err(io_error(format!("read log in {}", dir.display())))?;
    }
    Ok(out)
}

/// The log files of the log directory `dir` that exist, oldest first: the
/// order the log itself reads them in (its state file's when consistent,
/// else upstream's rule). Like [`export_log_dir`](crate::export_log_dir) it
/// opens nothing for writing,
/// so a report can read the evidence without changing it. A log file that is
/// a symlink, a directory or a device is refused (`Error::Io`), as the log
/// itself refuses it; an empty result means `dir` holds no log.
pub fn log_files_oldest_first(dir: &Path) -> crate::Result<Vec<std::path::PathBuf>> {
    std::fs::metadata(dir).map_err(|e| crate::Error::io(format!("open log directory {}", dir.display()), e))?;
    let (mut lens, mut mtimes, mut exists) = ([0u64; 2], [None; 2], [false; 2]);
    for (i, name) in LOG_NAMES.iter().enumerate() {
        let path = dir.join(name);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(crate::Error::io(format!("stat {}", path.display()), e)),
        };
        if !meta.file_type().is_file() {
            let what = if meta.file_type().is_symlink() { "a symlink, not followed" } else { "not a regular file" };
            let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
            return Err(crate::Error::io(format!("open {}", path.display()), e));
        }
        (exists[i], lens[i], mtimes[i]) = (true, meta.len(), meta.modified().ok());
    }
    let older = older_of(dir, lens, mtimes)?;
    Ok([older, 1 - older].into_iter().filter(|&i| exists[i]).map(|i| dir.join(LOG_NAMES[i])).collect())
}

/// Which file is the older: the state file's answer when it is consistent
/// with the files' lengths, else upstream's rule ([`select_older`]). A state
/// file that is not a regular file is refused.
fn older_of(dir: &Path, lens: [u64; 2], mtimes: [Option<SystemTime>; 2]) -> Result<usize, FilchError> {
    Ok(match state::load(dir)? {
        Some(s) if s.read_offset <= lens[s.older] => s.older,
        _ => select_older(lens, mtimes),
    })
}

/// Upstream's choice of the older file without a state: the only non-empty
/// one; otherwise the one modified earlier; on a tie log2, so writes go to log1.
/// Returns an index into [`LOG_NAMES`].
pub(crate) fn select_older(lens: [u64; 2], mtimes: [Option<SystemTime>; 2]) -> usize {
    match (lens[0] > 0, lens[1] > 0) {
        (true, false) => 0,
        (false, true) => 1,
        _ => match (mtimes[0], mtimes[1]) {
            (Some(m1), Some(m2)) if m1 < m2 => 0,
            _ => 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

    #[test]
    fn the_older_file_is_chosen_like_upstream_without_a_state() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = t0 + Duration::from_secs(60);
        let cases = [
            ("only log1 has data", [5, 0], [Some(later), Some(t0)], 0),
            ("only log2 has data", [0, 5], [Some(t0), Some(later)], 1),
            ("log1 modified earlier", [5, 5], [Some(t0), Some(later)], 0),
            ("log2 modified earlier", [5, 5], [Some(later), Some(t0)], 1),
            ("equal mtimes", [5, 5], [Some(t0), Some(t0)], 1),
            ("no mtimes", [5, 5], [None, None], 1),
            ("both empty", [0, 0], [Some(t0), Some(t0)], 1),
        ];
        for (name, lens, mtimes, want) in cases {
            assert_eq!(select_older(lens, mtimes), want, "case {name}");
        }
    }

    #[test]
    fn appending_checks_every_line_against_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FilchOptions { max_line_bytes: 4, ..FilchOptions::default() };
        let mut log = LogFiles::open(dir.path(), opts).unwrap();
        let cases: [(&str, &[u8], bool); 6] = [
            ("short line", b"abc\n", true),
            ("missing newline, still fits", b"abc", true),
            ("missing newline, too long", b"abcd", false),
            ("second line too long", b"a\nabcd\n", false),
            ("several short lines", b"a\nb\nc\n", true),
            ("empty lines", b"\n\n", true),
        ];
        for (name, data, ok) in cases {
            let before = log.stats().stored_bytes;
            let result = log.append(data);
            assert_eq!(result.is_ok(), ok, "case {name}: {result:?}");
            if !ok {
                assert!(matches!(result, Err(FilchError::LineTooLong)), "case {name}");
                assert_eq!(log.stats().stored_bytes, before, "case {name}: wrote nothing");
            }
        }
        assert_eq!(log.export().unwrap(), [&b"abc"[..], b"abc", b"a", b"b", b"c"]);
    }

    #[test]
    fn a_commit_behind_or_between_lines_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
        log.append(b"one\ntwo\n").unwrap();
        let batch = log.peek(4).unwrap();
        assert_eq!(batch.lines, [b"one"]);
        let epoch = batch.cursor.epoch;
        for end in [2, 5, 0, u64::MAX] {
            log.commit(Cursor { epoch, end }).unwrap();
            assert_eq!(log.read_offset, 0, "end {end}");
        }
        log.commit(batch.cursor).unwrap();
        assert_eq!(log.read_offset, 4);
    }

    #[test]
    fn rotation_keeps_the_state_file_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FilchOptions { max_total_bytes: 10, ..FilchOptions::default() };
        let mut log = LogFiles::open(dir.path(), opts).unwrap();
        for _ in 0..3 {
            log.append(b"abcdef\n").unwrap();
        }
        assert_eq!(log.stats().rotations, 2);
        let on_disk = state::load(dir.path()).unwrap().unwrap();
        assert_eq!(on_disk, State { older: log.older, read_offset: 0, epoch: log.epoch, proc_id: None });
    }

    /// What a power loss would leave of the state file: its contents at the
    /// last point the log made it durable (every commit's rewrite is only in
    /// the page cache until then).
    fn durable_state(log: &LogFiles, last: &mut Option<String>) {
        if log.commits_since_durable == 0 && !log.state_pending {
            *last = fs::read_to_string(log.dir.join(state::STATE_NAME)).ok();
        }
    }

    #[test]
    fn a_power_loss_after_any_commit_re_sends_at_most_the_policy_bound_and_loses_nothing() {
        const LINES_PER_BATCH: usize = 3;
        let lines: Vec<String> = (0..200).map(|i| format!("line-{i:04}")).collect();
        let line_bytes = lines[0].len() + 1;
        // Small files so the drain crosses several rotations.
        let opts = FilchOptions { max_total_bytes: 2 * 40 * line_bytes as u64, ..FilchOptions::default() };
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path(), opts).unwrap();
        // In chunks, so the writer rotates once too (at 40 lines).
        for chunk in lines[..70].chunks(10) {
            let text: String = chunk.iter().map(|l| format!("{l}\n")).collect();
            log.append(text.as_bytes()).unwrap();
        }
        log.sync().unwrap();
        assert_eq!(log.stats().rotations, 1);
        let mut durable = None;
        let mut committed = 0usize;
        let mut worst = 0usize;
        while log.stats().unread_bytes > 0 {
            let batch = log.peek(LINES_PER_BATCH * line_bytes).unwrap();
            durable_state(&log, &mut durable);
            log.commit(batch.cursor).unwrap();
            committed += batch.lines.len();
            durable_state(&log, &mut durable);
            // Power loss now: the log files as they are (all synced), the
            // state file as last made durable.
            let after = tempfile::tempdir().unwrap();
            for name in LOG_NAMES {
                fs::copy(dir.path().join(name), after.path().join(name)).unwrap();
            }
            if let Some(text) = &durable {
                fs::write(after.path().join(state::STATE_NAME), text).unwrap();
            }
            let mut reopened = LogFiles::open(after.path(), opts).unwrap();
            let mut rest = Vec::new();
            while reopened.stats().unread_bytes > 0 {
                let b = reopened.peek(LINES_PER_BATCH * line_bytes).unwrap();
                rest.extend(b.lines.iter().map(|l| String::from_utf8(l.clone()).unwrap()));
                reopened.commit(b.cursor).unwrap();
            }
            // Nothing lost: the tail of what was written, from some line on.
            let first = 70 - rest.len();
            assert_eq!(rest, lines[first..70], "after {committed} committed lines");
            // Re-sent: lines committed before the loss that come back.
            let resent = committed - first.min(committed);
            assert!(first <= committed, "after {committed}: line {first} was never acknowledged");
            worst = worst.max(resent);
        }
        assert_eq!(committed, 70);
        let bound = DURABLE_EVERY_COMMITS as usize * LINES_PER_BATCH;
        assert!(worst <= bound, "re-sent {worst} lines, bound {bound}");
        // The bound is reached: rewrites in between really are not durable.
        assert!(worst >= LINES_PER_BATCH, "re-sent at most {worst} lines");
    }

    #[test]
    fn commits_rewrite_the_state_in_place_and_a_process_crash_keeps_the_latest() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
        log.append(b"a\nb\nc\nd\n").unwrap();
        let inode = |d: &Path| fs::metadata(d.join(state::STATE_NAME)).unwrap().ino();
        let first = log.peek(2).unwrap();
        log.commit(first.cursor).unwrap();
        let ino = inode(dir.path());
        for _ in 0..3 {
            let batch = log.peek(2).unwrap();
            log.commit(batch.cursor).unwrap();
            assert_eq!(inode(dir.path()), ino, "rewritten in place, not replaced");
            // What a reopen after a kill sees: the page cache, i.e. the latest.
            assert_eq!(state::load(dir.path()).unwrap().map(|s| s.read_offset), Some(log.read_offset));
        }
        assert!(log.commits_since_durable > 0);
        log.sync_read_position().unwrap();
        assert_eq!(log.commits_since_durable, 0);
    }

    #[test]
    fn each_claim_takes_the_next_proc_id_and_reading_never_takes_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
            let first = log.claim_proc_id().unwrap();
            log.append(b"x\n").unwrap();
            first
        };
        assert_ne!(first, 0);
        let proc_on_disk = || state::load(dir.path()).unwrap().unwrap().proc_id;
        assert_eq!(proc_on_disk(), Some(first), "stored before use");
        // Read-only uses, and opening without claiming, leave it alone.
        export_dir(dir.path(), MAX_LINE_BYTES).unwrap();
        log_files_oldest_first(dir.path()).unwrap();
        drop(LogFiles::open(dir.path(), FilchOptions::default()).unwrap());
        assert_eq!(proc_on_disk(), Some(first));
        for n in 1..=3u32 {
            let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
            assert_eq!(log.claim_proc_id().unwrap(), first.wrapping_add(n).max(1), "logger {n}");
        }
    }

    #[test]
    fn the_proc_id_wraps_past_u32_max_to_1_never_0() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
        log.proc_id = Some(u32::MAX);
        assert_eq!(log.claim_proc_id().unwrap(), 1);
        assert_eq!(log.claim_proc_id().unwrap(), 2);
    }

    #[test]
    fn an_earlier_builds_v2_state_keeps_its_read_position_and_a_random_proc_id_follows() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOG_NAMES[0]), b"sent\nunsent\n").unwrap();
        let fields = "sockstatlog-filch-state v2 older=1 offset=5 epoch=0";
        let check = fields.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        fs::write(dir.path().join(state::STATE_NAME), format!("{fields} check={check:08x}\n")).unwrap();
        let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
        assert_eq!(log.peek(1 << 20).unwrap().lines, [b"unsent"], "the v2 position holds");
        let id = log.claim_proc_id().unwrap();
        assert_ne!(id, 0);
        let text = fs::read_to_string(dir.path().join(state::STATE_NAME)).unwrap();
        assert!(text.starts_with("sockstatlog-filch-state v3 older=1 offset=5 epoch=0 proc="), "{text}");
    }

    #[test]
    fn a_proc_id_survives_a_read_position_that_no_longer_fits_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
            log.append(b"line\n").unwrap();
            let batch = log.peek(1 << 20).unwrap();
            log.commit(batch.cursor).unwrap();
            log.claim_proc_id().unwrap()
        };
        // The files shrink under the state (restored from a backup, say).
        fs::write(dir.path().join(LOG_NAMES[0]), b"").unwrap();
        fs::write(dir.path().join(LOG_NAMES[1]), b"").unwrap();
        let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
        assert_eq!(log.claim_proc_id().unwrap(), id.wrapping_add(1).max(1));
    }
}
