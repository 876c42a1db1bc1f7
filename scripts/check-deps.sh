#!/usr/bin/env bash
# The mobile library's normal dependency tree must not contain what only the
# tools need (argument parsing, the collector's HTTP server, plotting,
# progress bars, a database client) nor the binding generator. Fails naming
# the crate that leaked in, and the path that brought it. Then checks that the
# tools need nothing but the library's public API.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='clap axum plotters indicatif tokio-postgres postgres sqlx deadpool-postgres uniffi_bindgen askama visibility'
tree=$(cargo tree -p sockstatlog -e normal --prefix none --format '{p}')
status=0
for crate in $forbidden; do
  if grep -qE "^$crate v" <<<"$tree"; then
    echo "the library depends on $crate:" >&2
    cargo tree -p sockstatlog -e normal -i "$crate" >&2 || true
    status=1
  fi
done
[ "$status" = 0 ] && echo "library dependency tree: none of [$forbidden]"

# The tools build against the library's public API: their normal dependency
# on it enables no feature (`testing` is for tests and benches), and they
# compile that way.
features=$(cargo tree -p sockstatlog-tools -e normal --prefix none --format '{p} [{f}]' | grep -m1 '^sockstatlog v')
if [[ "$features" != *"[]" ]]; then
  echo "the tools enable library features in their normal build: $features" >&2
  status=1
fi
cargo check -p sockstatlog-tools --lib --bins --quiet
[ "$status" = 0 ] && echo "the tools: built on the library's public API (no features)"
exit "$status"
