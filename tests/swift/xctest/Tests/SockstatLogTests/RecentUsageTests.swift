// `recentUsage(windowMs:)` from Swift through the generated bindings, and the
// iOS example's usage screen rows (ios/Examples/UsageDebugScreen.swift).
// Mirrors tests/kotlin's RecentUsageTest.kt.
import Foundation
import SockstatLog
@testable import TunnelExample
import XCTest

final class RecentUsageTests: XCTestCase {
    func testRecentUsageListsTheLabelsThatMovedByBytesWithTheirCellularPart() throws {
        let logger = try SockstatLogger(config: testConfig())
        try logger.registerLabel(label: 200, name: "VideoUpload")
        try logger.setInterface(name: "en0", kind: .wifi)
        try logger.enable()
        try logger.add(label: 200, tx: 1_000, rx: 10)
        try logger.add(label: 201, tx: 5, rx: 5)
        try logger.setInterface(name: "pdp_ip0", kind: .unknown) // cellular from here
        try logger.add(label: 200, tx: 0, rx: 500)
        try logger.disable() // closes the open window; the record survives it

        let usage = try logger.recentUsage(windowMs: 60_000)
        XCTAssertEqual(usage.map(\.label), [200, 201])
        XCTAssertEqual(usage[0], LabelUsage(label: 200, name: "VideoUpload", tx: 1_000, rx: 510, cellularTx: 0, cellularRx: 500))
        XCTAssertNil(usage[1].name)

        let rows = UsageScreen.rows(logger)
        XCTAssertEqual(rows.map(\.title), ["VideoUpload", "Label(201)"])
        XCTAssertTrue(rows[0].highlighted)
        XCTAssertFalse(rows[1].highlighted)
        XCTAssertEqual(rows[0].detail, "1.5 KB (500 B cellular)")
        XCTAssertEqual(rows[1].detail, "10 B")
        try logger.shutdown(timeoutMs: 5_000)
        XCTAssertEqual(UsageScreen.rows(logger), [], "a shut-down logger shows an empty screen")
    }

    func testAWindowOutsideASecondToAnHourIsAnInvalidArgument() throws {
        let logger = try SockstatLogger(config: testConfig())
        for bad: Int64 in [-1, 0, 999, 3_600_001] {
            XCTAssertNotNil(invalidArgument { _ = try logger.recentUsage(windowMs: bad) }, "\(bad)")
        }
        XCTAssertEqual(try logger.recentUsage(windowMs: 1_000), [])
        try logger.shutdown(timeoutMs: 5_000)
    }
}
