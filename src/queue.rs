//! The pending-entry queue between the sampler and the writer. The sampler
//! pushes events without ever blocking on disk; when the writer falls behind
//! and the queue is full, consecutive events with the same cellular flag are
//! merged into one longer window with the same totals, so bytes are not
//! dropped.
//!
//! Memory stays bounded even when merging cannot help (text entries never
//! merge, nor windows across a flip) and the writer is stuck (a frozen
//! disk): the queue counts what every entry really holds in memory, and past
//! [`MAX_PENDING_BYTES`] it drops the *oldest* entries, counted, keeping the
//! newest. That is the one case where counted bytes can be lost before they
//! reach the disk.
//!
//! Two events are merged only when no cellular flip lies between them: an
//! empty window on the other network emits no event, so "consecutive in the
//! queue, same flag" is not enough. The engine tells the queue about every
//! flip ([`PendingQueue::note_flip`]); events on either side of one are never
//! merged, so a merged window covers only time on its own network.

use crate::config::Config;
use crate::sampler::Event;
use std::collections::VecDeque;
use std::time::Duration;

/// One thing waiting to be written.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// A sampler event.
    Event(Event),
    /// A ready JSON object (header or text entry), wrapped at write time.
    Object(String),
}

/// Most entries the queue holds before merging, whatever the intervals: ten
/// minutes of 100 ms windows (about 1 MiB of events), so a short poll with a
/// long write interval cannot grow the memory of a 50 MiB extension.
pub(crate) const MAX_QUEUE_CAPACITY: usize = 6_000;

/// Memory the pending queue may hold, in bytes of entries (each counted with
/// its heap data, see [`cost`]): 1 MiB, the same bound as the writer's retry
/// buffer, about ten minutes of busy 100 ms windows and a tiny part of an iOS
/// network extension's 50 MiB. Past it the oldest entries are dropped.
pub(crate) const MAX_PENDING_BYTES: usize = 1 << 20;

/// Slack beyond one write interval: upstream sizes its channel for the
/// interval plus one second, so a write that starts a little late still
/// finds room.
const CAPACITY_SLACK: Duration = Duration::from_secs(1);

/// Capacity for these intervals: one write interval of polls plus
/// [`CAPACITY_SLACK`], between 2 and [`MAX_QUEUE_CAPACITY`]. At the defaults
/// this is upstream's `(10 s + 1 s) / 100 ms` = 110 events.
pub(crate) const fn capacity_for(write_interval: Duration, poll_interval: Duration) -> usize {
    let poll_ms = if poll_interval.as_millis() == 0 { 1 } else { poll_interval.as_millis() };
    let cap = (write_interval.as_millis() + CAPACITY_SLACK.as_millis()) / poll_ms;
    if cap < 2 {
        2
    } else if cap > MAX_QUEUE_CAPACITY as u128 {
        MAX_QUEUE_CAPACITY
    } else {
        cap as usize // at most MAX_QUEUE_CAPACITY: fits
    }
}

/// The capacity for a logger's configured intervals ([`capacity_for`]).
pub(crate) fn default_capacity(config: &Config) -> usize {
    capacity_for(config.write_interval, config.poll_interval)
}

/// A pending entry and the number of cellular flips noted before it.
#[derive(Debug)]
struct Queued {
    item: Pending,
    flips: u64,
}

/// Bytes of memory `q` holds: the entry itself plus its heap data (an
/// event's per-label stats, an object's text), whatever its kind.
fn cost(q: &Queued) -> usize {
    let heap = match &q.item {
        Pending::Event(e) => e.stats.capacity() * std::mem::size_of::<(u8, u64, u64)>(),
        Pending::Object(o) => o.capacity(),
    };
    std::mem::size_of::<Queued>() + heap
}

