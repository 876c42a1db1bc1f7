//! The process-wide table behind `fast_counters_handle()`: the JNI fast path
//! gets an opaque number, never a pointer, so a wrong number from Kotlin
//! (never issued, off by one, from a logger that is gone) finds nothing and
//! the push returns `false` instead of crashing the process.
//!
//! A handle is `generation << 32 | index << 1 | 1`: an index into a fixed
//! table of [`SLOTS`] entries and the generation the entry was issued with.
//! Generations come from one counter, so every issued handle differs from
//! every other (until 2^31 registrations), and the low bit is always 1, so a
//! real handle ± 1 is never a handle. A slot holds one strong reference to
//! its logger's counters; releasing it (at shutdown or when the logger is
//! freed) invalidates the generation, waits for pushes already inside the
//! slot to leave, and drops the reference, so no per-logger memory outlives
//! its logger and a push that returned `true` finished before the release.
//!
//! The wait is bounded twice over. A push reads the generation before it
//! joins the slot's readers, so once a release has invalidated the
//! generation no push (with a stale, forged or live handle at that index)
//! joins any more: the count only falls. And the release gives up at its
//! deadline (the shutdown's): the slot is then *retired*, matching no handle
//! and issued to nobody, with its reference kept, so a push still inside
//! never touches freed memory; the next `register` that finds it empty of
//! readers reclaims it.
//!
//! A push costs two uncontended atomic read-modify-writes more than a raw
//! pointer would (the slot's reader count, in and out), plus a load of a
//! line it reads anyway; that is what lets the release know when the
//! counters are no longer in use without a lock.

use crate::counters::Counters;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Instant;

/// Loggers that can hold a fast-counters handle at the same time. A process
/// normally has one logger (a network extension, a `VpnService`); 64 leaves
/// room for tests and hosts that overlap an old logger with its successor.
/// The table is 64 cache lines (4 KiB), allocated statically.
pub(crate) const SLOTS: usize = 64;

/// Bits of the handle below the generation: the index field and the tag bit.
const GENERATION_SHIFT: u32 = 32;
/// Generations stay below 2^31 so a handle is a positive `i64` (Kotlin `Long`).
const GENERATION_LIMIT: u64 = 1 << 31;
/// `generation` of a slot that is free.
const FREE: u64 = 0;
/// `generation` of a slot being filled or emptied: matches no handle.
const BUSY: u64 = u64::MAX;
/// `generation` of a slot whose release met its deadline with a push maybe
/// still inside: matches no handle, keeps its reference, and is reused only
/// once `register` finds no reader in it.
const RETIRED: u64 = u64::MAX - 1;

/// One entry. Aligned to a cache line so pushes to two loggers don't share one.
#[repr(align(64))]
struct Slot {
    /// [`FREE`], [`BUSY`], or the generation of the live handle.
    generation: AtomicU64,
    /// Pushes currently between checking `generation` and finishing.
    readers: AtomicU32,
    /// From `Arc::into_raw`: the slot's strong reference while live.
    counters: AtomicPtr<Counters>,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            generation: AtomicU64::new(FREE),
            readers: AtomicU32::new(0),
            counters: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

/// A table of slots and the generation counter that issues handles from it.
pub(crate) struct HandleTable<const N: usize> {
    slots: [Slot; N],
    next_generation: AtomicU64,
}

/// The one table the JNI fast path looks handles up in.
pub(crate) static TABLE: HandleTable<SLOTS> = HandleTable::new();

/// Decrements a slot's reader count however the push leaves it.
// Apple builds have no JNI fast path (the only caller of `with`).
#[cfg_attr(target_vendor = "apple", allow(dead_code))]
struct Reading<'a>(&'a AtomicU32);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        // Release: the push's accesses to the counters happen before the
        // releaser sees the count drop and frees them.
        self.0.fetch_sub(1, Release);
    }
}

