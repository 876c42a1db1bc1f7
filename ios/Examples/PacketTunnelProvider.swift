// The shape of a packet-tunnel extension using sockstatlog: not part of the
// package (copy it and TunnelStats.swift into your extension target). Needs
// NetworkExtension, so on the project's Linux CI it is only syntax-checked;
// TunnelStats.swift, which holds the socket-stats logic, is compiled and
// tested there. Correct under Swift 6 strict concurrency: every closure that
// NetworkExtension, Network or Dispatch may run on another thread captures
// only Sendable values.
//
// Memory: a packet tunnel gets 50 MiB (iOS 15+), and everything counts:
// code, the logger's threads, buffers. So the log is capped at 1 MiB on disk,
// packets are counted as they pass (never collected), each read costs one FFI
// call whatever its packet count, and the upload session keeps no cache.
//
// Where the log lives: the app group's container, so the containing app can
// read (`export()`) or upload the log while the tunnel is off. The directory
// is protected "until first user authentication" (see logDirectory()).
import Foundation
import NetworkExtension
import os
import SockstatLog

// @unchecked Sendable: NetworkExtension calls the provider on queues of its
// own, and the packet loop runs on another; the provider's only mutable state
// is `session`, behind its lock.
final class PacketTunnelProvider: NEPacketTunnelProvider, @unchecked Sendable {
    /// The app group shared with the containing app (both targets' entitlements).
    static let appGroup = "group.com.example.tunnel"
    /// Seconds between attempts to start the logger while its files are
    /// unavailable (a tunnel started at boot, before the first unlock).
    static let retrySeconds = 60

    private let session = Locked(Session())
    /// Created once for the provider's life and shared by every logger it
    /// starts: it owns a URLSession, which a retry every minute must not
    /// multiply. It refuses redirects, reads at most 1 KiB of an answer and
    /// respects Low Data Mode (see URLSessionUploadTransport).
    private let transport = URLSessionUploadTransport()

    /// What one tunnel session holds; replaced as a whole under the lock.
    private struct Session {
        var stats: TunnelStats?
        var pathMonitor: SockstatPathMonitor?
        var retry: DispatchSourceTimer?
        /// Set by stopTunnel: a retry that was already running must not start a logger.
        var stopped = false
    }

    override func startTunnel(options: [String: NSObject]?, completionHandler: @escaping (Error?) -> Void) {
        startStats()
        let settings = NEPacketTunnelNetworkSettings(tunnelRemoteAddress: "192.0.2.1")
        settings.ipv4Settings = NEIPv4Settings(addresses: ["10.0.0.2"], subnetMasks: ["255.255.255.255"])
        settings.ipv4Settings?.includedRoutes = [NEIPv4Route.default()]
        // NetworkExtension may call this on any thread, and calls the
        // completion handler once: handing it over is safe, though the SDK
        // does not declare it @Sendable.
        let done = UncheckedSendable(completionHandler)
        setTunnelNetworkSettings(settings) { [weak self] error in
            if error == nil { self?.readPackets() }
            done.value(error)
        }
    }

    /// Socket stats are diagnostics: a failure here never fails the tunnel.
    /// Before the first unlock after a reboot the log files cannot be opened
    /// (data protection), so a failed start is retried every `retrySeconds`
    /// until it works or the tunnel stops.
    private func startStats() {
        let proto = protocolConfiguration as? NETunnelProviderProtocol
        guard let nodeId = proto?.providerConfiguration?["backendLogID"] as? String else { return }
        do {
            let stats = try TunnelStats(
                logDirectory: Self.logDirectory(),
                backendLogId: nodeId,
                transport: transport
            )
            try? stats.logger.setListener(listener: UnifiedLogListener()) // background failures, to Console.app
            let monitor = SockstatPathMonitor(logger: stats.logger)
            let started = session.withLock { s in
                guard !s.stopped else { return false }
                s.retry?.cancel()
                s = Session(stats: stats, pathMonitor: monitor, retry: nil)
                return true
            }
            if started { monitor.start() } else { stats.stop() }
        } catch SockstatError.InvalidLogId(let reason) {
            NSLog("sockstatlog disabled: bad backendLogID: \(reason)") // retrying cannot help
        } catch {
            NSLog("sockstatlog not started (retrying in \(Self.retrySeconds) s): \(error)")
            scheduleRetry()
        }
    }

