// SockstatLogger.withURLSession (ios/Sources/SockstatLog/SockstatLogger+URLSession.swift),
// the constructor the iOS library needs (it has no HTTP client of its own):
// it uploads through URLSession to the real reference collector on loopback.
import Foundation
import SockstatLog
import XCTest

final class URLSessionLoggerTests: XCTestCase {
    func testWithURLSessionUploadsThroughURLSessionToTheRealCollector() throws {
        let collector = try RealCollector()
        defer { collector.close() }
        let logger = try SockstatLogger.withURLSession(config: testConfig(baseUrl: collector.baseUrl))
        try logger.enable()
        try logger.add(label: 7, tx: 3, rx: 4)
        try logger.writeText(text: "made with withURLSession")
        try logger.disable()
        let report = try logger.flush(timeoutMs: 10_000)
        XCTAssertTrue(report.drained, "report: \(report); \(collector.diagnostics)")
        XCTAssertGreaterThanOrEqual(Int(report.batches), 1)
        XCTAssertNil(report.lastError, "report: \(report)")

        let id = try privateId()
        let stored = try collector.storedLines(id)
        XCTAssertEqual(stored, try logger.export(), "stored under \(collector.streamFile(id).path)")
        XCTAssertEqual(totals(try events(stored))[7], TxRx(tx: 3, rx: 4))
        XCTAssertEqual(stored.filter { $0.contains("made with withURLSession") }.count, 1)
        try logger.shutdown(timeoutMs: 5_000)
    }
}
