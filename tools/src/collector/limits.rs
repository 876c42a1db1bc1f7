//! The bounds a collector enforces, in one place: sizes, budgets, caps,
//! timeouts and deadlines, each with its unit and why; [`Limits`] gathers
//! them (its `Default` is the constants), and [`Limits::fit_fd_limit`] fits
//! the descriptor caps under the process's open-file limit.

use super::batch::MAX_ENTRIES_PER_REQUEST;
use std::time::Duration;

/// Largest request body accepted, compressed or not, and largest body after
/// decompression: 16x a client's 256 KiB batch, so any well-behaved client
/// fits and a hostile one cannot make the collector allocate much.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Bytes of request bodies (received plus decompressed) held across all
/// connections at once: 16 full-size requests, 2048 typical 256 KiB
/// batches' worth of headroom for a fleet, and a hard ceiling on what slow
/// or hostile clients can pin in memory.
pub const INFLIGHT_BODY_BYTES: usize = 16 * MAX_BODY_BYTES;
/// Concurrent connections served; more are answered 503 and closed. Each
/// costs a file descriptor and a few KiB.
pub const MAX_CONNECTIONS: usize = 1024;
/// Time to receive a request's headers (also an idle keep-alive
/// connection's limit): generous for a phone on a bad link, short enough
/// that a trickling client cannot hold a slot for minutes.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// Time to receive a whole body: a 256 KiB batch at 20 kbit/s fits.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(120);
/// Stream files kept open (an LRU), at most: `sockstatlog collect` raises
/// its soft open-file limit to the hard one and then lowers this (and the
/// connection cap) to fit the limit ([`Limits::fit_fd_limit`]).
pub const MAX_OPEN_FILES: usize = 256;
/// Descriptors kept out of the connection and open-file caps: stdio, the
/// runtime's epoll and wakers, the listener, the store's lock file, the
/// database pool ([`super::pg::POOL_SIZE`]), a stream file being loaded on each
/// blocking thread that is between LRU slots, and margin.
pub const RESERVED_FDS: usize = 32;
/// How long one database call may take (a pool checkout, each statement,
/// the commit): a healthy insert of a full batch takes milliseconds; past
/// this the database is hung or overloaded, and the client is told to come
/// back (503 + Retry-After) well before its own attempt timeout.
pub const DB_DEADLINE: Duration = Duration::from_secs(5);
/// A stream unused this long is dropped from memory (its dedupe state is
/// reloaded from the file if it comes back).
pub const STREAM_IDLE: Duration = Duration::from_secs(600);
/// Seconds a client is told to wait (Retry-After) when the collector is
/// busy or failed to store.
pub const RETRY_AFTER_SECS: u32 = 5;
/// Longest collection name: a directory name (NAME_MAX is 255) and a
/// database column; real ones are ~30 characters.
pub const MAX_COLLECTION_CHARS: usize = 128;
/// The bounds a collector enforces (defaults: the constants above).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest body, before and after decompression.
    pub max_body_bytes: usize,
    /// Body bytes in flight across all connections.
    pub inflight_body_bytes: usize,
    /// Concurrent connections.
    pub max_connections: usize,
    /// Header read timeout.
    pub header_timeout: Duration,
    /// Whole-body read timeout.
    pub body_timeout: Duration,
    /// Open stream files (directory store).
    pub max_open_files: usize,
    /// Idle time after which a stream leaves memory (directory store).
    pub stream_idle: Duration,
    /// Deadline of each database call (PostgreSQL store).
    pub db_deadline: Duration,
    /// Entries in one request (more: 413).
    pub max_entries: usize,
}

impl Limits {
    /// These limits lowered to fit an open-file limit of `nofile`
    /// descriptors: [`RESERVED_FDS`] kept aside, at most half of the rest
    /// for connections, and stream files get what connections leave. Each
    /// cap stays at least 1.
    pub fn fit_fd_limit(mut self, nofile: u64) -> Limits {
        let usable = usize::try_from(nofile).unwrap_or(usize::MAX).saturating_sub(RESERVED_FDS).max(2);
        self.max_connections = self.max_connections.clamp(1, usable / 2);
        self.max_open_files = self.max_open_files.clamp(1, usable - self.max_connections);
        self
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: MAX_BODY_BYTES,
            inflight_body_bytes: INFLIGHT_BODY_BYTES,
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            max_open_files: MAX_OPEN_FILES,
            stream_idle: STREAM_IDLE,
            db_deadline: DB_DEADLINE,
            max_entries: MAX_ENTRIES_PER_REQUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_fit_under_the_open_file_limit_with_room_for_connections() {
        let cases = [
            ("ulimit-256", 256, (112, 112)),
            ("ulimit-64", 64, (16, 16)),
            ("roomy", 1 << 20, (MAX_CONNECTIONS, MAX_OPEN_FILES)),
            ("absurdly-low", 10, (1, 1)),
        ];
        for (name, nofile, want) in cases {
            let l = Limits::default().fit_fd_limit(nofile);
            assert_eq!((l.max_connections, l.max_open_files), want, "{name}");
            assert!(l.max_connections + l.max_open_files + RESERVED_FDS <= (nofile as usize).max(RESERVED_FDS + 2));
        }
    }
}
