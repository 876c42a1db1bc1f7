//! The command-line tool as a user runs it: exact output and exit statuses.

use std::process::Command;

fn sockstatlog(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn logid_prints_exactly_the_private_and_public_ids() {
    let backend = "ab".repeat(32);
    let (code, out, _) = sockstatlog(&["logid", &backend.to_uppercase()]);
    assert_eq!(code, 0);
    // sha256("abab…ab" + "sockstat"), and sha256 of those 32 bytes.
    assert_eq!(
        out,
        "private: c5d9cc4c7904cdb9ca0499101863bc6b5b09039677530695adfd2407f0b58adc\n\
         public: 09aae800da704eb069598c72a88c5323d9f3ca0ee56d301f7b11e3102147e5e6\n"
    );
}

#[test]
fn logid_rejects_bad_hex_with_status_2_and_the_parse_error() {
    let bad = format!("{}x", "0".repeat(63));
    for (input, want) in [("abc", "invalid hex length: 3"), (bad.as_str(), "invalid hex character: x")] {
        let (code, out, err) = sockstatlog(&["logid", input]);
        assert_eq!(code, 2);
        assert!(out.is_empty());
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn replay_prints_one_event_per_line() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let (code, out, _) =
        sockstatlog(&["replay", &format!("{dir}/../tests/traces/upstream_vector.jsonl"), "--poll-ms", "99"]);
    assert_eq!(code, 0);
    assert_eq!(out, "{\"t\":1680054284508,\"d\":99,\"c\":1,\"s\":{\"3\":[672,97]}}\n");
}

#[test]
fn replay_of_a_malformed_trace_exits_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "{\"at\":0,\"op\":\"enable\"}\n{\"at\":1,\"op\":\"add\",\"label\":300,\"tx\":1,\"rx\":1}\n",
            "line 2: label 300 is above 255",
        ),
        ("{\"at\":9,\"op\":\"enable\"}\n\n{\"at\":3,\"op\":\"disable\"}\n", "line 3: `at` went backwards"),
        ("{\"at\":0,\"op\":\"enable\"\n", "line 1: not JSON"),
    ];
    for (i, (trace, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("t{i}.jsonl"));
        std::fs::write(&path, trace).unwrap();
        let (code, _, err) = sockstatlog(&["replay", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{trace}");
        assert!(err.contains(want), "{err}");
    }
    let (code, _, err) = sockstatlog(&["replay", "/nonexistent/trace.jsonl"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/trace.jsonl"), "{err}");
}

/// `sockstatlog report FILE | head`: the reader goes away before the tool
/// has written everything. The tool must end the way `cat` does, killed by
/// SIGPIPE with nothing on stderr, not with a panic about a broken pipe.
#[test]
fn a_closed_stdout_ends_stream_commands_quietly_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let dir = env!("CARGO_MANIFEST_DIR");
    let trace = format!("{dir}/../tests/traces/upstream_vector.jsonl");
    let fixture = format!("{dir}/tests/fixtures/report/golden.jsonl");
    for args in [vec!["report", fixture.as_str()], vec!["replay", trace.as_str()], vec!["logid", &"ab".repeat(32)]] {
        // The read end is closed before the child starts, so its first write
        // to stdout meets a closed pipe, on any machine at any load.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog")).args(&args).stdout(writer).output().unwrap();
        assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{args:?}: {:?}", out.status);
        assert!(out.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A logger that wrote a few entries and still holds its directory.
fn running_logger(dir: &std::path::Path) -> sockstatlog::Logger {
    let logger =
        sockstatlog::Logger::new(sockstatlog::Config::new(dir, sockstatlog::logid::PublicId([0xab; 32]))).unwrap();
    logger.enable().unwrap();
    logger.add(2, 1200, 800).unwrap();
    logger.disable().unwrap();
    logger
}

#[test]
fn report_reads_a_directory_a_running_logger_holds() {
    let dir = tempfile::tempdir().unwrap();
    let logger = running_logger(dir.path());
    let (code, out, err) = sockstatlog(&["report", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"tx\": 1200"), "{out}");
    logger.shutdown(std::time::Duration::from_secs(5)).unwrap();
}

#[test]
fn upload_refuses_a_held_directory_naming_it_and_uploads_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let logger = running_logger(dir.path());
    let d = dir.path().to_str().unwrap();
    // Nothing listens on port 9: the copy's upload below fails to connect,
    // which is enough to show it opened the log (exit 1, not 2).
    let args = ["upload", "--timeout", "1", "--backend-log-id", &"ab".repeat(32), "--url"];
    let (code, _, err) = sockstatlog(&[&args[..], &["http://127.0.0.1:9", "--dir", d]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("in use by another logger") && err.contains(d), "{err}");

    let copy = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
    }
    let (code, out, err) =
        sockstatlog(&[&args[..], &["http://127.0.0.1:9", "--dir", copy.path().to_str().unwrap()]].concat());
    assert_eq!(code, 1, "opened the copy (its lock file is not held), could not reach the server: {out} {err}");
    assert!(out.starts_with("NOT drained: 0 batches"), "{out}");
    logger.shutdown(std::time::Duration::from_secs(5)).unwrap();
}
