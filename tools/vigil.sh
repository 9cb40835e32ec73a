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
#   - redis-server --daemonize yes --port 6379 --save ""                           when Redis is not answering
#   - pg_ctlcluster --skip-systemctl-redirect <ver> main start                      when PostgreSQL is not answering
#   - add "host all postgres 127.0.0.1/32 trust" to pg_hba.conf                    when user postgres cannot log in over TCP
#     (development only; set DATABASE_URL to use your own server and credentials instead)
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
cmd=${1:-up}
log() { printf '[vigil] %s\n' "$*" >&2; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else log "sudo: $*"; sudo "$@"; fi
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
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  fi
}

install_deno() {
  if command -v deno >/dev/null 2>&1 && deno --version | grep -q "^deno ${DENO_VERSION%%.*}\."; then
    return
  fi
  command -v npm >/dev/null 2>&1 || { log "Node.js/npm is required to install Deno"; exit 1; }
  log "installing Deno ${DENO_VERSION} with npm"
  as_root npm install -g "deno@${DENO_VERSION}" >/dev/null 2>&1
  hash -r
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  log "starting Redis on 127.0.0.1:6379"
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 50); do redis-cli ping >/dev/null 2>&1 && return; sleep 0.1; done
  log "Redis did not start"; exit 1
}

pg_ok() { PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }

start_postgres() {
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
  log "installing npm dependencies (deno install)"
  deno install --quiet >/dev/null 2>&1 || deno install
}

case "$cmd" in
  setup) setup ;;
  up) setup; exec deno task dev ;;
  test) setup; exec deno task test ;;
  *) echo "usage: bash tools/vigil.sh [up|test|setup]" >&2; exit 2 ;;
esac
