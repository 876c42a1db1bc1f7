import Foundation

/// Sends the logger's uploads with `URLSession`, so they use the system's TLS,
/// proxy and network policy. Pass it to `SockstatLogger.withTransport(config:transport:)`.
///
/// Inside a packet-tunnel provider the provider's own connections leave on the
/// physical network, not through its tunnel, so the upload never loops back
/// into the traffic it measures. To keep uploads off cellular, pass a session
/// whose configuration sets `allowsExpensiveNetworkAccess = false`.
///
/// The logger calls ``send(request:)`` synchronously on its uploader thread
/// (never the main thread): it blocks on a semaphore, bounded by `timeout`.
/// A transport failure or timeout throws `SockstatError.Upload`, which the
/// logger retries with backoff; any HTTP status is an answer.
public final class URLSessionUploadTransport: UploadTransport, @unchecked Sendable {
    // @unchecked: immutable, and URLSession is thread-safe.
    private let session: URLSession
    private let timeout: TimeInterval

    /// Response bytes kept: the logger uses the body only in error messages.
    public static let maxBodyBytes = 1024
    /// Seconds past `timeout` the uploader thread waits before giving up on a session.
    static let graceSeconds: TimeInterval = 5

    /// - Parameters:
    ///   - session: the session to send with. Default: ephemeral (no cookies,
    ///     no disk cache: nothing grows in a 50 MiB extension).
    ///   - timeout: the whole request's limit in seconds. Default 30: the body
    ///     is at most 256 KiB, so anything slower is a dead connection.
    public init(session: URLSession? = nil, timeout: TimeInterval = 30) {
        if let session {
            self.session = session
        } else {
            let config = URLSessionConfiguration.ephemeral
            config.urlCache = nil
            config.timeoutIntervalForResource = timeout
            self.session = URLSession(configuration: config)
        }
        self.timeout = timeout
    }

    /// POSTs `request` and returns the status, headers and the first KiB of the body.
    public func send(request: UploadRequest) throws -> UploadResponse {
        guard let url = URL(string: request.url) else {
            throw SockstatError.Upload(reason: "bad URL: \(request.url)")
        }
        var req = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        req.httpMethod = "POST"
        for header in request.headers {
            req.addValue(header.value, forHTTPHeaderField: header.name)
        }

        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let task = session.uploadTask(with: req, from: request.body) { data, response, error in
            outcome.set(data: data, response: response, error: error)
            done.signal()
        }
        task.resume()
        // URLSession's own timeout normally fires first, with a better error;
        // the grace only bounds a session that never calls back.
        if done.wait(timeout: .now() + timeout + Self.graceSeconds) == .timedOut {
            task.cancel()
            throw SockstatError.Upload(reason: "no answer within \(Int(timeout)) s")
        }
        return try outcome.result()
    }
}

/// The completion handler's arguments, handed from URLSession's queue to the
/// waiting uploader thread (the semaphore orders the write before the read).
private final class Outcome: @unchecked Sendable {
    private var data: Data?
    private var response: URLResponse?
    private var error: Error?

    func set(data: Data?, response: URLResponse?, error: Error?) {
        self.data = data
        self.response = response
        self.error = error
    }

    func result() throws -> UploadResponse {
        if let error {
            throw SockstatError.Upload(reason: "\(type(of: error)): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse, let status = Int32(exactly: http.statusCode) else {
            throw SockstatError.Upload(reason: "not an HTTP response")
        }
        let headers = http.allHeaderFields.compactMap { name, value -> HttpHeader? in
            guard let name = name as? String else { return nil }
            return HttpHeader(name: name, value: "\(value)")
        }
        return UploadResponse(
            status: status,
            headers: headers,
            body: (data ?? Data()).prefix(URLSessionUploadTransport.maxBodyBytes)
        )
    }
}