/// A bounded FIFO of pending entries that merges before it drops.
#[derive(Debug)]
pub(crate) struct PendingQueue {
    items: VecDeque<Queued>,
    capacity: usize,
    merges: u64,
    /// Cellular flips noted so far.
    flips: u64,
    /// Sum of [`cost`] over `items`.
    bytes: usize,
    /// Most `bytes` may reach; the oldest entries go past it.
    budget: usize,
    /// Entries dropped for the budget.
    dropped: u64,
}

impl PendingQueue {
    /// An empty queue holding about `capacity` entries before it merges, and
    /// at most `budget` bytes (see [`cost`]) before it drops the oldest.
    pub(crate) fn new(capacity: usize, budget: usize) -> Self {
        let capacity = capacity.max(2);
        PendingQueue { items: VecDeque::new(), capacity, merges: 0, flips: 0, bytes: 0, budget, dropped: 0 }
    }

    /// Records that the cellular flag changed: events queued before this are
    /// never merged with events queued after it.
    pub(crate) fn note_flip(&mut self) {
        self.flips += 1;
    }

    /// Appends an entry; when full, first merges two mergeable events
    /// (preferring the newest pair). Objects are never merged, nor events
    /// across a flip, so a queue of objects and flips may exceed the
    /// capacity: then the byte budget bounds it, dropping the oldest entries.
    pub(crate) fn push(&mut self, p: Pending) {
        let new = Queued { item: p, flips: self.flips };
        if self.items.len() >= self.capacity {
            if let Some(last) = self.items.back_mut() {
                if mergeable(last, &new) {
                    let before = cost(last);
                    if let (Pending::Event(a), Pending::Event(b)) = (&mut last.item, &new.item) {
                        merge_into(a, b);
                        self.merges += 1;
                    }
                    self.bytes = self.bytes - before + cost(last);
                    self.enforce_budget();
                    return;
                }
            }
            self.merge_one_pair();
        }
        self.bytes += cost(&new);
        self.items.push_back(new);
        self.enforce_budget();
    }

    /// Drops the oldest entries until the queue is within its budget. The
    /// newest entry always stays, even alone over budget (one entry is at
    /// most one line, 64 KiB).
    fn enforce_budget(&mut self) {
        while self.bytes > self.budget && self.items.len() > 1 {
            if let Some(old) = self.items.pop_front() {
                self.bytes -= cost(&old);
                self.dropped += 1;
            }
        }
    }

    /// Merges the newest mergeable pair of neighbours, if any.
    fn merge_one_pair(&mut self) {
        for i in (1..self.items.len()).rev() {
            if mergeable(&self.items[i - 1], &self.items[i]) {
                let before = cost(&self.items[i - 1]) + cost(&self.items[i]);
                if let Some(Queued { item: Pending::Event(b), .. }) = self.items.remove(i) {
                    if let Pending::Event(a) = &mut self.items[i - 1].item {
                        merge_into(a, &b);
                        self.merges += 1;
                    }
                }
                self.bytes = self.bytes - before + cost(&self.items[i - 1]);
                return;
            }
        }
    }

    /// Takes everything pending, oldest first.
    pub(crate) fn take(&mut self) -> Vec<Pending> {
        self.bytes = 0;
        self.items.drain(..).map(|q| q.item).collect()
    }

    /// Bytes held now (see [`cost`]).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The byte budget.
    #[cfg(test)]
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// Entries dropped for the budget so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Nothing pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Entries pending.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Merges performed so far.
    pub(crate) fn merges(&self) -> u64 {
        self.merges
    }
}

