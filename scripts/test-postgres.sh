#!/usr/bin/env bash
# The PostgreSQL store's tests against a private, throwaway cluster: installs
# Debian's postgresql if initdb is missing, runs initdb + pg_ctl under a temp
# directory on a free loopback port (as the unprivileged `postgres` user when
# run as root: the server refuses to run as root), runs the tests with
# SOCKSTATLOG_TEST_POSTGRES_URL set (so they fail, not skip, if the database
# is unreachable), and stops and removes the cluster on exit. No system
# service is used or touched. The postmaster's pid is passed too
# (SOCKSTATLOG_TEST_POSTGRES_PID): the hung-database test stops the cluster
# with SIGSTOP, and the cleanup resumes it before stopping it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  echo "installing postgresql (initdb, pg_ctl, postgres)"
  apt_install postgresql
fi
BIN=$(pg_bin)

# `test-postgres.sh bench` runs the collector bench against the cluster
# instead of the tests (for BENCHMARKS.md).
mode=${1:-test}
# Build first, so the cluster is up only while the tests run.
if [ "$mode" = bench ]; then
  cargo bench -p sockstatlog-tools --bench collector --no-run --quiet
else
  cargo test -p sockstatlog-tools --test collector_postgres --test collector_fleet --test collector_hung_db --no-run --quiet
fi

as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  as_pg=(runuser -u postgres --)
fi
tmp=$(mktemp -d /tmp/sockstatlog-pg.XXXXXX)
chmod 0755 "$tmp"
[ "${#as_pg[@]}" = 0 ] || chown postgres "$tmp"
cleanup() {
  # A test that failed while the cluster was stopped must not hang the stop.
  if [ -f "$tmp/data/postmaster.pid" ]; then
    pm=$(head -n 1 "$tmp/data/postmaster.pid")
    kill -CONT "$pm" $(ps -o pid= --ppid "$pm" 2>/dev/null) 2>/dev/null || true
  fi
  "${as_pg[@]}" "$BIN/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$BIN/initdb" -D "$tmp/data" -U sockstatlog --auth=trust -E UTF8 --no-locale >/dev/null
"${as_pg[@]}" "$BIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$tmp -c max_connections=200 -c fsync=on" start
url="postgres://sockstatlog@127.0.0.1:$port/postgres"
echo "private PostgreSQL cluster on 127.0.0.1:$port ($tmp)"
if [ "$mode" = bench ]; then
  SOCKSTATLOG_BENCH_POSTGRES_URL="$url" cargo bench -p sockstatlog-tools --bench collector
else
  SOCKSTATLOG_TEST_POSTGRES_URL="$url" SOCKSTATLOG_TEST_POSTGRES_PID=$(head -n 1 "$tmp/data/postmaster.pid") \
    cargo test -p sockstatlog-tools --test collector_postgres --test collector_fleet --test collector_hung_db -- --include-ignored
fi
