//! Wake-ups per second of a real enabled logger (default 100 ms poll, 10 s
//! write interval): with no traffic (target 0) and with steady traffic from
//! a pusher thread (target 10 sampler ticks + 0.1 writer wake-ups).
//! Run: `cargo bench --bench wakeups` (SOCKSTATLOG_BENCH_SECS, default 30).

use sockstatlog::logid::PublicId;
use sockstatlog::{Config, Logger};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn measure(traffic: bool, secs: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let logger = Logger::new(Config::new(dir.path(), PublicId([1; 32]))).unwrap();
    logger.enable().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let pusher = traffic.then(|| {
        let (l, stop) = (logger.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                l.add(2, 1200, 80).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    });
    // Let the enable's own wake-ups pass: the header entry's write after one
    // write interval, and the writer's one look after a second interval
    // before it goes back to sleeping without a timeout.
    std::thread::sleep(Duration::from_secs(21));
    let before = logger.stats().unwrap().wakeups;
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let woke = logger.stats().unwrap().wakeups - before;
    let rate = woke as f64 / start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = pusher {
        p.join().unwrap();
    }
    logger.shutdown(Duration::from_secs(5)).unwrap();
    rate
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes bench binaries this way
    }
    let secs = std::env::var("SOCKSTATLOG_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    println!("wakeups/idle: {:.3} per second over {secs} s", measure(false, secs));
    println!("wakeups/steady_traffic: {:.3} per second over {secs} s", measure(true, secs));
}
