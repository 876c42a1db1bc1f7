// Test support: configs, log-line parsing, the real collector as a child
// process, and recording transports. Mirrors tests/kotlin's TestSupport.kt.
import Foundation
import SockstatLog
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A backend public log ID for tests (any 64 hex characters).
let backendId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/// The collection every sockstat upload goes to (the config default).
let collection = "sockstats.log.tailscale.io"
/// How long a test waits for the collector to say something before failing, s.
/// A bound on a failure, never a synchronisation: the wait ends on the line.
let collectorPatienceSeconds: TimeInterval = 10

/// A fresh empty directory under the temp dir.
func makeTempDir(_ prefix: String) throws -> URL {
    let dir = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true)
        .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// A config writing under `dir` (fresh by default), sampling fast so tests are quick.
func testConfig(dir: URL? = nil, baseUrl: String? = nil) throws -> LoggerConfig {
    let logDir = try dir ?? makeTempDir("sockstatlog-swift")
    var config = defaultLoggerConfig(logDir: logDir.path, backendPublicId: backendId)
    config.pollIntervalMs = 10
    config.writeIntervalMs = 100
    config.backoffBaseMs = 50
    config.backoffCapMs = 200
    config.attemptTimeoutMs = 5_000
    if let baseUrl {
        config.baseUrl = baseUrl
        config.allowHttp = true
    }
    return config
}

/// The sockstat private ID the test backend ID uploads under.
func privateId() throws -> String {
    try sockstatLogId(backendPublicId: backendId).privateId
}

/// One parsed log line (a logtail entry).
typealias Entry = [String: Any]

/// Parses one log line; fails the test on anything but a JSON object.
func parseEntry(_ line: String, file: StaticString = #filePath, line lineNo: UInt = #line) throws -> Entry {
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
    guard let entry = object as? Entry else {
        XCTFail("not a JSON object: \(line)", file: file, line: lineNo)
        throw SockstatError.InvalidArgument(reason: "not a JSON object")
    }
    return entry
}

/// A JSON number as Int64 (JSONSerialization gives NSNumber).
func int64(_ value: Any?) -> Int64? {
    (value as? NSNumber)?.int64Value
}

/// Bytes sent and received.
struct TxRx: Equatable, CustomStringConvertible {
    var tx: Int64
    var rx: Int64
    var description: String { "[\(tx), \(rx)]" }
}

/// One sampler event read back from a log line.
struct Event {
    let cellular: Bool
    let counts: [Int: TxRx]
}

/// The events among log lines (headers and text lines are skipped).
func events(_ lines: [String]) throws -> [Event] {
    try lines.compactMap { line in
        let entry = try parseEntry(line)
        guard let samples = entry["s"] as? [String: Any] else { return nil }
        var counts: [Int: TxRx] = [:]
        for (label, pair) in samples {
            guard let id = Int(label), let pair = pair as? [Any], pair.count == 2,
                  let tx = int64(pair[0]), let rx = int64(pair[1])
            else { throw SockstatError.InvalidArgument(reason: "bad sample in \(line)") }
            counts[id] = TxRx(tx: tx, rx: rx)
        }
        return Event(cellular: int64(entry["c"]) == 1, counts: counts)
    }
}

/// Sum of [tx, rx] per label over `events`, optionally only (non-)cellular ones.
func totals(_ events: [Event], cellular: Bool? = nil) -> [Int: TxRx] {
    var out: [Int: TxRx] = [:]
    for event in events where cellular == nil || event.cellular == cellular {
        for (label, c) in event.counts {
            var sum = out[label] ?? TxRx(tx: 0, rx: 0)
            sum.tx += c.tx
            sum.rx += c.rx
            out[label] = sum
        }
    }
    return out
}

/// Every line of the log files in `dir`, read from disk (both files; order
/// does not matter for totals).
func linesOnDisk(_ dir: URL) throws -> [String] {
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        .filter { $0.hasPrefix("sockstats.log") && $0.hasSuffix(".txt") }
    XCTAssertFalse(names.isEmpty, "no log file in \(dir.path)")
    return try names.sorted().flatMap { name in
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            .split(separator: "\n").map(String.init)
    }
}

