//! Uploads that respect the data plan, end to end through the public API
//! with a host transport that reports every request on a channel: with
//! `upload_on_metered` off, flushes on a cellular or metered network send
//! nothing and say so, the waiting upload starts by itself on an unmetered
//! network, and `force_flush` sends at once. Waits are on the transport's
//! messages (order, not time); the bounds only turn a hang into a failure.

use sockstatlog::logid::PublicId;
use sockstatlog::{Config, HttpRequest, HttpResponse, InterfaceKind, Logger, Transport};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a test waits for a request it expects before failing.
const PATIENCE: Duration = Duration::from_secs(60);

/// Answers 200 to every request and sends each body's text on a channel.
struct Reporting(Mutex<Sender<String>>);

impl Transport for Reporting {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let _ = self.0.lock().unwrap().send(String::from_utf8_lossy(&request.body).into_owned());
        Ok(HttpResponse { status: 200, headers: vec![], body: vec![] })
    }
}

fn logger(dir: &std::path::Path, upload_on_metered: bool) -> (Logger, Receiver<String>) {
    let mut c = Config::new(dir, PublicId([7; 32]));
    c.upload.base_url = "https://sockstatlog.invalid".into();
    c.upload.upload_on_metered = upload_on_metered;
    let (tx, rx) = channel();
    (Logger::with_transport(c, Arc::new(Reporting(Mutex::new(tx)))).unwrap(), rx)
}

#[test]
fn flushes_on_cellular_wait_for_wifi_and_start_by_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, sent) = logger(dir.path(), false);
    logger.set_interface("rmnet_data0", InterfaceKind::Unknown).unwrap();
    logger.write_text("waits for wifi").unwrap();

    let report = logger.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(report.deferred.as_deref(), Some("metered"), "{report:?}");
    assert_eq!((report.entries, report.attempts, report.drained), (0, 0, false));
    logger.start_flush().unwrap();
    assert!(sent.try_recv().is_err(), "nothing sent on cellular");

    logger.set_interface("wlan0", InterfaceKind::Wifi).unwrap(); // the waiting upload starts
    let body = sent.recv_timeout(PATIENCE).expect("the deferred upload started on wifi");
    assert!(body.contains("waits for wifi"), "{body}");
    let report = logger.flush(Duration::from_secs(60)).unwrap();
    assert!(report.drained && report.deferred.is_none(), "{report:?}");
    logger.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn a_metered_wifi_defers_too_and_force_flush_sends_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, sent) = logger(dir.path(), false);
    logger.set_interface("wlan0", InterfaceKind::Wifi).unwrap();
    logger.set_network_metered(true).unwrap(); // a phone's hotspot
    logger.write_text("first").unwrap();
    assert_eq!(logger.flush(Duration::from_secs(10)).unwrap().deferred.as_deref(), Some("metered"));

    let report = logger.force_flush(Duration::from_secs(60)).unwrap();
    assert!(report.drained && report.entries == 1 && report.deferred.is_none(), "{report:?}");
    assert!(sent.recv_timeout(PATIENCE).unwrap().contains("first"));

    // The flush deferred before the forced one still waits: it starts once
    // the network is free (racing the next line, which goes out with it or
    // with the next flush: either way exactly once).
    logger.set_network_metered(false).unwrap();
    logger.write_text("second").unwrap();
    let report = logger.flush(Duration::from_secs(60)).unwrap();
    assert!(report.drained && report.deferred.is_none(), "{report:?}");
    let body = sent.recv_timeout(PATIENCE).unwrap();
    assert!(body.contains("second") && !body.contains("first"), "{body}");
    assert!(sent.try_recv().is_err(), "sent once");
    logger.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn by_default_uploads_go_over_cellular_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (logger, sent) = logger(dir.path(), true);
    logger.set_interface("rmnet0", InterfaceKind::Cellular).unwrap();
    logger.set_network_metered(true).unwrap();
    logger.write_text("anywhere").unwrap();
    let report = logger.flush(Duration::from_secs(60)).unwrap();
    assert!(report.drained && report.entries == 1 && report.deferred.is_none(), "{report:?}");
    assert!(sent.recv_timeout(PATIENCE).unwrap().contains("anywhere"));
    logger.shutdown(Duration::from_secs(10)).unwrap();
}
