#!/usr/bin/env bash
# The mobile library's normal dependency tree must not contain what only the
# tools need (argument parsing, the collector's HTTP server, plotting,
# progress bars, a database client) nor the binding generator. Fails naming
# the crate that leaked in, and the path that brought it. Then checks that the
# phone's build (no default features) has no HTTP stack, and that the tools
# need nothing but the library's public API and its default/replay features.
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

# The phone's build (no default features: android/build.sh, the XCFramework)
# carries no HTTP stack: the glue uploads through the platform's.
http_stack='reqwest hyper hyper-util h2 rustls ring webpki-roots rustls-webpki tower-http'
lean=$(cargo tree -p sockstatlog -e normal --no-default-features --prefix none --format '{p}')
for crate in $http_stack; do
  if grep -qE "^$crate v" <<<"$lean"; then
    echo "the library without default features depends on $crate:" >&2
    cargo tree -p sockstatlog -e normal --no-default-features -i "$crate" >&2 || true
    status=1
  fi
done
# HTTP/2 is in no build (an upload is sequential requests on one connection).
if grep -qE '^h2 v' <<<"$tree"; then
  echo "the library depends on h2 (HTTP/2): the built-in client is HTTP/1.1 only" >&2
  status=1
fi
[ "$status" = 0 ] && echo "library without default features: none of [$http_stack]; no h2 in any build"

# The tools build against the library's public API: their normal dependency
# on it may enable the library's default features (the built-in HTTPS
# client, for `upload`) and `replay` (the trace interpreter), nothing else
# (`testing` is for tests and benches), and they compile that way.
allowed='default http replay'
features=$(cargo tree -p sockstatlog-tools -e normal --prefix none --format '{p} [{f}]' | grep -m1 '^sockstatlog v')
enabled=${features##*[}
enabled=${enabled%]}
for f in ${enabled//,/ }; do
  if [[ " $allowed " != *" $f "* ]]; then
    echo "the tools enable library feature '$f' in their normal build (allowed: $allowed): $features" >&2
    status=1
  fi
done
cargo check -p sockstatlog-tools --lib --bins --quiet
[ "$status" = 0 ] && echo "the tools: built on the library's public API (features: ${enabled:-none}; allowed: $allowed)"
exit "$status"
