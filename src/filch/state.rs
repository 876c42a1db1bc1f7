//! The read-position file `<dir>/sockstats.state`: which log file is older, how
//! far into it the uploader has committed, and the rotation epoch. One line of
//! versioned text, replaced atomically so a crash leaves either the old or the
//! new state, never a mix.

use super::{io_error, FilchError, FILE_MODE};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Shares the log files' `sockstats.` prefix so one glob finds everything the
/// log owns.
pub(super) const STATE_NAME: &str = "sockstats.state";
/// Written in full and fsynced before it is renamed over [`STATE_NAME`].
const TEMP_NAME: &str = "sockstats.state.tmp";
/// Names the format so a future layout can be told apart (and rejected by this
/// build, which then falls back to upstream's file selection).
const HEADER: &str = "sockstatlog-filch-state v1";
/// Bytes: a valid state line is under 100 bytes; reading at most this much
/// keeps a corrupt, huge state file from costing memory at open.
const MAX_STATE_BYTES: u64 = 256;

/// The persisted read position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct State {
    /// Index of the older file: 0 for `log1`, 1 for `log2`.
    pub(super) older: usize,
    /// Bytes of the older file already committed.
    pub(super) read_offset: u64,
    /// Rotation epoch when this was written.
    pub(super) epoch: u64,
}

impl State {
    /// The on-disk line, e.g. `sockstatlog-filch-state v1 older=2 offset=120 epoch=3`.
    pub(super) fn encode(&self) -> String {
        format!("{HEADER} older={} offset={} epoch={}\n", self.older + 1, self.read_offset, self.epoch)
    }

    /// Parses exactly what [`State::encode`] writes; anything else is `None`.
    pub(super) fn decode(text: &str) -> Option<State> {
        let fields = text.strip_prefix(HEADER)?.strip_suffix('\n')?.strip_prefix(' ')?;
        let mut fields = fields.split(' ');
        let mut field = |name: &str| -> Option<u64> {
            let value = fields.next()?.strip_prefix(name)?.strip_prefix('=')?;
            // `u64::from_str` accepts a leading '+'; encode never writes one.
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            value.parse().ok()
        };
        let older = match field("older")? {
            1 => 0,
            2 => 1,
            _ => return None,
        };
        let read_offset = field("offset")?;
        let epoch = field("epoch")?;
        if fields.next().is_some() {
            return None;
        }
        Some(State { older, read_offset, epoch })
    }
}

/// The state in `dir`, or `None` when it is missing, unreadable or malformed
/// (the caller then falls back to upstream's selection and rewrites it).
pub(super) fn load(dir: &Path) -> Option<State> {
    // A symlink is not read through: it loads as no state.
    let file = super::dir::open_read_only(&dir.join(STATE_NAME)).ok()??;
    let mut text = String::new();
    file.take(MAX_STATE_BYTES).read_to_string(&mut text).ok()?;
    State::decode(&text)
}

/// Replaces the state in `dir` durably: temp file, fsync, rename, fsync of the
/// directory (without the last step the rename itself may not survive power loss).
pub(super) fn store(dir: &Path, state: State) -> Result<(), FilchError> {
    let temp = dir.join(TEMP_NAME);
    let path = dir.join(STATE_NAME);
    // Whatever is at the temp name (a leftover, or a planted symlink whose
    // target must not be overwritten) is unlinked, and the file created
    // exclusively: O_EXCL never follows a symlink.
    match fs::remove_file(&temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io_error(format!("remove {}", temp.display()))(e));
        }
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&temp)
        .map_err(io_error(format!("create {}", temp.display())))?;
    // The umask may have narrowed the creation mode.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .and_then(|()| file.write_all(state.encode().as_bytes()))
        .and_then(|()| file.sync_data())
        .map_err(io_error(format!("write {}", temp.display())))?;
    fs::rename(&temp, &path).map_err(io_error(format!("rename {} to {}", temp.display(), path.display())))?;
    sync_dir(dir)
}

/// fsyncs a directory so entries created or renamed in it are durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), FilchError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(format!("fsync directory {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_then_decoding_gives_the_same_state() {
        let cases = [
            ("fresh", State { older: 0, read_offset: 0, epoch: 0 }),
            ("log2 older mid-file", State { older: 1, read_offset: 1234, epoch: 7 }),
            ("extremes", State { older: 1, read_offset: u64::MAX, epoch: u64::MAX }),
        ];
        for (name, state) in cases {
            assert_eq!(State::decode(&state.encode()), Some(state), "case {name}");
        }
    }

    #[test]
    fn malformed_state_lines_are_rejected() {
        let cases = [
            ("empty", ""),
            ("no newline", "sockstatlog-filch-state v1 older=1 offset=0 epoch=0"),
            ("future version", "sockstatlog-filch-state v2 older=1 offset=0 epoch=0\n"),
            ("older zero", "sockstatlog-filch-state v1 older=0 offset=0 epoch=0\n"),
            ("older three", "sockstatlog-filch-state v1 older=3 offset=0 epoch=0\n"),
            ("negative offset", "sockstatlog-filch-state v1 older=1 offset=-1 epoch=0\n"),
            ("plus sign", "sockstatlog-filch-state v1 older=1 offset=+5 epoch=0\n"),
            ("overflow", "sockstatlog-filch-state v1 older=1 offset=99999999999999999999 epoch=0\n"),
            ("fields swapped", "sockstatlog-filch-state v1 offset=0 older=1 epoch=0\n"),
            ("missing epoch", "sockstatlog-filch-state v1 older=1 offset=0\n"),
            ("extra field", "sockstatlog-filch-state v1 older=1 offset=0 epoch=0 x=1\n"),
            ("double space", "sockstatlog-filch-state v1  older=1 offset=0 epoch=0\n"),
            ("empty value", "sockstatlog-filch-state v1 older=1 offset= epoch=0\n"),
            ("binary", "\0\0\0\0"),
        ];
        for (name, text) in cases {
            assert_eq!(State::decode(text), None, "case {name}");
        }
    }

    #[test]
    fn a_stored_state_loads_back_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = State { older: 1, read_offset: 42, epoch: 3 };
        store(dir.path(), state).unwrap();
        assert_eq!(load(dir.path()), Some(state));
        assert!(!dir.path().join(TEMP_NAME).exists());
    }

    #[test]
    fn a_missing_or_huge_state_file_loads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), None);
        let mut huge = State { older: 0, read_offset: 1, epoch: 1 }.encode();
        huge.push_str(&"x".repeat(10_000));
        fs::write(dir.path().join(STATE_NAME), huge).unwrap();
        assert_eq!(load(dir.path()), None);
    }
}
