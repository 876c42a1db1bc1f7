//! The push path and a quiet tick never touch the heap: counted with a
//! counting global allocator (a count, not a timing, so it cannot flake).

use sockstatlog::testing::Counters;
use sockstatlog::testing::Sampler;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn pushes_and_a_tick_with_no_change_allocate_nothing() {
    let c = Counters::default();
    let mut s = Sampler::new(100);
    s.enable(0, &c);
    c.add(1, 1, 1);
    assert!(s.tick(&c).is_some()); // allocates the event, before we count

    let before = ALLOCS.load(Relaxed);
    for i in 0..10_000u64 {
        c.add((i % 256) as u8, i, i);
        c.set_totals(7, i, i);
    }
    assert_eq!(ALLOCS.load(Relaxed) - before, 0, "the push path allocated");

    s.tick(&c); // drain the pushes above
    c.clear_idle();
    s.wake(10_000);
    let before = ALLOCS.load(Relaxed);
    assert_eq!(s.tick(&c), None);
    assert_eq!(ALLOCS.load(Relaxed) - before, 0, "a quiet tick allocated");
}
