//! `sockstatlog demo`'s engine : the whole pipeline end to
//! end, not a mock of it. A reference collector on a loopback port (or any
//! server), a real [`Logger`] in a directory of its own, a simulated network
//! extension pushing from two threads on an accelerated clock, a flush, and
//! the comparison of what was pushed with what the server stored.
//!
//! [`scenario`] is the timeline (handovers, counter reset, idle stretch),
//! [`traffic`] the subsystems and their traffic shapes, [`sim`] the threads
//! that drive the logger, [`compare`] the pushed-versus-received table.

pub mod compare;
pub mod scenario;
pub mod sim;
pub mod traffic;

use crate::collector::{stream_path, Collector};
use crate::report::parse::read_trace;
use crate::report::ReportError;
use compare::{Comparison, Tally};
use scenario::Scenario;
use sockstatlog::logid::{sockstat_private_id, PublicId};
use sockstatlog::{Config, FlushReport, Logger, LoggerStats};
use std::path::PathBuf;
use std::time::Duration;

/// Bound on the final shutdown: everything was written by `disable` already.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Simulated seconds of traffic.
    pub seconds: u64,
    /// How many times faster than real time (1 = real time).
    pub speed: u32,
    /// Seed of the traffic generator: equal seeds give equal traffic.
    pub seed: u64,
    /// Working directory: the log goes to `log/`, the in-process collector's
    /// files to `collector/`.
    pub dir: PathBuf,
    /// Upload to this server instead of an in-process collector.
    pub url: Option<String>,
    /// Allow a plain `http://` URL that is not loopback.
    pub allow_http: bool,
    /// Where the server given by `url` stores its files (its `--dir`), to
    /// compare against; without it the device log is compared instead.
    pub collector_dir: Option<PathBuf>,
    /// The node's backend public log ID.
    pub backend_log_id: PublicId,
    /// How long the flush may take.
    pub flush_timeout: Duration,
}

/// What a run did and found.
#[derive(Debug)]
pub struct Outcome {
    /// Pushed against received.
    pub comparison: Comparison,
    /// The logger's counters after the run (taken before shutdown).
    pub stats: LoggerStats,
    /// What the flush did.
    pub flush: FlushReport,
    /// The server's base URL.
    pub url: String,
    /// The logger's directory.
    pub log_dir: PathBuf,
    /// What was compared against: the collector's file, or the device log.
    pub received_from: PathBuf,
    /// Whether `received_from` is the server's copy (else the device log).
    pub from_server: bool,
    /// The sockstat public log ID.
    pub log_id: String,
}

impl Outcome {
    /// A run passes when the upload drained the log and every label's bytes
    /// match: a failed upload fails the demo whatever the comparison says
    /// (without the server's files it compares against the device log,
    /// which an upload failure leaves complete).
    pub fn passed(&self) -> bool {
        self.flush.drained && self.comparison.matches()
    }

