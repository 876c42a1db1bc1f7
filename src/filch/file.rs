//! One of the log's two files: opening it (cutting off a torn tail), appending
//! whole writes, shrinking it durably, and reading lines out of it, with the
//! file's length kept in memory so stats and rotation checks need no syscalls.

use super::lines::{self, Line};
use super::{dir, io_error, FilchError};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::SystemTime;

/// One of the two files, with its length tracked in memory.
#[derive(Debug)]
pub(super) struct LogFile {
    path: PathBuf,
    /// Opened for append, so writes land at the end; reads use `pread`.
    file: File,
    pub(super) len: u64,
    /// Written since the last `sync`.
    dirty: bool,
}

impl LogFile {
    /// Opens or creates the file, cutting off a torn tail. Returns the file,
    /// its mtime from *before* any cut (which would change it), and the bytes cut.
    pub(super) fn open(path: PathBuf) -> Result<(LogFile, Option<SystemTime>, u64), FilchError> {
        // Never through a symlink: a planted link is replaced, its target untouched.
        let file = dir::open_replacing_symlink(&path, OpenOptions::new().read(true).append(true).create(true))?;
        let meta = file.metadata().map_err(io_error(format!("stat {}", path.display())))?;
        let mut log = LogFile { file, len: meta.len(), dirty: false, path };
        let complete =
            lines::complete_len(&log.file, log.len).map_err(io_error(format!("read {}", log.path.display())))?;
        let torn = log.len - complete;
        if torn > 0 {
            log.set_len(complete)?;
        }
        Ok((log, meta.modified().ok(), torn))
    }

    /// Appends `bytes`; on failure undoes a partial write so no torn line is
    /// left in front of later ones.
    pub(super) fn append(&mut self, bytes: &[u8]) -> Result<(), FilchError> {
        if let Err(e) = (&self.file).write_all(bytes) {
            if self.file.set_len(self.len).is_err() {
                if let Ok(meta) = self.file.metadata() {
                    self.len = meta.len();
                }
            }
            return Err(io_error(format!("append to {}", self.path.display()))(e));
        }
        self.len += bytes.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// fsyncs the file if it was written since the last sync.
    pub(super) fn sync(&mut self) -> Result<(), FilchError> {
        if self.dirty {
            self.file.sync_data().map_err(io_error(format!("fsync {}", self.path.display())))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Written since the last successful sync.
    #[cfg(any(test, feature = "testing"))]
    pub(super) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// What an fsync failure may do on Linux: the dirty pages are dropped
    /// and the next fsync has nothing to report (see `LogFiles::sync`).
    #[cfg(any(test, feature = "testing"))]
    pub(super) fn forget_dirty(&mut self) {
        self.dirty = false;
    }

    /// Shrinks the file durably: the state written next relies on it.
    pub(super) fn set_len(&mut self, len: u64) -> Result<(), FilchError> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_data())
            .map_err(io_error(format!("truncate {}", self.path.display())))?;
        self.len = len;
        self.dirty = false;
        Ok(())
    }

    pub(super) fn scan(
        &self,
        start: u64,
        max_line_bytes: usize,
        visit: impl FnMut(Line<'_>, u64) -> ControlFlow<()>,
    ) -> Result<(), FilchError> {
        lines::scan(&self.file, start, self.len, max_line_bytes, visit)
            .map_err(io_error(format!("read {}", self.path.display())))
    }

    pub(super) fn at_line_start(&self, offset: u64) -> Result<bool, FilchError> {
        lines::at_line_start(&self.file, offset).map_err(io_error(format!("read {}", self.path.display())))
    }
}
