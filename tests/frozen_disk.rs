//! The promise at the top of `src/logger.rs` on a real stalled disk: with the
//! log directory on an ext4 filesystem frozen by `fsfreeze` (every write and
//! fsync blocks in the kernel), every call a host makes from its UI thread or
//! packet path returns while the disk is still frozen, and after the thaw
//! everything those calls accepted is on disk.
//!
//! An ordering, not a timing: the test thaws only after each call returned,
//! and calls a call blocked only after a generous wait (`GENEROUS`). Needs
//! root for the loop device; without one the test fails, it never skips.

mod common {
    pub mod frozen;
}

use common::frozen::{returns, wait_blocked_in_kernel, FrozenFs};
use sockstatlog::testing::fast_push;
use sockstatlog::{Config, CounterSample, InterfaceKind, Logger, UploadConfig};
use std::time::Duration;

/// Label ids the test pushes under, one per way in.
const ADD_LABEL: u32 = 20;
const BATCH_LABEL: u32 = 21;
const FAST_LABEL: u8 = 22;

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir, sockstatlog::logid::PublicId([5; 32]));
    c.poll_interval = Duration::from_millis(10);
    c.write_interval = Duration::from_millis(50);
    // Nothing listens there: the uploader fails fast, no request leaves.
    c.upload = UploadConfig { base_url: "http://127.0.0.1:9".into(), allow_http: true, ..UploadConfig::default() };
    c
}

/// Per-label tx summed over the event lines, and the text entries.
fn on_disk(dir: &std::path::Path) -> (std::collections::BTreeMap<String, u64>, Vec<String>) {
    let (mut sums, mut texts) = (std::collections::BTreeMap::new(), Vec::new());
    for line in sockstatlog::export_log_dir(dir).unwrap() {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if let Some(t) = v["text"].as_str() {
            texts.push(t.to_string());
        }
        for (label, s) in v.get("s").and_then(|s| s.as_object()).into_iter().flatten() {
            *sums.entry(label.clone()).or_default() += s[0].as_u64().unwrap();
        }
    }
    (sums, texts)
}

/// Runs `call` while the disk is frozen; fails the test if it does not
/// return (the guard then thaws, unmounts and detaches).
fn returns_while_frozen<R: Send + 'static>(what: &str, call: impl FnOnce() -> R + Send + 'static) -> R {
    returns(call).unwrap_or_else(|| panic!("{what} blocked on the frozen disk"))
}

#[test]
fn every_host_call_returns_while_the_disk_is_frozen_and_what_it_accepted_is_on_disk_after_the_thaw() {
    let mut fs = FrozenFs::new();
    let dir = fs.dir();
    let logger = Logger::new(config(&dir)).unwrap();
    logger.enable().unwrap();
    let handle = logger.fast_counters_handle().unwrap();
    logger.add(ADD_LABEL, 1, 1).unwrap();
    logger.write_text("before the freeze").unwrap();
    logger.disable().unwrap(); // on disk: the writer's next write starts afresh
    logger.enable().unwrap();
    fs.freeze();
    // The writer takes this and blocks inside the disk; every call below
    // runs while it is stuck there (the old design's stats() waited on it).
    logger.write_text("while frozen").unwrap();
    logger.start_flush().unwrap();
    wait_blocked_in_kernel("sockstatlog-writer");

    // Each call on its own thread, in the order a host might make them.
    let l = logger.clone();
    let mut accepted = returns_while_frozen("add", move || (0..1000).all(|_| l.add(ADD_LABEL, 3, 0).is_ok()));
    let l = logger.clone();
    let batch = [CounterSample { label: BATCH_LABEL, tx: 5, rx: 0, is_total: false }; 4];
    accepted &= returns_while_frozen("push_batch", move || l.push_batch(&batch).is_ok());
    accepted &= returns_while_frozen("JNI add", move || fast_push(handle, FAST_LABEL, 7, 0, false));
    let l = logger.clone();
    accepted &= returns_while_frozen("set_interface", move || {
        l.set_interface("rmnet0", InterfaceKind::Cellular).is_ok()
            && l.set_interface("wlan0", InterfaceKind::Wifi).is_ok()
    });
    let l = logger.clone();
    accepted &= returns_while_frozen("register_label", move || l.register_label(ADD_LABEL, "frozen-test").is_ok());
    let l = logger.clone();
    accepted &= returns_while_frozen("write_text", move || l.write_text("also while frozen").is_ok());
    let l = logger.clone();
    accepted &= returns_while_frozen("start_flush", move || l.start_flush().is_ok());
    let l = logger.clone();
    let id = returns_while_frozen("log_id", move || l.log_id());
    let l = logger.clone();
    accepted &= returns_while_frozen("is_enabled", move || l.is_enabled());
    // After more pushes the sampler has handed the writer more entries.
    accepted &= returns_while_frozen("JNI setTotals", move || fast_push(handle, FAST_LABEL + 1, 9, 0, true));
    let l = logger.clone();
    let stats = returns_while_frozen("stats", move || l.stats());
    assert!(accepted, "every push and control call returned Ok");
    assert_eq!(id.len(), 64);
    stats.unwrap();

    // Only now, every call having returned: thaw and check the disk.
    fs.thaw();
    logger.disable().unwrap();
    logger.shutdown(Duration::from_secs(60)).unwrap();
    let (sums, texts) = on_disk(&dir);
    assert_eq!(sums.get(&ADD_LABEL.to_string()), Some(&(1 + 3000)), "{sums:?}");
    assert_eq!(sums.get(&BATCH_LABEL.to_string()), Some(&20));
    assert_eq!(sums.get(&FAST_LABEL.to_string()), Some(&7));
    assert_eq!(sums.get(&(FAST_LABEL + 1).to_string()), Some(&9), "a first total counts in full");
    assert_eq!(texts, ["before the freeze", "while frozen", "also while frozen"]);
}
