//! The directory store: `DIR/<collection>/<private id>.jsonl`, one entry per
//! line. Every call here does blocking file I/O and runs on a blocking
//! thread, never on the runtime. A request's lines are appended with one
//! write and an fsync; if either fails the file is cut back to its length
//! before the write, so a retry neither duplicates nor glues onto a torn
//! fragment. Loading a stream (first use, or after it went idle) cuts a
//! torn last line left by a crash and skips unreadable lines, counting both.
//! Open files are an LRU with a cap; idle streams are dropped from memory.
//!
//! One collector per directory: the store holds an exclusive lock on
//! `DIR/.collector.lock` (flock) for its lifetime, taken when it is opened,
//! before the collector listens. Two collectors on one directory would each
//! keep their own dedupe state and store a retried batch twice.

use super::dedupe::{ProcSeen, StreamSeen, HASHED_PROC_ID};
use super::error::{Error, Result};
use super::{Batch, Counters, Limits, Refusal, Stored};
use crate::private_fs;
use axum::http::StatusCode;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The lock file in the store's directory. A collection name never starts
/// with '.', so it cannot collide with a collection's directory.
pub const LOCK_FILE: &str = ".collector.lock";

/// Buffer of the stored-file scan.
const SCAN_BUF_BYTES: usize = 64 << 10;

type Key = (String, String);

/// What is known about one stream file in memory.
struct Stream {
    seen: StreamSeen,
    /// Length of the file: whole lines only.
    len: u64,
    last_used: Instant,
}

/// Open stream files, least recently used first out past the cap.
#[derive(Default)]
struct FileLru {
    tick: u64,
    open: HashMap<Key, (Arc<File>, u64)>,
    order: BTreeMap<u64, Key>,
}

impl FileLru {
    fn get(&mut self, key: &Key) -> Option<Arc<File>> {
        let (file, t) = self.open.get_mut(key)?;
        self.order.remove(t);
        self.tick += 1;
        *t = self.tick;
        self.order.insert(self.tick, key.clone());
        Some(file.clone())
    }

