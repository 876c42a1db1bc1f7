//! The crate's one mutex helper.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a thread panicked while holding it:
/// the state behind our mutexes stays consistent between statements, and a
/// logger must keep logging rather than cascade a panic into the host.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
