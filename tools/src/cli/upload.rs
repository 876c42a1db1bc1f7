//! `sockstatlog upload --dir LOGDIR --backend-log-id HEX --url BASE`: drains a
//! log directory (e.g. one pulled off a device) through the library's own
//! uploader, committing as it goes, so an interrupted run resumes where it
//! stopped.

use sockstatlog::config::{UploadConfig, DEFAULT_BASE_URL};
use sockstatlog::logid::{sockstat_private_id, PublicId};
use sockstatlog::{upload_log_dir, Error};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `sockstatlog upload`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The log directory (holding `sockstats.log1.txt`/`.log2.txt`).
    #[arg(long)]
    pub dir: PathBuf,
    /// The node's backend public log ID (64 hex); the upload goes to its
    /// sockstat private ID.
    #[arg(long)]
    pub backend_log_id: String,
    /// Log server base URL.
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    pub url: String,
    /// Allow a plain http:// URL (a local collector).
    #[arg(long)]
    pub allow_http: bool,
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

/// Exit 0 when drained, 1 when not (timeout, server down), 2 on bad input.
pub fn run(args: Args) -> ExitCode {
    let id = match PublicId::parse(&args.backend_log_id) {
        Ok(id) => id,
        Err(e) => return bad(format!("--backend-log-id: {e}")),
    };
    if !args.dir.is_dir() {
        return bad(format!("{} is not a directory", args.dir.display()));
    }
    let mut config = UploadConfig { base_url: args.url, allow_http: args.allow_http, ..Default::default() };
    if let Some(n) = args.max_body_bytes {
        config.max_body_bytes = n;
    }
    if let Some(ms) = args.attempt_timeout_ms {
        config.attempt_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = args.backoff_base_ms {
        config.backoff_base = Duration::from_millis(ms);
    }
    println!("uploading {} to {}", args.dir.display(), config.base_url);
    let timeout = Duration::from_secs(args.timeout);
    let report = match upload_log_dir(&args.dir, &config, sockstat_private_id(&id), timeout) {
        Ok(report) => report,
        Err(e @ (Error::Filch(_) | Error::Io { .. })) => return bad(format!("opening {}: {e}", args.dir.display())),
        Err(e) => return bad(e.to_string()),
    };
    println!(
        "{}: {} batches, {} entries, {} bytes ({} sent), {} attempts",
        if report.drained { "drained" } else { "NOT drained" },
        report.batches,
        report.entries,
        report.raw_bytes,
        report.sent_bytes,
        report.attempts
    );
    if let Some(e) = &report.last_error {
        println!("last error: {e}");
    }
    if report.drained {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn bad(msg: String) -> ExitCode {
    eprintln!("sockstatlog upload: {msg}");
    ExitCode::from(2)
}
