//! The reference collector refuses malformed uploads with a 4xx and a
//! reason, stores nothing for them, keeps serving, and drops entries it
//! already stored, across restarts too.

mod common {
    pub mod upload;
}

use common::upload::*;
use sockstatlog_tools::collector::MAX_BODY_BYTES;

fn path() -> String {
    format!("/c/{COLLECTION}/{}", test_id().to_hex())
}

fn zstd(b: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(b, 1).unwrap()
}

#[test]
fn malformed_uploads_are_refused_with_a_reason_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let col = collector(dir.path());
    let good = format!("[{}\n]", entry(1, 1));
    let zgood = zstd(good.as_bytes());
    let orig = good.len().to_string();
    let wrong_len = (good.len() + 1).to_string();
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let zbomb = zstd(&vec![b' '; MAX_BODY_BYTES + 10]);
    let p = path();
    // (name, method, path, headers, body, expected status, expected message)
    type Case<'a> = (&'a str, &'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("wrong-path", "POST", "/upload".into(), vec![], good.clone().into(), 404, "no such endpoint"),
        ("short-id", "POST", format!("/c/{COLLECTION}/abcd"), vec![], good.clone().into(), 404, "invalid hex length"),
        (
            "bad-collection",
            "POST",
            format!("/c/..x/{}", test_id().to_hex()),
            vec![],
            good.clone().into(),
            404,
            "bad collection",
        ),
        ("get", "GET", p.clone(), vec![], vec![], 405, "only POST"),
        ("bad-zstd", "POST", p.clone(), vec![("Content-Encoding", "zstd")], b"not a frame".to_vec(), 400, "bad zstd"),
        (
            "length-mismatch",
            "POST",
            p.clone(),
            vec![("Content-Encoding", "zstd"), ("Orig-Content-Length", &wrong_len)],
            zgood.clone(),
            400,
            "Orig-Content-Length says",
        ),
        ("not-json", "POST", p.clone(), vec![], b"hello".to_vec(), 400, "not a JSON array"),
        ("object-not-array", "POST", p.clone(), vec![], entry(1, 1).into_bytes(), 400, "not a JSON array"),
        ("array-of-numbers", "POST", p.clone(), vec![], b"[1,2]".to_vec(), 400, "entry 0 is not a JSON object"),
        ("oversize", "POST", p.clone(), vec![], big, 413, "body over"),
        ("zstd-bomb", "POST", p.clone(), vec![("Content-Encoding", "zstd")], zbomb, 413, "decompresses to over"),
        (
            "gzip",
            "POST",
            p.clone(),
            vec![("Content-Encoding", "gzip")],
            b"x".to_vec(),
            415,
            "unsupported Content-Encoding",
        ),
    ];
    for (name, method, path, headers, body, status, reason) in cases {
        let r = raw_request(col.addr(), method, &path, &headers, &body);
        assert_eq!(r.status, status, "{name}");
        let text = String::from_utf8_lossy(&r.body);
        assert!(text.contains(reason), "{name}: {text:?}");
        assert!(stored_lines(dir.path()).is_empty(), "{name}: nothing stored");
    }
    // Still serving, and a correct compressed upload is stored.
    let r = raw_request(
        col.addr(),
        "POST",
        &path(),
        &[("Content-Encoding", "zstd"), ("Orig-Content-Length", &orig)],
        &zgood,
    );
    assert_eq!(r.status, 200);
    assert_eq!(stored_lines(dir.path()), vec![entry(1, 1)]);
}

#[test]
fn duplicates_are_dropped_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let body = |seqs: &[u64]| {
        let parts: Vec<String> = seqs.iter().map(|&s| format!("{}\n", entry(9, s))).collect();
        format!("[{}]", parts.join(","))
    };
    let col = collector(dir.path());
    assert_eq!(raw_request(col.addr(), "POST", &path(), &[], body(&[1, 2]).as_bytes()).status, 200);
    assert_eq!(raw_request(col.addr(), "POST", &path(), &[], body(&[2, 3, 3]).as_bytes()).status, 200);
    assert_eq!(col.stats().duplicates, 2);
    col.shutdown();
    let col = collector(dir.path());
    let anon = "{\"text\":\"no ids\\n\"}\n";
    let b = format!("[{}\n,{}\n,{anon},{anon}]", entry(9, 3), entry(9, 4));
    assert_eq!(raw_request(col.addr(), "POST", &path(), &[], b.as_bytes()).status, 200);
    assert_eq!(col.stats().duplicates, 1, "seq 3 remembered from the file");
    let want = vec![
        entry(9, 1),
        entry(9, 2),
        entry(9, 3),
        entry(9, 4),
        "{\"text\":\"no ids\\n\"}".to_string(),
        "{\"text\":\"no ids\\n\"}".to_string(),
    ];
    assert_eq!(stored_lines(dir.path()), want, "entries without ids are always stored");
}
