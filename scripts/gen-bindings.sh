#!/usr/bin/env bash
# Generates the Kotlin and Swift bindings into bindings/ from the unstripped
# host library (UniFFI library mode), or with --check verifies that the
# committed bindings match the current Rust code.
#
#   scripts/gen-bindings.sh           regenerate bindings/kotlin and bindings/swift
#   scripts/gen-bindings.sh --check   regenerate into a temp dir and diff; exit 1 if stale
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# The debug build is unstripped and carries the UNIFFI_META_* symbols.
cargo build --quiet -p sockstatlog --lib
cargo build --quiet -p uniffi-bindgen
lib="$target_dir/debug/libsockstatlog.so"
bindgen="$target_dir/debug/uniffi-bindgen"

out=bindings
if [ "$check" = 1 ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
rm -rf "$out/kotlin" "$out/swift"
# --no-format: the output must not depend on whether ktlint/swiftformat are installed.
"$bindgen" generate --no-format "$lib" -l kotlin -o "$out/kotlin" >/dev/null
"$bindgen" generate --no-format "$lib" -l swift -o "$out/swift" >/dev/null

if [ "$check" = 1 ]; then
  if ! diff -r bindings/kotlin "$out/kotlin" >/dev/null || ! diff -r bindings/swift "$out/swift" >/dev/null; then
    diff -ru bindings "$out" | head -40 >&2 || true
    echo "bindings/ is out of date with the Rust code: run scripts/gen-bindings.sh and commit the result" >&2
    exit 1
  fi
  echo "bindings/ is up to date"
else
  echo "generated:"; find bindings -type f | sort | sed 's/^/  /'
fi
