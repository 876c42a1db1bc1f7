// One logger per log directory, and reading a directory another logger holds
// (the iOS containing app reading its extension's app-group log).
import Foundation
import SockstatLog
import XCTest

final class DirectoryTests: XCTestCase {
    func testASecondLoggerOnTheSameDirectoryFailsWithDirectoryInUse() throws {
        let dir = try makeTempDir("sockstatlog-swift-lock")
        let first = try SockstatLogger(config: testConfig(dir: dir))
        switch sockstatError({ _ = try SockstatLogger(config: testConfig(dir: dir)) }) {
        case .DirectoryInUse(let held): XCTAssertTrue(held.hasSuffix(dir.lastPathComponent), held)
        case let other: XCTFail("expected DirectoryInUse, got \(String(describing: other))")
        }
        try first.shutdown(timeoutMs: 5_000)
        // Released at shutdown: the next logger gets the directory.
        let second = try SockstatLogger(config: testConfig(dir: dir))
        try second.shutdown(timeoutMs: 5_000)
    }

    func testExportLogDirReadsADirectoryAnotherLoggerHolds() throws {
        let dir = try makeTempDir("sockstatlog-swift-exportdir")
        let logger = try SockstatLogger(config: testConfig(dir: dir))
        try logger.enable()
        try logger.add(label: 3, tx: 30, rx: 40)
        try logger.writeText(text: "read by the containing app")
        try logger.disable() // writes what is pending
        let fromOutside = try exportLogDir(logDir: dir.path)
        XCTAssertEqual(fromOutside, try logger.export())
        XCTAssertTrue(fromOutside.contains { $0.contains("read by the containing app") })
        XCTAssertEqual(totals(try events(fromOutside))[3], TxRx(tx: 30, rx: 40))
        try logger.shutdown(timeoutMs: 5_000)
        XCTAssertEqual(try exportLogDir(logDir: dir.path), fromOutside, "nothing lost at shutdown")
    }
}
