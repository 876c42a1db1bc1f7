//! The read-position file `<dir>/sockstats.state`: which log file is older, how
//! far into it the uploader has committed, the rotation epoch, and the last
//! `proc_id` a logger of this directory took (so the next one takes another,
//! see `LogFiles::claim_proc_id`). One line of
//! versioned, checksummed text, written two ways:
//!
//! - **durably** ([`store`]): a temp file, fsync, rename over the old one and
//!   fsync of the directory, so even a power loss leaves either the old or the
//!   new state, never a mix;
//! - **cheaply** ([`StateFile::overwrite`]): the new line written in place
//!   over the old one, no fsync. Any process crash still finds it (it is in the
//!   page cache); a power loss may find an older line or, if the write tore, a
//!   line whose checksum fails, which [`load`] rejects like any corrupt state.
//!   [`StateFile::sync`] then makes such a rewrite durable with one fdatasync.
//!
//! The caller (the log) decides which one a change needs: a change of the
//! older file or epoch needs [`store`], a grown offset only a rewrite.

use super::{io_error, FilchError, FILE_MODE};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Shares the log files' `sockstats.` prefix so one glob finds everything the
/// log owns.
pub(super) const STATE_NAME: &str = "sockstats.state";
/// Written in full and fsynced before it is renamed over [`STATE_NAME`].
const TEMP_NAME: &str = "sockstats.state.tmp";
/// Names the format so a future layout can be told apart (and rejected by this
/// build, which then falls back to upstream's file selection). v2 is v1 plus a
/// checksum, needed since the line is also rewritten in place; v3 is v2 plus
/// the last `proc_id` taken (`proc=`).
const HEADER: &str = "sockstatlog-filch-state v3";
/// The previous format (checksummed, no `proc_id`), still accepted so an
/// upgrade keeps its read position; the next logger then draws a random id.
const HEADER_V2: &str = "sockstatlog-filch-state v2";
/// The first format (no checksum, only ever replaced by rename), still
/// accepted for the same reason.
const HEADER_V1: &str = "sockstatlog-filch-state v1";
/// Separates the fields from the checksum: FNV-1a (32 bit) of everything
/// before it, as 8 lowercase hex digits. A fixed width keeps the line's length
/// non-decreasing while only the offset grows (see [`StateFile::overwrite`]).
const CHECK_FIELD: &str = " check=";
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
    /// The last `proc_id` a logger of this directory took; `None` before the
    /// first (or in a state written by a build before v3).
    pub(super) proc_id: Option<u32>,
}

/// FNV-1a, 32 bit: enough to tell a torn or mixed line from a written one.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

impl State {
    /// The on-disk line, e.g.
    /// `sockstatlog-filch-state v3 older=2 offset=120 epoch=3 proc=77 check=0a1b2c3d`
    /// (`proc=0` when no logger took an id yet: 0 is never one).
    pub(super) fn encode(&self) -> String {
        let (older, offset, epoch) = (self.older + 1, self.read_offset, self.epoch);
        let proc_id = self.proc_id.unwrap_or(0);
        let fields = format!("{HEADER} older={older} offset={offset} epoch={epoch} proc={proc_id}");
        format!("{fields}{CHECK_FIELD}{:08x}\n", checksum(fields.as_bytes()))
    }

    /// Parses exactly what [`State::encode`] writes (or the v2 and v1 lines of
    /// earlier builds); anything else, including a line whose checksum fails,
    /// is `None`.
    pub(super) fn decode(text: &str) -> Option<State> {
        let line = text.strip_suffix('\n')?;
        if let Some(v1) = line.strip_prefix(HEADER_V1) {
            return Self::decode_fields(v1, false);
        }
        let (fields, check) = line.rsplit_once(CHECK_FIELD)?;
        let valid = check.len() == 8 && check.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid || u32::from_str_radix(check, 16).ok()? != checksum(fields.as_bytes()) {
            return None;
        }
        if let Some(v2) = fields.strip_prefix(HEADER_V2) {
            return Self::decode_fields(v2, false);
        }
        Self::decode_fields(fields.strip_prefix(HEADER)?, true)
    }

    /// The ` older=… offset=… epoch=…[ proc=…]` part after the header.
    fn decode_fields(fields: &str, with_proc: bool) -> Option<State> {
        let fields = fields.strip_prefix(' ')?;
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
        let proc_id = match with_proc {
            true => Some(u32::try_from(field("proc")?).ok()?).filter(|&p| p != 0),
            false => None,
        };
        if fields.next().is_some() {
            return None;
        }
        Some(State { older, read_offset, epoch, proc_id })
    }
}

