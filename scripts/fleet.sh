#!/usr/bin/env bash
# The local fleet: PostgreSQL, three stsvend replicas and HAProxy in front of them, and the
# demo run through the balancer.
#
#   bash scripts/fleet.sh up      install what is missing, (re)start MiniStack, the Auth0
#                                 stand-in, PostgreSQL, replicas 1-3 and HAProxy, then run the
#                                 demo through the balancer and show a disable made through
#                                 replica 1 holding on replicas 2 and 3; all stay up. MiniStack
#                                 starts empty, so the fleet's database does too (no mapping
#                                 outlives its bucket)
#   bash scripts/fleet.sh demo    the same against the running fleet
#   bash scripts/fleet.sh down    stop what `up` started (by pid file)
#
# Ports (clear of the demo stack's and the tests'): balancer 8180, replicas 8181-8183 (metrics
# 9481-9483), MiniStack 4596, issuer 4430, PostgreSQL 5443. Run directory: .run/fleet.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export STSVEND_RUN_DIR="$ROOT/.run/fleet"
export MINISTACK_PORT=4596 AUTH0_PORT=4430 POSTGRES_PORT=5443
export AUTH0_STATE_DIR="$STSVEND_RUN_DIR/auth0"
RUN="$STSVEND_RUN_DIR"
BALANCER_PORT=8180
REPLICAS=(1 2 3)
API="http://127.0.0.1:$BALANCER_PORT"

PROC_TAG=fleet
# shellcheck source=scripts/lib/proc.sh
source "$ROOT/scripts/lib/proc.sh"
# shellcheck source=scripts/lib/build.sh
source "$ROOT/scripts/lib/build.sh"
log() { proc_log "$@"; }
replica_port() { echo $((8180 + $1)); }

start_replica() {
  local n="$1" port
  port="$(replica_port "$n")"
  # Secrets and the shared database come from the environment, as in production; one sealing
  # key for all, so keys one replica got from STS are handed out by the others too.
  STSVEND_DATABASE__URL="$DATABASE_URL" \
    STSVEND_CACHE__SEALING_KEYS="$SEALING_KEYS" \
    STSVEND_SERVER__BIND="127.0.0.1:$port" \
    STSVEND_SERVER__METRICS_BIND="127.0.0.1:$((9480 + n))" \
    STSVEND_SERVER__TRUSTED_PROXIES='["127.0.0.1/32"]' \
    STSVEND_AUTH__ISSUER="http://127.0.0.1:$AUTH0_PORT/" \
    STSVEND_AUTH__ALLOW_INSECURE_HTTP=true \
    STSVEND_ADMIN__PERMISSION=admin:users \
    proc_start "replica-$n" "$RUN/replica-$n.log" "$CARGO_TARGET_DIR/debug/stsvend" serve --config config.toml
}

haproxy_bin() {
  command -v haproxy >/dev/null 2>&1 || {
    log "apt-get install haproxy"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
  }
  command -v haproxy
}

start_balancer() {
  local bin servers=""
  bin="$(haproxy_bin)"
  for n in "${REPLICAS[@]}"; do
    servers+="    server replica$n 127.0.0.1:$(replica_port "$n") check inter 500ms fall 2 rise 1"$'\n'
  done
  cat >"$RUN/haproxy.cfg" <<CFG
# Written by scripts/fleet.sh: round robin over the replicas, each health-checked on /readyz.
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # The replicas trust 127.0.0.1 to name the client (server.trusted_proxies).
    option forwardfor
frontend api
    bind 127.0.0.1:$BALANCER_PORT
    default_backend stsvend
backend stsvend
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    # A connection refused by a replica that just died is sent to another, and a request it
    # dropped unanswered is tried again there (a vend can be repeated).
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
$servers
CFG
  "$bin" -c -q -f "$RUN/haproxy.cfg"
  "$bin" -D -p "$RUN/haproxy.pid" -f "$RUN/haproxy.cfg"
}