    private func scheduleRetry() {
        session.withLock { s in
            guard !s.stopped else { return }
            s.retry?.cancel()
            // Created and resumed in one go: releasing a never-resumed source crashes.
            let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
            timer.setEventHandler { [weak self] in self?.startStats() }
            timer.schedule(deadline: .now() + .seconds(Self.retrySeconds))
            timer.resume()
            s.retry = timer
        }
    }

    /// `<app group container>/sockstatlog`, created if missing, with the data
    /// protection class set explicitly on the directory (new files inherit
    /// it): `completeUntilFirstUserAuthentication`, so the tunnel can log
    /// while the device is locked, as it must. Not `complete` (which an app's
    /// Data Protection entitlement may make the default): those files become
    /// unreadable a few seconds after every lock, and the logger's writes
    /// and uploads would fail until the next unlock.
    static func logDirectory() throws -> URL {
        guard let container = FileManager.default.containerURL(forSecurityApplicationGroupIdentifier: appGroup) else {
            throw SockstatError.Io(reason: "no container for app group \(appGroup): check both targets' entitlements")
        }
        let dir = container.appendingPathComponent("sockstatlog", isDirectory: true)
        let protection: [FileAttributeKey: Any] = [.protectionKey: FileProtectionType.completeUntilFirstUserAuthentication]
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: protection)
        // An existing directory (an earlier version, another class) is set too.
        try FileManager.default.setAttributes(protection, ofItemAtPath: dir.path)
        return dir
    }

    /// The outbound loop: packets the apps sent, read from the tunnel interface.
    private func readPackets() {
        packetFlow.readPackets { [weak self] packets, protocols in
            guard let self else { return }
            self.session.withLock { $0.stats }?.count(packets, protocols: protocols, outbound: true)
            // ... encrypt `packets` and send them to the peer ...
            self.readPackets()
        }
    }

    /// Inbound: packets from the peer, decrypted, handed to the apps.
    func deliver(_ packets: [Data], protocols: [NSNumber]) {
        packetFlow.writePackets(packets, withProtocols: protocols)
        session.withLock { $0.stats }?.count(packets, protocols: protocols, outbound: false)
    }

    /// The app sends "flush" (NETunnelProviderSession.sendProviderMessage); the
    /// reply is the flush report as JSON, or nil if stats are off.
    override func handleAppMessage(_ messageData: Data, completionHandler: ((Data?) -> Void)?) {
        guard let stats = session.withLock({ $0.stats }) else {
            completionHandler?(nil)
            return
        }
        // Called once, from the flush queue: see startTunnel.
        let reply = UncheckedSendable(completionHandler)
        stats.handleAppMessage(messageData) { data in reply.value?(data) }
    }

    override func stopTunnel(with reason: NEProviderStopReason, completionHandler: @escaping () -> Void) {
        let ended = session.withLock { s in
            defer { s = Session(stopped: true) }
            return s
        }
        ended.retry?.cancel()
        ended.pathMonitor?.stop()
        ended.stats?.stop() // writes what is pending, bounded
        completionHandler()
    }
}

/// The logger's background failures (disk, upload), to the unified log.
/// Called on a library thread, never the packet loop's.
final class UnifiedLogListener: LoggerListener {
    private let log = Logger(subsystem: "com.example.tunnel", category: "sockstatlog")

    func onEvent(event: LoggerEvent) {
        log.warning("sockstatlog: \(String(describing: event), privacy: .public)")
    }
}
