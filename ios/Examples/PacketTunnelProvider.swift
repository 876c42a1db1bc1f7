// The shape of a packet-tunnel extension using sockstatlog: not part of the
// package (copy it into your extension target). Syntax-checked on Linux by
// scripts/test-platform.sh; compiled only by a contributor with Xcode.
//
// Memory: a packet tunnel gets 50 MiB (iOS 15+), and everything counts:
// code, the logger's threads, buffers. So the log is capped at 1 MiB on disk,
// packets are counted as they pass (never collected), each read costs one FFI
// call whatever its packet count, and the upload session keeps no cache.
import Foundation
import NetworkExtension
import SockstatLog

/// Label ids this tunnel reports under (0...12 are upstream's names).
enum TunnelLabel {
    static let ipv4: Int32 = 20
    static let ipv6: Int32 = 21
}

final class PacketTunnelProvider: NEPacketTunnelProvider {
    private var logger: SockstatLogger?
    private var pathMonitor: SockstatPathMonitor?
    /// Flushes wait on the network: never on the provider's own queue.
    private let flushQueue = DispatchQueue(label: "sockstatlog.flush")

    /// Log files together, bytes: uploads drain them; 1 MiB is hours of events.
    private static let maxLogBytes: Int64 = 1 << 20
    /// How long `stopTunnel` may spend writing the last events, ms.
    private static let shutdownTimeoutMs: Int64 = 2_000
    /// How long an app-requested flush may upload, ms.
    private static let flushTimeoutMs: Int64 = 20_000

    override func startTunnel(options: [String: NSObject]?, completionHandler: @escaping (Error?) -> Void) {
        startStats()
        let settings = NEPacketTunnelNetworkSettings(tunnelRemoteAddress: "192.0.2.1")
        settings.ipv4Settings = NEIPv4Settings(addresses: ["10.0.0.2"], subnetMasks: ["255.255.255.255"])
        settings.ipv4Settings?.includedRoutes = [NEIPv4Route.default()]
        setTunnelNetworkSettings(settings) { [weak self] error in
            if error == nil { self?.readPackets() }
            completionHandler(error)
        }
    }

    /// Socket stats are diagnostics: a failure here never fails the tunnel.
    private func startStats() {
        let proto = protocolConfiguration as? NETunnelProviderProtocol
        guard let nodeId = proto?.providerConfiguration?["backendLogID"] as? String else { return }
        do {
            let dir = FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask)[0]
                .appendingPathComponent("sockstatlog", isDirectory: true)
            var config = defaultLoggerConfig(logDir: dir.path, backendPublicId: nodeId)
            config.maxLogBytes = Self.maxLogBytes
            let logger = try SockstatLogger.withTransport(config: config, transport: URLSessionUploadTransport())
            try logger.registerLabel(label: TunnelLabel.ipv4, name: "TunnelIPv4")
            try logger.registerLabel(label: TunnelLabel.ipv6, name: "TunnelIPv6")
            try logger.enable()
            let monitor = SockstatPathMonitor(logger: logger)
            monitor.start()
            self.logger = logger
            self.pathMonitor = monitor
        } catch {
            NSLog("sockstatlog disabled: \(error)")
        }
    }

    /// The outbound loop: packets the apps sent, read from the tunnel interface.
    private func readPackets() {
        packetFlow.readPackets { [weak self] packets, protocols in
            guard let self else { return }
            self.count(packets, protocols, outbound: true)
            // ... encrypt `packets` and send them to the peer ...
            self.readPackets()
        }
    }

    /// Inbound: packets from the peer, decrypted, handed to the apps.
    func deliver(_ packets: [Data], protocols: [NSNumber]) {
        packetFlow.writePackets(packets, withProtocols: protocols)
        count(packets, protocols, outbound: false)
    }

    /// Sums one read's bytes per address family and pushes them in one call.
    private func count(_ packets: [Data], _ protocols: [NSNumber], outbound: Bool) {
        guard let logger else { return }
        var v4: Int64 = 0
        var v6: Int64 = 0
        for (packet, family) in zip(packets, protocols) {
            if family.int32Value == AF_INET6 { v6 += Int64(packet.count) } else { v4 += Int64(packet.count) }
        }
        let samples = [(TunnelLabel.ipv4, v4), (TunnelLabel.ipv6, v6)]
            .filter { $0.1 > 0 }
            .map { label, bytes in
                CounterSample(label: label, tx: outbound ? bytes : 0, rx: outbound ? 0 : bytes, isTotal: false)
            }
        if !samples.isEmpty { try? logger.pushBatch(samples: samples) }
    }

    /// The app sends "flush" (NETunnelProviderSession.sendProviderMessage); the
    /// reply is the flush report as JSON, or nil if stats are off.
    override func handleAppMessage(_ messageData: Data, completionHandler: ((Data?) -> Void)?) {
        guard String(data: messageData, encoding: .utf8) == "flush", let logger else {
            completionHandler?(nil)
            return
        }
        flushQueue.async {
            var reply: [String: Any]
            do {
                let report = try logger.flush(timeoutMs: Self.flushTimeoutMs)
                reply = ["drained": report.drained, "entries": report.entries, "batches": report.batches]
                if let lastError = report.lastError { reply["lastError"] = lastError }
            } catch {
                reply = ["error": "\(error)"]
            }
            completionHandler?(try? JSONSerialization.data(withJSONObject: reply))
        }
    }

    override func stopTunnel(with reason: NEProviderStopReason, completionHandler: @escaping () -> Void) {
        pathMonitor?.stop()
        pathMonitor = nil
        // Writes what is pending, bounded: the system kills a slow stop.
        try? logger?.shutdown(timeoutMs: Self.shutdownTimeoutMs)
        logger = nil
        completionHandler()
    }
}
