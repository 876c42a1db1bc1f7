//! Helpers shared by the `upload_*` and `collector_*` tests: writing a log,
//! reading what the collector stored, a blocking raw HTTP/1.1 client, and a
//! fault-injecting proxy in front of the real collector. Loopback only.
#![allow(dead_code)] // each test crate uses a different subset

use sockstatlog::config::UploadConfig;
use sockstatlog::logid::PrivateId;
use sockstatlog::testing::{FilchOptions, LogFiles};
use sockstatlog_tools::collector::{stream_path, Collector};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The collection every test uploads to.
pub const COLLECTION: &str = "sockstats.log.tailscale.io";

/// A fixed private ID for tests.
pub fn test_id() -> PrivateId {
    PrivateId([0x5a; 32])
}

/// Loopback, any free port.
pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A logtail-wrapped sockstat entry with a unique (proc_id, proc_seq).
pub fn entry(proc_id: u32, seq: u64) -> String {
    format!(
        "{{\"logtail\":{{\"client_time\":\"2023-03-29T01:44:44.508Z\",\"proc_id\":{proc_id},\
         \"proc_seq\":{seq}}},\"t\":{},\"d\":100,\"s\":{{\"11\":[{},0],\"2\":[{seq},{}]}}}}",
        1_680_054_284_000 + seq * 100,
        seq * 7,
        seq * 13
    )
}

/// Writes `n` entries to a log in `dir`, fsynced, and returns them.
pub fn write_log(dir: &Path, proc_id: u32, n: u64) -> Vec<String> {
    let mut log = LogFiles::open(dir, FilchOptions::default()).unwrap();
    let lines: Vec<String> = (1..=n).map(|s| entry(proc_id, s)).collect();
    for chunk in lines.chunks(100) {
        let mut data = String::new();
        for l in chunk {
            data.push_str(l);
            data.push('\n');
        }
        log.append(data.as_bytes()).unwrap();
    }
    log.sync().unwrap();
    lines
}

/// Opens the log for the uploader.
pub fn open_log(dir: &Path) -> Arc<Mutex<LogFiles>> {
    Arc::new(Mutex::new(LogFiles::open(dir, FilchOptions::default()).unwrap()))
}

/// What the collector stored for the test ID.
pub fn stored_lines(dir: &Path) -> Vec<String> {
    let p = stream_path(dir, COLLECTION, &test_id().to_hex());
    match std::fs::read_to_string(p) {
        Ok(s) => s.lines().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}

/// Scaled-down timings: backoff in tens of milliseconds, a short attempt timeout.
pub fn fast_config(base_url: &str) -> UploadConfig {
    UploadConfig {
        base_url: base_url.to_string(),
        allow_http: true,
        max_body_bytes: 4 << 10,
        attempt_timeout: Duration::from_secs(3),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_secs(2),
        ..UploadConfig::default()
    }
}

/// A quiet collector on a free loopback port.
pub fn collector(dir: &Path) -> Collector {
    Collector::start(loopback(), dir, true).unwrap()
}

/// A raw HTTP/1.1 answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads
/// the whole answer.
pub fn raw_request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.write_all(body); // the server may refuse before reading it all
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf).expect("a complete HTTP response")
}

/// Header names (lower case) and values, in the order received.
pub type Headers = Vec<(String, String)>;

/// Splits an HTTP/1.1 message head from its body: (body offset, headers,
/// first line); `None` if incomplete.
pub fn split_head(buf: &[u8]) -> Option<(usize, Headers, String)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end - 4]).into_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((end, headers, first))
}

fn content_length(headers: &[(String, String)]) -> usize {
    headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0)
}

fn parse_response(buf: &[u8]) -> Option<RawResponse> {
    let (end, headers, first) = split_head(buf)?;
    let status = first.split(' ').nth(1)?.parse().ok()?;
    let n = content_length(&headers);
    let body = buf.get(end..end + n.min(buf.len() - end))?.to_vec();
    Some(RawResponse { status, headers, body })
}

/// What the proxy does with one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Pass it to the collector and relay the answer.
    Forward,
    /// Answer with this status, headers and body; the collector never sees it.
    Reply(u16, Vec<(String, String)>, String),
    /// Answer with this status and a `Retry-After` HTTP-date this far ahead
    /// of the moment the answer is sent (not of when the script was written).
    ReplyRetryAt(u16, Duration),
    /// Read half of the body, then reset the connection.
    ResetMidBody,
    /// Read the request and say nothing for this long, then close.
    Stall(Duration),
    /// Forward (so it is stored), then answer 200 with a body cut short.
    ForwardThenShort200,
    /// Forward (so it is stored), then close without answering.
    ForwardThenDrop,
}

/// One request as the proxy received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 proxy that applies a script of faults to successive
/// requests (then forwards everything) and records every request.
pub struct FaultProxy {
    pub addr: SocketAddr,
    pub recorded: Arc<Mutex<Vec<Recorded>>>,
    /// Requests whose body was read, and answers relayed back, so far.
    pub progress: Arc<Progress>,
    _thread: std::thread::JoinHandle<()>,
}

