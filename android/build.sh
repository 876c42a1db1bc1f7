#!/usr/bin/env bash
# Builds what the Gradle module needs, on a machine with the Android NDK:
#   1. libsockstatlog.so for arm64-v8a, armeabi-v7a, x86_64 and x86 (API 26),
#      linked for 16 KB pages, into src/main/jniLibs/<abi>/: the `mobile`
#      profile (size-first, fat LTO) without default features, i.e. without
#      the built-in HTTP client (the glue uploads through HttpURLConnection)
#      nor the replay runner. x86 because JNA's
#      AAR ships libjnidispatch.so for it (32-bit emulators): JNA would load
#      and our library be missing (scripts/check-android-abis.sh keeps the
#      sets equal)
#   2. the Kotlin bindings (android = true) into generated/kotlin/, from the
#      UNSTRIPPED arm64 library (UniFFI reads its metadata symbols)
#   3. keeps each unstripped .so aside for Play Console's native crash
#      symbolication: build/native-debug-symbols/<abi>/libsockstatlog.so and
#      build/outputs/native-debug-symbols.zip (upload it with the app bundle)
#   4. strips the jniLibs copies for packaging and checks their alignment and
#      that bionic functions newer than API 26 are referenced weakly
#      (scripts/check-android-symbols.sh)
# Then: gradle assembleRelease  ->  build/outputs/aar/sockstatlog-release.aar
#   or: gradle publishToMavenLocal  ->  dev.sockstatlog:sockstatlog-android:<version>
#
# Needs: rustup, cargo-ndk (cargo install cargo-ndk --version 4.1.2 --locked),
# NDK r28+ in $ANDROID_NDK_HOME (or $ANDROID_HOME/ndk/<version>).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

API=26 # = minSdk in build.gradle.kts
ABIS=(arm64-v8a armeabi-v7a x86_64 x86)
TRIPLES=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android)
PAGE=16384 # Android 15+ devices with 16 KB pages; Play requires it from Nov 2025

die() { echo "android/build.sh: $*" >&2; exit 1; }

# check_alignment READELF SO: every LOAD segment's alignment (the last column
# of `readelf -lW`) must be at least $PAGE.
check_alignment() {
  local loads align
  loads=$("$1" -lW "$2" | grep -E '^ *LOAD ') || die "$2: no LOAD segments?"
  while read -r line; do
    align=${line##* }
    (( align >= PAGE )) || die "$2: LOAD segment aligned to $align, below 16 KB: $line"
  done <<< "$loads"
}

command -v cargo-ndk >/dev/null ||
  die "cargo-ndk not found: cargo install cargo-ndk --version 4.1.2 --locked"
ndk=${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}
if [ -z "$ndk" ] && [ -d "${ANDROID_HOME:-/nonexistent}/ndk" ]; then
  ndk=$(ls -d "$ANDROID_HOME"/ndk/* 2>/dev/null | sort -V | tail -1)
fi
[ -n "$ndk" ] && [ -d "$ndk" ] ||
  die "no Android NDK: install NDK r28+ (sdkmanager 'ndk;28.0.13004108') and set ANDROID_NDK_HOME"
export ANDROID_NDK_HOME=$ndk
ndk_major=$(sed -n 's/^Pkg.Revision *= *\([0-9]*\).*/\1/p' "$ndk/source.properties" 2>/dev/null || true)
[ "${ndk_major:-0}" -ge 28 ] ||
  echo "android/build.sh: warning: NDK ${ndk_major:-?} < r28; relying on the explicit 16 KB link flag" >&2
bin=$(ls -d "$ndk"/toolchains/llvm/prebuilt/*/bin | head -1)

rustup target add "${TRIPLES[@]}" >/dev/null

# 16 KB page alignment. NDK r28+ does this by default; the flag makes older
# NDKs do it too. Per-target variables, so the host build is untouched; an
# exported RUSTFLAGS would override them, hence unset (the check below is the
# safety net either way).
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
for t in "${TRIPLES[@]}"; do
  v=CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_RUSTFLAGS
  export "$v=-C link-arg=-Wl,-z,max-page-size=$PAGE"
done

jnilibs=android/src/main/jniLibs
echo "== cargo ndk: ${ABIS[*]} (API $API)"
# The features and profile here are what scripts/check-targets.sh lints and
# measures on every test run; keep the two in step.
PROFILE=mobile
cargo ndk $(printf -- '-t %s ' "${ABIS[@]}") -P "$API" -o "$jnilibs" \
  build --profile "$PROFILE" --no-default-features -p sockstatlog --lib

target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
unstripped=$target_dir/aarch64-linux-android/$PROFILE/libsockstatlog.so

echo "== Kotlin bindings (android = true) from $unstripped"
rm -rf android/generated/kotlin
cargo run --quiet -p uniffi-bindgen -- generate --no-format \
  --config android/uniffi-android.toml "$unstripped" -l kotlin -o android/generated/kotlin
grep -q 'import androidx.annotation.RequiresApi' android/generated/kotlin/dev/sockstatlog/sockstatlog.kt ||
  die "generated Kotlin is not the Android flavour: check android/uniffi-android.toml"

echo "== keep the unstripped libraries aside, strip, check 16 KB alignment"
symbols=android/build/native-debug-symbols
rm -rf "$symbols" && mkdir -p "$symbols"
for abi in "${ABIS[@]}"; do
  so=$jnilibs/$abi/libsockstatlog.so
  [ -f "$so" ] || die "cargo ndk did not produce $so"
  mkdir -p "$symbols/$abi" && cp "$so" "$symbols/$abi/"
  # Debug info and local symbols out; the dynamic symbols JNA and JNI bind to stay.
  "$bin/llvm-strip" --strip-unneeded "$so"
  # Every LOAD segment's alignment (last column) must be at least 0x4000.
  check_alignment "$bin/llvm-readelf" "$so"
  READELF="$bin/llvm-readelf" bash scripts/check-android-symbols.sh "$so" >/dev/null ||
    die "$so references a bionic function newer than API $API strongly"
  printf '  %-12s %8d bytes, LOAD align >= 0x4000, post-API-%d libc weak\n' "$abi" "$(wc -c < "$so")" "$API"
done
mkdir -p android/build/outputs
(cd "$symbols" && rm -f ../outputs/native-debug-symbols.zip && zip -qr ../outputs/native-debug-symbols.zip .)
echo "  unstripped: $symbols/<abi>/, android/build/outputs/native-debug-symbols.zip"
echo "done: now run 'gradle assembleRelease' or 'gradle publishToMavenLocal' in android/"
