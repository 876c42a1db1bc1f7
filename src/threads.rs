//! The logger's background threads, started and stopped in one place: each is
//! named, and joining one waits at most until a deadline, woken the moment
//! the thread exits (never a polling loop), so a stuck disk can delay the
//! host's shutdown by its timeout and no more. Deadlines are computed here
//! too ([`Deadline`]), saturating: a timeout too long to add to the clock (the
//! Rust API's `Duration::MAX`) means no deadline, never a panic.

use crate::error::{Error, Result};
use std::sync::mpsc;
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// A moment to stop waiting at, or never: `Instant + Duration` panics when the
/// sum is not representable, so every timeout the library is given becomes
/// one of these first, before any state changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from now; no deadline at all when the clock cannot represent
    /// that moment (e.g. `Duration::MAX`).
    pub(crate) fn after(timeout: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(timeout))
    }

    /// Time left, zero once passed; `Duration::MAX` for no deadline (the
    /// standard library's timed waits treat that as "wait indefinitely").
    pub(crate) fn left(&self) -> Duration {
        match self.0 {
            Some(at) => at.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        }
    }

    /// True once the deadline is behind us (never without one).
    pub(crate) fn passed(&self) -> bool {
        self.left().is_zero()
    }

    /// The moment itself; `None` is no deadline.
    pub(crate) fn at(&self) -> Option<Instant> {
        self.0
    }
}

/// A running background thread.
#[derive(Debug)]
pub(crate) struct Worker {
    handle: JoinHandle<()>,
    /// Disconnects when the thread's closure ends (returns or unwinds): the
    /// sender is moved into it and dropped with it.
    exited: mpsc::Receiver<()>,
}

/// Starts a named thread running `body`.
pub(crate) fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<Worker> {
    let (tx, exited) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _signal_on_exit = tx;
            body();
        })
        .map_err(|e| Error::io(format!("starting thread {name}"), e))?;
    Ok(Worker { handle, exited })
}

impl Worker {
    /// The thread, for unparking it.
    pub(crate) fn thread(&self) -> &Thread {
        self.handle.thread()
    }

    /// Waits until the thread exits or `deadline` passes; joins it in the
    /// first case and returns true. In the second the thread is left
    /// detached: it exits on its own when whatever blocks it returns.
    pub(crate) fn join_by(self, deadline: Deadline) -> bool {
        match self.exited.recv_timeout(deadline.left()) {
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            // Disconnected (nothing is ever sent): the body has ended.
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = self.handle.join();
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn a_finished_thread_is_joined_and_a_stuck_one_is_left_at_the_deadline() {
        let w = spawn("sockstatlog-test-quick", || {}).unwrap();
        assert!(w.join_by(Deadline::after(Duration::from_secs(60))));

        let gate = Arc::new(Barrier::new(2));
        let g = gate.clone();
        let w = spawn("sockstatlog-test-stuck", move || {
            g.wait();
        })
        .unwrap();
        assert!(!w.join_by(Deadline::after(Duration::ZERO)), "still blocked: not joined");
        gate.wait();
    }

    #[test]
    fn a_panicking_thread_still_counts_as_exited() {
        let w = spawn("sockstatlog-test-panics", || panic!("boom")).unwrap();
        assert!(w.join_by(Deadline::after(Duration::MAX)), "no deadline: waits for the exit");
    }

    #[test]
    fn a_timeout_past_the_clocks_range_is_no_deadline_and_never_panics() {
        // (name, timeout, the most time that may be left right after).
        let cases = [
            ("zero", Duration::ZERO, Duration::ZERO),
            ("one nanosecond", Duration::from_nanos(1), Duration::from_nanos(1)),
            ("max", Duration::MAX, Duration::MAX),
        ];
        for (name, timeout, most) in cases {
            let d = Deadline::after(timeout);
            assert!(d.left() <= most, "case {name}");
        }
        assert!(Deadline::after(Duration::ZERO).passed());
        assert!(!Deadline::after(Duration::MAX).passed());
        assert_eq!(Deadline::after(Duration::MAX).left(), Duration::MAX, "no deadline");
    }
}
