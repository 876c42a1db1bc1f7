//! The simulated network extension's subsystems and the shapes of their
//! traffic: what each label would carry on a phone running a VPN. Pure and
//! seeded: the bytes of a step depend only on the seed, the label and the
//! step's time, never on the wall clock or thread timing.

use super::scenario::Scenario;

/// The simulation advances in steps of 20 simulated ms: a fifth of the
/// logger's 100 ms poll, so a burst can start mid-window, and at speed 150
/// still 133 µs of real time, which a sleeping thread can keep.
pub const STEP_MS: u64 = 20;
/// Which pusher thread drives a subsystem: the data plane (WireGuard, DERP,
/// the bulk transfer) or the control plane (control, DNS, probes, logs).
pub const PACKET_LOOP: usize = 0;
/// See [`PACKET_LOOP`].
pub const CONTROL_LOOP: usize = 1;
/// Number of pusher threads.
pub const THREADS: usize = 2;

/// How a subsystem's bytes are spread over time. Rates are per simulated
/// second; burst totals are per burst.
#[derive(Debug, Clone, Copy)]
#[allow(missing_docs)] // each variant's doc describes its fields
pub enum Shape {
    /// A long-lived stream (the DERP relay, WireGuard over UDP): every step
    /// carries the rate, varied by ±`jitter_pct`.
    Steady { tx_per_s: u64, rx_per_s: u64, jitter_pct: u64 },
    /// A burst every `period_ms` (±20 %), spread over `len_ms`: control
    /// polls, log uploads.
    Periodic { period_ms: u64, tx: u64, rx: u64, len_ms: u64 },
    /// Bursts of `queries` request/response pairs at random (exponential)
    /// gaps of mean `mean_gap_ms`: DNS.
    Bursts { mean_gap_ms: u64, queries: (u64, u64), tx: u64, rx: u64 },
    /// A transfer at a steady rate (±10 %) from `from_pct` to `to_pct` of
    /// the run: a video upload.
    Bulk { from_pct: u64, to_pct: u64, tx_per_s: u64, rx_per_s: u64 },
    /// One burst `delay_ms` after every network change (and at the start):
    /// re-dials, netchecks and portmapper probes.
    OnChange { delay_ms: u64, tx: u64, rx: u64, len_ms: u64 },
}

/// One labelled subsystem of the simulated extension.
#[derive(Debug, Clone, Copy)]
pub struct Subsystem {
    /// Label id.
    pub label: u32,
    /// Its name; ids above 12 are registered with the logger under it.
    pub name: &'static str,
    /// The pusher thread that reports it.
    pub thread: usize,
    /// Reported as cumulative totals (`set_totals`, as a host reading the
    /// OS's per-socket counters would) rather than increments (`add`).
    pub totals: bool,
    /// Its traffic, the sum of these shapes.
    pub shapes: &'static [Shape],
}

const fn sub(label: u32, name: &'static str, thread: usize, shapes: &'static [Shape]) -> Subsystem {
    Subsystem { label, name, thread, totals: false, shapes }
}

