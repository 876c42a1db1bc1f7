//! How background failures reach the host: a [`Listener`] the host registers
//! (`Logger::set_listener`; a UniFFI foreign trait in Swift and Kotlin, as
//! application-services reports errors to its host), called with a
//! [`LoggerEvent`] for each write failure, dropped entry batch and upload
//! failure. stderr goes nowhere on a phone; the counts stay in `stats()`.
//!
//! The writer and the uploader only ever *queue* an event (a short lock,
//! never held across anything else); one thread of the library's own,
//! `sockstatlog-listener`, started with the first listener, calls the host.
//! So the listener never runs on the host's calls or the push path, and a
//! slow listener delays nothing but its own events: past
//! [`QUEUE_CAPACITY`] pending events, new ones are dropped and counted
//! (`stats().listener_dropped_events`), and the listener hears how many it
//! missed ([`LoggerEvent::EventsMissed`]) once it catches up.

use crate::sync::lock;
use crate::threads::{self, Deadline};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

/// Events waiting for a slow listener before new ones are dropped: a few
/// minutes of the fastest failure rate (an upload retried every backoff
/// step, a write failing every write interval) and a few KiB of messages.
pub(crate) const QUEUE_CAPACITY: usize = 64;

/// Something that went wrong in the background. The running totals are in
/// `stats()` (`write_errors`, `dropped_entries`, `upload_failures`,
/// `listener_dropped_events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggerEvent {
    /// Appending to or syncing the log (or committing its read position)
    /// failed; the entries stay pending and are retried. Reported once per
    /// distinct message until a write succeeds again.
    WriteFailed {
        /// The OS error and what was being done.
        reason: String,
    },
    /// Entries were given up: longer than the log's line limit, or the
    /// oldest pending ones while the disk failed for longer than the retry
    /// buffer holds.
    EntriesDropped {
        /// Entries given up now.
        entries: u64,
        /// Their bytes.
        bytes: u64,
        /// Why.
        reason: String,
    },
    /// An upload attempt failed; it is retried after a backoff. Reported
    /// once per distinct message while failures continue.
    UploadFailed {
        /// HTTP status, timeout or transport error.
        reason: String,
        /// Failures in a row, this one included.
        consecutive_failures: u64,
    },
    /// An upload succeeded after failures.
    UploadRecovered {
        /// The failures in a row before it.
        failures: u64,
    },
    /// The listener fell more than 64 events behind and
    /// this many were dropped (also in `stats().listener_dropped_events`).
    EventsMissed {
        /// Events dropped since the last such report.
        count: u64,
    },
}

/// Implemented by the host to hear about background failures. Called on the
/// library's `sockstatlog-listener` thread, one event at a time, in order;
/// never on a thread of the host's. A panic in it is caught and ignored.
pub trait Listener: Send + Sync {
    /// One event.
    fn on_event(&self, event: LoggerEvent);
}

/// The queue between the background threads and the host's listener.
/// Cheap to clone: clones share one queue.
#[derive(Clone, Default)]
pub(crate) struct Reporter {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    listener: Option<Arc<dyn Listener>>,
    queue: VecDeque<LoggerEvent>,
    /// Dropped since the last `EventsMissed` was queued.
    missed: u64,
    /// Dropped in all.
    missed_total: u64,
    closed: bool,
    thread: Option<threads::Worker>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter").field("dropped", &self.dropped()).finish_non_exhaustive()
    }
}

impl Reporter {
    /// Registers (or with `None` removes) the listener; the first one starts
    /// the delivery thread. Events pending for a removed listener are
    /// discarded. After [`Reporter::close`] this does nothing.
    pub(crate) fn set_listener(&self, listener: Option<Arc<dyn Listener>>) -> crate::Result<()> {
        let mut st = lock(&self.inner.state);
        if st.closed {
            return Ok(());
        }
        if listener.is_none() {
            st.queue.clear();
            st.missed = 0;
        }
        if listener.is_some() && st.thread.is_none() {
            let inner = self.inner.clone();
            st.thread = Some(threads::spawn("sockstatlog-listener", move || deliver(&inner))?);
        }
        st.listener = listener;
        Ok(())
    }

    /// Queues an event for the listener, or counts it dropped when the
    /// listener is [`QUEUE_CAPACITY`] behind. Never waits for the listener;
    /// does nothing without one.
    pub(crate) fn report(&self, event: impl FnOnce() -> LoggerEvent) {
        let mut st = lock(&self.inner.state);
        if st.listener.is_none() || st.closed {
            return;
        }
        if st.queue.len() >= QUEUE_CAPACITY {
            st.missed += 1;
            st.missed_total += 1;
            return;
        }
        st.queue.push_back(event());
        self.inner.wake.notify_one();
    }

