//! The uploader against a loopback fault matrix: a proxy in front of the
//! real collector fails the first requests in a scripted way. In every case
//! everything arrives, exactly once, in order, and the retry waits happened.

mod common {
    pub mod upload;
}

use common::upload::*;
use sockstatlog::labels::SOCKSTATLOG_LOGGER;
use sockstatlog::testing::Counters;
use sockstatlog::testing::Uploader;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines per case: with 4 KiB bodies, about ten batches.
const LINES: u64 = 200;

struct Outcome {
    elapsed: Duration,
    failures: u64,
    retry_wait_ms: u64,
    last_error: Option<String>,
    duplicates: u64,
}

fn run_case(name: &str, script: Vec<Fault>, tweak: impl FnOnce(&mut sockstatlog::UploadConfig)) -> Outcome {
    let logdir = tempfile::tempdir().unwrap();
    let outdir = tempfile::tempdir().unwrap();
    let want = write_log(logdir.path(), 7, LINES);
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), script);
    let mut cfg = fast_config(&proxy.url());
    tweak(&mut cfg);
    let files = open_log(logdir.path());
    let counters = Arc::new(Counters::default());
    let up = Uploader::start(&cfg, test_id(), files.clone(), counters.clone(), None).unwrap();
    let t0 = Instant::now();
    let report = up.flush(Duration::from_secs(60));
    let elapsed = t0.elapsed();
    assert!(report.drained, "{name}: not drained: {report:?}");
    assert_eq!(report.entries, LINES, "{name}");
    assert_eq!(stored_lines(outdir.path()), want, "{name}: every line once, in order");
    assert_eq!(files.lock().unwrap().stats().unread_bytes, 0, "{name}");
    let label = counters.snapshot().0[SOCKSTATLOG_LOGGER as usize];
    assert!(label[0] >= report.sent_bytes && label[1] > 0, "{name}: own bytes counted {label:?}");
    let stats = up.stats();
    up.shutdown(Duration::from_secs(2));
    assert!(stats.retry_wait_ms as u128 <= elapsed.as_millis(), "{name}: waits fit in the elapsed time");
    Outcome {
        elapsed,
        failures: stats.failures,
        retry_wait_ms: stats.retry_wait_ms,
        last_error: report.last_error,
        duplicates: col.stats().duplicates,
    }
}

fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Fault {
    Fault::Reply(status, headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), body.into())
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let o = run_case("500", vec![reply(500, &[], "boom"), reply(500, &[], "boom"), reply(500, &[], "boom")], |_| {});
    assert_eq!(o.failures, 3);
    let err = o.last_error.unwrap();
    assert!(err.starts_with("log upload of ") && err.ends_with("failed 500: boom"), "{err}");
}

#[test]
fn retry_after_seconds_is_honoured() {
    let o = run_case("503", vec![reply(503, &[("Retry-After", "1")], "busy")], |_| {});
    assert_eq!(o.failures, 1);
    assert!(o.retry_wait_ms >= 1000);
    assert!(o.elapsed >= Duration::from_secs(1), "{:?}", o.elapsed);
}

#[test]
fn retry_after_http_date_is_honoured() {
    // The date is computed as the answer is sent, so setup time cannot eat it.
    let o = run_case("429", vec![Fault::ReplyRetryAt(429, Duration::from_secs(3))], |_| {});
    assert_eq!(o.failures, 1);
    // Second resolution: the date is more than 2 s after the answer was sent,
    // which was after the flush began.
    assert!(o.elapsed >= Duration::from_secs(2), "{:?}", o.elapsed);
    assert!(o.retry_wait_ms >= 1000, "the date was honoured, not a 50 ms backoff: {}", o.retry_wait_ms);
}

#[test]
fn retry_after_is_capped() {
    let o = run_case("cap", vec![reply(503, &[("Retry-After", "3600")], "")], |c| {
        c.backoff_cap = Duration::from_millis(300)
    });
    assert_eq!(o.retry_wait_ms, 300);
    assert!(o.elapsed >= Duration::from_millis(300));
}

#[test]
fn a_rejected_batch_is_retried_and_reported_distinctly() {
    let o = run_case("400", vec![reply(400, &[], "bad json")], |_| {});
    assert_eq!(o.failures, 1);
    let err = o.last_error.unwrap();
    assert!(err.starts_with("server rejected the batch (400)") && err.contains("bad json"), "{err}");
}

#[test]
fn a_connection_reset_mid_body_is_retried() {
    let o = run_case("reset", vec![Fault::ResetMidBody, Fault::ResetMidBody], |_| {});
    assert_eq!(o.failures, 2);
    assert!(o.last_error.unwrap().contains("failed:"));
}

#[test]
fn a_stalled_server_times_out_and_is_retried() {
    let o = run_case("stall", vec![Fault::Stall(Duration::from_secs(5))], |c| {
        c.attempt_timeout = Duration::from_millis(400)
    });
    assert_eq!(o.failures, 1);
    assert!(o.elapsed >= Duration::from_millis(400));
}

#[test]
fn a_200_cut_short_still_counts_as_stored() {
    let o = run_case("short-200", vec![Fault::ForwardThenShort200], |_| {});
    assert_eq!(o.failures, 0, "the server answered 200: the batch is stored");
    assert_eq!(o.duplicates, 0);
}

#[test]
fn a_lost_answer_is_resent_and_deduplicated_by_the_collector() {
    let o = run_case("stored-then-dropped", vec![Fault::ForwardThenDrop, Fault::ForwardThenDrop], |_| {});
    assert_eq!(o.failures, 2);
    assert!(o.duplicates > 0, "the resent batch was dropped at the collector");
}

#[test]
fn a_mix_of_faults_delivers_everything_once() {
    let script = vec![
        Fault::Forward,
        reply(500, &[], "x"),
        Fault::ForwardThenDrop,
        Fault::ResetMidBody,
        Fault::Forward,
        reply(429, &[("Retry-After", "0")], ""),
        Fault::ForwardThenShort200,
        Fault::ForwardThenDrop,
    ];
    let o = run_case("mix", script, |_| {});
    assert_eq!(o.failures, 5);
}
