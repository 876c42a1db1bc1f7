//! The logger end to end on the real clock, threads and disk: what lands in
//! the log, errors for bad input and after shutdown, restarts, idle sleep.

use serde_json::Value;
use sockstatlog::logid::PublicId;
use sockstatlog::{Config, Error, InterfaceKind, Logger};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir, PublicId([7; 32]));
    c.poll_interval = Duration::from_millis(10);
    c.write_interval = Duration::from_millis(50);
    c
}

fn entries(logger: &Logger) -> Vec<Value> {
    logger.export().unwrap().iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Per-label `[tx, rx]` over the event entries, split by the cellular flag.
fn totals(entries: &[Value]) -> (BTreeMap<String, [u64; 2]>, BTreeMap<String, [u64; 2]>) {
    let (mut wifi, mut cell) = (BTreeMap::new(), BTreeMap::new());
    for e in entries.iter().filter(|e| e.get("s").is_some()) {
        let into = if e.get("c") == Some(&Value::from(1)) { &mut cell } else { &mut wifi };
        for (label, v) in e["s"].as_object().unwrap() {
            let s: &mut [u64; 2] = into.entry(label.clone()).or_default();
            s[0] += v[0].as_u64().unwrap();
            s[1] += v[1].as_u64().unwrap();
        }
    }
    (wifi, cell)
}

#[test]
fn pushed_bytes_land_in_the_log_split_exactly_by_interface() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    logger.set_interface("wlan0", InterfaceKind::Wifi).unwrap();
    logger.enable().unwrap();
    logger.add(2, 1000, 10).unwrap();
    std::thread::sleep(Duration::from_millis(25));
    logger.add(2, 1, 1).unwrap();
    logger.set_interface("rmnet_data0", InterfaceKind::Unknown).unwrap();
    logger.add(2, 50, 5).unwrap();
    logger.set_totals(12, 300, 400).unwrap();
    logger.write_text("handover done").unwrap();
    logger.disable().unwrap();
    let all = entries(&logger);

    // The header comes first and names upstream's labels.
    assert_eq!(all[0]["sockstatlog"]["labels"]["11"], "SockstatlogLogger");
    assert_eq!(all[0]["sockstatlog"]["poll_ms"], 10);
    let (wifi, cell) = totals(&all);
    assert_eq!(wifi, BTreeMap::from([("2".to_string(), [1001, 11])]));
    assert_eq!(cell, BTreeMap::from([("2".to_string(), [50, 5]), ("12".to_string(), [300, 400])]));
    assert!(all.iter().any(|e| e["text"] == "handover done"));

    // Every entry carries logtail metadata with consecutive sequence numbers.
    let seqs: Vec<u64> = all.iter().map(|e| e["logtail"]["proc_seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>());
    let proc_id = &all[0]["logtail"]["proc_id"];
    assert!(all.iter().all(|e| &e["logtail"]["proc_id"] == proc_id));
    assert!(all.iter().all(|e| e["logtail"]["client_time"].as_str().unwrap().ends_with('Z')));

    let stats = logger.stats().unwrap();
    assert_eq!(stats.entries_written, all.len() as u64);
    assert!(stats.events >= 2);
    assert_eq!(stats.write_errors, 0);
    logger.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_window_summing_past_u64_max_is_logged_saturated_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.poll_interval = Duration::from_secs(60); // one window, closed by disable
    c.write_interval = Duration::from_secs(60);
    let logger = Logger::new(c).unwrap();
    logger.enable().unwrap();
    for _ in 0..3 {
        logger.add(5, i64::MAX as u64, 0).unwrap();
    }
    logger.add(6, 1, 2).unwrap();
    logger.disable().unwrap();
    assert_eq!(logger.stats().unwrap().saturated_windows, 1);
    logger.enable().unwrap();
    logger.add(5, 7, 0).unwrap();
    logger.disable().unwrap();
    let events: Vec<_> = entries(&logger).into_iter().filter(|e| e.get("s").is_some()).collect();
    let sums: Vec<_> = events.iter().map(|e| (e["s"]["5"][0].as_u64(), e["s"]["6"][1].as_u64())).collect();
    assert_eq!(sums, [(Some(u64::MAX), Some(2)), (Some(7), None)], "saturated, not wrapped; the next window is exact");
    assert_eq!(logger.stats().unwrap().saturated_windows, 1);
    logger.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn bad_input_gets_typed_errors_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    logger.enable().unwrap();
    assert!(matches!(logger.add(256, 1, 1), Err(Error::InvalidArgument(m)) if m.contains("256")));
    assert!(matches!(logger.set_totals(1000, 1, 1), Err(Error::InvalidArgument(_))));
    assert!(matches!(logger.register_label(3, ""), Err(Error::InvalidArgument(_))));
    let batch = [
        sockstatlog::CounterSample { label: 1, tx: 5, rx: 5, is_total: false },
        sockstatlog::CounterSample { label: 999, tx: 5, rx: 5, is_total: false },
    ];
    assert!(logger.push_batch(&batch).is_err());
    logger.disable().unwrap();
    assert!(totals(&entries(&logger)).0.is_empty(), "a rejected batch applies nothing");
}

#[test]
fn an_unwritable_log_dir_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Logger::new(config(&file.join("logs"))).unwrap_err();
    assert!(matches!(err, Error::Filch(_)), "{err:?}");
    assert!(err.to_string().contains("plain-file"), "{err}");
}

#[test]
fn every_call_after_shutdown_is_closed_and_nothing_panics() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    let handle = logger.fast_counters_handle().unwrap();
    assert_ne!(handle, 0);
    logger.enable().unwrap();
    logger.add(1, 1, 1).unwrap();
    logger.shutdown(Duration::from_secs(5)).unwrap();
    let closed = |r: Result<(), Error>| assert!(matches!(r, Err(Error::Closed)), "{r:?}");
    closed(logger.enable());
    closed(logger.disable());
    closed(logger.add(1, 1, 1));
    closed(logger.set_totals(1, 1, 1));
    closed(logger.push_batch(&[]));
    closed(logger.register_label(1, "x"));
    closed(logger.set_interface("en0", InterfaceKind::Wifi));
    closed(logger.write_text("x"));
    closed(logger.start_flush());
    closed(logger.flush(Duration::ZERO).map(|_| ()));
    closed(logger.export().map(|_| ()));
    closed(logger.stats().map(|_| ()));
    closed(logger.fast_counters_handle().map(|_| ()));
    closed(logger.shutdown(Duration::ZERO));
    assert_eq!(logger.log_id().len(), 64, "the id stays readable");
    assert!(!logger.is_enabled());
}

