//! Redirects are failed attempts, never followed: a 301/302/303 followed as a
//! GET with no body would let the target's 200 commit lines no server
//! received, and a 307/308 would hand the body to a host nobody configured.
//! Checked on the built-in client (against a loopback server whose
//! `Location` points at a second server that answers 200 to anything) and
//! on the host-transport path.

mod common {
    pub mod upload;
}

use common::upload::*;
use sockstatlog::testing::Counters;
use sockstatlog::testing::Uploader;
use sockstatlog::{HttpRequest, HttpResponse, Transport};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every redirect status a server can send with a `Location`.
const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

#[test]
fn a_redirect_is_a_failed_attempt_and_its_target_gets_nothing() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 3, 200);
    let col = collector(outdir.path());
    // The target would "store" anything: following a redirect there would
    // commit the batch.
    let target = FaultProxy::start(col.addr(), vec![Fault::Reply(200, vec![], String::new()); 50]);
    let path = format!("/c/{COLLECTION}/{}", test_id().to_hex());
    let location = format!("{}{path}", target.url());
    let script = REDIRECTS
        .iter()
        .map(|&s| Fault::Reply(s, vec![("Location".into(), location.clone())], String::new()))
        .collect();
    let first = FaultProxy::start(col.addr(), script);
    let files = open_log(logdir.path());
    let unread = files.lock().unwrap().stats().unread_bytes;
    let up = Uploader::start(&fast_config(&first.url()), test_id(), files.clone(), Arc::new(Counters::default()), None)
        .unwrap();

    let report = up.flush(Duration::from_secs(60));
    assert!(report.drained, "{report:?}");
    let stats = up.stats();
    up.shutdown(Duration::from_secs(2));
    assert_eq!(stats.failures, REDIRECTS.len() as u64, "each redirect was one failed attempt");
    assert!(target.requests().is_empty(), "the redirect target got {} requests", target.requests().len());
    let seen = first.requests();
    for (r, status) in seen.iter().zip(REDIRECTS) {
        assert!(r.request_line.starts_with(&format!("POST {path} ")), "{status}: {}", r.request_line);
    }
    assert_eq!(seen[0].body, seen[REDIRECTS.len()].body, "the same batch was re-sent after the redirects");
    assert_eq!(stored_lines(outdir.path()), lines, "every line exactly once, in order");
    assert_eq!(col.stats().duplicates, 0);
    assert!(unread > 0 && files.lock().unwrap().stats().unread_bytes == 0);
}

#[test]
fn the_builtin_client_stops_at_a_redirect_even_before_the_first_200() {
    // Nothing but redirects: the read position must not move at all.
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_log(logdir.path(), 4, 20);
    let col = collector(outdir.path());
    let target = FaultProxy::start(col.addr(), vec![Fault::Reply(200, vec![], String::new()); 50]);
    let location = format!("{}/c/{COLLECTION}/{}", target.url(), test_id().to_hex());
    let first =
        FaultProxy::start(col.addr(), vec![Fault::Reply(302, vec![("Location".into(), location)], "".into()); 50]);
    let files = open_log(logdir.path());
    let unread = files.lock().unwrap().stats().unread_bytes;
    let mut cfg = fast_config(&first.url());
    cfg.backoff_cap = cfg.backoff_base; // the shortest the settings allow
    let up = Uploader::start(&cfg, test_id(), files.clone(), Arc::new(Counters::default()), None).unwrap();
    // Wait (on the uploader's own reports, not a clock) for a few attempts.
    let mut last_error = None;
    while up.stats().failures < 3 {
        let report = up.flush(Duration::from_millis(200));
        assert!(!report.drained, "nothing can drain through redirects");
        last_error = report.last_error.or(last_error);
    }
    up.shutdown(Duration::from_secs(2));
    assert_eq!(files.lock().unwrap().stats().unread_bytes, unread, "nothing committed");
    assert!(target.requests().is_empty());
    assert!(stored_lines(outdir.path()).is_empty());
    let err = last_error.expect("a redirected attempt reports its error");
    assert!(err.contains("failed 302"), "{err}");
}

/// A host transport that answers its first calls with redirects, then
/// posts to the collector.
struct RedirectingHost {
    upstream: std::net::SocketAddr,
    calls: Mutex<Vec<HttpRequest>>,
}

impl Transport for RedirectingHost {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let n = {
            let mut c = self.calls.lock().unwrap();
            c.push(request.clone());
            c.len()
        };
        if let Some(&status) = REDIRECTS.get(n - 1) {
            let location = ("location".to_string(), "https://elsewhere.example/".to_string());
            return Ok(HttpResponse { status, headers: vec![location], body: Vec::new() });
        }
        let path = request.url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap();
        let headers: Vec<(&str, &str)> = request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = raw_request(self.upstream, "POST", &path, &headers, &request.body);
        Ok(HttpResponse { status: r.status, headers: r.headers, body: r.body })
    }
}

#[test]
fn a_redirect_from_a_host_transport_is_a_failed_attempt() {
    let (logdir, outdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lines = write_log(logdir.path(), 5, 50);
    let col = collector(outdir.path());
    let host = Arc::new(RedirectingHost { upstream: col.addr(), calls: Mutex::new(Vec::new()) });
    let up = Uploader::start(
        &fast_config("https://log.example"),
        test_id(),
        open_log(logdir.path()),
        Arc::new(Counters::default()),
        Some(host.clone()),
    )
    .unwrap();
    let report = up.flush(Duration::from_secs(60));
    up.shutdown(Duration::from_secs(2));
    assert!(report.drained, "{report:?}");
    assert_eq!(up.stats().failures, REDIRECTS.len() as u64);
    let calls = host.calls.lock().unwrap();
    assert!(calls[..=REDIRECTS.len()].windows(2).all(|w| w[0] == w[1]), "the same batch each time");
    assert_eq!(stored_lines(outdir.path()), lines, "every line exactly once, in order");
}
