//! The on-disk log (upstream's `logtail/filch`, made crash-safe): two files
//! `<dir>/sockstats.log1.txt` and `.log2.txt` holding newline-terminated lines,
//! plus a small state file persisting the read position.
//!
//! SKELETON: the API below is fixed; the bodies are being written.

use std::path::Path;

/// Why the on-disk log refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum FilchError {
    /// A line (including its `\n`) is longer than the line limit; nothing was written.
    #[error("filch: line too long")]
    LineTooLong,
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
#[derive(Debug, Clone, Copy)]
pub struct FilchOptions {
    /// Both files together; each rotates at half. Default 5 MiB.
    pub max_total_bytes: u64,
    /// One line including its `\n`. Default 64 KiB.
    pub max_line_bytes: usize,
}

/// Identifies how far a [`Batch`] reaches, to commit it after a successful upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Rotation epoch the batch was read in.
    pub epoch: u64,
    /// Byte offset in the older file just past the batch's last line.
    pub end: u64,
}

/// Lines handed out by [`LogFiles::peek`], not consumed until committed.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Each line, without its trailing `\n`.
    pub lines: Vec<Vec<u8>>,
    /// Lines over the line limit that were skipped (reported, never uploaded).
    pub skipped_long_lines: u64,
    /// Commit this after the lines are safely delivered.
    pub cursor: Cursor,
}

/// Counters of the on-disk log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilchStats {
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

/// The two-file log. Not internally synchronised: the logger wraps it in a mutex.
#[derive(Debug)]
pub struct LogFiles {
    _private: (),
}

impl Default for FilchOptions {
    fn default() -> Self {
        FilchOptions { max_total_bytes: 5 << 20, max_line_bytes: 64 << 10 }
    }
}

impl LogFiles {
    /// Opens (creating if needed) the log in `dir`.
    pub fn open(_dir: &Path, _opts: FilchOptions) -> Result<LogFiles, FilchError> {
        todo!()
    }
    /// Appends whole lines (`data` is one or more `\n`-terminated lines).
    pub fn append(&mut self, _data: &[u8]) -> Result<(), FilchError> {
        todo!()
    }
    /// fsyncs the file being written.
    pub fn sync(&mut self) -> Result<(), FilchError> {
        todo!()
    }
    /// Up to about `max_bytes` of the oldest uncommitted lines.
    pub fn peek(&mut self, _max_bytes: usize) -> Result<Batch, FilchError> {
        todo!()
    }
    /// Marks everything up to `cursor` as delivered, durably.
    pub fn commit(&mut self, _cursor: Cursor) -> Result<(), FilchError> {
        todo!()
    }
    /// Every line still on disk, oldest first.
    pub fn export(&mut self) -> Result<Vec<Vec<u8>>, FilchError> {
        todo!()
    }
    /// Current counters.
    pub fn stats(&self) -> FilchStats {
        todo!()
    }
}
