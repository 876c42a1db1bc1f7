// Uploads from Swift: host transports written in Swift (one that throws, one
// that answers 500 then 200), and the package's URLSessionUploadTransport
// through FoundationNetworking to the real reference collector
// (`sockstatlog collect`) on loopback.
import Foundation
import SockstatLog
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

final class UploadTests: XCTestCase {
    func testAThrowingSwiftTransportIsReportedNotThrown() throws {
        let transport = ThrowingTransport()
        let logger = try SockstatLogger.withTransport(config: testConfig(), transport: transport)
        try logger.writeText(text: "never delivered")
        let report = try logger.flush(timeoutMs: 300)
        XCTAssertFalse(report.drained, "report: \(report)")
        XCTAssertGreaterThanOrEqual(Int(report.attempts), 1)
        XCTAssertGreaterThanOrEqual(transport.callCount, 1)
        XCTAssertTrue(report.lastError?.contains("no route to host (test)") == true, "report: \(report)")
        XCTAssertGreaterThanOrEqual(Int(try logger.stats().uploadFailures), 1)
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testAStatusOutsideHttpsRangeFromASwiftTransportIsAFailedAttempt() throws {
        // UploadResponse.status is an Int32 (as HTTPURLResponse.statusCode is
        // an Int): one that is no HTTP status is a transport failure, not an answer.
        let transport = StatusTransport(status: 70_000)
        let logger = try SockstatLogger.withTransport(config: testConfig(), transport: transport)
        try logger.writeText(text: "never delivered")
        let report = try logger.flush(timeoutMs: 300)
        XCTAssertFalse(report.drained, "report: \(report)")
        XCTAssertGreaterThanOrEqual(transport.callCount, 1)
        XCTAssertTrue(report.lastError?.contains("70000") == true, "report: \(report)")
        XCTAssertEqual(Int(report.entries), 0)
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testURLSessionTransportDeliversToTheRealCollectorExactlyOnce() throws {
        let collector = try RealCollector()
        defer { collector.close() }
        let transport = RecordingTransport(URLSessionUploadTransport())
        let logger = try SockstatLogger.withTransport(config: testConfig(baseUrl: collector.baseUrl), transport: transport)
        try logger.registerLabel(label: 9, name: "SwiftURLSession")
        try logger.enable()
        try logger.add(label: 9, tx: 5, rx: 6)
        // Enough repetitive text that the body is worth compressing.
        for i in 0..<20 {
            try logger.writeText(text: "through URLSession, line \(i), padding padding padding padding")
        }
        try logger.add(label: 9, tx: 1, rx: 1)
        try logger.disable()
        let report = try logger.flush(timeoutMs: 10_000)
        XCTAssertTrue(report.drained, "report: \(report); \(collector.diagnostics)")
        XCTAssertGreaterThanOrEqual(Int(report.batches), 1)

        let id = try privateId()
        XCTAssertFalse(transport.requests.isEmpty)
        for request in transport.requests {
            XCTAssertEqual(request.url, "\(collector.baseUrl)/c/\(collection)/\(id)")
        }
        let zstd = transport.requests.filter { request in
            request.headers.contains { $0.name.lowercased() == "content-encoding" && $0.value == "zstd" }
        }
        XCTAssertFalse(zstd.isEmpty, "no compressed request: \(transport.requests.map(\.headers))")
        for request in zstd {
            XCTAssertTrue(request.headers.contains { $0.name.lowercased() == "orig-content-length" }, "\(request.headers)")
        }
        XCTAssertEqual(transport.statuses, Array(repeating: 200, count: transport.requests.count))

        let stored = try assertStoredOnce(collector, exported: logger.export())
        XCTAssertEqual(totals(try events(stored))[9], TxRx(tx: 6, rx: 7))
        XCTAssertEqual(stored.filter { $0.contains("through URLSession") }.count, 20)
        XCTAssertEqual(Int(try logger.stats().uploadEntries), stored.count)
        XCTAssertEqual(Int(try logger.stats().uploadFailures), 0)

        // Nothing left: a second flush sends nothing and stores nothing.
        let sent = transport.requests.count
        let again = try logger.flush(timeoutMs: 10_000)
        XCTAssertTrue(again.drained, "report: \(again)")
        XCTAssertEqual(Int(again.entries), 0)
        XCTAssertEqual(transport.requests.count, sent, "a second flush sent a request")
        XCTAssertEqual(try collector.storedLines(id), stored)
        try logger.shutdown(timeoutMs: 5_000)
        XCTAssertEqual(collector.storedRequests(atLeast: stored.count).reduce(0) { $0 + $1.duplicates }, 0,
                       "the client re-sent entries: \(collector.diagnostics)")
    }

    func testA500IsRetriedAndTheRetryDeliversEachEntryOnce() throws {
        let collector = try RealCollector()
        defer { collector.close() }
        let transport = FailFirstTransport(URLSessionUploadTransport())
        let logger = try SockstatLogger.withTransport(config: testConfig(baseUrl: collector.baseUrl), transport: transport)
        try logger.enable()
        try logger.add(label: 11, tx: 1, rx: 2)
        try logger.writeText(text: "first answered 500")
        try logger.disable()
        let report = try logger.flush(timeoutMs: 10_000)
        XCTAssertTrue(report.drained, "report: \(report); \(collector.diagnostics)")
        XCTAssertGreaterThanOrEqual(Int(report.attempts), 2, "report: \(report)")
        XCTAssertGreaterThanOrEqual(transport.callCount, 2)
        let stats = try logger.stats()
        XCTAssertGreaterThanOrEqual(Int(stats.uploadFailures), 1, "the 500 counts as a failure: \(stats)")

        let stored = try assertStoredOnce(collector, exported: logger.export())
        XCTAssertEqual(totals(try events(stored))[11], TxRx(tx: 1, rx: 2))
        // The 500 never reached the collector, so it saw each entry exactly once.
        let requests = collector.storedRequests(atLeast: stored.count)
        XCTAssertEqual(requests.reduce(0) { $0 + $1.stored }, stored.count, collector.diagnostics)
        XCTAssertEqual(requests.reduce(0) { $0 + $1.duplicates }, 0, collector.diagnostics)
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testANewLoggerOnTheSameDirectoryDeliversOnlyWhatIsNew() throws {
        let collector = try RealCollector()
        defer { collector.close() }
        let dir = try makeTempDir("sockstatlog-swift-restart")
        let id = try privateId()

        let first = try SockstatLogger.withTransport(
            config: testConfig(dir: dir, baseUrl: collector.baseUrl), transport: URLSessionUploadTransport())
        try first.writeText(text: "before restart")
        XCTAssertTrue(try first.flush(timeoutMs: 10_000).drained, collector.diagnostics)
        let firstExport = try first.export()
        try first.shutdown(timeoutMs: 5_000)
        let afterFirst = try collector.storedLines(id)
        XCTAssertEqual(afterFirst, firstExport)

        let second = try SockstatLogger.withTransport(
            config: testConfig(dir: dir, baseUrl: collector.baseUrl), transport: URLSessionUploadTransport())
        try second.writeText(text: "after restart")
        XCTAssertTrue(try second.flush(timeoutMs: 10_000).drained, collector.diagnostics)
        let stored = try collector.storedLines(id)
        XCTAssertEqual(Array(stored.prefix(afterFirst.count)), afterFirst, "what was stored before is untouched")
        let added = Array(stored.dropFirst(afterFirst.count))
        XCTAssertEqual(Int(try second.stats().uploadEntries), added.count, "only the new entries were uploaded")
        XCTAssertFalse(added.contains { $0.contains("before restart") }, "old text re-sent")
        XCTAssertTrue(added.contains { $0.contains("after restart") }, "added: \(added)")
        XCTAssertEqual(Set(stored), Set(firstExport + (try second.export())))
        try second.shutdown(timeoutMs: 5_000)
    }

    func testStartFlushUploadsInTheBackground() throws {
        let collector = try RealCollector()
        defer { collector.close() }
        let logger = try SockstatLogger.withTransport(
            config: testConfig(baseUrl: collector.baseUrl), transport: URLSessionUploadTransport())
        try logger.writeText(text: "uploaded by startFlush")
        try logger.startFlush() // returns at once; the uploader thread sends
        let requests = collector.storedRequests(atLeast: 1)
        XCTAssertEqual(requests.reduce(0) { $0 + $1.stored }, 1, collector.diagnostics)
        XCTAssertEqual(try collector.storedLines(privateId()), try logger.export())
        try logger.shutdown(timeoutMs: 5_000)
    }

    /// The collector holds exactly `exported` for the test ID, in order, each
    /// (proc_id, proc_seq) once; returns the stored lines.
    private func assertStoredOnce(
        _ collector: RealCollector, exported: [String], file: StaticString = #filePath, line: UInt = #line
    ) throws -> [String] {
        XCTAssertFalse(exported.isEmpty, file: file, line: line)
        let id = try privateId()
        let stored = try collector.storedLines(id)
        XCTAssertEqual(stored, exported, "stored under \(collector.streamFile(id).path)", file: file, line: line)
        let keys = try stored.map { try entryKey(parseEntry($0)) }
        XCTAssertFalse(keys.contains { $0 == nil }, "an entry without proc_id/proc_seq: \(stored)", file: file, line: line)
        XCTAssertEqual(Set(keys.compactMap { $0 }).count, keys.count, "(proc_id, proc_seq) repeated", file: file, line: line)
        return stored
    }
}
