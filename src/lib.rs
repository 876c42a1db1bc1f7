//! sockstatlog: per-label socket byte accounting for mobile network extensions.
//!
//! The host pushes per-label byte counters and the current interface into a
//! [`Logger`]; a 10 Hz sampler turns them into windowed events, a writer
//! appends them every 10 s to a crash-safe two-file log, and an on-demand
//! uploader ships the log to a logtail-compatible server.
//!
//! What it promises is in `docs/contract.md`; how it is built, in `ARCHITECTURE.md`.
#![warn(missing_docs, unreachable_pub)]
// Internals lent to tests link to their neighbours, which stay private.
#![cfg_attr(feature = "testing", allow(rustdoc::private_intra_doc_links))]

uniffi::setup_scaffolding!();

// The public surface: what a Rust host needs. Everything else is the
// library's insides (`pub(crate)`); the `testing` feature lends some of them
// to this crate's own tests and benches through [`testing`].
pub mod config;
pub mod error;
pub mod interface;
pub mod labels;
pub mod logger;
pub mod logid;
#[cfg(feature = "replay")]
pub mod replay;

mod clock;
mod counters;
mod engine;
mod fast_handles;
mod ffi;
mod filch;
#[cfg(not(target_vendor = "apple"))]
mod jni;
mod listener;
mod metered;
mod os_totals;
mod queue;
mod sampler;
mod sync;
mod threads;
mod upload;
mod usage;
mod wire;
mod writer;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Config, UploadConfig};
pub use error::{Error, Result};
pub use filch::log_files_oldest_first;
pub use interface::InterfaceKind;
pub use listener::{Listener, LoggerEvent};
pub use logger::{export_log_dir, CounterSample, Logger, LoggerStats};
pub use upload::{
    upload_log_dir, upload_log_dir_observed, FlushReport, HttpRequest, HttpResponse, Transport, UploadEvent,
};
pub use usage::LabelUsage;

/// The README's Rust snippets, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
