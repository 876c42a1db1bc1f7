//! The FFI of the network calls: the OS byte totals (`record_os_totals`), and of the data plan: what the host's network monitor says of
//! the network's cost (`set_network_metered`) and the upload that ignores it
//! (`force_flush`). One-line delegations to [`crate::Logger`], in their own
//! exported block of [`SockstatLogger`] methods.

use super::records::{millis, FlushReport};
use super::{SockstatError, SockstatLogger};

#[uniffi::export]
impl SockstatLogger {
    /// Whether the current network is metered: Android, it lacks
    /// `NET_CAPABILITY_NOT_METERED`; iOS, `NWPath.isExpensive` or
    /// `isConstrained`. With `upload_on_metered` off, uploads wait while it
    /// is (or while the interface is cellular) and start by themselves after.
    pub(crate) fn set_network_metered(&self, metered: bool) -> Result<(), SockstatError> {
        Ok(self.inner.set_network_metered(metered)?)
    }

    /// `flush` whatever the network: uploads now even on a cellular or
    /// metered one, until drained or `timeout_ms` (not negative) passes.
    pub(crate) fn force_flush(&self, timeout_ms: i64) -> Result<FlushReport, SockstatError> {
        Ok(self.inner.force_flush(millis("timeout_ms", timeout_ms)?)?.into())
    }
}

#[uniffi::export]
impl SockstatLogger {
    /// The OS's cumulative byte totals for this app (Android:
    /// `TrafficStats.getUidTxBytes`/`getUidRxBytes`; not negative: the glue
    /// skips the -1 of "unsupported"), at any cadence; the latest goes into
    /// the log as an `os` entry with each write.
    pub(crate) fn record_os_totals(&self, tx: i64, rx: i64) -> Result<(), SockstatError> {
        Ok(self.inner.record_os_totals(super::records::unsigned("tx", tx)?, super::records::unsigned("rx", rx)?)?)
    }
}
