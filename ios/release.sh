#!/usr/bin/env bash
# Packages the XCFramework for remote SwiftPM consumers:
#   1. zips XCFRAMEWORK (default ios/SockstatLogFFI.xcframework, from
#      build-xcframework.sh) into OUT_DIR/SockstatLogFFI.xcframework.zip,
#      with the framework directory at the top of the zip, as SwiftPM expects
#   2. computes its checksum with `swift package compute-checksum`
#   3. prints the root Package.swift's `release` line and the equivalent
#      `.binaryTarget(name:url:checksum:)`, for URL_BASE/SockstatLogFFI.xcframework.zip
#   4. with --write, sets that `release` line in PACKAGE (default: the root
#      Package.swift) so the release commit points consumers at the zip
#
#   ios/release.sh [--write] [--package FILE] [--swift CMD] URL_BASE [XCFRAMEWORK [OUT_DIR]]
#
# URL_BASE is where the zip will be downloadable, e.g.
# https://github.com/OWNER/sockstatlog/releases/download/v1.2.3. Upload the zip
# there, commit the rewritten Package.swift, and tag that commit.
# --swift: how to run `swift` (default `swift`, e.g. `xcrun swift`). CI runs this
# script inside the Swift chroot on a dummy XCFramework (scripts/test-swift.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

die() { echo "ios/release.sh: $*" >&2; exit 1; }

write=0
package=$root/Package.swift
swift=swift
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=1; shift ;;
    --package) package=$2; shift 2 ;;
    --swift) swift=$2; shift 2 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] && [ $# -le 3 ] || die "usage: $0 [--write] [--package FILE] [--swift CMD] URL_BASE [XCFRAMEWORK [OUT_DIR]]"
url_base=${1%/}
xcframework=${2:-$here/SockstatLogFFI.xcframework}
out_dir=${3:-$here/build/release}

case "$url_base" in
  https://*) ;;
  *) die "URL_BASE must be https:// (SwiftPM downloads binary targets over HTTPS only): $url_base" ;;
esac
[ -d "$xcframework" ] || die "no XCFramework at $xcframework (run ios/build-xcframework.sh on a Mac first)"
[ -f "$xcframework/Info.plist" ] || die "$xcframework has no Info.plist: not an XCFramework"
[ "$(basename "$xcframework")" = SockstatLogFFI.xcframework ] ||
  die "the XCFramework must be named SockstatLogFFI.xcframework (the binary target's name), not $(basename "$xcframework")"
command -v zip >/dev/null || die "zip not found"

zip_name=SockstatLogFFI.xcframework.zip
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
rm -f "$out_dir/$zip_name"
# -X: no extra file attributes (uid/gid, times beyond the DOS ones), -y: keep
# symlinks as links (macOS frameworks use them), -r: the whole tree.
(cd "$(dirname "$xcframework")" && zip -qrXy "$out_dir/$zip_name" "$(basename "$xcframework")")

checksum=$($swift package compute-checksum "$out_dir/$zip_name" | tr -d '[:space:]')
[[ "$checksum" =~ ^[0-9a-f]{64}$ ]] || die "swift package compute-checksum printed '$checksum', not a SHA-256"
url=$url_base/$zip_name

release_line="let release: (url: String, checksum: String)? = (url: \"$url\", checksum: \"$checksum\")"
cat <<EOF
zip:      $out_dir/$zip_name
checksum: $checksum
url:      $url

Package.swift (repository root):
$release_line

or, in a manifest of your own:
.binaryTarget(
    name: "SockstatLogFFI",
    url: "$url",
    checksum: "$checksum"
),
EOF

if [ "$write" = 1 ]; then
  [ -f "$package" ] || die "no manifest at $package"
  [ "$(grep -c '^let release: (url: String, checksum: String)? = ' "$package")" = 1 ] ||
    die "$package has no single 'let release: (url: String, checksum: String)? = …' line to rewrite"
  tmp=$(mktemp "$package.XXXXXX")
  awk -v line="$release_line" \
    '/^let release: \(url: String, checksum: String\)\? = / { print line; next } { print }' "$package" >"$tmp"
  mv "$tmp" "$package"
  echo
  echo "wrote the release line into $package"
fi
