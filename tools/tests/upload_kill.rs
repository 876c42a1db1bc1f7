//! Kill-and-restart: `sockstatlog upload` draining a log directory is
//! SIGKILLed at random points and restarted until it reports the log
//! drained. The collector ends with every line exactly once, in order.
//!
//! The kills follow progress, never a clock: a proxy in front of the
//! collector reports each request it has read (a kill then lands while the
//! request is being forwarded, i.e. mid-request) and each answer it has
//! relayed (a kill then lands between the server storing a batch and the
//! uploader committing it, or mid-commit, or in the next request).

mod common {
    pub mod upload;
}

use common::upload::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Rounds that end in a kill; later rounds run to completion.
const KILL_ROUNDS: usize = 40;
/// A kill follows the 1st to this many proxy events after the child starts.
const MOST_EVENTS_BEFORE_KILL: u64 = 4;
/// Bound on one wait for the child's progress; only a hung child reaches it.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn killing_the_uploader_at_random_points_loses_and_duplicates_nothing() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 42, 6000);
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![]);
    let backend = "ab".repeat(32);
    // The test ID is the sockstat private ID of this backend ID.
    let private = sockstatlog::logid::sockstat_private_id(&sockstatlog::logid::PublicId::parse(&backend).unwrap());
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let (mut kills, mut midway) = (0, 0);
    for round in 0..200 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
            .args([
                "upload",
                "--allow-http",
                "--timeout",
                "60",
                "--max-body-bytes",
                "2048",
                "--backend-log-id",
                &backend,
                "--url",
                &proxy.url(),
                "--dir",
            ])
            .arg(logdir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if round < KILL_ROUNDS {
            let start = proxy.progress.now();
            let n = rng.u64(1..=MOST_EVENTS_BEFORE_KILL);
            let mid_request = rng.bool();
            let reached = proxy.progress.wait_until(PROGRESS_TIMEOUT, |c| {
                if mid_request {
                    c.received >= start.received + n
                } else {
                    c.answered >= start.answered + n
                }
            });
            assert!(reached, "round {round}: the child made no progress: {:?}", child.try_wait());
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            let stored = col.stats().stored as usize;
            if stored > 0 && stored < lines.len() {
                midway += 1;
            }
            continue;
        }
        let status = child.wait().unwrap();
        if status.success() {
            break;
        }
    }
    // Each kill round lets at most a few 2 KiB batches through, far fewer
    // than the log holds: every kill after the first batch lands mid-way.
    assert!(midway >= KILL_ROUNDS - 1, "the uploader was killed mid-way ({kills} kills, {midway} mid-way)");
    let path = sockstatlog_tools::collector::stream_path(outdir.path(), COLLECTION, &private.to_hex());
    let stored: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect();
    assert_eq!(stored.len(), lines.len());
    assert_eq!(stored, lines, "every line exactly once, in order");
    eprintln!("{kills} kills ({midway} mid-way); collector dropped {} duplicates", col.stats().duplicates);
}
