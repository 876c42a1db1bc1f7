//! Our side of the side-by-side benchmark against upstream's Go code
//! (`benches/upstream/run.sh` builds it as the `upstream_ours` example and
//! the Go harness runs it). Each subcommand mirrors the Go harness's child of
//! the same name, on the same inputs, and prints one JSON object:
//!
//! - `tick -labels N -iters K`: K sampler ticks with N labels changed in each
//!   (the counter adds, `Sampler::tick`, `Event::write_json`);
//! - `write -dir D -batches B [-fsync]`: B batches of the same 100 events
//!   encoded as logtail lines and appended to the two-file log, with or
//!   without the writer's per-batch fsync;
//! - `upload -dir D -url U -expect N`: open the log in D, start the
//!   uploader, flush it to the sink and check that N lines went;
//! - `idle -dir D -url U`: an enabled logger with no traffic; prints
//!   `ready`, then runs until killed.

use sockstatlog::config::{Config, UploadConfig};
use sockstatlog::logid::{PrivateId, PublicId};
use sockstatlog::replay::Event;
use sockstatlog::testing::Counters;
use sockstatlog::testing::Encoder;
use sockstatlog::testing::OwnedLog;
use sockstatlog::testing::Pending;
use sockstatlog::testing::Sampler;
use sockstatlog::testing::Uploader;
use sockstatlog::testing::{FilchOptions, LogFiles};
use sockstatlog::Logger;
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Milliseconds between ticks on the bench's own timeline (the default poll).
const POLL_MS: u64 = 100;
/// How long an upload may take before the bench gives up.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// `-name value` pairs and bare `-flag`s of one subcommand.
struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<&str> {
        let i = self.0.iter().position(|a| a == name)?;
        self.0.get(i + 1).map(String::as_str)
    }
    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.value(name).map(|v| v.parse().unwrap_or_else(|_| panic!("bad {name}: {v}"))).unwrap_or(default)
    }
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(self.value(name).unwrap_or_else(|| panic!("missing {name}")))
    }
    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

fn emit(fields: &[(&str, f64)]) {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", body.join(","));
}

fn tick(args: &Args) {
    let labels: u8 = args.get("-labels", 13);
    let iters: u64 = args.get("-iters", 200_000);
    let counters = Counters::default();
    let mut sampler = Sampler::new(POLL_MS);
    let mut now = 0;
    sampler.enable(now, &counters);
    let mut out = String::new();
    let mut run = |n: u64| {
        for _ in 0..n {
            for l in 0..labels {
                counters.add(l, 100, 10);
            }
            now += POLL_MS;
            if sampler.is_idle() {
                counters.clear_idle();
                sampler.wake(now);
            }
            if let Some(ev) = sampler.tick(&counters) {
                out.clear();
                ev.write_json(&mut out);
                out.push('\n');
            }
        }
        black_box(&out);
    };
    run(iters / 10);
    let start = Instant::now();
    run(iters);
    emit(&[("ns", start.elapsed().as_nanos() as f64 / iters as f64), ("bytes", out.len() as f64)]);
}

/// The Go harness's 100 events of one write batch.
fn batch_events() -> Vec<Pending> {
    (0..100u64)
        .map(|i| {
            let stats = vec![(2, 4000 + i, 300), (5, 120, 800), (8, 60_000, 90_000)];
            Pending::Event(Event { start_ms: 1_680_054_284_508 + i * 100, dur_ms: 100, cellular: i % 3 == 0, stats })
        })
        .collect()
}

fn write(args: &Args) {
    let batches: u64 = args.get("-batches", 200);
    let fsync = args.flag("-fsync");
    let mut files = LogFiles::open(&args.path("-dir"), FilchOptions::default()).unwrap();
    let items = batch_events();
    let mut w = Encoder::new();
    let mut buf = String::new();
    let mut run = |n: u64| {
        for _ in 0..n {
            buf.clear();
            w.encode_batch(
                &items,
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos(),
                &mut buf,
            );
            files.append(buf.as_bytes()).unwrap();
            if fsync {
                files.sync().unwrap();
            }
        }
    };
    run(batches / 10);
    let start = Instant::now();
    run(batches);
    emit(&[("ns", start.elapsed().as_nanos() as f64 / batches as f64)]);
}

fn upload(args: &Args) {
    let expect: u64 = args.get("-expect", 0);
    let cfg =
        UploadConfig { base_url: args.value("-url").unwrap().to_string(), allow_http: true, ..Default::default() };
    let start = Instant::now();
    // As a logger's uploader reads it: the log owned by a writer thread,
    // every peek and commit a job on that thread.
    let log = OwnedLog::start(LogFiles::open(&args.path("-dir"), FilchOptions::default()).unwrap());
    let id = PrivateId(std::array::from_fn(|_| fastrand::u8(..)));
    let up = Uploader::start(&cfg, id, log.source(), Arc::new(Counters::default()), None).unwrap();
    let report = up.flush(UPLOAD_TIMEOUT);
    let elapsed = start.elapsed();
    assert!(report.drained && report.entries == expect, "{report:?}, expected {expect} entries");
    up.shutdown(Duration::from_secs(5));
    emit(&[("ns", elapsed.as_nanos() as f64), ("batches", report.batches as f64), ("hwm_kib", peak_rss_kib())]);
}

/// This process's VmHWM in KiB (the Go harness explains why not rusage).
fn peak_rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
    hwm.and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}

fn idle(args: &Args) {
    let mut config = Config::new(args.path("-dir"), PublicId(std::array::from_fn(|_| fastrand::u8(..))));
    config.upload =
        UploadConfig { base_url: args.value("-url").unwrap().to_string(), allow_http: true, ..Default::default() };
    let logger = Logger::new(config).unwrap();
    logger.enable().unwrap();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready").unwrap();
    stdout.flush().unwrap();
    loop {
        std::thread::park();
    }
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().unwrap_or_default();
    let args = Args(argv.collect());
    match cmd.as_str() {
        "tick" => tick(&args),
        "write" => write(&args),
        "upload" => upload(&args),
        "idle" => idle(&args),
        _ => {
            eprintln!("usage: upstream_ours tick|write|upload|idle [flags]");
            std::process::exit(2);
        }
    }
}
