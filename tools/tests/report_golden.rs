//! The report on a fixed, hand-written trace (`tests/fixtures/report/golden.jsonl`),
//! with every expected number worked out by hand below, read as an exported
//! file and as a device log directory.

use sockstatlog_tools::report::{self, LabelRow, RadioReport, Totals};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report").join(name)
}

// The trace (S = 1680054284, the first event's Unix second; poll 100 ms):
//
//   line  entry                                   bytes (tx+rx)
//   1     header: 2 = DERPHTTPClient, 200 = VideoUpload
//   2     t=S+0.000  d=100  wifi  2:[1000,3000]   4000
//   3     text entry (ignored)
//   4     t=S+10.000 d=100  cell  2:[300,100]     400
//                                 3:[100,0]       100
//   5     t=S+11.950 d=100  cell  200:[2000,0]    2000, half in S+11, half in S+12
//   6     blank
//   7     t=S+14.000 d=50   cell  7:[10,0]        10
//   8     t=S+30.000 d=200  cell  99:[0,500]      500
//   9     t=S+199.900 d=100 wifi  2:[500,500]     1000
//   10    line 9 again (same proc_id/proc_seq): a duplicate, skipped
//
// Per label (total 5400 + 2000 + 500 + 100 + 10 = 8010 bytes):
//   2   DERPHTTPClient   tx 1800  rx 3600  share 5400/8010  cell 400   3 windows
//       peak 4000 B * 1000 / 100 ms = 40000 B/s (line 2)
//   200 VideoUpload      tx 2000  rx 0     share 2000/8010  cell 2000  1 window  peak 20000 B/s
//   99  Label(99)        tx 0     rx 500   share 500/8010   cell 500   1 window  peak 500*1000/200 = 2500 B/s
//   3   LogtailLogger    tx 100   rx 0     share 100/8010   cell 100   1 window  peak 1000 B/s
//   7   PortmapperClient tx 10    rx 0     share 10/8010    cell 10    1 window
//       peak 10 B over 50 ms, floored at the 100 ms poll: 100 B/s
//
// Radio: active cellular seconds S+10, S+11, S+12, S+14, S+30 (5). The log's
// last second is S+199 (the last window ends at S+200.000, exclusive).
//   S+10: high 1, next active S+11, no tail   → 2: 0.8, 3: 0.2 (400:100)
//   S+11: high 1, no tail                     → 200: 1
//   S+12: high 1, tail S+13 (S+14 is active)  → 200: 2
//   S+14: high 1, tail S+15..S+18             → 7: 5
//   S+30: high 1, tail S+31..S+34             → 99: 5
//   high seconds 14; span S..=S+199 = 200 s → 14*100/200 = 7 %, both for
//   upstream's last hour (the whole log is shorter) and for the whole log.

