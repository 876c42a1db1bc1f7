//! Internals lent to this workspace's own tests and benches (the `testing`
//! feature): the counter table, the sampler, the on-disk log, the uploader
//! and the batch encoder, driven directly where the public
//! [`Logger`](crate::Logger) would hide what a test must see or control (the virtual
//! clock, the idle hand-over, a crash between append and commit). Not an API:
//! it changes without notice, and no shipped build enables it.

pub use crate::counters::{Counters, Snapshot, FAST_PUSH_MAX};
pub use crate::filch::{export_dir, Batch, Cursor, FilchOptions, FilchStats, LogFiles};
pub use crate::queue::Pending;
pub use crate::sampler::Sampler;
pub use crate::upload::{UploadStats, Uploader};
pub use crate::usage::Usage;
pub use crate::writer::{Encoded, Encoder};
