//! The log directory itself: creating it and tightening its mode, the lock
//! that gives one logger at a time the directory, and opening the files in
//! it without following symlinks.
//!
//! **Modes.** The log describes the device's network use, so the directory
//! is 0700 and every file 0600, whatever the umask: an existing directory or
//! file is `chmod`ed to those modes when it is opened (files through their
//! descriptor, so no path race).
//!
//! **Lock.** `sockstats.lock` is held with an exclusive `flock` for the log's
//! life. `flock` locks belong to the open file description, so a second open
//! in the same process conflicts as well as one from another process, and
//! the kernel drops the lock when the holder dies (a crash never leaves the
//! directory locked). The file is never deleted: deleting a lock file lets
//! two openers lock two different inodes.
//!
//! **Symlinks.** Every log, state and temporary file is opened with
//! `O_NOFOLLOW`. A symlink where a log file should be is removed (the link,
//! never its target) and a fresh file created; a read-only reader skips it.
//!
//! **FIFOs and devices.** Every open also has `O_NONBLOCK`, so a FIFO (or a
//! device) planted where a log or state file should be cannot block the
//! open; the descriptor's type is checked before anything is read and a
//! non-regular file is refused with [`FilchError::NotRegularFile`]; only
//! then is `O_NONBLOCK` cleared again (regular files ignore it anyway).

use super::{io_error, FilchError, DIR_MODE, FILE_MODE};
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The lock file; shares the `sockstats.` prefix of everything the log owns.
pub(super) const LOCK_NAME: &str = "sockstats.lock";

/// Creates `dir` (and its parents) if needed and sets it to [`DIR_MODE`].
pub(super) fn prepare(dir: &Path) -> Result<(), FilchError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io_error(format!("create log directory {}", dir.display())))?;
    // The umask may have narrowed the mode, or the directory existed with a
    // wider one. `dir` itself may be a symlink the host chose (iOS's /var is
    // one); the mode is set on the directory it names.
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        .map_err(io_error(format!("set mode {DIR_MODE:o} on log directory {}", dir.display())))
}

/// Takes the directory's lock, or [`FilchError::DirInUse`] if another log
/// (in this process or another) holds it.
pub(super) fn lock(dir: &Path) -> Result<File, FilchError> {
    let path = dir.join(LOCK_NAME);
    let file = open_replacing_symlink(&path, OpenOptions::new().read(true).write(true).create(true))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(FilchError::DirInUse { dir: dir.to_path_buf() }),
        Err(fs::TryLockError::Error(e)) => Err(io_error(format!("lock {}", path.display()))(e)),
    }
}

/// Opens (creating if `options` say so) a regular file without following a
/// symlink; a symlink in its place is removed first. The file is set to
/// [`FILE_MODE`].
pub(super) fn open_replacing_symlink(path: &Path, options: &mut OpenOptions) -> Result<File, FilchError> {
    options.mode(FILE_MODE).custom_flags(OPEN_FLAGS);
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if is_symlink(path) => {
            // ELOOP (EMLINK on some BSDs): a planted link. Drop the link, not its target.
            fs::remove_file(path).map_err(io_error(format!("remove symlink {} (open: {e})", path.display())))?;
            options.open(path).map_err(io_error(format!("open {}", path.display())))?
        }
        Err(e) => return Err(io_error(format!("open {}", path.display()))(e)),
    };
    regular(&file, path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(io_error(format!("set mode {FILE_MODE:o} on {}", path.display())))?;
    Ok(file)
}

/// Opens an existing file read-only without following a symlink: `None` when
/// it is missing or is a symlink (a reader never reads through one).
pub(super) fn open_read_only(path: &Path) -> Result<Option<File>, FilchError> {
    match OpenOptions::new().read(true).custom_flags(OPEN_FLAGS).open(path) {
        Ok(f) => {
            regular(&f, path)?;
            Ok(Some(f))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound || is_symlink(path) => Ok(None),
        Err(e) => Err(io_error(format!("open {}", path.display()))(e)),
    }
}

/// Flags of every open in the directory: never through a symlink, never
/// blocking on a FIFO (see the module's doc).
pub(super) const OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// Refuses a directory, FIFO or device where a log file should be (by the
/// open descriptor, so no path race), then makes the file's I/O blocking
/// again.
pub(super) fn regular(file: &File, path: &Path) -> Result<(), FilchError> {
    let meta = file.metadata().map_err(io_error(format!("stat {}", path.display())))?;
    if !meta.is_file() {
        return Err(FilchError::NotRegularFile { path: path.to_path_buf() });
    }
    clear_nonblock(file).map_err(io_error(format!("fcntl {}", path.display())))
}

fn clear_nonblock(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for the life of `file`; F_GETFL/F_SETFL touch
    // only its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}
