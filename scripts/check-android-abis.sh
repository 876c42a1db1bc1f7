#!/usr/bin/env bash
# The ABI trap (issue 12, item 5): JNA's AAR ships libjnidispatch.so for more
# ABIs than we ship libsockstatlog.so for. On a device (or emulator) of an ABI
# JNA covers and we do not, JNA loads and libsockstatlog.so is missing: every
# call fails at runtime. This compares the two sets and fails on a gap.
#
# JNA also ships armeabi, mips and mips64 (DEAD below): the NDK dropped them
# (r17) and no Android 8.0+ (minSdk 26) system image or device runs them, so
# an app on our minSdk can never select them. Apps may drop them from the APK
# with packaging.jniLibs.excludes (README, "Embed on Android").
#
# Idempotent; the JNA AAR (~1 MB) is fetched once into $SOCKSTATLOG_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."

DEAD=(armeabi mips mips64)
jna_version=$(sed -n 's/.*"net.java.dev.jna:jna:\([^"@]*\)@aar".*/\1/p' android/build.gradle.kts)
[ -n "$jna_version" ] || { echo "no JNA @aar dependency in android/build.gradle.kts" >&2; exit 1; }
cache=${SOCKSTATLOG_CACHE:-/var/cache/sockstatlog}/jna
aar=$cache/jna-$jna_version.aar
if [ ! -s "$aar" ]; then
  mkdir -p "$cache"
  mvn -B -q dependency:copy -Dartifact="net.java.dev.jna:jna:$jna_version:aar" -DoutputDirectory="$cache"
fi

jna=$(unzip -Z1 "$aar" | sed -n 's:^jni/\([^/]*\)/libjnidispatch\.so$:\1:p' | sort)
ours=$(sed -n 's/^ABIS=(\(.*\)).*/\1/p' android/build.sh | tr ' ' '\n' | sed '/^$/d' | sort)
[ -n "$jna" ] && [ -n "$ours" ] || { echo "could not read the ABI sets (JNA: '$jna', ours: '$ours')" >&2; exit 1; }
live=$(comm -23 <(echo "$jna") <(printf '%s\n' "${DEAD[@]}" | sort))
missing=$(comm -23 <(echo "$live") <(echo "$ours"))
extra=$(comm -13 <(echo "$live") <(echo "$ours"))
echo "JNA $jna_version ABIs: $(echo $jna)"
echo "android/build.sh ABIs: $(echo $ours)"
[ -z "$missing" ] || { echo "JNA loads on $(echo $missing) but libsockstatlog.so is not built for it: add it to android/build.sh" >&2; exit 1; }
[ -z "$extra" ] || { echo "libsockstatlog.so built for $(echo $extra), where JNA has no libjnidispatch.so" >&2; exit 1; }
echo "ABI sets agree (ignoring JNA's ${DEAD[*]}, unreachable at minSdk 26)"
