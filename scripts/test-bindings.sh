#!/usr/bin/env bash
# Everything the bindings need, for CI from a fresh clone (idempotent; reruns
# work offline from the caches in ~/.m2, ~/.cargo and .tools/):
#   1. build the host library (unstripped debug .so)
#   2. check bindings/ is up to date with the Rust code
#   3. run the Kotlin + JNI tests on the JVM (Maven, JUnit 5)
#   4. syntax-check the Swift bindings and samples, and the checker's self-test
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh
need_jvm_and_venv

start=$SECONDS
section "1/4 build libsockstatlog (host, debug, unstripped)"
cargo build -p sockstatlog --lib
section "2/4 bindings/ up to date, README snippets = the tested files"
scripts/gen-bindings.sh --check
python3 scripts/check-readme-snippets.py
section "3/4 Kotlin + JNI tests on the JVM"
scripts/test-kotlin.sh
section "4/4 Swift syntax check"
scripts/check-swift.sh
section "bindings: all passed in $((SECONDS - start)) s"
