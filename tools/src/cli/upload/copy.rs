//! The checks `sockstatlog upload` makes before it touches anything, and the
//! private copy it uploads from by default, so that the directory a person
//! pulled off a device keeps every line and its read position.
//!
//! The copy holds every line of the directory (see [`PrivateCopy::of`]).
//! Nothing here writes to the source directory: log files are found with
//! [`sockstatlog::log_files_oldest_first`] (read-only, symlinks refused), the
//! lock is only tested (a shared `flock` on a read-only descriptor, held
//! while copying so that a logger cannot start writing mid-copy), and every
//! file is opened read-only without following a symlink.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Upstream's log file names, and what a log directory holds at least one of.
const LOG_NAMES: &str = "sockstats.log1.txt or sockstats.log2.txt";
/// The lock a running logger holds (docs/contract.md, "Files").
const LOCK_NAME: &str = "sockstats.lock";
/// Between the copies' mtimes: whole seconds, so that any filesystem's
/// timestamp resolution keeps them apart.
const ORDER_STEP: Duration = Duration::from_secs(1);

/// Why the upload did not start. Each message names the directory.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Neither log file is there; nothing was created or changed.
    #[error("{}: not a log directory (no {LOG_NAMES}); nothing was changed", .0.display())]
    NotALogDir(PathBuf),
    /// A running logger holds the directory.
    #[error("{}: in use by another logger (it holds {LOCK_NAME}); stop it or upload a copy", .0.display())]
    InUse(PathBuf),
    /// The directory could not be listed, or a file could not be read or copied.
    #[error("{0}")]
    Io(String),
}

/// The log files of `dir`, oldest first; an error unless `dir` is a log
/// directory. Reads only.
pub fn log_files(dir: &Path) -> Result<Vec<PathBuf>, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::Io(format!("{}: not a directory", dir.display())));
    }
    let files = sockstatlog::log_files_oldest_first(dir).map_err(|e| SourceError::Io(e.to_string()))?;
    if files.is_empty() {
        return Err(SourceError::NotALogDir(dir.to_path_buf()));
    }
    Ok(files)
}

/// A private copy of a log directory in a new owner-only temporary
/// directory, removed when dropped.
#[derive(Debug)]
pub struct PrivateCopy {
    dir: PathBuf,
}

impl PrivateCopy {
    /// Copies the log files of `src` (a log directory; `files` oldest first,
    /// from [`log_files`]) while holding a shared lock on it, refusing one a
    /// running logger holds.
    ///
    /// The read position (`sockstats.state`) is not copied: the copy holds
    /// every line of the directory, the ones the device had already uploaded
    /// too (a collector drops those it has by `proc_id`/`proc_seq`), so that
    /// what is sent is what `report DIR` shows. The copies' mtimes are set a
    /// second apart in the log's order, so that the log reads them in that
    /// order without a state file (upstream's rule: older mtime first).
    pub fn of(src: &Path, files: &[PathBuf]) -> Result<PrivateCopy, SourceError> {
        let _lock = shared_lock(src)?;
        let copy = PrivateCopy::new_dir()?;
        let now = SystemTime::now();
        for (i, file) in files.iter().enumerate() {
            let name = file.file_name().unwrap_or_default();
            let mtime = now - ORDER_STEP * (files.len() - i) as u32;
            copy_file(file, &copy.dir.join(name), mtime)
                .map_err(|e| SourceError::Io(format!("copying {}: {e}", file.display())))?;
        }
        Ok(copy)
    }

    /// The copy's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn new_dir() -> Result<PrivateCopy, SourceError> {
        let base = std::env::temp_dir();
        for _ in 0..8 {
            let dir = base.join(format!("sockstatlog-upload-{}-{:08x}", std::process::id(), fastrand::u32(..)));
            // create_dir, not create_dir_all: a name someone else made is never reused.
            match std::fs::DirBuilder::new().mode(crate::private_fs::DIR_MODE).create(&dir) {
                Ok(()) => return Ok(PrivateCopy { dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(SourceError::Io(format!("creating {}: {e}", dir.display()))),
            }
        }
        Err(SourceError::Io(format!("no free temporary directory name under {}", base.display())))
    }
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A shared lock on `dir`'s lock file, if there is one: a running logger
/// holds it exclusively, so taking it fails then, and holding it keeps a
/// logger from starting while we read. Opened read-only; never created.
fn shared_lock(dir: &Path) -> Result<Option<File>, SourceError> {
    let path = dir.join(LOCK_NAME);
    let file = match open_read_only(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SourceError::Io(format!("opening {}: {e}", path.display()))),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(SourceError::InUse(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(SourceError::Io(format!("locking {}: {e}", path.display()))),
    }
}

fn open_read_only(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

fn copy_file(from: &Path, to: &Path, mtime: SystemTime) -> io::Result<()> {
    let mut src = open_read_only(from)?;
    if !src.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut dst = crate::private_fs::create_file(to)?;
    io::copy(&mut src, &mut dst)?;
    dst.set_modified(mtime)
}
