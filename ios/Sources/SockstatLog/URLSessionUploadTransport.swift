import Foundation
#if canImport(FoundationNetworking)
// Linux: URLSession lives in swift-corelibs-foundation's FoundationNetworking
// (this file is compiled and tested there by scripts/test-swift.sh).
import FoundationNetworking
#endif

/// Sends the logger's uploads with `URLSession`, so they use the system's TLS,
/// proxy and network policy. Pass it to `SockstatLogger.withTransport(config:transport:)`.
/// Create it once and keep it: it owns one `URLSession`.
///
/// Inside a packet-tunnel provider the provider's own connections leave on the
/// physical network, not through its tunnel, so the upload never loops back
/// into the traffic it measures.
///
/// What it promises (docs/platforms.md):
/// - **No redirects.** A 3xx comes back as the answer, which the logger
///   counts as a failed attempt and retries: following a 301/302/303 would
///   re-send the POST as a bodiless GET (and a 200 there would commit lines
///   never sent); a 307/308 would send the logs to a host nobody configured.
/// - **A bounded response.** At most ``maxBodyBytes`` of the body are kept;
///   past that the task is cancelled (what arrives until the cancel takes
///   effect is dropped) and the answer returned without waiting for the
///   rest, so a faulty server or an intercepting proxy cannot grow a 50 MiB
///   extension.
/// - **Low Data Mode respected** by default (`allowsConstrainedNetworkAccess
///   = false` on Apple platforms): while the user asks for less data, the
///   attempt fails and the logger retries later. To keep uploads off
///   cellular too, pass a configuration with `allowsExpensiveNetworkAccess = false`.
///
/// The logger calls ``send(request:)`` synchronously on its uploader thread
/// (never the main thread): it blocks on a semaphore, bounded by `timeout`.
/// A transport failure or timeout throws `SockstatError.Upload`, which the
/// logger retries with backoff; any HTTP status is an answer.
public final class URLSessionUploadTransport: UploadTransport, @unchecked Sendable {
    // @unchecked: immutable, URLSession is thread-safe, and `tasks` locks itself.
    private let session: URLSession
    private let tasks: TaskTable
    private let timeout: TimeInterval

    /// Response bytes kept: the logger uses the body only in error messages.
    public static let maxBodyBytes = 1024
    /// Seconds past `timeout` the uploader thread waits before giving up on a session.
    static let graceSeconds: TimeInterval = 5

    /// - Parameters:
    ///   - configuration: the session's configuration. Default: ephemeral (no
    ///     cookies, no disk cache: nothing grows in a 50 MiB extension), with
    ///     `allowsConstrainedNetworkAccess = false` (Low Data Mode). A
    ///     configuration passed in is copied and used as given, except that
    ///     `timeoutIntervalForResource` is set to `timeout`.
    ///   - timeout: the whole request's limit in seconds. Default 30: the body
    ///     is at most 256 KiB, so anything slower is a dead connection.
    public init(configuration: URLSessionConfiguration? = nil, timeout: TimeInterval = 30) {
        // A copy: the caller's configuration object is left as it was.
        let config = (configuration?.copy() as? URLSessionConfiguration) ?? Self.defaultConfiguration()
        config.timeoutIntervalForResource = timeout
        tasks = TaskTable()
        // The delegate queue only hands events to TaskTable; serial keeps them in order.
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        session = URLSession(configuration: config, delegate: tasks, delegateQueue: queue)
        self.timeout = timeout
    }

    deinit {
        // A session keeps its delegate (and itself) alive until invalidated.
        session.finishTasksAndInvalidate()
    }

    /// Ephemeral, no URL cache, Low Data Mode respected.
    static func defaultConfiguration() -> URLSessionConfiguration {
        let config = URLSessionConfiguration.ephemeral
        config.urlCache = nil
        #if !canImport(FoundationNetworking)
        // Apple platforms only: swift-corelibs-foundation's URLSessionConfiguration
        // has no such property (Linux has no Low Data Mode to respect).
        config.allowsConstrainedNetworkAccess = false
        #endif
        return config
    }

    /// POSTs `request` and returns the status, headers and the first KiB of the body.
    public func send(request: UploadRequest) throws -> UploadResponse {
        guard let url = URL(string: request.url) else {
            throw SockstatError.Upload(reason: "bad URL: \(request.url)")
        }
        var req = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        req.httpMethod = "POST"
        req.httpBody = request.body
        for header in request.headers {
            req.addValue(header.value, forHTTPHeaderField: header.name)
        }

        let task = session.dataTask(with: req)
        let exchange = tasks.add(task)
        defer { tasks.remove(task) }
        task.resume()
        // URLSession's own timeout normally fires first, with a better error;
        // the grace only bounds a session that never calls back.
        if exchange.done.wait(timeout: .now() + timeout + Self.graceSeconds) == .timedOut {
            task.cancel()
            throw SockstatError.Upload(reason: "no answer within \(Int(timeout)) s")
        }
        return try exchange.result()
    }
}

/// The session's delegate: routes each task's events to its ``Exchange``,
/// refuses redirects, and cancels a task whose body passes the cap.
private final class TaskTable: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // @unchecked: `exchanges` is touched under `lock` only.
    private let lock = NSLock()
    private var exchanges: [Int: Exchange] = [:]

    func add(_ task: URLSessionTask) -> Exchange {
        let exchange = Exchange()
        lock.withLock { exchanges[task.taskIdentifier] = exchange }
        return exchange
    }

    func remove(_ task: URLSessionTask) {
        lock.withLock { _ = exchanges.removeValue(forKey: task.taskIdentifier) }
    }

    private func exchange(_ task: URLSessionTask) -> Exchange? {
        lock.withLock { exchanges[task.taskIdentifier] }
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil) // never follow: the 3xx itself is the answer
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        exchange(dataTask)?.received(response: response)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        if exchange(dataTask)?.received(data: data) == .full {
            dataTask.cancel() // read no further: the rest is never buffered
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        exchange(task)?.finish(error: error)
    }
}

/// One request's events, handed from the delegate queue to the waiting
/// uploader thread (`done` orders the writes before the read).
private final class Exchange: @unchecked Sendable {
    // @unchecked: every field is touched under `lock` only.
    enum Fill { case room, full }

    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var response: URLResponse?
    private var body = Data()
    private var truncated = false
    private var error: Error?

    func received(response: URLResponse) {
        lock.withLock { self.response = response }
    }

    /// Keeps what fits under the cap; `.full` once more arrived than fits.
    func received(data: Data) -> Fill {
        lock.withLock {
            let room = URLSessionUploadTransport.maxBodyBytes - body.count
            body.append(data.prefix(max(room, 0)))
            if data.count > room { truncated = true }
            return truncated ? .full : .room
        }
    }

    func finish(error: Error?) {
        lock.withLock { self.error = error }
        done.signal()
    }

    func result() throws -> UploadResponse {
        let (response, body, truncated, error) = lock.withLock { (self.response, self.body, self.truncated, self.error) }
        // Our own cancel past the cap ends the task with an error; the answer stands.
        if let error, !truncated {
            throw SockstatError.Upload(reason: "\(type(of: error)): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse, let status = Int32(exactly: http.statusCode) else {
            throw SockstatError.Upload(reason: "not an HTTP response")
        }
        let headers = http.allHeaderFields.compactMap { name, value -> HttpHeader? in
            guard let name = name as? String else { return nil }
            return HttpHeader(name: name, value: "\(value)")
        }
        return UploadResponse(status: status, headers: headers, body: body)
    }
}
