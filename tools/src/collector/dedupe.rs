//! Exactly-once bookkeeping for one stream in memory that does not grow with
//! the number of entries: per `proc_id`, the highest `proc_seq` stored (the
//! uploader sends a process's entries in order) and a short list of the
//! sequence ranges below it that were skipped and so may still arrive. Every
//! `proc_seq` is a key, 0 included: the PostgreSQL store's unique key treats
//! 0 like any other value, and so does this (a bit of its own, as the
//! high-water mark counts from 1, where the uploader's sequences start). The
//! uploader's own entries (`proc_id` 0, keyed by a hash of their batch, in
//! no order) are a small exact set instead.

use std::collections::{HashMap, HashSet, VecDeque};

/// `proc_id` of the uploader's own entries, whose `proc_seq` is a hash
/// (the library's `upload::body::UPLOADER_PROC_ID`).
pub const HASHED_PROC_ID: u64 = 0;
/// Hashed keys remembered per stream: one per batch that skipped a long
/// line, rare; past this the oldest is forgotten (a re-send of its batch
/// after that would store its error entry again).
pub const MAX_HASHED_KEYS: usize = 4096;

/// Skipped ranges remembered per process. An uploader sends in order, so a
/// gap only appears when a device dropped entries; 64 ranges is far more
/// than a healthy log ever has, and caps a hostile client at ~1 KiB per
/// process.
pub const MAX_GAP_RANGES: usize = 64;
/// Processes remembered per stream: each app launch is a new `proc_id`; the
/// least recently stored-to is forgotten past this (a retry of its entries
/// after that would be stored again). 4096 launches x ~48 bytes = ~200 KiB
/// worst case per stream, and only while the stream is active.
pub const MAX_PROCS_PER_STREAM: usize = 4096;

/// What is stored of one process's entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcSeen {
    /// Highest `proc_seq` stored (0: none).
    high: u64,
    /// Whether `proc_seq` 0 is stored.
    zero: bool,
    /// Inclusive ranges below `high` not stored, ascending.
    gaps: Vec<(u64, u64)>,
    /// Stream-wide counter value when last stored to (for eviction).
    touched: u64,
}

impl ProcSeen {
    /// True if `seq` is already stored (or is below the remembered window).
    pub fn contains(&self, seq: u64) -> bool {
        if seq == 0 {
            return self.zero;
        }
        if seq > self.high {
            return false;
        }
        // Below the oldest remembered gap, everything counts as stored:
        // the conservative side (never a duplicate) when gaps were dropped.
        !self.gaps.iter().any(|&(a, b)| (a..=b).contains(&seq))
    }

    /// Records `seq` as stored (`contains(seq)` must be false).
    pub fn insert(&mut self, seq: u64) {
        if seq == 0 {
            self.zero = true;
            return;
        }
        if seq > self.high {
            if seq > self.high + 1 {
                self.gaps.push((self.high + 1, seq - 1));
                if self.gaps.len() > MAX_GAP_RANGES {
                    self.gaps.remove(0);
                }
            }
            self.high = seq;
            return;
        }
        if let Some(i) = self.gaps.iter().position(|&(a, b)| (a..=b).contains(&seq)) {
            let (a, b) = self.gaps[i];
            match (seq == a, seq == b) {
                (true, true) => {
                    self.gaps.remove(i);
                }
                (true, false) => self.gaps[i].0 = seq + 1,
                (false, true) => self.gaps[i].1 = seq - 1,
                (false, false) => {
                    self.gaps[i].1 = seq - 1;
                    self.gaps.insert(i + 1, (seq + 1, b));
                    if self.gaps.len() > MAX_GAP_RANGES {
                        self.gaps.remove(0);
                    }
                }
            }
        }
    }

    /// Gap ranges currently remembered (for tests and stats).
    pub fn gap_ranges(&self) -> usize {
        self.gaps.len()
    }
}

/// The dedupe state of one stream: every process seen in it.
#[derive(Debug, Default)]
pub struct StreamSeen {
    procs: HashMap<u64, ProcSeen>,
    clock: u64,
    hashed: HashSet<u64>,
    hashed_order: VecDeque<u64>,
}

impl StreamSeen {
    /// True if `(proc_id, seq)` is already stored.
    pub fn contains(&self, proc_id: u64, seq: u64) -> bool {
        if proc_id == HASHED_PROC_ID {
            return self.hashed.contains(&seq);
        }
        self.procs.get(&proc_id).is_some_and(|p| p.contains(seq))
    }

    /// Records a stored hashed key (`proc_id` [`HASHED_PROC_ID`]).
    pub fn insert_hashed(&mut self, seq: u64) {
        if self.hashed.insert(seq) {
            self.hashed_order.push_back(seq);
            if self.hashed_order.len() > MAX_HASHED_KEYS {
                if let Some(old) = self.hashed_order.pop_front() {
                    self.hashed.remove(&old);
                }
            }
        }
    }

