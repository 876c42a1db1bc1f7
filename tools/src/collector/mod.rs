//! The reference log collector: an HTTP/1.1 server that accepts logtail
//! uploads the way a logtail server does and stores every entry, either in a
//! directory (`DIR/<collection>/<private id>.jsonl`, one line each; the
//! embedded default, [`dir`]) or in PostgreSQL ([`pg`]), where any number of
//! collector processes may share one database.
//!
//! It is strict where a real server must be: only `POST /c/{collection}/{id}`
//! with names checked up front (a bad one is a 4xx with a message, never a
//! 5xx a client would retry forever), bounded request size before and after
//! decompression, a zstd body must decompress to exactly
//! `Orig-Content-Length` bytes, and the body must be a JSON array of objects.
//! Delivery is exactly-once per (log ID, `logtail.proc_id`,
//! `logtail.proc_seq`): 200 goes out only once every entry of the request is
//! durably stored whole (fsynced, or committed); any failure is rolled back
//! and answered 5xx. An entry lacking `proc_id`/`proc_seq` (the library
//! never writes one; a foreign client may) cannot be recognised on a retry,
//! so it is stored every time it arrives and counted as unkeyed.
//!
//! Abuse is bounded: bytes of request bodies in flight across all
//! connections (over the budget: 503 with Retry-After), concurrent
//! connections (over the cap: 503 and close), header and body read
//! timeouts, open stream files (an LRU), and dedupe memory (a high-water
//! mark per process, see [`dedupe`]); idle streams are let go. File I/O and
//! decoding run on blocking threads, never on the runtime.

pub mod batch;
pub mod dedupe;
pub mod dir;
pub mod error;
pub mod limits;
pub mod pg;
pub mod schema;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
pub use error::{Error, Result};
use http_body_util::BodyExt;
use sockstatlog::logid::PrivateId;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use batch::{Batch, MAX_ENTRIES_PER_REQUEST};
pub use dir::stream_path;
pub use limits::*;

