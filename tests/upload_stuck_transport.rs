//! A host transport that never returns must not cost a thread (and a copy
//! of the body) per attempt: at most one call is outstanding, later attempts
//! wait for it, and shutdown still returns. Alone in its test binary so the
//! process's thread count is this test's.

use sockstatlog::logid::PrivateId;
use sockstatlog::testing::Counters;
use sockstatlog::testing::Uploader;
use sockstatlog::testing::{FilchOptions, LogFiles};
use sockstatlog::UploadConfig;
use sockstatlog::{HttpRequest, HttpResponse, Transport};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Attempts the uploader must make before the counts are checked.
const ATTEMPTS: u64 = 6;

/// Blocks every call until released; counts calls and calls in progress.
#[derive(Default)]
struct StuckHost {
    calls: AtomicUsize,
    inside: AtomicUsize,
    released: Mutex<bool>,
    cv: Condvar,
}

impl StuckHost {
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl Transport for StuckHost {
    fn send(&self, _request: HttpRequest) -> Result<HttpResponse, String> {
        self.calls.fetch_add(1, SeqCst);
        self.inside.fetch_add(1, SeqCst);
        let mut released = self.released.lock().unwrap();
        while !*released {
            released = self.cv.wait(released).unwrap();
        }
        self.inside.fetch_sub(1, SeqCst);
        Err("released".into())
    }
}

/// Threads of this process (Linux: one entry per task).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn a_transport_that_never_returns_is_called_once_and_shutdown_still_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
    log.append(b"{\"t\":1,\"d\":100,\"s\":{\"2\":[1,1]}}\n").unwrap();
    log.sync().unwrap();
    let files = Arc::new(Mutex::new(log));
    let host = Arc::new(StuckHost::default());
    let config = UploadConfig {
        base_url: "https://log.example".into(),
        attempt_timeout: Duration::from_millis(100), // the shortest the settings allow
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(5),
        ..UploadConfig::default()
    };
    let before = threads();
    let up =
        Uploader::start(&config, PrivateId([7; 32]), files.clone(), Arc::new(Counters::default()), Some(host.clone()))
            .unwrap();
    // Each flush waits on the uploader's own state, bounded; loop until it
    // has made enough attempts, however slow the machine.
    let mut last_error = None;
    while up.stats().attempts < ATTEMPTS {
        let report = up.flush(Duration::from_millis(100));
        assert!(!report.drained);
        last_error = report.last_error.or(last_error);
    }
    let failures = up.stats().failures;
    let during = threads();
    up.shutdown(Duration::from_secs(2));

    assert_eq!(host.calls.load(SeqCst), 1, "one call in flight, the other attempts waited for it");
    assert_eq!(host.inside.load(SeqCst), 1, "and it is still stuck");
    // The upload thread, one blocking-pool thread for the stuck call and one
    // for reading the next batch ahead: none per attempt.
    assert!(during <= before + 3, "threads: {before} before, {during} after {ATTEMPTS} attempts");
    assert!(failures >= ATTEMPTS - 1, "every abandoned attempt counted as a failure ({failures})");
    let err = last_error.expect("a failed attempt reports its error");
    assert!(err.contains("has not returned from an earlier attempt"), "{err}");
    assert!(files.lock().unwrap().stats().unread_bytes > 0, "nothing committed");

    host.release();
    while host.inside.load(SeqCst) > 0 {
        std::thread::yield_now();
    }
}
