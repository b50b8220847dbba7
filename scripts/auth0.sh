#!/usr/bin/env bash
# Local Auth0 stand-in (scripts/auth0/, oidc-provider) for stsvend tests.
#
#   scripts/auth0.sh install                       npm ci in scripts/auth0 (skipped when up to date)
#   scripts/auth0.sh start                         start in background, wait for discovery
#   scripts/auth0.sh stop                          stop the instance started by `start`
#   scripts/auth0.sh status                        exit 0 when running
#   scripts/auth0.sh token <sub> [scope] [perms]   user-shaped access token (stsvend-test client)
#   scripts/auth0.sh m2m-token [scope]             M2M access token (stsvend-m2m client)
#   scripts/auth0.sh approve <user_code> <sub> [perms]   approve a device code (test endpoint)
#   scripts/auth0.sh selftest                      end-to-end checks against the running server
#
# Environment: AUTH0_PORT (4400), AUTH0_AUDIENCE (https://stsvend.local/api),
# AUTH0_STATE_DIR (<repo>/.run/auth0), AUTH0_START_TIMEOUT (45 s; one retry),
# AUTH0_TOKEN_EXPIRES_IN (token: lifetime in seconds, default 86400),
# AUTH0_TOKEN_CLAIMS (token: a JSON object of extra claims, e.g. '{"org_id":"org_abc"}').
# Files: <repo>/.run/auth0.pid, <repo>/.run/auth0.log, $AUTH0_STATE_DIR/jwks.json.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$REPO/scripts/auth0"
RUN="${STSVEND_RUN_DIR:-$REPO/.run}"
LOGFILE="$RUN/auth0.log"
PORT="${AUTH0_PORT:-4400}"
BASE="http://127.0.0.1:${PORT}"
AUDIENCE="${AUTH0_AUDIENCE:-https://stsvend.local/api}"
export AUTH0_PORT="$PORT" AUTH0_AUDIENCE="$AUDIENCE"
export AUTH0_STATE_DIR="${AUTH0_STATE_DIR:-$RUN/auth0}"

PROC_TAG=auth0.sh
# shellcheck source=scripts/lib/proc.sh
source "$REPO/scripts/lib/proc.sh"

die() { echo "auth0.sh: $*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required"; }

lock_sum() { sha256sum "$DIR/package-lock.json" "$DIR/package.json" | sha256sum | cut -d' ' -f1; }

cmd_install() {
  need node; need npm
  local stamp="$DIR/node_modules/.stsvend-install-stamp" sum
  sum="$(lock_sum)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" && -d "$DIR/node_modules/oidc-provider" ]]; then
    return 0
  fi
  echo "auth0.sh: npm ci in $DIR" >&2
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
  echo "$sum" > "$stamp"
}

discovery_url() { echo "$BASE/.well-known/openid-configuration"; }

discovery_ok() { curl -fsS -o /dev/null --max-time 2 "$(discovery_url)" 2>/dev/null; }

cmd_start() {
  need curl
  local pid
  if pid="$(proc_pid auth0 server.mjs)"; then
    echo "auth0.sh: already running (pid $pid) at $BASE/" >&2
    return 0
  fi
  if discovery_ok; then
    die "something else already answers on $BASE (not started by this script); stop it or set AUTH0_PORT"
  fi
  cmd_install
  mkdir -p "$RUN"
  echo "=== auth0.sh start $(date -u +%FT%TZ) port $PORT" >>"$LOGFILE"
  (cd "$DIR" && proc_start auth0 "$LOGFILE" node server.mjs)
  pid="$(cat "$RUN/auth0.pid")"
  if proc_wait_http "$(discovery_url)" "${AUTH0_START_TIMEOUT:-45}" "$pid" "$LOGFILE"; then
    echo "auth0.sh: running (pid $pid), issuer $BASE/" >&2
    return 0
  fi
  proc_stop auth0 server.mjs
  # Seen once in CI: node stuck in start-up with nothing logged; a second start went through.
  if [[ -z "${AUTH0_START_RETRIED:-}" ]]; then
    echo "auth0.sh: retrying once" >&2
    AUTH0_START_RETRIED=1 cmd_start
    return
  fi
  exit 1
}

cmd_stop() {
  proc_pid auth0 server.mjs >/dev/null || echo "auth0.sh: not running" >&2
  proc_stop auth0 server.mjs
}

cmd_status() {
  local pid
  if pid="$(proc_pid auth0 server.mjs)" && discovery_ok; then
    echo "running (pid $pid) issuer $BASE/"
  else
    echo "not running"
    return 1
  fi
}

# Print .access_token of a token response on stdout; otherwise show the response and fail.
extract_token() {
  local body
  body="$(cat)"
  jq -er '.access_token // empty' <<<"$body" 2>/dev/null || die "token request failed: $body"
}

cmd_token() {
  [[ $# -ge 1 && -n "$1" ]] || die "usage: auth0.sh token <sub> [scope] [permissions]"
  need curl; need jq
  local args=(
    --data-urlencode "grant_type=client_credentials"
    --data-urlencode "client_id=stsvend-test"
    --data-urlencode "client_secret=test-secret"
    --data-urlencode "audience=$AUDIENCE"
    --data-urlencode "test_sub=$1"
    --data-urlencode "scope=${2:-openid profile read:files write:files}"
  )
  if [[ $# -ge 3 ]]; then args+=(--data-urlencode "test_permissions=$3"); fi
  if [[ -n "${AUTH0_TOKEN_EXPIRES_IN:-}" ]]; then args+=(--data-urlencode "test_expires_in=$AUTH0_TOKEN_EXPIRES_IN"); fi
  if [[ -n "${AUTH0_TOKEN_CLAIMS:-}" ]]; then args+=(--data-urlencode "test_claims=$AUTH0_TOKEN_CLAIMS"); fi
  curl -sS --max-time 10 "$BASE/oauth/token" "${args[@]}" | extract_token
}

cmd_m2m_token() {
  need curl; need jq
  local args=(
    --data-urlencode "grant_type=client_credentials"
    --data-urlencode "client_id=stsvend-m2m"
    --data-urlencode "client_secret=m2m-secret"
    --data-urlencode "audience=$AUDIENCE"
  )
  if [[ $# -ge 1 ]]; then args+=(--data-urlencode "scope=$1"); fi
  curl -sS --max-time 10 "$BASE/oauth/token" "${args[@]}" | extract_token
}

cmd_approve() {
  [[ $# -ge 2 ]] || die "usage: auth0.sh approve <user_code> <sub> [permissions]"
  local args=(--data-urlencode "user_code=$1" --data-urlencode "sub=$2")
  if [[ $# -ge 3 ]]; then args+=(--data-urlencode "permissions=$3"); fi
  curl -sS --fail-with-body --max-time 10 "$BASE/test/approve-device" "${args[@]}"
  echo
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  token) shift; cmd_token "$@" ;;
  m2m-token) shift; cmd_m2m_token "$@" ;;
  approve) shift; cmd_approve "$@" ;;
  selftest) need node; (cd "$DIR" && node selftest.mjs) ;;
  *) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