/// The state in `dir`, or `None` when it is missing, unreadable or malformed
/// (the caller then falls back to upstream's selection and rewrites it).
/// A FIFO or device in its place is refused
/// ([`FilchError::NotRegularFile`]), never read (it could block forever).
pub(super) fn load(dir: &Path) -> Result<Option<State>, FilchError> {
    // A symlink is not read through: it loads as no state.
    let file = match super::dir::open_read_only(&dir.join(STATE_NAME)) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(None),
        Err(e @ FilchError::NotRegularFile { .. }) => return Err(e),
        Err(_) => return Ok(None),
    };
    let mut text = String::new();
    if file.take(MAX_STATE_BYTES).read_to_string(&mut text).is_err() {
        return Ok(None);
    }
    Ok(State::decode(&text))
}

/// The open state file, for cheap in-place rewrites between durable stores.
#[derive(Debug)]
pub(super) struct StateFile {
    file: File,
    /// Length of the line the file holds now.
    len: usize,
    /// The file was created by [`open_for_rewrite`] and its directory entry
    /// is not durable yet: the first [`StateFile::sync`] fsyncs the directory too.
    new_entry: bool,
}

impl StateFile {
    /// Writes `state` over the current line in place, without fsync. Returns
    /// `false` (writing nothing) when the new line is shorter than the old
    /// one: the leftover tail would make the file unreadable, so the caller
    /// stores durably instead. Between two durable stores only the offset
    /// grows, so that never happens in practice.
    pub(super) fn overwrite(&mut self, state: State) -> Result<bool, FilchError> {
        let line = state.encode();
        if line.len() < self.len {
            return Ok(false);
        }
        self.file.write_all_at(line.as_bytes(), 0).map_err(io_error(format!("rewrite {STATE_NAME}")))?;
        self.len = line.len();
        Ok(true)
    }

    /// Makes the rewrites so far durable. Returns `false` when `dir`'s state
    /// file is no longer this file (deleted or replaced underneath): the
    /// rewrites went nowhere, and the caller must store the state afresh.
    pub(super) fn sync(&mut self, dir: &Path) -> Result<bool, FilchError> {
        use std::os::unix::fs::MetadataExt;
        self.file.sync_data().map_err(io_error(format!("fsync {STATE_NAME}")))?;
        let ours = self.file.metadata().map_err(io_error(format!("stat {STATE_NAME}")))?;
        let linked =
            fs::symlink_metadata(dir.join(STATE_NAME)).is_ok_and(|m| m.dev() == ours.dev() && m.ino() == ours.ino());
        if !linked {
            return Ok(false);
        }
        if std::mem::take(&mut self.new_entry) {
            sync_dir(dir)?;
        }
        Ok(true)
    }
}

/// Opens the state file in `dir` for in-place rewrites without a durable
/// store first, creating it if missing. Only for a log whose state file is
/// absent or holds a valid state of the current epoch: then whatever a power
/// loss leaves (no file, an empty or torn one, that older state) either fails
/// to load or names the same older file at an offset no further on, so at
/// worst lines are re-sent.
pub(super) fn open_for_rewrite(dir: &Path) -> Result<StateFile, FilchError> {
    let path = dir.join(STATE_NAME);
    let created = is_absent(dir);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(super::dir::OPEN_FLAGS)
        .open(&path)
        .map_err(io_error(format!("open {}", path.display())))?;
    super::dir::regular(&file, &path)?;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .map_err(io_error(format!("open {}", path.display())))?;
    let len = file.metadata().map_err(io_error(format!("stat {}", path.display())))?.len();
    // A file longer than any valid line can't be overwritten safely; an
    // impossible length makes the next rewrite a durable store's job.
    let len = if len <= MAX_STATE_BYTES { len as usize } else { usize::MAX };
    Ok(StateFile { file, len, new_entry: created })
}

