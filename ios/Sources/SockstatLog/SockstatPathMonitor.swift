import Foundation
import Network

/// Follows the current network path with `NWPathMonitor` and reports it to a
/// logger with `setInterface(name:kind:)`, so bytes are attributed to cellular
/// or not.
///
/// Inside a packet-tunnel provider the provider's own path is the physical
/// one (its traffic does not enter its own tunnel), so the name is `en0`,
/// `pdp_ip0`, and so on.
///
/// Updates arrive on the monitor's own serial queue; repeated identical
/// updates are reported once. An `NWPathMonitor` cannot be restarted after it
/// is cancelled: call ``start()`` and ``stop()`` once per instance.
public final class SockstatPathMonitor: @unchecked Sendable {
    // @unchecked: `last` is only touched on `queue`; the rest is immutable.
    private let monitor = NWPathMonitor()
    private let queue: DispatchQueue
    private let sink: @Sendable (String, InterfaceKind) -> Void
    private var last: Reported?
    private var lastMetered: Bool?
    /// Receives whether the path is metered (``PathCost``), on the monitor's
    /// queue; set it before ``start()``. The `logger:` initialiser sets it.
    public var onMetered: (@Sendable (Bool) -> Void)?

    private struct Reported: Equatable {
        let name: String
        let kind: InterfaceKind
    }

    /// Reports to `logger`; errors (a logger already shut down) are ignored.
    public convenience init(logger: SockstatLoggerProtocol) {
        self.init { name, kind in
            _ = try? logger.setInterface(name: name, kind: kind)
        }
        onMetered = { metered in _ = try? logger.setNetworkMetered(metered: metered) }
    }

    /// Reports each change of (interface name, kind) to `sink`, called on `queue`.
    public init(
        queue: DispatchQueue = DispatchQueue(label: "dev.sockstatlog.path"),
        sink: @escaping @Sendable (String, InterfaceKind) -> Void
    ) {
        self.queue = queue
        self.sink = sink
    }

    /// Starts following the path; the current path is reported at once.
    public func start() {
        monitor.pathUpdateHandler = { [weak self] path in self?.update(path) }
        monitor.start(queue: queue)
    }

    /// Stops following the path (final: the monitor cannot be restarted).
    public func stop() {
        monitor.cancel()
    }

    private func update(_ path: NWPath) {
        // The cost first, so a waiting upload starts on the new interface.
        let metered = PathCost.isMetered(path)
        if metered != lastMetered {
            lastMetered = metered
            onMetered?(metered)
        }
        let kind = Self.kind(of: path)
        let now = Reported(name: Self.interfaceName(of: path, kind: kind), kind: kind)
        guard now != last else { return }
        last = now
        sink(now.name, now.kind)
    }

    /// The logger's kind for a path: `.noNetwork` when unsatisfied, else the first
    /// of cellular, Wi-Fi, wired Ethernet the path uses (cellular first, as it
    /// is what costs), `.other` for other and loopback interfaces, and
    /// `.unknown` (the logger infers the kind from the name) otherwise.
    public static func kind(of path: NWPath) -> InterfaceKind {
        kind(satisfied: path.status == .satisfied, uses: path.usesInterfaceType)
    }

    /// The same mapping on plain values, for callers and tests without an `NWPath`.
    public static func kind(
        satisfied: Bool,
        uses: (NWInterface.InterfaceType) -> Bool
    ) -> InterfaceKind {
        guard satisfied else { return .noNetwork }
        if uses(.cellular) { return .cellular }
        if uses(.wifi) { return .wifi }
        if uses(.wiredEthernet) { return .wired }
        if uses(.other) || uses(.loopback) { return .other }
        return .unknown
    }

    /// The name of the interface behind `kind` (the first available one if
    /// none matches), or "" when there is no path.
    static func interfaceName(of path: NWPath, kind: InterfaceKind) -> String {
        guard kind != .noNetwork else { return "" }
        let type: NWInterface.InterfaceType? = switch kind {
        case .cellular: .cellular
        case .wifi: .wifi
        case .wired: .wiredEthernet
        default: nil
        }
        let match = path.availableInterfaces.first { $0.type == type }
        return (match ?? path.availableInterfaces.first)?.name ?? ""
    }
}