impl<const N: usize> HandleTable<N> {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        HandleTable { slots: [const { Slot::new() }; N], next_generation: AtomicU64::new(1) }
    }

    /// Issues a handle for `counters`, or `None` when every slot is taken
    /// (live, or retired with a push still inside).
    pub(crate) fn register(&self, counters: Arc<Counters>) -> Option<u64> {
        let (index, slot) = self.slots.iter().enumerate().find(|(_, s)| Self::claim(s))?;
        slot.counters.store(Arc::into_raw(counters).cast_mut(), Release);
        let generation = self.next_generation.fetch_add(1, Relaxed) % (GENERATION_LIMIT - 1) + 1;
        slot.generation.store(generation, SeqCst);
        Some(generation << GENERATION_SHIFT | (index as u64) << 1 | 1)
    }

    /// Takes a free slot, or a retired one no push is inside any more (its
    /// old reference is dropped first), marking it [`BUSY`].
    fn claim(slot: &Slot) -> bool {
        if slot.generation.compare_exchange(FREE, BUSY, Acquire, Relaxed).is_ok() {
            return true;
        }
        // Any push that joins the readers after the retirement sees a
        // generation that is not its own and leaves without a look at the
        // counters; so no reader now means no reader that could still use them.
        if slot.readers.load(SeqCst) != 0 || slot.generation.compare_exchange(RETIRED, BUSY, SeqCst, Relaxed).is_err() {
            return false;
        }
        Self::drop_reference(slot);
        true
    }

    /// Runs `f` on the counters behind a live handle; `None` for any other
    /// number. While `f` runs, the handle cannot be released.
    #[inline]
    #[cfg_attr(target_vendor = "apple", allow(dead_code))]
    pub(crate) fn with<R>(&self, handle: u64, f: impl FnOnce(&Counters) -> R) -> Option<R> {
        let (index, generation) = Self::decode(handle)?;
        let slot = &self.slots[index];
        // A handle that is not live (stale, forged, or being released)
        // leaves without joining the readers, so it cannot hold up a release.
        if slot.generation.load(Relaxed) != generation {
            return None;
        }
        // SeqCst pairs with `release`: either the release sees this reader
        // and waits, or this load sees the invalidated generation.
        slot.readers.fetch_add(1, SeqCst);
        let _reading = Reading(&slot.readers);
        if slot.generation.load(SeqCst) != generation {
            return None;
        }
        let counters = slot.counters.load(Acquire);
        // SAFETY: the generation matched after this push registered as a
        // reader, so `release` has not yet swapped the pointer out and will
        // not drop it before `_reading` is dropped; the pointer came from
        // `Arc::into_raw` in `register` and the slot owns that reference.
        Some(f(unsafe { &*counters }))
    }

    /// Invalidates `handle` and drops the slot's reference once no push is
    /// inside it, waiting until `deadline` at most (`None`: as long as it
    /// takes). A handle that is not live (already released, never issued)
    /// is ignored.
    pub(crate) fn release(&self, handle: u64, deadline: Option<Instant>) -> Released {
        let Some((index, generation)) = Self::decode(handle) else { return Released::NotLive };
        let slot = &self.slots[index];
        if slot.generation.compare_exchange(generation, BUSY, SeqCst, Relaxed).is_err() {
            return Released::NotLive;
        }
        if !Self::wait_for_readers(slot, deadline) {
            slot.generation.store(RETIRED, SeqCst);
            return Released::Retired;
        }
        Self::drop_reference(slot);
        slot.generation.store(FREE, Release);
        Released::Freed
    }

    /// Waits until no push is inside `slot`, or `deadline` passes (false).
    /// No push joins once the generation is invalidated, so only those
    /// already inside are waited for: a few nanoseconds each, a scheduling
    /// quantum for one preempted there, as long as the JVM takes to copy a
    /// bulk push's arrays.
    fn wait_for_readers(slot: &Slot, deadline: Option<Instant>) -> bool {
        while slot.readers.load(SeqCst) != 0 {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    /// Drops the reference a [`BUSY`] slot with no readers holds.
    fn drop_reference(slot: &Slot) {
        let counters = slot.counters.swap(std::ptr::null_mut(), Acquire);
        if !counters.is_null() {
            // SAFETY: the pointer came from `Arc::into_raw` in `register`; the
            // swap took it out of the slot, so it is reclaimed exactly once.
            drop(unsafe { Arc::from_raw(counters) });
        }
    }

    /// Index and generation of a well-formed handle for this table.
    #[inline]
    fn decode(handle: u64) -> Option<(usize, u64)> {
        let generation = handle >> GENERATION_SHIFT;
        let index = ((handle & 0xffff_ffff) >> 1) as usize;
        let well_formed = handle & 1 == 1 && index < N && generation != FREE && generation < GENERATION_LIMIT;
        well_formed.then_some((index, generation))
    }

    /// Slots in use, for tests.
    #[cfg(test)]
    fn live(&self) -> usize {
        self.slots.iter().filter(|s| s.generation.load(SeqCst) != FREE).count()
    }
}

/// What [`HandleTable::release`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Released {
    /// The slot is free and its reference dropped.
    Freed,
    /// The deadline passed with a push maybe still inside: the handle is
    /// dead, the slot keeps its reference until a later `register` finds
    /// it empty of readers and reclaims it.
    Retired,
    /// The handle was not live (already released, or never issued).
    NotLive,
}

