// swift-tools-version:5.9
// The sockstatlog Swift package for local development: the Rust core as a
// binary XCFramework (C module SockstatLogFFI) and the Swift module
// SockstatLog, which holds the UniFFI-generated Swift (Generated/, a link to
// the committed bindings/swift/SockstatLog.swift) plus the hand-written glue.
// Run build-xcframework.sh on a Mac first: it produces SockstatLogFFI.xcframework
// (not committed). Remote consumers use the Package.swift at the repository
// root, which must describe the same package: scripts/test-swift.sh compares them.
//
// Language mode: tools 5.9, so Swift 5 mode and Xcode 15 still work. The
// sources also compile in Swift 6 mode with complete strict-concurrency
// checking (checked on every CI run), so a Swift 6 app importing SockstatLog
// gets a Sendable-correct API either way.
import PackageDescription

let package = Package(
    name: "SockstatLog",
    // iOS 15: packet-tunnel providers get 50 MiB of memory from iOS 15 on
    // (15 MiB up to iOS 14), the budget this library is sized for. It also
    // matches the static libraries' IPHONEOS_DEPLOYMENT_TARGET in the build script.
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "SockstatLog", targets: ["SockstatLog"]),
    ],
    targets: [
        .binaryTarget(name: "SockstatLogFFI", path: "SockstatLogFFI.xcframework"),
        .target(
            name: "SockstatLog",
            dependencies: ["SockstatLogFFI"],
            path: "Sources/SockstatLog",
            // The privacy manifest (required-reason APIs): Xcode merges it
            // into the app's privacy report.
            resources: [.copy("PrivacyInfo.xcprivacy")]
        ),
    ]
)
