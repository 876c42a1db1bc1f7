//! Collector ingest and memory figures for BENCHMARKS.md (issue 10).
//! Measures and prints; asserts nothing.
//!
//! 1. Ingest, side by side in one run: the directory store and PostgreSQL,
//!    one and two `sockstatlog collect` processes (two directory-store
//!    processes each own a directory and half the streams, as a sharded
//!    deployment would; two PostgreSQL ones share one database behind a
//!    round-robin of connections). Clients post uploader-sized batches on
//!    keep-alive connections; entries/s, MB/s, p50/p99 request latency, and
//!    each collector's peak RSS.
//! 2. The memory bound: 200 connections each sending all but the last byte
//!    of a 4 MiB body, against the default body budget: peak RSS.
//!
//! Run: `bash scripts/test-postgres.sh bench` (starts a private cluster and
//! sets SOCKSTATLOG_BENCH_POSTGRES_URL), or `cargo bench -p sockstatlog-tools
//! --bench collector` for the directory store only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Client threads posting at once (more than the 2 cores: requests wait on
/// fsync or commit, not CPU).
const CLIENTS: usize = 8;
/// Requests per client.
const REQUESTS_PER_CLIENT: usize = 150;
/// Entries per request: ~170-byte entries, ~34 KB, a typical uploader batch
/// between flushes.
const ENTRIES_PER_REQUEST: u64 = 200;
/// The memory-bound test: connections and body size (issue 10's figures).
const SLOW_UPLOADS: usize = 200;
const SLOW_BODY_BYTES: usize = 4 << 20;

struct Proc {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collector(store: &[&str]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["collect", "--listen", "127.0.0.1:0"])
        .args(store)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").unwrap().parse().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        while out.read_line(&mut s).map(|n| n > 0).unwrap_or(false) {
            s.clear();
        }
    });
    Proc { child, addr }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn entry(proc_id: u64, seq: u64) -> String {
    format!(
        "{{\"logtail\":{{\"client_time\":\"2023-03-29T01:44:44.508Z\",\"proc_id\":{proc_id},\"proc_seq\":{seq}}},\
         \"t\":{},\"d\":100,\"c\":1,\"s\":{{\"11\":[{},0],\"2\":[{seq},{}],\"5\":[1200,3400]}}}}",
        1_680_054_284_000 + seq * 100,
        seq * 7,
        seq * 13
    )
}

/// Sends one request on a keep-alive connection and reads the answer.
fn post(s: &mut BufReader<TcpStream>, addr: SocketAddr, path: &str, body: &[u8]) -> u16 {
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n", body.len());
    let w = s.get_mut();
    w.write_all(head.as_bytes()).unwrap();
    w.write_all(body).unwrap();
    let mut line = String::new();
    s.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        s.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut b = vec![0; len];
    s.read_exact(&mut b).unwrap();
    status
}

