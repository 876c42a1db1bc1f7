//! The per-label byte counters the host pushes into: 256 slots of monotonic
//! `tx`/`rx` totals, updated lock-free from any thread, plus the handshake that
//! lets an idle sampler sleep without missing the first byte that arrives.
//!
//! The push path (`add`, `set_totals`) never blocks and never allocates: one
//! atomic add, one load of the idle flag for the first push of a label in
//! each 100 ms window, and, only on the first push after an idle period, one
//! `unpark` of the sampler thread.
//!
//! To cost one atomic add rather than two, a push of an ordinary size adds
//! `tx` and `rx` together into one 64-bit word, `tx` in the high half and
//! `rx` in the low half. The sampler folds that word into the 64-bit totals
//! at every snapshot. A half is folded early by the pusher that takes it past
//! [`FOLD_AT`], long before it could carry into its neighbour: overflowing
//! would take more than 2^31 bytes of pushes landing on one label between
//! that push and its fold, i.e. over 2048 threads each in the middle of a
//! maximal fast push at the same instant. Larger pushes take a slow path of
//! two atomic adds.
//!
//! The 64-bit totals saturate at `u64::MAX` instead of wrapping (folds and
//! slow pushes add with a compare-and-swap loop), so a window's sum never
//! comes out small after a wrap. Only the sampler reads them, and it
//! [`Counters::rebase`]s a label whose total passed [`REBASE_AT`] after each
//! window, so real traffic never gets near the top; only pushes summing past
//! 2^64 - 2^63 bytes within one window (forged or buggy byte counts) reach
//! it, and the sampler reports that window's sum as `u64::MAX` and counts it.

use crate::labels::LABEL_COUNT;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::OnceLock;
use std::thread::Thread;

/// Largest `tx` or `rx` of one push taking the packed fast path (1 MiB, far
/// above one read or write; bigger pushes take the slow path).
#[cfg_attr(feature = "testing", visibility::make(pub))]
pub(crate) const FAST_PUSH_MAX: u64 = 1 << 20;
/// A packed half at or above this is folded at once by the pusher: half of
/// the half's range, leaving 2^31 bytes of headroom before a carry.
pub(crate) const FOLD_AT: u64 = 1 << 31;
const LOW_HALF: u64 = (1 << 32) - 1;
/// A total at or above this is rebased by the sampler after its window: half
/// the range, so the next window has 2^63 bytes of room before it saturates.
pub(crate) const REBASE_AT: u64 = 1 << 63;

/// Adds to a monotonic total, saturating at `u64::MAX` (never wrapping).
#[inline]
fn add_saturating(total: &AtomicU64, n: u64) {
    let mut cur = total.load(SeqCst);
    while let Err(seen) = total.compare_exchange_weak(cur, cur.saturating_add(n), SeqCst, SeqCst) {
        cur = seen;
    }
}

/// One label's counters. Aligned to a cache line so that two threads pushing
/// different labels never contend for the same line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Slot {
    /// Pushes not yet folded in: `tx << 32 | rx`.
    packed: AtomicU64,
    /// Monotonic bytes sent, as the sampler reports them.
    tx: AtomicU64,
    /// Monotonic bytes received.
    rx: AtomicU64,
    /// The last cumulative total the host reported through `set_totals`.
    tx_total: AtomicU64,
    /// Same, received.
    rx_total: AtomicU64,
}

impl Slot {
    /// Moves the packed pushes into the 64-bit totals. Concurrent folds each
    /// take a disjoint part (the swap), so nothing is counted twice.
    #[inline]
    fn fold(&self) {
        let v = self.packed.swap(0, SeqCst);
        if v != 0 {
            add_saturating(&self.tx, v >> 32);
            add_saturating(&self.rx, v & LOW_HALF);
        }
    }
}

/// A copy of every label's monotonic `[tx, rx]`, taken at one instant.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Snapshot(pub [[u64; 2]; LABEL_COUNT]);

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot([[0; 2]; LABEL_COUNT])
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let live: Vec<_> = self.0.iter().enumerate().filter(|(_, c)| **c != [0, 0]).collect();
        f.debug_map().entries(live).finish()
    }
}

/// All label counters of one logger.
#[cfg_attr(feature = "testing", visibility::make(pub))]
#[derive(Debug)]
pub(crate) struct Counters {
    slots: Box<[Slot]>,
    /// Set by the sampler before it parks with nothing to do; the first push
    /// that sees it clears it and unparks the sampler.
    idle: AtomicBool,
    /// The sampler thread, to unpark (set once when the thread starts).
    sampler: OnceLock<Thread>,
    /// `set_totals` calls whose total went down (a counter reset).
    resets: AtomicU64,
    /// Windows the sampler reported with a saturated sum.
    saturated_windows: AtomicU64,
    /// Set at shutdown; pushes after it are refused.
    closed: AtomicBool,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            slots: (0..LABEL_COUNT).map(|_| Slot::default()).collect(),
            idle: AtomicBool::new(false),
            sampler: OnceLock::new(),
            resets: AtomicU64::new(0),
            saturated_windows: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }
}

