//! The logger's background threads, started and stopped in one place: each is
//! named, and joining one waits at most until a deadline, woken the moment
//! the thread exits (never a polling loop), so a stuck disk can delay the
//! host's shutdown by its timeout and no more.

use crate::error::{Error, Result};
use std::sync::mpsc;
use std::thread::{self, JoinHandle, Thread};
use std::time::Instant;

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
    pub(crate) fn join_by(self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.exited.recv_timeout(left) {
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
    use std::time::Duration;

    #[test]
    fn a_finished_thread_is_joined_and_a_stuck_one_is_left_at_the_deadline() {
        let w = spawn("sockstatlog-test-quick", || {}).unwrap();
        assert!(w.join_by(Instant::now() + Duration::from_secs(60)));

        let gate = Arc::new(Barrier::new(2));
        let g = gate.clone();
        let w = spawn("sockstatlog-test-stuck", move || {
            g.wait();
        })
        .unwrap();
        assert!(!w.join_by(Instant::now()), "still blocked: not joined");
        gate.wait();
    }

    #[test]
    fn a_panicking_thread_still_counts_as_exited() {
        let w = spawn("sockstatlog-test-panics", || panic!("boom")).unwrap();
        assert!(w.join_by(Instant::now() + Duration::from_secs(60)));
    }
}
