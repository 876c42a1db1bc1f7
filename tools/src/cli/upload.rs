//! `sockstatlog upload --dir LOGDIR --backend-log-id HEX --url BASE`: sends a
//! log directory (e.g. one pulled off a device) through the library's own
//! uploader.
//!
//! By default the directory is left exactly as it was: the log files and the
//! read position are copied into a private temporary directory
//! ([`copy::PrivateCopy`]) and the upload drains the copy, so a report of the
//! directory gives the same answer afterwards. `--drain` uploads in place and
//! commits the read position as a device does: the uploaded lines leave the
//! directory, and an interrupted run resumes where it stopped. A directory
//! that holds no log is refused before anything is created or changed.
//!
//! There is no default server: a forgotten `--url` must not send a device's
//! log to a third party. Plain `http://` is refused unless the host is this
//! machine or `--allow-http` says so.

mod copy;
mod progress;

use crate::demo::check_plain_http;
use progress::{Progress, ProgressMode};
use serde::Serialize;
use sockstatlog::config::UploadConfig;
use sockstatlog::logid::{sockstat_private_id, PublicId};
use sockstatlog::{upload_log_dir_observed, Error, FlushReport};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `sockstatlog upload`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The log directory (holding `sockstats.log1.txt`/`.log2.txt`).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The node's backend public log ID (64 hex); the upload goes to its
    /// sockstat private ID.
    #[arg(long, value_name = "HEX")]
    pub backend_log_id: String,
    /// Log server base URL, e.g. https://logs.example.com (no default: say
    /// where the log goes).
    #[arg(long, value_name = "BASE")]
    pub url: String,
    /// Allow a plain http:// URL that is not loopback (loopback always is).
    #[arg(long)]
    pub allow_http: bool,
    /// Upload in place and commit the read position, as a device does: the
    /// uploaded lines leave the directory. Default: upload a private copy and
    /// leave the directory as it was.
    #[arg(long)]
    pub drain: bool,
    /// Print the result as one JSON object on stdout: drained, batches,
    /// entries, bytes (before compression), sent_bytes, attempts, last_error.
    #[arg(long)]
    pub json: bool,
    /// Progress on stderr (batches, entries, bytes, failed attempts): auto
    /// shows it when stderr is a terminal.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Give up after this many seconds (the uploader retries until then).
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Largest request body before compression, in bytes (default 256 KiB).
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Per-attempt timeout in milliseconds (default 45 s).
    #[arg(long)]
    pub attempt_timeout_ms: Option<u64>,
    /// First backoff step in milliseconds (default 2 s).
    #[arg(long)]
    pub backoff_base_ms: Option<u64>,
}

/// The `--json` result.
#[derive(Debug, Serialize)]
struct Outcome<'a> {
    drained: bool,
    batches: u64,
    entries: u64,
    /// Body bytes before compression.
    bytes: u64,
    sent_bytes: u64,
    attempts: u64,
    last_error: Option<&'a str>,
}

/// Exit 0 when drained, 1 when not (timeout, server down), 2 on bad input
/// (and then nothing was sent, created or changed).
pub fn run(args: Args) -> ExitCode {
    let (config, id) = match settings(&args) {
        Ok(s) => s,
        Err(msg) => return bad(msg),
    };
    let files = match copy::log_files(&args.dir) {
        Ok(f) => f,
        Err(e) => return bad(e.to_string()),
    };
    let copy = if args.drain {
        None
    } else {
        match copy::PrivateCopy::of(&args.dir, &files) {
            Ok(c) => Some(c),
            Err(e) => return bad(e.to_string()),
        }
    };
    let source = copy.as_ref().map_or(args.dir.as_path(), |c| c.path());
    let progress = Arc::new(Progress::new(args.progress));
    let how = if args.drain { "draining" } else { "uploading a copy of" };
    progress.start(&format!("{how} {} to {}", args.dir.display(), config.base_url));
    let observer = progress.clone();
    let timeout = Duration::from_secs(args.timeout);
    let result = upload_log_dir_observed(source, &config, id, timeout, move |e| observer.event(e));
    progress.finish();
    drop(copy);
    match result {
        Ok(report) => print_result(&args, &report),
        Err(e @ Error::Filch(_)) => bad(format!("opening {}: {e}", args.dir.display())),
        Err(e) => bad(e.to_string()),
    }
}

/// The upload settings and the private ID from the arguments.
fn settings(args: &Args) -> Result<(UploadConfig, sockstatlog::logid::PrivateId), String> {
    let id = PublicId::parse(&args.backend_log_id).map_err(|e| format!("--backend-log-id: {e}"))?;
    let plain = check_plain_http(&args.url, args.allow_http)?;
    let mut config = UploadConfig { base_url: args.url.clone(), allow_http: plain, ..Default::default() };
    if let Some(n) = args.max_body_bytes {
        config.max_body_bytes = n;
    }
    if let Some(ms) = args.attempt_timeout_ms {
        config.attempt_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = args.backoff_base_ms {
        config.backoff_base = Duration::from_millis(ms);
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok((config, sockstat_private_id(&id)))
}

fn print_result(args: &Args, r: &FlushReport) -> ExitCode {
    if args.json {
        let outcome = Outcome {
            drained: r.drained,
            batches: r.batches,
            entries: r.entries,
            bytes: r.raw_bytes,
            sent_bytes: r.sent_bytes,
            attempts: r.attempts,
            last_error: r.last_error.as_deref(),
        };
        match serde_json::to_string(&outcome) {
            Ok(json) => println!("{json}"),
            Err(e) => return bad(e.to_string()),
        }
    } else {
        println!(
            "{}: {} batches, {} entries, {} bytes ({} sent), {} attempts",
            if r.drained { "drained" } else { "NOT drained" },
            r.batches,
            r.entries,
            r.raw_bytes,
            r.sent_bytes,
            r.attempts
        );
        if let Some(e) = &r.last_error {
            println!("last error: {e}");
        }
    }
    if r.drained {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn bad(msg: String) -> ExitCode {
    eprintln!("sockstatlog upload: {msg}");
    ExitCode::from(2)
}
