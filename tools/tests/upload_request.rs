//! The request the uploader sends, as a server sees it: URL, headers, body
//! framing, compression threshold, text conversion, the long-line error
//! entry; plus the host-transport path, idleness and shutdown.

mod common {
    pub mod upload;
}

use common::upload::*;
use sockstatlog::testing::Counters;
use sockstatlog::testing::Uploader;
use sockstatlog::Error;
use sockstatlog::{HttpRequest, HttpResponse, Transport};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn upload_all(url: &str, logdir: &std::path::Path, max_body: usize) -> sockstatlog::FlushReport {
    let mut cfg = fast_config(url);
    cfg.max_body_bytes = max_body;
    let up = Uploader::start(&cfg, test_id(), open_log(logdir), Arc::new(Counters::default()), None).unwrap();
    let r = up.flush(Duration::from_secs(30));
    up.shutdown(Duration::from_secs(2));
    r
}

fn unzstd(r: &Recorded) -> Vec<u8> {
    if r.header("content-encoding") == Some("zstd") {
        zstd::bulk::decompress(&r.body, 1 << 20).unwrap()
    } else {
        r.body.clone()
    }
}

#[test]
fn a_large_batch_is_posted_zstd_compressed_with_upstream_framing() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 1, 50);
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![]);
    let report = upload_all(&proxy.url(), logdir.path(), 256 << 10);
    assert!(report.drained && report.batches == 1 && report.entries == 50, "{report:?}");
    let reqs = proxy.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.request_line, format!("POST /c/{COLLECTION}/{} HTTP/1.1", test_id().to_hex()));
    assert_eq!(r.header("content-encoding"), Some("zstd"));
    let raw = unzstd(r);
    assert_eq!(r.header("orig-content-length"), Some(raw.len().to_string().as_str()));
    assert_eq!(r.header("content-type"), None, "upstream sends no Content-Type");
    assert_eq!(r.header("user-agent"), None, "upstream suppresses User-Agent");
    let want = format!("[{}]", lines.iter().map(|l| format!("{l}\n")).collect::<Vec<_>>().join(","));
    assert_eq!(String::from_utf8(raw).unwrap(), want);
    assert_eq!(report.raw_bytes, want.len() as u64);
    assert_eq!(report.sent_bytes, r.body.len() as u64);
}

#[test]
fn a_small_batch_is_posted_raw_without_zstd_headers() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 1, 1);
    assert!(lines[0].len() + 3 <= 256);
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![]);
    upload_all(&proxy.url(), logdir.path(), 256 << 10);
    let r = &proxy.requests()[0];
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("orig-content-length"), None);
    assert_eq!(r.body, format!("[{}\n]", lines[0]).into_bytes());
}

#[test]
fn batches_stay_near_the_body_limit() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 1, 300);
    let longest = lines.iter().map(|l| l.len() + 2).max().unwrap();
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![]);
    let report = upload_all(&proxy.url(), logdir.path(), 2048);
    assert!(report.batches > 10, "{report:?}");
    for r in proxy.requests() {
        let raw = unzstd(&r);
        let entries = raw.iter().filter(|&&b| b == b'\n').count();
        // The log counts each line with its newline; the framing adds a
        // comma per entry and the brackets on top.
        assert!(raw.len() <= 2048 + longest + entries + 2, "overshoot by at most one line");
    }
    assert_eq!(stored_lines(outdir.path()), lines);
}

#[test]
fn non_json_lines_become_text_entries_and_long_lines_an_error_entry() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Laid out by hand: a torn-looking text line, a line over the 64 KiB
    // limit, a duplicate-key object, then a good entry.
    let good = entry(3, 1);
    let content = format!("plain \"text\"\n{}\n{{\"a\":1,\"a\":2}}\n{good}\n", "x".repeat(70 << 10));
    std::fs::write(logdir.path().join("sockstats.log1.txt"), content).unwrap();
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![]);
    let report = upload_all(&proxy.url(), logdir.path(), 256 << 10);
    assert!(report.drained, "{report:?}");
    let raw = String::from_utf8(unzstd(&proxy.requests()[0])).unwrap();
    assert!(
        raw.starts_with("[{\"text\":\"plain \\\"text\\\"\\n\"}\n,{\"text\":\"{\\\"a\\\":1,\\\"a\\\":2}\\n\"}\n,"),
        "{raw}"
    );
    assert!(raw.contains(&format!(",{good}\n,")));
    assert!(raw.ends_with("\"error\":{\"detail\":\"reading ringbuffer: filch: line too long\"}}}\n]"), "{raw}");
    assert_eq!(stored_lines(outdir.path()).len(), 4);
}

#[test]
fn plain_http_is_refused_at_start_unless_allowed() {
    let logdir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config("http://127.0.0.1:9");
    cfg.allow_http = false;
    let err =
        Uploader::start(&cfg, test_id(), open_log(logdir.path()), Arc::new(Counters::default()), None).unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("allow_http")), "{err}");
}

#[test]
fn nothing_is_sent_until_a_flush_is_asked_for() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_log(logdir.path(), 1, 20);
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![]);
    let up = Uploader::start(
        &fast_config(&proxy.url()),
        test_id(),
        open_log(logdir.path()),
        Arc::new(Counters::default()),
        None,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(proxy.requests().is_empty(), "no upload on start or on a timer");
    up.start_flush();
    up.start_flush(); // coalesces
    let r = up.flush(Duration::from_secs(30));
    assert!(r.drained);
    assert_eq!(stored_lines(outdir.path()).len(), 20);
    up.shutdown(Duration::from_secs(2));
}