    /// A copy of one process's state, to stage a batch on before it is
    /// durably stored (the live state changes only after the write).
    pub fn get(&self, proc_id: u64) -> ProcSeen {
        self.procs.get(&proc_id).cloned().unwrap_or_default()
    }

    /// Replaces one process's state after its entries were stored.
    pub fn commit(&mut self, proc_id: u64, mut seen: ProcSeen) {
        self.clock += 1;
        seen.touched = self.clock;
        self.procs.insert(proc_id, seen);
        if self.procs.len() > MAX_PROCS_PER_STREAM {
            if let Some(old) = self.procs.iter().min_by_key(|(_, p)| p.touched).map(|(k, _)| *k) {
                self.procs.remove(&old);
            }
        }
    }

    /// Records one stored key (used when loading a file).
    pub fn insert(&mut self, proc_id: u64, seq: u64) {
        if proc_id == HASHED_PROC_ID {
            return self.insert_hashed(seq);
        }
        let mut p = self.get(proc_id);
        if !p.contains(seq) {
            p.insert(seq);
        }
        self.commit(proc_id, p);
    }

    /// Remembered ranges and processes: what the memory of this stream is
    /// proportional to.
    pub fn footprint(&self) -> usize {
        self.procs.len() + self.procs.values().map(ProcSeen::gap_ranges).sum::<usize>() + self.hashed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_entries_keep_constant_state_and_are_deduplicated() {
        let mut s = StreamSeen::default();
        for seq in 1..=100_000 {
            assert!(!s.contains(7, seq));
            s.insert(7, seq);
        }
        assert_eq!(s.footprint(), 1, "one process, no gaps");
        assert!(s.contains(7, 1) && s.contains(7, 100_000) && !s.contains(7, 100_001) && !s.contains(8, 1));
    }

    #[test]
    fn proc_seq_zero_is_a_key_like_any_other_in_any_order() {
        let mut p = ProcSeen::default();
        assert!(!p.contains(0));
        p.insert(0);
        assert!(p.contains(0) && !p.contains(1));
        let mut q = ProcSeen::default();
        q.insert(1);
        q.insert(2);
        assert!(!q.contains(0), "0 after 1 still arrives");
        q.insert(0);
        assert!(q.contains(0) && q.gap_ranges() == 0);
    }

    #[test]
    fn a_skipped_range_accepts_its_late_entries_once() {
        let mut p = ProcSeen::default();
        for seq in [1, 2, 10, 11] {
            p.insert(seq);
        }
        assert!(!p.contains(5) && p.contains(2) && p.contains(10));
        p.insert(5);
        assert!(p.contains(5) && !p.contains(4) && !p.contains(6));
        assert_eq!(p.gap_ranges(), 2);
        for seq in [3, 4, 6, 7, 8, 9] {
            p.insert(seq);
        }
        assert_eq!(p.gap_ranges(), 0);
    }

    #[test]
    fn hashed_keys_of_the_uploader_are_an_exact_capped_set() {
        let mut s = StreamSeen::default();
        for seq in [u64::MAX >> 1, 5, 1 << 40] {
            assert!(!s.contains(HASHED_PROC_ID, seq));
            s.insert(HASHED_PROC_ID, seq);
        }
        assert!(s.contains(HASHED_PROC_ID, 5) && !s.contains(HASHED_PROC_ID, 6));
        assert!(!s.contains(HASHED_PROC_ID, 4), "no high-water mark for hashes");
        for seq in 0..(MAX_HASHED_KEYS as u64 * 2) {
            s.insert_hashed(seq + 1000);
        }
        assert_eq!(s.footprint(), MAX_HASHED_KEYS);
    }

    #[test]
    fn gaps_and_processes_are_capped() {
        let mut p = ProcSeen::default();
        for i in 0..10_000u64 {
            p.insert(i * 2 + 1); // every even seq skipped
        }
        assert_eq!(p.gap_ranges(), MAX_GAP_RANGES);
        assert!(p.contains(2), "forgotten gaps count as stored: never a duplicate");
        assert!(!p.contains(19_998), "recent gaps still accept late entries");
        let mut s = StreamSeen::default();
        for proc in 1..=(MAX_PROCS_PER_STREAM as u64 + 100) {
            s.insert(proc, 1);
        }
        assert_eq!(s.footprint(), MAX_PROCS_PER_STREAM);
        assert!(s.contains(MAX_PROCS_PER_STREAM as u64 + 100, 1) && !s.contains(1, 1), "the oldest went");
    }
}
