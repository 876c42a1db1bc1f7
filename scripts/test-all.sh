#!/usr/bin/env bash
# The one test command (see README): installs what the suites need, then runs
# every suite. Safe to re-run; later runs reuse what the first one installed.
#
#   scripts/test-all.sh          every suite (what CI runs, through .ci/run)
#   scripts/test-all.sh --quick  the inner loop: formatting, lints, the Rust
#                                tests (library and tools), then stop
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh

QUICK=0
case "${1:-}" in
    "") ;;
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: scripts/test-all.sh [--quick]" >&2; exit 2 ;;
esac

section "System packages"
# The report's charts render text with DejaVu Sans (fonts-dejavu-core).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    apt_install fonts-dejavu-core
fi

section "Rust: formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The tests' build lends internals to them (the `testing` feature); the
# shipped library is linted and documented without it, so `unreachable_pub`
# and `missing_docs` judge the real public API.
cargo clippy -p sockstatlog --lib --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -p sockstatlog --no-deps --quiet

if [ "$QUICK" = 0 ]; then
    section "Rust: the library's dependency tree carries none of the tools' crates; the tools use its public API"
    bash scripts/check-deps.sh
fi

section "Rust: unit, integration, property and CLI tests (library and tools)"
cargo test --workspace

if [ "$QUICK" = 1 ]; then
    echo
    echo "quick tier passed (formatting, lints, Rust tests); the full run is scripts/test-all.sh"
    exit 0
fi

section "check-targets: the phone targets linted as shipped (Android x4, iOS), the lean host build, the arm64 size and symbols"
# Installs its own pieces (rustup targets, Zig from PyPI) and caches them and
# its target directory in /var/cache/sockstatlog (docs/mobile-build.md).
# After the tests: its host test reuses their dev-dependencies.
bash scripts/check-targets.sh

section "Collector: the PostgreSQL store against a private cluster (installs postgresql if missing)"
bash scripts/test-postgres.sh

section "Rust: benches type-check (running them is for BENCHMARKS.md, not CI)"
cargo check --workspace --benches --quiet

section "Go: the side-by-side harness against upstream (benches/upstream) type-checks"
# Running it is for BENCHMARKS.md (benches/upstream/run.sh), not CI. Modules
# come from the Go module proxy once, then from the cache in ~/go.
need_go benches/upstream/go.mod
(cd benches/upstream && GOFLAGS=-mod=mod go vet ./... && GOFLAGS=-mod=mod go test ./...)

section "Bindings: generated code up to date, Kotlin + JNI on the JVM, Swift syntax"
bash scripts/test-bindings.sh

section "Platforms: Android glue against the real Android API jar, iOS Swift syntax"
bash scripts/test-platform.sh

section "Swift: compiled (Swift 5 and 6 modes, warnings as errors) and XCTest, in a Debian trixie chroot"
bash scripts/test-swift.sh

section "README: every figure from BENCHMARKS.md, every path present, at most 300 lines"
python3 scripts/check-readme.py

echo
echo "all suites passed"
