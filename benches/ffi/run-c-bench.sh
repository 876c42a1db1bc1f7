#!/usr/bin/env bash
# Builds the release library and the C harness, and runs it.
#   benches/ffi/run-c-bench.sh [CALLS]
set -euo pipefail
cd "$(dirname "$0")/../.."
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cargo build --quiet --release -p sockstatlog --lib
out="$target_dir/ffi-bench"; mkdir -p "$out"
gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Ibindings/swift benches/ffi/c_abi_bench.c \
  -L"$target_dir/release" -lsockstatlog -Wl,-rpath,"$target_dir/release" -o "$out/c_abi_bench"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$out/c_abi_bench" "$dir/log" "${1:-2000000}"
