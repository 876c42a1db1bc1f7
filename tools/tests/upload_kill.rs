//! Kill-and-restart: `sockstatlog upload` draining a log directory is
//! SIGKILLed at random points (mid-request, between the server storing a
//! batch and the commit, mid-commit) and restarted until it reports the log
//! drained. The collector ends with every line exactly once, in order.

mod common {
    pub mod upload;
}

use common::upload::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn killing_the_uploader_at_random_points_loses_and_duplicates_nothing() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 42, 6000);
    let col = collector(outdir.path());
    let backend = "ab".repeat(32);
    // The test ID is the sockstat private ID of this backend ID.
    let private = sockstatlog::logid::sockstat_private_id(&sockstatlog::logid::PublicId::parse(&backend).unwrap());
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut kills = 0;
    // Kills that landed while the log was partly uploaded.
    let mut midway = 0;
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
                &col.url(),
                "--dir",
            ])
            .arg(logdir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if round < 40 {
            std::thread::sleep(Duration::from_millis(rng.u64(2..40)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                let stored = col.stats().stored as usize;
                if stored > 0 && stored < lines.len() {
                    midway += 1;
                }
                continue;
            }
        }
        let status = child.wait().unwrap();
        if status.success() {
            break;
        }
    }
    // How many kills land mid-way depends on the machine's speed; one is
    // enough for the property, and the seed makes most of them early.
    assert!(midway >= 1, "the uploader was killed mid-way ({kills} kills, {midway} mid-way)");
    let path = sockstatlog_tools::collector::stream_path(outdir.path(), COLLECTION, &private.to_hex());
    let stored: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect();
    assert_eq!(stored.len(), lines.len());
    assert_eq!(stored, lines, "every line exactly once, in order");
    eprintln!("{kills} kills ({midway} mid-way); collector dropped {} duplicates", col.stats().duplicates);
}