#[test]
fn shutdown_keeps_everything_and_a_restart_continues_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let first = Logger::new(config(dir.path())).unwrap();
    first.enable().unwrap();
    first.add(4, 123, 456).unwrap();
    // No disable and no wait: shutdown must close the window and write it.
    first.shutdown(Duration::from_secs(5)).unwrap();

    let second = Logger::new(config(dir.path())).unwrap();
    second.enable().unwrap();
    second.add(4, 1, 1).unwrap();
    second.disable().unwrap();
    let all = entries(&second);
    assert_eq!(totals(&all).0["4"], [124, 457]);
    let headers: Vec<&Value> = all.iter().filter(|e| e.get("sockstatlog").is_some()).collect();
    assert_eq!(headers.len(), 2);
    assert_ne!(headers[0]["logtail"]["proc_id"], headers[1]["logtail"]["proc_id"]);
    assert_eq!(headers[1]["logtail"]["proc_seq"], 1);
}

#[test]
fn dropping_the_last_handle_writes_what_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    {
        let logger = Logger::new(config(dir.path())).unwrap();
        let clone = logger.clone();
        logger.enable().unwrap();
        clone.add(9, 5, 5).unwrap();
        drop(logger);
        clone.add(9, 1, 0).unwrap(); // the clone keeps it alive
    }
    let logger = Logger::new(config(dir.path())).unwrap();
    assert_eq!(totals(&entries(&logger)).0["9"], [6, 5]);
}

#[test]
fn an_enabled_logger_without_traffic_stops_waking_up() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    logger.enable().unwrap();
    logger.add(1, 1, 1).unwrap();
    // Settle: one tick reports the bytes, the next finds nothing and the
    // sampler sleeps; the writer writes within two intervals and sleeps.
    let settle = Instant::now() + Duration::from_secs(10);
    let mut last = logger.stats().unwrap().wakeups;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = logger.stats().unwrap().wakeups;
        if now == last || Instant::now() > settle {
            break;
        }
        last = now;
    }
    let before = logger.stats().unwrap().wakeups;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(logger.stats().unwrap().wakeups, before, "no wake-ups while idle");
    // Traffic wakes it again, and the bytes are reported without a disable.
    logger.add(3, 7, 7).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !totals(&entries(&logger)).0.contains_key("3") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(totals(&entries(&logger)).0["3"], [7, 7]);
}

