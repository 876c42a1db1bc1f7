// The UniFFI surface from Swift, through the generated bindings and the real
// libsockstatlog.so: lifecycle, typed errors, counters, interface flips,
// totals, labels, batches (mirrors tests/kotlin's LoggerTest.kt).
import Dispatch
import Foundation
import SockstatLog
import XCTest

final class LoggerTests: XCTestCase {
    func testAPushedCounterComesBackInTheExportedLog() throws {
        let logger = try SockstatLogger(config: testConfig())
        XCTAssertFalse(logger.isEnabled())
        try logger.enable()
        XCTAssertTrue(logger.isEnabled())
        try logger.add(label: 1, tx: 100, rx: 200)
        try logger.setTotals(label: 2, txTotal: 1_000, rxTotal: 10)
        try logger.disable()
        XCTAssertFalse(logger.isEnabled())
        let got = totals(try events(logger.export()))
        XCTAssertEqual(got[1], TxRx(tx: 100, rx: 200))
        XCTAssertEqual(got[2], TxRx(tx: 1_000, rx: 10))
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testBytesPushedOnCellularAreFlaggedAndWifiBytesAreNot() throws {
        let logger = try SockstatLogger(config: testConfig())
        try logger.setInterface(name: "en0", kind: .wifi)
        try logger.enable()
        try logger.add(label: 3, tx: 10, rx: 20)
        try logger.setInterface(name: "pdp_ip0", kind: .unknown) // inferred cellular
        try logger.add(label: 3, tx: 1, rx: 2)
        try logger.setInterface(name: "en0", kind: .unknown) // inferred: not cellular
        try logger.add(label: 3, tx: 100, rx: 200)
        try logger.disable()
        let evs = try events(logger.export())
        XCTAssertEqual(totals(evs, cellular: false)[3], TxRx(tx: 110, rx: 220))
        XCTAssertEqual(totals(evs, cellular: true)[3], TxRx(tx: 1, rx: 2))
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testSetTotalsCountsGrowthAndAResetCountsTheNewTotal() throws {
        let logger = try SockstatLogger(config: testConfig())
        try logger.enable()
        // A label starts at zero: the first totals count in full (100); then
        // growth (+50); then a decrease is a reset that counts its new total
        // (+20). rx only grows: 1 000 + 500 + 100.
        try logger.setTotals(label: 7, txTotal: 100, rxTotal: 1_000)
        try logger.setTotals(label: 7, txTotal: 150, rxTotal: 1_500)
        try logger.setTotals(label: 7, txTotal: 20, rxTotal: 1_600)
        try logger.disable()
        XCTAssertEqual(totals(try events(logger.export()))[7], TxRx(tx: 170, rx: 1_600))
        XCTAssertEqual(Int(try logger.stats().resets), 1)
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testPushBatchAppliesEverySampleAndRejectsABadBatchAsAWhole() throws {
        let logger = try SockstatLogger(config: testConfig())
        try logger.enable()
        try logger.pushBatch(samples: [
            CounterSample(label: 4, tx: 5, rx: 6, isTotal: false),
            CounterSample(label: 4, tx: 1, rx: 1, isTotal: false),
            CounterSample(label: 8, tx: 40, rx: 50, isTotal: true),
        ])
        let reason = invalidArgument {
            try logger.pushBatch(samples: [
                CounterSample(label: 4, tx: 100, rx: 100, isTotal: false),
                CounterSample(label: 256, tx: 1, rx: 1, isTotal: false),
            ])
        }
        XCTAssertTrue(reason?.contains("256") == true, "reason: \(reason ?? "-")")
        try logger.pushBatch(samples: []) // nothing to do, not an error
        try logger.disable()
        let got = totals(try events(logger.export()))
        XCTAssertEqual(got[4], TxRx(tx: 6, rx: 7))
        XCTAssertEqual(got[8], TxRx(tx: 40, rx: 50))
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testRegisteredLabelNamesAreInTheHeaderEntry() throws {
        let logger = try SockstatLogger(config: testConfig())
        try logger.registerLabel(label: 42, name: "SwiftTest")
        try logger.enable()
        try logger.disable()
        try logger.registerLabel(label: 43, name: "AfterFirstEnable")
        try logger.enable()
        try logger.disable()
        let headers = try logger.export().map { try parseEntry($0) }
            .compactMap { $0["sockstatlog"] as? [String: Any] }
        XCTAssertEqual(headers.count, 2, "one header entry per enable")
        for header in headers {
            XCTAssertEqual(int64(header["v"]), 2)  // log format v2 (docs/contract.md, "Format versions")
            XCTAssertEqual(int64(header["poll_ms"]), 10)
        }
        let first = headers.first?["labels"] as? [String: String] ?? [:]
        XCTAssertEqual(first["42"], "SwiftTest")
        XCTAssertEqual(first["0"], "ControlClientAuto", "upstream's names are included")
        XCTAssertNil(first["43"])
        let second = headers.last?["labels"] as? [String: String] ?? [:]
        XCTAssertEqual(second["42"], "SwiftTest")
        XCTAssertEqual(second["43"], "AfterFirstEnable")
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testWriteTextLinesAreExported() throws {
        let dir = try makeTempDir("sockstatlog-swift-text")
        let logger = try SockstatLogger(config: testConfig(dir: dir))
        try logger.writeText(text: "hello from swift: ünïcödé \"quoted\"")
        try logger.shutdown(timeoutMs: 5_000)
        let texts = try linesOnDisk(dir).compactMap { try parseEntry($0)["text"] as? String }
        XCTAssertEqual(texts, ["hello from swift: ünïcödé \"quoted\""])
    }

    func testErrorsArriveAsTypedSwiftErrorsWithReasons() throws {
        switch sockstatError({ _ = try SockstatLogger(config: defaultLoggerConfig(logDir: "/tmp/unused", backendPublicId: "abc")) }) {
        case .InvalidLogId(let reason): XCTAssertTrue(reason.contains("invalid hex length: 3"), reason)
        case let other: XCTFail("expected InvalidLogId, got \(String(describing: other))")
        }
        switch sockstatError({ _ = try sockstatLogId(backendPublicId: String(repeating: "z", count: 64)) }) {
        case .InvalidLogId: break
        case let other: XCTFail("expected InvalidLogId, got \(String(describing: other))")
        }

        let logger = try SockstatLogger(config: testConfig())
        let reason = invalidArgument { try logger.add(label: 256, tx: 1, rx: 1) }
        XCTAssertTrue(reason?.contains("256") == true, "reason: \(reason ?? "-")")
        XCTAssertNotNil(invalidArgument { try logger.setTotals(label: 1_000, txTotal: 1, rxTotal: 1) })
        XCTAssertNotNil(invalidArgument { try logger.registerLabel(label: 300, name: "x") })
        XCTAssertNotNil(invalidArgument { try logger.registerLabel(label: 20, name: "") })
        XCTAssertNotNil(invalidArgument { try logger.registerLabel(label: 20, name: String(repeating: "n", count: 65)) })
        // The FFI's integers are signed (Int32 labels, Int64 counts and
        // timeouts): a negative one is rejected, naming what was wrong, never
        // wrapped into a huge unsigned value.
        for (what, call) in [
            ("label", { try logger.add(label: -1, tx: 1, rx: 1) }),
            ("tx", { try logger.add(label: 1, tx: -1, rx: 1) }),
            ("rx", { try logger.setTotals(label: 1, txTotal: 1, rxTotal: -5) }),
            ("batch", { try logger.pushBatch(samples: [CounterSample(label: 1, tx: 1, rx: Int64.min, isTotal: false)]) }),
            ("timeout", { _ = try logger.flush(timeoutMs: -1) }),
        ] as [(String, () throws -> Void)] {
            let reason = invalidArgument(call)
            XCTAssertFalse(reason?.isEmpty ?? true, "\(what): no InvalidArgument reason")
        }
        var negative = try testConfig()
        negative.maxLogBytes = -1
        XCTAssertNotNil(invalidArgument { _ = try SockstatLogger(config: negative) })
        try logger.shutdown(timeoutMs: 5_000)

        // A file where the log directory should be: an I/O error, not a crash.
        let file = try makeTempDir("sockstatlog-notadir").appendingPathComponent("file")
        XCTAssertTrue(FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8)))
        switch sockstatError({ _ = try SockstatLogger(config: testConfig(dir: file)) }) {
        case .Io(let reason): XCTAssertFalse(reason.isEmpty)
        case let other: XCTFail("expected Io, got \(String(describing: other))")
        }
        // The error carries its reason into Swift's error description too.
        XCTAssertTrue(SockstatError.Upload(reason: "why").localizedDescription.contains("why"))
    }

    func testEveryCallAfterShutdownFailsWithClosed() throws {
        let logger = try SockstatLogger(config: testConfig())
        try logger.enable()
        try logger.add(label: 1, tx: 1, rx: 1)
        try logger.shutdown(timeoutMs: 5_000)
        XCTAssertFalse(logger.isEnabled())
        XCTAssertEqual(logger.logId().count, 64, "the id outlives the logger")
        let calls: [(String, () throws -> Void)] = [
            ("add", { try logger.add(label: 1, tx: 1, rx: 1) }),
            ("setTotals", { try logger.setTotals(label: 1, txTotal: 1, rxTotal: 1) }),
            ("pushBatch", { try logger.pushBatch(samples: [CounterSample(label: 1, tx: 1, rx: 1, isTotal: false)]) }),
            ("registerLabel", { try logger.registerLabel(label: 30, name: "late") }),
            ("setInterface", { try logger.setInterface(name: "en0", kind: .wifi) }),
            ("enable", { try logger.enable() }),
            ("disable", { try logger.disable() }),
            ("writeText", { try logger.writeText(text: "late") }),
            ("flush", { _ = try logger.flush(timeoutMs: 100) }),
            ("startFlush", { try logger.startFlush() }),
            ("export", { _ = try logger.export() }),
            ("stats", { _ = try logger.stats() }),
            ("shutdown", { try logger.shutdown(timeoutMs: 100) }),
        ]
        for (name, call) in calls {
            switch sockstatError(call) {
            case .Closed: break
            case let other: XCTFail("\(name) after shutdown: expected Closed, got \(String(describing: other))")
            }
        }
    }

    func testShutdownWritesEveryAcceptedPushToDisk() throws {
        let dir = try makeTempDir("sockstatlog-swift-shutdown")
        let logger = try SockstatLogger(config: testConfig(dir: dir))
        try logger.enable()
        try logger.add(label: 9, tx: 3, rx: 4)
        try logger.add(label: 9, tx: 30, rx: 40)
        try logger.shutdown(timeoutMs: 5_000) // still enabled: shutdown disables and writes
        XCTAssertEqual(totals(try events(linesOnDisk(dir)))[9], TxRx(tx: 33, rx: 44))
    }

    /// Eight Dispatch workers push at once (adds and batches, a shared label
    /// and one label each) in rounds, the interface flipping between Wi-Fi and
    /// cellular between rounds: the totals on disk are exact, split exactly
    /// by the flag, because a flip closes the sampler's window.
    func testConcurrentPushesAcrossInterfaceFlipsAreExactOnDisk() throws {
        let workers = 8
        let perWorker = 2_000
        let rounds = 4
        let dir = try makeTempDir("sockstatlog-swift-threads")
        let logger = try SockstatLogger(config: testConfig(dir: dir))
        try logger.setInterface(name: "en0", kind: .wifi)
        try logger.enable()
        let failures = LineLog()
        for round in 0..<rounds {
            let cellular = round % 2 == 1
            try logger.setInterface(name: cellular ? "pdp_ip0" : "en0", kind: cellular ? .cellular : .wifi)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                do {
                    for i in 0..<perWorker {
                        if i % 2 == 0 {
                            try logger.add(label: 5, tx: 1, rx: 2)
                        } else {
                            try logger.pushBatch(samples: [
                                CounterSample(label: 5, tx: 1, rx: 2, isTotal: false),
                                CounterSample(label: Int32(100 + worker), tx: 1, rx: 0, isTotal: false),
                            ])
                        }
                    }
                } catch {
                    failures.append("worker \(worker): \(error)")
                }
            }
        }
        try logger.shutdown(timeoutMs: 10_000)
        XCTAssertEqual(failures.all, [])

        let evs = try events(linesOnDisk(dir))
        let perRound = Int64(workers * perWorker)
        let cellularRounds = Int64(rounds / 2)
        let wifiRounds = Int64(rounds) - cellularRounds
        XCTAssertEqual(totals(evs)[5], TxRx(tx: Int64(rounds) * perRound, rx: 2 * Int64(rounds) * perRound))
        XCTAssertEqual(totals(evs, cellular: true)[5], TxRx(tx: cellularRounds * perRound, rx: 2 * cellularRounds * perRound))
        XCTAssertEqual(totals(evs, cellular: false)[5], TxRx(tx: wifiRounds * perRound, rx: 2 * wifiRounds * perRound))
        let perWorkerLabel = Int64(rounds * perWorker / 2)
        for worker in 0..<workers {
            XCTAssertEqual(totals(evs)[100 + worker], TxRx(tx: perWorkerLabel, rx: 0), "worker \(worker)")
        }
    }

    /// Flips race the pushes: where a byte lands is up to the race, but none is lost.
    func testInterfaceFlipsRacingPushesLoseNoBytes() throws {
        let workers = 4
        let perWorker = 5_000
        let flips = 200
        let dir = try makeTempDir("sockstatlog-swift-flips")
        let logger = try SockstatLogger(config: testConfig(dir: dir))
        try logger.enable()
        let failures = LineLog()
        DispatchQueue.concurrentPerform(iterations: workers + 1) { worker in
            do {
                if worker == workers {
                    for i in 0..<flips {
                        try logger.setInterface(name: i % 2 == 0 ? "pdp_ip0" : "en0", kind: .unknown)
                    }
                } else {
                    for _ in 0..<perWorker { try logger.add(label: 6, tx: 3, rx: 1) }
                }
            } catch {
                failures.append("worker \(worker): \(error)")
            }
        }
        try logger.shutdown(timeoutMs: 10_000)
        XCTAssertEqual(failures.all, [])
        let n = Int64(workers * perWorker)
        XCTAssertEqual(totals(try events(linesOnDisk(dir)))[6], TxRx(tx: 3 * n, rx: n))
    }

    func testLogIdsAgreeBetweenTheLoggerAndTheDerivation() throws {
        let ids = try sockstatLogId(backendPublicId: backendId.uppercased())
        XCTAssertEqual(ids, try sockstatLogId(backendPublicId: backendId))
        XCTAssertEqual(ids.privateId.count, 64)
        XCTAssertEqual(ids.publicId.count, 64)
        XCTAssertNotEqual(ids.privateId, ids.publicId)
        let logger = try SockstatLogger(config: testConfig())
        XCTAssertEqual(logger.logId(), ids.publicId)
        try logger.shutdown(timeoutMs: 5_000)
    }

    func testTheDefaultConfigCarriesTheCoreDefaults() {
        let c = defaultLoggerConfig(logDir: "/x", backendPublicId: backendId)
        XCTAssertEqual(c.logDir, "/x")
        XCTAssertEqual(c.pollIntervalMs, 100)
        XCTAssertEqual(c.writeIntervalMs, 10_000)
        XCTAssertEqual(c.maxLogBytes, 5 << 20)
        XCTAssertEqual(c.baseUrl, "https://log.tailscale.com")
        XCTAssertEqual(c.collection, "sockstats.log.tailscale.io")
        XCTAssertFalse(c.allowHttp)
    }
}

