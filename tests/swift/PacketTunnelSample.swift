// A packet-tunnel provider that owns a socket-stats logger: the shape of the
// iOS integration. Syntax-checked on Linux by check_swift.py (no Swift
// compiler here); it is a sample, not shipped code.
import Foundation
import Network
import NetworkExtension
import SockstatLog

/// Label ids this tunnel reports under (0...12 are upstream's names).
enum TunnelLabel: Int32 {
    case tunnelUDP = 20
    case tunnelTCP = 21
}

/// Maps the system's view of the default path onto the logger's interface kind.
func interfaceKind(of path: NWPath) -> InterfaceKind {
    guard path.status == .satisfied else { return .noNetwork }
    if path.usesInterfaceType(.cellular) { return .cellular }
    if path.usesInterfaceType(.wifi) { return .wifi }
    if path.usesInterfaceType(.wiredEthernet) { return .wired }
    if path.usesInterfaceType(.other) || path.usesInterfaceType(.loopback) { return .other }
    return .unknown
}

final class PacketTunnelProvider: NEPacketTunnelProvider {
    private var logger: SockstatLogger?
    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: "sockstats.path")

    override func startTunnel(options: [String: NSObject]?, completionHandler: @escaping (Error?) -> Void) {
        do {
            let dir = FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask)[0]
                .appendingPathComponent("sockstats", isDirectory: true)
            var config = defaultLoggerConfig(logDir: dir.path, backendPublicId: Self.backendPublicId)
            config.maxLogBytes = 2 << 20 // the extension has a 50 MiB memory cap; keep the log small too
            let logger = try SockstatLogger(config: config)
            try logger.registerLabel(label: TunnelLabel.tunnelUDP.rawValue, name: "TunnelUDP")
            try logger.registerLabel(label: TunnelLabel.tunnelTCP.rawValue, name: "TunnelTCP")
            try logger.enable()
            self.logger = logger
            monitor.pathUpdateHandler = { [weak self] path in
                let name = path.availableInterfaces.first?.name ?? ""
                try? self?.logger?.setInterface(name: name, kind: interfaceKind(of: path))
            }
            monitor.start(queue: queue)
            completionHandler(nil)
        } catch let SockstatError.InvalidLogId(reason) {
            NSLog("sockstats disabled: bad node id: \(reason)")
            completionHandler(nil)
        } catch {
            completionHandler(error)
        }
    }

    /// Called by the packet loop after each batch it moved.
    func didMove(udpSent: Int64, udpReceived: Int64, tcpSent: Int64, tcpReceived: Int64) {
        guard let logger else { return }
        let samples = [
            CounterSample(label: TunnelLabel.tunnelUDP.rawValue, tx: udpSent, rx: udpReceived, isTotal: false),
            CounterSample(label: TunnelLabel.tunnelTCP.rawValue, tx: tcpSent, rx: tcpReceived, isTotal: false),
        ]
        try? logger.pushBatch(samples: samples)
    }

    /// The app asks for an upload with the message "flush"; the reply is the outcome.
    override func handleAppMessage(_ messageData: Data, completionHandler: ((Data?) -> Void)?) {
        guard String(data: messageData, encoding: .utf8) == "flush", let logger else {
            completionHandler?(nil)
            return
        }
        queue.async {
            let reply: String
            do {
                let report = try logger.flush(timeoutMs: 20_000)
                reply = "uploaded \(report.entries) lines in \(report.batches) batches, drained: \(report.drained)"
            } catch {
                reply = "flush failed: \(error.localizedDescription)"
            }
            completionHandler?(reply.data(using: .utf8))
        }
    }

    override func stopTunnel(with reason: NEProviderStopReason, completionHandler: @escaping () -> Void) {
        monitor.cancel()
        try? logger?.shutdown(timeoutMs: 2_000)
        logger = nil
        completionHandler()
    }

    private static let backendPublicId = String(repeating: "0", count: 64)
}
