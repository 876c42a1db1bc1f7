//! sockstatlog: per-label socket byte accounting for mobile network extensions.
//!
//! The host pushes per-label byte counters and the current interface into a
//! [`Logger`]; a 10 Hz sampler turns them into windowed events, a writer
//! appends them every 10 s to a crash-safe two-file log, and an on-demand
//! uploader ships the log to a logtail-compatible server.
//!
//! What it promises is in `docs/contract.md`; how it is built, in `ARCHITECTURE.md`.
#![warn(missing_docs)]

uniffi::setup_scaffolding!();

mod clock;
pub mod config;
pub mod counters;
mod engine;
pub mod error;
mod fast_handles;
pub mod ffi;
pub mod filch;
pub mod interface;
#[cfg(not(target_vendor = "apple"))]
mod jni;
pub mod labels;
pub mod logger;
pub mod logid;
pub mod queue;
pub mod replay;
pub mod sampler;
pub(crate) mod sync;
mod threads;
pub mod upload;
pub mod wire;
pub mod writer;

pub use config::{Config, UploadConfig};
pub use error::{Error, Result};
pub use interface::InterfaceKind;
pub use logger::{export_log_dir, CounterSample, Logger, LoggerStats};
pub use upload::{FlushReport, HttpRequest, HttpResponse, Transport};

/// The README's Rust snippets, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
