//! Driving a real logger with the simulated extension: two pusher threads
//! (a packet loop and a control loop, as in a real network extension) and
//! the coordinator that changes networks, on a clock `speed` times faster
//! than real time.
//!
//! **Why the expected cellular split is exact.** The logger attributes the
//! bytes counted before a `set_interface` call to the old network and those
//! after it to the new one. A push racing the call could land on either side,
//! so the two are serialised by one `RwLock<bool>` (is the network cellular):
//! a pusher holds the read lock while it pushes a step's bytes and tallies
//! them under the flag it read; a handover holds the write lock while it
//! calls `set_interface` and flips the flag. Every push therefore happens
//! wholly before or wholly after each handover, and the tally agrees with
//! the logger by construction. (A pusher running late still tallies under the
//! network that was current when it actually pushed, as the logger does.)

use super::compare::Tally;
use super::scenario::Scenario;
use super::traffic::{Source, STEP_MS, SUBSYSTEMS, THREADS};
use sockstatlog::logger::{CounterSample, Logger};
use sockstatlog::Result;
use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// Simulated milliseconds between two progress callbacks.
pub const PROGRESS_EVERY_MS: u64 = 1_000;

/// Maps simulated milliseconds since the start onto real time.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    start: Instant,
    speed: u32,
}

impl Pacer {
    /// Simulated time 0 is now.
    pub fn start(speed: u32) -> Pacer {
        Pacer { start: Instant::now(), speed: speed.max(1) }
    }

    /// Sleeps until simulated `t_ms`; returns at once when already late, so
    /// a thread that fell behind catches up instead of drifting.
    pub fn wait_until(&self, t_ms: u64) {
        let target = self.start + Duration::from_micros(t_ms * 1000 / self.speed as u64);
        std::thread::sleep(target.saturating_duration_since(Instant::now()));
    }
}

fn read(net: &RwLock<bool>) -> RwLockReadGuard<'_, bool> {
    net.read().unwrap_or_else(|e| e.into_inner())
}

/// Runs the scenario against `logger` (already enabled, on the scenario's
/// first interface) and returns what was pushed. `progress` gets the
/// simulated ms reached, every [`PROGRESS_EVERY_MS`].
pub fn drive(
    logger: &Logger,
    scenario: &Scenario,
    seed: u64,
    speed: u32,
    progress: &mut dyn FnMut(u64),
) -> Result<Tally> {
    let net = RwLock::new(scenario.handovers[0].cellular());
    let pacer = Pacer::start(speed);
    std::thread::scope(|scope| {
        let pushers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let sources: Vec<Source> =
                    SUBSYSTEMS.iter().filter(|s| s.thread == thread).map(|&s| Source::new(s, seed)).collect();
                let net = &net;
                std::thread::Builder::new()
                    .name(format!("demo-pusher-{thread}"))
                    .spawn_scoped(scope, move || push_loop(logger, scenario, sources, thread == 0, net, pacer))
                    .expect("spawning a demo pusher thread")
            })
            .collect();
        let coordinated = coordinate(logger, scenario, &net, pacer, progress);
        let mut tally = Tally::default();
        for p in pushers {
            let part = p.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?;
            tally.merge(&part);
        }
        coordinated.map(|()| tally)
    })
}

/// The coordinator: handovers at their times, progress every second.
fn coordinate(
    logger: &Logger,
    scenario: &Scenario,
    net: &RwLock<bool>,
    pacer: Pacer,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut next = scenario.handovers.iter().skip(1).peekable();
    let mut t = 0;
    while t < scenario.total_ms {
        t = (t + PROGRESS_EVERY_MS).min(scenario.total_ms);
        while let Some(h) = next.next_if(|h| h.at_ms <= t) {
            pacer.wait_until(h.at_ms);
            let mut cellular = net.write().unwrap_or_else(|e| e.into_inner());
            logger.set_interface(h.name, h.kind)?;
            *cellular = h.cellular();
            drop(cellular);
            logger.write_text(&format!("demo: default route now {} ({})", h.name, h.kind.as_str()))?;
        }
        pacer.wait_until(t);
        progress(t);
    }
    Ok(())
}

/// One pusher thread: each step's bytes are pushed at the step's end. The
/// packet loop batches its pushes (`push_batch`), the control loop calls
/// `add`; subsystems reporting totals go through `set_totals` semantics.
fn push_loop(
    logger: &Logger,
    scenario: &Scenario,
    mut sources: Vec<Source>,
    batched: bool,
    net: &RwLock<bool>,
    pacer: Pacer,
) -> Result<Tally> {
    let mut tally = Tally::default();
    // The OS's per-socket counters of subsystems that report totals.
    let mut sockets: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut reset_done = false;
    let mut batch = Vec::with_capacity(sources.len());
    for k in 0..scenario.total_ms / STEP_MS {
        let t = k * STEP_MS;
        if !reset_done && t >= scenario.derp_reset_ms {
            // The re-dialled socket counts from zero again.
            sockets.values_mut().for_each(|v| *v = (0, 0));
            reset_done = true;
        }
        batch.clear();
        for src in &mut sources {
            let (tx, rx) = src.step(t, scenario);
            if tx | rx == 0 {
                continue;
            }
            let label = src.subsystem.label;
            let sample = if src.subsystem.totals {
                let s = sockets.entry(label).or_default();
                *s = (s.0 + tx, s.1 + rx);
                CounterSample { label, tx: s.0, rx: s.1, is_total: true }
            } else {
                CounterSample { label, tx, rx, is_total: false }
            };
            batch.push((sample, tx, rx));
        }
        pacer.wait_until(t + STEP_MS);
        let cellular = read(net);
        if batched {
            let samples: Vec<CounterSample> = batch.iter().map(|b| b.0).collect();
            logger.push_batch(&samples)?;
        } else {
            for (s, _, _) in &batch {
                if s.is_total {
                    logger.set_totals(s.label, s.tx, s.rx)?;
                } else {
                    logger.add(s.label, s.tx, s.rx)?;
                }
            }
        }
        for (s, tx, rx) in &batch {
            tally.add(s.label, *tx, *rx, *cellular);
        }
    }
    Ok(tally)
}
