import SockstatLog

// README-SNIPPET-BEGIN
func runSockstats(logDir: String, backendPublicId: String) throws {
    let config = defaultLoggerConfig(logDir: logDir, backendPublicId: backendPublicId)
    let logger = try SockstatLogger.withURLSession(config: config) // uploads through URLSession
    try logger.registerLabel(label: 20, name: "TunnelUDP")
    try logger.setInterface(name: "pdp_ip0", kind: .unknown) // inferred: cellular
    try logger.enable()
    try logger.add(label: 20, tx: 1200, rx: 800)
    do {
        try logger.add(label: 300, tx: 1, rx: 1)
    } catch SockstatError.InvalidArgument(let reason) {
        print("rejected: \(reason)")
    }
    let report = try logger.flush(timeoutMs: 10_000)
    print("uploaded \(report.entries) lines, log id \(logger.logId())")
    try logger.shutdown(timeoutMs: 2_000)
}
// README-SNIPPET-END