    fn put(&mut self, key: Key, file: Arc<File>, cap: usize) {
        self.remove(&key);
        while self.open.len() >= cap.max(1) {
            let Some((_, k)) = self.order.pop_first() else { break };
            self.open.remove(&k);
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.open.insert(key, (file, self.tick));
    }

    /// Closes the least recently used half of the open files.
    fn shrink_to_half(&mut self) {
        let keep = self.open.len() / 2;
        while self.open.len() > keep {
            let Some((_, k)) = self.order.pop_first() else { break };
            self.open.remove(&k);
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some((_, t)) = self.open.remove(key) {
            self.order.remove(&t);
        }
    }
}

/// The directory store, shared by all requests.
pub struct DirStore {
    dir: PathBuf,
    limits: Limits,
    streams: Mutex<HashMap<Key, Arc<Mutex<Option<Stream>>>>>,
    files: Mutex<FileLru>,
    last_sweep: Mutex<Instant>,
    counters: Arc<Counters>,
    quiet: bool,
    /// Holds the flock on [`LOCK_FILE`] until the store is dropped.
    _lock: File,
}

/// Bytes of lines staged before they are written: bounds the copy a
/// request makes of its entries (they are fsynced once, at the end).
const STAGE_BYTES: usize = 256 << 10;

/// Appends lines to a stream file through a bounded buffer.
struct LineWriter<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// The file's length once everything pushed is written.
    len: u64,
    wrote: bool,
}

impl<'f> LineWriter<'f> {
    fn new(file: &'f File, len: u64) -> LineWriter<'f> {
        LineWriter { file, buf: Vec::new(), len, wrote: false }
    }

    /// Stages one entry as a line (line breaks removed), writing the buffer
    /// out when full.
    fn push(&mut self, raw: &str) -> io::Result<()> {
        let before = self.buf.len();
        self.buf.extend(raw.bytes().filter(|b| !matches!(b, b'\n' | b'\r')));
        self.buf.push(b'\n');
        self.len += (self.buf.len() - before) as u64;
        if self.buf.len() >= STAGE_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.wrote = true;
            let mut f = self.file;
            f.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes what is staged and makes it durable (if anything was written).
    fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        if self.wrote {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

/// Path of the file holding entries for this collection and ID.
pub fn stream_path(dir: &Path, collection: &str, private_hex: &str) -> PathBuf {
    dir.join(collection).join(format!("{private_hex}.jsonl"))
}

fn internal(what: &str, e: io::Error) -> Refusal {
    // A full disk (ENOSPC) or a size limit (EFBIG) is the server's condition,
    // not the client's: 507, so the uploader backs off and retries.
    // Out of descriptors is a resource the collector caps itself: busy, 503.
    let status = match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EFBIG) | Some(libc::EDQUOT) => StatusCode::INSUFFICIENT_STORAGE,
        Some(libc::EMFILE) | Some(libc::ENFILE) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Refusal::new(status, format!("{what}: {e}")).retry_after()
}

impl DirStore {
    /// Opens the store under `dir`: creates it (0700) if needed and takes
    /// its lock, which proves it is a writable directory no other collector
    /// serves. Fails naming the directory otherwise.
    pub fn open(dir: PathBuf, limits: Limits, counters: Arc<Counters>, quiet: bool) -> Result<DirStore> {
        let lock = lock_dir(&dir)?;
        Ok(DirStore {
            dir,
            limits,
            streams: Mutex::default(),
            files: Mutex::default(),
            last_sweep: Mutex::new(Instant::now()),
            counters,
            quiet,
            _lock: lock,
        })
    }

    /// Appends the entries of `batch` not stored before; blocking.
    pub fn append(&self, collection: &str, id: &str, batch: &Batch) -> Result<Stored, Refusal> {
        let key: Key = (collection.to_string(), id.to_string());
        let slot = {
            let mut streams = super::lock(&self.streams);
            streams.entry(key.clone()).or_default().clone()
        };
        let res = {
            let mut guard = super::lock(&slot);
            self.append_locked(&key, &mut guard, batch)
        };
        drop(slot);
        self.sweep();
        res
    }

    fn append_locked(&self, key: &Key, slot: &mut Option<Stream>, batch: &Batch) -> Result<Stored, Refusal> {
        let path = stream_path(&self.dir, &key.0, &key.1);
        let file = self.file(key, &path)?;
        if slot.is_none() {
            *slot = Some(self.load(&file, &path).map_err(|e| internal("loading the stored stream", e))?);
        }
        let stream = slot.as_mut().expect("loaded above");
        stream.last_used = Instant::now();
        // Stage the batch on copies: the live state changes only once the
        // lines are durably stored.
        let mut staged: HashMap<u64, ProcSeen> = HashMap::new();
        let mut staged_hashed: Vec<u64> = Vec::new();
        let mut lines = LineWriter::new(&file, stream.len);
        let (mut stored, mut dups, mut unkeyed) = (0u64, 0u64, 0u64);
        let mut written = Ok(());
        for i in 0..batch.len() {
            let key = batch.key(i);
            if let Some((pid, seq)) = key.filter(|k| k.0 == HASHED_PROC_ID) {
                if stream.seen.contains(pid, seq) || staged_hashed.contains(&seq) {
                    dups += 1;
                    continue;
                }
                staged_hashed.push(seq);
            } else if let Some((pid, seq)) = key {
                let p = staged.entry(pid).or_insert_with(|| stream.seen.get(pid));
                if p.contains(seq) {
                    dups += 1;
                    continue;
                }
                p.insert(seq);
            } else {
                unkeyed += 1;
            }
            stored += 1;
            written = lines.push(batch.raw(i));
            if written.is_err() {
                break;
            }
        }
        let before = stream.len;
        if let Err(e) = written.and_then(|()| lines.finish()) {
            // Roll back: cut to the length before this request. If even
            // that fails, forget the stream; reloading cuts the torn tail.
            let cut = file.set_len(before).and_then(|()| file.sync_data());
            if cut.is_err() {
                *slot = None;
                super::lock(&self.files).remove(key);
            }
            self.counters.rolled_back.fetch_add(1, Relaxed);
            if !self.quiet {
                tracing::error!(
                    "writing {} failed ({e}); rolled back to {before} bytes{}",
                    path.display(),
                    if cut.is_err() { " failed too, stream will be reloaded" } else { "" }
                );
            }
            return Err(internal("storing", e));
        }
        stream.len = lines.len;
        for (pid, p) in staged {
            stream.seen.commit(pid, p);
        }
        for seq in staged_hashed {
            stream.seen.insert_hashed(seq);
        }
        Ok(Stored { stored, duplicates: dups, unkeyed })
    }

    /// The stream's open file from the LRU, opening (and creating) it if
    /// needed; the cap closes the least recently used one.
    fn file(&self, key: &Key, path: &Path) -> Result<Arc<File>, Refusal> {
        if let Some(f) = super::lock(&self.files).get(key) {
            return Ok(f);
        }
        if let Some(parent) = path.parent() {
            private_fs::create_dir_all(parent).map_err(|e| internal("creating the stream directory", e))?;
        }
        let f = match private_fs::open_append(path) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                // Out of descriptors: close the older half of the LRU and
                // try once more; still out, the caller answers 503.
                super::lock(&self.files).shrink_to_half();
                private_fs::open_append(path)
            }
            r => r,
        };
        let f = Arc::new(f.map_err(|e| internal("opening the stream file", e))?);
        super::lock(&self.files).put(key.clone(), f.clone(), self.limits.max_open_files);
        Ok(f)
    }

    /// Reads the stored keys, cutting a torn last line and skipping (and
    /// counting) unreadable ones.
    fn load(&self, file: &File, path: &Path) -> io::Result<Stream> {
        let mut seen = StreamSeen::default();
        let mut unreadable = 0u64;
        let mut r = BufReader::with_capacity(SCAN_BUF_BYTES, file);
        r.seek(SeekFrom::Start(0))?;
        let whole = scan_lines(&mut r, self.limits.max_body_bytes, |line| match line {
            Some(l) => match super::batch::entry_key(l) {
                Ok(Some((pid, seq))) => seen.insert(pid, seq),
                Ok(None) => {}
                Err(()) => unreadable += 1,
            },
            None => unreadable += 1,
        })?;
        let len = file.metadata()?.len();
        if len > whole {
            file.set_len(whole)?;
            file.sync_data()?;
            self.counters.torn_tails_cut.fetch_add(1, Relaxed);
            tracing::warn!("cut a torn last line of {} bytes from {} (a crash mid-write)", len - whole, path.display());
        }
        if unreadable > 0 {
            self.counters.unreadable_lines.fetch_add(unreadable, Relaxed);
            tracing::warn!("skipped {unreadable} unreadable stored lines in {}", path.display());
        }
        Ok(Stream { seen, len: whole, last_used: Instant::now() })
    }

    /// Drops streams idle past the limit (their dedupe state and file), at
    /// most every quarter of the idle time.
    fn sweep(&self) {
        let idle = self.limits.stream_idle;
        {
            let mut last = super::lock(&self.last_sweep);
            if last.elapsed() < idle / 4 {
                return;
            }
            *last = Instant::now();
        }
        let mut streams = super::lock(&self.streams);
        let mut gone = Vec::new();
        streams.retain(|k, slot| {
            // In use by a request (another Arc), or busy: keep.
            if Arc::strong_count(slot) > 1 {
                return true;
            }
            let Ok(s) = slot.try_lock() else { return true };
            let keep = s.as_ref().is_some_and(|s| s.last_used.elapsed() < idle);
            if !keep {
                gone.push(k.clone());
            }
            keep
        });
        drop(streams);
        let mut files = super::lock(&self.files);
        for k in gone {
            files.remove(&k);
        }
    }

    /// Streams in memory and files open now.
    pub fn gauges(&self) -> (usize, usize) {
        (super::lock(&self.streams).len(), super::lock(&self.files).open.len())
    }
}

/// Creates `dir` if needed and takes the exclusive lock on its
/// [`LOCK_FILE`] without waiting.
fn lock_dir(dir: &Path) -> Result<File> {
    let name = dir.display();
    private_fs::create_dir_all(dir).map_err(|e| Error::io(format!("store directory {name}: cannot create it"), e))?;
    if !dir.is_dir() {
        return Err(Error::io(format!("store directory {name}"), io::Error::other("not a directory")));
    }
    let path = dir.join(LOCK_FILE);
    let file = private_fs::open_append(&path)
        .map_err(|e| Error::io(format!("store directory {name}: cannot write in it ({})", path.display()), e))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => Error::DirInUse { dir: dir.to_path_buf(), lock: path },
            _ => Error::io(format!("store directory {name}: cannot lock {}", path.display()), e),
        });
    }
    Ok(file)
}