/// How far the proxy got, for a test to wait on instead of a clock.
#[derive(Default)]
pub struct Progress {
    counts: Mutex<ProgressCounts>,
    changed: std::sync::Condvar,
}

/// See [`Progress`].
#[derive(Debug, Default, Clone, Copy)]
pub struct ProgressCounts {
    /// Requests read in full (head and body).
    pub received: u64,
    /// Forwarded requests whose answer was written back to the client.
    pub answered: u64,
}

impl Progress {
    fn bump(&self, f: impl FnOnce(&mut ProgressCounts)) {
        f(&mut self.counts.lock().unwrap());
        self.changed.notify_all();
    }

    /// The counts now.
    pub fn now(&self) -> ProgressCounts {
        *self.counts.lock().unwrap()
    }

    /// Waits until `done` holds or `timeout` passes; returns whether it holds.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&ProgressCounts) -> bool) -> bool {
        let guard = self.counts.lock().unwrap();
        let (guard, _) = self.changed.wait_timeout_while(guard, timeout, |c| !done(c)).unwrap();
        done(&guard)
    }
}

impl FaultProxy {
    pub fn start(upstream: SocketAddr, script: Vec<Fault>) -> FaultProxy {
        let listener = std::net::TcpListener::bind(loopback()).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let rec = recorded.clone();
        let progress = Arc::new(Progress::default());
        let prog = progress.clone();
        let script = Arc::new(Mutex::new(script.into_iter()));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((conn, _)) = l.accept().await else {
                        return;
                    };
                    let (rec, script, prog) = (rec.clone(), script.clone(), prog.clone());
                    tokio::spawn(async move {
                        let _ = serve_conn(conn, upstream, rec, script, prog).await;
                    });
                }
            });
        });
        FaultProxy { addr, recorded, progress, _thread: thread }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }
}

type Script = Arc<Mutex<std::vec::IntoIter<Fault>>>;

async fn serve_conn(
    mut conn: tokio::net::TcpStream,
    upstream: SocketAddr,
    rec: Arc<Mutex<Vec<Recorded>>>,
    script: Script,
    progress: Arc<Progress>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // Read a head.
        let (end, headers, request_line) = loop {
            if let Some(h) = split_head(&buf) {
                break h;
            }
            let mut chunk = [0u8; 8192];
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let len = content_length(&headers);
        let fault = script.lock().unwrap().next().unwrap_or(Fault::Forward);
        if let Fault::ResetMidBody = fault {
            while buf.len() < end + len / 2 {
                let mut chunk = [0u8; 8192];
                let n = conn.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            conn.set_zero_linger()?;
            return Ok(());
        }
        while buf.len() < end + len {
            let mut chunk = [0u8; 8192];
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let whole: Vec<u8> = buf.drain(..end + len).collect();
        rec.lock().unwrap().push(Recorded {
            request_line: request_line.clone(),
            headers: headers.clone(),
            body: whole[end..].to_vec(),
        });
        progress.bump(|c| c.received += 1);
        match fault {
            Fault::Forward => {
                let resp = forward(upstream, &whole).await?;
                conn.write_all(&resp).await?;
                progress.bump(|c| c.answered += 1);
            }
            Fault::Reply(status, hs, body) => {
                let mut r = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in hs {
                    r.push_str(&format!("{k}: {v}\r\n"));
                }
                r.push_str("\r\n");
                r.push_str(&body);
                conn.write_all(r.as_bytes()).await?;
            }
            Fault::ReplyRetryAt(status, ahead) => {
                let date = httpdate::fmt_http_date(std::time::SystemTime::now() + ahead);
                let r = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nRetry-After: {date}\r\n\r\n");
                conn.write_all(r.as_bytes()).await?;
            }
            Fault::Stall(d) => {
                tokio::time::sleep(d).await;
                return Ok(());
            }
            Fault::ForwardThenShort200 => {
                forward(upstream, &whole).await?;
                conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstor").await?;
                return Ok(());
            }
            Fault::ForwardThenDrop => {
                forward(upstream, &whole).await?;
                return Ok(());
            }
            Fault::ResetMidBody => unreachable!(),
        }
    }
}

/// Sends one raw request to the collector on a fresh connection, returns
/// its raw answer.
async fn forward(upstream: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut up = tokio::net::TcpStream::connect(upstream).await?;
    up.write_all(request).await?;
    let mut buf = Vec::new();
    loop {
        if let Some((end, headers, _)) = split_head(&buf) {
            let n = content_length(&headers);
            if buf.len() >= end + n {
                buf.truncate(end + n);
                return Ok(buf);
            }
        }
        let mut chunk = [0u8; 8192];
        let n = up.read(&mut chunk).await?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
