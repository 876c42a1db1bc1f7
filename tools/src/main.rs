//! The `sockstatlog` command-line tool: log IDs, replay traces, reports, the
//! reference collector, uploads of pulled log directories, and the demo.
//! Each subcommand lives in its own module under `tools/src/cli/`.

use clap::{Parser, Subcommand};
use sockstatlog_tools::cli;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "sockstatlog", version, about = "Per-subsystem socket byte accounting: tools")]
struct Top {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Derive a node's sockstat log IDs from its backend public log ID.
    Logid(cli::logid::Args),
    /// Run the sampler on a virtual clock over a JSON Lines trace.
    Replay(cli::replay::Args),
    /// Summarise a log: per-label table, radio attribution, charts.
    Report(cli::report::Args),
    /// Run the reference logtail collector.
    Collect(cli::collect::Args),
    /// Upload a log directory (e.g. pulled off a device) to a log server.
    Upload(cli::upload::Args),
    /// Run the whole pipeline end to end against a local collector.
    Demo(cli::demo::Args),
}

fn main() -> ExitCode {
    match Top::parse().command {
        Command::Logid(a) => cli::logid::run(a),
        Command::Replay(a) => cli::replay::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Collect(a) => cli::collect::run(a),
        Command::Upload(a) => cli::upload::run(a),
        Command::Demo(a) => cli::demo::run(a),
    }
}
