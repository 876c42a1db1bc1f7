//! Properties of the sampler on random traces:
//! 1. its output equals a naive reference that ticks every P without ever
//!    idling (so sleeping while idle changes nothing), and
//! 2. the sum of emitted deltas per label equals the bytes pushed while
//!    enabled (nothing lost, nothing invented, resets never wrap).

use proptest::prelude::*;
use sockstatlog::replay::replay;
use sockstatlog::replay::Event;
use std::collections::BTreeMap;

const POLL: u64 = 100;
const LABELS: u8 = 4;

#[derive(Debug, Clone)]
enum Op {
    Enable,
    Disable,
    Add(u8, u64, u64),
    Totals(u8, u64, u64),
    Cellular(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Enable),
        1 => Just(Op::Disable),
        6 => (0..LABELS, 0..50u64, 0..50u64).prop_map(|(l, t, r)| Op::Add(l, t, r)),
        3 => (0..LABELS, 0..300u64, 0..300u64).prop_map(|(l, t, r)| Op::Totals(l, t, r)),
        2 => any::<bool>().prop_map(Op::Cellular),
    ]
}

/// Steps as (gap before the step in ms, op). Gaps are often 0 or multiples of
/// P so that steps land exactly on ticks, and sometimes long (idle periods).
fn trace() -> impl Strategy<Value = Vec<(u64, Op)>> {
    let gap = prop_oneof![3 => Just(0u64), 4 => 1..150u64, 2 => (1..4u64).prop_map(|k| k * POLL), 1 => 150..3000u64];
    proptest::collection::vec((gap, op()), 1..60)
}

