#!/usr/bin/env bash
# The one test command (see README): installs what the suites need, then runs
# every suite. Safe to re-run; later runs reuse what the first one installed.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh

section "System packages"
# The report's charts render text with DejaVu Sans (fonts-dejavu-core).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    apt_install fonts-dejavu-core
fi

section "Rust: formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

section "Rust: the library's dependency tree carries none of the tools' crates"
bash scripts/check-deps.sh

section "Rust: unit, integration, property and CLI tests (library and tools)"
cargo test --workspace

section "Rust: benches type-check (running them is for BENCHMARKS.md, not CI)"
cargo check --workspace --benches --quiet

section "Bindings: generated code up to date, Kotlin + JNI on the JVM, Swift syntax"
bash scripts/test-bindings.sh

section "Platforms: Android glue against the real Android API jar, iOS Swift syntax"
bash scripts/test-platform.sh

echo
echo "all suites passed"