/// Hex characters of the public log ID naming a stream in log lines (the
/// private ID is the upload credential and is never logged).
const ID_PREFIX_CHARS: usize = 16;
/// Pause after accept() fails (out of file descriptors): retrying at once
/// would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Where entries go.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// `DIR/<collection>/<private id>.jsonl`.
    Dir(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user@host:port/db`).
    Postgres(String),
}

/// Counters of a running collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// Requests answered 200.
    pub requests: u64,
    /// Entries stored.
    pub stored: u64,
    /// Entries dropped as already stored.
    pub duplicates: u64,
    /// Stored entries without `proc_id`/`proc_seq` (never deduplicated).
    pub unkeyed: u64,
    /// Requests refused with a 4xx/5xx.
    pub rejected: u64,
    /// Requests refused 503 because the body budget was spent.
    pub busy: u64,
    /// Connections refused because of the connection cap.
    pub connections_refused: u64,
    /// Failed writes rolled back.
    pub rolled_back: u64,
    /// Torn last lines cut when loading a stream file.
    pub torn_tails_cut: u64,
    /// Unreadable stored lines skipped when loading a stream file.
    pub unreadable_lines: u64,
    /// Body bytes held right now.
    pub inflight_body_bytes: u64,
    /// Connections open right now.
    pub connections: u64,
    /// Streams in memory right now (directory store).
    pub streams: u64,
    /// Stream files open right now (directory store).
    pub open_files: u64,
}

/// Shared counters, updated from any thread.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    unkeyed: AtomicU64,
    rejected: AtomicU64,
    busy: AtomicU64,
    connections_refused: AtomicU64,
    rolled_back: AtomicU64,
    torn_tails_cut: AtomicU64,
    unreadable_lines: AtomicU64,
}

/// A refused request: status, message, and whether to send Retry-After.
#[derive(Debug)]
pub struct Refusal {
    status: StatusCode,
    reason: String,
    retry_after: bool,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Refusal {
        Refusal { status, reason: reason.into(), retry_after: false }
    }

    fn retry_after(mut self) -> Refusal {
        self.retry_after = true;
        self
    }
}

/// What storing a batch did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stored {
    /// Entries newly stored.
    pub stored: u64,
    /// Entries dropped as already stored.
    pub duplicates: u64,
    /// Stored entries without a key.
    pub unkeyed: u64,
}

enum Backend {
    // Boxed: one per collector, and it keeps the enum small.
    Dir(Box<dir::DirStore>),
    Pg(pg::PgStore),
}

/// Everything a request handler shares.
struct App {
    backend: Backend,
    limits: Limits,
    budget: Arc<Semaphore>,
    connections: Arc<Semaphore>,
    counters: Arc<Counters>,
    quiet: bool,
}

impl App {
    async fn new(store: StoreConfig, limits: Limits, quiet: bool) -> Result<Arc<App>> {
        let counters = Arc::new(Counters::default());
        let backend = match store {
            StoreConfig::Dir(d) => {
                Backend::Dir(Box::new(dir::DirStore::open(d, limits.clone(), counters.clone(), quiet)?))
            }
            StoreConfig::Postgres(url) => Backend::Pg(pg::PgStore::connect(&url, limits.db_deadline).await?),
        };
        Ok(Arc::new(App {
            backend,
            budget: Arc::new(Semaphore::new(limits.inflight_body_bytes)),
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            counters,
            quiet,
        }))
    }

    fn stats(&self) -> CollectorStats {
        let c = &self.counters;
        let (streams, open_files) = match &self.backend {
            Backend::Dir(d) => d.gauges(),
            Backend::Pg(_) => (0, 0),
        };
        CollectorStats {
            requests: c.requests.load(Relaxed),
            stored: c.stored.load(Relaxed),
            duplicates: c.duplicates.load(Relaxed),
            unkeyed: c.unkeyed.load(Relaxed),
            rejected: c.rejected.load(Relaxed),
            busy: c.busy.load(Relaxed),
            connections_refused: c.connections_refused.load(Relaxed),
            rolled_back: c.rolled_back.load(Relaxed),
            torn_tails_cut: c.torn_tails_cut.load(Relaxed),
            unreadable_lines: c.unreadable_lines.load(Relaxed),
            inflight_body_bytes: (self.limits.inflight_body_bytes - self.budget.available_permits()) as u64,
            connections: (self.limits.max_connections - self.connections.available_permits()) as u64,
            streams: streams as u64,
            open_files: open_files as u64,
        }
    }
}

/// A collector serving on its own thread (for tests, benches and the demo).
pub struct Collector {
    addr: SocketAddr,
    app: Arc<App>,
    stop: Arc<tokio::sync::Notify>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Binds `addr` (port 0 picks a free port) and serves the directory
    /// store in `dir` with the default limits on a new thread. Per-request
    /// log lines (`tracing`) are emitted unless `quiet`.
    pub fn start(addr: SocketAddr, dir: impl Into<PathBuf>, quiet: bool) -> Result<Collector> {
        Collector::start_with(addr, StoreConfig::Dir(dir.into()), Limits::default(), quiet)
    }

    /// Binds `addr` and serves `store` within `limits` on a new thread.
    pub fn start_with(addr: SocketAddr, store: StoreConfig, limits: Limits, quiet: bool) -> Result<Collector> {
        let listener = std::net::TcpListener::bind(addr).map_err(|e| Error::io(format!("binding {addr}"), e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading bound address", e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("configuring listener", e))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting collector runtime", e))?;
        let app = rt.block_on(App::new(store, limits, quiet))?;
        let stop = Arc::new(tokio::sync::Notify::new());
        let (a, st) = (app.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("sockstatlog-collector".into())
            .spawn(move || {
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => race(accept_loop(l, a), st.notified()).await,
                        Err(e) => tracing::error!("registering the listener: {e}"),
                    }
                });
                // Waits for blocking store calls, so the store (and a
                // directory store's lock) is released when this returns.
                rt.shutdown_timeout(SHUTDOWN_WAIT);
            })
            .map_err(|e| Error::io("starting collector thread", e))?;
        Ok(Collector { addr, app, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for uploads, `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Counters and gauges now.
    pub fn stats(&self) -> CollectorStats {
        self.app.stats()
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

/// An opened store with its limits, ready to serve (the `sockstatlog
/// collect` command opens it before it listens, so a directory it cannot
/// use or a database it cannot reach fails the command at start).
pub struct Server {
    app: Arc<App>,
}

impl Server {
    /// Opens `store`: a directory store is created if needed and locked; a
    /// database is connected to and its schema migrated.
    pub async fn open(store: StoreConfig, limits: Limits) -> Result<Server> {
        Ok(Server { app: App::new(store, limits, false).await? })
    }

    /// Serves on `listener` until the future is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) {
        accept_loop(listener, self.app).await
    }
}

/// Longest wait for blocking store calls when an in-process collector
/// stops: a call in flight finishes its write and fsync well within it.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// The remote address of a request's connection, for log lines.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// Accepts connections within the cap and serves each with hyper's HTTP/1
/// (header read timeout on; the body timeout is the handler's).
async fn accept_loop(listener: tokio::net::TcpListener, app: Arc<App>) {
    let routes = router(app.clone());
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accepting a connection: {e}; pausing {} ms", ACCEPT_ERROR_PAUSE.as_millis());
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let Ok(permit) = app.connections.clone().try_acquire_owned() else {
            app.counters.connections_refused.fetch_add(1, Relaxed);
            tracing::warn!(peer = %peer, outcome = 503, "connection refused: {} connections open", app.limits.max_connections);
            tokio::spawn(refuse_connection(sock));
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(routes.clone().layer(Extension(Peer(peer))));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(app.limits.header_timeout);
        let conn = http.serve_connection(hyper_util::rt::TokioIo::new(sock), service.clone());
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
}

/// Answers a connection over the cap without reading it.
async fn refuse_connection(mut sock: tokio::net::TcpStream) {
    let msg = "too many connections\n";
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {RETRY_AFTER_SECS}\r\nConnection: close\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{msg}",
        msg.len()
    );
    let _ = tokio::time::timeout(HEADER_TIMEOUT, sock.write_all(resp.as_bytes())).await;
    let _ = sock.shutdown().await;
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/c/{collection}/{id}", post(upload))
        .method_not_allowed_fallback(|| async { reply(StatusCode::METHOD_NOT_ALLOWED, "only POST is accepted here") })
        .fallback(|| async {
            reply(StatusCode::NOT_FOUND, "no such endpoint: uploads go to POST /c/{collection}/{64-hex id}")
        })
        .with_state(app)
}

fn reply(status: StatusCode, reason: impl std::fmt::Display) -> Response {
    (status, format!("{reason}\n")).into_response()
}

async fn upload(
    State(app): State<Arc<App>>,
    Extension(Peer(peer)): Extension<Peer>,
    UrlPath((collection, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let res = handle(&app, &collection, &id, &headers, body).await;
    let c = &app.counters;
    let stream = format_args!("{}/{}", name_prefix(&collection), public_prefix(&id));
    match res {
        Ok(s) => {
            if !app.quiet {
                tracing::info!(
                    peer = %peer,
                    stream = %stream,
                    outcome = 200,
                    "stored {} entries, {} duplicates dropped",
                    s.stored,
                    s.duplicates
                );
            }
            c.requests.fetch_add(1, Relaxed);
            c.stored.fetch_add(s.stored, Relaxed);
            c.duplicates.fetch_add(s.duplicates, Relaxed);
            c.unkeyed.fetch_add(s.unkeyed, Relaxed);
            reply(StatusCode::OK, format!("stored {}", s.stored))
        }
        Err(r) => {
            c.rejected.fetch_add(1, Relaxed);
            if r.status == StatusCode::SERVICE_UNAVAILABLE {
                c.busy.fetch_add(1, Relaxed);
            }
            if !app.quiet {
                if r.status.is_server_error() {
                    tracing::warn!(peer = %peer, stream = %stream, outcome = r.status.as_u16(), "refused: {}", r.reason);
                } else {
                    tracing::info!(peer = %peer, stream = %stream, outcome = r.status.as_u16(), "refused: {}", r.reason);
                }
            }
            let mut resp = reply(r.status, r.reason);
            if r.retry_after {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            resp
        }
    }
}

async fn handle(
    app: &Arc<App>,
    collection: &str,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Stored, Refusal> {
    let id = check_target(collection, id)?;
    let encoding = content_encoding(headers)?;
    let want_len = orig_content_length(headers)?;
    let (body, mut permit) = read_body(app, body, headers).await?;
    let joined = |e: tokio::task::JoinError| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storing: {e}"));
    let (a, c) = (app.clone(), collection.to_string());
    // Each path hands back its permit, refused or not, so a large request
    // gives its memory back either way.
    let (stored, permit) = match &app.backend {
        // Decoding and the file I/O on a blocking thread, holding the budget.
        Backend::Dir(_) => tokio::task::spawn_blocking(move || {
            let stored = decode(&a, body, encoding, want_len, &mut permit).and_then(|batch| {
                let Backend::Dir(d) = &a.backend else { unreachable!("matched above") };
                d.append(&c, &id, &batch)
            });
            (stored, permit)
        })
        .await
        .map_err(joined)?,
        // Decoding on a blocking thread; the insert is async.
        Backend::Pg(pg) => {
            let (batch, permit) = tokio::task::spawn_blocking(move || {
                let batch = decode(&a, body, encoding, want_len, &mut permit);
                (batch, permit)
            })
            .await
            .map_err(joined)?;
            let stored = match batch {
                Ok(batch) => pg.append(&c, &id, &batch).await,
                Err(r) => Err(r),
            };
            (stored, permit)
        }
    };
    give_back(permit);
    stored
}

/// Requests charged at least this much hand the freed memory back to the
/// OS when they end (glibc keeps freed heap in its arenas otherwise, and a
/// burst of large requests would stay resident for good).
const GIVE_BACK_BYTES: usize = 1 << 20;

/// Releases a finished request's budget, and its memory to the OS if it
/// was large.
fn give_back(permit: Permit) {
    let charged = permit.as_ref().map_or(0, |p| p.num_permits());
    drop(permit);
    if charged >= GIVE_BACK_BYTES {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        tokio::task::spawn_blocking(|| {
            // SAFETY: malloc_trim only returns free heap pages to the OS.
            unsafe { libc::malloc_trim(0) };
        });
    }
}

/// Undoes zstd (budgeted, bounded) and indexes the entries, charging them
/// too; blocking.
fn decode(app: &App, body: Vec<u8>, zstd: bool, want_len: Option<usize>, held: &mut Permit) -> Result<Batch, Refusal> {
    let text = if zstd {
        // The decoder's window is paid for while it decodes, then given back.
        let mut window: Permit = None;
        take_budget(app, &mut window, batch::decoder_charge(&body))?;
        let text = batch::decompress(&body, app.limits.max_body_bytes, want_len, |n| take_budget(app, held, n))?;
        drop((body, window));
        text
    } else {
        body
    };
    let batch = batch::parse(text, app.limits.max_entries)?;
    take_budget(app, held, batch::entry_charge(batch.len()))?;
    Ok(batch)
}

type Permit = Option<OwnedSemaphorePermit>;

/// The start of the public ID of a private one in a URL path (or `-` if it
/// is not a log ID): names the stream in log lines without the credential.
fn public_prefix(private_hex: &str) -> String {
    match PrivateId::parse(private_hex) {
        Ok(id) => id.public().to_hex()[..ID_PREFIX_CHARS].to_string(),
        Err(_) => "-".to_string(),
    }
}

fn name_prefix(name: &str) -> &str {
    let mut n = name.len().min(MAX_COLLECTION_CHARS);
    while !name.is_char_boundary(n) {
        n -= 1;
    }
    &name[..n]
}

/// The ID must be a private log ID (64 hex); the collection becomes a
/// directory name and a column value, so it is limited to a safe alphabet
/// and [`MAX_COLLECTION_CHARS`]. Both are client errors (404: no such
/// stream), answered before the body is read.
fn check_target(collection: &str, id: &str) -> Result<String, Refusal> {
    let id =
        PrivateId::parse(id).map_err(|e| Refusal::new(StatusCode::NOT_FOUND, format!("bad log id in path: {e}")))?;
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if collection.len() > MAX_COLLECTION_CHARS {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("bad collection name: {} characters, over {MAX_COLLECTION_CHARS}", collection.chars().count()),
        ));
    }
    if collection.is_empty() || collection.starts_with('.') || !collection.chars().all(safe) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("bad collection name {collection:?}: letters, digits, '.', '-', '_', not starting with '.'"),
        ));
    }
    Ok(id.to_hex())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// True for zstd, false for identity.
fn content_encoding(headers: &HeaderMap) -> Result<bool, Refusal> {
    match header_str(headers, "content-encoding") {
        None | Some("") | Some("identity") => Ok(false),
        Some(enc) if enc.eq_ignore_ascii_case("zstd") => Ok(true),
        Some(enc) => {
            Err(Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("unsupported Content-Encoding {enc:?}")))
        }
    }
}

