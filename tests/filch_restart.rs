//! Restarting the on-disk log: upstream's file-selection table, the persisted
//! read position, torn tails, corrupt state files, and file modes.

mod common {
    pub mod filch;
}

use common::filch::{drain, joined, numbered, opts, write_with_mtime, WHOLE_FILE};
use sockstatlog::error::FilchError;
use sockstatlog::testing::{FilchOptions, LogFiles};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const LOG1: &str = "sockstats.log1.txt";
const LOG2: &str = "sockstats.log2.txt";
const STATE: &str = "sockstats.state";

fn open(dir: &Path) -> LogFiles {
    LogFiles::open(dir, FilchOptions::default()).unwrap()
}

#[test]
fn restart_reads_both_files_in_order_whatever_their_layout() {
    let want1 = numbered("want1-", 9);
    let want2 = numbered("want2-", 10);
    let both = format!("{}{}", joined(&want1), joined(&want2));
    let (w1, w2) = (joined(&want1), joined(&want2));
    // (name, log1 contents and mtime offset in seconds, log2 likewise)
    let cases: [(&str, (&str, i64), (&str, i64)); 5] = [
        ("log1 holds both", (&both, 0), ("", 0)),
        ("log2 holds both", ("", 0), (&both, 0)),
        ("log1 is older by mtime", (&w1, -60), (&w2, 60)),
        ("log2 is older by mtime", (&w2, 60), (&w1, -60)),
        ("equal mtimes make log2 older", (&w2, 0), (&w1, 0)),
    ];
    let mut want = want1.clone();
    want.extend(want2.iter().cloned());
    for (name, (c1, m1), (c2, m2)) in cases {
        let dir = tempfile::tempdir().unwrap();
        // "equal mtimes": set both to the same instant, not two calls to now().
        write_with_mtime(&dir.path().join(LOG1), c1, m1);
        write_with_mtime(&dir.path().join(LOG2), c2, m2);
        if m1 == m2 {
            let t = fs::metadata(dir.path().join(LOG1)).unwrap().modified().unwrap();
            fs::File::options().write(true).open(dir.path().join(LOG2)).unwrap().set_modified(t).unwrap();
        }
        let mut log = open(dir.path());
        let exported: Vec<String> = log.export().unwrap().into_iter().map(|l| String::from_utf8(l).unwrap()).collect();
        assert_eq!(exported, want, "case {name}: export");
        // Small batches so the peek/commit loop crosses the file boundary.
        assert_eq!(drain(&mut log, 40), want, "case {name}: drain");
    }
}

#[test]
fn a_reopened_log_returns_exactly_the_uncommitted_rest() {
    let dir = tempfile::tempdir().unwrap();
    let lines = numbered("line", 10);
    let mut log = open(dir.path());
    log.append(joined(&lines).as_bytes()).unwrap();
    log.sync().unwrap();
    let batch = log.peek(20).unwrap();
    let handed_out = batch.lines.len();
    assert!(handed_out > 0 && handed_out < lines.len());
    log.commit(batch.cursor).unwrap();
    drop(log);

    let mut log = open(dir.path());
    assert_eq!(drain(&mut log, WHOLE_FILE), lines[handed_out..]);
}

#[test]
fn an_uncommitted_peek_is_handed_out_again_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(b"a\nb\nc\n").unwrap();
    let first = log.peek(WHOLE_FILE).unwrap();
    drop(log);

    let mut log = open(dir.path());
    let again = log.peek(WHOLE_FILE).unwrap();
    assert_eq!(again.lines, first.lines);
    assert_eq!(again.lines, [b"a", b"b", b"c"]);
}

#[test]
fn committed_lines_stay_committed_across_a_reader_rotation_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path());
    log.append(b"old1\nold2\n").unwrap();
    assert_eq!(drain(&mut log, WHOLE_FILE), ["old1", "old2"]);
    log.append(b"new1\n").unwrap();
    drop(log);

    // The state says "older fully read"; the next peek must rotate to new1.
    let mut log = open(dir.path());
    assert_eq!(drain(&mut log, WHOLE_FILE), ["new1"]);
    log.append(b"new2\n").unwrap();
    drop(log);

    let mut log = open(dir.path());
    assert_eq!(drain(&mut log, WHOLE_FILE), ["new2"]);
    assert_eq!(log.stats().rotations, 1, "the reader rotated once in this session");
}

