//! Whether an upload may use the network now: the data-plan setting
//! (`UploadConfig::upload_on_metered`) against what the host said of the
//! current network (cellular or none at all, from `set_interface`; metered or expensive,
//! from `set_network_metered`), and the one upload that waits for an
//! unmetered network. Pure state behind one short lock: no I/O, no threads;
//! the logger starts the waiting upload when this says it may.

use crate::interface::InterfaceKind;
use crate::sync::lock;
use std::sync::Mutex;

/// `FlushReport::deferred` when the upload waits for an unmetered network.
pub(crate) const DEFERRED_METERED: &str = "metered";

/// What the host said about the current network.
#[derive(Debug, Default)]
struct State {
    /// The default interface is cellular.
    cellular: bool,
    /// The host said the network is metered (Android: no
    /// `NET_CAPABILITY_NOT_METERED`; iOS: `NWPath.isExpensive` or `isConstrained`).
    metered: bool,
    /// The host said there is no network (`InterfaceKind::None`): a waiting
    /// upload keeps waiting rather than fail against no network.
    offline: bool,
    /// An upload was asked for and deferred; it starts once the network is free.
    waiting: bool,
}

impl State {
    fn costs(&self) -> bool {
        self.cellular || self.metered
    }
}

/// The upload policy of one logger.
#[derive(Debug)]
pub(crate) struct NetworkCost {
    /// Uploads may use a cellular or metered network (the default).
    upload_on_metered: bool,
    state: Mutex<State>,
}

impl NetworkCost {
    /// A policy with nothing known of the network yet (free until told otherwise).
    pub(crate) fn new(upload_on_metered: bool) -> Self {
        NetworkCost { upload_on_metered, state: Mutex::new(State::default()) }
    }

    /// Whether an upload asked for now must wait for an unmetered network;
    /// if so, it is remembered and [`NetworkCost::set_cellular`] or
    /// [`NetworkCost::set_metered`] will say when to start it.
    pub(crate) fn defer(&self) -> bool {
        let mut s = lock(&self.state);
        let defer = !self.upload_on_metered && s.costs();
        s.waiting |= defer;
        defer
    }

    /// The default interface is now of this kind (resolved from its name).
    /// True when a deferred upload may start now (it is then forgotten: the
    /// caller starts it).
    pub(crate) fn set_interface(&self, kind: InterfaceKind) -> bool {
        self.update(|s| {
            s.cellular = kind == InterfaceKind::Cellular;
            s.offline = kind == InterfaceKind::None;
        })
    }

    /// The host says the network is metered or not. True as for `set_cellular`.
    pub(crate) fn set_metered(&self, metered: bool) -> bool {
        self.update(|s| s.metered = metered)
    }

    fn update(&self, change: impl FnOnce(&mut State)) -> bool {
        let mut s = lock(&self.state);
        change(&mut s);
        let start = s.waiting && !s.costs() && !s.offline;
        if start {
            s.waiting = false;
        }
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    enum Step {
        Cellular(bool),
        Offline,
        Metered(bool),
        /// An upload is asked for: expect it deferred or not.
        Ask(bool),
    }
    use Step::*;

    #[test]
    fn uploads_wait_on_cellular_or_metered_networks_only_when_the_setting_says_so() {
        // (case, upload_on_metered, steps, whether each network change starts the waiting upload)
        type Case = (&'static str, bool, &'static [Step], &'static [bool]);
        let cases: &[Case] = &[
            ("default-uploads-anywhere", true, &[Cellular(true), Metered(true), Ask(false)], &[false, false]),
            ("unknown-network-is-free", false, &[Ask(false)], &[]),
            ("cellular-defers-until-wifi", false, &[Cellular(true), Ask(true), Cellular(false)], &[false, true]),
            ("metered-wifi-defers", false, &[Metered(true), Ask(true), Metered(false)], &[false, true]),
            (
                "both-must-clear",
                false,
                &[Cellular(true), Metered(true), Ask(true), Cellular(false), Metered(false)],
                &[false, false, false, true],
            ),
            (
                "starts-once",
                false,
                &[Cellular(true), Ask(true), Cellular(false), Cellular(false)],
                &[false, true, false],
            ),
            ("nothing-waiting-nothing-starts", false, &[Cellular(true), Cellular(false)], &[false, false]),
            (
                "no-network-keeps-waiting",
                false,
                &[Cellular(true), Ask(true), Offline, Cellular(false)],
                &[false, false, true],
            ),
        ];
        for (name, on_metered, steps, want) in cases {
            let cost = NetworkCost::new(*on_metered);
            let mut started = Vec::new();
            for step in *steps {
                match *step {
                    Cellular(c) => {
                        let kind = if c { InterfaceKind::Cellular } else { InterfaceKind::Wifi };
                        started.push(cost.set_interface(kind))
                    }
                    Offline => started.push(cost.set_interface(InterfaceKind::None)),
                    Metered(m) => started.push(cost.set_metered(m)),
                    Ask(deferred) => assert_eq!(cost.defer(), deferred, "{name}: {step:?}"),
                }
            }
            assert_eq!(started, *want, "{name}");
        }
    }
}