/// `(id, name, tx, rx, cellular bytes, windows, peak B/s, radio s)`.
type Row = (u8, &'static str, u64, u64, u64, u64, f64, f64);

fn row((id, name, tx, rx, cell, windows, peak, radio): Row) -> LabelRow {
    LabelRow {
        id,
        name: name.into(),
        tx,
        rx,
        share: (tx + rx) as f64 / 8010.0,
        cellular_bytes: cell,
        active_windows: windows,
        peak_bytes_per_sec: peak,
        radio_seconds: radio,
    }
}

fn assert_golden(r: &report::Report) {
    assert_eq!((r.entries, r.events, r.duplicates, r.poll_ms), (8, 6, 1, 100));
    assert_eq!(r.start_ms, Some(1_680_054_284_000));
    assert_eq!(r.span_ms(), Some(200_000));
    assert_eq!(r.totals, Totals { tx: 3910, rx: 4100, cellular_bytes: 3010 });
    let want: Vec<LabelRow> = [
        (2, "DERPHTTPClient", 1800, 3600, 400, 3, 40000.0, 0.8),
        (200, "VideoUpload", 2000, 0, 2000, 1, 20000.0, 3.0),
        (99, "Label(99)", 0, 500, 500, 1, 2500.0, 5.0),
        (3, "LogtailLogger", 100, 0, 100, 1, 1000.0, 0.2),
        (7, "PortmapperClient", 10, 0, 10, 1, 100.0, 5.0),
    ]
    .into_iter()
    .map(row)
    .collect();
    assert_eq!(r.labels.len(), want.len());
    for (got, want) in r.labels.iter().zip(&want) {
        assert!((got.radio_seconds - want.radio_seconds).abs() < 1e-9, "{got:?}");
        assert!((got.share - want.share).abs() < 1e-12, "{got:?}");
        let got = LabelRow { radio_seconds: want.radio_seconds, share: want.share, ..got.clone() };
        assert_eq!(&got, want);
    }
    assert_eq!(
        r.radio,
        RadioReport { active_seconds: 5, high_seconds: 14, high_percent_last_hour: 7, high_percent_whole_log: 7 }
    );
}

/// The whole text of the report, after its first line (which names the
/// input). Start and end: S = 1680054284 is 2023-03-29 01:44:44 UTC; the
/// last window ends at S+200.000, 01:48:04.
const GOLDEN_TEXT: &str = "\
span 3:20, 2023-03-29 01:44:44 UTC to 2023-03-29 01:48:04 UTC
skipped: duplicate entries 1, torn lines 0, corrupt lines 0

label                     tx          rx   share    cellular   windows     peak rate   radio s
DERPHTTPClient       1.8 KiB     3.5 KiB   67.4%       400 B         3    39.1 KiB/s       0.8
VideoUpload          2.0 KiB         0 B   25.0%     2.0 KiB         1    19.5 KiB/s       3.0
Label(99)                0 B       500 B    6.2%       500 B         1     2.4 KiB/s       5.0
LogtailLogger          100 B         0 B    1.2%       100 B         1      1000 B/s       0.2
PortmapperClient        10 B         0 B    0.1%        10 B         1       100 B/s       5.0
total                3.8 KiB     4.0 KiB             2.9 KiB         6                      14

radio: 5 active cellular seconds kept the radio high for 14 s (0:14); upstream radio high percent: \
7% over the last hour of the log, 7% over the whole log

legend:
  radio s: seconds of cellular radio high-power time charged to the label. A second with cellular I/O
    keeps the radio high, and so do the 4 idle seconds after it; an active second is shared among its
    labels by bytes, an idle one goes like the second before it. The column adds up to the total.
  radio high percent: upstream's figure (net/sockstats): the share of seconds the radio was high, over
    the log's last 60 minutes (0 for a log under 120 s, as upstream) and over the whole log.
";

#[test]
fn an_exported_file_gives_the_hand_computed_table_and_radio_seconds() {
    let path = fixture("golden.jsonl");
    let r = report::build(&path).unwrap();
    assert_golden(&r);
    let text = report::render_text(&r);
    let (first, rest) = text.split_once('\n').unwrap();
    assert_eq!(first, format!("{}: 8 entries, 6 events, poll 100 ms", path.display()));
    assert_eq!(rest, GOLDEN_TEXT);
}

#[test]
fn a_device_directory_is_read_in_filch_order_and_left_untouched() {
    let golden = std::fs::read_to_string(fixture("golden.jsonl")).unwrap();
    let lines: Vec<&str> = golden.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    // Older lines in log2 (earlier mtime), newer in log1, plus a torn write.
    let older = dir.path().join("sockstats.log2.txt");
    let newer = dir.path().join("sockstats.log1.txt");
    std::fs::write(&older, lines[..5].join("\n") + "\n").unwrap();
    let torn = "{\"logtail\":{\"proc_id\":42,\"proc_seq\":9},\"t\":1680054";
    std::fs::write(&newer, lines[5..].join("\n") + "\n" + torn).unwrap();
    let now = SystemTime::now();
    std::fs::File::options().write(true).open(&older).unwrap().set_modified(now - Duration::from_secs(60)).unwrap();
    std::fs::File::options().write(true).open(&newer).unwrap().set_modified(now).unwrap();
    let before: BTreeMap<_, _> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.clone(), std::fs::read(&p).unwrap())
        })
        .collect();

    let r = report::build(dir.path()).unwrap();
    assert_golden(&r);
    assert_eq!(r.torn_lines, 1);

    let after: BTreeMap<_, _> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.clone(), std::fs::read(&p).unwrap())
        })
        .collect();
    assert_eq!(before, after, "the report must not modify a device directory");
}

#[test]
fn json_output_carries_the_same_numbers() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["report", "--json"])
        .arg(fixture("golden.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["radio"]["high_seconds"], 14);
    assert_eq!(v["labels"][0]["name"], "DERPHTTPClient");
    assert_eq!(v["labels"][4]["radio_seconds"], 5.0);
    assert_eq!(v["totals"]["cellular_bytes"], 3010);
}
