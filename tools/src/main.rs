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
    let command = Top::parse().command;
    if command.writes_a_stream() {
        die_quietly_on_closed_pipe();
    }
    match command {
        Command::Logid(a) => cli::logid::run(a),
        Command::Replay(a) => cli::replay::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Collect(a) => cli::collect::run(a),
        Command::Upload(a) => cli::upload::run(a),
        Command::Demo(a) => cli::demo::run(a),
    }
}

impl Command {
    /// Subcommands whose output is a stream a reader may stop reading
    /// (`sockstatlog report FILE | head`), as opposed to the long-running
    /// ones (collector, demo, upload), which own their sockets and children.
    fn writes_a_stream(&self) -> bool {
        matches!(self, Command::Logid(_) | Command::Replay(_) | Command::Report(_))
    }
}

/// A closed stdout ends the command the way it ends `cat` or `grep`: killed
/// by SIGPIPE, silently, with the conventional status (128 + 13 in a shell).
/// Rust ignores SIGPIPE before `main`, which turns the closed pipe into an
/// `EPIPE` that `println!` reports by panicking.
fn die_quietly_on_closed_pipe() {
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is
    // a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
