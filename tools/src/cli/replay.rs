//! `sockstatlog replay FILE [--poll-ms P]`: runs the sampler on a virtual
//! clock over a JSON Lines trace and prints each event object on its own line.
//! A malformed step stops the replay with exit status 2 naming the line.

use sockstatlog::replay::{replay, DEFAULT_QUEUE_CAPACITY};
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sockstatlog replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace: JSON Lines of `{"at":ms,"op":…}` steps (`-` for stdin).
    pub file: PathBuf,
    /// Poll interval P in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub poll_ms: u64,
    /// Writer queue capacity used while a `writer` step stalls it.
    #[arg(long, default_value_t = DEFAULT_QUEUE_CAPACITY)]
    pub queue_cap: usize,
}

/// Prints the events; exit 2 on a bad trace.
pub fn run(args: Args) -> ExitCode {
    let result = if args.file.as_os_str() == "-" {
        replay(std::io::stdin().lock(), args.poll_ms, args.queue_cap)
    } else {
        match std::fs::File::open(&args.file) {
            Ok(f) => replay(BufReader::new(f), args.poll_ms, args.queue_cap),
            Err(e) => {
                eprintln!("sockstatlog replay: {}: {e}", args.file.display());
                return ExitCode::from(2);
            }
        }
    };
    match result {
        Ok(events) => {
            let mut out = std::io::stdout().lock();
            let mut line = String::new();
            for ev in &events {
                line.clear();
                ev.write_json(&mut line);
                line.push('\n');
                if out.write_all(line.as_bytes()).is_err() {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sockstatlog replay: {}: {e}", args.file.display());
            ExitCode::from(2)
        }
    }
}
