//! The pending-entry queue between the sampler and the writer. The sampler
//! pushes events without ever blocking on disk; when the writer falls behind
//! and the queue is full, consecutive events with the same cellular flag are
//! merged into one longer window with the same totals, so bytes are never
//! dropped and memory stays bounded.

use crate::config::Config;
use crate::sampler::Event;
use std::collections::VecDeque;

/// One thing waiting to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// A sampler event.
    Event(Event),
    /// A ready JSON object (header or text entry), wrapped at write time.
    Object(String),
}

/// Default capacity: upstream's `(10 s + 1 s) / 100 ms` = 110 events, one
/// write interval of 100 ms windows plus a second of slack.
pub fn default_capacity(config: &Config) -> usize {
    let slack = std::time::Duration::from_secs(1);
    let cap = (config.write_interval + slack).as_millis() / config.poll_interval.as_millis().max(1);
    (cap as usize).max(2)
}

/// A bounded FIFO of pending entries that merges instead of dropping.
#[derive(Debug)]
pub struct PendingQueue {
    items: VecDeque<Pending>,
    capacity: usize,
    merges: u64,
}

impl PendingQueue {
    /// An empty queue holding about `capacity` entries before it merges.
    pub fn new(capacity: usize) -> Self {
        PendingQueue { items: VecDeque::new(), capacity: capacity.max(2), merges: 0 }
    }

    /// Appends an entry; when full, first merges two same-flag events
    /// (preferring the newest pair). Objects are never merged, so a queue of
    /// only objects and alternating-flag events may exceed the capacity; both
    /// are rare (a flip or a text line at most per host call).
    pub fn push(&mut self, p: Pending) {
        if self.items.len() >= self.capacity {
            if let (Some(Pending::Event(last)), Pending::Event(new)) = (self.items.back_mut(), &p) {
                if last.cellular == new.cellular {
                    merge_into(last, new);
                    self.merges += 1;
                    return;
                }
            }
            self.merge_one_pair();
        }
        self.items.push_back(p);
    }

    /// Merges the newest adjacent pair of same-flag events, if any.
    fn merge_one_pair(&mut self) {
        for i in (1..self.items.len()).rev() {
            let mergeable = matches!(
                (&self.items[i - 1], &self.items[i]),
                (Pending::Event(a), Pending::Event(b)) if a.cellular == b.cellular
            );
            if mergeable {
                if let Some(Pending::Event(b)) = self.items.remove(i) {
                    if let Pending::Event(a) = &mut self.items[i - 1] {
                        merge_into(a, &b);
                        self.merges += 1;
                    }
                }
                return;
            }
        }
    }

    /// Takes everything pending, oldest first.
    pub fn take(&mut self) -> Vec<Pending> {
        self.items.drain(..).collect()
    }

    /// Nothing pending.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Entries pending.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Merges performed so far.
    pub fn merges(&self) -> u64 {
        self.merges
    }
}

/// Extends `a` to cover `b` (which follows it) and adds `b`'s bytes.
fn merge_into(a: &mut Event, b: &Event) {
    a.dur_ms = (b.start_ms + b.dur_ms).saturating_sub(a.start_ms);
    for &(label, tx, rx) in &b.stats {
        match a.stats.binary_search_by_key(&label, |s| s.0) {
            Ok(i) => {
                a.stats[i].1 += tx;
                a.stats[i].2 += rx;
            }
            Err(i) => a.stats.insert(i, (label, tx, rx)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: u64, c: bool, stats: &[(u8, u64, u64)]) -> Pending {
        Pending::Event(Event { start_ms: t, dur_ms: 100, cellular: c, stats: stats.to_vec() })
    }

    #[test]
    fn a_full_queue_merges_the_newest_event_into_the_last_keeping_totals() {
        let mut q = PendingQueue::new(2);
        q.push(ev(0, false, &[(1, 1, 1)]));
        q.push(ev(100, false, &[(2, 5, 0)]));
        q.push(ev(200, false, &[(1, 2, 3), (3, 1, 1)]));
        assert_eq!(q.merges(), 1);
        let items = q.take();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1],
            Pending::Event(Event {
                start_ms: 100,
                dur_ms: 200,
                cellular: false,
                stats: vec![(1, 2, 3), (2, 5, 0), (3, 1, 1)]
            })
        );
    }

    #[test]
    fn events_with_different_flags_are_never_merged_together() {
        let mut q = PendingQueue::new(2);
        q.push(ev(0, false, &[(1, 1, 0)]));
        q.push(ev(100, true, &[(1, 1, 0)]));
        q.push(ev(200, false, &[(1, 1, 0)]));
        // No same-flag pair existed: the queue grows past its capacity.
        assert_eq!(q.len(), 3);
        q.push(ev(300, false, &[(1, 1, 0)]));
        assert_eq!(q.len(), 3);
        let flags: Vec<bool> = q.take().iter().map(|p| matches!(p, Pending::Event(e) if e.cellular)).collect();
        assert_eq!(flags, [false, true, false]);
    }

    #[test]
    fn the_default_capacity_is_upstreams_110() {
        let c = Config::new("/tmp/x", crate::logid::PublicId([0; 32]));
        assert_eq!(default_capacity(&c), 110);
    }
}
