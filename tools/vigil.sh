#!/usr/bin/env bash
# Vigil bootstrap for a Debian machine that has Node.js.
#
#   bash tools/vigil.sh up     install what is missing, then run the whole pipeline (deno task dev)
#   bash tools/vigil.sh test   install what is missing, then run every test (deno task test)
#   bash tools/vigil.sh setup  only install/start the dependencies
#
# What it may do, and why it needs root (it uses sudo when not root):
#   - npm install -g deno@2.9.6                    when `deno` is missing
#   - apt-get install librdkafka1 redis-server postgresql (+ chromium for tests)   when missing
#   - pg_ctlcluster --skip-systemctl-redirect <ver> main start                      when PostgreSQL is not answering
#   - add "host all postgres 127.0.0.1/32 trust" to pg_hba.conf                    when user postgres cannot log in over TCP
#     (development only; set DATABASE_URL to use your own server and credentials instead)
# Not root and no sudo: it stops, naming the command to run as root. Without root it may start
#   - redis-server --daemonize yes --port 6379 --save ""                           when Redis is not answering
#
# When another apt/dpkg process holds the package lock (unattended-upgrades, another terminal), it
# waits for it, saying so, up to VIGIL_APT_LOCK_TIMEOUT seconds (default 300), then stops with a
# message rather than failing at once.
set -euo pipefail

DENO_VERSION=2.9.6
cmd=${1:-up}
# The lock files apt and dpkg take (overridable for tests), and how long to wait for them.
APT_LOCKS=${VIGIL_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}
APT_LOCK_TIMEOUT=${VIGIL_APT_LOCK_TIMEOUT:-300}
log() { printf '[vigil] %s\n' "$*" >&2; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; return; fi
  if ! command -v sudo >/dev/null 2>&1; then
    log "this step needs root and sudo is not installed: run \`$*\` as root, then this again"
    exit 1
  fi
  log "sudo: $*"
  sudo "$@"
}

# A file's lock id as /proc/locks writes it: "<major hex>:<minor hex>:<inode>".
lock_id() {
  local dev ino
  read -r dev ino < <(stat -Lc '%d %i' "$1" 2>/dev/null) || return 1
  printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$ino"
}

# The process holding a lock (fcntl, as dpkg and apt take them, or flock) on file $1; empty if none.
lock_holder() {
  local id
  id=$(lock_id "$1") || return 0
  awk -v id="$id" '/->/ { next } $6 == id { print $5; exit }' /proc/locks 2>/dev/null || true
}

process_name() { ps -o comm= -p "$1" 2>/dev/null || echo "?"; }

