//! Criterion benchmarks of the core's hot paths: a push (and the checked
//! push the logger and JNI make) against the bare atomic add it is built
//! on, one sampler tick by number of changed labels, and encoding + writing
//! one 10 s batch of 100 events to disk.
//! Run: `cargo bench --bench core`. Figures: BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sockstatlog::replay::Event;
use sockstatlog::testing::Counters;
use sockstatlog::testing::Encoder;
use sockstatlog::testing::Pending;
use sockstatlog::testing::Sampler;
use sockstatlog::testing::Usage;
use sockstatlog::testing::{FilchOptions, LogFiles};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Runs `op(thread, i)` `iters` times on each of `threads` threads at once;
/// returns the mean time per op per thread.
fn on_threads(threads: usize, iters: u64, op: Arc<dyn Fn(usize, u64) + Send + Sync>) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (b, op) = (barrier.clone(), op.clone());
            std::thread::spawn(move || {
                b.wait();
                let start = Instant::now();
                for i in 0..iters {
                    op(t, i);
                }
                start.elapsed()
            })
        })
        .collect();
    barrier.wait();
    let total: Duration = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total / threads as u32
}

fn push(c: &mut Criterion) {
    let mut g = c.benchmark_group("push");
    let counters = Arc::new(Counters::default());
    let floor = Arc::new(AtomicU64::new(0));
    for threads in [1usize, 2] {
        let cs = counters.clone();
        g.bench_function(BenchmarkId::new("counters_add_same_label", threads), |b| {
            b.iter_custom(|n| {
                let cs = cs.clone();
                on_threads(threads, n, Arc::new(move |_, i| cs.add(3, black_box((i & 1023) | 1), black_box(1))))
            })
        });
        // What `Logger::add` and the JNI fast path run: the add, then the
        // closed flag read after it (shutdown's ordering guarantee).
        let cs = counters.clone();
        g.bench_function(BenchmarkId::new("counters_try_add_same_label", threads), |b| {
            b.iter_custom(|n| {
                let cs = cs.clone();
                on_threads(
                    threads,
                    n,
                    Arc::new(move |_, i| {
                        black_box(cs.try_add(3, black_box((i & 1023) | 1), black_box(1)));
                    }),
                )
            })
        });
        let cs = counters.clone();
        g.bench_function(BenchmarkId::new("counters_add_own_label", threads), |b| {
            b.iter_custom(|n| {
                let cs = cs.clone();
                on_threads(
                    threads,
                    n,
                    Arc::new(move |t, i| cs.add(20 + t as u8, black_box((i & 1023) | 1), black_box(1))),
                )
            })
        });
        let f = floor.clone();
        g.bench_function(BenchmarkId::new("bare_fetch_add", threads), |b| {
            b.iter_custom(|n| {
                let f = f.clone();
                on_threads(
                    threads,
                    n,
                    Arc::new(move |_, i| {
                        f.fetch_add(black_box(i), Ordering::SeqCst);
                    }),
                )
            })
        });
        let f2 = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        g.bench_function(BenchmarkId::new("bare_two_fetch_adds", threads), |b| {
            b.iter_custom(|n| {
                let f = f2.clone();
                on_threads(
                    threads,
                    n,
                    Arc::new(move |_, i| {
                        f[0].fetch_add(black_box(i), Ordering::SeqCst);
                        f[1].fetch_add(black_box(1), Ordering::SeqCst);
                    }),
                )
            })
        });
    }
    g.finish();
}

/// The sampler tick as the engine runs it: with the recent-usage record fed
/// each event (`with_usage`), or the tick alone, as before the record existed.
fn tick(c: &mut Criterion) {
    let mut g = c.benchmark_group("tick");
    for (name, with_usage) in [("changed_labels", false), ("changed_labels_with_usage", true)] {
        tick_group(&mut g, name, with_usage);
    }
    g.finish();
}

fn tick_group(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, name: &str, with_usage: bool) {
    for changed in [0usize, 1, 16, 256] {
        g.bench_function(BenchmarkId::new(name, changed), |b| {
            let counters = Counters::default();
            let mut usage = Usage::default();
            let mut s = Sampler::new(100);
            s.enable(0, &counters);
            let mut now = 0;
            b.iter_custom(|n| {
                let mut spent = Duration::ZERO;
                for _ in 0..n {
                    for l in 0..changed {
                        counters.add(l as u8, 100, 10);
                    }
                    now += 100;
                    if s.is_idle() {
                        counters.clear_idle();
                        s.wake(now);
                    }
                    let start = Instant::now();
                    let ev = s.tick(&counters);
                    if let (true, Some(ev)) = (with_usage, &ev) {
                        usage.record(ev);
                    }
                    black_box(ev);
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
}

fn write_batch(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = LogFiles::open(dir.path(), FilchOptions::default()).unwrap();
    let items: Vec<Pending> = (0..100u64)
        .map(|i| {
            let stats = vec![(2, 4000 + i, 300), (5, 120, 800), (8, 60_000, 90_000)];
            Pending::Event(Event { start_ms: 1_680_054_284_508 + i * 100, dur_ms: 100, cellular: i % 3 == 0, stats })
        })
        .collect();
    let mut w = Encoder::new();
    let mut buf = String::new();
    c.bench_function("write/batch_of_100_events_encode_append_fsync", |b| {
        b.iter(|| {
            buf.clear();
            w.encode_batch(&items, 1_680_054_284_508_000_000, &mut buf);
            files.append(buf.as_bytes()).unwrap();
            files.sync().unwrap();
        })
    });
    c.bench_function("write/batch_of_100_events_encode_only", |b| {
        b.iter(|| {
            buf.clear();
            w.encode_batch(&items, 1_680_054_284_508_000_000, &mut buf);
            black_box(buf.len())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = push, tick, write_batch
}
criterion_main!(benches);
