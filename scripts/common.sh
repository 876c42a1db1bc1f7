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
