#!/usr/bin/env bash
# Runs inside the Swift chroot, in the directory scripts/test-swift.sh staged:
#   ffi/  SockstatLogFFI.h + module.modulemap     lib/ libsockstatlog.so
#   src/  SockstatLog.swift (generated) + URLSessionUploadTransport.swift
#   ReadmeSnippet.swift, TunnelStats.swift (ios/Examples)       bin/ sockstatlog (the collector)
#   pkg/ the XCTest package    manifests/ Package.swift, ios/Package.swift, ios/release.sh, ios/Sources
set -euo pipefail
here=$(pwd)
section() { printf '\n---- %s ----\n' "$*"; }

swiftc --version 2>&1 | head -1
ffi=(-I "$here/ffi" -Xcc "-fmodule-map-file=$here/ffi/module.modulemap")
strict=(-warnings-as-errors)

# compile_module MODE OUT: module SockstatLog (bindings + Linux-buildable glue) as a library.
compile_module() {
  local mode=$1 out=$2
  mkdir -p "$out"
  swiftc -swift-version "$mode" "${strict[@]}" -parse-as-library -module-name SockstatLog \
    -emit-library -o "$out/libSockstatLog.so" -emit-module -emit-module-path "$out/SockstatLog.swiftmodule" \
    "${ffi[@]}" src/SockstatLog.swift src/URLSessionUploadTransport.swift "src/SockstatLogger+URLSession.swift" \
    -L "$here/lib" -lsockstatlog
}

# typecheck MODE MODULE_DIR FILE: type-checks a client of module SockstatLog.
typecheck() {
  swiftc -swift-version "$1" "${strict[@]}" -parse-as-library -typecheck -I "$2" "${ffi[@]}" "$3"
}

for mode in 5 6; do
  section "Swift $mode language mode: module SockstatLog (generated bindings + URLSessionUploadTransport.swift)"
  compile_module "$mode" "build/swift$mode"
  echo "  ok"
  section "Swift $mode language mode: the README snippet and ios/Examples/TunnelStats.swift against it"
  typecheck "$mode" "build/swift$mode" ReadmeSnippet.swift
  typecheck "$mode" "build/swift$mode" TunnelStats.swift
  echo "  ok"
done

section "self-test: the compile check fails on an API mistake and on a warning"
mkdir -p selftest
# An argument that does not exist (tree-sitter accepts this; the compiler must not).
sed 's/try logger\.enable()/try logger.enable(now: true)/' ReadmeSnippet.swift >selftest/ApiMistake.swift
# A warning (an unused value), which -warnings-as-errors must turn into a failure.
sed 's/try logger\.enable()/try logger.enable(); let unusedValue = 1/' ReadmeSnippet.swift >selftest/Warning.swift
for case in ApiMistake:"argument passed to call that takes no arguments" Warning:"never used"; do
  file=selftest/${case%%:*}.swift expect=${case#*:}
  cmp -s ReadmeSnippet.swift "$file" && { echo "self-test: the injection did not change $file" >&2; exit 1; }
  for mode in 5 6; do
    if typecheck "$mode" "build/swift$mode" "$file" >selftest/out 2>&1; then
      echo "self-test FAILED: ${case%%:*} compiled in Swift $mode mode" >&2; exit 1
    fi
    grep -q "$expect" selftest/out || { echo "self-test FAILED: no '$expect' in:" >&2; cat selftest/out >&2; exit 1; }
  done
  echo "  ${case%%:*}: rejected in Swift 5 and 6 modes ($expect)"
done

section "XCTest suite under SwiftPM (Swift 6 language mode, warnings as errors)"
cd pkg
# (pipefail: a failing `swift test` fails the pipeline, and so this script)
SOCKSTATLOG_BINDIR=$here/bin swift test 2>&1 | tee ../xctest.log
# Guards against a suite that silently ran nothing.
grep -Eq "Executed [1-9][0-9]* tests?, with 0 failures" ../xctest.log ||
  { echo "XCTest: no 'Executed N tests, with 0 failures' line" >&2; exit 1; }

section "Package manifests (root and ios/) and ios/release.sh on a dummy XCFramework"
# The comparison itself runs on the host (scripts/test-swift.sh) over what
# this leaves in out/: both manifests as JSON, and a release of a dummy
# XCFramework (a directory with an Info.plist: release.sh only zips it).
cd "$here/manifests"
swift package --package-path . dump-package >"$here/out/manifest-root.json"
swift package --package-path ios dump-package >"$here/out/manifest-ios.json"
mkdir -p "$here/dummy/SockstatLogFFI.xcframework/ios-arm64"
printf '<plist version="1.0"><dict/></plist>\n' >"$here/dummy/SockstatLogFFI.xcframework/Info.plist"
printf 'dummy slice\n' >"$here/dummy/SockstatLogFFI.xcframework/ios-arm64/libsockstatlog.a"
bash ios/release.sh --write https://example.invalid/sockstatlog/releases/download/v0.0.0-test \
  "$here/dummy/SockstatLogFFI.xcframework" "$here/out" | tee "$here/out/release.txt"
swift package --package-path . dump-package >"$here/out/manifest-released.json"
echo "  manifests dumped, dummy release made"