/// A registration in [`TABLE`], released when dropped (or earlier, by
/// [`FastHandle::release`]).
#[derive(Debug)]
pub(crate) struct FastHandle(u64);

impl FastHandle {
    /// Registers `counters` in the process-wide table.
    pub(crate) fn register(counters: Arc<Counters>) -> Option<FastHandle> {
        TABLE.register(counters).map(FastHandle)
    }

    /// The number handed to Kotlin.
    pub(crate) fn value(&self) -> u64 {
        self.0
    }

    /// Invalidates the handle now: pushes through it return `false` from
    /// here on, and (unless `deadline` passed first, see [`Released`])
    /// every push that returned `true` has finished.
    pub(crate) fn release(&self, deadline: Option<Instant>) -> Released {
        TABLE.release(self.0, deadline)
    }
}

impl Drop for FastHandle {
    /// Freeing a logger never waits for pushes: a push still inside retires
    /// the slot instead (normally `shutdown` released it already).
    fn drop(&mut self) {
        self.release(Some(Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn counters() -> Arc<Counters> {
        Arc::new(Counters::default())
    }

    fn found<const N: usize>(t: &HandleTable<N>, h: u64) -> bool {
        t.with(h, |_| ()).is_some()
    }

    #[test]
    fn a_handle_finds_its_counters_and_nothing_else_does() {
        let t = HandleTable::<4>::new();
        let c = counters();
        let h = t.register(c.clone()).unwrap();
        assert!(t.with(h, |got| std::ptr::eq(got, &*c)).unwrap());
        let forged = [0, u64::MAX, -1i64 as u64, 8, 1, h + 1, h - 1, h + 2, h ^ 1 << 40, h | 0xfe, 0xdead_beef_cafe];
        for f in forged {
            assert!(!found(&t, f), "{f:#x} is not a handle");
        }
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..100_000 {
            let f = rng.u64(..);
            assert!(f == h || !found(&t, f), "{f:#x}");
        }
    }

    #[test]
    fn a_released_handle_is_stale_and_its_slot_is_reused_under_a_new_generation() {
        let t = HandleTable::<1>::new();
        let c = counters();
        let first = t.register(c.clone()).unwrap();
        assert_eq!(Arc::strong_count(&c), 2, "the slot holds one reference");
        t.release(first, None);
        assert_eq!(Arc::strong_count(&c), 1, "released: nothing kept");
        assert!(!found(&t, first));
        let second = t.register(counters()).unwrap();
        assert_ne!(first, second, "same slot, new generation");
        assert_eq!(first & 0xffff_ffff, second & 0xffff_ffff, "same index");
        assert!(!found(&t, first), "the stale generation finds nothing in the reused slot");
        assert!(found(&t, second));
        t.release(first, None); // stale: ignored
        assert!(found(&t, second));
        t.release(second, None);
        t.release(second, None); // twice: ignored
        assert_eq!(t.live(), 0);
    }

    #[test]
    fn a_full_table_issues_nothing_until_a_slot_is_freed() {
        let t = HandleTable::<2>::new();
        let (a, b) = (t.register(counters()).unwrap(), t.register(counters()).unwrap());
        assert!(t.register(counters()).is_none());
        t.release(a, None);
        let c = t.register(counters()).unwrap();
        assert!(found(&t, b) && found(&t, c) && !found(&t, a));
        t.release(b, None);
        t.release(c, None);
    }

    #[test]
    fn handles_are_positive_longs_with_the_tag_bit() {
        let t = HandleTable::<{ SLOTS }>::new();
        t.next_generation.store(GENERATION_LIMIT - 2, SeqCst);
        for _ in 0..4 {
            let h = t.register(counters()).unwrap();
            assert!(h as i64 > 0 && h & 1 == 1, "{h:#x}");
            assert!(found(&t, h));
            t.release(h, None);
        }
    }

    #[test]
    fn release_waits_for_pushes_inside_the_slot_and_later_pushes_find_nothing() {
        let t = Arc::new(HandleTable::<1>::new());
        let c = counters();
        let h = t.register(c.clone()).unwrap();
        let (applied, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let pushers: Vec<_> = (0..2)
            .map(|_| {
                let (t, applied, refused, stop) = (t.clone(), applied.clone(), refused.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Relaxed) {
                        let counter = if t.with(h, |c| c.add(3, 1, 0)).is_some() { &applied } else { &refused };
                        counter.fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        while applied.load(Relaxed) < 10_000 {
            std::thread::yield_now();
        }
        t.release(h, None);
        let at_release = c.snapshot().0[3][0];
        while refused.load(Relaxed) < 10_000 {
            std::thread::yield_now();
        }
        stop.store(true, Relaxed);
        for p in pushers {
            p.join().unwrap();
        }
        assert_eq!(c.snapshot().0[3][0], at_release, "no push landed after the release returned");
        assert_eq!(applied.load(Relaxed), at_release, "every push that found the counters applied");
        assert_eq!(Arc::strong_count(&c), 1, "the slot's reference is gone");
    }

    /// Pushers on the slot's index until `stop`: one with the live handle,
    /// two with forged ones (other generations at the same index).
    fn hammer(t: &Arc<HandleTable<1>>, h: u64, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<u64>> {
        let forged = [h, h ^ 1 << 40, (h & 0xffff_ffff) | 7 << GENERATION_SHIFT];
        forged
            .into_iter()
            .map(|handle| {
                let (t, stop) = (t.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut pushes = 0;
                    while !stop.load(Relaxed) {
                        t.with(handle, |c| c.add(1, 1, 0));
                        pushes += 1;
                    }
                    pushes
                })
            })
            .collect()
    }

    #[test]
    fn release_ends_while_pushers_with_live_and_forged_handles_hammer_its_index() {
        let t = Arc::new(HandleTable::<1>::new());
        let c = counters();
        for round in 0..50 {
            let h = t.register(c.clone()).unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let pushers = hammer(&t, h, &stop);
            while t.slots[0].readers.load(SeqCst) == 0 {
                std::thread::yield_now(); // a push is inside (or about to be)
            }
            // No deadline: it returns because pushes stop joining, not by timing out.
            assert_eq!(t.release(h, None), Released::Freed, "round {round}");
            assert!(!found(&t, h));
            stop.store(true, Relaxed);
            pushers.into_iter().for_each(|p| assert!(p.join().is_ok()));
        }
        assert_eq!(Arc::strong_count(&c), 1);
    }

    #[test]
    fn a_release_past_its_deadline_retires_the_slot_until_the_push_inside_leaves() {
        let t = Arc::new(HandleTable::<1>::new());
        let c = counters();
        let h = t.register(c.clone()).unwrap();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (leave_tx, leave_rx) = std::sync::mpsc::channel::<()>();
        let inside = {
            let t = t.clone();
            std::thread::spawn(move || {
                t.with(h, |c| {
                    entered_tx.send(()).unwrap();
                    leave_rx.recv().unwrap(); // a push preempted inside the slot
                    c.add(2, 5, 0);
                })
            })
        };
        entered_rx.recv().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let pushers = hammer(&t, h, &stop);
        assert_eq!(t.release(h, Some(Instant::now())), Released::Retired);
        assert!(!found(&t, h), "the handle is dead at once");
        assert_eq!(Arc::strong_count(&c), 2, "the retired slot keeps the counters the push is using");
        assert!(t.register(counters()).is_none(), "never reissued while a push may be inside");
        leave_tx.send(()).unwrap();
        assert!(inside.join().unwrap().is_some(), "the push inside finished on live counters");
        stop.store(true, Relaxed);
        pushers.into_iter().for_each(|p| assert!(p.join().is_ok()));
        assert_eq!(c.snapshot().0[2], [5, 0]);
        let next = counters();
        let h2 = t.register(next.clone()).expect("reclaimed once no push is inside");
        assert_eq!(Arc::strong_count(&c), 1, "reclaiming dropped the old reference");
        assert!(found(&t, h2) && !found(&t, h));
        assert_eq!(t.release(h2, None), Released::Freed);
        assert_eq!(t.release(h, None), Released::NotLive);
    }

    #[test]
    fn a_loggers_handle_dies_with_its_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let logger = crate::Logger::new(crate::Config::new(dir.path(), crate::logid::PublicId([3; 32]))).unwrap();
        let h = logger.fast_counters_handle().unwrap();
        assert_eq!(logger.fast_counters_handle().unwrap(), h, "the same handle every time");
        assert!(TABLE.with(h, |c| c.add(1, 1, 1)).is_some());
        logger.shutdown(std::time::Duration::from_secs(5)).unwrap();
        assert!(TABLE.with(h, |_| ()).is_none(), "shut down: the handle finds nothing");
        drop(logger);
        assert!(TABLE.with(h, |_| ()).is_none(), "freed: still nothing");
    }
}
