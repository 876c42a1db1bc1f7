#!/usr/bin/env bash
# The shipped configurations, checked on a machine without an NDK or Xcode:
#   1. `cargo clippy -D warnings` of the library for every phone target that
#      rustup serves here, with the features the platform builds use (no
#      default features: no built-in HTTP client, no replay), so the
#      cfg(target_os = "android") / cfg(target_vendor = "apple") code is
#      type-checked and linted on every test run. The simulator targets
#      (aarch64-apple-ios-sim, x86_64-apple-ios) are not served to these
#      machines; they differ from aarch64-apple-ios only in target_abi and
#      (the second) target_arch.
#   2. the host library without default features: its tests
#      (tests/no_transport.rs);
#   3. a measurement link of the arm64 Android library as android/build.sh
#      builds it: 16 KB LOAD alignment, post-API-26 bionic functions weak
#      (scripts/check-android-symbols.sh), loaded bytes within the budget,
#      and its FFI surface equal to the committed bindings (one set of
#      bindings serves builds with and without default features).
#
# The C code of build scripts (zstd) is compiled by Zig's `zig cc` (PyPI
# `ziglang`) against Zig's bundled headers: musl's stand in for bionic and
# macOS's for the iOS SDK. That is good for a check, never for a shipped
# binary. Zig, the rustup targets and the cross target directory are cached
# outside the clone (like the Swift chroot), so a warm run adds little.
#
#   scripts/check-targets.sh            everything
#   scripts/check-targets.sh TRIPLE...  only clippy, for these targets
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${SOCKSTATLOG_CACHE:-/var/cache/sockstatlog}
# Pinned: a new Zig release must not change what a check run compiles with.
ZIG_VERSION=0.17.1
TARGETS=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android aarch64-apple-ios)
# The budget for the arm64 library's loaded sections (issue 20: half of the
# 4.0 MB the built-in HTTP client's build needed), in bytes.
MAX_LOADED_BYTES=2000000
# = android/build.sh's API level (minSdk) and ios/build-xcframework.sh's iOS.
ANDROID_API=26
export IPHONEOS_DEPLOYMENT_TARGET=15.0

die() { echo "check-targets.sh: $*" >&2; exit 1; }

# zig_target TRIPLE: the Zig target whose headers stand in for the platform's.
zig_target() {
  case "$1" in
    aarch64-linux-android) echo aarch64-linux-musl ;;
    armv7-linux-androideabi) echo arm-linux-musleabi ;;
    x86_64-linux-android) echo x86_64-linux-musl ;;
    i686-linux-android) echo x86-linux-musl ;;
    aarch64-apple-ios) echo aarch64-macos-none ;;
    *) die "no Zig stand-in for $1" ;;
  esac
}

# Zig from PyPI in a venv of its own (pip is the only download).
ensure_zig() {
  local venv=$CACHE/zig-venv
  if [ "$("$venv/bin/python" -m ziglang version 2>/dev/null)" != "$ZIG_VERSION" ]; then
    echo "installing ziglang==$ZIG_VERSION into $venv"
    mkdir -p "$CACHE"
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "ziglang==$ZIG_VERSION"
  fi
  # The compiler cc-rs runs: its own target flags out, Zig's in. cc-rs passes
  # --target/-target, -arch and -isysroot (and for Apple an -m*-version-min)
  # for a clang of the platform's SDK; Zig has its own target and headers.
  mkdir -p "$CACHE/bin"
  cat > "$CACHE/bin/zig-cc.tmp" <<EOF
#!/usr/bin/env bash
# Written by scripts/check-targets.sh: cc-rs's C compiler for check builds.
args=()
while [ \$# -gt 0 ]; do
  case "\$1" in
    --target=*|-mios-version-min=*|-miphoneos-version-min=*|-mmacosx-version-min=*) ;;
    -target|--target|-arch|-isysroot) shift ;;
    *) args+=("\$1") ;;
  esac
  shift
