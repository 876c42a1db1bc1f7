#!/usr/bin/env bash
# Builds the Swift package's binary and generated parts, on macOS with Xcode:
#   1. libsockstatlog.a for aarch64-apple-ios (devices), aarch64-apple-ios-sim
#      and x86_64-apple-ios (simulators, merged with lipo), iOS 15+: the
#      `mobile` profile (size-first, fat LTO) without default features, i.e.
#      without the built-in HTTP client (the Swift package uploads through
#      URLSession: SockstatLogger.withURLSession) nor the replay runner
#   2. from the UNSTRIPPED device library (UniFFI reads its metadata symbols):
#      SockstatLogFFI.h + module.modulemap (module SockstatLogFFI), and a check
#      that its SockstatLog.swift is the committed bindings/swift/SockstatLog.swift
#      (Sources/SockstatLog/Generated/SockstatLog.swift links to it, so remote
#      consumers of the root Package.swift get it from git)
#   3. strips debug symbols from copies and assembles SockstatLogFFI.xcframework
# Then: swift package / Xcode can use ios/ as a local package (ios/Package.swift).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

die() { echo "ios/build-xcframework.sh: $*" >&2; exit 1; }

[ "$(uname -s)" = Darwin ] || die "needs macOS with Xcode (xcodebuild, lipo); this is $(uname -s)"
command -v xcodebuild >/dev/null || die "xcodebuild not found: install Xcode and run xcode-select -s"
command -v rustup >/dev/null || die "rustup not found: https://rustup.rs"

DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)
# = platforms: [.iOS(.v15)] in Package.swift; rustc and cc-built C code (zstd) read it.
export IPHONEOS_DEPLOYMENT_TARGET=15.0
# App extensions may link only extension-safe code. A static library is not
# linked here, but `--lib` also links the crate's cdylib, where ld then checks
# the flag; Xcode's final link of the extension checks the .a again.
export RUSTFLAGS="-C link-arg=-Wl,-application_extension"

cd "$root"
rustup target add "$DEVICE" "${SIMULATORS[@]}" >/dev/null
# The features and profile here are what scripts/check-targets.sh lints on
# every test run (aarch64-apple-ios); keep the two in step.
PROFILE=mobile
for t in "$DEVICE" "${SIMULATORS[@]}"; do
  echo "== cargo build --profile $PROFILE --no-default-features -p sockstatlog --lib --target $t"
  cargo build --profile "$PROFILE" --no-default-features -p sockstatlog --lib --target "$t"
done

target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
lib() { echo "$target_dir/$1/$PROFILE/libsockstatlog.a"; }

build=$here/build
rm -rf "$build"
mkdir -p "$build/device" "$build/simulator" "$build/swift" "$build/Headers/SockstatLogFFI"

echo "== lipo the simulator libraries"
lipo -create "$(lib "${SIMULATORS[0]}")" "$(lib "${SIMULATORS[1]}")" -output "$build/simulator/libsockstatlog.a"
cp "$(lib "$DEVICE")" "$build/device/libsockstatlog.a"

echo "== Swift bindings from the unstripped $(lib "$DEVICE")"
# The host-built uniffi-bindgen reads the iOS archive (library mode); unset
# RUSTFLAGS so the host build is not linked as an app extension.
RUSTFLAGS= cargo run --quiet -p uniffi-bindgen -- generate --no-format \
  "$(lib "$DEVICE")" -l swift -o "$build/swift"
grep -q '^module SockstatLogFFI ' "$build/swift/SockstatLogFFI.modulemap" ||
  die "the generated modulemap does not declare module SockstatLogFFI (check uniffi.toml [bindings.swift])"
# Headers/SockstatLogFFI/module.modulemap, not Headers/module.modulemap: Xcode
# copies every static XCFramework's headers into one include directory, where
# two top-level module.modulemap files would collide. Clang finds a module map
# in a subdirectory named after the module.
cp "$build/swift/SockstatLogFFI.h" "$build/Headers/SockstatLogFFI/"
cp "$build/swift/SockstatLogFFI.modulemap" "$build/Headers/SockstatLogFFI/module.modulemap"
# The package compiles bindings/swift/SockstatLog.swift (through the link in
# Sources/SockstatLog/Generated/); the device library must generate exactly it.
cmp -s "$build/swift/SockstatLog.swift" "$root/bindings/swift/SockstatLog.swift" ||
  die "the Swift generated from the iOS library differs from bindings/swift/SockstatLog.swift: run scripts/gen-bindings.sh and commit"

echo "== strip debug symbols (packaging copies only)"
strip -S "$build/device/libsockstatlog.a" "$build/simulator/libsockstatlog.a"

echo "== xcodebuild -create-xcframework"
rm -rf "$here/SockstatLogFFI.xcframework"
xcodebuild -create-xcframework \
  -library "$build/device/libsockstatlog.a" -headers "$build/Headers" \
  -library "$build/simulator/libsockstatlog.a" -headers "$build/Headers" \
  -output "$here/SockstatLogFFI.xcframework"

lipo -info "$build/device/libsockstatlog.a" "$build/simulator/libsockstatlog.a"
echo "done: ios/SockstatLogFFI.xcframework (Swift: bindings/swift/SockstatLog.swift, up to date)"
