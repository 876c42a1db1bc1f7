#!/usr/bin/env bash
# R8 full mode strips what no keep rule names (issue 12, item 6). This runs
# ProGuard (Maven Central; the same keep-rule language) over the library's
# classes plus JNA and the Kotlin stdlib with android/consumer-rules.pro, the
# rules the AAR ships to apps, shrinking, optimising and obfuscating as an
# app's release build does, then runs android/proguard/Smoke.java against the
# shrunk jar on the JVM. The classes are the host flavour of the bindings
# (tests/kotlin's compile: the Android flavour's Build.VERSION check needs an
# Android runtime) plus FastCounters; the keep rules are the same for both.
#
# Usage: scripts/check-proguard.sh LIBDIR   (the directory of the host libsockstatlog.so)
set -euo pipefail
cd "$(dirname "$0")/.."
libdir=${1:?usage: $0 LIBDIR}

work=tests/kotlin/target/proguard
rm -rf "$work" && mkdir -p "$work"
# The library's classes, as tests/kotlin compiles them (bindings/kotlin + FastCounters.kt).
mvn -B -q -f tests/kotlin/pom.xml compile
classes=tests/kotlin/target/classes
mvn -B -q -f android/proguard/pom.xml -Ptool dependency:build-classpath -Dmdep.outputFile="$PWD/$work/proguard.cp"
mvn -B -q -f android/proguard/pom.xml -Pinputs dependency:build-classpath -Dmdep.outputFile="$PWD/$work/inputs.cp"

jmods=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")/jmods
[ -d "$jmods" ] || { echo "no JDK jmods at $jmods" >&2; exit 1; }
{
  echo "-injars $PWD/$classes"
  tr ':' '\n' < "$work/inputs.cp" | sed '/^$/d; s:^\(.*\)$:-injars \1(!META-INF/versions/**,!META-INF/*.kotlin_module,!module-info.class):'
  echo "-outjars $PWD/$work/shrunk.jar"
  for m in java.base java.desktop java.logging; do echo "-libraryjars $jmods/$m.jmod(!**.jar;!module-info.class)"; done
  echo "-include $PWD/android/consumer-rules.pro"
  # Warnings are about JDK and Kotlin classes the library never reaches
  # (reflection helpers, java.awt); the smoke test is the judge of what works.
  echo "-dontnote"
  echo "-ignorewarnings"
  echo "-printmapping $PWD/$work/mapping.txt"
} > "$work/config.pro"
java -cp "$(cat "$work/proguard.cp")" proguard.ProGuard @"$work/config.pro" > "$work/proguard.log" 2>&1 ||
  { tail -30 "$work/proguard.log" >&2; echo "ProGuard failed (log: $work/proguard.log)" >&2; exit 1; }
echo "shrunk: $(wc -c < "$work/shrunk.jar") bytes from $classes + $(tr ':' ' ' < "$work/inputs.cp" | wc -w) jars"

mkdir -p "$work/smoke"
javac -d "$work/smoke" -cp "$classes:$(cat "$work/inputs.cp")" android/proguard/Smoke.java
# Without consumer-rules.pro's -keepattributes, this fails in JNA's Structure
# (no @FieldOrder): the check has been seen to catch exactly that.
java -Djna.library.path="$libdir" -Djava.library.path="$libdir" -cp "$work/shrunk.jar:$work/smoke" Smoke
