//! The FFI of the on-device usage calls (`recent_usage`): its record and a
//! second exported block of [`SockstatLogger`] methods, each a one-line
//! delegation to [`crate::Logger`], kept apart from the logging core's calls.

use super::records::{millis, signed};
use super::{SockstatError, SockstatLogger};

/// Bytes of one label over a window, for an on-device usage screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub(crate) struct LabelUsage {
    /// Label id, 0..=255.
    pub label: i32,
    /// Its registered or upstream name; null when it has none.
    pub name: Option<String>,
    /// Bytes sent over every network.
    pub tx: i64,
    /// Bytes received over every network.
    pub rx: i64,
    /// The part of `tx` sent while the default interface was cellular.
    pub cellular_tx: i64,
    /// The part of `rx` received while it was cellular.
    pub cellular_rx: i64,
}

impl From<crate::LabelUsage> for LabelUsage {
    fn from(u: crate::LabelUsage) -> Self {
        LabelUsage {
            label: u.label as i32, // 0..=255
            name: u.name,
            tx: signed(u.tx),
            rx: signed(u.rx),
            cellular_tx: signed(u.cellular_tx),
            cellular_rx: signed(u.cellular_rx),
        }
    }
}

#[uniffi::export]
impl SockstatLogger {
    /// Per-label bytes of the last `window_ms` (1 000 to 3 600 000, else
    /// `InvalidArgument`), from memory, largest `tx + rx` first, up to the
    /// last sampler tick: 1 s resolution up to a minute, 1 min beyond.
    pub(crate) fn recent_usage(&self, window_ms: i64) -> Result<Vec<LabelUsage>, SockstatError> {
        let usage = self.inner.recent_usage(millis("window_ms", window_ms)?)?;
        Ok(usage.into_iter().map(LabelUsage::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_outside_a_second_to_an_hour_is_an_invalid_argument() {
        let dir = tempfile::tempdir().unwrap();
        let id = "ab".repeat(32);
        let config = super::super::default_logger_config(dir.path().display().to_string().into(), id.into());
        let logger = SockstatLogger::new(config).unwrap();
        for bad in [-1, 0, 999, 3_600_001] {
            let e = logger.recent_usage(bad).unwrap_err();
            assert!(matches!(e, SockstatError::InvalidArgument { .. }), "{bad}: {e:?}");
        }
        assert_eq!(logger.recent_usage(1_000).unwrap(), []);
        logger.shutdown(5_000).unwrap();
    }
}