done
export ZIG_GLOBAL_CACHE_DIR="$CACHE/zig-cache" ZIG_LOCAL_CACHE_DIR="$CACHE/zig-cache"
exec "$venv/bin/python" -m ziglang cc -target "\$ZIG_CC_TARGET" "\${args[@]}"
EOF
  cat > "$CACHE/bin/zig-ar.tmp" <<EOF
#!/usr/bin/env bash
# Written by scripts/check-targets.sh: cc-rs's archiver for check builds.
export ZIG_GLOBAL_CACHE_DIR="$CACHE/zig-cache" ZIG_LOCAL_CACHE_DIR="$CACHE/zig-cache"
exec "$venv/bin/python" -m ziglang ar "\$@"
EOF
  # The measurement link's linker: bionic (libc, libm, libdl, liblog) is not
  # here, so its symbols stay undefined (-nostdlib; a shared object may have
  # undefined symbols); everything else rustc asks for is linked as usual.
  cat > "$CACHE/bin/zig-ld-android.tmp" <<EOF
#!/usr/bin/env bash
# Written by scripts/check-targets.sh: links a MEASUREMENT .so, not a shippable one.
args=()
for a in "\$@"; do
  case "\$a" in
    -lc|-lm|-ldl|-llog|--target=*) ;;
    *) args+=("\$a") ;;
  esac
done
export ZIG_GLOBAL_CACHE_DIR="$CACHE/zig-cache" ZIG_LOCAL_CACHE_DIR="$CACHE/zig-cache"
exec "$venv/bin/python" -m ziglang cc -target "\$ZIG_CC_TARGET" -nostdlib "\${args[@]}"
EOF
  chmod +x "$CACHE/bin/zig-cc.tmp" "$CACHE/bin/zig-ar.tmp" "$CACHE/bin/zig-ld-android.tmp"
  mv "$CACHE/bin/zig-cc.tmp" "$CACHE/bin/zig-cc"
  mv "$CACHE/bin/zig-ar.tmp" "$CACHE/bin/zig-ar"
  mv "$CACHE/bin/zig-ld-android.tmp" "$CACHE/bin/zig-ld-android"
}

ensure_targets() {
  local missing=()
  local installed
  installed=$(rustup target list --installed)
  for t in "$@"; do
    grep -qx "$t" <<<"$installed" || missing+=("$t")
  done
  [ "${#missing[@]}" = 0 ] || rustup target add "${missing[@]}"
}

# clippy_target TRIPLE: the library as the platform build configures it.
clippy_target() {
  local t=$1 v started=$SECONDS
  v=$(echo "$t" | tr 'a-z-' 'A-Z_')
  local lower=${v,,}
  # cc-rs reads CC_<triple> / AR_<triple>; the wrapper reads ZIG_CC_TARGET.
  env "CC_$lower=$CACHE/bin/zig-cc" "AR_$lower=$CACHE/bin/zig-ar" \
    ZIG_CC_TARGET="$(zig_target "$t")" ANDROID_PLATFORM="$ANDROID_API" \
    SDKROOT="$CACHE/no-sdk" \
    cargo clippy --quiet -p sockstatlog --lib --no-default-features --target "$t" -- -D warnings ||
    die "$t: clippy failed (the features android/build.sh and ios/build-xcframework.sh use)"
  echo "  $t: clippy -D warnings clean ($((SECONDS - started)) s)"
}

# The host library without default features: its own tests. In the host's
# target directory, where the test command's other builds already put (or
# will reuse) the dev-dependencies; a test build does not replace the
# uplifted target/debug/libsockstatlog.so the binding suites load.
check_lean_host() {
  local started=$SECONDS
  CARGO_TARGET_DIR=$HOST_TARGET_DIR cargo test --quiet -p sockstatlog --no-default-features --test no_transport
  echo "  host, no default features: tests/no_transport.rs passes ($((SECONDS - started)) s)"
}

