//! Helpers shared by the `filch_*` integration tests: options, draining the
//! log the way the uploader does, and laying out log files by hand.
#![allow(dead_code)] // each test crate uses a different subset

use sockstatlog::testing::{FilchOptions, LogFiles};
use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Bytes: more than any test log holds, so one peek takes a whole file.
pub const WHOLE_FILE: usize = 1 << 30;

/// Options with the given total budget and line limit.
pub fn opts(max_total_bytes: u64, max_line_bytes: usize) -> FilchOptions {
    FilchOptions { max_total_bytes, max_line_bytes }
}

/// Peeks and commits until nothing is unread, like an always-successful
/// uploader, returning the lines as strings.
pub fn drain(log: &mut LogFiles, max_bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    // Bounded so a bug that stops progress fails the test instead of hanging it.
    for _ in 0..100_000 {
        if log.stats().unread_bytes == 0 {
            return out;
        }
        let batch = log.peek(max_bytes).unwrap();
        out.extend(batch.lines.into_iter().map(|l| String::from_utf8(l).unwrap()));
        log.commit(batch.cursor).unwrap();
    }
    panic!("drain made no progress; got {} lines", out.len());
}

/// `n` lines `prefix0` .. `prefix{n-1}`.
pub fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// The lines joined, each with its `\n`.
pub fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Writes `contents` to `path` and sets its mtime to `now + offset_secs`.
pub fn write_with_mtime(path: &Path, contents: &str, offset_secs: i64) {
    std::fs::write(path, contents).unwrap();
    let now = SystemTime::now();
    let delta = Duration::from_secs(offset_secs.unsigned_abs());
    let mtime = if offset_secs < 0 { now - delta } else { now + delta };
    File::options().write(true).open(path).unwrap().set_modified(mtime).unwrap();
}
