#!/usr/bin/env bash
# A private PostgreSQL cluster for stsvend's tests and local runs (Debian's `postgresql`).
#
#   bash scripts/postgres.sh install   # apt-get install postgresql + openssl when missing
#   bash scripts/postgres.sh start     # initdb (once) under $STSVEND_RUN_DIR/postgres, TLS, start on
#                                      # 127.0.0.1:${POSTGRES_PORT:-5442}; role + database `stsvend`
#   bash scripts/postgres.sh stop      # stop that cluster (only that one: pg_ctl on its data dir)
#   bash scripts/postgres.sh reset     # drop and recreate the database `stsvend` (running cluster;
#                                      # the per-test databases are left alone)
#   bash scripts/postgres.sh url       # postgres://stsvend:...@127.0.0.1:5442/stsvend?sslmode=disable
#   bash scripts/postgres.sh ca        # path of the CA certificate that signed the server's
#   bash scripts/postgres.sh env       # export lines for the store tests (URL + CA file)
#   bash scripts/postgres.sh status
#
# The store test suite runs every test on PostgreSQL as well as SQLite:
#   eval "$(bash scripts/postgres.sh env)" && cargo test --lib store
#
# Run as root (the server then runs as the `postgres` system user: initdb refuses root) or as
# an ordinary user (the server runs as that user). The role `stsvend` may create databases:
# each store test makes its own. The cluster is for tests: fsync is off.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
RUN_DIR="${STSVEND_RUN_DIR:-$ROOT/.run}"
PG_DIR="$RUN_DIR/postgres"
DATA="$PG_DIR/data"
SOCK="$PG_DIR/socket"
TLS="$PG_DIR/tls"
LOG_FILE="$PG_DIR/postgres.log"
PID_FILE="$RUN_DIR/postgres.pid"
PASSWORD_FILE="$PG_DIR/password"
PORT="${POSTGRES_PORT:-5442}"

log() { printf '[postgres] %s\n' "$*" >&2; }

