//! The current default interface and whether it is cellular: the host tells us
//! the interface's name and, if it knows, its kind; for `Unknown` we infer the
//! kind from the name as upstream does, plus MediaTek's `ccmni`, Android's
//! 464XLAT (`v4-`) interfaces and names in any case.

/// What kind of link the default route uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterfaceKind {
    /// A mobile data link (LTE, 5G, ...).
    Cellular,
    /// Wi-Fi.
    Wifi,
    /// Ethernet or another wired link.
    Wired,
    /// Some other known link (loopback, a VPN underlay, Bluetooth tethering).
    Other,
    /// No network at all.
    None,
    /// The host does not know: infer from the interface name.
    Unknown,
}

/// Name prefixes of cellular interfaces: Android Qualcomm (`rmnet`), WWAN
/// modems (`ww`), iOS (`pdp_ip0`), and MediaTek (`ccmni`), which upstream misses.
const CELLULAR_PREFIXES: [&str; 4] = ["rmnet", "ww", "pdp", "ccmni"];

/// The prefix Android's CLAT (464XLAT) puts before the cellular interface it
/// stacks on: on IPv6-only cellular the default IPv4 interface is
/// `v4-rmnet_data0`, which is as cellular as `rmnet_data0`.
const CLAT_PREFIX: &str = "v4-";

/// Whether `name` (after any CLAT prefix, in any case) starts with a cellular prefix.
fn has_cellular_name(name: &str) -> bool {
    let base = strip_prefix_ignore_case(name, CLAT_PREFIX).unwrap_or(name);
    CELLULAR_PREFIXES.iter().any(|p| strip_prefix_ignore_case(base, p).is_some())
}

/// `s` without `prefix`, compared ASCII case-insensitively (interface names
/// are ASCII; a non-ASCII name simply matches nothing).
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.as_bytes().get(..prefix.len())?;
    // The head matched ASCII bytes, so `prefix.len()` is a char boundary.
    head.eq_ignore_ascii_case(prefix.as_bytes()).then(|| &s[prefix.len()..])
}

impl InterfaceKind {
    /// Resolves `Unknown` from the interface name; other kinds are kept.
    pub fn resolve(self, name: &str) -> InterfaceKind {
        match self {
            InterfaceKind::Unknown if has_cellular_name(name) => InterfaceKind::Cellular,
            other => other,
        }
    }

    /// The lower-case name used in traces and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceKind::Cellular => "cellular",
            InterfaceKind::Wifi => "wifi",
            InterfaceKind::Wired => "wired",
            InterfaceKind::Other => "other",
            InterfaceKind::None => "none",
            InterfaceKind::Unknown => "unknown",
        }
    }

    /// Parses [`InterfaceKind::as_str`]'s names.
    pub fn parse(s: &str) -> Option<InterfaceKind> {
        Some(match s {
            "cellular" => InterfaceKind::Cellular,
            "wifi" => InterfaceKind::Wifi,
            "wired" => InterfaceKind::Wired,
            "other" => InterfaceKind::Other,
            "none" => InterfaceKind::None,
            "unknown" => InterfaceKind::Unknown,
            _ => return None,
        })
    }
}

/// Whether an interface with this name and reported kind is cellular: the
/// rule `Logger::set_interface` applies, offered to hosts that want to show
/// or log the same decision (the demo labels its simulated interfaces with
/// it). `Unknown` infers the kind from the name (`rmnet*`, `ww*`, `pdp*`,
/// `ccmni*`, also behind Android's `v4-` CLAT prefix, in any case); any
/// other kind is taken as reported.
///
/// ```
/// use sockstatlog::interface::{is_cellular, InterfaceKind};
/// assert!(is_cellular("v4-rmnet_data0", InterfaceKind::Unknown));
/// assert!(!is_cellular("rmnet_data0", InterfaceKind::Wifi));
/// ```
pub fn is_cellular(name: &str, kind: InterfaceKind) -> bool {
    kind.resolve(name) == InterfaceKind::Cellular
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kind_is_inferred_from_the_name() {
        let cases = [
            ("rmnet_data0", true),
            ("wwan0", true),
            ("pdp_ip0", true),
            ("ccmni1", true),
            ("v4-rmnet_data0", true),
            ("V4-RMNET_DATA0", true),
            ("RMNET_DATA0", true),
            ("Pdp_Ip0", true),
            ("v4-wlan0", false),
            ("v4-", false),
            ("v4", false),
            ("rmne", false),
            ("wlan0", false),
            ("en0", false),
            ("é", false),
            ("", false),
        ];
        for (name, cellular) in cases {
            assert_eq!(is_cellular(name, InterfaceKind::Unknown), cellular, "{name}");
        }
    }

    #[test]
    fn an_explicit_kind_wins_over_the_name() {
        assert!(!is_cellular("rmnet0", InterfaceKind::Wifi));
        assert!(is_cellular("en5", InterfaceKind::Cellular));
    }

    #[test]
    fn names_round_trip() {
        for k in ["cellular", "wifi", "wired", "other", "none", "unknown"] {
            assert_eq!(InterfaceKind::parse(k).unwrap().as_str(), k);
        }
        assert_eq!(InterfaceKind::parse("lte"), None);
    }
}
