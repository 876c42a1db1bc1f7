// `uploadOnMetered = false` from Swift, the FFI side of what the iOS glue
// does with `NWPath.isExpensive`/`isConstrained` (PathCost.swift and the path
// monitor need Apple's Network framework, absent on Linux): deferred
// flushes, the upload that starts by itself, `forceFlush`. Mirrors
// tests/kotlin's MeteredUploadTest.kt.
import Dispatch
import Foundation
import SockstatLog
import XCTest

/// Answers 200 and records each body, signalling a semaphore per request so
/// tests wait on the upload, not on time.
final class AcceptingTransport: UploadTransport, @unchecked Sendable {
    // @unchecked: `log` is touched under `lock` only; the semaphore is thread-safe.
    private let lock = NSLock()
    private var log: [String] = []
    let arrived = DispatchSemaphore(value: 0)

    func send(request: UploadRequest) throws -> UploadResponse {
        lock.withLock { log.append(String(decoding: request.body, as: UTF8.self)) }
        arrived.signal()
        return UploadResponse(status: 200, headers: [], body: Data())
    }

    var bodies: [String] { lock.withLock { log } }
}

final class MeteredUploadTests: XCTestCase {
    func testAFlushOnCellularIsDeferredAndStartsByItselfOnWifi() throws {
        let transport = AcceptingTransport()
        var config = try testConfig()
        config.uploadOnMetered = false
        let logger = try SockstatLogger.withTransport(config: config, transport: transport)
        try logger.setInterface(name: "pdp_ip0", kind: .unknown)
        try logger.writeText(text: "waits for wifi")
        let report = try logger.flush(timeoutMs: 10_000)
        XCTAssertEqual(report.deferred, "metered")
        XCTAssertEqual(report.attempts, 0)
        XCTAssertEqual(transport.bodies, [])

        try logger.setInterface(name: "en0", kind: .wifi) // the waiting upload starts
        XCTAssertEqual(transport.arrived.wait(timeout: .now() + 60), .success, "the deferred upload started")
        XCTAssertTrue(transport.bodies[0].contains("waits for wifi"))
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testAnExpensivePathDefersAndForceFlushSendsAnyway() throws {
        let transport = AcceptingTransport()
        var config = try testConfig()
        config.uploadOnMetered = false
        let logger = try SockstatLogger.withTransport(config: config, transport: transport)
        try logger.setInterface(name: "en0", kind: .wifi)
        try logger.setNetworkMetered(metered: true) // a personal hotspot, or Low Data Mode
        try logger.writeText(text: "sent now")
        XCTAssertEqual(try logger.flush(timeoutMs: 10_000).deferred, "metered")
        let forced = try logger.forceFlush(timeoutMs: 10_000)
        XCTAssertNil(forced.deferred)
        XCTAssertTrue(forced.drained)
        XCTAssertEqual(forced.entries, 1)
        XCTAssertTrue(transport.bodies[0].contains("sent now"))
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testTheDefaultConfigUploadsOnAnyNetwork() throws {
        let config = try testConfig()
        XCTAssertTrue(config.uploadOnMetered)
        let transport = AcceptingTransport()
        let logger = try SockstatLogger.withTransport(config: config, transport: transport)
        try logger.setInterface(name: "pdp_ip0", kind: .cellular)
        try logger.writeText(text: "anywhere")
        let report = try logger.flush(timeoutMs: 10_000)
        XCTAssertNil(report.deferred)
        XCTAssertEqual(report.entries, 1)
        try logger.shutdown(timeoutMs: 5_000)
    }
}
