//! The charts are written as SVG and PNG and carry the label names and units.
//! (Their look was checked by eye; see the report module's docs.)

use sockstatlog_tools::report::{self, ChartOptions, ReportError};
use std::path::Path;

#[test]
fn charts_are_written_as_svg_and_png_with_names_and_units() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/golden.jsonl");
    let r = report::build(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("charts");
    let written = report::write_charts(&r, &out, &ChartOptions::default()).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["throughput.svg", "throughput.png", "labels.svg", "labels.png"]);
    for png in ["throughput.png", "labels.png"] {
        let bytes = std::fs::read(out.join(png)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png}");
    }
    let throughput = std::fs::read_to_string(out.join("throughput.svg")).unwrap();
    // The time axis in wall-clock UTC: the log runs 01:44:44 to 01:48:04.
    let axis = ["time (UTC, 2023-03-29)", "01:45:00", "01:45:30", "01:48:00"];
    for text in ["DERPHTTPClient", "VideoUpload", "Label(99)", "cellular", "throughput (KiB/s)"].iter().chain(&axis) {
        assert!(throughput.contains(text), "throughput.svg lacks {text}");
    }
    let labels = std::fs::read_to_string(out.join("labels.svg")).unwrap();
    for text in ["PortmapperClient", "5.3 KiB", "radio high time (s)", "5.0 s"] {
        assert!(labels.contains(text), "labels.svg lacks {text}");
    }
}

#[test]
fn a_missing_font_is_a_clear_error() {
    let r = report::build(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/golden.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = ChartOptions { font: Some(dir.path().join("no-such-font.ttf")) };
    match report::write_charts(&r, dir.path(), &opts) {
        Err(ReportError::Chart(msg)) => assert!(msg.contains("fonts-dejavu-core"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_log_without_events_still_gets_empty_charts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("empty.jsonl");
    std::fs::write(&log, "{\"logtail\":{},\"sockstatlog\":{\"v\":1,\"poll_ms\":100,\"labels\":{}}}\n").unwrap();
    let r = report::build(&log).unwrap();
    assert_eq!((r.events, r.labels.len()), (0, 0));
    assert_eq!(report::write_charts(&r, dir.path(), &ChartOptions::default()).unwrap().len(), 4);
}
