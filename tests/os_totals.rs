//! The OS byte totals the host reports reach the log as their own entry,
//! inside the logtail wrapper, the latest one per write and none while they
//! do not change.

use serde_json::Value;
use sockstatlog::logid::PublicId;
use sockstatlog::{Config, Logger};
use std::time::Duration;

fn os_entries(logger: &Logger) -> Vec<Value> {
    let lines = logger.export().unwrap(); // writes what is pending first
    lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v.get("os").is_some()).collect()
}

#[test]
fn the_latest_os_totals_are_written_once_per_change_in_the_logtail_wrapper() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(Config::new(dir.path(), PublicId([7; 32]))).unwrap();
    logger.record_os_totals(1_000, 2_000).unwrap();
    logger.record_os_totals(1_500, 2_500).unwrap(); // the latest wins
    let os = os_entries(&logger);
    assert_eq!(os.len(), 1, "{os:?}");
    assert_eq!(os[0]["os"], serde_json::json!({"tx": 1_500, "rx": 2_500}));
    assert!(os[0]["logtail"]["proc_seq"].as_u64().is_some(), "wrapped like every entry: {}", os[0]);
    let keys: Vec<&String> = os[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["logtail", "os"]);

    logger.record_os_totals(1_500, 2_500).unwrap();
    assert_eq!(os_entries(&logger).len(), 1, "unchanged totals write nothing");
    logger.record_os_totals(4_000, 2_600).unwrap();
    let os = os_entries(&logger);
    assert_eq!(os.iter().map(|v| v["os"]["tx"].as_u64().unwrap()).collect::<Vec<_>>(), [1_500, 4_000]);
    logger.shutdown(Duration::from_secs(10)).unwrap();
    assert!(matches!(logger.record_os_totals(1, 1), Err(sockstatlog::Error::Closed)));
}
