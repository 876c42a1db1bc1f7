//! `sockstatlog report` (being written).

use std::process::ExitCode;

/// Arguments of `sockstatlog report`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("sockstatlog report: not built yet");
    ExitCode::from(2)
}
