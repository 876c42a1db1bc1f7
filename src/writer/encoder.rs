//! The writer's encoder: numbers a logger's entries (`proc_id`, `proc_seq`)
//! and encodes a batch of them as logtail lines, leaving out (and counting)
//! any line over the log's line limit.

use crate::filch::MAX_LINE_BYTES;
use crate::queue::Pending;
use crate::wire::{self, EntryMeta};

/// Numbers entries and encodes them as logtail lines.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug)]
pub(crate) struct Encoder {
    /// Id of this logger instance (`proc_id`), unique in its directory.
    proc_id: u32,
    /// Sequence number of the last entry encoded (`proc_seq`).
    seq: u64,
}

/// What [`Encoder::encode_batch`] did.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// Lines appended to the buffer.
    pub lines: u64,
    /// Entries dropped because their line exceeds the log's line limit.
    pub dropped: u64,
    /// Bytes of those lines.
    pub dropped_bytes: u64,
}

impl Encoder {
    /// An encoder with a random `proc_id`, for benches and tests; a logger
    /// takes its id from its directory ([`LogFiles::claim_proc_id`]).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn new() -> Self {
        // Never 0, so a reader can tell "absent" from a real id.
        Self::with_proc_id(fastrand::u32(1..))
    }

    /// An encoder numbering entries of the logger instance `proc_id`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn with_proc_id(proc_id: u32) -> Self {
        Encoder { proc_id, seq: 0 }
    }

    /// Encodes pending entries as logtail lines onto `buf`, numbering them
    /// from the last sequence number; all share one `client_time`, the moment
    /// of writing. A line longer than [`MAX_LINE_BYTES`] is left out (and does
    /// not use up a sequence number): only that entry is lost.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn encode_batch(&mut self, items: &[Pending], client_time_ns: u128, buf: &mut String) -> Encoded {
        let mut done = Encoded::default();
        let mut object = String::new();
        for item in items {
            let line_start = buf.len();
            let meta = EntryMeta { client_time_ns, proc_id: self.proc_id, proc_seq: self.seq + 1 };
            match item {
                Pending::Event(ev) => {
                    object.clear();
                    wire::encode_event(ev, &mut object);
                    wire::wrap_object(&meta, &object, buf);
                }
                Pending::Object(o) => wire::wrap_object(&meta, o, buf),
            }
            let len = buf.len() - line_start;
            if len > MAX_LINE_BYTES {
                buf.truncate(line_start);
                done.dropped += 1;
                done.dropped_bytes += len as u64;
            } else {
                self.seq += 1;
                done.lines += 1;
            }
        }
        done
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}