/// The extension: upstream's labels 0..=12 with upstream's names (11, the
/// logger's own uploads, is left to the logger), plus two app subsystems.
pub const SUBSYSTEMS: [Subsystem; 14] = [
    sub(
        0,
        "ControlClientAuto",
        CONTROL_LOOP,
        &[Shape::Periodic { period_ms: 30_000, tx: 600, rx: 2_500, len_ms: 200 }],
    ),
    sub(
        1,
        "ControlClientDialer",
        CONTROL_LOOP,
        &[Shape::OnChange { delay_ms: 300, tx: 4_500, rx: 7_800, len_ms: 400 }],
    ),
    Subsystem {
        totals: true,
        ..sub(2, "DERPHTTPClient", PACKET_LOOP, &[Shape::Steady { tx_per_s: 1_800, rx_per_s: 2_600, jitter_pct: 50 }])
    },
    sub(
        3,
        "LogtailLogger",
        CONTROL_LOOP,
        &[Shape::Periodic { period_ms: 120_000, tx: 90_000, rx: 1_200, len_ms: 1_500 }],
    ),
    sub(
        4,
        "DNSForwarderDoH",
        CONTROL_LOOP,
        &[Shape::Bursts { mean_gap_ms: 40_000, queries: (1, 4), tx: 400, rx: 900 }],
    ),
    sub(5, "DNSForwarderUDP", CONTROL_LOOP, &[Shape::Bursts { mean_gap_ms: 6_000, queries: (2, 12), tx: 60, rx: 180 }]),
    sub(
        6,
        "NetcheckClient",
        CONTROL_LOOP,
        &[
            Shape::Periodic { period_ms: 25_000, tx: 1_200, rx: 1_400, len_ms: 300 },
            Shape::OnChange { delay_ms: 100, tx: 1_200, rx: 1_400, len_ms: 300 },
        ],
    ),
    sub(7, "PortmapperClient", CONTROL_LOOP, &[Shape::OnChange { delay_ms: 200, tx: 300, rx: 250, len_ms: 100 }]),
    sub(8, "MagicsockConnUDP4", PACKET_LOOP, &[Shape::Steady { tx_per_s: 6_000, rx_per_s: 22_000, jitter_pct: 80 }]),
    sub(9, "MagicsockConnUDP6", PACKET_LOOP, &[Shape::Steady { tx_per_s: 1_500, rx_per_s: 4_000, jitter_pct: 80 }]),
    sub(10, "NetlogLogger", CONTROL_LOOP, &[Shape::Periodic { period_ms: 60_000, tx: 8_000, rx: 600, len_ms: 500 }]),
    sub(
        12,
        "DNSForwarderTCP",
        CONTROL_LOOP,
        &[Shape::Bursts { mean_gap_ms: 90_000, queries: (1, 2), tx: 90, rx: 1_600 }],
    ),
    sub(
        13,
        "VideoUpload",
        PACKET_LOOP,
        &[Shape::Bulk { from_pct: 20, to_pct: 40, tx_per_s: 250_000, rx_per_s: 8_000 }],
    ),
    sub(14, "PushNotifications", CONTROL_LOOP, &[Shape::Periodic { period_ms: 28_000, tx: 90, rx: 90, len_ms: 20 }]),
];

/// A burst being spread over the next steps.
#[derive(Debug)]
struct Burst {
    steps_left: u64,
    tx_left: u64,
    rx_left: u64,
}

impl Burst {
    fn new(tx: u64, rx: u64, len_ms: u64) -> Burst {
        Burst { steps_left: (len_ms / STEP_MS).max(1), tx_left: tx, rx_left: rx }
    }

    /// This step's even share; the last step takes the remainder.
    fn take(&mut self) -> (u64, u64) {
        let (tx, rx) = (self.tx_left / self.steps_left, self.rx_left / self.steps_left);
        self.steps_left -= 1;
        if self.steps_left == 0 {
            return (self.tx_left, self.rx_left);
        }
        self.tx_left -= tx;
        self.rx_left -= rx;
        (tx, rx)
    }
}

/// One shape's state: its own seeded generator and its next burst.
#[derive(Debug)]
struct ShapeState {
    shape: Shape,
    rng: fastrand::Rng,
    next_ms: u64,
    active: Vec<Burst>,
}

/// A subsystem's traffic generator.
#[derive(Debug)]
pub struct Source {
    /// What it simulates.
    pub subsystem: Subsystem,
    shapes: Vec<ShapeState>,
}

impl Source {
    /// A generator for `subsystem`, reproducible from `seed`.
    pub fn new(subsystem: Subsystem, seed: u64) -> Source {
        let shapes = subsystem
            .shapes
            .iter()
            .enumerate()
            .map(|(i, &shape)| {
                // Distinct, fixed streams per (label, shape) from one seed.
                let mut rng = fastrand::Rng::with_seed(seed ^ ((subsystem.label as u64) << 32 | i as u64));
                let next_ms = match shape {
                    Shape::Periodic { period_ms, .. } => rng.u64(0..period_ms),
                    Shape::Bursts { mean_gap_ms, .. } => exponential(&mut rng, mean_gap_ms),
                    _ => 0,
                };
                ShapeState { shape, rng, next_ms, active: Vec::new() }
            })
            .collect();
        Source { subsystem, shapes }
    }

    /// Bytes `(tx, rx)` of the step starting at `t_ms`.
    pub fn step(&mut self, t_ms: u64, scenario: &Scenario) -> (u64, u64) {
        let (mut tx, mut rx) = (0, 0);
        for s in &mut self.shapes {
            let (a, b) = s.step(t_ms, scenario);
            tx += a;
            rx += b;
        }
        if scenario.is_idle(t_ms) {
            (0, 0)
        } else {
            (tx, rx)
        }
    }
}