impl Counters {
    /// Adds bytes to a label. Lock-free and allocation-free.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    #[inline]
    pub(crate) fn add(&self, label: u8, tx: u64, rx: u64) {
        let slot = &self.slots[label as usize];
        if tx | rx == 0 {
            return;
        }
        // SeqCst so that, against the sampler's SeqCst store of `idle` and its
        // re-check snapshot, either the sampler sees these bytes or we see
        // `idle` and wake it. On x86 a locked add costs the same either way.
        if tx < FAST_PUSH_MAX && rx < FAST_PUSH_MAX {
            let inc = (tx << 32) | rx;
            let old = slot.packed.fetch_add(inc, SeqCst);
            let now = old.wrapping_add(inc);
            if now >> 32 >= FOLD_AT || now & LOW_HALF >= FOLD_AT {
                slot.fold();
            }
            // Only the first push since the slot was last folded needs to
            // look at `idle`: the sampler folds every slot in the snapshot
            // it goes idle on, so while it sleeps every packed word is 0,
            // and a push that finds bytes already waiting follows one that
            // either was seen by that snapshot or woke the sampler itself.
            if old == 0 {
                self.wake_if_idle();
            }
        } else {
            add_saturating(&slot.tx, tx);
            add_saturating(&slot.rx, rx);
            self.wake_if_idle();
        }
    }

    /// Records cumulative totals the host keeps itself. Growth since the last
    /// report is added; a total that went down is a reset, and the new total
    /// (the bytes since the reset) is added instead of a wrapped difference.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    #[inline]
    pub(crate) fn set_totals(&self, label: u8, tx_total: u64, rx_total: u64) {
        let slot = &self.slots[label as usize];
        let tx = self.growth(&slot.tx_total, tx_total);
        let rx = self.growth(&slot.rx_total, rx_total);
        self.add(label, tx, rx);
    }

    /// [`Counters::add`] for callers that report whether the push counts:
    /// true means the bytes are in the snapshot that [`Counters::close`]'s
    /// caller takes next (the logger's final one), false that the counters
    /// were closed first (the bytes may or may not be counted).
    ///
    /// The closed flag is read *after* the add, both SeqCst: if it still
    /// reads open, the add precedes the close in the single total order, and
    /// so precedes the final snapshot's loads, which then see it. (Reading
    /// it before the add, as a plain check would, leaves a window in which
    /// a push reports success after the final snapshot.) Costs one load of
    /// a flag no pusher writes.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    #[inline]
    pub(crate) fn try_add(&self, label: u8, tx: u64, rx: u64) -> bool {
        self.add(label, tx, rx);
        !self.closed.load(SeqCst)
    }

    /// [`Counters::set_totals`] with the same report as [`Counters::try_add`].
    #[inline]
    pub(crate) fn try_set_totals(&self, label: u8, tx_total: u64, rx_total: u64) -> bool {
        self.set_totals(label, tx_total, rx_total);
        !self.closed.load(SeqCst)
    }

    fn growth(&self, last: &AtomicU64, total: u64) -> u64 {
        // swap gives concurrent reporters of one label a consistent order.
        let prev = last.swap(total, AcqRel);
        if total >= prev {
            total - prev
        } else {
            self.resets.fetch_add(1, Relaxed);
            total
        }
    }

    #[inline]
    fn wake_if_idle(&self) {
        if self.idle.load(SeqCst) && self.idle.swap(false, SeqCst) {
            if let Some(t) = self.sampler.get() {
                t.unpark();
            }
        }
    }

    /// Copies every label's counters into `out` (no allocation), folding in
    /// the packed pushes first. Totals only grow, so snapshots are monotonic.
    pub(crate) fn snapshot_into(&self, out: &mut Snapshot) {
        for (o, s) in out.0.iter_mut().zip(self.slots.iter()) {
            if s.packed.load(SeqCst) != 0 {
                s.fold();
            }
            *o = [s.tx.load(SeqCst), s.rx.load(SeqCst)];
        }
    }

    /// Takes `by` (a snapshot's `[tx, rx]` for `label`, which the caller has
    /// accounted for) off the label's totals, so they stay far from
    /// saturation. Only the one reader of the totals (the sampler) may call
    /// this, with values it read: the totals are then at least `by`.
    pub(crate) fn rebase(&self, label: u8, by: [u64; 2]) {
        let slot = &self.slots[label as usize];
        slot.tx.fetch_sub(by[0], SeqCst);
        slot.rx.fetch_sub(by[1], SeqCst);
    }

