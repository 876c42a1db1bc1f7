//! What was pushed against what the collector stored: per label tx, rx and
//! bytes over cellular, and whether every number matches exactly.

use crate::report::parse::Trace;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One label's bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bytes {
    /// Bytes sent.
    pub tx: u64,
    /// Bytes received.
    pub rx: u64,
    /// Of `tx + rx`, the bytes carried while the interface was cellular.
    pub cellular: u64,
}

impl std::ops::Add for Bytes {
    type Output = Bytes;
    fn add(self, o: Bytes) -> Bytes {
        Bytes { tx: self.tx + o.tx, rx: self.rx + o.rx, cellular: self.cellular + o.cellular }
    }
}

/// Bytes per label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(pub BTreeMap<u32, Bytes>);

impl Tally {
    /// Counts a push (or a received window) of `tx`/`rx` for `label`.
    pub fn add(&mut self, label: u32, tx: u64, rx: u64, cellular: bool) {
        let b = self.0.entry(label).or_default();
        b.tx += tx;
        b.rx += rx;
        if cellular {
            b.cellular += tx + rx;
        }
    }

    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &Tally) {
        for (&label, &b) in &other.0 {
            let mine = self.0.entry(label).or_default();
            *mine = *mine + b;
        }
    }

    /// Sums over all labels.
    pub fn total(&self) -> Bytes {
        self.0.values().fold(Bytes::default(), |a, &b| a + b)
    }

    /// The bytes in a trace's windows (`"c":1` windows count as cellular).
    pub fn from_trace(trace: &Trace) -> Tally {
        let mut tally = Tally::default();
        for w in &trace.windows {
            for &(label, tx, rx) in &w.stats {
                tally.add(label.into(), tx, rx, w.cellular);
            }
        }
        tally
    }
}

/// One label's line of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Label id.
    pub label: u32,
    /// Its name.
    pub name: String,
    /// What the simulation pushed.
    pub pushed: Bytes,
    /// What the collector stored.
    pub received: Bytes,
}

/// Pushed against received, every label that appears in either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// By label id.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Lines up the two tallies; `name` names a label.
    pub fn new(pushed: &Tally, received: &Tally, name: impl Fn(u32) -> String) -> Comparison {
        let mut labels: Vec<u32> = pushed.0.keys().chain(received.0.keys()).copied().collect();
        labels.sort_unstable();
        labels.dedup();
        let get = |t: &Tally, l| t.0.get(&l).copied().unwrap_or_default();
        let rows = labels
            .into_iter()
            .map(|l| Row { label: l, name: name(l), pushed: get(pushed, l), received: get(received, l) })
            .collect();
        Comparison { rows }
    }

    /// Whether every label's tx, rx and cellular bytes match exactly.
    pub fn matches(&self) -> bool {
        self.rows.iter().all(|r| r.pushed == r.received)
    }

    /// Totals `(pushed, received)`.
    pub fn totals(&self) -> (Bytes, Bytes) {
        self.rows.iter().fold(Default::default(), |(p, r), row| (p + row.pushed, r + row.received))
    }

    /// The table, the cellular shares and the [verdict](Self::verdict) line.
    pub fn render(&self) -> String {
        format!("{}{}\n", self.render_table(), self.verdict())
    }

    /// `match: …` or `MISMATCH: N label(s) differ …`.
    pub fn verdict(&self) -> String {
        if self.matches() {
            "match: every byte pushed while enabled was received, with the exact cellular split".into()
        } else {
            let bad = self.rows.iter().filter(|r| r.pushed != r.received).count();
            format!("MISMATCH: {bad} label(s) differ between what was pushed and what was received")
        }
    }

    /// The table and the cellular shares.
    pub fn render_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:>3} {:<20} {:>12} {:>12} {:>12} {:>12} {:>11} {:>11}  ",
            "id", "label", "tx pushed", "tx received", "rx pushed", "rx received", "cell pushed", "cell recvd"
        );
        let line = |s: &mut String, id: &str, name: &str, p: Bytes, r: Bytes| {
            let ok = if p == r { "ok" } else { "MISMATCH" };
            let _ = writeln!(
                s,
                "{id:>3} {name:<20} {:>12} {:>12} {:>12} {:>12} {:>11} {:>11}  {ok}",
                p.tx, r.tx, p.rx, r.rx, p.cellular, r.cellular
            );
        };
        for r in &self.rows {
            line(&mut s, &r.label.to_string(), &r.name, r.pushed, r.received);
        }
        let (p, r) = self.totals();
        line(&mut s, "", "total", p, r);
        let share = |b: Bytes| b.cellular as f64 * 100.0 / (b.tx + b.rx).max(1) as f64;
        let _ = writeln!(
            s,
            "cellular share: pushed {:.2} % ({} of {} bytes), received {:.2} % ({} of {} bytes)",
            share(p),
            p.cellular,
            p.tx + p.rx,
            share(r),
            r.cellular,
            r.tx + r.rx
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tallies_match_and_any_difference_is_named() {
        let mut a = Tally::default();
        a.add(2, 10, 20, true);
        a.add(13, 5, 0, false);
        let b = a.clone();
        let c = Comparison::new(&a, &b, |l| format!("L{l}"));
        assert!(c.matches());
        assert!(c.render().contains("\nmatch: "));
        let mut moved = Tally::default();
        moved.add(2, 10, 20, false);
        moved.add(13, 5, 0, false);
        let c = Comparison::new(&a, &moved, |l| format!("L{l}"));
        assert!(!c.matches(), "the same bytes in the wrong network are a mismatch");
        assert!(c.render().contains("MISMATCH: 1 label(s)"));
    }

    #[test]
    fn a_label_only_received_is_a_row_too() {
        let mut r = Tally::default();
        r.add(11, 1, 1, false);
        let c = Comparison::new(&Tally::default(), &r, |l| format!("L{l}"));
        assert_eq!(c.rows.len(), 1);
        assert!(!c.matches());
    }
}
