//! Upload benchmark (a plain `main`, `harness = false`): a full 5 MiB log
//! uploaded over loopback to the reference collector, and the collector's
//! ingest rate. Prints figures; run with
//! `cargo bench -p sockstatlog-tools --bench upload`.
//!
//! For the memory figure the collector runs as a child process
//! (`sockstatlog collect`), so the counting allocator below sees only the
//! uploader; the ingest figure uses the in-process collector.

use sockstatlog::config::UploadConfig;
use sockstatlog::logid::PrivateId;
use sockstatlog::testing::Counters;
use sockstatlog::testing::Uploader;
use sockstatlog::testing::{FilchOptions, LogFiles};
use sockstatlog_tools::collector::Collector;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Heap bytes live now, and the high-water mark since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The log's budget: upstream's 5 MiB.
const LOG_BYTES: u64 = 5 << 20;

fn entry(seq: u64) -> String {
    format!(
        "{{\"logtail\":{{\"client_time\":\"2023-03-29T01:44:{:02}.{:03}Z\",\"proc_id\":1234567,\"proc_seq\":{seq}}},\
         \"t\":{},\"d\":100,\"s\":{{\"11\":[{},0],\"2\":[{},{}],\"8\":[{},{}]}}}}",
        seq / 10 % 60,
        seq % 10 * 100,
        1_680_054_284_000 + seq * 100,
        seq % 97,
        seq * 7 % 1500,
        seq * 13 % 9000,
        seq % 1400,
        seq * 3 % 1400
    )
}

/// Fills a log to just under its budget; returns (lines, bytes).
fn fill(dir: &std::path::Path) -> (u64, u64) {
    let mut log = LogFiles::open(dir, FilchOptions::default()).unwrap();
    let (mut seq, mut bytes) = (0u64, 0u64);
    loop {
        let mut chunk = String::new();
        for _ in 0..100 {
            seq += 1;
            let l = entry(seq);
            chunk.push_str(&l);
            chunk.push('\n');
        }
        if bytes + chunk.len() as u64 > LOG_BYTES - (64 << 10) {
            break;
        }
        bytes += chunk.len() as u64;
        log.append(chunk.as_bytes()).unwrap();
    }
    log.sync().unwrap();
    assert_eq!(log.stats().dropped_bytes, 0);
    (seq - 100, bytes)
}

fn main() {
    let logdir = tempfile::tempdir().unwrap();
    let outdir = tempfile::tempdir().unwrap();
    let (lines, bytes) = fill(logdir.path());

    // Collector in a child process.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["collect", "--listen", "127.0.0.1:0", "--dir"])
        .arg(outdir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("listening on ").unwrap().to_string();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));

    let id = PrivateId([7; 32]);
    let files = Arc::new(Mutex::new(LogFiles::open(logdir.path(), FilchOptions::default()).unwrap()));
    let cfg = UploadConfig { base_url: url, allow_http: true, ..UploadConfig::default() };
    let before_start = LIVE.load(Relaxed);
    let up = Uploader::start(&cfg, id, files, Arc::new(Counters::default()), None).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let idle = LIVE.load(Relaxed);
    PEAK.store(idle, Relaxed);
    let t0 = Instant::now();
    let r = up.flush(Duration::from_secs(600));
    let secs = t0.elapsed().as_secs_f64();
    let peak = PEAK.load(Relaxed);
    up.shutdown(Duration::from_secs(5));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(r.drained && r.entries == lines, "{r:?}");
    println!("upload of a full log: {lines} lines, {:.2} MiB on disk", bytes as f64 / (1 << 20) as f64);
    println!("  {:.2} s, {:.1} MB/s of log, {} batches", secs, bytes as f64 / 1e6 / secs, r.batches);
    println!(
        "  compression: {} -> {} bytes, ratio {:.1}x",
        r.raw_bytes,
        r.sent_bytes,
        r.raw_bytes as f64 / r.sent_bytes as f64
    );
    println!(
        "  heap: uploader idle {} KiB (runtime + client), peak {} KiB above idle during the upload",
        (idle - before_start) >> 10,
        (peak - idle) >> 10
    );

    // Collector ingest: pre-built compressed 256 KiB bodies of fresh entries.
    let dir2 = tempfile::tempdir().unwrap();
    let col = Collector::start("127.0.0.1:0".parse().unwrap(), dir2.path(), true).unwrap();
    let path = format!("/c/bench/{}", id.to_hex());
    let mut bodies = Vec::new();
    let mut seq = 0;
    let mut entries = 0;
    for _ in 0..20 {
        let mut raw = String::from("[");
        while raw.len() < 256 << 10 {
            seq += 1;
            if raw.len() > 1 {
                raw.push(',');
            }
            raw.push_str(&entry(seq));
            raw.push('\n');
            entries += 1;
        }
        raw.push(']');
        bodies.push((zstd::bulk::compress(raw.as_bytes(), 1).unwrap(), raw.len()));
    }
    let t0 = Instant::now();
    for (z, n) in &bodies {
        let mut s = std::net::TcpStream::connect(col.addr()).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Encoding: zstd\r\n\
             Orig-Content-Length: {n}\r\nContent-Length: {}\r\n\r\n",
            z.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(z).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(col.stats().stored, entries);
    println!(
        "collector ingest: {entries} entries in {} requests, {:.2} s, {:.0} entries/s (fsync per request)",
        bodies.len(),
        secs,
        entries as f64 / secs
    );
}
