#!/usr/bin/env bash
# A Swift 6 toolchain for this Debian 12 host: a Debian 13 (trixie) chroot with
# swiftlang (swiftc, SwiftPM, Foundation, FoundationNetworking, Dispatch,
# XCTest) and libc6-dev. Installing trixie's Swift on the host would upgrade
# its libc, so the toolchain lives in a chroot, cached outside the clone and
# reused by later runs.
#
#   scripts/swift-chroot.sh ensure          build the chroot unless it exists; print its path
#   scripts/swift-chroot.sh run DIR CMD     run CMD (a shell command line) in the chroot,
#                                           in a fresh per-run copy of DIR (host), which
#                                           is deleted after; what CMD leaves in its
#                                           out/ comes back to DIR/out/
#
# The chroot is built aside (DIR.partial) and renamed when complete, so a failed
# or killed build leaves no half chroot that a later run would trust. Runs take
# a lock on the cache, so concurrent runs never share a /proc mount or a work dir.
# /proc is mounted in a private mount namespace (unshare), so it is unmounted
# on exit even if the run is killed, and never appears in the host's mounts.
set -euo pipefail

# Where the chroot lives: a system cache directory, never inside a clone.
cache=${SOCKSTATLOG_CACHE:-/var/cache/sockstatlog}
chroot_dir=$cache/swift-trixie
# Bump when the package set changes: a new name builds a new chroot.
stamp_name=.sockstatlog-swift-chroot-v2
# What the chroot needs: swiftlang pulls in the toolchain; libc6-dev is only
# a Recommends of it, and without it every compile fails with
# "could not build C module 'CDispatch'". zip: ios/release.sh is tested in
# here. ca-certificates is not needed (the tests talk to loopback only).
packages=(swiftlang libc6-dev zip)
mirror=${SOCKSTATLOG_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() { echo "swift-chroot.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"

# Debian packages on the host (root already: see above).
host_apt_install() { apt-get update -qq && apt-get install -y -qq "$@"; }

ensure() {
  if [ -f "$chroot_dir/$stamp_name" ]; then
    echo "$chroot_dir"
    return
  fi
  command -v debootstrap >/dev/null || host_apt_install debootstrap >&2
  mkdir -p "$cache"
  local partial=$chroot_dir.partial
  # Leftovers of a killed build or replacement: never trusted.
  rm -rf --one-file-system "$partial" "$chroot_dir.stale"
  local start=$SECONDS
  echo "building the Swift chroot in $partial (debootstrap trixie, then ${packages[*]})" >&2
  debootstrap --variant=minbase trixie "$partial" "$mirror" >&2 ||
    die "debootstrap failed (see $partial/debootstrap/debootstrap.log)"
  in_chroot "$partial" 'export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq &&
    apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends '"${packages[*]}"' >/dev/null &&
    apt-get clean &&
    swiftc --version' >&2
  touch "$partial/$stamp_name"
  # A chroot of an older package set (another stamp) is replaced. Runs hold
  # the lock, so nothing uses it now; its /proc was only ever mounted in
  # private namespaces, and --one-file-system guards against surprises.
  if [ -e "$chroot_dir" ]; then
    mv -T "$chroot_dir" "$chroot_dir.stale"
    rm -rf --one-file-system "$chroot_dir.stale"
  fi
  mv -T "$partial" "$chroot_dir"
  echo "Swift chroot ready in $((SECONDS - start)) s: $chroot_dir" >&2
  echo "$chroot_dir"
}

# in_chroot ROOT CMD: runs the shell command CMD in ROOT with /proc mounted
# (swiftc needs it: without it, "libswiftCore.so: cannot open shared object
# file"). The mount lives in a private mount namespace that dies with the
# command; the explicit umount is for tidiness.
in_chroot() {
  local root=$1 cmd=$2
  # /etc/resolv.conf for apt inside the chroot (debootstrap copies it once).
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  unshare --mount --propagation private -- /bin/sh -c '
    root=$1; cmd=$2
    mount -t proc proc "$root/proc" || exit 125
    trap "umount \"\$root/proc\"" EXIT
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
      /bin/bash -c "$cmd"
  ' in_chroot "$root" "$cmd"
}

run() {
  [ $# -ge 2 ] || die "usage: $0 run DIR CMD"
  local src=$1 cmd=$2
  [ -d "$src" ] || die "no such directory: $src"
  local root
  root=$(ensure)
  [ -n "$root" ] && [ -f "$root/$stamp_name" ] || die "no usable chroot"
  mkdir -p "$root/work"
  local work
  work=$(mktemp -d "$root/work/run.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf --one-file-system '$work'" EXIT
  cp -a "$src/." "$work/"
  mkdir -p "$work/out"
  local status=0
  in_chroot "$root" "cd '${work#"$root"}' && $cmd" || status=$?
  rm -rf "$src/out"
  cp -a "$work/out" "$src/out"
  return "$status"
}

# One run at a time per cache: a build, or a run with its /proc mount and work dir.
mkdir -p "$cache"
exec 9>"$cache/swift-trixie.lock"
flock 9

case "${1:-}" in
  ensure) ensure ;;
  run) shift; run "$@" ;;
  *) die "usage: $0 ensure | run DIR CMD" ;;
esac
