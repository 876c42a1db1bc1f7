//! `sockstatlog upload` (being written).

use std::process::ExitCode;

/// Arguments of `sockstatlog upload`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("sockstatlog upload: not built yet");
    ExitCode::from(2)
}
