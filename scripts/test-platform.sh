#!/usr/bin/env bash
# What of the platform packages can be checked on Linux (no Android SDK, no
# Xcode), idempotent; reruns work offline from ~/.m2, ~/.cargo, .tools/ and
# $SOCKSTATLOG_CACHE (default /var/cache/sockstatlog: Robolectric's ~330 MB of
# instrumented Android jars, fetched once from Maven Central):
#   1. build the host library (unstripped debug .so) and uniffi-bindgen
#   2. generate the Android-flavour Kotlin (android/uniffi-android.toml)
#   3. android/verify: the Android flavour + glue + example compiled with the
#      module's own Kotlin and compileSdk, then run under Robolectric, one JVM
#      per SDK level (35 and 30); includes the Java callers' test and the
#      JVM-name check
#   4. the AAR's ABI set against JNA's (scripts/check-android-abis.sh)
#   5. ProGuard with consumer-rules.pro over the library + JNA, then a smoke
#      test of the shrunk jar (scripts/check-proguard.sh)
#   6. syntax-check every ios/**/*.swift (tree-sitter-swift)
# Extra arguments go to Maven (e.g. -Dtest=InterfaceKindsTest).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh
need_jvm_and_venv

start=$SECONDS
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

section "1/6 build libsockstatlog (host, debug, unstripped) and uniffi-bindgen"
cargo build --quiet -p sockstatlog --lib
cargo build --quiet -p uniffi-bindgen

section "2/6 generate the Android-flavour Kotlin bindings"
android_kt=$target_dir/platform/android-kotlin
rm -rf "$android_kt"
"$target_dir/debug/uniffi-bindgen" generate --no-format --config android/uniffi-android.toml \
  "$target_dir/debug/libsockstatlog.so" -l kotlin -o "$android_kt" >/dev/null
grep -q 'import androidx.annotation.RequiresApi' "$android_kt/dev/sockstatlog/sockstatlog.kt" ||
  { echo "the android override did not apply (no androidx import in $android_kt)" >&2; exit 1; }
echo "  $android_kt"

section "3/6 Android flavour under Robolectric (SDK 35 and 30), Java callers, JVM names"
# The Gradle module's versions are the ones tested (item 7 of issue 12).
pom_prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" android/verify/pom.xml | head -1; }
gradle_kotlin=$(sed -n 's/.*id("org.jetbrains.kotlin.android") version "\([^"]*\)".*/\1/p' android/settings.gradle.kts)
[ "$gradle_kotlin" = "$(pom_prop kotlin.version)" ] ||
  { echo "android/verify compiles with Kotlin $(pom_prop kotlin.version), the module with $gradle_kotlin" >&2; exit 1; }
compile_sdk=$(sed -n 's/^ *compileSdk = \([0-9]*\).*/\1/p' android/build.gradle.kts)
android_all=$(pom_prop android.all.version)
# android-all versions are named by Android release: API 35 = 15, 34 = 14, ...
[ "${android_all%%-*}" = "$((compile_sdk - 20))" ] ||
  { echo "android/verify compiles against android-all $android_all, the module's compileSdk is $compile_sdk" >&2; exit 1; }

cache=${SOCKSTATLOG_CACHE:-/var/cache/sockstatlog}/robolectric
mkdir -p "$cache"
# Robolectric 4.14.1's jars for the SDK levels under test (DefaultSdkProvider,
# PREINSTRUMENTED_VERSION 7); offline runs read them from $cache.
for jar in android-all-instrumented-15-robolectric-12650502-i7 android-all-instrumented-11-robolectric-6757853-i7; do
  [ -s "$cache/$jar.jar" ] && continue
  echo "fetching $jar (once)"
  mvn -B -q dependency:copy -Dartifact="org.robolectric:android-all-instrumented:${jar#android-all-instrumented-}" \
    -DoutputDirectory="$cache"
done
monitor=$cache/androidx-test-monitor-1.7.2.jar
if [ ! -s "$monitor" ]; then
  # Robolectric needs androidx.test:monitor's classes; Maven cannot put an .aar on a classpath.
  mvn -B -q dependency:copy -Dartifact=androidx.test:monitor:1.7.2:aar -DoutputDirectory="$cache"
  unzip -p "$cache/monitor-1.7.2.aar" classes.jar > "$monitor.tmp" && mv "$monitor.tmp" "$monitor"
fi
mvn -B -f android/verify/pom.xml test -Drobolectric.deps="$cache" \
  -Dsockstatlog.libdir="$target_dir/debug" -Dandroid.bindings="$android_kt" "$@"

section "4/6 the AAR's ABIs against JNA's"
bash scripts/check-android-abis.sh

section "5/6 ProGuard with consumer-rules.pro, smoke test of the shrunk jar"
bash scripts/check-proguard.sh "$target_dir/debug"

section "6/6 Swift syntax check of ios/"
mapfile -t swift < <(find ios -name '*.swift' -not -path '*/.build/*' | sort)
[ "${#swift[@]}" -gt 0 ] || { echo "no Swift files under ios/" >&2; exit 1; }
scripts/check-swift.sh "${swift[@]}"

section "platform: all passed in $((SECONDS - start)) s"