#[test]
fn a_torn_tail_is_cut_off_at_open_and_counted() {
    // (name, log2 = the newer file's bytes on disk, lines kept, torn bytes)
    let cases: [(&str, &[u8], &[&str], u64); 5] = [
        ("whole lines", b"x\ny\n", &["x", "y"], 0),
        ("torn last line", b"x\ny\nfrag", &["x", "y"], 4),
        ("zero-filled tail", b"x\ny\n\0\0\0\0\0\0\0\0", &["x", "y"], 8),
        ("torn line then zeros", b"x\nfr\0\0", &["x"], 4),
        ("only a fragment", b"frag", &[], 4),
    ];
    for (name, newer, kept, torn) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_with_mtime(&dir.path().join(LOG1), "a\n", -60);
        fs::write(dir.path().join(LOG2), newer).unwrap();
        let mut log = open(dir.path());
        assert_eq!(log.stats().torn_bytes, torn, "case {name}");
        // Appending after the cut must not glue onto the fragment.
        log.append(b"z\n").unwrap();
        let mut want = vec!["a"];
        want.extend_from_slice(kept);
        want.push("z");
        assert_eq!(drain(&mut log, WHOLE_FILE), want, "case {name}");
    }
}

#[test]
fn a_bad_state_file_falls_back_to_reading_from_the_start() {
    // log1 = "a\nb\n" (older), log2 = "c\n".
    let cases: [(&str, &[u8], &[&str]); 8] = [
        ("valid state is trusted", b"sockstatlog-filch-state v1 older=1 offset=2 epoch=4\n", &["b", "c"]),
        ("garbage", b"\xff\xfenot a state", &["a", "b", "c"]),
        ("empty", b"", &["a", "b", "c"]),
        ("offset past the end", b"sockstatlog-filch-state v1 older=1 offset=99 epoch=0\n", &["a", "b", "c"]),
        ("offset mid-line", b"sockstatlog-filch-state v1 older=1 offset=1 epoch=0\n", &["a", "b", "c"]),
        ("unknown version", b"sockstatlog-filch-state v9 older=1 offset=2 epoch=0\n", &["a", "b", "c"]),
        ("bad file index", b"sockstatlog-filch-state v1 older=7 offset=0 epoch=0\n", &["a", "b", "c"]),
        ("truncated line", b"sockstatlog-filch-state v1 older=1 off", &["a", "b", "c"]),
    ];
    for (name, state, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_with_mtime(&dir.path().join(LOG1), "a\nb\n", -60);
        write_with_mtime(&dir.path().join(LOG2), "c\n", 60);
        fs::write(dir.path().join(STATE), state).unwrap();
        let mut log = open(dir.path());
        assert_eq!(drain(&mut log, WHOLE_FILE), want, "case {name}");
    }
}

#[test]
fn a_crash_between_truncating_and_persisting_a_rotation_loses_and_repeats_nothing() {
    // Disk as a writer rotation leaves it after the truncate, before the state
    // write: the old older (log1) is empty, the state still names it.
    let cases = [("it was partly read", 6), ("it was unread", 0)];
    for (name, offset) in cases {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOG1), "").unwrap();
        fs::write(dir.path().join(LOG2), "n1\nn2\n").unwrap();
        let state = format!("sockstatlog-filch-state v1 older=1 offset={offset} epoch=3\n");
        fs::write(dir.path().join(STATE), state).unwrap();
        let mut log = open(dir.path());
        log.append(b"n3\n").unwrap();
        assert_eq!(drain(&mut log, WHOLE_FILE), ["n1", "n2", "n3"], "case {name}");
    }
}

#[test]
fn open_creates_a_private_directory_and_private_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a/b/logs");
    let mut log = open(&dir);
    log.append(b"x\n").unwrap();
    let cursor = log.peek(WHOLE_FILE).unwrap().cursor;
    log.commit(cursor).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for name in [LOG1, LOG2, STATE] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
}

#[test]
fn a_log_directory_under_a_regular_file_is_an_io_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("plain"), "").unwrap();
    let dir = root.path().join("plain/logs");
    match LogFiles::open(&dir, FilchOptions::default()) {
        Err(FilchError::Io { context, .. }) => {
            assert!(context.contains(&dir.display().to_string()), "{context}")
        }
        other => panic!("want an io error, got {other:?}"),
    }
}

#[test]
fn a_log_file_that_is_a_directory_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(LOG2)).unwrap();
    match LogFiles::open(dir.path(), FilchOptions::default()) {
        Err(FilchError::Io { context, .. }) => assert!(context.contains(LOG2), "{context}"),
        other => panic!("want an io error, got {other:?}"),
    }
}

#[test]
fn deleting_the_directory_underneath_gives_io_errors_not_panics() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("logs");
    let mut log = LogFiles::open(&dir, opts(100, 64)).unwrap();
    log.append(b"a\n").unwrap();
    let batch = log.peek(WHOLE_FILE).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    // The commit may only rewrite the state file it has open (now unlinked);
    // making it durable finds the file gone and fails storing it afresh.
    let durable = log.commit(batch.cursor).and_then(|()| log.sync_read_position());
    match durable {
        Err(FilchError::Io { context, .. }) => assert!(context.contains(STATE), "{context}"),
        other => panic!("want an io error, got {other:?}"),
    }
    // Until the state can be written again nothing is appended.
    assert!(log.append(b"b\n").is_err());
    assert!(log.peek(WHOLE_FILE).is_err());
}