/// True when `dir` has no state file at all (as opposed to an unreadable or
/// malformed one): a log written by upstream, or by a build before the state.
pub(super) fn is_absent(dir: &Path) -> bool {
    matches!(fs::symlink_metadata(dir.join(STATE_NAME)), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// Replaces the state in `dir` durably: temp file, fsync, rename, fsync of the
/// directory (without the last step the rename itself may not survive power
/// loss). Returns the new file, open, for later [`StateFile::overwrite`]s.
pub(super) fn store(dir: &Path, state: State) -> Result<StateFile, FilchError> {
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
    let line = state.encode();
    // The umask may have narrowed the creation mode.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .and_then(|()| file.write_all(line.as_bytes()))
        .and_then(|()| file.sync_data())
        .map_err(io_error(format!("write {}", temp.display())))?;
    fs::rename(&temp, &path).map_err(io_error(format!("rename {} to {}", temp.display(), path.display())))?;
    sync_dir(dir)?;
    // The handle now names the renamed file.
    Ok(StateFile { file, len: line.len(), new_entry: false })
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
            ("fresh", State { older: 0, read_offset: 0, epoch: 0, proc_id: None }),
            ("log2 older mid-file", State { older: 1, read_offset: 1234, epoch: 7, proc_id: Some(9) }),
            ("extremes", State { older: 1, read_offset: u64::MAX, epoch: u64::MAX, proc_id: Some(u32::MAX) }),
        ];
        for (name, state) in cases {
            assert_eq!(State::decode(&state.encode()), Some(state), "case {name}");
        }
    }

    /// A checksummed line of format `header` with these fields.
    fn checked(header: &str, fields: &str) -> String {
        let fields = format!("{header} {fields}");
        format!("{fields}{CHECK_FIELD}{:08x}\n", checksum(fields.as_bytes()))
    }

    fn v2(fields: &str) -> String {
        checked(HEADER_V2, fields)
    }

    fn v3(fields: &str) -> String {
        checked(HEADER, fields)
    }

    #[test]
    fn malformed_state_lines_are_rejected() {
        let cases: [(&str, &str); 21] = [
            ("empty", ""),
            ("no newline", "sockstatlog-filch-state v1 older=1 offset=0 epoch=0"),
            ("future version", "sockstatlog-filch-state v4 older=1 offset=0 epoch=0\n"),
            ("v3 without a checksum", "sockstatlog-filch-state v3 older=1 offset=0 epoch=0 proc=1\n"),
            ("v3 proc past u32", &v3("older=1 offset=0 epoch=0 proc=4294967296")),
            ("v3 without proc", &v3("older=1 offset=0 epoch=0")),
            ("v2 with a proc", &v2("older=1 offset=0 epoch=0 proc=5")),
            ("v2 without a checksum", "sockstatlog-filch-state v2 older=1 offset=0 epoch=0\n"),
            ("v2 with a wrong checksum", "sockstatlog-filch-state v2 older=1 offset=0 epoch=0 check=00000000\n"),
            ("v2 checksum in upper case", "sockstatlog-filch-state v2 older=1 offset=0 epoch=0 check=ABCDEF01\n"),
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
    fn a_line_torn_or_mixed_anywhere_fails_its_checksum() {
        // What a power loss during an in-place rewrite can leave: a prefix of
        // the new line over the rest of the old one.
        let old = State { older: 0, read_offset: 199_999, epoch: 4, proc_id: Some(12) }.encode();
        let new = State { older: 0, read_offset: 200_100, epoch: 4, proc_id: Some(12) }.encode();
        assert_eq!(old.len(), new.len());
        for cut in 1..new.len() {
            let mixed = format!("{}{}", &new[..cut], &old[cut..]);
            if mixed != old && mixed != new {
                assert_eq!(State::decode(&mixed), None, "cut at {cut}: {mixed:?}");
            }
        }
    }

    #[test]
    fn v1_and_v2_lines_of_earlier_builds_still_load_without_a_proc_id() {
        let v1 = "sockstatlog-filch-state v1 older=2 offset=120 epoch=3\n";
        let want = State { older: 1, read_offset: 120, epoch: 3, proc_id: None };
        assert_eq!(State::decode(v1), Some(want));
        assert_eq!(State::decode(&v2("older=2 offset=120 epoch=3")), Some(want));
        let line = v3("older=2 offset=120 epoch=3 proc=0");
        assert_eq!(State::decode(&line), Some(want), "proc=0: none taken yet");
    }

    #[test]
    fn an_in_place_rewrite_replaces_the_line_and_refuses_to_shrink_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = store(dir.path(), State { older: 0, read_offset: 10, epoch: 1, proc_id: None }).unwrap();
        let longer = State { older: 0, read_offset: 12_345, epoch: 1, proc_id: None };
        assert!(file.overwrite(longer).unwrap());
        assert_eq!(load(dir.path()).unwrap(), Some(longer));
        assert!(!file.overwrite(State { older: 0, read_offset: 0, epoch: 1, proc_id: None }).unwrap(), "shorter line");
        assert_eq!(load(dir.path()).unwrap(), Some(longer));
    }

    #[test]
    fn a_stored_state_loads_back_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = State { older: 1, read_offset: 42, epoch: 3, proc_id: Some(3) };
        let _ = store(dir.path(), state).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(state));
        assert!(!dir.path().join(TEMP_NAME).exists());
    }

    #[test]
    fn a_missing_or_huge_state_file_loads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let mut huge = State { older: 0, read_offset: 1, epoch: 1, proc_id: None }.encode();
        huge.push_str(&"x".repeat(10_000));
        fs::write(dir.path().join(STATE_NAME), huge).unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
    }
}
