//! The reference log collector : an HTTP/1.1 server that
//! accepts logtail uploads the way a logtail server does and appends every
//! entry to `DIR/<collection>/<private id>.jsonl`, one line each.
//!
//! It is strict where a real server must be: only `POST /c/{collection}/{id}`,
//! bounded request size before and after decompression, a zstd body must
//! decompress to exactly `Orig-Content-Length` bytes, and the body must be a
//! JSON array of objects. And it makes delivery exactly-once: an entry whose
//! (`logtail.proc_id`, `logtail.proc_seq`) was already stored for that ID is
//! dropped, with the seen set reloaded from the file after a restart. It
//! answers 200 only once the lines are fsynced.

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::value::RawValue;
use sockstatlog::error::{Error, Result};
use sockstatlog::logid::PrivateId;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::future::{poll_fn, Future, IntoFuture};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;

/// Largest request body accepted, compressed or not, and largest body after
/// decompression: 16x a client's 256 KiB batch, so any well-behaved client
/// fits and a hostile one cannot make the collector allocate much.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// zstd window log the decoder accepts (2^23 = 8 MiB): bounds decoder memory
/// whatever a frame header claims; real clients use 256 KiB windows.
const MAX_WINDOW_LOG: u32 = 23;
/// Hex characters of an ID shown in the per-request log line.
const ID_PREFIX_CHARS: usize = 8;

/// Counters of a running collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Requests answered 200.
    pub requests: u64,
    /// Entries appended to files.
    pub stored: u64,
    /// Entries dropped as already stored.
    pub duplicates: u64,
    /// Requests refused with a 4xx/5xx.
    pub rejected: u64,
}

/// What is known about one `<collection>/<id>.jsonl` file.
struct Stream {
    file: File,
    /// (proc_id, proc_seq) of every entry stored in it.
    seen: HashSet<(u64, u64)>,
}

/// The files and the dedup state, shared by all requests.
struct Store {
    dir: PathBuf,
    streams: Mutex<HashMap<(String, String), Stream>>,
    stats: Mutex<CollectorStats>,
    quiet: bool,
}

/// A collector serving on its own thread (for tests, benches and the demo).
pub struct Collector {
    addr: SocketAddr,
    store: Arc<Store>,
    stop: Arc<tokio::sync::Notify>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Binds `addr` (port 0 picks a free port) and serves on a new thread.
    /// Per-request lines are printed unless `quiet`.
    pub fn start(addr: SocketAddr, dir: impl Into<PathBuf>, quiet: bool) -> Result<Collector> {
        let listener = std::net::TcpListener::bind(addr).map_err(|e| Error::io(format!("binding {addr}"), e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading bound address", e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("configuring listener", e))?;
        let store = Arc::new(Store::new(dir.into(), quiet));
        let stop = Arc::new(tokio::sync::Notify::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting collector runtime", e))?;
        let (s, st) = (store.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("sockstatlog-collector".into())
            .spawn(move || {
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => {
                            let serve = axum::serve(l, router(s)).into_future();
                            race(serve, st.notified()).await
                        }
                        Err(e) => eprintln!("sockstatlog collect: {e}"),
                    }
                });
                rt.shutdown_background();
            })
            .map_err(|e| Error::io("starting collector thread", e))?;
        Ok(Collector { addr, store, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for uploads, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Counters so far.
    pub fn stats(&self) -> CollectorStats {
        *lock(&self.store.stats)
    }

    /// Stops serving; open connections are dropped.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Serves on `listener` until the future is dropped or the listener fails
/// (the `sockstatlog collect` command).
pub async fn serve(listener: tokio::net::TcpListener, dir: PathBuf) -> std::io::Result<()> {
    axum::serve(listener, router(Arc::new(Store::new(dir, false)))).await
}

/// Path of the file holding entries for this collection and ID.
pub fn stream_path(dir: &Path, collection: &str, private_hex: &str) -> PathBuf {
    dir.join(collection).join(format!("{private_hex}.jsonl"))
}

fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/c/{collection}/{id}", post(upload))
        .method_not_allowed_fallback(|| async { reply(StatusCode::METHOD_NOT_ALLOWED, "only POST is accepted here") })
        .fallback(|| async {
            reply(StatusCode::NOT_FOUND, "no such endpoint: uploads go to POST /c/{collection}/{64-hex id}")
        })
        .with_state(store)
}

fn reply(status: StatusCode, reason: impl std::fmt::Display) -> Response {
    (status, format!("{reason}\n")).into_response()
}

async fn upload(
    State(store): State<Arc<Store>>,
    UrlPath((collection, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let res = async {
        let id = check_target(&collection, &id)?;
        let raw = read_body(body, &headers).await?;
        store.append(&collection, &id, &raw)
    }
    .await;
    match res {
        Ok((stored, dups)) => {
            if !store.quiet {
                println!("stored {stored} entries ({dups} duplicates dropped) for {collection}/{}", &id_prefix(&id));
            }
            let mut st = lock(&store.stats);
            st.requests += 1;
            st.stored += stored;
            st.duplicates += dups;
            reply(StatusCode::OK, format!("stored {stored}"))
        }
        Err((status, reason)) => {
            lock(&store.stats).rejected += 1;
            if !store.quiet {
                println!("refused {collection}/{}: {} {reason}", id_prefix(&id), status.as_u16());
            }
            reply(status, reason)
        }
    }
}

type Refusal = (StatusCode, String);

fn id_prefix(id: &str) -> &str {
    &id[..id.len().min(ID_PREFIX_CHARS)]
}

/// The ID must be a private log ID (64 hex); the collection becomes a
/// directory name, so it is limited to a safe alphabet.
fn check_target(collection: &str, id: &str) -> Result<String, Refusal> {
    let id = PrivateId::parse(id).map_err(|e| (StatusCode::NOT_FOUND, format!("bad log id in path: {e}")))?;
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if collection.is_empty() || collection.starts_with('.') || !collection.chars().all(safe) {
        return Err((StatusCode::NOT_FOUND, format!("bad collection name {collection:?}")));
    }
    Ok(id.to_hex())
}

/// Reads the body within [`MAX_BODY_BYTES`] and undoes `Content-Encoding: zstd`.
async fn read_body(body: Body, headers: &HeaderMap) -> Result<Vec<u8>, Refusal> {
    let too_big = || (StatusCode::PAYLOAD_TOO_LARGE, format!("body over {MAX_BODY_BYTES} bytes"));
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| too_big())?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    match header("content-encoding") {
        None | Some("") | Some("identity") => Ok(bytes.to_vec()),
        Some(enc) if enc.eq_ignore_ascii_case("zstd") => {
            let raw = decompress(&bytes)?;
            let want = header("orig-content-length");
            if let Some(want) = want {
                let n: usize =
                    want.parse().map_err(|_| (StatusCode::BAD_REQUEST, format!("bad Orig-Content-Length {want:?}")))?;
                if n != raw.len() {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        format!("Orig-Content-Length says {n} but the body decompressed to {} bytes", raw.len()),
                    ));
                }
            }
            Ok(raw)
        }
        Some(enc) => Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("unsupported Content-Encoding {enc:?}"))),
    }
}

fn decompress(frame: &[u8]) -> Result<Vec<u8>, Refusal> {
    let bad = |e: std::io::Error| (StatusCode::BAD_REQUEST, format!("bad zstd body: {e}"));
    let mut dec = zstd::stream::read::Decoder::new(frame).map_err(bad)?;
    dec.window_log_max(MAX_WINDOW_LOG).map_err(bad)?;
    let mut out = Vec::new();
    dec.take(MAX_BODY_BYTES as u64 + 1).read_to_end(&mut out).map_err(bad)?;
    if out.len() > MAX_BODY_BYTES {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("body decompresses to over {MAX_BODY_BYTES} bytes")));
    }
    Ok(out)
}

