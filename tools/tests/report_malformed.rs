//! Input that is not a log: the error names the file and the line, and the
//! command exits with status 2.

use sockstatlog_tools::report::{self, ReportError};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_lines_are_reported_with_their_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let ok = r#"{"logtail":{"proc_id":1,"proc_seq":1},"t":1000,"d":100,"s":{"2":[1,2]}}"#;
    let cases = [
        ("not-json", format!("{ok}\n\nnot json\n"), 3, "not JSON"),
        ("not-an-object", format!("{ok}\n[1,2]\n"), 2, "not a JSON object"),
        ("truncated", "\n\n{\"t\":1,\"d\":100,\"s\":{\"2\":[1,2]}\n".into(), 3, "not JSON"),
        ("bad-pair", "{\"t\":1,\"d\":100,\"s\":{\"2\":[1]}}\n".into(), 1, "label 2 is not [tx, rx]"),
        (
            "label-too-big",
            "{\"t\":1,\"d\":100,\"s\":{\"300\":[1,1]}}\n".into(),
            1,
            "label \"300\" is not an integer 0..=255",
        ),
        ("t-missing", "{\"d\":100,\"s\":{\"2\":[1,1]}}\n".into(), 1, "event: \"t\" is not an integer"),
        ("negative-tx", "{\"t\":1,\"d\":100,\"s\":{\"2\":[-1,1]}}\n".into(), 1, "label 2 is not [tx, rx]"),
    ];
    for (name, text, want_line, want_msg) in cases {
        let path = write(dir.path(), &format!("{name}.jsonl"), &text);
        match report::build(&path) {
            Err(ReportError::Malformed { path: p, line, msg }) => {
                assert_eq!((p.as_path(), line), (path.as_path(), want_line), "{name}");
                assert!(msg.contains(want_msg), "{name}: {msg}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// A device directory holding the golden trace, oldest lines in log2,
/// with `damage` applied to its lines first.
fn device_dir(damage: impl FnOnce(&mut Vec<Vec<u8>>)) -> tempfile::TempDir {
    let golden =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/golden.jsonl")).unwrap();
    let mut lines: Vec<Vec<u8>> = golden.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    lines.pop(); // after the last '\n'
    damage(&mut lines);
    let dir = tempfile::tempdir().unwrap();
    let join = |ls: &[Vec<u8>]| ls.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect::<Vec<u8>>();
    std::fs::write(dir.path().join("sockstats.log2.txt"), join(&lines[..5])).unwrap();
    std::fs::write(dir.path().join("sockstats.log1.txt"), join(&lines[5..])).unwrap();
    let older = std::fs::File::options().write(true).open(dir.path().join("sockstats.log2.txt")).unwrap();
    older.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60)).unwrap();
    dir
}

/// A device writes whole entries, so a line that is not one was damaged on
/// the device (a flipped byte, the zeros a crash leaves where a write did not
/// reach the disk). It is skipped and counted, the first one named, and the
/// rest of the log is reported exactly as if it were not there.
#[test]
fn corrupt_lines_in_a_device_directory_are_skipped_counted_and_named() {
    let clean = report::build(device_dir(|_| {}).path()).unwrap();
    type Damage = fn(&mut Vec<Vec<u8>>);
    let cases: [(&str, Damage, &str); 6] = [
        (
            "a bad UTF-8 byte",
            |ls| ls.insert(2, b"{\"t\":1680054284000,\"d\":100,\"s\":{\"2\":[1,\xff]}}".to_vec()),
            "sockstats.log2.txt:3: not UTF-8 (byte 40)",
        ),
        (
            "a NUL hole before an entry, which is kept",
            |ls| ls[6].splice(0..0, [0u8; 40]).for_each(drop),
            "sockstats.log1.txt:2: NUL bytes (a hole a crash left in the file)",
        ),
        ("a NUL hole of its own", |ls| ls.insert(7, vec![0; 4096]), "sockstats.log1.txt:3: NUL bytes"),
        ("not JSON", |ls| ls.insert(0, b"nope".to_vec()), "sockstats.log2.txt:1: not JSON: expected ident"),
        (
            "a header with a bad label after a good one",
            |ls| ls.insert(1, b"{\"sockstatlog\":{\"poll_ms\":7,\"labels\":{\"2\":\"Mine\",\"x\":\"y\"}}}".to_vec()),
            "sockstats.log2.txt:2: label \"x\" is not an integer",
        ),
        (
            "an event with a bad field",
            |ls| ls.insert(1, b"{\"t\":1680054284000,\"d\":-5,\"s\":{}}".to_vec()),
            "sockstats.log2.txt:2: event: negative duration -5",
        ),
    ];
    for (name, damage, first) in cases {
        let dir = device_dir(damage);
        let r = report::build(dir.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.corrupt_lines, 1, "{name}");
        let named = r.first_corrupt.as_deref().unwrap_or_default();
        assert!(named.starts_with(&dir.path().display().to_string()) && named.contains(first), "{name}: {named}");
        assert_eq!((r.poll_ms, r.labels[0].name.as_str()), (100, "DERPHTTPClient"), "{name}: nothing of it is kept");
        assert_eq!(
            (r.entries, r.events, &r.totals, &r.labels, &r.radio, r.start_ms, r.end_ms),
            (clean.entries, clean.events, &clean.totals, &clean.labels, &clean.radio, clean.start_ms, clean.end_ms),
            "{name}: the rest is reported as if the line were not there"
        );
    }
}

#[test]
fn the_command_reports_a_damaged_device_directory_with_status_0() {
    let dir = device_dir(|ls| {
        ls.insert(2, b"\xc3(".to_vec());
        ls.insert(4, vec![0; 16]);
    });
    let out = report_cmd(dir.path(), None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("skipped: duplicate entries 1, torn lines 0, corrupt lines 2\n"), "{stdout}");
    let first = format!("first corrupt line: {}/sockstats.log2.txt:3: not UTF-8 (byte 1)\n", dir.path().display());
    assert!(stdout.contains(&first), "{stdout}");
    let json = std::process::Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["report", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["corrupt_lines"], 2);
    assert!(v["first_corrupt"].as_str().unwrap().ends_with("sockstats.log2.txt:3: not UTF-8 (byte 1)"));
}

/// Outside a device directory (an exported or collector file) nothing was
/// damaged by a crash on the device: a bad line is an error, as above.
#[test]
fn a_corrupt_line_in_a_json_lines_file_is_still_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, b"{\"t\":1,\"d\":100,\"s\":{}}\n\0\0\0\n").unwrap();
    let err = report::build(&path).unwrap_err().to_string();
    assert!(err.ends_with("export.jsonl:2: not JSON: expected value at line 1 column 1"), "{err}");
}

