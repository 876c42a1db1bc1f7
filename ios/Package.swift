// swift-tools-version:5.9
// The sockstatlog Swift package: the Rust core as a binary XCFramework
// (C module SockstatLogFFI) and the Swift module SockstatLog, which holds the
// UniFFI-generated Swift plus the hand-written glue. Run build-xcframework.sh
// on a Mac first: it produces SockstatLogFFI.xcframework and
// Sources/SockstatLog/Generated/ (neither is committed).
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
            path: "Sources/SockstatLog"
        ),
    ]
)
