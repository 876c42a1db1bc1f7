#!/usr/bin/env bash
# What of the platform packages can be checked on Linux (no Android SDK, no
# Xcode), idempotent; reruns work offline from ~/.m2, ~/.cargo and .tools/:
#   1. build the host library (unstripped debug .so) and uniffi-bindgen
#   2. generate the Android-flavour Kotlin (android/uniffi-android.toml)
#   3. android/verify: compile the Android glue + both binding flavours against
#      the real Android API (Robolectric's android-all) and run its JVM tests
#   4. syntax-check every ios/**/*.swift (tree-sitter-swift)
# Extra arguments go to Maven (e.g. -Dtest=InterfaceKindsTest).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh
need_jvm_and_venv

start=$SECONDS
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

section "1/4 build libsockstatlog (host, debug, unstripped) and uniffi-bindgen"
cargo build --quiet -p sockstatlog --lib
cargo build --quiet -p uniffi-bindgen

section "2/4 generate the Android-flavour Kotlin bindings"
android_kt=$target_dir/platform/android-kotlin
rm -rf "$android_kt"
"$target_dir/debug/uniffi-bindgen" generate --no-format --config android/uniffi-android.toml \
  "$target_dir/debug/libsockstatlog.so" -l kotlin -o "$android_kt" >/dev/null
grep -q 'import androidx.annotation.RequiresApi' "$android_kt/dev/sockstatlog/sockstatlog.kt" ||
  { echo "the android override did not apply (no androidx import in $android_kt)" >&2; exit 1; }
echo "  $android_kt"

section "3/4 Android glue: compile against android-all (API 34), JVM unit tests"
mvn -B -f android/verify/pom.xml test \
  -Dsockstatlog.libdir="$target_dir/debug" -Dandroid.bindings="$android_kt" "$@"

section "4/4 Swift syntax check of ios/"
mapfile -t swift < <(find ios -name '*.swift' -not -path '*/.build/*' | sort)
[ "${#swift[@]}" -gt 0 ] || { echo "no Swift files under ios/" >&2; exit 1; }
scripts/check-swift.sh "${swift[@]}"

section "platform: all passed in $((SECONDS - start)) s"
