//! Collector figures for BENCHMARKS.md (issues 10 and 18). Measures and
//! prints; asserts nothing.
//!
//! 1. Ingest per store (directory, PostgreSQL) with 1, 8 and 64 concurrent
//!    devices, each its own stream on a keep-alive connection posting
//!    uploader-sized batches to a fresh `sockstatlog collect` process:
//!    entries/s, MB/s, p50/p99 request latency, the collector's peak RSS.
//! 2. Memory under abuse: 16 parallel zstd bodies of tiny entries (the
//!    issue's 367-byte body of `[{},{},…]` inflating to 4 MiB, and a body at
//!    the entry cap), per store: answers, peak RSS, RSS after.
//! 3. The body budget: 200 connections each sending all but the last byte
//!    of a 4 MiB body: peak RSS.
//! 4. The fleet report over generated rollups (10 000 devices x 30 days,
//!    10 % of device-hours active, five labels each on both networks): the
//!    time of `report --fleet` (whole period and last 24 h) and the plans.
//!
//! Run: `bash scripts/test-postgres.sh bench` (starts a private cluster and
//! sets SOCKSTATLOG_BENCH_POSTGRES_URL), or `cargo bench -p sockstatlog-tools
//! --bench collector` for the directory store only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Concurrent devices per ingest row.
const DEVICES: [usize; 3] = [1, 8, 64];
/// Requests per ingest row, split evenly among its devices.
const REQUESTS_PER_RUN: usize = 1280;
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
        .env("RUST_LOG", "warn")
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

