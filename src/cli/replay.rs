//! `sockstatlog replay` (being written).

use std::process::ExitCode;

/// Arguments of `sockstatlog replay`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("sockstatlog replay: not built yet");
    ExitCode::from(2)
}