#[test]
fn shutdown_abandons_a_stuck_request_and_keeps_its_lines() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_log(logdir.path(), 1, 20);
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![Fault::Stall(Duration::from_secs(30))]);
    let mut cfg = fast_config(&proxy.url());
    cfg.attempt_timeout = Duration::from_secs(60);
    let files = open_log(logdir.path());
    let up = Uploader::start(&cfg, test_id(), files.clone(), Arc::new(Counters::default()), None).unwrap();
    let r = up.flush(Duration::from_millis(300));
    assert!(!r.drained);
    up.shutdown(Duration::from_secs(2));
    assert!(!up.flush(Duration::from_secs(5)).drained, "a stopped uploader reports at once");
    assert!(files.lock().unwrap().stats().unread_bytes > 0, "nothing committed");
    assert!(stored_lines(outdir.path()).is_empty());
}

/// A host transport speaking raw HTTP/1.1 to the collector, failing its
/// first call with a 503 + Retry-After, recording what it was asked.
struct HostTransport {
    upstream: std::net::SocketAddr,
    calls: Mutex<Vec<HttpRequest>>,
}

impl Transport for HostTransport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let first = {
            let mut c = self.calls.lock().unwrap();
            c.push(request.clone());
            c.len() == 1
        };
        if first {
            return Ok(HttpResponse {
                status: 503,
                headers: vec![("retry-after".into(), "1".into())],
                body: b"later".to_vec(),
            });
        }
        let path = request.url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap();
        let headers: Vec<(&str, &str)> = request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = raw_request(self.upstream, "POST", &path, &headers, &request.body);
        Ok(HttpResponse { status: r.status, headers: r.headers, body: r.body })
    }
}

#[test]
fn a_host_transport_is_used_instead_of_the_builtin_client() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 2, 100);
    let col = collector(outdir.path());
    let host = Arc::new(HostTransport { upstream: col.addr(), calls: Mutex::new(Vec::new()) });
    // The base URL is only used to build the URL the host is given.
    let cfg = fast_config("https://log.example");
    let up =
        Uploader::start(&cfg, test_id(), open_log(logdir.path()), Arc::new(Counters::default()), Some(host.clone()))
            .unwrap();
    let t0 = std::time::Instant::now();
    let r = up.flush(Duration::from_secs(30));
    assert!(r.drained, "{r:?}");
    assert!(t0.elapsed() >= Duration::from_secs(1), "Retry-After from the host's answer honoured");
    assert!(r.last_error.unwrap().contains("failed 503: later"));
    assert_eq!(stored_lines(outdir.path()), lines);
    let calls = host.calls.lock().unwrap();
    assert_eq!(calls[0].url, format!("https://log.example/c/{COLLECTION}/{}", test_id().to_hex()));
    assert_eq!(calls[0], calls[1], "the same batch is retried");
    assert!(calls[0].headers.iter().any(|(k, v)| k == "Content-Encoding" && v == "zstd"));
    up.shutdown(Duration::from_secs(2));
}

/// Every entry the library sends carries (proc_id, proc_seq), the
/// uploader's own error entry too (proc_id 0, a hash of its batch): a batch
/// re-sent after a lost acknowledgement stores nothing twice.
#[test]
fn a_resent_batch_with_an_error_entry_stores_it_once() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let content = format!("{}\n{}\n{}\n", entry(3, 1), "x".repeat(70 << 10), entry(3, 2));
    std::fs::write(logdir.path().join("sockstats.log1.txt"), content).unwrap();
    let col = collector(outdir.path());
    let proxy = FaultProxy::start(col.addr(), vec![Fault::ForwardThenDrop]);
    let report = upload_all(&proxy.url(), logdir.path(), 256 << 10);
    assert!(report.drained, "{report:?}");
    assert_eq!(proxy.requests().len(), 2, "stored, answer lost, re-sent");
    let stored = stored_lines(outdir.path());
    assert_eq!(stored.len(), 3, "{stored:?}");
    let error: serde_json::Value = serde_json::from_str(&stored[2]).unwrap();
    assert_eq!(error["logtail"]["proc_id"], 0);
    assert!(error["logtail"]["proc_seq"].as_u64().is_some());
    let st = col.stats();
    assert_eq!((st.duplicates, st.unkeyed), (3, 0));
}

/// The logger's own lines (header, events, text) all carry both keys.
#[test]
fn every_line_the_logger_writes_carries_proc_id_and_proc_seq() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = sockstatlog::Config::new(dir.path(), sockstatlog::logid::PublicId([7; 32]));
    c.poll_interval = Duration::from_millis(10);
    let logger = sockstatlog::Logger::new(c).unwrap();
    logger.enable().unwrap();
    logger.add(2, 100, 200).unwrap();
    logger.write_text("a text line").unwrap();
    logger.disable().unwrap();
    let lines = logger.export().unwrap();
    logger.shutdown(Duration::from_secs(5)).unwrap();
    assert!(lines.len() >= 3, "{lines:?}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["logtail"]["proc_id"].as_u64().is_some_and(|p| p > 0), "{l}");
        assert!(v["logtail"]["proc_seq"].as_u64().is_some(), "{l}");
    }
}
