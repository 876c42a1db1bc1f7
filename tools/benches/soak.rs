//! Whole-system soak and memory figures for BENCHMARKS.md (issue 6, part 3).
//! Measures and prints; asserts nothing.
//!
//! 1. Traffic soak: a real logger (default P = 100 ms, W = 10 s), 20 labels,
//!    10 000 pushes/s from 2 threads, in real time: CPU (process, logger
//!    threads, pushers), wake-ups/s, RSS growth, bytes written per hour.
//! 2. The same push loop with a no-op instead of the logger, to give the
//!    pushers' own cost (the difference is what the push calls cost).
//! 3. Idle soak: enabled, no traffic: wake-ups/s (target 0) and CPU.
//! 4. Heap of an enabled logger with 256 active labels after warm-up, and the
//!    peak heap while flushing a full 5 MiB log to a collector running as a
//!    child process (so that only the library's allocations are counted).
//!
//! Run: `cargo bench -p sockstatlog-tools --bench soak` (SOCKSTATLOG_SOAK_SECS,
//! default 600, is the length of each of the two soaks; the no-op
//! calibration runs a tenth of it).

use sockstatlog::logid::PublicId;
use sockstatlog::{Config, InterfaceKind, Logger};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The soak length the issue asks for: 10 minutes.
const DEFAULT_SOAK_SECS: u64 = 600;
/// Labels pushed in the traffic soak (issue 6).
const SOAK_LABELS: u32 = 20;
/// Pusher threads, as a packet loop plus a control loop would be.
const PUSHER_THREADS: usize = 2;
/// Pushes per second over all pusher threads (issue 6).
const PUSHES_PER_SEC: u64 = 10_000;
/// Pushers wake every 10 ms and push a batch of single `add` calls: a
/// realistic packet-loop cadence, and coarse enough that sleeping is cheap.
const PUSH_PERIOD: Duration = Duration::from_millis(10);
/// Ignore the first 11 s (the header write at enable, the first W batch).
const WARM_UP: Duration = Duration::from_secs(11);
/// Labels of the memory figure: every label slot.
const MEMORY_LABELS: u32 = 256;
/// Warm-up before the heap is read: two write intervals, so the pending
/// queue has filled and drained at least twice.
const MEMORY_WARM_UP: Duration = Duration::from_secs(25);
/// How long the steady-state heap is sampled after the warm-up.
const MEMORY_SAMPLE: Duration = Duration::from_secs(10);
/// The default log capacity, which the flush figure fills.
const FULL_LOG_BYTES: u64 = 5 << 20;
/// Clock speed used to fill the log quickly (P = 1 ms real).
const FILL_SPEED: u32 = 100;
/// Labels per window while filling the log (see `heap_flush_full_log`).
const FILL_LABELS_PER_WINDOW: u32 = 64;
/// Linux clock ticks per second for /proc/self/stat (`getconf CLK_TCK`).
const CLK_TCK: f64 = 100.0;

/// Counts live heap bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// CPU seconds of the whole process (user + system), as getrusage(SELF) gives.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / CLK_TCK
}

/// CPU seconds of one thread (scheduler run time, ns resolution).
fn thread_cpu(schedstat: &str) -> f64 {
    let s = std::fs::read_to_string(schedstat).unwrap_or_default();
    s.split(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1e9
}

/// CPU seconds of the logger's own threads (named `sockstatlog-*`; the
/// kernel keeps 15 characters of a name).
fn logger_threads_cpu() -> f64 {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with("sockstatlog-") {
            total += thread_cpu(task.path().join("schedstat").to_str().unwrap());
        }
    }
    total
}

/// Resident set size in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn new_logger(dir: &std::path::Path, speed: u32, url: Option<&str>) -> Logger {
    let mut config = Config::new(dir, PublicId([7; 32]));
    config.clock_speed = speed;
    if let Some(url) = url {
        config.upload.base_url = url.to_string();
        config.upload.allow_http = true;
    }
    let logger = Logger::new(config).unwrap();
    logger.set_interface("wlan0", InterfaceKind::Wifi).unwrap();
    logger.enable().unwrap();
    logger
}

