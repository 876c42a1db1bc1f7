//! The directory store is one collector's: it is locked for the store's
//! lifetime (a second collector on the same directory exits at start naming
//! it), checked before the collector listens (a directory that cannot be
//! made or written fails `collect` with its name, never 500s later), and it
//! follows the same exactly-once rule as the PostgreSQL store, `proc_seq` 0
//! included.

mod common {
    pub mod child;
    pub mod upload;
}

use common::child::{self, Setup};
use common::upload::*;
use sockstatlog_tools::collector::{Collector, Error};
use std::process::Command;

/// `sockstatlog collect --dir DIR` run to its end: (exit code, stdout, stderr).
fn collect_once(dir: &str) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["collect", "--listen", "127.0.0.1:0", "--dir", dir])
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn post_entries(addr: std::net::SocketAddr, entries: &[String]) -> (u16, String) {
    let body = format!("[{}]", entries.join(","));
    let r = raw_request(addr, "POST", &format!("/c/{COLLECTION}/{}", test_id().to_hex()), &[], body.as_bytes());
    (r.status, String::from_utf8_lossy(&r.body).trim().to_string())
}

#[test]
fn a_second_collector_on_one_directory_exits_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut first = child::start_dir(dir.path(), &[], Setup::default());
    let (code, out, err) = collect_once(d);
    assert_eq!(code, Some(1), "{err}");
    assert!(out.is_empty(), "never said it was listening: {out}");
    assert!(err.contains(d) && err.contains("in use by another collector"), "{err}");
    // Batches sent to the one collector are stored once; the lock goes
    // with its process, and the next collector takes over the directory.
    assert_eq!(post_entries(first.addr, &[entry(1, 1), entry(1, 2)]).0, 200);
    first.kill();
    let second = child::start_dir(dir.path(), &[], Setup::default());
    assert_eq!(post_entries(second.addr, &[entry(1, 1), entry(1, 2), entry(1, 3)]), (200, "stored 1".into()));
    let seqs: Vec<bool> = stored_lines(dir.path()).iter().map(|l| l.contains("\"proc_seq\":")).collect();
    assert_eq!(seqs, vec![true; 3]);
}

#[test]
fn in_process_collectors_share_the_rule_and_release_the_lock_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let first = collector(dir.path());
    match Collector::start(loopback(), dir.path(), true) {
        Err(Error::DirInUse { dir: d, .. }) => assert_eq!(d, dir.path()),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("two collectors on one directory"),
    }
    first.shutdown();
    collector(dir.path()).shutdown();
}

#[test]
fn an_unusable_directory_fails_collect_before_it_listens() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let cases = [
        ("under-proc", "/proc/sockstatlog-no-such-dir".to_string()),
        ("under-a-file", file.path().join("sub").to_str().unwrap().to_string()),
        ("a-file", file.path().to_str().unwrap().to_string()),
    ];
    for (name, dir) in cases {
        let (code, out, err) = collect_once(&dir);
        assert_eq!(code, Some(1), "{name}: {err}");
        assert!(out.is_empty(), "{name}: listened: {out}");
        assert!(err.contains(&dir), "{name}: the message names the directory: {err}");
    }
}

#[test]
fn proc_seq_zero_is_stored_once_like_any_other_key() {
    let dir = tempfile::tempdir().unwrap();
    let col = collector(dir.path());
    assert_eq!(post_entries(col.addr(), &[entry(4, 0)]), (200, "stored 1".into()));
    assert_eq!(post_entries(col.addr(), &[entry(4, 0), entry(4, 1)]), (200, "stored 1".into()));
    assert_eq!(post_entries(col.addr(), &[entry(4, 0), entry(4, 1)]), (200, "stored 0".into()));
    assert_eq!(stored_lines(dir.path()), vec![entry(4, 0), entry(4, 1)]);
    // After a restart the rule comes back from the file.
    col.shutdown();
    let col = collector(dir.path());
    assert_eq!(post_entries(col.addr(), &[entry(4, 0), entry(5, 0)]), (200, "stored 1".into()));
}
