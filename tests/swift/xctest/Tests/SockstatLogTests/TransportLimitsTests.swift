// What URLSessionUploadTransport refuses, against loopback servers that
// misbehave: every redirect is a failed attempt (nothing committed, nothing
// sent where the redirect points, every line delivered once later to the real
// collector), and the transport stops reading an answer past 1 KiB.
import Foundation
import SockstatLog
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

final class TransportLimitsTests: XCTestCase {
    func testEveryRedirectIsAFailedAttemptAndALaterUploadDeliversEachLineOnce() throws {
        let id = try privateId()
        for status in [301, 302, 303, 307, 308] {
            // What following would reach: it answers 200 to anything, a GET included.
            let target = try LoopbackServer { _ in .ok }
            defer { target.close() }
            let location = "\(target.baseUrl)/c/\(collection)/\(id)"
            let redirector = try LoopbackServer { _ in .redirect(status: status, location: location) }
            defer { redirector.close() }

            let dir = try makeTempDir("sockstatlog-swift-redirect")
            let transport = RecordingTransport(URLSessionUploadTransport())
            let first = try SockstatLogger.withTransport(
                config: testConfig(dir: dir, baseUrl: redirector.baseUrl), transport: transport)
            try first.writeText(text: "sent while the server redirects with \(status)")
            try first.startFlush()
            XCTAssertFalse(redirector.answers(atLeast: 2).isEmpty, "\(status): the uploader retried")
            // (Read before shutdown, after which stats() fails with Closed; a 3xx can never commit later.)
            let committed = Int(try first.stats().uploadEntries)
            try first.shutdown(timeoutMs: 5_000)

            XCTAssertEqual(target.requests, [], "\(status): the redirect was followed")
            XCTAssertFalse(transport.statuses.isEmpty, "\(status): no attempt returned")
            XCTAssertEqual(Set(transport.statuses), [status], "\(status): the 3xx itself is the answer")
            for request in redirector.requests {
                XCTAssertEqual(request.method, "POST")
                XCTAssertGreaterThan(request.bodyBytes, 0)
            }
            XCTAssertEqual(committed, 0, "\(status): lines committed that no collector stored")

            // Later, the real collector: every line once, none skipped.
            let collector = try RealCollector()
            defer { collector.close() }
            let second = try SockstatLogger.withTransport(
                config: testConfig(dir: dir, baseUrl: collector.baseUrl), transport: URLSessionUploadTransport())
            let report = try second.flush(timeoutMs: 10_000)
            XCTAssertTrue(report.drained, "\(status): \(report); \(collector.diagnostics)")
            let stored = try collector.storedLines(id)
            XCTAssertEqual(stored, try second.export(), "\(status): the collector holds the whole log, in order")
            XCTAssertEqual(stored.filter { $0.contains("redirects with \(status)") }.count, 1, "\(status): \(stored)")
            let requests = collector.storedRequests(atLeast: stored.count)
            XCTAssertEqual(requests.reduce(0) { $0 + $1.duplicates }, 0, "\(status): \(collector.diagnostics)")
            try second.shutdown(timeoutMs: 5_000)
        }
    }

    func testAResponseBodyThatNeverEndsIsCutAtOneKiBAndTheAttemptReturns() throws {
        // 256 MiB announced, 4 KiB sent, the rest never: only a transport
        // that stops reading past the cap can return with an answer (one that
        // waits for the whole body ends in its timeout, an error).
        let server = try LoopbackServer { _ in .stalledBody(announced: 256 << 20, sent: 4 << 10) }
        defer { server.close() }
        let transport = URLSessionUploadTransport(timeout: 60)
        let response = try transport.send(request: UploadRequest(
            url: "\(server.baseUrl)/c/x/y", headers: [], body: Data("[{\"a\":1}\n]".utf8)))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, Data(repeating: UInt8(ascii: "x"), count: URLSessionUploadTransport.maxBodyBytes))
        // The transport hung up rather than wait for the rest (the server's answer ends when it does).
        XCTAssertEqual(server.answers(atLeast: 1).map(\.bodyBytesSent), [4 << 10])

        // The same transport (one session) still works for the next attempt.
        let ok = try LoopbackServer { _ in .ok }
        defer { ok.close() }
        let next = try transport.send(request: UploadRequest(url: "\(ok.baseUrl)/c/x/y", headers: [], body: Data("[]".utf8)))
        XCTAssertEqual(next.status, 200)
        XCTAssertEqual(next.body, Data("ok".utf8))
    }

    func testASmallBodyIsKeptWhole() throws {
        let server = try LoopbackServer { _ in .body(bytes: 100) }
        defer { server.close() }
        let response = try URLSessionUploadTransport().send(request: UploadRequest(
            url: "\(server.baseUrl)/c/x/y", headers: [], body: Data("[]".utf8)))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body.count, 100)
    }

    func testAConfigurationPassedInStillRefusesRedirectsAndIsLeftUnchanged() throws {
        let target = try LoopbackServer { _ in .ok }
        defer { target.close() }
        let redirector = try LoopbackServer { _ in .redirect(status: 307, location: "\(target.baseUrl)/c/x/y") }
        defer { redirector.close() }
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForResource = 999
        let transport = URLSessionUploadTransport(configuration: config, timeout: 20)
        XCTAssertEqual(config.timeoutIntervalForResource, 999, "the caller's configuration was changed")
        let response = try transport.send(request: UploadRequest(
            url: "\(redirector.baseUrl)/c/x/y", headers: [], body: Data("[]".utf8)))
        XCTAssertEqual(response.status, 307)
        XCTAssertEqual(target.requests, [])
    }
}
