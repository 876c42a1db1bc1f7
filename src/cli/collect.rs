//! `sockstatlog collect` (being written).

use std::process::ExitCode;

/// Arguments of `sockstatlog collect`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("sockstatlog collect: not built yet");
    ExitCode::from(2)
}
