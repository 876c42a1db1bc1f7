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

#[test]
fn a_bad_line_in_a_device_file_names_that_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "sockstats.log1.txt", "{\"t\":1,\"d\":100,\"s\":{}}\nnope\n");
    let err = report::build(dir.path()).unwrap_err().to_string();
    assert!(err.ends_with("sockstats.log1.txt:2: not JSON: expected ident at line 1 column 2"), "{err}");
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
