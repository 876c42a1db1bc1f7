//! Many threads push while the sampler runs on its own thread with the same
//! sleep/wake handshake as the logger's (sleep with no timeout while idle):
//! totals must come out exact, and the sampler must never sleep through
//! bytes it has not reported (a lost wake-up would hang the liveness wait).

use sockstatlog::testing::Counters;
use sockstatlog::testing::Sampler;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

type Totals = BTreeMap<u8, [u64; 2]>;

fn sum(into: &mut Totals, stats: &[(u8, u64, u64)]) {
    for &(l, tx, rx) in stats {
        let s = into.entry(l).or_default();
        s[0] += tx;
        s[1] += rx;
    }
}

#[test]
fn concurrent_pushers_lose_nothing_and_never_strand_bytes_behind_an_idle_sampler() {
    const THREADS: u64 = 4;
    const PUSHES: u64 = 1_000_000;
    let counters = Arc::new(Counters::default());
    let emitted = Arc::new(Mutex::new(Totals::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let origin = Instant::now();
    let now_ms = move || origin.elapsed().as_millis() as u64 + 1;

    // Enabled here, before any pusher starts: bytes pushed before the
    // baseline are (rightly) never reported, so the test must not race it.
    let mut s = Sampler::new(1);
    s.enable(now_ms(), &counters);
    let sampler_thread = {
        let (counters, emitted, stop) = (counters.clone(), emitted.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let now = now_ms();
                s.run_ticks(now, true, &counters, |ev| sum(&mut emitted.lock().unwrap(), &ev.stats));
                match s.next_deadline() {
                    Some(_) => thread::sleep(Duration::from_micros(200)),
                    None => thread::park(),
                }
            }
        })
    };
    counters.set_sampler_thread(sampler_thread.thread().clone());

    // Several rounds, with pauses long enough for the sampler to go idle, so
    // pushes keep racing the idle hand-over.
    let mut pushed = Totals::new();
    for round in 0..4u64 {
        let pushers: Vec<_> = (0..THREADS)
            .map(|t| {
                let c = counters.clone();
                thread::spawn(move || {
                    for i in 0..PUSHES / 4 {
                        let label = ((t + i) % 5) as u8;
                        c.add(label, 1, i & 1);
                        if i % 1000 == 0 {
                            c.set_totals(200 + t as u8, round * 1000 + i / 1000, 0);
                        }
                    }
                })
            })
            .collect();
        for p in pushers {
            p.join().unwrap();
        }
        thread::sleep(Duration::from_millis(5));
    }
    for t in 0..THREADS {
        for i in 0..PUSHES / 4 {
            let s = pushed.entry(((t + i) % 5) as u8).or_default();
            s[0] += 4; // once per round
            s[1] += 4 * (i & 1);
        }
        // Per round the totals climb to round*1000+249, then drop to
        // (round+1)*1000: growth, never a reset. 3249 in all.
        pushed.entry(200 + t as u8).or_default()[0] = 3 * 1000 + (PUSHES / 4 - 1) / 1000;
    }

    // Liveness: without any disable, the sampler must report everything.
    let deadline = Instant::now() + Duration::from_secs(20);
    while *emitted.lock().unwrap() != pushed && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::SeqCst);
    sampler_thread.thread().unpark();
    sampler_thread.join().unwrap();
    assert_eq!(*emitted.lock().unwrap(), pushed);
    assert_eq!(counters.resets(), 0);
}

#[test]
fn concurrent_folds_of_full_packed_halves_count_every_byte_once() {
    use sockstatlog::testing::FAST_PUSH_MAX;
    const PUSHES: u64 = 200_000;
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    // A reader snapshotting all the while: values must never go backwards.
    let reader = {
        let (c, stop) = (counters.clone(), stop.clone());
        thread::spawn(move || {
            let mut last = [0u64; 2];
            while !stop.load(Ordering::SeqCst) {
                let now = c.snapshot().0[1];
                assert!(now[0] >= last[0] && now[1] >= last[1], "snapshot went backwards");
                last = now;
            }
        })
    };
    let pushers: Vec<_> = (0..2)
        .map(|_| {
            let c = counters.clone();
            thread::spawn(move || {
                for i in 0..PUSHES {
                    c.add(1, FAST_PUSH_MAX - 1, 3 + (i % 2) * (FAST_PUSH_MAX - 4));
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    let rx_per_thread = PUSHES / 2 * 3 + PUSHES / 2 * (FAST_PUSH_MAX - 1);
    assert_eq!(counters.snapshot().0[1], [2 * PUSHES * (FAST_PUSH_MAX - 1), 2 * rx_per_thread]);
}

#[test]
fn recent_usage_read_while_eight_threads_push_never_goes_backwards_and_ends_exact() {
    use sockstatlog::{logid::PublicId, Config, InterfaceKind, Logger};
    const THREADS: u64 = 8;
    const PUSHES: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path(), PublicId([7; 32]));
    config.poll_interval = Duration::from_millis(1);
    config.write_interval = Duration::from_millis(50);
    let logger = Logger::new(config).unwrap();
    logger.register_label(200, "Pusher0").unwrap();
    logger.enable().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    // The reader: every label's totals only ever grow while pushes land.
    let reader = {
        let (l, done) = (logger.clone(), done.clone());
        thread::spawn(move || {
            let mut last = Totals::new();
            let mut reads = 0u64;
            while !done.load(Ordering::SeqCst) || reads == 0 {
                for u in l.recent_usage(Duration::from_secs(3600)).unwrap() {
                    let before = last.insert(u.label as u8, [u.tx, u.rx]).unwrap_or_default();
                    assert!(u.tx >= before[0] && u.rx >= before[1], "label {} went backwards", u.label);
                }
                reads += 1;
            }
            reads
        })
    };
    let pushers: Vec<_> = (0..THREADS)
        .map(|t| {
            let l = logger.clone();
            thread::spawn(move || {
                for i in 0..PUSHES {
                    l.add(200 + t as u32, 1, i & 1).unwrap();
                    l.add(7, 2, 0).unwrap(); // one label shared by all
                    if t == 0 && i == PUSHES / 2 {
                        l.set_interface("rmnet0", InterfaceKind::Unknown).unwrap();
                    }
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    logger.disable().unwrap(); // closes the open window: every push is in
    done.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);

    let usage = logger.recent_usage(Duration::from_secs(3600)).unwrap();
    assert_eq!(usage[0].label, 7, "the shared label moved the most bytes");
    assert_eq!((usage[0].tx, usage[0].rx), (2 * THREADS * PUSHES, 0));
    for t in 0..THREADS {
        let u = usage.iter().find(|u| u.label == 200 + t as u32).unwrap();
        assert_eq!((u.tx, u.rx), (PUSHES, PUSHES / 2), "label {}", u.label);
        assert!(u.cellular_tx <= u.tx && u.cellular_rx <= u.rx);
    }
    let cellular: u64 = usage.iter().map(|u| u.cellular_tx).sum();
    assert!(cellular > 0 && cellular < 4 * THREADS * PUSHES, "pushes after the switch count as cellular");
    assert_eq!(usage.len(), 1 + THREADS as usize);
    assert_eq!(usage.iter().find(|u| u.label == 200).unwrap().name.as_deref(), Some("Pusher0"));
    assert_eq!(usage.iter().find(|u| u.label == 201).unwrap().name, None);
    assert_eq!(usage[0].name.as_deref(), Some("PortmapperClient"));
    logger.shutdown(Duration::from_secs(30)).unwrap();
}
