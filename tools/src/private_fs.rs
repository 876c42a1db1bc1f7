//! Creating the tools' outputs private to their owner whatever the umask:
//! directories 0700, files 0600. Collected logs, reports and charts describe
//! a device's traffic; another local user must not read them.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every directory the tools create.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the tools create.
pub const FILE_MODE: u32 = 0o600;

/// `mkdir -p` with [`DIR_MODE`] on every directory it creates (set
/// explicitly, so a permissive umask does not widen it). Existing
/// directories are left as they are.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => std::fs::set_permissions(path, Permissions::from_mode(DIR_MODE)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates or truncates `path` as a [`FILE_MODE`] file (not following a
/// symlink at the last component).
pub fn create_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    f.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(f)
}

/// Writes `data` to `path` as [`create_file`] does.
pub fn write(path: &Path, data: impl AsRef<[u8]>) -> io::Result<()> {
    use std::io::Write;
    create_file(path)?.write_all(data.as_ref())
}

/// Opens `path` for appending and reading, creating it as a [`FILE_MODE`]
/// file; refuses a symlink at the last component.
pub fn open_append(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    f.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(f)
}
