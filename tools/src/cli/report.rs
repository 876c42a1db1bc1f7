//! `sockstatlog report PATH` (or `--postgres URL --log-id HEX`): summarise a
//! device log directory, an exported file, a collector file or a device's
//! entries in the collector's database per label, with radio attribution, as
//! a table or JSON, and optionally as charts; or `--postgres URL --fleet`:
//! the whole fleet, per label and top devices, computed in the database. The
//! work is in [`crate::report`] and [`crate::report::fleet`].

use crate::report::{self, ChartOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sockstatlog report`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["path", "postgres"])))]
pub struct Args {
    /// A device log directory (sockstats.log1.txt/.log2.txt, read without
    /// modifying it), an exported file, or a collector file (JSON Lines).
    pub path: Option<PathBuf>,
    /// Read from the collector's PostgreSQL database instead (with
    /// --log-id or --fleet).
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// The device: its node's backend ID, or its sockstat private ID (as in
    /// the collector's URL path) or public ID (64 hex each).
    #[arg(long, value_name = "HEX", requires = "postgres", conflicts_with = "fleet")]
    pub log_id: Option<String>,
    /// Report on every device in the database: per label and the top devices.
    #[arg(long, requires = "postgres")]
    pub fleet: bool,
    /// With --fleet: count events from this time (RFC 3339, or a duration
    /// back from now: 24h, 7d); whole hours.
    #[arg(long, value_name = "TIME", requires = "fleet")]
    pub since: Option<String>,
    /// With --fleet: count events up to this time (RFC 3339 or a duration
    /// back from now); whole hours.
    #[arg(long, value_name = "TIME", requires = "fleet")]
    pub until: Option<String>,
    /// With --fleet: devices listed.
    #[arg(long, value_name = "N", requires = "fleet", default_value_t = report::fleet::DEFAULT_TOP)]
    pub top: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write charts here: throughput.{svg,png} and labels.{svg,png}.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// TrueType font for the charts (default: DejaVu Sans from fonts-dejavu-core).
    #[arg(long, value_name = "FILE")]
    pub font: Option<PathBuf>,
}

/// Runs the subcommand: 0 on success, 2 when the input is unreadable or
/// malformed, 1 when the charts could not be written.
pub fn run(args: Args) -> ExitCode {
    if args.fleet {
        return fleet(&args);
    }
    let built = match (&args.path, &args.postgres, &args.log_id) {
        (Some(path), None, _) => report::build(path),
        (None, Some(url), Some(id)) => report::fleet::cli::device_report(url, id),
        _ => Err(report::ReportError::Database("give a PATH, or --postgres URL with --log-id HEX or --fleet".into())),
    };
    let report = match built {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sockstatlog report: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("sockstatlog report: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{}", report::render_text(&report));
    }
    if let Some(dir) = &args.out {
        match report::write_charts(&report, dir, &ChartOptions { font: args.font.clone() }) {
            Ok(files) => {
                for f in files {
                    eprintln!("wrote {}", f.display());
                }
            }
            Err(e) => {
                eprintln!("sockstatlog report: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// `--fleet`: 0, or 2 when the input is bad or the database unreadable.
fn fleet(args: &Args) -> ExitCode {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let time = |flag: &str, v: &Option<String>| {
        v.as_deref().map(|s| report::fleet::parse_time(s, now_ms).map_err(|e| format!("{flag}: {e}"))).transpose()
    };
    let query = match (time("--since", &args.since), time("--until", &args.until)) {
        (Ok(since_ms), Ok(until_ms)) => report::fleet::FleetQuery { since_ms, until_ms, top: args.top },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("sockstatlog report: {e}");
            return ExitCode::from(2);
        }
    };
    let url = args.postgres.as_deref().unwrap_or_default();
    match report::fleet::cli::fleet_report(url, &query) {
        Ok(f) if args.json => match serde_json::to_string_pretty(&f) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("sockstatlog report: {e}");
                return ExitCode::from(1);
            }
        },
        Ok(f) => print!("{}", report::fleet::render_text(&f)),
        Err(e) => {
            eprintln!("sockstatlog report: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