# check_bindings SO: the FFI of a build without default features (the arm64
# library as it ships) generates exactly the committed bindings, so one set
# serves both builds.
check_bindings() {
  local so=$1 out bindgen=$HOST_TARGET_DIR/debug/uniffi-bindgen
  CARGO_TARGET_DIR=$HOST_TARGET_DIR cargo build --quiet -p uniffi-bindgen
  out=$(mktemp -d)
  "$bindgen" generate --no-format "$so" -l kotlin -o "$out/kotlin" >/dev/null
  "$bindgen" generate --no-format "$so" -l swift -o "$out/swift" >/dev/null
  if ! diff -r bindings/kotlin "$out/kotlin" >/dev/null || ! diff -r bindings/swift "$out/swift" >/dev/null; then
    diff -ru bindings "$out" | head -40 >&2 || true
    rm -rf "$out"
    die "the FFI without default features differs from the committed bindings: the surface must not depend on features"
  fi
  rm -rf "$out"
  echo "  bindings generated from $so = the committed bindings"
}

# measure_android_so: links arm64's libsockstatlog.so as android/build.sh
# builds it (profile, features, 16 KB pages) with Zig's linker and bionic's
# symbols left undefined: a MEASUREMENT artifact, never shippable. Checks it
# (scripts/check-android-symbols.sh) and prints the bytes of its loaded
# sections, what an app carries (BENCHMARKS.md, "Mobile library size").
measure_android_so() {
  local t=aarch64-linux-android started=$SECONDS so
  env CC_aarch64_linux_android="$CACHE/bin/zig-cc" AR_aarch64_linux_android="$CACHE/bin/zig-ar" \
    ZIG_CC_TARGET=aarch64-linux-musl ANDROID_PLATFORM="$ANDROID_API" \
    CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER="$CACHE/bin/zig-ld-android" \
    CARGO_TARGET_AARCH64_LINUX_ANDROID_RUSTFLAGS="-C link-arg=-Wl,-z,max-page-size=16384" \
    cargo build --quiet -p sockstatlog --lib --no-default-features --profile mobile --target "$t"
  so=$CARGO_TARGET_DIR/$t/mobile/libsockstatlog.so
  bash scripts/check-android-symbols.sh "$so"
  local loaded
  loaded=$(loaded_bytes "$so")
  echo "  $t measurement .so (profile mobile, no default features): $loaded bytes of loaded sections ($((SECONDS - started)) s)"
  (( loaded <= MAX_LOADED_BYTES )) ||
    die "$so: $loaded bytes of loaded sections, above the $MAX_LOADED_BYTES-byte budget (BENCHMARKS.md)"
  check_bindings "$so"
}

# loaded_bytes SO: the file bytes of SHF_ALLOC sections (.bss takes none).
loaded_bytes() {
  readelf -SW "$1" | python3 -c '
import re, sys
total = 0
for line in sys.stdin:
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([A-Za-z]*)\s", line)
    if m and "A" in m.group(7) and m.group(2) != "NOBITS":
        total += int(m.group(5), 16)
print(total)'
}

. scripts/common.sh
HOST_TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
ensure_zig
mkdir -p "$CACHE/no-sdk"
# Not the clone's target/: kept across runs and fresh clones.
export CARGO_TARGET_DIR=$CACHE/cross-target
# Android link flags and the like are the platform builds' business; a
# check build must not pick up the caller's.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

if [ $# -gt 0 ]; then
  ensure_targets "$@"
  for t in "$@"; do clippy_target "$t"; done
  exit 0
fi
ensure_targets "${TARGETS[@]}"
for t in "${TARGETS[@]}"; do clippy_target "$t"; done
check_lean_host
measure_android_so
echo "checked: ${TARGETS[*]} (clippy, platform features); host without default features; arm64 measurement link"
