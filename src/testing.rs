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
pub use crate::upload::{LogSource, UploadStats, Uploader};
pub use crate::usage::Usage;
pub use crate::writer::{Encoded, Encoder, OwnedLog};

/// What the JNI methods `FastCounters.add`/`setTotals` run behind a handle
/// (`jni.rs`, minus the JNI environment): `true` if the push counted.
pub fn fast_push(handle: u64, label: u8, tx: u64, rx: u64, is_total: bool) -> bool {
    crate::fast_handles::TABLE
        .with(handle, |c| if is_total { c.try_set_totals(label, tx, rx) } else { c.try_add(label, tx, rx) })
        .unwrap_or(false)
}
