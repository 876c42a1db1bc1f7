//! The command-line tool's subcommands, one module each; the
//! binary (`src/main.rs`) only dispatches.

pub mod collect;
pub mod demo;
pub mod logid;
pub mod replay;
pub mod report;
pub mod upload;