    /// Events dropped because the listener fell behind.
    pub(crate) fn dropped(&self) -> u64 {
        lock(&self.inner.state).missed_total
    }

    /// Delivers what is queued, then stops the thread, waiting until
    /// `deadline` at most (a listener still busy then is left to finish on
    /// its own thread).
    pub(crate) fn close(&self, deadline: Deadline) {
        let thread = {
            let mut st = lock(&self.inner.state);
            st.closed = true;
            self.inner.wake.notify_one();
            st.thread.take()
        };
        if let Some(t) = thread {
            t.join_by(deadline);
        }
    }
}

/// The delivery thread's body: one event at a time, the listener called
/// with no lock held.
fn deliver(inner: &Inner) {
    loop {
        let (listener, event) = {
            let mut st = lock(&inner.state);
            loop {
                if let Some(ev) = next_event(&mut st) {
                    break (st.listener.clone(), ev);
                }
                if st.closed {
                    return;
                }
                st = inner.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        };
        if let Some(l) = listener {
            // A host listener that panics (or a foreign one that throws)
            // loses its event, never the thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l.on_event(event)));
        }
    }
}

/// The next event: queued ones first, then the count of those missed.
fn next_event(st: &mut State) -> Option<LoggerEvent> {
    if let Some(ev) = st.queue.pop_front() {
        return Some(ev);
    }
    (st.missed > 0).then(|| LoggerEvent::EventsMissed { count: std::mem::take(&mut st.missed) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A listener that records events and can be held inside `on_event`.
    struct Gated {
        entered: Mutex<mpsc::Sender<()>>,
        release: Mutex<mpsc::Receiver<()>>,
        got: Mutex<mpsc::Sender<LoggerEvent>>,
    }

    impl Listener for Gated {
        fn on_event(&self, event: LoggerEvent) {
            let _ = lock(&self.entered).send(());
            let _ = lock(&self.release).recv();
            let _ = lock(&self.got).send(event);
        }
    }

    fn failed(i: u64) -> LoggerEvent {
        LoggerEvent::UploadFailed { reason: format!("attempt {i}"), consecutive_failures: i }
    }

    #[test]
    fn a_stuck_listener_holds_capacity_events_drops_and_counts_the_rest_then_hears_the_count() {
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let (got_tx, got) = mpsc::channel();
        let l = Gated { entered: Mutex::new(entered_tx), release: Mutex::new(release_rx), got: Mutex::new(got_tx) };
        let r = Reporter::default();
        r.set_listener(Some(Arc::new(l))).unwrap();
        r.report(|| failed(0));
        entered.recv().unwrap(); // the listener holds event 0 and is stuck
        let extra = 100;
        for i in 1..=QUEUE_CAPACITY as u64 + extra {
            r.report(|| failed(i)); // returns at once: nothing waits for the listener
        }
        assert_eq!(r.dropped(), extra, "past the bound: dropped and counted");
        for _ in 0..=QUEUE_CAPACITY + 1 {
            release.send(()).unwrap();
        }
        let events: Vec<_> = (0..=QUEUE_CAPACITY + 1).map(|_| got.recv().unwrap()).collect();
        let want: Vec<_> = (0..=QUEUE_CAPACITY as u64).map(failed).collect();
        assert_eq!(events[..=QUEUE_CAPACITY], want[..], "the oldest kept, in order");
        assert_eq!(events[QUEUE_CAPACITY + 1], LoggerEvent::EventsMissed { count: extra });
        r.close(Deadline::after(Duration::from_secs(60)));
    }

    #[test]
    fn without_a_listener_nothing_is_queued_or_counted() {
        let r = Reporter::default();
        for i in 0..1000 {
            r.report(|| failed(i));
        }
        assert_eq!(r.dropped(), 0);
        assert!(lock(&r.inner.state).queue.is_empty());
    }

    #[test]
    fn a_panicking_listener_loses_its_event_not_the_thread() {
        struct Panics(Mutex<mpsc::Sender<LoggerEvent>>);
        impl Listener for Panics {
            fn on_event(&self, event: LoggerEvent) {
                let first = matches!(event, LoggerEvent::UploadFailed { consecutive_failures: 0, .. });
                lock(&self.0).send(event).unwrap();
                assert!(!first, "boom");
            }
        }
        let (tx, rx) = mpsc::channel();
        let r = Reporter::default();
        r.set_listener(Some(Arc::new(Panics(Mutex::new(tx))))).unwrap();
        r.report(|| failed(0));
        r.report(|| failed(1));
        assert_eq!(rx.recv().unwrap(), failed(0));
        assert_eq!(rx.recv().unwrap(), failed(1));
        r.close(Deadline::after(Duration::from_secs(60)));
    }
}
