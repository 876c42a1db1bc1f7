import Foundation

/// The way to make a logger on iOS. The library in the XCFramework has no
/// HTTP client of its own (it is built without the `http` cargo feature, to
/// halve its size), so a logger made with the generated
/// `SockstatLogger(config:)` can log but not upload: its `flush` throws
/// `SockstatError.Upload` ("no upload transport"). This constructor supplies
/// the platform's stack, as `SockstatVpnSession` does on Android.
extension SockstatLogger {
    /// Creates a disabled logger that uploads through `URLSession`
    /// (``URLSessionUploadTransport``): the system's TLS, proxy and network
    /// policy, and from a packet-tunnel provider the physical network, not
    /// the tunnel.
    ///
    /// - Parameters:
    ///   - config: the logger's settings.
    ///   - transport: the URLSession transport to upload through. Default: an
    ///     ephemeral session with a 30 s request limit; pass your own to set
    ///     the session (e.g. `allowsExpensiveNetworkAccess = false` to keep
    ///     uploads off cellular) or the timeout.
    /// - Throws: `SockstatError` for a bad config or an unusable log directory.
    public static func withURLSession(
        config: LoggerConfig,
        transport: URLSessionUploadTransport = URLSessionUploadTransport()
    ) throws -> SockstatLogger {
        try withTransport(config: config, transport: transport)
    }
}
