//! `sockstatlog demo` (being written).

use std::process::ExitCode;

/// Arguments of `sockstatlog demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("sockstatlog demo: not built yet");
    ExitCode::from(2)
}
