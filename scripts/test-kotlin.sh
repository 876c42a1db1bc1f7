#!/usr/bin/env bash
# Builds the host library and runs the Kotlin/JNI tests on the JVM (Maven,
# JUnit 5 under Surefire). Extra arguments go to Maven (e.g. -Dtest=LoggerTest).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cargo build --quiet -p sockstatlog --lib
# The reference collector (`sockstatlog collect`) the upload tests run as a
# child process: required, so a build failure fails here, loudly.
cargo build --quiet -p sockstatlog-tools --bin sockstatlog
mvn -B -f tests/kotlin/pom.xml test -Dsockstatlog.libdir="$target_dir/debug" \
    -Dsockstatlog.bindir="$target_dir/debug" "$@"