#[test]
fn many_threads_pushing_through_the_logger_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    logger.enable().unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let l = logger.clone();
            std::thread::spawn(move || {
                for i in 0..50_000u64 {
                    l.add(t * 10, 1, i % 3).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    logger.disable().unwrap();
    let (wifi, _) = totals(&entries(&logger));
    for t in 0..4 {
        assert_eq!(wifi[&(t * 10).to_string()], [50_000, 49_999]);
    }
}

/// Set in the environment of the child that runs the full-disk test.
const FULL_DISK_CHILD: &str = "SOCKSTATLOG_FULL_DISK_CHILD";
/// Bytes a file of the child may grow to: room for the read-position file
/// (under 100 bytes), none for a header entry (several hundred).
const FULL_DISK_FILE_LIMIT: u64 = 128;

#[test]
fn a_full_disk_is_counted_and_reported_and_the_logger_keeps_going() {
    // Every append fails: a file-size limit in a child process (the log never
    // opens files through symlinks, so /dev/full can't stand in for a file).
    if std::env::var_os(FULL_DISK_CHILD).is_none() {
        // Pipes, not the parent's stdout: the file-size limit would also
        // refuse the child's own output when that is a log file.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "a_full_disk_is_counted_and_reported_and_the_logger_keeps_going", "--test-threads=1"])
            .env(FULL_DISK_CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the child failed: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let limit = libc::rlimit { rlim_cur: FULL_DISK_FILE_LIMIT, rlim_max: FULL_DISK_FILE_LIMIT };
    // SAFETY: plain syscalls on this (child) process: writes past the limit
    // fail with EFBIG instead of raising SIGXFSZ.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(config(dir.path())).unwrap();
    logger.enable().unwrap();
    logger.add(1, 10, 10).unwrap();
    let err = logger.disable().unwrap_err();
    assert!(err.to_string().contains("File too large"), "{err}");
    let stats = logger.stats().unwrap();
    assert!(stats.write_errors >= 1, "{stats:?}");
    // Still usable, and shutting down reports the failed final write.
    logger.add(1, 1, 1).unwrap();
    assert!(logger.shutdown(Duration::from_secs(5)).is_err());
}

/// A listener held inside its first event until the test lets it go.
struct StuckListener {
    entered: std::sync::Mutex<std::sync::mpsc::Sender<sockstatlog::LoggerEvent>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl sockstatlog::Listener for StuckListener {
    fn on_event(&self, event: sockstatlog::LoggerEvent) {
        let _ = self.entered.lock().unwrap().send(event);
        let _ = self.release.lock().unwrap().recv();
    }
}

#[test]
fn a_stuck_listener_hears_a_real_upload_failure_and_delays_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = config(dir.path());
    c.upload.base_url = format!("http://127.0.0.1:{closed_port}");
    c.upload.allow_http = true;
    c.upload.backoff_base = Duration::from_millis(1);
    c.upload.backoff_cap = Duration::from_millis(5);
    let logger = Logger::new(c).unwrap();
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let listener =
        StuckListener { entered: std::sync::Mutex::new(entered_tx), release: std::sync::Mutex::new(release_rx) };
    logger.set_listener(Some(std::sync::Arc::new(listener))).unwrap();
    logger.write_text("to upload").unwrap();
    logger.start_flush().unwrap();
    let first = entered.recv_timeout(Duration::from_secs(120)).expect("the listener hears the failure");
    assert!(
        matches!(&first, sockstatlog::LoggerEvent::UploadFailed { reason, consecutive_failures: 1 } if reason.contains("failed")),
        "{first:?}"
    );
    // The listener is stuck inside its first event: the logger goes on.
    logger.enable().unwrap();
    logger.add(3, 10, 20).unwrap();
    logger.write_text("written while the listener is stuck").unwrap();
    logger.disable().unwrap(); // writes to disk
    let stats = logger.stats().unwrap();
    assert!(stats.upload_failures >= 1);
    assert!(logger.export().unwrap().iter().any(|l| l.contains("written while the listener is stuck")));
    drop(release);
    logger.shutdown(Duration::from_secs(5)).unwrap();
}