fn orig_content_length(headers: &HeaderMap) -> Result<Option<usize>, Refusal> {
    header_str(headers, "orig-content-length")
        .map(|want| {
            want.parse().map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, format!("bad Orig-Content-Length {want:?}")))
        })
        .transpose()
}

fn busy(app: &App) -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("collector busy: {} bytes of request bodies in flight", app.limits.inflight_body_bytes),
    )
    .retry_after()
}

/// Takes `n` bytes from the budget, adding them to `held`.
fn take_budget(app: &App, held: &mut Permit, n: usize) -> Result<(), Refusal> {
    if n == 0 {
        return Ok(());
    }
    let n32 = u32::try_from(n).map_err(|_| busy(app))?;
    let p = app.budget.clone().try_acquire_many_owned(n32).map_err(|_| busy(app))?;
    match held {
        Some(h) => h.merge(p),
        None => *held = Some(p),
    }
    Ok(())
}

/// Reads the body within the size limit, the body timeout and the
/// in-flight budget (each received chunk is taken from it).
async fn read_body(app: &App, mut body: Body, headers: &HeaderMap) -> Result<(Vec<u8>, Permit), Refusal> {
    let max = app.limits.max_body_bytes;
    let too_big = || Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("body over {max} bytes"));
    if header_str(headers, "content-length").and_then(|v| v.parse::<usize>().ok()).is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let deadline = Instant::now() + app.limits.body_timeout;
    let mut held: Permit = None;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = match tokio::time::timeout(left, body.frame()).await {
            Err(_) => {
                return Err(Refusal::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("body not received within {} s", app.limits.body_timeout.as_secs()),
                ))
            }
            Ok(None) => return Ok((out, held)),
            Ok(Some(Err(e))) => return Err(Refusal::new(StatusCode::BAD_REQUEST, format!("reading body: {e}"))),
            Ok(Some(Ok(f))) => f,
        };
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(too_big());
            }
            take_budget(app, &mut held, data.len())?;
            out.extend_from_slice(&data);
        }
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
