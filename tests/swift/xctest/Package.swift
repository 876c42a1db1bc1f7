// swift-tools-version:6.0
// The Linux XCTest suite of the Swift bindings, run in the Swift chroot by
// scripts/test-swift.sh (see there). Offline: no remote dependencies.
//
// scripts/test-swift.sh stages, beside this manifest (none of it committed):
//   Sources/SockstatLogFFI/  module.modulemap + SockstatLogFFI.h (generated)
//   Sources/SockstatLog/     ios/Sources/SockstatLog/Generated/ (the link to
//                            bindings/swift/SockstatLog.swift, staged beside) and
//                            ios/Sources/SockstatLog/URLSessionUploadTransport.swift:
//                            one module, as in the iOS package
//   Sources/TunnelExample/   ios/Examples/TunnelStats.swift
//   ../lib/libsockstatlog.so the host-built Rust library
// Tools version 6.0: every target builds in the Swift 6 language mode, with
// complete strict-concurrency checking, and warnings are errors.
import PackageDescription

/// The host-built libsockstatlog.so, linked by path and found at run time by rpath.
let libDir = Context.packageDirectory + "/../lib"
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]

let package = Package(
    name: "SockstatLogLinuxTests",
    targets: [
        .systemLibrary(name: "SockstatLogFFI", path: "Sources/SockstatLogFFI"),
        .target(
            name: "SockstatLog",
            dependencies: ["SockstatLogFFI"],
            path: "Sources/SockstatLog",
            swiftSettings: strict,
            linkerSettings: [.unsafeFlags(["-L", libDir, "-lsockstatlog", "-Xlinker", "-rpath", "-Xlinker", libDir])]
        ),
        // The socket-stats half of the iOS example (ios/Examples/TunnelStats.swift).
        .target(
            name: "TunnelExample",
            dependencies: ["SockstatLog"],
            path: "Sources/TunnelExample",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SockstatLogTests",
            dependencies: ["SockstatLog", "TunnelExample"],
            path: "Tests/SockstatLogTests",
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