/// The part of an entry that identifies it.
#[derive(Deserialize)]
struct EntryMeta {
    logtail: Option<LogtailMeta>,
}

#[derive(Deserialize)]
struct LogtailMeta {
    proc_id: Option<u64>,
    proc_seq: Option<u64>,
}

fn entry_key(entry: &str) -> Option<(u64, u64)> {
    let m: EntryMeta = serde_json::from_str(entry).ok()?;
    let lt = m.logtail?;
    Some((lt.proc_id?, lt.proc_seq?))
}

impl Store {
    fn new(dir: PathBuf, quiet: bool) -> Store {
        Store { dir, streams: Mutex::new(HashMap::new()), stats: Mutex::default(), quiet }
    }

    /// Parses the array and appends the entries not seen before; returns
    /// (stored, duplicates).
    fn append(&self, collection: &str, id: &str, raw: &[u8]) -> Result<(u64, u64), Refusal> {
        let entries: Vec<&RawValue> = serde_json::from_slice(raw)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("body is not a JSON array of objects: {e}")))?;
        if let Some(i) = entries.iter().position(|e| !e.get().starts_with('{')) {
            return Err((StatusCode::BAD_REQUEST, format!("entry {i} is not a JSON object")));
        }
        let internal = |e: std::io::Error| (StatusCode::INTERNAL_SERVER_ERROR, format!("storing: {e}"));
        let mut streams = lock(&self.streams);
        let key = (collection.to_string(), id.to_string());
        if !streams.contains_key(&key) {
            let s = Stream::open(&stream_path(&self.dir, collection, id)).map_err(internal)?;
            streams.insert(key.clone(), s);
        }
        let stream = streams.get_mut(&key).expect("inserted above");
        let mut out = Vec::with_capacity(raw.len());
        let mut new_keys = HashSet::new();
        let mut dups = 0;
        for e in &entries {
            if let Some(k) = entry_key(e.get()) {
                if stream.seen.contains(&k) || !new_keys.insert(k) {
                    dups += 1;
                    continue;
                }
            }
            // Newlines in JSON are only ever whitespace between tokens.
            out.extend(e.get().bytes().filter(|b| !matches!(b, b'\n' | b'\r')));
            out.push(b'\n');
        }
        stream.file.write_all(&out).and_then(|()| stream.file.sync_data()).map_err(internal)?;
        stream.seen.extend(new_keys);
        Ok((entries.len() as u64 - dups, dups))
    }
}

impl Stream {
    /// Opens for append (creating dirs), loading the keys already stored.
    fn open(path: &Path) -> std::io::Result<Stream> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).read(true).open(path)?;
        let mut seen = HashSet::new();
        for line in BufReader::new(File::open(path)?).lines() {
            if let Some(k) = entry_key(&line?) {
                seen.insert(k);
            }
        }
        Ok(Stream { file, seen })
    }
}

/// Runs `a` until `b` completes (or `a` ends first).
async fn race<A: Future, B: Future>(a: A, b: B) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Locks a mutex, recovering the data if a handler panicked while holding it:
/// one bad request must not wedge every later one.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