impl ShapeState {
    fn step(&mut self, t: u64, scenario: &Scenario) -> (u64, u64) {
        let per_step = |rate: u64| rate * STEP_MS / 1000;
        let end = t + STEP_MS;
        match self.shape {
            Shape::Steady { tx_per_s, rx_per_s, jitter_pct } => {
                let j = self.rng.u64(100 - jitter_pct..=100 + jitter_pct);
                return (per_step(tx_per_s) * j / 100, per_step(rx_per_s) * j / 100);
            }
            Shape::Bulk { from_pct, to_pct, tx_per_s, rx_per_s } => {
                let span = scenario.total_ms * from_pct / 100..scenario.total_ms * to_pct / 100;
                if !span.contains(&t) {
                    return (0, 0);
                }
                let j = self.rng.u64(90..=110);
                return (per_step(tx_per_s) * j / 100, per_step(rx_per_s) * j / 100);
            }
            Shape::Periodic { period_ms, tx, rx, len_ms } => {
                while self.next_ms < end {
                    self.active.push(Burst::new(tx, rx, len_ms));
                    self.next_ms += self.rng.u64(period_ms * 4 / 5..=period_ms * 6 / 5);
                }
            }
            Shape::Bursts { mean_gap_ms, queries, tx, rx } => {
                while self.next_ms < end {
                    let n = self.rng.u64(queries.0..=queries.1);
                    // A burst of lookups lands within a couple of steps.
                    self.active.push(Burst::new(n * tx, n * rx, 2 * STEP_MS));
                    self.next_ms += exponential(&mut self.rng, mean_gap_ms).max(STEP_MS);
                }
            }
            Shape::OnChange { delay_ms, tx, rx, len_ms } => {
                for change in scenario.changes() {
                    if (t..end).contains(&(change + delay_ms)) {
                        self.active.push(Burst::new(tx, rx, len_ms));
                    }
                }
            }
        }
        let (mut tx, mut rx) = (0, 0);
        for b in &mut self.active {
            let (a, c) = b.take();
            tx += a;
            rx += c;
        }
        self.active.retain(|b| b.steps_left > 0);
        (tx, rx)
    }
}

/// An exponentially distributed gap of mean `mean_ms` (Poisson arrivals).
fn exponential(rng: &mut fastrand::Rng, mean_ms: u64) -> u64 {
    (-(1.0 - rng.f64()).ln() * mean_ms as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(sub: Subsystem, seed: u64, scenario: &Scenario) -> (u64, u64) {
        let mut src = Source::new(sub, seed);
        (0..scenario.total_ms / STEP_MS).fold((0, 0), |(a, b), k| {
            let (tx, rx) = src.step(k * STEP_MS, scenario);
            (a + tx, b + rx)
        })
    }

    #[test]
    fn the_same_seed_gives_the_same_traffic() {
        let sc = Scenario::new(120);
        for sub in SUBSYSTEMS {
            assert_eq!(total(sub, 7, &sc), total(sub, 7, &sc), "{}", sub.name);
        }
        assert_ne!(total(SUBSYSTEMS[5], 7, &sc), total(SUBSYSTEMS[5], 8, &sc));
    }

    #[test]
    fn a_burst_is_spread_without_losing_a_byte() {
        let mut b = Burst::new(1001, 7, 60);
        let parts: Vec<_> = (0..3).map(|_| b.take()).collect();
        assert_eq!(parts.iter().map(|p| p.0).sum::<u64>(), 1001);
        assert_eq!(parts.iter().map(|p| p.1).sum::<u64>(), 7);
        assert_eq!(b.steps_left, 0);
    }

    #[test]
    fn the_idle_stretch_is_silent_and_everything_else_talks() {
        let sc = Scenario::new(600);
        let mut src = Source::new(SUBSYSTEMS[8], 1);
        assert_eq!(src.step(sc.idle_ms.0, &sc), (0, 0));
        assert_ne!(src.step(sc.idle_ms.1, &sc), (0, 0));
        for sub in SUBSYSTEMS {
            assert_ne!(total(sub, 1, &sc), (0, 0), "{}", sub.name);
        }
    }

    #[test]
    fn labels_are_upstreams_below_13_and_unique() {
        let names = sockstatlog::labels::UPSTREAM_NAMES;
        let mut seen = std::collections::HashSet::new();
        for sub in SUBSYSTEMS {
            assert!(seen.insert(sub.label));
            if let Some(n) = names.get(sub.label as usize) {
                assert_eq!(*n, sub.name);
            }
        }
    }
}