struct Run {
    entries: u64,
    bytes: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// CLIENTS threads, client i posting to collector i % n, stream i.
fn ingest(addrs: &[SocketAddr], run_tag: u64) -> Run {
    let start = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = addrs[i % addrs.len()];
            std::thread::spawn(move || {
                let path = format!("/c/bench/{:064x}", (run_tag << 32) | i as u64);
                let mut s = BufReader::new(TcpStream::connect(addr).unwrap());
                let mut lat = Vec::with_capacity(REQUESTS_PER_CLIENT);
                let mut bytes = 0u64;
                for r in 0..REQUESTS_PER_CLIENT as u64 {
                    let parts: Vec<String> = (0..ENTRIES_PER_REQUEST)
                        .map(|k| entry(i as u64 + 1, r * ENTRIES_PER_REQUEST + k + 1))
                        .collect();
                    let body = format!("[{}]", parts.join(",\n"));
                    bytes += body.len() as u64;
                    let t = Instant::now();
                    assert_eq!(post(&mut s, addr, &path, body.as_bytes()), 200);
                    lat.push(t.elapsed());
                }
                (lat, bytes)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut bytes = 0;
    for t in threads {
        let (l, b) = t.join().unwrap();
        lat.extend(l);
        bytes += b;
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    Run {
        entries: (CLIENTS * REQUESTS_PER_CLIENT) as u64 * ENTRIES_PER_REQUEST,
        bytes,
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn print_run(name: &str, r: &Run, procs: &[&Proc]) {
    let rss: Vec<String> = procs.iter().map(|p| format!("{} MB", status_kb(p.child.id(), "VmHWM:") / 1024)).collect();
    println!(
        "| {name} | {:.0} entries/s | {:.1} MB/s | {:.1} ms | {:.1} ms | {} |",
        r.entries as f64 / r.secs,
        r.bytes as f64 / r.secs / 1e6,
        r.p50_ms,
        r.p99_ms,
        rss.join(", ")
    );
}

/// 200 connections each send all but the last byte of a 4 MiB body; the
/// budget refuses most with 503. Peak RSS once every connection has sent
/// (or been refused).
fn slow_uploads(dir: &std::path::Path) {
    let p = collector(&["--dir", dir.to_str().unwrap()]);
    let before = status_kb(p.child.id(), "VmRSS:");
    let body = vec![b' '; SLOW_BODY_BYTES - 1];
    let addr = p.addr;
    let threads: Vec<_> = (0..SLOW_UPLOADS)
        .map(|i| {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let head = format!(
                    "POST /c/bench/{i:064x} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {SLOW_BODY_BYTES}\r\n\r\n"
                );
                let sent = s.write_all(head.as_bytes()).and_then(|()| s.write_all(&body)).is_ok();
                (s, sent)
            })
        })
        .collect();
    let conns: Vec<(TcpStream, bool)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let fully_sent = conns.iter().filter(|c| c.1).count();
    // Let the collector read what is in the socket buffers.
    std::thread::sleep(Duration::from_secs(2));
    let peak = status_kb(p.child.id(), "VmHWM:");
    println!(
        "| {SLOW_UPLOADS} x 4 MiB bodies, all but the last byte | RSS {} MB before, peak {} MB | {fully_sent} sent in full \
         (the rest refused 503 mid-body) |",
        before / 1024,
        peak / 1024
    );
    drop(conns);
}

fn main() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("CPU: {cpu} ({} cores); load average at start: {}", num_cpus(), load.trim());
    println!(
        "{CLIENTS} clients x {REQUESTS_PER_CLIENT} requests x {ENTRIES_PER_REQUEST} entries (~{} B each), keep-alive, \
         uncompressed\n",
        entry(1, 1).len()
    );
    println!("| store, processes | ingest | MB/s | p50 | p99 | collector peak RSS |");
    println!("|---|---|---|---|---|---|");
    let tmp = std::env::temp_dir().join(format!("sockstatlog-bench-{}", std::process::id()));
    let d = |n: &str| tmp.join(n).to_str().unwrap().to_string();
    {
        let a = collector(&["--dir", &d("one")]);
        print_run("directory, 1 process", &ingest(&[a.addr], 1), &[&a]);
    }
    {
        let (a, b) = (collector(&["--dir", &d("two-a")]), collector(&["--dir", &d("two-b")]));
        print_run("directory, 2 processes (a directory each)", &ingest(&[a.addr, b.addr], 2), &[&a, &b]);
    }
    match std::env::var("SOCKSTATLOG_BENCH_POSTGRES_URL") {
        Ok(url) => {
            {
                let a = collector(&["--postgres", &url]);
                print_run("PostgreSQL, 1 process", &ingest(&[a.addr], 3), &[&a]);
            }
            let (a, b) = (collector(&["--postgres", &url]), collector(&["--postgres", &url]));
            print_run("PostgreSQL, 2 processes (one database)", &ingest(&[a.addr, b.addr], 4), &[&a, &b]);
        }
        Err(_) => println!("| PostgreSQL | not run: SOCKSTATLOG_BENCH_POSTGRES_URL unset | | | | |"),
    }
    println!("\n| memory bound | RSS | |\n|---|---|---|");
    slow_uploads(&tmp.join("slow"));
    let _ = std::fs::remove_dir_all(&tmp);
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