    /// Counts a window whose sum for some label saturated.
    pub(crate) fn count_saturated_window(&self) {
        self.saturated_windows.fetch_add(1, Relaxed);
    }

    /// Windows whose sum for some label saturated at `u64::MAX`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn saturated_windows(&self) -> u64 {
        self.saturated_windows.load(Relaxed)
    }

    /// A fresh snapshot (the sampler reuses one through `snapshot_into`).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::default();
        self.snapshot_into(&mut s);
        s
    }

    /// Tells pushers that the sampler is about to sleep. The caller must take
    /// a snapshot *after* this and compare: if anything moved, it must not
    /// sleep (and should call [`Counters::clear_idle`]).
    pub(crate) fn mark_idle(&self) {
        self.idle.store(true, SeqCst);
    }

    /// Withdraws [`Counters::mark_idle`]. Returns whether a push had already
    /// cleared it (i.e. the sampler was woken by traffic).
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn clear_idle(&self) -> bool {
        !self.idle.swap(false, SeqCst)
    }

    /// True while the sampler sleeps waiting for traffic.
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.load(SeqCst)
    }

    /// Registers the thread that pushes unpark after an idle period.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn set_sampler_thread(&self, t: Thread) {
        let _ = self.sampler.set(t);
    }

    /// The registered sampler thread, if any.
    pub(crate) fn sampler_thread(&self) -> Option<&Thread> {
        self.sampler.get()
    }

    /// Counter resets seen by `set_totals`.
    #[cfg_attr(feature = "testing", visibility::make(pub))]
    pub(crate) fn resets(&self) -> u64 {
        self.resets.load(Relaxed)
    }

    /// Refuses pushes from now on (at shutdown, before the final snapshot):
    /// [`Counters::try_add`] reports false from here on.
    pub(crate) fn close(&self) {
        self.closed.store(true, SeqCst);
    }

    /// Whether [`Counters::close`] was called. SeqCst, so that a check after
    /// a push orders like [`Counters::try_add`]'s.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_totals_adds_growth_and_treats_a_decrease_as_a_reset() {
        let c = Counters::default();
        c.set_totals(3, 100, 0); // a label starts at zero: the first report counts in full
        let base = c.snapshot();
        c.set_totals(3, 150, 0);
        c.set_totals(3, 20, 0); // reset: the 20 bytes since the reset count
        let now = c.snapshot();
        assert_eq!(now.0[3][0] - base.0[3][0], 70);
        assert_eq!(c.resets(), 1);
    }

    #[test]
    fn add_and_totals_mix_on_one_label() {
        let c = Counters::default();
        c.add(5, 10, 1);
        c.set_totals(5, 7, 7);
        c.add(5, 1, 0);
        assert_eq!(c.snapshot().0[5], [18, 8]);
    }

    #[test]
    fn big_pushes_take_the_slow_path_and_full_halves_fold_before_carrying() {
        let c = Counters::default();
        c.add(1, FAST_PUSH_MAX, 1); // slow path
        c.add(1, 5, FAST_PUSH_MAX * 3);
        assert_eq!(c.snapshot().0[1], [FAST_PUSH_MAX + 5, FAST_PUSH_MAX * 3 + 1]);
        // 4096 pushes of 1 MiB - 1 on each half: 4 GiB in all, more than a
        // 32-bit half holds, without a snapshot in between.
        let n = 4096u64;
        for _ in 0..n {
            c.add(2, FAST_PUSH_MAX - 1, FAST_PUSH_MAX - 1);
        }
        assert_eq!(c.snapshot().0[2], [n * (FAST_PUSH_MAX - 1); 2]);
    }

    #[test]
    fn totals_saturate_instead_of_wrapping_and_a_rebase_makes_room_again() {
        let c = Counters::default();
        let big = i64::MAX as u64;
        for _ in 0..3 {
            c.add(4, big, 1);
        }
        c.add(4, FAST_PUSH_MAX - 1, 0); // through the packed word and a fold
        assert_eq!(c.snapshot().0[4], [u64::MAX, 3]);
        c.rebase(4, [u64::MAX, 3]);
        c.add(4, 10, 0);
        assert_eq!(c.snapshot().0[4], [10, 0]);
    }

    #[test]
    fn a_push_after_mark_idle_clears_it_and_a_zero_push_does_not() {
        let c = Counters::default();
        c.mark_idle();
        c.add(1, 0, 0);
        assert!(c.is_idle());
        c.set_totals(1, 0, 0);
        assert!(c.is_idle());
        c.add(1, 1, 0);
        assert!(!c.is_idle());
        assert!(c.clear_idle(), "the push cleared it first");
    }
}
