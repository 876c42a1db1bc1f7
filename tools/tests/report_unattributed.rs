//! The report's unattributed bytes (OS totals − labels) from logs with `os`
//! entries: one the real logger wrote, and one laid out by hand with a
//! forgotten subsystem, through the text, the JSON and the chart.

use sockstatlog::logid::PublicId;
use sockstatlog::{Config, Logger};
use sockstatlog_tools::report::unattributed::{VERDICT_HEADERS, VERDICT_UNLABELLED};
use sockstatlog_tools::report::{self, ChartOptions};
use std::time::Duration;

/// The real logger's log: header-sized overhead in the first interval, a
/// subsystem nobody labelled in the second.
#[test]
fn the_loggers_own_os_entries_give_the_unattributed_bytes_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(Config::new(dir.path(), PublicId([7; 32]))).unwrap();
    let os = |tx: u64, rx: u64| logger.record_os_totals(100_000 + tx, 200_000 + rx).unwrap();
    logger.enable().unwrap();
    os(0, 0);
    logger.disable().unwrap(); // each disable writes: events first, then the os entry
    logger.enable().unwrap();
    logger.add(1, 1_000, 2_000).unwrap();
    os(1_050, 2_100); // 150 bytes of headers over 3 000 labelled
    logger.disable().unwrap();

    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, logger.export().unwrap().join("\n") + "\n").unwrap();
    let r = report::build(&file).unwrap();
    let u = r.unattributed.as_ref().expect("two os entries");
    assert_eq!((u.os_bytes, u.label_bytes, u.unattributed), (3_150, 3_000, 150));
    assert_eq!(u.verdict, VERDICT_HEADERS);
    assert!(report::render_text(&r).contains("IP and tunnel headers"), "{}", report::render_text(&r));

    logger.enable().unwrap();
    logger.add(2, 500, 500).unwrap();
    os(1_050 + 10_000, 2_100); // 10 000 bytes, 1 000 of them labelled
    logger.disable().unwrap();
    std::fs::write(&file, logger.export().unwrap().join("\n") + "\n").unwrap();
    let r = report::build(&file).unwrap();
    let u = r.unattributed.as_ref().unwrap();
    let per: Vec<i64> = u.intervals.iter().map(|i| i.unattributed).collect();
    assert_eq!(per, [150, 9_000]);
    assert_eq!(u.verdict, VERDICT_UNLABELLED);
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(json["unattributed"]["unattributed"], 9_150);
    logger.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn a_log_without_os_entries_has_no_unattributed_section() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.jsonl");
    std::fs::write(&file, "{\"logtail\":{\"proc_id\":1,\"proc_seq\":1},\"t\":0,\"d\":100,\"s\":{\"1\":[5,5]}}\n")
        .unwrap();
    let r = report::build(&file).unwrap();
    assert!(r.unattributed.is_none());
    assert!(!report::render_text(&r).contains("unattributed"));
    assert!(serde_json::to_value(&r).unwrap().get("unattributed").is_none());
}

#[test]
fn the_throughput_chart_draws_a_line_for_the_unattributed_bytes() {
    // Ten seconds of one label at 1 000 B/s, with os entries every 5 s
    // counting 3 000 B/s: 2 000 B/s nobody labelled.
    let mut log = String::new();
    let mut seq = 0;
    let mut line = |body: String| {
        seq += 1;
        log.push_str(&format!("{{\"logtail\":{{\"proc_id\":1,\"proc_seq\":{seq}}},{body}}}\n"));
    };
    line("\"os\":{\"tx\":0,\"rx\":0}".into());
    for s in 0..10 {
        line(format!("\"t\":{},\"d\":1000,\"s\":{{\"1\":[500,500]}}", 1_000_000 + s * 1000));
        if s % 5 == 4 {
            let total = (s + 1) * 3000;
            line(format!("\"os\":{{\"tx\":{total},\"rx\":0}}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.jsonl");
    std::fs::write(&file, log).unwrap();
    let r = report::build(&file).unwrap();
    let u = r.unattributed.as_ref().unwrap();
    // The first interval has no start on the timeline (no window before its
    // first os entry), so only the second is drawn.
    assert_eq!(u.intervals.iter().map(|i| i.unattributed).collect::<Vec<_>>(), [10_000, 10_000]);
    assert_eq!(report::unattributed::chart_steps(u, 1_000_000), [(5.0, 10.0, 2_000.0)]);
    let out = dir.path().join("charts");
    report::write_charts(&r, &out, &ChartOptions::default()).unwrap();
    let svg = std::fs::read_to_string(out.join("throughput.svg")).unwrap();
    assert!(svg.contains("unattributed (OS − labels)"), "the legend names the line");
}
