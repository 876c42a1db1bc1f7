import Network

/// Whether a network path costs the user money, as Apple says it: an
/// expensive path (cellular, a personal hotspot) or a constrained one (Low
/// Data Mode). ``SockstatPathMonitor`` passes it to the logger's
/// `setNetworkMetered(metered:)` with each path change; a logger configured
/// with `uploadOnMetered = false` then holds uploads back until a free path
/// arrives.
public enum PathCost {
    /// The rule on plain values, for callers and tests without an `NWPath`.
    public static func isMetered(expensive: Bool, constrained: Bool) -> Bool {
        expensive || constrained
    }

    /// Apple's answer for this path.
    public static func isMetered(_ path: NWPath) -> Bool {
        isMetered(expensive: path.isExpensive, constrained: path.isConstrained)
    }
}
