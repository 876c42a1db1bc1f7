//! `sockstatlog demo`: runs the whole pipeline against a local collector
//! (see [`crate::demo`]), prints what was pushed next to what was received,
//! writes the report, and says how to reproduce it. Exit 0 when the upload
//! drained the log and everything matches exactly, 1 when not (a failed
//! upload is a failed demo), 2 when the demo could not run.

use crate::demo::{self, Options, Outcome, Progress};
use crate::report::{self, ChartOptions};
use indicatif::{ProgressBar, ProgressStyle};
use sockstatlog::logid::PublicId;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Default speed: ten simulated minutes in four real seconds, with the
/// logger's 100 ms poll still 0.67 ms of real time apart, which the sampler
/// keeps up with on a busy laptop (see `queue merges` in the output).
pub const DEFAULT_SPEED: u32 = 150;
/// Plain progress lines (no terminal) every tenth of the run.
const PLAIN_PROGRESS_STEPS: u64 = 10;

/// Arguments of `sockstatlog demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulated seconds of traffic.
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// Clock speed: simulated seconds per real second.
    #[arg(long, default_value_t = DEFAULT_SPEED, conflicts_with = "realtime")]
    pub speed: u32,
    /// Run in real time (speed 1).
    #[arg(long)]
    pub realtime: bool,
    /// Seed of the simulated traffic; equal seeds give equal traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Working directory, kept afterwards (default: a new one under the
    /// system's temp directory, also kept and printed).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Upload to this server (base URL) instead of an in-process collector.
    #[arg(long, value_name = "BASE")]
    pub url: Option<String>,
    /// With --url: the server's storage directory, to compare against what
    /// it stored (default: compare against the device log).
    #[arg(long, value_name = "DIR", requires = "url")]
    pub collector_dir: Option<PathBuf>,
    /// Allow a plain http:// URL that is not loopback (loopback always is).
    #[arg(long)]
    pub allow_http: bool,
    /// The node's backend public log ID (64 hex); default random.
    #[arg(long, value_name = "HEX")]
    pub backend_log_id: Option<String>,
    /// Where to write the report's charts (default `<dir>/report`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seconds the final flush may take.
    #[arg(long, default_value_t = 60)]
    pub flush_timeout: u64,
}

/// Runs the demo.
pub fn run(args: Args) -> ExitCode {
    let opts = match options(&args) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    println!(
        "sockstatlog demo: {} simulated seconds at {}x real time, seed {}, in {}",
        opts.seconds,
        opts.speed,
        opts.seed,
        opts.dir.display()
    );
    let outcome = match with_progress(&opts) {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    print_outcome(&opts, &outcome);
    let out = args.out.clone().unwrap_or_else(|| opts.dir.join("report"));
    print_report(&outcome, &out);
    println!("\nreproduce:");
    println!("  sockstatlog report {} --out {}", outcome.received_from.display(), out.display());
    println!(
        "  sockstatlog demo --seconds {} --speed {} --seed {} --backend-log-id {}",
        opts.seconds,
        opts.speed,
        opts.seed,
        opts.backend_log_id.to_hex()
    );
    if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn fail(msg: String) -> ExitCode {
    eprintln!("sockstatlog demo: {msg}");
    ExitCode::from(2)
}

fn options(args: &Args) -> Result<Options, String> {
    let backend_log_id = match &args.backend_log_id {
        Some(hex) => PublicId::parse(hex).map_err(|e| format!("--backend-log-id: {e}"))?,
        None => PublicId(std::array::from_fn(|_| fastrand::u8(..))),
    };
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("sockstatlog-demo-{}-{:08x}", std::process::id(), fastrand::u32(..))),
    };
    if args.seconds == 0 {
        return Err("--seconds must be at least 1".into());
    }
    if let Some(url) = &args.url {
        demo::check_plain_http(url, args.allow_http)?;
    }
    Ok(Options {
        seconds: args.seconds,
        speed: if args.realtime { 1 } else { args.speed.max(1) },
        seed: args.seed,
        dir,
        url: args.url.clone(),
        allow_http: args.allow_http,
        collector_dir: args.collector_dir.clone(),
        backend_log_id,
        flush_timeout: Duration::from_secs(args.flush_timeout),
    })
}

/// Runs with a progress bar on a terminal, plain lines otherwise.
fn with_progress(opts: &Options) -> Result<Outcome, demo::DemoError> {
    let total = opts.seconds;
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{spinner} {msg:<10} [{bar:40}] {pos}/{len} simulated s ({elapsed})")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message("traffic");
        let result = demo::run(opts, &mut |p| match p {
            Progress::Simulated { ms, .. } => bar.set_position(ms / 1000),
            Progress::Flushing => bar.set_message("flushing"),
        });
        bar.finish_and_clear();
        result
    } else {
        let step = (total / PLAIN_PROGRESS_STEPS).max(1);
        demo::run(opts, &mut |p| match p {
            Progress::Simulated { ms, .. } if (ms / 1000) % step == 0 || ms / 1000 == total => {
                eprintln!("demo: simulated {}/{total} s", ms / 1000)
            }
            Progress::Simulated { .. } => {}
            Progress::Flushing => eprintln!("demo: flushing to the collector"),
        })
    }
}

fn print_outcome(opts: &Options, o: &Outcome) {
    let s = &o.stats;
    println!("log directory:   {}", o.log_dir.display());
    println!("server:          {}{}", o.url, if opts.url.is_none() { " (in-process collector)" } else { "" });
    println!("sockstat log id: {}", o.log_id);
    println!(
        "logger:          {} events, {} entries ({} bytes) written, {} wake-ups, {} queue merges, {} counter resets, {} write errors",
        s.events, s.entries_written, s.bytes_written, s.wakeups, s.queue_merges, s.resets, s.write_errors
    );
    let f = &o.flush;
    println!(
        "flush:           {} in {} batches ({} lines, {} bytes raw, {} sent){}",
        if f.drained { "drained" } else { "NOT drained" },
        f.batches,
        f.entries,
        f.raw_bytes,
        f.sent_bytes,
        f.last_error.as_ref().map(|e| format!(", last error: {e}")).unwrap_or_default()
    );
    let what = if o.from_server { "received by the server" } else { "in the device log (server files not given)" };
    println!("\npushed vs {what}: {}\n", o.received_from.display());
    print!("{}", o.comparison.render_table());
    println!("{}", o.verdict());
}

fn print_report(o: &Outcome, out: &std::path::Path) {
    println!();
    match report::build(&o.received_from) {
        Ok(r) => {
            print!("{}", report::render_text(&r));
            match report::write_charts(&r, out, &ChartOptions::default()) {
                Ok(files) => files.iter().for_each(|f| println!("wrote {}", f.display())),
                Err(e) => eprintln!("sockstatlog demo: charts not written: {e}"),
            }
        }
        Err(e) => eprintln!("sockstatlog demo: report: {e}"),
    }
}