    /// The last line of the run: `match: …`, `MISMATCH: …`, or why the
    /// upload failed.
    pub fn verdict(&self) -> String {
        if !self.flush.drained {
            let why = self.flush.last_error.as_deref().unwrap_or("no answer before the flush timeout");
            return format!("FAILED: the upload did not drain the log ({why})");
        }
        self.comparison.verdict()
    }
}

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The logger failed.
    #[error("{0}")]
    Logger(#[from] sockstatlog::Error),
    /// The demo's collector could not start.
    #[error("{0}")]
    Collector(#[from] crate::collector::Error),
    /// The demo's own files could not be created.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// What was received could not be read.
    #[error("reading what was received: {0}")]
    Received(#[from] ReportError),
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Simulated ms reached, out of the total.
    Simulated {
        /// Reached.
        ms: u64,
        /// Total.
        total_ms: u64,
    },
    /// Traffic done; flushing to the server.
    Flushing,
}

/// Whether `url` is plain `http://` (`Ok(true)`) or not (`Ok(false)`); an
/// error naming `--allow-http` for plain http to another machine without
/// `allow_http`. What `upload` and `demo` check before anything else.
pub fn check_plain_http(url: &str, allow_http: bool) -> Result<bool, String> {
    let plain = url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"));
    if plain && !allow_http && !is_loopback(url) {
        return Err(format!(
            "refusing plain http URL {url:?}: use https://, or pass --allow-http for a server you trust on \
             your network (loopback addresses need no flag)"
        ));
    }
    Ok(plain)
}

/// Whether `url` is plain `http://` to this machine (`localhost`, or a
/// loopback address: 127.0.0.0/8, `[::1]`), where plain HTTP is fine. Read
/// conservatively: anything odd (user info hiding the host, backslashes,
/// spaces or control characters, IPv4 shorthands) is not loopback, so a
/// URL this misreads is refused, never let through.
pub fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.get(..7).filter(|s| s.eq_ignore_ascii_case("http://")).map(|_| &url[7..]) else {
        return false;
    };
    if rest.chars().any(|c| c <= ' ' || c == '\\' || c == '@') {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Runs the demo.
pub fn run(opts: &Options, progress: &mut dyn FnMut(Progress)) -> Result<Outcome, DemoError> {
    let log_dir = opts.dir.join("log");
    let collector_dir = opts.dir.join("collector");
    // The demo's outputs (log, collected copy, report) are private, 0700,
    // whatever the umask; each part creates its files 0600.
    crate::private_fs::create_dir_all(&opts.dir)
        .map_err(|source| DemoError::Io { context: format!("creating {}", opts.dir.display()), source })?;
    let collector = match &opts.url {
        Some(_) => None,
        None => Some(Collector::start(([127, 0, 0, 1], 0).into(), &collector_dir, true)?),
    };
    let url = opts.url.clone().or(collector.as_ref().map(Collector::url)).unwrap_or_default();
    let mut config = Config::new(&log_dir, opts.backend_log_id);
    config.clock_speed = opts.speed;
    config.upload.allow_http = opts.allow_http || is_loopback(&url);
    config.upload.base_url = url.clone();
    let collection = config.upload.collection.clone();

    let logger = Logger::new(config)?;
    for sub in traffic::SUBSYSTEMS.iter().filter(|s| s.label as usize >= sockstatlog::labels::UPSTREAM_NAMES.len()) {
        logger.register_label(sub.label, sub.name)?;
    }
    let scenario = Scenario::new(opts.seconds);
    let first = &scenario.handovers[0];
    logger.set_interface(first.name, first.kind)?;
    logger.enable()?;
    let pushed = sim::drive(&logger, &scenario, opts.seed, opts.speed, &mut |ms| {
        progress(Progress::Simulated { ms, total_ms: scenario.total_ms })
    })?;
    // Close the last window and write it: from here on nothing is reported
    // (the uploader's own bytes, counted under label 11, included).
    logger.disable()?;
    progress(Progress::Flushing);
    let flush = logger.flush(opts.flush_timeout)?;
    let stats = logger.stats()?;
    let log_id = logger.log_id();
    logger.shutdown(SHUTDOWN_TIMEOUT)?;

    let private_hex = sockstat_private_id(&opts.backend_log_id).to_hex();
    let server_dir = if opts.url.is_some() { opts.collector_dir.clone() } else { Some(collector_dir) };
    let (received_from, from_server) = match server_dir {
        Some(d) => (stream_path(&d, &collection, &private_hex), true),
        None => (log_dir.clone(), false),
    };
    drop(collector);
    let trace = read_trace(&received_from)?;
    let received = Tally::from_trace(&trace);
    let comparison = Comparison::new(&pushed, &received, |l| trace.name(l as u8));
    Ok(Outcome { comparison, stats, flush, url, log_dir, received_from, from_server, log_id })
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_plain_http_to_this_machine_is_loopback() {
        let cases = [
            ("ipv4", "http://127.0.0.1:8080", true),
            ("ipv4 range", "http://127.9.9.9", true),
            ("name", "http://LOCALHOST:1/", true),
            ("ipv6", "http://[::1]:9000", true),
            ("upper-case scheme", "HTTP://127.0.0.1", true),
            ("https is not plain http", "https://127.0.0.1", false),
            ("a host named like an address", "http://127.0.0.1.example.com", false),
            ("user info hiding the host", "http://127.0.0.1@example.com", false),
            ("user info before loopback", "http://example.com@127.0.0.1", false),
            ("backslash ends the authority", "http://example.com\\@127.0.0.1", false),
            ("tab stripped by URL parsers", "http://example.com\t@127.0.0.1", false),
            ("another host", "http://192.0.2.1", false),
            ("ipv4 shorthand", "http://127.1", false),
            ("empty", "", false),
        ];
        for (name, url, want) in cases {
            assert_eq!(is_loopback(url), want, "{name}: {url}");
        }
    }
}
