// swift-tools-version:5.9
// The sockstatlog Swift package for remote consumers:
//   .package(url: "https://…/sockstatlog.git", from: "X.Y.Z")
// The same package as ios/Package.swift (for local development), with the
// XCFramework fetched from a release by URL and checksum. scripts/test-swift.sh
// fails if the two manifests describe different packages.
//
// `release` is written by ios/release.sh --write in the release commit. While
// it is nil (between releases, on a development checkout) this manifest uses
// the locally built ios/SockstatLogFFI.xcframework, as ios/Package.swift does.
import PackageDescription

/// The published XCFramework zip and its SwiftPM checksum (SHA-256), or nil.
let release: (url: String, checksum: String)? = nil

let ffi: Target = if let release {
    .binaryTarget(name: "SockstatLogFFI", url: release.url, checksum: release.checksum)
} else {
    .binaryTarget(name: "SockstatLogFFI", path: "ios/SockstatLogFFI.xcframework")
}

let package = Package(
    name: "SockstatLog",
    // iOS 15: see ios/Package.swift.
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "SockstatLog", targets: ["SockstatLog"]),
    ],
    targets: [
        ffi,
        .target(
            name: "SockstatLog",
            dependencies: ["SockstatLogFFI"],
            path: "ios/Sources/SockstatLog",
            resources: [.copy("PrivacyInfo.xcprivacy")]
        ),
    ]
)
