#!/usr/bin/env bash
# The one test command (see README): installs what the suites need, then runs
# every suite. Safe to re-run; later runs reuse what the first one installed.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==== %s ====\n' "$*"; }

section "Rust: unit, integration, property and CLI tests"
cargo test --features cli

section "Rust: benches compile"
cargo bench --no-run --quiet

echo
echo "all suites passed"