/// `devices` threads, device i posting to collector i % n, stream i.
fn ingest(addrs: &[SocketAddr], run_tag: u64, devices: usize) -> Run {
    let per_device = REQUESTS_PER_RUN / devices;
    let start = Instant::now();
    let threads: Vec<_> = (0..devices)
        .map(|i| {
            let addr = addrs[i % addrs.len()];
            std::thread::spawn(move || {
                let path = format!("/c/bench/{:064x}", (run_tag << 32) | i as u64);
                let mut s = BufReader::new(TcpStream::connect(addr).unwrap());
                let mut lat = Vec::with_capacity(per_device);
                let mut bytes = 0u64;
                for r in 0..per_device as u64 {
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
        entries: (devices * per_device) as u64 * ENTRIES_PER_REQUEST,
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
        "{REQUESTS_PER_RUN} requests per row x {ENTRIES_PER_REQUEST} entries (~{} B each), keep-alive, uncompressed\n",
        entry(1, 1).len()
    );
    let pg = std::env::var("SOCKSTATLOG_BENCH_POSTGRES_URL").ok();
    // SOCKSTATLOG_BENCH_PARTS=ingest,abuse,budget,fleet (default: all).
    let parts = std::env::var("SOCKSTATLOG_BENCH_PARTS").unwrap_or_else(|_| "ingest,abuse,budget,fleet".into());
    let part = |p: &str| parts.split(',').any(|x| x == p);
    println!("| store, devices | ingest | MB/s | p50 | p99 | collector peak RSS |");
    println!("|---|---|---|---|---|---|");
    let tmp = std::env::temp_dir().join(format!("sockstatlog-bench-{}", std::process::id()));
    let d = |n: &str| tmp.join(n).to_str().unwrap().to_string();
    for (k, &devices) in DEVICES.iter().enumerate().filter(|_| part("ingest")) {
        let a = collector(&["--dir", &d(&format!("ingest-{devices}"))]);
        print_run(&format!("directory, {devices}"), &ingest(&[a.addr], 10 + k as u64, devices), &[&a]);
    }
    match &pg {
        Some(url) => {
            for (k, &devices) in DEVICES.iter().enumerate().filter(|_| part("ingest")) {
                let a = collector(&["--postgres", url]);
                print_run(&format!("PostgreSQL, {devices}"), &ingest(&[a.addr], 20 + k as u64, devices), &[&a]);
            }
        }
        None => println!("| PostgreSQL | not run: SOCKSTATLOG_BENCH_POSTGRES_URL unset | | | | |"),
    }
    println!("\n| abuse, store | answers | peak RSS | RSS after |\n|---|---|---|---|");
    if part("abuse") {
        tiny_entries(&["--dir", &d("tiny")], "directory");
        if let Some(url) = &pg {
            tiny_entries(&["--postgres", url], "PostgreSQL");
        }
    }
    if part("budget") {
        println!("\n| memory bound | RSS | |\n|---|---|---|");
        slow_uploads(&tmp.join("slow"));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if let Some(url) = pg.as_ref().filter(|_| part("fleet")) {
        fleet_query(url);
    }
}

/// Parallel abusive requests per kind.
const ABUSERS: usize = 16;

/// zstd of `[` + `item` x n + `]`, comma-separated.
fn zstd_array(item: &str, n: usize) -> (Vec<u8>, usize) {
    let mut raw = String::with_capacity(n * (item.len() + 1) + 2);
    raw.push('[');
    for i in 0..n {
        if i > 0 {
            raw.push(',');
        }
        raw.push_str(item);
    }
    raw.push(']');
    (zstd::encode_all(raw.as_bytes(), 19).unwrap(), raw.len())
}

/// 16 parallel requests of each abusive kind against a fresh collector:
/// the answers, the peak RSS, and the RSS once they are answered.
fn tiny_entries(store: &[&str], name: &str) {
    let p = collector(store);
    // The issue's body: 4 MiB of `{}` (1.4 M entries) from a few hundred bytes.
    let empties = zstd_array("{}", (4 << 20) / 3 - 1);
    // Just under the cap: 65 535 entries of 63 bytes, 4 MiB with the commas.
    let padded = format!("{{\"x\":\"{}\"}}", "a".repeat(55));
    let at_cap = zstd_array(&padded, sockstatlog_tools::collector::MAX_ENTRIES_PER_REQUEST - 1);
    for (kind, (body, raw_len)) in [("4 MiB of {} (1.4 M entries)", empties), ("65 535 entries of 63 B", at_cap)] {
        let addr = p.addr;
        let threads: Vec<_> = (0..ABUSERS)
            .map(|i| {
                let body = body.clone();
                std::thread::spawn(move || {
                    let mut s = BufReader::new(TcpStream::connect(addr).unwrap());
                    let path = format!("/c/abuse/{:064x}", i + 1);
                    let head = format!(
                        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Encoding: zstd\r\nOrig-Content-Length: {raw_len}\r\n\
                         Content-Length: {}\r\n\r\n",
                        body.len()
                    );
                    s.get_mut().write_all(head.as_bytes()).unwrap();
                    s.get_mut().write_all(&body).unwrap();
                    let mut line = String::new();
                    s.read_line(&mut line).unwrap();
                    line.split(' ').nth(1).and_then(|v| v.parse::<u16>().ok()).unwrap_or(0)
                })
            })
            .collect();
        let mut answers = std::collections::BTreeMap::new();
        for t in threads {
            *answers.entry(t.join().unwrap()).or_insert(0) += 1;
        }
        let answers: Vec<String> = answers.iter().map(|(s, n)| format!("{n} x {s}")).collect();
        // The heap is trimmed on a blocking thread after the last answer.
        std::thread::sleep(Duration::from_millis(500));
        println!(
            "| {kind} ({} B zstd), {name} | {} | {} MB | {} MB |",
            body.len(),
            answers.join(", "),
            status_kb(p.child.id(), "VmHWM:") / 1024,
            status_kb(p.child.id(), "VmRSS:") / 1024
        );
    }
}

/// Devices, days and labels of the generated fleet.
const FLEET_DEVICES: i64 = 10_000;
const FLEET_DAYS: i64 = 30;
const FLEET_LABELS: i64 = 5;

/// Generates the fleet's rollups in a fresh database and times the report.
fn fleet_query(base: &str) {
    let db = format!("sockstatlog_fleet_bench_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    let connect = |u: String| async move {
        let (c, conn) = tokio_postgres::connect(&u, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        c
    };
    rt.block_on(async {
        connect(base.to_string()).await.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
        sockstatlog_tools::collector::pg::connect_pool(&url).await.unwrap();
    });
    let c = rt.block_on(connect(url.clone()));
    let t = Instant::now();
    let hours = FLEET_DAYS * 24;
    let gen = format!(
        "SET synchronous_commit = off;
         CREATE TEMP TABLE active AS
           SELECT d, h FROM generate_series(1, {FLEET_DEVICES}) d, generate_series(0, {hours} - 1) h
           WHERE random() < 0.1;
         INSERT INTO sockstatlog_logs (log_id, public_id, collection)
           SELECT lpad(to_hex(d), 64, '0'), encode(sha256(decode(lpad(to_hex(d), 64, '0'), 'hex')), 'hex'), 'bench'
           FROM generate_series(1, {FLEET_DEVICES}) d;
         INSERT INTO sockstatlog_label_names (log_id, label, name)
           SELECT lpad(to_hex(d), 64, '0'), l, 'label ' || l FROM generate_series(1, {FLEET_DEVICES}) d,
                  generate_series(0, 19) l;
         INSERT INTO sockstatlog_hours (log_id, hour, entries, first_t, last_t)
           SELECT lpad(to_hex(d), 64, '0'), h0 + h::int8 * 3600000, 360, h0 + h::int8 * 3600000, h0 + h::int8 * 3600000 + 3599000
           FROM active, (SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::int8 - {hours}::int8 * 3600000 AS h0) z;
         INSERT INTO sockstatlog_rollup (log_id, hour, label, cellular, tx, rx, windows)
           SELECT lpad(to_hex(d), 64, '0'), h0 + h::int8 * 3600000, (d + k * 7) % 20, c,
                  (random() * 1e6)::int8, (random() * 1e7)::int8, 1 + (random() * 359)::int8
           FROM active, generate_series(1, {FLEET_LABELS}) k, (VALUES (false), (true)) n(c),
                (SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::int8 - {hours}::int8 * 3600000 AS h0) z;
         ANALYZE;"
    );
    rt.block_on(c.batch_execute(&gen)).unwrap();
    let rows: i64 = rt.block_on(c.query_one("SELECT count(*) FROM sockstatlog_rollup", &[])).unwrap().get(0);
    let size: String = rt
        .block_on(c.query_one(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits \
                              WHERE inhparent = 'sockstatlog_rollup'::regclass",
            &[],
        ))
        .unwrap()
        .get(0);
    println!(
        "\nfleet: {FLEET_DEVICES} devices x {FLEET_DAYS} days, {rows} rollup rows ({size} with indexes), generated in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    println!("\n| fleet report | median of 3 | runs |\n|---|---|---|");
    for (name, extra) in [("whole 30 days", vec![]), ("--since 24h", vec!["--since", "24h"])] {
        let mut runs: Vec<f64> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let out = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
                    .args(["report", "--postgres", &url, "--fleet", "--json"])
                    .args(&extra)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                t.elapsed().as_secs_f64()
            })
            .collect();
        let all: Vec<String> = runs.iter().map(|r| format!("{r:.2} s")).collect();
        runs.sort_by(f64::total_cmp);
        println!("| {name} | {:.2} s | {} |", runs[1], all.join(", "));
    }
    for (name, sql) in sockstatlog_tools::report::fleet::statements() {
        let sql =
            sql.replace("$1", "(-9223372036854775807 - 1)").replace("$2", "9223372036854775807").replace("$3", "20");
        let plan = rt.block_on(c.query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"), &[])).unwrap();
        println!("\nplan, {name} (whole period):\n```");
        for r in plan {
            println!("{}", r.get::<_, String>(0));
        }
        println!("```");
    }
    drop(c);
    rt.block_on(async { connect(base.to_string()).await.batch_execute(&format!("DROP DATABASE {db}")).await.unwrap() });
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
