//! The demo's timeline: when the phone changes networks, when a socket's
//! counters reset, and the idle stretch. Times are simulated milliseconds
//! since the start, placed at fixed fractions of the run so that a short test
//! run goes through every phase a ten-minute demo does.

use sockstatlog::interface::{is_cellular, InterfaceKind};

/// Wi-Fi until 30 % of the run: long enough for a DNS burst or two, the bulk
/// transfer's start and a netcheck before the first handover.
pub const TO_CELLULAR_PCT: u64 = 30;
/// Back on Wi-Fi at 55 %: a quarter of the run on cellular, so the report's
/// radio attribution has several minutes to charge.
pub const BACK_TO_WIFI_PCT: u64 = 55;
/// The idle stretch (screen off, every subsystem quiet) from 70 % to 85 %:
/// the sampler must stop waking up, and the log must show a gap.
pub const IDLE_FROM_PCT: u64 = 70;
/// End of the idle stretch.
pub const IDLE_TO_PCT: u64 = 85;
/// The DERP connection is re-dialled this long after the move to cellular
/// (its old socket died with Wi-Fi), so its OS byte counters restart from
/// zero: the counter reset the demo reports through `set_totals`.
pub const DERP_RECONNECT_DELAY_MS: u64 = 2_000;
/// Wi-Fi as Android names it; the kind is known from the platform.
pub const WIFI_NAME: &str = "wlan0";
/// Qualcomm's cellular data interface; given as `Unknown` so the logger
/// infers "cellular" from the name, as it must for hosts that cannot tell.
pub const CELLULAR_NAME: &str = "rmnet_data0";

/// A change of the default interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    /// When, in simulated ms since the start.
    pub at_ms: u64,
    /// New interface name.
    pub name: &'static str,
    /// Its kind as the host reports it.
    pub kind: InterfaceKind,
}

impl Handover {
    /// Whether the new interface is cellular (as the logger will decide).
    pub fn cellular(&self) -> bool {
        is_cellular(self.name, self.kind)
    }
}

/// The whole timeline of one run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Length of the run, simulated ms.
    pub total_ms: u64,
    /// The interface at the start (`at_ms` 0) and every change after it.
    pub handovers: Vec<Handover>,
    /// When the DERP socket's counters restart from zero.
    pub derp_reset_ms: u64,
    /// `[from, to)` of the idle stretch.
    pub idle_ms: (u64, u64),
}

impl Scenario {
    /// The timeline of a run of `seconds` simulated seconds.
    pub fn new(seconds: u64) -> Scenario {
        let total_ms = seconds * 1000;
        let at = |pct: u64| total_ms * pct / 100;
        let handovers = vec![
            Handover { at_ms: 0, name: WIFI_NAME, kind: InterfaceKind::Wifi },
            Handover { at_ms: at(TO_CELLULAR_PCT), name: CELLULAR_NAME, kind: InterfaceKind::Unknown },
            Handover { at_ms: at(BACK_TO_WIFI_PCT), name: WIFI_NAME, kind: InterfaceKind::Wifi },
        ];
        Scenario {
            total_ms,
            derp_reset_ms: at(TO_CELLULAR_PCT) + DERP_RECONNECT_DELAY_MS.min(total_ms / 20),
            idle_ms: (at(IDLE_FROM_PCT), at(IDLE_TO_PCT)),
            handovers,
        }
    }

    /// Whether every subsystem is quiet at `t_ms`.
    pub fn is_idle(&self, t_ms: u64) -> bool {
        (self.idle_ms.0..self.idle_ms.1).contains(&t_ms)
    }

    /// Times at which the network changed (the start included): what
    /// re-dials, netchecks and portmapper probes react to.
    pub fn changes(&self) -> impl Iterator<Item = u64> + '_ {
        self.handovers.iter().map(|h| h.at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_goes_wifi_cellular_wifi_then_idles() {
        let s = Scenario::new(600);
        let cell: Vec<bool> = s.handovers.iter().map(Handover::cellular).collect();
        assert_eq!(cell, [false, true, false]);
        assert_eq!(s.handovers[1].at_ms, 180_000);
        assert_eq!(s.derp_reset_ms, 182_000);
        assert!(s.is_idle(420_000) && !s.is_idle(510_000));
    }

    #[test]
    fn a_short_run_keeps_the_reset_inside_the_cellular_phase() {
        let s = Scenario::new(10);
        assert!(s.derp_reset_ms > s.handovers[1].at_ms && s.derp_reset_ms < s.handovers[2].at_ms);
    }
}
