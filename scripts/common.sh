# Shared helpers of the test scripts (sourced, not run).

# Prints a section header.
section() { printf '\n==== %s ====\n' "$*"; }

# Installs Debian packages (as root here and on CI; through sudo elsewhere).
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@"
}

# need CMD DEBIAN-PACKAGE: installs the package only if CMD is missing.
need() {
  command -v "$1" >/dev/null && return
  echo "installing $2 (for $1)"
  apt_install "$2"
}

# The JVM toolchain and Python's venv, which the binding and platform suites use.
need_jvm_and_venv() {
  need java openjdk-17-jdk-headless
  need mvn maven
  need python3 python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
}

# need_go GO.MOD: makes sure a Go toolchain that can build the module is on
# PATH, or stops with what to install. Go is a prerequisite, not installed
# here: Debian bookworm's golang-go is 1.19, older than any go.mod we use,
# and too old to fetch a newer toolchain itself (that needs Go 1.21+). The
# official tarball's /usr/local/go/bin is put on PATH when go is not there.
# A Go 1.21+ older than the go.mod's `go` line fetches the toolchain the
# go.mod names from the Go module proxy (GOTOOLCHAIN=auto, Go's default).
need_go() {
  local want have
  want=$(sed -n 's/^go \([0-9][0-9.]*\).*/\1/p' "$1")
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH="$PATH:/usr/local/go/bin"
  fi
  if ! command -v go >/dev/null; then
    echo "error: Go $want or newer is needed ($1) and 'go' is not on PATH." >&2
    echo "  Debian bookworm's golang-go (1.19) is too old. Install Go from https://go.dev/dl/:" >&2
    echo "  tar -C /usr/local -xzf go$want.linux-amd64.tar.gz && export PATH=\$PATH:/usr/local/go/bin" >&2
    exit 1
  fi
  have=$(go env GOVERSION | sed 's/^go//')
  if ! version_at_least "$have" 1.21; then
    echo "error: Go $want or newer is needed ($1); $(command -v go) is Go $have, too old to fetch it." >&2
    echo "  Install Go from https://go.dev/dl/ (see the README's prerequisites)." >&2
    exit 1
  fi
  if ! version_at_least "$have" "$want"; then
    echo "Go $have is older than $want ($1): Go fetches go$want from the module proxy (GOTOOLCHAIN=auto)"
  fi
}

# version_at_least HAVE WANT: true when dotted version HAVE >= WANT.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}
