//! `sockstatlog upload` as a person runs it on a log pulled off a device:
//! the directory is left as it was unless `--drain`, a directory without a
//! log is refused untouched, there is no default server, plain http names
//! its flag, failed attempts are shown on a terminal and nowhere else, and
//! `--json` gives one object.

mod common {
    pub mod upload;
}

use common::upload::{collector, write_log, Fault, FaultProxy, COLLECTION};
use sockstatlog::logid::{sockstat_private_id, PublicId};
use sockstatlog_tools::collector::stream_path;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Lines in each test log: several 4 KiB batches.
const LINES: u64 = 300;
/// The node every test uploads for.
const BACKEND: [u8; 32] = [0xab; 32];

fn backend_hex() -> String {
    PublicId(BACKEND).to_hex()
}

/// What the collector in `dir` stored for [`BACKEND`].
fn stored(dir: &Path) -> Vec<String> {
    let p = stream_path(dir, COLLECTION, &sockstat_private_id(&PublicId(BACKEND)).to_hex());
    std::fs::read_to_string(p).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default()
}

fn sockstatlog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sockstatlog")).args(args).output().unwrap()
}

/// `upload --dir DIR --url URL` plus `extra`, small batches, fast retries.
fn upload(dir: &Path, url: &str, extra: &[&str]) -> Output {
    let hex = backend_hex();
    let d = dir.to_str().unwrap();
    let args = ["upload", "--dir", d, "--backend-log-id", &hex, "--url", url, "--max-body-bytes", "4096"];
    let timeout: &[&str] = if extra.contains(&"--timeout") { &[] } else { &["--timeout", "60"] };
    sockstatlog(&[&args[..], &["--backoff-base-ms", "10"], timeout, extra].concat())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every entry of `dir` (recursively): path → (mode, contents).
fn snapshot(dir: &Path) -> BTreeMap<std::path::PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let meta = std::fs::symlink_metadata(dir).unwrap();
    out.insert(dir.to_path_buf(), (meta.permissions().mode(), Vec::new()));
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            out.extend(snapshot(&p));
        } else {
            out.insert(p.clone(), (meta.permissions().mode(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn report_json(dir: &Path) -> serde_json::Value {
    let out = sockstatlog(&["report", "--json", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

#[test]
fn url_is_required() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1, 3);
    let out = sockstatlog(&["upload", "--dir", dir.path().to_str().unwrap(), "--backend-log-id", &backend_hex()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--url <BASE>"), "{}", text(&out.stderr));
}

#[test]
fn by_default_the_directory_is_left_byte_for_byte_and_the_report_unchanged() {
    let (log, server) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(log.path(), 7, LINES);
    let c = collector(server.path());
    let (before, report_before) = (snapshot(log.path()), report_json(log.path()));

    let out = upload(log.path(), &c.url(), &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "no terminal: no progress, {}", text(&out.stderr));
    let v = json(&out);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["attempts", "batches", "bytes", "drained", "entries", "last_error", "sent_bytes"]);
    assert_eq!(
        (v["drained"].as_bool(), v["entries"].as_u64(), v["last_error"].is_null()),
        (Some(true), Some(LINES), true)
    );
    let batches = v["batches"].as_u64().unwrap();
    assert!(batches > 1 && v["attempts"].as_u64() == Some(batches), "{v}");
    assert!(v["bytes"].as_u64().unwrap() >= lines.iter().map(|l| l.len() as u64).sum::<u64>(), "{v}");
    assert_eq!(stored(server.path()).len(), lines.len());

    assert_eq!(snapshot(log.path()), before, "the directory must not change");
    assert_eq!(report_json(log.path()), report_before);

    // A second run sends every line again (the collector keeps one copy).
    let v = json(&upload(log.path(), &c.url(), &["--json"]));
    assert_eq!(v["entries"].as_u64(), Some(LINES));
    assert_eq!(stored(server.path()).len(), lines.len());
}

#[test]
fn drain_uploads_in_place_and_commits_the_read_position() {
    let (log, server) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_log(log.path(), 8, LINES);
    let c = collector(server.path());
    let out = upload(log.path(), &c.url(), &["--drain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("drained: ") && stdout.contains(&format!(" {LINES} entries")), "{stdout}");
    assert_eq!(stored(server.path()).len() as u64, LINES);
    // Drained: nothing is left to send.
    let v = json(&upload(log.path(), &c.url(), &["--drain", "--json"]));
    assert_eq!((v["drained"].as_bool(), v["entries"].as_u64(), v["batches"].as_u64()), (Some(true), Some(0), Some(0)));
}

#[test]
fn a_directory_without_a_log_is_refused_and_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("not-a-log");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("notes.txt"), "pulled from a phone\n").unwrap();
    std::fs::set_permissions(dir.join("notes.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o750)).unwrap();
    let before = snapshot(root.path());
    for d in [&dir, &empty] {
        for extra in [&[][..], &["--drain"]] {
            let out = upload(d, "http://127.0.0.1:9", extra);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
            assert!(err.contains(&format!("{}: not a log directory", d.display())), "{extra:?}: {err}");
            assert_eq!(snapshot(root.path()), before, "{extra:?}: nothing created, nothing changed");
        }
    }
    let missing = root.path().join("missing");
    let out = upload(&missing, "http://127.0.0.1:9", &["--drain"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!missing.exists(), "a missing directory is not created");
    // The report says it the same way.
    let out = sockstatlog(&["report", dir.to_str().unwrap()]);
    assert!(text(&out.stderr).contains(&format!("{}: not a log directory", dir.display())));
}

#[test]
fn plain_http_off_this_machine_is_refused_naming_the_flag() {
    let log = tempfile::tempdir().unwrap();
    write_log(log.path(), 9, 3);
    let before = snapshot(log.path());
    // 192.0.2.0/24 is TEST-NET-1: never reached, the refusal comes first.
    for url in ["http://192.0.2.1:8080", "http://127.0.0.1.example.com", "http://evil.example@127.0.0.1:9"] {
        let out = upload(log.path(), url, &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("--allow-http") && !err.contains("allow_http"), "{url}: {err}");
    }
    assert_eq!(snapshot(log.path()), before);
}

/// A server that fails the first two requests with 503, then stores.
fn flaky_server(dir: &Path) -> (sockstatlog_tools::collector::Collector, FaultProxy) {
    let c = collector(dir);
    let reply = || Fault::Reply(503, vec![], "try later".into());
    let proxy = FaultProxy::start(c.addr(), vec![reply(), reply()]);
    (c, proxy)
}

fn assert_two_failed_attempts(shown: &str) {
    for n in [1, 2] {
        let line = shown.lines().find(|l| l.contains(&format!("attempt {n} failed: "))).unwrap_or_else(|| {
            panic!("no line for attempt {n}:\n{shown}");
        });
        let (cause, next) = line.split_once("; next attempt in ").unwrap_or_else(|| panic!("{line}"));
        assert!(cause.ends_with("failed 503: try later"), "{line}");
        assert!(next.contains(" s, at ") && next.contains(" UTC"), "{line}");
    }
    assert!(!shown.contains("attempt 3 failed"), "{shown}");
}

/// The terminal path, through a real pseudo-terminal: util-linux's
/// `script` runs the command with its stdin, stdout and stderr on one.
#[test]
fn on_a_terminal_each_failed_attempt_is_shown_with_its_cause_and_the_next_try() {
    let (log, server) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_log(log.path(), 10, 20);
    let (_c, proxy) = flaky_server(server.path());
    let cmd = format!(
        "{} upload --dir {} --backend-log-id {} --url {} --backoff-base-ms 10 --timeout 60",
        env!("CARGO_BIN_EXE_sockstatlog"),
        log.path().display(),
        backend_hex(),
        proxy.url()
    );
    let out = Command::new("script")
        .args(["--quiet", "--return", "--command", &cmd, "/dev/null"])
        .output()
        .expect("util-linux's `script` (Debian: bsdutils) runs the command on a pseudo-terminal");
    let shown = text(&out.stdout).replace('\r', "\n");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert_two_failed_attempts(&shown);
    assert!(shown.contains("drained: 1 batches, 20 entries"), "{shown}");
    assert_eq!(stored(server.path()).len(), 20);
}

#[test]
fn without_a_terminal_progress_is_plain_lines_when_asked_and_absent_otherwise() {
    let (log, server) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_log(log.path(), 11, 20);
    let (c, proxy) = flaky_server(server.path());
    let out = upload(log.path(), &proxy.url(), &["--progress", "always"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.starts_with(&format!("upload: uploading a copy of {} to ", log.path().display())), "{err}");
    assert_two_failed_attempts(&err);
    assert!(err.contains("upload: stored batch 1: 20 entries; so far 1 batches, 20 entries, "), "{err}");

    // One collector per directory: the first gives it up before the second.
    drop(proxy);
    c.shutdown();
    let (_c2, proxy) = flaky_server(server.path());
    let out = upload(log.path(), &proxy.url(), &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "not a terminal: quiet, {}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["attempts"].as_u64(), v["batches"].as_u64()), (Some(3), Some(1)), "{v}");
    assert!(v["last_error"].as_str().unwrap().contains("503: try later"), "{v}");
}

#[test]
fn an_unreachable_server_is_not_drained_exit_1_with_the_last_error() {
    let log = tempfile::tempdir().unwrap();
    write_log(log.path(), 12, 5);
    let before = snapshot(log.path());
    let out = upload(log.path(), "http://127.0.0.1:9", &["--json", "--timeout", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!((v["drained"].as_bool(), v["entries"].as_u64()), (Some(false), Some(0)));
    // Every attempt within the timeout failed, for the reason given (on a
    // machine too loaded to try once in 2 s, there is no reason to give).
    let attempts = v["attempts"].as_u64().unwrap();
    assert_eq!(v["last_error"].as_str().map(|e| e.contains("127.0.0.1:9")), (attempts > 0).then_some(true), "{v}");
    assert_eq!(snapshot(log.path()), before);
}
