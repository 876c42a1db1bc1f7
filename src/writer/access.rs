//! The narrow ways into a log owned by a writer thread: [`WriterLog`], the
//! uploader's (each call a job on that thread), and, for benches, a log moved
//! onto a writer thread of its own.

use super::Writer;
use crate::error::Result;
use crate::filch::{Batch, Cursor, FilchError};
#[cfg(feature = "testing")]
use {
    super::{Deadline, LogService},
    crate::filch::LogFiles,
    std::time::Duration,
};

/// The uploader's narrow way into a log owned by a writer thread: read a
/// batch, commit a cursor, make the position durable; each a job on that
/// thread.
pub(crate) struct WriterLog(pub(crate) std::sync::Arc<Writer>);

impl crate::upload::LogSource for WriterLog {
    fn peek(&self, max_bytes: usize) -> std::result::Result<Batch, String> {
        flat(self.0.call(move |_, s| s.files.peek(max_bytes)))
    }

    fn peek_after(&self, after: Cursor, max_bytes: usize) -> std::result::Result<Option<Batch>, String> {
        flat(self.0.call(move |_, s| s.files.peek_after(after, max_bytes)))
    }

    fn is_current(&self, cursor: Cursor) -> bool {
        self.0.call(move |_, s| s.files.is_current(cursor)).unwrap_or(false)
    }

    fn commit(&self, cursor: Cursor) -> std::result::Result<(), String> {
        flat(self.0.call(move |_, s| s.files.commit(cursor)))
    }

    fn sync_read_position(&self) -> std::result::Result<(), String> {
        flat(self.0.call(|_, s| s.files.sync_read_position()))
    }
}

/// A log moved onto a writer thread of its own, read through [`WriterLog`]
/// exactly as a logger's uploader reads it (every peek and commit a job on
/// that thread): for the upload benches. The thread closes the log and exits
/// when this is dropped.
#[cfg(feature = "testing")]
pub struct OwnedLog {
    writer: std::sync::Arc<Writer>,
    thread: Option<crate::threads::Worker>,
}

#[cfg(feature = "testing")]
impl OwnedLog {
    /// Starts the thread, owning `files`.
    pub fn start(files: LogFiles) -> OwnedLog {
        let writer = std::sync::Arc::new(Writer::new(2, crate::queue::MAX_PENDING_BYTES, Duration::from_secs(10)));
        let (w, log) = (writer.clone(), LogService::new(files, 1));
        let thread = crate::threads::spawn("sockstatlog-writer", move || w.run(log)).ok();
        OwnedLog { writer, thread }
    }

    /// The uploader's way in.
    pub fn source(&self) -> std::sync::Arc<dyn crate::upload::LogSource> {
        std::sync::Arc::new(WriterLog(self.writer.clone()))
    }
}

#[cfg(feature = "testing")]
impl Drop for OwnedLog {
    fn drop(&mut self) {
        self.writer.close();
        if let Some(t) = self.thread.take() {
            t.join_by(Deadline::after(Duration::from_secs(10)));
        }
    }
}

/// A job's result through the channel, errors as text.
fn flat<T>(r: Result<std::result::Result<T, FilchError>>) -> std::result::Result<T, String> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}