/// Starts `threads` pushers doing `per_sec` pushes per second in total over
/// labels 0..labels, into `logger` or into a no-op. Each returns its own CPU
/// seconds and its running time when stopped.
fn start_pushers(
    logger: Option<Logger>,
    labels: u32,
    per_sec: u64,
    threads: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(f64, f64)>> {
    let per_period = (per_sec * PUSH_PERIOD.as_millis() as u64 / 1000 / threads as u64) as u32;
    (0..threads)
        .map(|i| {
            let (logger, stop) = (logger.clone(), stop.clone());
            std::thread::spawn(move || {
                let me = "/proc/thread-self/schedstat";
                let (cpu0, started) = (thread_cpu(me), Instant::now());
                let mut rng = fastrand::Rng::with_seed(i as u64);
                let mut next = Instant::now();
                let mut label = i as u32;
                while !stop.load(Relaxed) {
                    for _ in 0..per_period {
                        label = (label + 1) % labels;
                        let (tx, rx) = (rng.u64(40..1500), rng.u64(40..1500));
                        match &logger {
                            Some(l) => l.add(label, tx, rx).unwrap(),
                            None => {
                                std::hint::black_box((label, tx, rx));
                            }
                        }
                    }
                    next += PUSH_PERIOD;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                (thread_cpu(me) - cpu0, started.elapsed().as_secs_f64())
            })
        })
        .collect()
}

fn pct(cpu: f64, secs: f64) -> String {
    format!("{:.3}% of one core", cpu * 100.0 / secs)
}

/// One real-time soak; `traffic` false means enabled but silent.
fn soak(traffic: bool, secs: u64) {
    let name = if traffic { "soak/traffic" } else { "soak/idle" };
    let dir = tempfile::tempdir().unwrap();
    let logger = new_logger(dir.path(), 1, None);
    for id in 13..SOAK_LABELS {
        logger.register_label(id, &format!("Soak{id}")).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let pushers = if traffic {
        start_pushers(Some(logger.clone()), SOAK_LABELS, PUSHES_PER_SEC, PUSHER_THREADS, &stop)
    } else {
        Vec::new()
    };
    std::thread::sleep(WARM_UP);
    let (s0, rss0, cpu0, lcpu0) = (logger.stats().unwrap(), rss_kib(), process_cpu(), logger_threads_cpu());
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let elapsed = start.elapsed().as_secs_f64();
    let (s1, rss1, cpu1, lcpu1) = (logger.stats().unwrap(), rss_kib(), process_cpu(), logger_threads_cpu());
    stop.store(true, SeqCst);
    let pusher: Vec<(f64, f64)> = pushers.into_iter().map(|p| p.join().unwrap()).collect();
    logger.shutdown(Duration::from_secs(5)).unwrap();
    println!("{name}: {elapsed:.0} s measured after {} s warm-up", WARM_UP.as_secs());
    println!("{name}: process CPU (all threads, pushers included) {}", pct(cpu1 - cpu0, elapsed));
    println!("{name}: logger threads (sampler + writer) CPU {}", pct(lcpu1 - lcpu0, elapsed));
    if let Some(&(_, ran)) = pusher.first() {
        let cpu: f64 = pusher.iter().map(|p| p.0).sum();
        println!("{name}: pusher threads (loop + push calls) CPU {} over their {ran:.0} s", pct(cpu, ran));
    }
    println!("{name}: wake-ups {:.3}/s", (s1.wakeups - s0.wakeups) as f64 / elapsed);
    println!("{name}: RSS {rss0} KiB -> {rss1} KiB (growth {} KiB)", rss1 as i64 - rss0 as i64);
    let per_hour = (s1.bytes_written - s0.bytes_written) as f64 * 3600.0 / elapsed;
    println!("{name}: bytes written {:.0} per hour ({:.1} MiB/h)", per_hour, per_hour / (1 << 20) as f64);
    println!(
        "{name}: events {}, queue merges {}, write errors {}",
        s1.events - s0.events,
        s1.queue_merges - s0.queue_merges,
        s1.write_errors
    );
}

/// The pushers alone, pushing into a no-op: their loop's own cost.
fn noop_calibration(secs: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let pushers = start_pushers(None, SOAK_LABELS, PUSHES_PER_SEC, PUSHER_THREADS, &stop);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, SeqCst);
    let cpu: f64 = pushers.into_iter().map(|p| p.join().unwrap().0).sum();
    let elapsed = start.elapsed().as_secs_f64();
    println!("soak/noop-pushers: the same loop pushing into a no-op: {} over {elapsed:.0} s", pct(cpu, elapsed));
}

/// Steady-state heap of an enabled logger with every label active.
fn heap_256_labels() {
    let base = LIVE.load(SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let logger = new_logger(dir.path(), 1, None);
    let stop = Arc::new(AtomicBool::new(false));
    // One pusher touching every label every 10 ms: every window has 256 labels.
    let per_sec = MEMORY_LABELS as u64 * 1000 / PUSH_PERIOD.as_millis() as u64;
    let pushers = start_pushers(Some(logger.clone()), MEMORY_LABELS, per_sec, 1, &stop);
    std::thread::sleep(MEMORY_WARM_UP);
    let (mut max, mut sum, mut n) = (0usize, 0usize, 0usize);
    let end = Instant::now() + MEMORY_SAMPLE;
    while Instant::now() < end {
        let live = LIVE.load(SeqCst).saturating_sub(base);
        max = max.max(live);
        sum += live;
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, SeqCst);
    for p in pushers {
        p.join().unwrap();
    }
    logger.shutdown(Duration::from_secs(5)).unwrap();
    println!(
        "memory/256-labels: live heap after {} s warm-up: mean {} KiB, max {} KiB (over {} s)",
        MEMORY_WARM_UP.as_secs(),
        sum / n.max(1) / 1024,
        max / 1024,
        MEMORY_SAMPLE.as_secs()
    );
}

/// `sockstatlog collect` as a child process; returns it and its base URL.
fn start_collector(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockstatlog"))
        .args(["collect", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("collector start line").to_string();
    // Keep draining: the collector prints a line per request, and a closed
    // pipe would make its println fail mid-request.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, url)
}

/// Peak heap while flushing a full log.
fn heap_flush_full_log() {
    let collector_dir = tempfile::tempdir().unwrap();
    let (mut collector, url) = start_collector(collector_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let logger = new_logger(dir.path(), FILL_SPEED, Some(&url));
    let mut rng = fastrand::Rng::with_seed(5);
    // One window (1 ms real) per round with a quarter of the labels in it:
    // ~1.5 KiB lines, ~150 KiB per write, so the log passes 95 % of its
    // capacity before the rotation that drops its older half.
    let mut round = 0;
    while logger.stats().unwrap().stored_bytes < FULL_LOG_BYTES * 95 / 100 {
        for j in 0..FILL_LABELS_PER_WINDOW {
            let label = (round * FILL_LABELS_PER_WINDOW + j) % MEMORY_LABELS;
            logger.add(label, rng.u64(1..100_000), rng.u64(1..100_000)).unwrap();
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    logger.disable().unwrap();
    let stats = logger.stats().unwrap();
    let before = LIVE.load(SeqCst);
    PEAK.store(before, SeqCst);
    let start = Instant::now();
    let report = logger.flush(Duration::from_secs(120)).unwrap();
    let took = start.elapsed();
    let peak = PEAK.load(SeqCst);
    let after = LIVE.load(SeqCst);
    println!(
        "memory/flush-full-log: {} KiB stored ({} KiB unread, {} KiB dropped) -> {} batches, {} lines, drained {}, {:.2} s",
        stats.stored_bytes / 1024,
        stats.unread_bytes / 1024,
        stats.dropped_bytes / 1024,
        report.batches,
        report.entries,
        report.drained,
        took.as_secs_f64()
    );
    println!(
        "memory/flush-full-log: live heap before {} KiB, peak {} KiB (+{} KiB), after {} KiB (uploader kept)",
        before / 1024,
        peak / 1024,
        (peak - before) / 1024,
        after / 1024
    );
    logger.shutdown(Duration::from_secs(5)).unwrap();
    let _ = collector.kill();
    let _ = collector.wait();
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes bench binaries this way
    }
    let secs = std::env::var("SOCKSTATLOG_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SOAK_SECS);
    heap_256_labels();
    heap_flush_full_log();
    soak(true, secs);
    noop_calibration((secs / 10).max(1));
    soak(false, secs);
}
