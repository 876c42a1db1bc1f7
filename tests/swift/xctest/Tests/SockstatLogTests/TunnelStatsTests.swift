// The socket-stats half of the iOS example (ios/Examples/TunnelStats.swift),
// run for real: per-family counting, the app's "flush" message answered with
// a report after an upload to the real collector, and a final stop.
import Foundation
import SockstatLog
@testable import TunnelExample
import XCTest

final class TunnelStatsTests: XCTestCase {
    /// How long a test waits for a flush reply before failing, s (a bound on
    /// a failure; the wait ends on the reply).
    static let replyPatienceSeconds = 60

    func testPacketsAreCountedPerAddressFamilyAndDirectionOnDisk() throws {
        let dir = try makeTempDir("sockstatlog-tunnel")
        let stats = try TunnelStats(logDirectory: dir, backendLogId: backendId, transport: ThrowingTransport()) {
            $0.pollIntervalMs = 10
        }
        let v4 = NSNumber(value: AF_INET)
        let v6 = NSNumber(value: AF_INET6)
        stats.count([Data(count: 100), Data(count: 60), Data(count: 7)], protocols: [v4, v6, v4], outbound: true)
        stats.count([Data(count: 40)], protocols: [v4], outbound: false)
        stats.count([Data(count: 1_500), Data(count: 1_280)], protocols: [v6, v6], outbound: false)
        stats.count([], protocols: [], outbound: true) // nothing to push
        stats.stop()

        let lines = try linesOnDisk(dir)
        let got = totals(try events(lines))
        XCTAssertEqual(got[Int(TunnelLabel.ipv4)], TxRx(tx: 107, rx: 40))
        XCTAssertEqual(got[Int(TunnelLabel.ipv6)], TxRx(tx: 60, rx: 2_780))
        let labels = try lines.map { try parseEntry($0) }
            .compactMap { ($0["sockstatlog"] as? [String: Any])?["labels"] as? [String: String] }.first
        XCTAssertEqual(labels?[String(TunnelLabel.ipv4)], "TunnelIPv4")
        XCTAssertEqual(labels?[String(TunnelLabel.ipv6)], "TunnelIPv6")
    }

    func testTheFlushMessageUploadsAndRepliesWithTheReportAsJson() throws {
        let collector = try RealCollector()
        defer { collector.close() }
        let stats = try TunnelStats(
            logDirectory: makeTempDir("sockstatlog-tunnel-flush"), backendLogId: backendId,
            transport: URLSessionUploadTransport()
        ) {
            $0.pollIntervalMs = 10
            $0.baseUrl = collector.baseUrl
            $0.allowHttp = true
        }
        stats.count([Data(count: 1_000)], protocols: [NSNumber(value: AF_INET)], outbound: true)
        try stats.logger.disable() // closes the window: the event is pending now

        let reply = Locked<Data??>(nil)
        let replied = DispatchSemaphore(value: 0)
        stats.handleAppMessage(Data("flush".utf8)) { data in
            reply.withLock { $0 = .some(data) }
            replied.signal()
        }
        XCTAssertEqual(replied.wait(timeout: .now() + .seconds(Self.replyPatienceSeconds)), .success, collector.diagnostics)
        let json = try XCTUnwrap(reply.withLock { $0 } ?? nil, "the flush reply is nil")
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertEqual(answer["drained"] as? Bool, true, "\(answer); \(collector.diagnostics)")
        XCTAssertNil(answer["error"])
        let stored = try collector.storedLines(privateId())
        XCTAssertEqual(stored, try stats.logger.export())
        XCTAssertEqual(int64(answer["entries"]), Int64(stored.count))
        XCTAssertGreaterThanOrEqual(int64(answer["batches"]) ?? 0, 1)
        XCTAssertEqual(totals(try events(stored))[Int(TunnelLabel.ipv4)], TxRx(tx: 1_000, rx: 0))
        stats.stop()
    }

    func testAnyOtherMessageGetsNilAtOnce() throws {
        let stats = try TunnelStats(
            logDirectory: makeTempDir("sockstatlog-tunnel-msg"), backendLogId: backendId, transport: ThrowingTransport())
        let reply = Locked<[Data?]>([])
        stats.handleAppMessage(Data("status".utf8)) { data in reply.withLock { $0.append(data) } }
        XCTAssertEqual(reply.withLock { $0 }, [nil], "replied synchronously, with nil")
        stats.stop()
    }

    func testStopIsFinalAndLaterCallsAreHarmless() throws {
        let stats = try TunnelStats(
            logDirectory: makeTempDir("sockstatlog-tunnel-stop"), backendLogId: backendId, transport: ThrowingTransport())
        stats.stop()
        stats.count([Data(count: 10)], protocols: [NSNumber(value: AF_INET)], outbound: true) // ignored, no throw
        stats.stop()
        switch sockstatError({ try stats.logger.add(label: 20, tx: 1, rx: 1) }) {
        case .Closed: break
        case let other: XCTFail("expected Closed, got \(String(describing: other))")
        }
        let reply = Locked<[Data?]>([])
        let replied = DispatchSemaphore(value: 0)
        stats.handleAppMessage(TunnelStats.flushMessage) { data in
            reply.withLock { $0.append(data) }
            replied.signal()
        }
        XCTAssertEqual(replied.wait(timeout: .now() + .seconds(Self.replyPatienceSeconds)), .success)
        let data = try XCTUnwrap(reply.withLock { $0 }.first ?? nil, "the reply is nil")
        let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        XCTAssertTrue((answer?["error"] as? String)?.contains("Closed") == true, "reply: \(String(describing: answer))")
    }

    func testABadNodeIdFailsTheStartWithATypedError() throws {
        let dir = try makeTempDir("sockstatlog-tunnel-badid")
        switch sockstatError({ _ = try TunnelStats(logDirectory: dir, backendLogId: "abc", transport: ThrowingTransport()) }) {
        case .InvalidLogId: break
        case let other: XCTFail("expected InvalidLogId, got \(String(describing: other))")
        }
    }
}