/// Two queued neighbours `a`, `b` may become one window: both events, on the
/// same network, with no flip noted between them (so any gap between the
/// windows was quiet time on that same network), in time order.
fn mergeable(a: &Queued, b: &Queued) -> bool {
    match (&a.item, &b.item) {
        (Pending::Event(x), Pending::Event(y)) => {
            a.flips == b.flips && x.cellular == y.cellular && x.start_ms + x.dur_ms <= y.start_ms
        }
        _ => false,
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
        let mut q = PendingQueue::new(2, MAX_PENDING_BYTES);
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
        let mut q = PendingQueue::new(2, MAX_PENDING_BYTES);
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
    fn the_default_capacity_is_upstreams_110_and_never_above_the_cap() {
        let mut c = Config::new("/tmp/x", crate::logid::PublicId([0; 32]));
        assert_eq!(default_capacity(&c), 110);
        c.poll_interval = std::time::Duration::from_millis(1);
        c.write_interval = std::time::Duration::from_secs(600);
        assert_eq!(default_capacity(&c), MAX_QUEUE_CAPACITY);
    }

    #[test]
    fn same_flag_windows_are_never_merged_across_an_empty_opposite_flag_gap() {
        // Wi-Fi [0,100], then cellular [100,150] with no traffic (no event),
        // then Wi-Fi again from 150. Merging the two Wi-Fi events would mark
        // the cellular 50 ms as Wi-Fi time.
        let mut q = PendingQueue::new(2, MAX_PENDING_BYTES);
        q.push(ev(0, false, &[(1, 1, 0)]));
        q.note_flip(); // to cellular at 100
        q.note_flip(); // back to Wi-Fi at 150
        q.push(Pending::Event(Event { start_ms: 150, dur_ms: 50, cellular: false, stats: vec![(1, 2, 0)] }));
        // The queue is full; a text line must not make it merge the two.
        q.push(Pending::Object("{}".into()));
        let spans: Vec<Option<(u64, u64)>> = q
            .take()
            .iter()
            .map(|p| match p {
                Pending::Event(e) => Some((e.start_ms, e.start_ms + e.dur_ms)),
                Pending::Object(_) => None,
            })
            .collect();
        assert_eq!(spans, [Some((0, 100)), Some((150, 200)), None]);
        assert_eq!(q.merges(), 0);
    }

    /// What the queue holds, recounted from scratch.
    fn recount(q: &PendingQueue) -> usize {
        q.items.iter().map(cost).sum()
    }

    #[test]
    fn past_its_byte_budget_the_queue_drops_the_oldest_of_every_kind_and_keeps_the_newest() {
        let budget = 4 << 10;
        let mut q = PendingQueue::new(2, budget);
        // Text, headers and windows across flips: nothing here merges.
        for i in 0..300u64 {
            match i % 3 {
                0 => q.push(Pending::Object(format!("{{\"text\":\"{i} {}\"}}", "x".repeat(100)))),
                1 => q.push(Pending::Object(format!("{{\"sockstatlog\":{{\"v\":2,\"n\":{i}}}}}"))),
                _ => q.push(ev(i * 100, i % 2 == 0, &[(1, i, 0)])),
            }
            q.note_flip();
            assert!(q.bytes() <= budget, "after {i}: {} bytes", q.bytes());
            assert_eq!(q.bytes(), recount(&q), "after {i}: the running count is exact");
        }
        let kept = q.len() as u64;
        assert!(q.dropped() > 0 && q.dropped() + kept == 300, "every entry kept or counted");
        let items = q.take();
        assert_eq!(items.last(), Some(&ev(299 * 100, false, &[(1, 299, 0)])), "the newest stays");
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn merging_keeps_the_byte_count_exact() {
        let mut q = PendingQueue::new(2, MAX_PENDING_BYTES);
        for i in 0..50u64 {
            q.push(ev(i * 100, false, &[((i % 7) as u8, 1, 1)]));
            assert_eq!(q.bytes(), recount(&q), "after {i}");
        }
        assert!(q.merges() > 0);
        assert_eq!(q.dropped(), 0);
    }

    #[test]
    fn windows_separated_by_quiet_time_on_the_same_network_still_merge() {
        let mut q = PendingQueue::new(2, MAX_PENDING_BYTES);
        q.push(ev(0, false, &[(1, 1, 0)]));
        q.push(ev(500, false, &[(1, 1, 0)])); // idle in between, no flip
        q.push(ev(900, false, &[(1, 1, 0)]));
        assert_eq!(q.len(), 2);
        assert_eq!(q.merges(), 1);
    }
}
