#!/usr/bin/env bash
# The Swift side compiled and run for real, with Swift 6.0 from a Debian
# trixie chroot (scripts/swift-chroot.sh; built once, about 4 minutes, then
# cached in /var/cache/sockstatlog/swift-trixie):
#   1. the chroot (built, or reused)
#   2. the host library and the reference collector (cargo, on the host)
#   (scripts/check-readme-snippets.py, in test-bindings.sh, keeps
#   tests/swift/ReadmeSnippet.swift identical to the README's Swift block)
#   3. in the chroot (tests/swift/in-chroot.sh): compile checks in Swift 5 and
#      Swift 6 language modes with warnings as errors (the generated bindings
#      plus ios/Sources/SockstatLog/URLSessionUploadTransport.swift as module
#      SockstatLog, then the README snippet against it), the check's self-test
#      (an API mistake and a warning must fail it), and the XCTest suite
#      (tests/swift/xctest) under SwiftPM, offline; both package manifests
#      dumped and ios/release.sh run on a dummy XCFramework
#   4. (host) tests/swift/check_manifests.py: the root Package.swift and
#      ios/Package.swift describe the same package; the release is right
# Needs root (debootstrap, chroot, mount), as the rest of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh

start=$SECONDS
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

section "1/4 Swift chroot (Debian trixie + swiftlang)"
chroot_dir=$(bash scripts/swift-chroot.sh ensure)
echo "  $chroot_dir"

section "2/4 build libsockstatlog and the collector (host)"
cargo build --quiet -p sockstatlog --lib
# The reference collector the upload tests run as a child process.
cargo build --quiet -p sockstatlog-tools --bin sockstatlog

section "3/4 in the chroot: compile checks (Swift 5 and 6, warnings as errors), self-test, XCTest"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/ffi" "$stage/lib" "$stage/bin" "$stage/src"
cp bindings/swift/SockstatLogFFI.h "$stage/ffi/"
cp bindings/swift/SockstatLogFFI.modulemap "$stage/ffi/module.modulemap"
cp "$target_dir/debug/libsockstatlog.so" "$stage/lib/"
cp "$target_dir/debug/sockstatlog" "$stage/bin/"
# Module SockstatLog: the generated API plus the glue that builds on Linux.
cp bindings/swift/SockstatLog.swift ios/Sources/SockstatLog/URLSessionUploadTransport.swift \
  "ios/Sources/SockstatLog/SockstatLogger+URLSession.swift" "$stage/src/"
cp tests/swift/ReadmeSnippet.swift "$stage/"
cp -r tests/swift/xctest "$stage/pkg"
rm -rf "$stage/pkg/.build"
mkdir -p "$stage/pkg/Sources/SockstatLogFFI" "$stage/pkg/Sources/SockstatLog"
cp "$stage/ffi/"* "$stage/pkg/Sources/SockstatLogFFI/"
# The iOS package's own layout: Generated/SockstatLog.swift stays the committed
# link to ../../../../bindings/swift/SockstatLog.swift (here: $stage/bindings),
# so SwiftPM builds through the link as it does for a consumer.
mkdir -p "$stage/bindings/swift"
cp bindings/swift/SockstatLog.swift "$stage/bindings/swift/"
cp -a ios/Sources/SockstatLog/Generated "$stage/pkg/Sources/SockstatLog/"
[ -L "$stage/pkg/Sources/SockstatLog/Generated/SockstatLog.swift" ] ||
  { echo "ios/Sources/SockstatLog/Generated/SockstatLog.swift is not a link to bindings/swift/" >&2; exit 1; }
cp ios/Sources/SockstatLog/URLSessionUploadTransport.swift "ios/Sources/SockstatLog/SockstatLogger+URLSession.swift" \
  "$stage/pkg/Sources/SockstatLog/"
mkdir -p "$stage/pkg/Sources/TunnelExample"
cp ios/Examples/TunnelStats.swift "$stage/pkg/Sources/TunnelExample/"
cp ios/Examples/UsageDebugScreen.swift "$stage/pkg/Sources/TunnelExample/"
cp ios/Examples/TunnelStats.swift "$stage/"
# The two package manifests and the release script, for dump-package and a dummy release.
mkdir -p "$stage/manifests/ios"
cp Package.swift "$stage/manifests/"
cp ios/Package.swift ios/release.sh "$stage/manifests/ios/"
cp -rL ios/Sources "$stage/manifests/ios/"
cp tests/swift/in-chroot.sh "$stage/"
bash scripts/swift-chroot.sh run "$stage" "bash in-chroot.sh"

section "4/4 the package manifests agree; ios/release.sh zips, checksums and writes"
python3 tests/swift/check_manifests.py "$stage/out"

section "swift: all passed in $((SECONDS - start)) s"