/// `(logtail.proc_id, logtail.proc_seq)` of an entry, or nil if it has none.
func entryKey(_ entry: Entry) -> [Int64]? {
    guard let logtail = entry["logtail"] as? [String: Any],
          let id = int64(logtail["proc_id"]), let seq = int64(logtail["proc_seq"])
    else { return nil }
    return [id, seq]
}

/// Lines appended by one thread and waited for by another.
final class LineLog: @unchecked Sendable {
    // @unchecked: every field is read and written under `condition`.
    private let condition = NSCondition()
    private var lines: [String] = []
    private var finished = false

    func append(_ line: String) {
        condition.lock()
        lines.append(line)
        condition.broadcast()
        condition.unlock()
    }

    /// No more lines will come (the stream reached its end).
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Every line so far.
    var all: [String] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }

    /// Waits until `found` returns a value for the lines so far, the stream
    /// ends, or `deadline` passes (then nil).
    func wait<T>(until deadline: Date, for found: ([String]) -> T?) -> T? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value = found(lines) { return value }
            if finished || !condition.wait(until: deadline) { return found(lines) }
        }
    }
}

/// Reads `pipe` to its end on a thread of its own, line by line into `log`,
/// so the child never blocks on a full pipe.
func drain(_ pipe: Pipe, into log: LineLog) {
    let handle = pipe.fileHandleForReading
    Thread.detachNewThread {
        var pending = Data()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                log.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { log.append(String(decoding: pending, as: UTF8.self)) }
        log.finish()
    }
}

/// The project's reference collector (`sockstatlog collect`) as a child
/// process on 127.0.0.1, a free port, and a fresh temp `--dir`. The binary is
/// in `$SOCKSTATLOG_BINDIR` (scripts/test-swift.sh copies it in).
final class RealCollector {
    /// The collector's `--dir`: `<collection>/<private id>.jsonl` files land here.
    let dir: URL
    /// `http://127.0.0.1:PORT`, as the collector printed it.
    let baseUrl: String
    private let process = Process()
    private let stdout = LineLog()
    private let stderr = LineLog()

    init() throws {
        guard let bindir = ProcessInfo.processInfo.environment["SOCKSTATLOG_BINDIR"] else {
            XCTFail("SOCKSTATLOG_BINDIR is not set (run scripts/test-swift.sh)")
            throw SockstatError.InvalidArgument(reason: "SOCKSTATLOG_BINDIR is not set")
        }
        let binary = URL(fileURLWithPath: bindir).appendingPathComponent("sockstatlog")
        dir = try makeTempDir("sockstatlog-collector")
        process.executableURL = binary
        process.arguments = ["collect", "--listen", "127.0.0.1:0", "--dir", dir.path]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        drain(out, into: stdout)
        drain(err, into: stderr)
        let deadline = Date(timeIntervalSinceNow: collectorPatienceSeconds)
        let url = stdout.wait(until: deadline) { lines in
            lines.lazy.compactMap { line -> String? in
                guard line.hasPrefix("listening on http://") else { return nil }
                return String(line.dropFirst("listening on ".count))
            }.first
        }
        guard let url else {
            process.terminate()
            process.waitUntilExit()
            XCTFail("sockstatlog collect did not print 'listening on http://…'; stderr:\n\(stderr.all.joined(separator: "\n"))")
            throw SockstatError.Io(reason: "collector did not start")
        }
        baseUrl = url
    }

    /// Stops the collector and removes its directory.
    func close() {
        if process.isRunning {
            process.terminate()
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dir)
    }

    /// The file holding the entries stored for `id`.
    func streamFile(_ id: String) -> URL {
        dir.appendingPathComponent(collection).appendingPathComponent("\(id).jsonl")
    }

