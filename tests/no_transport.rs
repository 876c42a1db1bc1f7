//! A logger made without a transport, with and without the built-in HTTP
//! client (cargo feature `http`). The phone libraries are built without it:
//! there a flush must be a typed `NoTransport` error, never a crash, and the
//! log must stay on disk for a logger that has a transport. A Rust host keeps
//! the built-in client by default. `scripts/check-targets.sh` runs this file
//! with `--no-default-features`; a plain `cargo test` runs the `http` half.

use sockstatlog::logid::PublicId;
use sockstatlog::{Config, Logger};
use std::time::Duration;

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir, PublicId([7; 32]));
    c.poll_interval = Duration::from_millis(10);
    c.write_interval = Duration::from_millis(50);
    // Nothing listens on port 1: only a build with a client would try it.
    c.upload.base_url = "http://127.0.0.1:1".into();
    c.upload.allow_http = true;
    c.upload.attempt_timeout = Duration::from_millis(100);
    c
}

/// A logger with one event and one text line written to disk.
fn logger_with_entries(dir: &std::path::Path) -> Logger {
    let logger = Logger::new(config(dir)).unwrap();
    logger.enable().unwrap();
    logger.add(2, 100, 10).unwrap();
    logger.write_text("kept on disk").unwrap();
    logger.disable().unwrap();
    logger
}

#[cfg(not(feature = "http"))]
mod without_the_builtin_client {
    use super::*;
    use sockstatlog::logid::PrivateId;
    use sockstatlog::{upload_log_dir, Error, HttpRequest, HttpResponse, Transport};
    use std::sync::{Arc, Mutex};

    /// The flush's bound; a build without a client answers before any wait.
    const FLUSH_TIMEOUT: Duration = Duration::from_millis(500);

    /// Answers 200 to everything and keeps the bodies.
    #[derive(Default)]
    struct Accepting {
        bodies: Mutex<Vec<Vec<u8>>>,
    }

    impl Transport for Accepting {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
            self.bodies.lock().unwrap().push(request.body);
            Ok(HttpResponse { status: 200, headers: vec![], body: vec![] })
        }
    }

    #[test]
    fn flush_is_a_typed_no_transport_error_and_the_log_stays_for_a_logger_with_one() {
        let dir = tempfile::tempdir().unwrap();
        let logger = logger_with_entries(dir.path());
        let before = logger.export().unwrap();
        assert!(before.iter().any(|l| l.contains("kept on disk")), "{before:?}");

        let err = logger.flush(FLUSH_TIMEOUT).unwrap_err();
        assert!(matches!(err, Error::NoTransport), "{err:?}");
        assert!(err.to_string().contains("with_transport"), "the message says what to do: {err}");
        assert!(matches!(logger.start_flush(), Err(Error::NoTransport)));
        // The logger goes on logging, and nothing was consumed.
        logger.add(3, 1, 1).unwrap();
        assert_eq!(logger.export().unwrap()[..before.len()], before[..]);
        logger.shutdown(Duration::from_secs(5)).unwrap();

        // The same directory, with a transport: every line goes out.
        let mut c = config(dir.path());
        c.upload.base_url = "https://log.example".into();
        let host = Arc::new(Accepting::default());
        let logger = Logger::with_transport(c, host.clone()).unwrap();
        let report = logger.flush(Duration::from_secs(30)).unwrap();
        assert!(report.drained, "{report:?}");
        assert!(report.entries >= before.len() as u64, "{report:?} for {} lines", before.len());
        assert!(!host.bodies.lock().unwrap().is_empty());
        logger.shutdown(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn upload_log_dir_without_a_client_is_no_transport() {
        let dir = tempfile::tempdir().unwrap();
        logger_with_entries(dir.path()).shutdown(Duration::from_secs(5)).unwrap();
        let err =
            upload_log_dir(dir.path(), &config(dir.path()).upload, PrivateId([1; 32]), FLUSH_TIMEOUT).unwrap_err();
        assert!(matches!(err, Error::NoTransport), "{err:?}");
    }
}

#[cfg(feature = "http")]
#[test]
fn with_the_builtin_client_a_logger_without_a_transport_tries_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let logger = logger_with_entries(dir.path());
    logger.start_flush().unwrap();
    // The refused connection is counted as a failed attempt; wait for it by
    // what happened, not for a time (the bound only stops a broken build).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while logger.stats().unwrap().upload_failures == 0 {
        assert!(std::time::Instant::now() < deadline, "no upload attempt: {:?}", logger.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(logger.stats().unwrap().upload_batches, 0);
    logger.shutdown(Duration::from_secs(5)).unwrap();
}