# Shows the fleet's promise: an operator's disable through replica 1 holds on 2 and 3.
fleet_demo() {
  printf '\n== Fleet: disable through replica 1, then vend on replicas 2 and 3\n'
  local token id admin started
  token="$(bash scripts/auth0.sh token 'auth0|demo-carol')"
  curl -fsS -o /dev/null -X POST "$API/v1/credentials" -H "Authorization: Bearer $token"
  for n in 2 3; do
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$(replica_port "$n")/v1/credentials" -H "Authorization: Bearer $token"
  done
  id="$(curl -fsS "$API/v1/me" -H "Authorization: Bearer $token" | jq -r .user_id)"
  admin="$(bash scripts/auth0.sh m2m-token 'admin:users')"
  STSVEND_ADMIN_TOKEN="$admin" "$CARGO_TARGET_DIR/debug/stsvend" users --api "http://127.0.0.1:$(replica_port 1)" disable "$id" >/dev/null
  started="$(date +%s%N)"
  for n in 2 3; do
    local code
    while :; do
      code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$(replica_port "$n")/v1/credentials" -H "Authorization: Bearer $token")"
      [[ "$code" == 403 ]] && break
      (($(date +%s%N) - started < 5000000000)) || { log "replica $n still vends to a disabled user"; exit 1; }
      sleep 0.02
    done
    echo "replica $n refuses carol (403 user_disabled) $(( ($(date +%s%N) - started) / 1000000 )) ms after the disable on replica 1"
  done
  STSVEND_ADMIN_TOKEN="$admin" "$CARGO_TARGET_DIR/debug/stsvend" users --api "$API" enable "$id" >/dev/null
  echo "Fleet is up: balancer $API (replicas on $(replica_port 1)-$(replica_port 3)), issuer http://127.0.0.1:$AUTH0_PORT/, MiniStack http://127.0.0.1:$MINISTACK_PORT, PostgreSQL $DATABASE_URL_SHOWN"
  echo "Try it by hand: TOKEN=\$(AUTH0_PORT=$AUTH0_PORT bash scripts/auth0.sh token 'auth0|you')"
  echo "                curl -s -X POST -H \"Authorization: Bearer \$TOKEN\" $API/v1/credentials"
  echo "Stop it with: bash scripts/fleet.sh down"
}

up() {
  down >/dev/null 2>&1 || true
  mkdir -p "$RUN"
  bash scripts/install-deps.sh
  bash scripts/ministack.sh install
  bash scripts/auth0.sh install
  build_quietly "$RUN/build.log" cargo build --locked --workspace --bins --examples
  bash scripts/ministack.sh start
  bash scripts/ministack.sh seed >/dev/null
  bash scripts/auth0.sh start
  bash scripts/postgres.sh start
  # MiniStack keeps its buckets in memory: an empty AWS, so an empty database to match.
  bash scripts/postgres.sh reset
  set -a
  # shellcheck disable=SC1091
  source "$RUN/service-credentials.env"
  set +a
  DATABASE_URL="$(bash scripts/postgres.sh url)"
  SEALING_KEYS="1:$(openssl rand -base64 32)"
  for n in "${REPLICAS[@]}"; do
    start_replica "$n"
  done
  for n in "${REPLICAS[@]}"; do
    proc_wait_http "http://127.0.0.1:$(replica_port "$n")/readyz" 30 "$(cat "$RUN/replica-$n.pid")" "$RUN/replica-$n.log"
  done
  start_balancer
  proc_wait_http "$API/readyz" 30 "$(cat "$RUN/haproxy.pid")" /dev/null
  log "three replicas behind HAProxy on $API"
  demo
}

demo() {
  DATABASE_URL="${DATABASE_URL:-$(bash scripts/postgres.sh url)}"
  DATABASE_URL_SHOWN="$(echo "$DATABASE_URL" | sed -E 's#//([^:@/]+):[^@]*@#//\1:***@#')"
  API="$API" bash scripts/demo.sh
  fleet_demo
}

down() {
  for n in "${REPLICAS[@]}"; do
    proc_stop "replica-$n" 'stsvend serve'
  done
  proc_stop haproxy haproxy
  bash scripts/postgres.sh stop || true
  bash scripts/auth0.sh stop || true
  bash scripts/ministack.sh stop || true
}

case "${1:-up}" in
  up) up ;;
  demo) demo ;;
  down) down ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