#[test]
fn a_directory_without_log_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(report::build(dir.path()), Err(ReportError::NotALogDir(_))));
}

#[test]
fn the_command_exits_2_and_prints_file_and_line() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report/malformed.jsonl");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_sockstatlog")).arg("report").arg(&fixture).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("malformed.jsonl:4: not JSON"), "{stderr}");
    assert!(out.stdout.is_empty());
}

fn report_cmd(path: &Path, out: Option<&Path>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sockstatlog"));
    cmd.arg("report").arg(path);
    if let Some(o) = out {
        cmd.arg("--out").arg(o);
    }
    cmd.output().unwrap()
}

/// Logs pulled off devices are hostile input: whatever the values, the
/// report ends with 0 or 2 (never a panic or an abort), in memory and time
/// bounded by the input.
#[test]
fn hostile_values_end_in_a_report_or_a_line_numbered_error_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let ev = |t: i64, d: i64| format!("{{\"t\":{t},\"d\":{d},\"c\":1,\"s\":{{\"2\":[1,2]}}}}\n");
    let long_name = format!("{{\"sockstatlog\":{{\"labels\":{{\"2\":\"{}\"}}}}}}\n{}", "n".repeat(65_536), ev(0, 100));
    let cases: Vec<(&str, String, i32, &str)> = vec![
        ("long-label-name", long_name, 0, "label names cut to 64 characters: 1"),
        ("huge-window", format!("{}{}", ev(1000, 100), ev(2000, 100_000_000_000_000)), 2, ":2: event: duration"),
        ("long-window", ev(1000, 10_000_000_000), 2, ":1: event: duration"),
        ("far-apart", format!("{}{}", ev(0, 100), ev(9_000_000_000_000_000_000, 100)), 2, ":2: event: start"),
        ("overflowing-end", ev(i64::MAX - 10, 100), 2, ":1: event: start"),
    ];
    for (name, text, code, msg) in cases {
        let path = write(dir.path(), &format!("{name}.jsonl"), &text);
        let out = report_cmd(&path, Some(&dir.path().join(name)));
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{name}: {all}");
        assert!(all.contains(msg), "{name}: {all}");
    }
}

#[test]
fn windows_at_the_ends_of_the_time_range_chart_in_bounded_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{{\"t\":0,\"d\":100,\"c\":1,\"s\":{{\"2\":[1,2]}}}}\n{{\"t\":{},\"d\":100,\"s\":{{\"2\":[1,2]}}}}\n",
        sockstatlog_tools::report::parse::MAX_T_MS
    );
    let path = write(dir.path(), "span.jsonl", &text);
    let out = report_cmd(&path, Some(&dir.path().join("charts")));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
