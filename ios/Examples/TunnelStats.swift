// The socket-stats part of a packet-tunnel extension, apart from
// NetworkExtension so that it compiles everywhere: Foundation and SockstatLog
// only. Not part of the package: copy it into your extension target together
// with PacketTunnelProvider.swift. scripts/test-swift.sh compiles it in Swift
// 5 and Swift 6 language modes (warnings as errors) and runs its XCTests
// (tests/swift/xctest/Tests/TunnelExampleTests) on Linux.
import Foundation
import SockstatLog

/// Label ids this tunnel reports under (0...12 are upstream's names).
enum TunnelLabel {
    static let ipv4: Int32 = 20
    static let ipv6: Int32 = 21
}

/// A running logger for one tunnel session: counts what the packet loop
/// moves, answers the app's "flush" message, and stops once.
///
/// Sendable without locks: every stored property is immutable and Sendable
/// (the logger is thread-safe), so NetworkExtension may call it from any queue.
final class TunnelStats: Sendable {
    /// Log files together, bytes: uploads drain them; 1 MiB is hours of events.
    static let maxLogBytes: Int64 = 1 << 20
    /// How long `stop` may spend writing the last events, ms.
    static let shutdownTimeoutMs: Int64 = 2_000
    /// How long an app-requested flush may upload, ms.
    static let flushTimeoutMs: Int64 = 20_000
    /// The app's message that asks for an upload.
    static let flushMessage = Data("flush".utf8)

    let logger: SockstatLogger
    /// Flushes wait on the network: never on the caller's (the provider's) queue.
    private let flushQueue = DispatchQueue(label: "sockstatlog.flush")

    /// Starts a logger writing to `logDirectory`, uploading under the node's
    /// `backendLogId` through `transport`, with the tunnel's labels named.
    init(logDirectory: URL, backendLogId: String, transport: UploadTransport, configure: (inout LoggerConfig) -> Void = { _ in }) throws {
        var config = defaultLoggerConfig(logDir: logDirectory.path, backendPublicId: backendLogId)
        config.maxLogBytes = Self.maxLogBytes
        configure(&config)
        let logger = try SockstatLogger.withTransport(config: config, transport: transport)
        do {
            try logger.registerLabel(label: TunnelLabel.ipv4, name: "TunnelIPv4")
            try logger.registerLabel(label: TunnelLabel.ipv6, name: "TunnelIPv6")
            try logger.enable()
        } catch {
            try? logger.shutdown(timeoutMs: Self.shutdownTimeoutMs)
            throw error
        }
        self.logger = logger
    }

    /// Sums one packet-flow read's bytes per address family (`protocols` holds
    /// AF_INET or AF_INET6 per packet, as NEPacketTunnelFlow gives them) and
    /// pushes them in one call. Never throws: stats must not disturb the packet path.
    func count(_ packets: [Data], protocols: [NSNumber], outbound: Bool) {
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

    /// Handles an app message: for "flush", uploads on the flush queue and
    /// replies with the report as JSON (`drained`, `entries`, `batches`, and
    /// `lastError` or `error`); any other message gets nil at once.
    func handleAppMessage(_ message: Data, reply: @escaping @Sendable (Data?) -> Void) {
        guard message == Self.flushMessage else {
            reply(nil)
            return
        }
        let logger = self.logger
        flushQueue.async {
            var answer: [String: Any]
            do {
                let report = try logger.flush(timeoutMs: Self.flushTimeoutMs)
                answer = ["drained": report.drained, "entries": report.entries, "batches": report.batches]
                if let lastError = report.lastError { answer["lastError"] = lastError }
            } catch {
                answer = ["error": "\(error)"]
            }
            reply(try? JSONSerialization.data(withJSONObject: answer))
        }
    }

    /// Writes what is pending, bounded (the system kills a slow stopTunnel),
    /// and stops the logger's threads. Later calls do nothing.
    func stop() {
        try? logger.shutdown(timeoutMs: Self.shutdownTimeoutMs)
    }
}

/// A value whose type is not Sendable, handed to another thread where we
/// know that is safe (a completion handler NetworkExtension lets us call from
/// any thread, once). Each use says why.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A value behind a lock (iOS 15 has no Synchronization.Mutex); the
/// provider keeps its per-session state in one.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
