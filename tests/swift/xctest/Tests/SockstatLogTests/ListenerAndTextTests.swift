// The host's listener for background failures, and strings, from Swift.
import Foundation
import SockstatLog
import XCTest

/// Hands each event to the test, with whether it arrived on the thread that
/// created the listener (the test's own).
final class QueueListener: LoggerListener, @unchecked Sendable {
    // @unchecked: `events` is touched under `condition` only; `creator` is immutable.
    private let condition = NSCondition()
    private var events: [(LoggerEvent, Bool)] = []
    private let creator = pthread_self()

    func onEvent(event: LoggerEvent) {
        let onCreator = pthread_equal(pthread_self(), creator) != 0
        condition.lock()
        events.append((event, onCreator))
        condition.broadcast()
        condition.unlock()
    }

    /// The first event, waiting until `deadline` (a bound on a failure, not a
    /// synchronisation: the wait ends on the event).
    func first(before deadline: Date) -> (LoggerEvent, Bool)? {
        condition.lock()
        defer { condition.unlock() }
        while events.isEmpty {
            if !condition.wait(until: deadline) { break }
        }
        return events.first
    }
}

final class ListenerAndTextTests: XCTestCase {
    func testASwiftListenerHearsARealUploadFailureOnALibraryThread() throws {
        // The discard port: nothing listens on it where the tests run, so
        // every attempt is refused, a real transport failure.
        let port = 9
        let listener = QueueListener()
        let logger = try SockstatLogger(config: testConfig(baseUrl: "http://127.0.0.1:\(port)"))
        try logger.setListener(listener: listener)
        try logger.writeText(text: "never delivered")
        try logger.startFlush()
        guard let (event, onTestThread) = listener.first(before: Date(timeIntervalSinceNow: 120)) else {
            return XCTFail("the listener heard nothing")
        }
        guard case let .uploadFailed(reason, consecutiveFailures) = event else {
            return XCTFail("not an upload failure: \(event)")
        }
        XCTAssertTrue(reason.contains("failed"), reason)
        XCTAssertEqual(consecutiveFailures, 1)
        XCTAssertFalse(onTestThread, "called on the library's thread, never the caller's")
        XCTAssertGreaterThanOrEqual(Int(try logger.stats().uploadFailures), 1)
        try logger.setListener(listener: nil)
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testASwiftStringCannotHoldALoneSurrogateSoNamesAndTextArriveWhole() throws {
        // Kotlin's "😀".take(1) is a lone high surrogate; Swift repairs one at
        // construction (here to U+FFFD), so a Swift caller can never pass one
        // and the InvalidArgument Kotlin and Java get cannot happen from Swift.
        let cut = String(decoding: [0x56, 0xD83D] as [UInt16], as: UTF16.self)
        XCTAssertEqual(cut, "V\u{FFFD}")
        XCTAssertEqual(Array(cut.utf16), [0x56, 0xFFFD], "no lone surrogate survives in a String")

        let logger = try SockstatLogger(config: testConfig())
        try logger.registerLabel(label: 20, name: "VPN 😀")
        try logger.registerLabel(label: 21, name: cut)
        try logger.writeText(text: "cut \(cut) end")
        try logger.enable()
        try logger.disable()
        let lines = try logger.export()
        XCTAssertTrue(lines.contains { $0.contains("VPN 😀") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("cut V\u{FFFD} end") }, "\(lines)")
        try logger.shutdown(timeoutMs: 5_000)
    }
}
