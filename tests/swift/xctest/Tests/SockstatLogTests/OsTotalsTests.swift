// `recordOsTotals(tx:rx:)` from Swift: the OS byte totals reach the log as an
// `os` entry. (iOS itself has no per-process byte counter to feed it; the
// call is there for hosts that count elsewhere, and for parity.)
import Foundation
import SockstatLog
import XCTest

final class OsTotalsTests: XCTestCase {
    func testRecordedOsTotalsAreWrittenAsAnOsEntry() throws {
        let logger = try SockstatLogger(config: testConfig())
        try logger.recordOsTotals(tx: 1_000, rx: 2_000)
        try logger.recordOsTotals(tx: 1_500, rx: 2_500) // the latest wins
        let os = try logger.export().compactMap { line -> [String: Any]? in
            let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return entry?["os"] as? [String: Any]
        }
        XCTAssertEqual(os.count, 1)
        XCTAssertEqual(os.first?["tx"] as? Int, 1_500)
        XCTAssertEqual(os.first?["rx"] as? Int, 2_500)
        XCTAssertNotNil(invalidArgument { try logger.recordOsTotals(tx: -1, rx: 0) })
        try logger.shutdown(timeoutMs: 5_000)
    }
}
