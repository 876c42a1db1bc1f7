#!/usr/bin/env bash
# Side by side against upstream's Go code (tailscale.com, pinned in go.mod):
# builds our bench binary (release) and the Go harness, then runs every
# measure in interleaved rounds on the same inputs against the same neutral
# sink and prints one table of ratios (ours / upstream) for BENCHMARKS.md.
#
#   bash benches/upstream/run.sh [ROUNDS]      # default 5
#
# Needs only what the README's test command already set up: cargo and Go
# (preinstalled), and the Go module proxy or a filled module cache (~/go).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-5}"

cargo build --release --quiet --example upstream_ours
ours="$PWD/target/release/examples/upstream_ours"
bin="$PWD/target/upstream-bench"
(cd benches/upstream && GOFLAGS=-mod=mod go build -o "$bin" .)

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
echo "load before: $(uptime)"
echo "date: $(date -u +%FT%TZ), $(rustc --version), $(go version | cut -d' ' -f3)"
echo
"$bin" compare -ours "$ours" -rounds "$rounds"
echo
echo "load after: $(uptime)"