pg_bin() {
  local dir
  dir="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1 || true)"
  [[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd_install() {
  if [[ -n "$(pg_bin)" ]] && command -v openssl >/dev/null; then
    log "installed: $("$(pg_bin)/postgres" --version)"
    return 0
  fi
  [[ "$(id -u)" == 0 ]] || { log "PostgreSQL is not installed; run this as root to install it"; exit 1; }
  log "installing Debian's postgresql and openssl"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql openssl >/dev/null
  [[ -n "$(pg_bin)" ]] || { log "no /usr/lib/postgresql/*/bin/initdb after installing"; exit 1; }
  log "installed: $("$(pg_bin)/postgres" --version)"
}

password() {
  if [[ ! -s "$PASSWORD_FILE" ]]; then
    (umask 077 && openssl rand -hex 16 >"$PASSWORD_FILE")
  fi
  cat "$PASSWORD_FILE"
}

# A CA and a server certificate it signs (for 127.0.0.1 and localhost), so clients can verify
# the server with `database.ca_file` and sslmode=require.
make_tls() {
  [[ -s "$TLS/server.crt" && -s "$TLS/ca.crt" ]] && return 0
  mkdir -p "$TLS"
  local tmp
  tmp="$(mktemp -d)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=stsvend test CA" \
    -keyout "$TLS/ca.key" -out "$TLS/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$TLS/server.key" -out "$tmp/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
  openssl x509 -req -in "$tmp/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tmp/ext" -out "$TLS/server.crt" 2>/dev/null
  rm -rf "$tmp"
  chmod 600 "$TLS/server.key" "$TLS/ca.key"
  chmod 644 "$TLS/ca.crt" "$TLS/server.crt"
  log "TLS certificates in $TLS (CA: ca.crt)"
}

postmaster_pid() {
  [[ -f "$DATA/postmaster.pid" ]] || return 0
  local pid
  pid="$(head -n1 "$DATA/postmaster.pid" | tr -dc '0-9')"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
  fi
}

psql_admin() {
  as_owner "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres "$@"
}

cmd_start() {
  cmd_install
  local bin pid
  bin="$(pg_bin)"
  pid="$(postmaster_pid)"
  if [[ -n "$pid" ]]; then
    log "already running (pid $pid), nothing to do"
    echo "$pid" >"$PID_FILE"
    return 0
  fi
  mkdir -p "$PG_DIR" "$SOCK"
  password >/dev/null
  make_tls
  if [[ "$(id -u)" == 0 ]]; then
    chown -R postgres:postgres "$PG_DIR"
    chown root:root "$PASSWORD_FILE"
    if ! runuser -u postgres -- test -x "$PG_DIR"; then
      log "the postgres user cannot reach $PG_DIR (a parent directory is not world-searchable);"
      log "set STSVEND_RUN_DIR to a directory it can reach"
      exit 1
    fi
  fi
  chmod 700 "$SOCK"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb $DATA"
    as_owner "$bin/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  # Settings this script owns, rewritten on every start (so POSTGRES_PORT can change).
  cat >"$PG_DIR/stsvend.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
max_connections = 300
ssl = on
ssl_cert_file = '$TLS/server.crt'
ssl_key_file = '$TLS/server.key'
# A test cluster: durability is not needed, speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$PG_DIR/stsvend.conf"
  grep -q "^include '$PG_DIR/stsvend.conf'" "$DATA/postgresql.conf" ||
    echo "include '$PG_DIR/stsvend.conf'" | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
  log "starting on 127.0.0.1:$PORT (log: $LOG_FILE)"
  as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG_FILE" -w -t 60 start >/dev/null
  pid="$(postmaster_pid)"
  echo "$pid" >"$PID_FILE"
  local pw
  pw="$(password)"
  psql_admin -v pw="$pw" <<'EOF'
SELECT format('CREATE ROLE stsvend LOGIN CREATEDB PASSWORD %L', :'pw')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stsvend') \gexec
SELECT format('ALTER ROLE stsvend LOGIN CREATEDB PASSWORD %L', :'pw') \gexec
SELECT 'CREATE DATABASE stsvend OWNER stsvend'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'stsvend') \gexec
EOF
  log "running (pid $pid): $(cmd_url | sed 's/:[^:@]*@/:***@/')"
}

cmd_stop() {
  local pid
  pid="$(postmaster_pid)"
  if [[ -z "$pid" ]]; then
    log "not running"
    rm -f "$PID_FILE"
    return 0
  fi
  as_owner "$(pg_bin)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

# A fresh, empty `stsvend` database: for a stack whose AWS stand-in starts empty, so no mapping
# names a bucket that no longer exists.
cmd_reset() {
  [[ -n "$(postmaster_pid)" ]] || { log "not running: run '$0 start' first"; exit 1; }
  psql_admin <<'EOF'
DROP DATABASE IF EXISTS stsvend WITH (FORCE);
CREATE DATABASE stsvend OWNER stsvend;
EOF
  log "database stsvend recreated empty"
}

cmd_url() {
  [[ -s "$PASSWORD_FILE" ]] || { log "no cluster yet: run '$0 start'"; exit 1; }
  echo "postgres://stsvend:$(password)@127.0.0.1:$PORT/stsvend?sslmode=disable"
}

cmd_status() {
  local pid
  pid="$(postmaster_pid)"
  if [[ -n "$pid" ]]; then
    log "running (pid $pid) on 127.0.0.1:$PORT, data $DATA"
  else
    log "not running"
    return 1
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  reset) cmd_reset ;;
  url) cmd_url ;;
  ca) echo "$TLS/ca.crt" ;;
  env)
    printf 'export STSVEND_TEST_DATABASE_URL=%q\n' "$(cmd_url)"
    printf 'export STSVEND_TEST_DATABASE_CA_FILE=%q\n' "$TLS/ca.crt"
    ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 install|start|stop|reset|url|ca|env|status" >&2
    exit 2
    ;;
esac
