//! The command-line tool's subcommands (feature `cli`), one module each; the
//! binary in `src/bin/sockstatlog.rs` only dispatches.

pub mod collect;
pub mod demo;
pub mod logid;
pub mod replay;
pub mod report;
pub mod upload;
