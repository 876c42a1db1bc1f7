//! Every trace under `tests/traces/` replays to exactly its `.expected`
//! events. A trace may have a `.args` sidecar with `--poll-ms P` and/or
//! `--queue-cap N`. To add a case from a bug report, drop the trace and the
//! events it should produce next to the others.

use sockstatlog::replay::{replay, DEFAULT_QUEUE_CAPACITY};
use std::path::Path;

fn args_of(trace: &Path) -> (u64, usize) {
    let (mut poll, mut cap) = (100, DEFAULT_QUEUE_CAPACITY);
    if let Ok(text) = std::fs::read_to_string(trace.with_extension("args")) {
        let words: Vec<&str> = text.split_whitespace().collect();
        for pair in words.chunks(2) {
            match pair {
                ["--poll-ms", v] => poll = v.parse().unwrap(),
                ["--queue-cap", v] => cap = v.parse().unwrap(),
                other => panic!("{}: bad args {other:?}", trace.display()),
            }
        }
    }
    (poll, cap)
}

#[test]
fn every_trace_replays_to_its_expected_events() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces");
    let mut traces: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    traces.sort();
    assert!(traces.len() >= 8, "traces went missing from {}", dir.display());
    for trace in traces {
        let (poll, cap) = args_of(&trace);
        let input = std::fs::read(&trace).unwrap();
        let events = replay(&input[..], poll, cap).unwrap_or_else(|e| panic!("{}: {e}", trace.display()));
        let mut got = String::new();
        for ev in &events {
            ev.write_json(&mut got);
            got.push('\n');
        }
        let want = std::fs::read_to_string(trace.with_extension("expected")).unwrap();
        assert_eq!(got, want, "{}", trace.display());
    }
}
