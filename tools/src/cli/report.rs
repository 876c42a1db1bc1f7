//! `sockstatlog report PATH`: summarise a device log directory, an exported
//! file or a collector file per label, with radio attribution, as a table or
//! JSON, and optionally as charts. The work is in [`crate::report`].

use crate::report::{self, ChartOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sockstatlog report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A device log directory (sockstats.log1.txt/.log2.txt, read without
    /// modifying it), an exported file, or a collector file (JSON Lines).
    pub path: PathBuf,
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
    let report = match report::build(&args.path) {
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