# Wait (bounded) while another apt/dpkg process holds one of APT_LOCKS.
wait_for_apt_locks() {
  local waited=0 f pid held
  while :; do
    held="" pid=""
    for f in $APT_LOCKS; do
      [ -e "$f" ] || continue
      pid=$(lock_holder "$f")
      if [ -n "$pid" ]; then held=$f; break; fi
    done
    [ -n "$held" ] || return 0
    if [ "$waited" -ge "$APT_LOCK_TIMEOUT" ]; then
      log "another package manager still holds $held (process $pid, $(process_name "$pid")) after ${APT_LOCK_TIMEOUT}s: run this again once it has finished (or set VIGIL_APT_LOCK_TIMEOUT)"
      return 1
    fi
    if [ "$waited" -eq 0 ]; then
      log "waiting for another package manager to finish: $held is held by process $pid ($(process_name "$pid")), up to ${APT_LOCK_TIMEOUT}s"
    elif [ $((waited % 30)) -eq 0 ]; then
      log "still waiting for $held (process $pid), ${waited}s so far"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

need_pkgs=()
want_pkg() { dpkg -s "$1" >/dev/null 2>&1 || need_pkgs+=("$1"); }

install_packages() {
  want_pkg librdkafka1
  command -v redis-server >/dev/null 2>&1 || want_pkg redis-server
  command -v pg_ctlcluster >/dev/null 2>&1 || want_pkg postgresql
  if [ "$cmd" = test ]; then
    [ -x /usr/bin/chromium ] || want_pkg chromium
    command -v docker-compose >/dev/null 2>&1 || want_pkg docker-compose
  fi
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing Debian packages: ${need_pkgs[*]}"
    # apt's own lock timeout covers a package manager that starts between the check and apt.
    local lock_opt=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT")
    wait_for_apt_locks || exit 1
    as_root apt-get "${lock_opt[@]}" update -qq
    wait_for_apt_locks || exit 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${lock_opt[@]}" install -y -qq "${need_pkgs[@]}" >/dev/null
  fi
}

install_deno() {
  if command -v deno >/dev/null 2>&1 && deno --version | grep -q "^deno ${DENO_VERSION%%.*}\."; then
    return
  fi
  command -v npm >/dev/null 2>&1 || { log "Node.js/npm is required to install Deno"; exit 1; }
  log "installing Deno ${DENO_VERSION} with npm"
  # Only npm's stdout is dropped: as_root's message (the command to run as root) and npm's
  # errors go to stderr.
  as_root npm install -g "deno@${DENO_VERSION}" >/dev/null
  hash -r
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  # As this user: a port above 1024, and nothing written (--save "", no AOF).
  log "starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 50); do redis-cli ping >/dev/null 2>&1 && return; sleep 0.1; done
  log "Redis did not start"; exit 1
}

pg_ok() { PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }

start_postgres() {
  # Your own server (DATABASE_URL; for the tests TEST_DATABASE_URL): the local one and its
  # pg_hba.conf are left alone.
  local var=DATABASE_URL
  if [ "$cmd" = test ]; then var=TEST_DATABASE_URL; fi
  if [ -n "${!var:-}" ]; then
    log "$var is set: not starting or configuring a local PostgreSQL"
    return
  fi
  if pg_ok; then return; fi
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$ver" ] || { log "PostgreSQL is not installed"; exit 1; }
  if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
    log "starting PostgreSQL $ver"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 100); do pg_isready -h 127.0.0.1 -q 2>/dev/null && break; sleep 0.1; done
  fi
  if ! pg_ok; then
    local hba="/etc/postgresql/$ver/main/pg_hba.conf"
    log "allowing user postgres from 127.0.0.1 without password (development) in $hba"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
    sleep 1
  fi
  pg_ok || { log "cannot connect to PostgreSQL as postgres@127.0.0.1"; exit 1; }
}

setup() {
  install_packages
  install_deno
  start_redis
  start_postgres
  install_npm_packages
}

# `deno install` from deno.lock; once more with its output shown when the quiet try fails, unless
# it failed on a certificate (a second try fails the same way, minutes later).
install_npm_packages() {
  log "installing npm dependencies (deno install)"
  local out
  out=$(mktemp)
  if deno install --quiet >"$out" 2>&1 || { ! grep -qi "certificate" "$out" &&
    deno install 2>&1 | tee "$out" >&2; }; then
    rm -f "$out"
    return
  fi
  # Deno trusts its own (Mozilla) roots, not the system's: a proxy that re-signs TLS fails here.
  if grep -qi "certificate" "$out"; then
    cat "$out" >&2
    log "deno install could not verify the npm registry's certificate: if a proxy re-signs TLS and its CA is in the system store, run again with DENO_TLS_CA_STORE=mozilla,system (or DENO_CERT=<its CA file>)"
  fi
  rm -f "$out"
  exit 1
}

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  case "$cmd" in
    setup) setup ;;
    up) setup; exec deno task dev ;;
    # At least 3 test files at a time: most integration tests wait on timers (outages of 30 s to
    # 2 min), not on the CPU; on 2 cores that cuts the run from about 15.5 to 12 minutes.
    test) setup; export DENO_JOBS=${DENO_JOBS:-$(( $(nproc) < 3 ? 3 : $(nproc) ))}; exec deno task test ;;
    *) echo "usage: bash tools/vigil.sh [up|test|setup]" >&2; exit 2 ;;
  esac
}

# Run unless sourced (tests source it to call one function).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main; fi