/// Calls `f` with each newline-terminated line (`None` for a line over
/// `max_line` bytes, which is skipped without being buffered) and returns
/// the length of the whole lines: anything after is a torn tail.
pub fn scan_lines(r: &mut impl BufRead, max_line: usize, mut f: impl FnMut(Option<&[u8]>)) -> io::Result<u64> {
    let mut line = Vec::new();
    let mut too_long = false;
    let (mut pos, mut whole) = (0u64, 0u64);
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(whole);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > max_line {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        r.consume(used);
        pos += used as u64;
        if done.is_some() {
            f(if too_long { None } else { Some(&line) });
            line.clear();
            too_long = false;
            whole = pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_reports_whole_lines_skips_long_ones_and_finds_the_torn_tail() {
        let data = b"a\nbbbbbbbbbb\nc\ntorn";
        let mut lines = Vec::new();
        let whole =
            scan_lines(&mut BufReader::with_capacity(3, &data[..]), 5, |l| lines.push(l.map(<[u8]>::to_vec))).unwrap();
        assert_eq!(lines, vec![Some(b"a".to_vec()), None, Some(b"c".to_vec())]);
        assert_eq!(whole, 15);
    }

    #[test]
    fn the_file_lru_keeps_at_most_its_cap_and_evicts_the_oldest() {
        let mut lru = FileLru::default();
        let f = Arc::new(tempfile::tempfile().unwrap());
        for i in 0..10 {
            lru.put((i.to_string(), String::new()), f.clone(), 3);
            lru.get(&("0".into(), String::new()));
        }
        assert_eq!(lru.open.len(), 3);
        assert!(lru.get(&("0".into(), String::new())).is_some(), "recently used stays");
        assert!(lru.get(&("1".into(), String::new())).is_none());
    }
}
