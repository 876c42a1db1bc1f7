//! `sockstatlog report PATH` (or `--postgres URL --log-id HEX`): summarise a
//! device log directory, an exported file, a collector file or a device's
//! entries in the collector's database per label, with radio attribution, as
//! a table or JSON, and optionally as charts. The work is in
//! [`crate::report`].

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
    /// Read from the collector's PostgreSQL database instead.
    #[arg(long, value_name = "URL", requires = "log_id")]
    pub postgres: Option<String>,
    /// The device's private log ID (64 hex, as in the collector's URL path).
    #[arg(long, value_name = "HEX", requires = "postgres")]
    pub log_id: Option<String>,
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
    let built = match (&args.path, &args.postgres, &args.log_id) {
        (Some(path), None, _) => report::build(path),
        (None, Some(url), Some(id)) => from_postgres(url, id),
        _ => Err(report::ReportError::Database("give a PATH, or --postgres URL with --log-id HEX".into())),
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

/// The device's entries from the collector's database, read as a collector
/// file would be.
fn from_postgres(url: &str, log_id: &str) -> Result<report::Report, report::ReportError> {
    let id = sockstatlog::logid::PrivateId::parse(log_id)
        .map_err(|e| report::ReportError::Database(format!("--log-id: {e}")))?
        .to_hex();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| report::ReportError::Database(format!("starting runtime: {e}")))?;
    let data = rt
        .block_on(crate::collector::pg::read_log(url, &id))
        .map_err(|e| report::ReportError::Database(e.to_string()))?;
    let name = PathBuf::from(format!("postgres:{id}"));
    let trace = report::parse::read_trace_bytes(&name, &data)?;
    Ok(report::summarise(&name, trace))
}