    /// The lines stored for `id`, oldest first (none if nothing was stored).
    func storedLines(_ id: String) throws -> [String] {
        let file = streamFile(id)
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        return try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// What one stored request reported.
    struct Stored: Equatable {
        let stored: Int
        let duplicates: Int
    }

    /// The collector's per-request `stored N entries, M duplicates dropped`
    /// log lines (on its stderr) once they account for at least `entries`
    /// stored entries (the collector logs before it answers, but its pipe is
    /// read asynchronously).
    func storedRequests(atLeast entries: Int) -> [Stored] {
        let parse = { (lines: [String]) -> [Stored] in
            lines.compactMap { line in
                // <time>  INFO stored N entries, M duplicates dropped peer=… stream=… outcome=200
                guard let at = line.range(of: " stored ") else { return nil }
                let words = line[at.upperBound...].split(separator: " ")
                guard words.count >= 4, words[1] == "entries,", words[3] == "duplicates",
                      let n = Int(words[0]), let m = Int(words[2])
                else { return nil }
                return Stored(stored: n, duplicates: m)
            }
        }
        let deadline = Date(timeIntervalSinceNow: collectorPatienceSeconds)
        return stderr.wait(until: deadline) { lines in
            let got = parse(lines)
            return got.reduce(0) { $0 + $1.stored } >= entries ? got : nil
        } ?? parse(stderr.all)
    }

    /// Stdout lines after startup and stderr, for failure messages.
    var diagnostics: String {
        "stdout:\n\(stdout.all.joined(separator: "\n"))\nstderr:\n\(stderr.all.joined(separator: "\n"))"
    }
}

/// A transport that records each request and the status it got back, and
/// sends through `inner`.
final class RecordingTransport: UploadTransport, @unchecked Sendable {
    // @unchecked: the arrays are touched under `lock` only; `inner` is Sendable.
    private let inner: UploadTransport
    private let lock = NSLock()
    private var requestLog: [UploadRequest] = []
    private var statusLog: [Int] = []

    init(_ inner: UploadTransport) {
        self.inner = inner
    }

    func send(request: UploadRequest) throws -> UploadResponse {
        lock.withLock { requestLog.append(request) }
        let response = try inner.send(request: request)
        lock.withLock { statusLog.append(Int(response.status)) }
        return response
    }

    var requests: [UploadRequest] { lock.withLock { requestLog } }
    var statuses: [Int] { lock.withLock { statusLog } }
}

/// Answers the first request 500 without sending it, then sends every later
/// one through `inner`: a server error the logger must retry.
final class FailFirstTransport: UploadTransport, @unchecked Sendable {
    // @unchecked: `calls` is touched under `lock` only; `inner` is Sendable.
    private let inner: UploadTransport
    private let lock = NSLock()
    private var calls = 0

    init(_ inner: UploadTransport) {
        self.inner = inner
    }

    func send(request: UploadRequest) throws -> UploadResponse {
        let first = lock.withLock {
            calls += 1
            return calls == 1
        }
        if first {
            return UploadResponse(status: 500, headers: [], body: Data("internal error (test)".utf8))
        }
        return try inner.send(request: request)
    }

    var callCount: Int { lock.withLock { calls } }
}

/// Fails every request as a transport error would.
final class ThrowingTransport: UploadTransport, @unchecked Sendable {
    // @unchecked: `calls` is touched under `lock` only.
    private let lock = NSLock()
    private var calls = 0

    func send(request: UploadRequest) throws -> UploadResponse {
        lock.withLock { calls += 1 }
        throw SockstatError.Upload(reason: "no route to host (test)")
    }

    var callCount: Int { lock.withLock { calls } }
}

/// Runs `body` and returns the `SockstatError` it threw, failing the test if
/// it threw nothing or something else.
func sockstatError(
    _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
) -> SockstatError? {
    do {
        try body()
        XCTFail("no error thrown", file: file, line: line)
    } catch let error as SockstatError {
        return error
    } catch {
        XCTFail("not a SockstatError: \(error)", file: file, line: line)
    }
    return nil
}

/// The `reason` of an `InvalidArgument`, or nil for any other outcome (a test failure).
func invalidArgument(
    _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
) -> String? {
    switch sockstatError(body, file: file, line: line) {
    case .InvalidArgument(let reason): return reason
    case let other?: XCTFail("expected InvalidArgument, got \(other)", file: file, line: line); return nil
    case nil: return nil
    }
}

/// Answers every request with a fixed status, sending nothing.
final class StatusTransport: UploadTransport, @unchecked Sendable {
    // @unchecked: `calls` is touched under `lock` only.
    private let status: Int32
    private let lock = NSLock()
    private var calls = 0

    init(status: Int32) {
        self.status = status
    }

    func send(request: UploadRequest) throws -> UploadResponse {
        lock.withLock { calls += 1 }
        return UploadResponse(status: status, headers: [], body: Data())
    }

    var callCount: Int { lock.withLock { calls } }
}
