//! The on-disk log's limits and reading rules: the total budget and rotation,
//! the line limit, non-consuming peeks, stale cursors, export and stats.

mod common {
    pub mod filch;
}

use common::filch::{drain, opts, WHOLE_FILE};
use sockstatlog::error::FilchError;
use sockstatlog::testing::LogFiles;

#[test]
fn a_full_log_rotates_and_counts_what_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let max_total = 1000;
    let mut log = LogFiles::open(dir.path(), opts(max_total, 64 << 10)).unwrap();
    let mut longest = 0;
    for i in 0..1000 {
        let line = format!("{{\"WriteIndex\":{i}}}\n");
        longest = longest.max(line.len() as u64);
        log.append(line.as_bytes()).unwrap();
        // Soft limit: each file may pass its half by the write that crossed it.
        assert!(log.stats().stored_bytes <= max_total + 2 * longest, "after write {i}");
    }
    let stats = log.stats();
    assert!(stats.rotations > 0, "{stats:?}");
    assert!(stats.dropped_bytes > 0 && stats.dropped_lines > 0, "{stats:?}");
    assert!(stats.stored_bytes <= max_total, "{stats:?}");
    assert_eq!(stats.unread_bytes, stats.stored_bytes, "nothing was committed");

    let indexes: Vec<u64> = drain(&mut log, 100)
        .iter()
        .map(|l| l.trim_start_matches("{\"WriteIndex\":").trim_end_matches('}').parse().unwrap())
        .collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
    assert_eq!(indexes.last(), Some(&999));
    // Everything written is either read back or counted as dropped.
    assert_eq!(indexes.len() as u64 + stats.dropped_lines, 1000);
}

#[test]
fn an_over_long_line_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), opts(1 << 20, 1000)).unwrap();
    let x = |n| "X".repeat(n);
    log.append(format!("{}\n", x(999)).as_bytes()).unwrap();
    assert!(matches!(log.append(format!("{}\n", x(1000)).as_bytes()), Err(FilchError::LineTooLong)));
    assert!(matches!(log.append(x(1000).as_bytes()), Err(FilchError::LineTooLong)));
    let mixed = format!("short\n{}\n", x(1000));
    assert!(matches!(log.append(mixed.as_bytes()), Err(FilchError::LineTooLong)));
    log.append(format!("{}\n{}\n", x(999), x(999)).as_bytes()).unwrap();
    assert_eq!(log.stats().stored_bytes, 3000);
    assert_eq!(drain(&mut log, WHOLE_FILE), [x(999), x(999), x(999)]);
    assert_eq!(log.stats().unread_bytes, 0);
}

#[test]
fn an_over_long_line_on_disk_is_skipped_counted_and_passed() {
    let dir = tempfile::tempdir().unwrap();
    let long = "X".repeat(999);
    {
        let mut log = LogFiles::open(dir.path(), opts(1 << 20, 1000)).unwrap();
        log.append(format!("hello\n{long}\ngoodbye\n").as_bytes()).unwrap();
    }
    let mut log = LogFiles::open(dir.path(), opts(1 << 20, 10)).unwrap();
    let first = log.peek(1).unwrap();
    assert_eq!((first.lines, first.skipped_long_lines), (vec![b"hello".to_vec()], 0));
    log.commit(first.cursor).unwrap();
    let second = log.peek(WHOLE_FILE).unwrap();
    assert_eq!(second.lines, [b"goodbye"]);
    assert_eq!(second.skipped_long_lines, 1);
    assert_eq!(log.export().unwrap(), [&b"hello"[..], b"goodbye"]);
}

#[test]
fn peeking_does_not_consume() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), opts(1 << 20, 100)).unwrap();
    log.append(b"a\nb\nc\n").unwrap();
    let first = log.peek(3).unwrap();
    let second = log.peek(3).unwrap();
    assert_eq!(first.lines, [b"a", b"b"], "stops once 3 bytes are reached");
    assert_eq!(second.lines, first.lines);
    assert_eq!(second.cursor, first.cursor);
    log.commit(first.cursor).unwrap();
    assert_eq!(log.peek(WHOLE_FILE).unwrap().lines, [b"c"]);
}

#[test]
fn a_batch_never_spans_both_files() {
    let dir = tempfile::tempdir().unwrap();
    // Half the budget is 8 bytes: the third line goes to the other file.
    let mut log = LogFiles::open(dir.path(), opts(16, 100)).unwrap();
    log.append(b"one1\ntwo2\n").unwrap();
    log.append(b"three\n").unwrap();
    let first = log.peek(WHOLE_FILE).unwrap();
    assert_eq!(first.lines, [&b"one1"[..], b"two2"]);
    log.commit(first.cursor).unwrap();
    let second = log.peek(WHOLE_FILE).unwrap();
    assert_eq!(second.lines, [b"three"]);
    assert_ne!(second.cursor.epoch, first.cursor.epoch, "the reader rotated");
}

#[test]
fn an_empty_log_gives_an_empty_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), opts(1 << 20, 100)).unwrap();
    let batch = log.peek(WHOLE_FILE).unwrap();
    assert!(batch.lines.is_empty());
    assert_eq!(batch.skipped_long_lines, 0);
    log.commit(batch.cursor).unwrap();
    assert_eq!(log.stats(), Default::default());
}

#[test]
fn empty_lines_are_never_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), opts(1 << 20, 100)).unwrap();
    log.append(b"\na\n\n\nb\n\n").unwrap();
    assert_eq!(log.export().unwrap(), [b"a", b"b"]);
    assert_eq!(drain(&mut log, 1), ["a", "b"]);
}

#[test]
fn a_cursor_from_before_a_writer_rotation_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), opts(16, 100)).unwrap();
    log.append(b"old1\nold2\n").unwrap();
    log.append(b"mid1\n").unwrap(); // rotates: old* become the older file
    let stale = log.peek(WHOLE_FILE).unwrap();
    assert_eq!(stale.lines, [&b"old1"[..], b"old2"]);
    log.append(b"mid2\nmid3\n").unwrap();
    log.append(b"new\n").unwrap(); // rotates again: old* are dropped while in flight
    assert_eq!(log.stats().dropped_lines, 2);
    // Its end (10) is a line start in the new older file too: only the epoch
    // tells it apart.
    assert_eq!(stale.cursor.end, 10);
    log.commit(stale.cursor).unwrap();
    assert_eq!(drain(&mut log, WHOLE_FILE), ["mid1", "mid2", "mid3", "new"]);
}

#[test]
fn export_lists_every_stored_line_including_committed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), opts(16, 100)).unwrap();
    log.append(b"one1\ntwo2\n").unwrap();
    log.append(b"three\n").unwrap();
    let batch = log.peek(1).unwrap();
    log.commit(batch.cursor).unwrap();
    assert_eq!(log.export().unwrap(), [&b"one1"[..], b"two2", b"three"]);
}

#[test]
fn stats_track_stored_and_unread_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), opts(1 << 20, 100)).unwrap();
    log.append(b"abc\nde").unwrap();
    let stats = log.stats();
    assert_eq!((stats.stored_bytes, stats.unread_bytes), (7, 7));
    let batch = log.peek(1).unwrap();
    log.commit(batch.cursor).unwrap();
    let stats = log.stats();
    assert_eq!((stats.stored_bytes, stats.unread_bytes), (7, 3));
    log.sync().unwrap();
}
