// A bare HTTP/1.1 server on 127.0.0.1 with POSIX sockets, for what the real
// collector never does: redirect, or answer with a body that never ends.
// One thread accepts; each connection gets a thread that reads one request
// (headers, then Content-Length bytes), records it, answers, and closes.
import Foundation
import SockstatLog
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class LoopbackServer: @unchecked Sendable {
    // @unchecked: the socket is immutable; `seen` and `done` are touched under `lock` only.

    /// How a request is answered.
    enum Reply: Sendable {
        /// `status` with `Location: location` and no body.
        case redirect(status: Int, location: String)
        /// 200 with a two-byte body.
        case ok
        /// 200 with a body of `bytes` (`x`s).
        case body(bytes: Int)
        /// 200 announcing `announced` bytes of body, of which only `sent` are
        /// sent; then nothing more until the client closes the connection.
        case stalledBody(announced: Int, sent: Int)
    }

    /// A request as the server read it.
    struct Request: Equatable {
        let method: String
        let path: String
        let bodyBytes: Int
    }

    /// What one connection's answer wrote before it ended.
    struct Answer {
        let bodyBytesSent: Int
    }

    /// `http://127.0.0.1:PORT`.
    let baseUrl: String
    private let fd: Int32
    private let reply: @Sendable (Request) -> Reply
    private let lock = NSLock()
    private var seen: [Request] = []
    private var done: [Answer] = []

    init(reply: @escaping @Sendable (Request) -> Reply) throws {
        self.reply = reply
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard sock >= 0 else { throw SockstatError.Io(reason: "socket: errno \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(sock, sa, len) == 0 && listen(sock, 16) == 0 && getsockname(sock, sa, &len) == 0
            }
        }
        guard bound else {
            Glibc.close(sock)
            throw SockstatError.Io(reason: "bind/listen: errno \(errno)")
        }
        fd = sock
        baseUrl = "http://127.0.0.1:\(UInt16(bigEndian: addr.sin_port))"
        Thread { [self] in acceptLoop() }.start()
    }

    /// Stops accepting (connections in progress finish on their own).
    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }

    /// The requests read so far.
    var requests: [Request] { lock.withLock { seen } }

    /// Waits until `count` connections have been answered (or failed the
    /// test after `collectorPatienceSeconds`); returns what each wrote.
    func answers(atLeast count: Int) -> [Answer] {
        let deadline = Date(timeIntervalSinceNow: collectorPatienceSeconds)
        while Date() < deadline {
            let got = lock.withLock { done }
            if got.count >= count { return got }
            Thread.sleep(forTimeInterval: 0.005)
        }
        XCTFail("\(count) answers not finished within \(collectorPatienceSeconds) s")
        return lock.withLock { done }
    }

    private func acceptLoop() {
        while true {
            let conn = accept(fd, nil, nil)
            if conn < 0 { return } // closed
            Thread { [self] in serve(conn) }.start()
        }
    }

    private func serve(_ conn: Int32) {
        defer { Glibc.close(conn) }
        guard let request = readRequest(conn) else { return }
        lock.withLock { seen.append(request) }
        var sent = 0
        switch reply(request) {
        case .redirect(let status, let location):
            _ = write(conn, "HTTP/1.1 \(status) Redirect\r\nLocation: \(location)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        case .ok:
            _ = write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        case .body(let bytes):
            let body = String(repeating: "x", count: bytes)
            if write(conn, "HTTP/1.1 200 OK\r\nContent-Length: \(bytes)\r\nConnection: close\r\n\r\n\(body)") { sent = bytes }
        case .stalledBody(let announced, let bytes):
            let body = String(repeating: "x", count: bytes)
            guard write(conn, "HTTP/1.1 200 OK\r\nContent-Length: \(announced)\r\nConnection: close\r\n\r\n\(body)") else { break }
            sent = bytes
            // The rest never comes; wait for the client to give up on it and close.
            var sink = [UInt8](repeating: 0, count: 4096)
            while sink.withUnsafeMutableBytes({ recv(conn, $0.baseAddress, $0.count, 0) }) > 0 {}
        }
        lock.withLock { done.append(Answer(bodyBytesSent: sent)) }
    }

    /// Sends all of `text`; false if the client went away.
    private func write(_ conn: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(conn, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// One request: the request line, headers up to the blank line, and Content-Length bytes of body.
    private func readRequest(_ conn: Int32) -> Request? {
        var buf = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let blank = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        while headerEnd == nil {
            let n = chunk.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            buf += chunk[0..<n]
            headerEnd = buf.indices.dropLast(3).first { Array(buf[$0..<$0 + 4]) == blank }
        }
        let head = String(decoding: buf[0..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        let length = head.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        var body = buf.count - (headerEnd! + 4)
        while body < length {
            let n = chunk.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            body += n
        }
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), bodyBytes: body)
    }
}