fn to_jsonl(steps: &[(u64, Op)]) -> (String, u64) {
    let mut at = 0;
    let mut out = String::new();
    for (gap, op) in steps {
        at += gap;
        let line = match op {
            Op::Enable => format!(r#"{{"at":{at},"op":"enable"}}"#),
            Op::Disable => format!(r#"{{"at":{at},"op":"disable"}}"#),
            Op::Add(l, t, r) => format!(r#"{{"at":{at},"op":"add","label":{l},"tx":{t},"rx":{r}}}"#),
            Op::Totals(l, t, r) => format!(r#"{{"at":{at},"op":"totals","label":{l},"tx":{t},"rx":{r}}}"#),
            Op::Cellular(c) => {
                let kind = if *c { "cellular" } else { "wifi" };
                format!(r#"{{"at":{at},"op":"interface","name":"x","kind":"{kind}"}}"#)
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    at += 1;
    out.push_str(&format!(r#"{{"at":{at},"op":"end"}}"#));
    (out, at)
}

/// The naive reference: ticks every P while enabled, never sleeps.
struct Model {
    counters: [[u64; 2]; LABELS as usize],
    totals: [[u64; 2]; LABELS as usize],
    prev: [[u64; 2]; LABELS as usize],
    enabled: bool,
    start: u64,
    next_tick: u64,
    cellular: bool,
    out: Vec<Event>,
    /// Bytes pushed while enabled, per label.
    pushed: BTreeMap<u8, [u64; 2]>,
}

impl Model {
    fn close(&mut self, end: u64) {
        let mut stats = Vec::new();
        for l in 0..LABELS as usize {
            let d = [self.counters[l][0] - self.prev[l][0], self.counters[l][1] - self.prev[l][1]];
            if d != [0, 0] {
                stats.push((l as u8, d[0], d[1]));
            }
        }
        if !stats.is_empty() {
            self.out.push(Event { start_ms: self.start, dur_ms: end - self.start, cellular: self.cellular, stats });
        }
        self.prev = self.counters;
        self.start = end;
    }

    fn ticks_before(&mut self, at: u64) {
        while self.enabled && self.next_tick < at {
            let t = self.next_tick;
            self.close(t);
            self.next_tick += POLL;
        }
    }

    fn push(&mut self, l: u8, tx: u64, rx: u64) {
        self.counters[l as usize][0] += tx;
        self.counters[l as usize][1] += rx;
        if self.enabled {
            let p = self.pushed.entry(l).or_default();
            p[0] += tx;
            p[1] += rx;
        }
    }

    fn run(steps: &[(u64, Op)], end: u64) -> Model {
        let mut m = Model {
            counters: Default::default(),
            totals: Default::default(),
            prev: Default::default(),
            enabled: false,
            start: 0,
            next_tick: 0,
            cellular: false,
            out: vec![],
            pushed: BTreeMap::new(),
        };
        let mut at = 0;
        for (gap, op) in steps {
            at += gap;
            m.ticks_before(at);
            match *op {
                Op::Enable if !m.enabled => {
                    m.enabled = true;
                    m.prev = m.counters;
                    m.start = at;
                    m.next_tick = at + POLL;
                }
                Op::Disable if m.enabled => {
                    m.close(at);
                    m.enabled = false;
                }
                Op::Enable | Op::Disable => {}
                Op::Add(l, tx, rx) => m.push(l, tx, rx),
                Op::Totals(l, tx, rx) => {
                    let last = m.totals[l as usize];
                    let grow = |new: u64, old: u64| if new >= old { new - old } else { new };
                    m.totals[l as usize] = [tx, rx];
                    m.push(l, grow(tx, last[0]), grow(rx, last[1]));
                }
                Op::Cellular(c) => {
                    if c != m.cellular && m.enabled {
                        m.close(at);
                    }
                    m.cellular = c;
                }
            }
        }
        m.ticks_before(end);
        if m.enabled {
            m.close(end);
        }
        m
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_sampler_matches_a_reference_that_never_sleeps(steps in trace()) {
        let (jsonl, end) = to_jsonl(&steps);
        let got = replay(jsonl.as_bytes(), POLL, 1000).unwrap();
        let model = Model::run(&steps, end);
        prop_assert_eq!(&got, &model.out, "trace:\n{}", jsonl);
    }

    #[test]
    fn emitted_deltas_sum_to_the_bytes_pushed_while_enabled(steps in trace()) {
        let (jsonl, end) = to_jsonl(&steps);
        let got = replay(jsonl.as_bytes(), POLL, 1000).unwrap();
        let mut sums: BTreeMap<u8, [u64; 2]> = BTreeMap::new();
        for ev in &got {
            for &(l, tx, rx) in &ev.stats {
                let s = sums.entry(l).or_default();
                s[0] += tx;
                s[1] += rx;
            }
        }
        let mut pushed = Model::run(&steps, end).pushed;
        pushed.retain(|_, v| *v != [0, 0]);
        prop_assert_eq!(sums, pushed, "trace:\n{}", jsonl);
    }

    #[test]
    fn a_stalled_writer_merges_windows_but_keeps_every_byte(steps in trace()) {
        let (jsonl, _) = to_jsonl(&steps);
        let free = replay(jsonl.as_bytes(), POLL, 1000).unwrap();
        let stalled_trace = format!("{{\"at\":0,\"op\":\"writer\",\"stall\":true}}\n{jsonl}");
        let stalled = replay(stalled_trace.as_bytes(), POLL, 3).unwrap();
        let total = |evs: &[Event], cell: bool| -> BTreeMap<u8, [u64; 2]> {
            let mut m: BTreeMap<u8, [u64; 2]> = BTreeMap::new();
            for ev in evs.iter().filter(|e| e.cellular == cell) {
                for &(l, tx, rx) in &ev.stats {
                    let s = m.entry(l).or_default();
                    s[0] += tx;
                    s[1] += rx;
                }
            }
            m
        };
        prop_assert_eq!(total(&free, true), total(&stalled, true));
        prop_assert_eq!(total(&free, false), total(&stalled, false));
        prop_assert!(stalled.windows(2).all(|w| w[0].start_ms + w[0].dur_ms <= w[1].start_ms));
    }
}
