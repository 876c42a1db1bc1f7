//! The demo end to end at a small size: every byte pushed while enabled
//! reaches the collector, with the exact cellular split, through the library
//! call and through the command line.

use sockstatlog::logid::PublicId;
use sockstatlog_tools::collector::Collector;
use sockstatlog_tools::demo::{self, traffic::SUBSYSTEMS, Options};
use std::process::Command;
use std::time::Duration;

/// A minute of traffic at 200x: every phase of the scenario in 0.3 s.
const SECONDS: u64 = 60;
const SPEED: u32 = 200;

fn options(dir: &std::path::Path) -> Options {
    Options {
        seconds: SECONDS,
        speed: SPEED,
        seed: 42,
        dir: dir.to_path_buf(),
        url: None,
        allow_http: false,
        collector_dir: None,
        backend_log_id: PublicId([3; 32]),
        flush_timeout: Duration::from_secs(30),
    }
}

#[test]
fn everything_pushed_is_received_with_the_exact_cellular_split() {
    let dir = tempfile::tempdir().unwrap();
    let o = demo::run(&options(dir.path()), &mut |_| {}).unwrap();
    assert!(o.from_server && o.flush.drained, "{:?}", o.flush);
    assert!(o.comparison.matches(), "\n{}", o.comparison.render());
    let (pushed, _) = o.comparison.totals();
    assert!(pushed.cellular > 0 && pushed.cellular < pushed.tx + pushed.rx, "{pushed:?}");
    // A minute may miss a two-minute periodic subsystem; most must talk,
    // under the names upstream and the demo's registrations give them.
    let named = |r: &&demo::compare::Row| SUBSYSTEMS.iter().any(|s| s.label == r.label && s.name == r.name);
    assert!(o.comparison.rows.iter().filter(named).count() >= 10, "\n{}", o.comparison.render());
    assert!(o.comparison.rows.iter().any(|r| r.name == "VideoUpload"), "a registered label is named");
    assert!(o.stats.resets >= 1, "the DERP socket's counter reset was seen: {:?}", o.stats);
    assert_eq!(o.stats.write_errors, 0);
}

#[test]
fn an_external_server_is_compared_through_its_storage_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server_dir = dir.path().join("server");
    let server = Collector::start(([127, 0, 0, 1], 0).into(), &server_dir, true).unwrap();
    let opts = Options { url: Some(server.url()), collector_dir: Some(server_dir.clone()), ..options(dir.path()) };
    let o = demo::run(&opts, &mut |_| {}).unwrap();
    assert!(o.received_from.starts_with(&server_dir), "{}", o.received_from.display());
    assert!(o.comparison.matches(), "\n{}", o.comparison.render());
}

#[test]
fn the_command_exits_0_says_match_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["demo", "--seconds", "30", "--speed", "200", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\nmatch: every byte pushed while enabled was received"), "{stdout}");
    assert!(stdout.contains("radio:"), "the report follows the comparison: {stdout}");
    assert!(stdout.contains("sockstatlog report "), "{stdout}");
    assert!(dir.path().join("report/throughput.svg").exists());
    // No terminal: plain progress lines, not a bar.
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo: simulated 30/30 s"));
}

/// Nothing listens on port 1: the upload fails, so the demo fails, even
/// though the device log (compared against, as no server files are given)
/// holds every byte.
#[test]
fn a_failed_upload_fails_the_demo_with_status_1_and_never_says_match() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["demo", "--seconds", "10", "--speed", "200", "--url", "http://127.0.0.1:1", "--flush-timeout", "5"])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("match:"), "{stdout}");
    assert!(stdout.contains("flush:           NOT drained"), "{stdout}");
    let verdict = stdout.lines().find(|l| l.starts_with("FAILED: the upload did not drain the log (")).unwrap_or("");
    assert!(verdict.contains("127.0.0.1:1"), "the cause is named: {stdout}");
}

#[test]
fn plain_http_off_this_machine_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["demo", "--seconds", "10", "--url", "http://192.0.2.1:8080", "--dir"])
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-http") && !stderr.contains("allow_http"), "{stderr}");
    assert!(!dir.path().join("run").exists(), "refused before anything was created");
}
