#!/usr/bin/env bash
# The browser app (web/): install, build, serve.
#
#   scripts/web.sh install   npm ci in web/ (skipped while package-lock.json is unchanged)
#   scripts/web.sh build     install, then type-check and build web/dist (vite)
#   scripts/web.sh start     serve web/dist and /config.json on 127.0.0.1:$STSVEND_WEB_PORT (5173)
#                            in the background; waits until it answers
#   scripts/web.sh stop      stop the instance started by `start` (pid file)
#
# Environment for `start` (read by web/serve.mjs): STSVEND_WEB_PORT (5173), STSVEND_WEB_API
# (http://127.0.0.1:8080), STSVEND_WEB_ISSUER (http://127.0.0.1:4400/), STSVEND_WEB_CLIENT_ID
# (stsvend-web), STSVEND_WEB_AUDIENCE (https://stsvend.local/api).
# Files: $STSVEND_RUN_DIR (<repo>/.run)/web.pid and web.log.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$REPO/web"
RUN="${STSVEND_RUN_DIR:-$REPO/.run}"
LOGFILE="$RUN/web.log"
PORT="${STSVEND_WEB_PORT:-5173}"
export STSVEND_WEB_PORT="$PORT"

PROC_TAG=web.sh
# shellcheck source=scripts/lib/proc.sh
source "$REPO/scripts/lib/proc.sh"

die() { echo "web.sh: $*" >&2; exit 1; }

lock_sum() { sha256sum "$DIR/package-lock.json" "$DIR/package.json" | sha256sum | cut -d' ' -f1; }

cmd_install() {
  command -v npm >/dev/null 2>&1 || die "npm is required (scripts/install-deps.sh)"
  local stamp="$DIR/node_modules/.stsvend-install-stamp" sum
  sum="$(lock_sum)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    return 0
  fi
  echo "web.sh: npm ci in $DIR" >&2
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error) >&2
  echo "$sum" >"$stamp"
}

cmd_build() {
  cmd_install
  (cd "$DIR" && npm run --silent build) >&2
}

config_url() { echo "http://127.0.0.1:$PORT/config.json"; }

cmd_start() {
  local pid
  if pid="$(proc_pid web serve.mjs)"; then
    echo "web.sh: already running (pid $pid) on http://127.0.0.1:$PORT/" >&2
    return 0
  fi
  curl -fsS -o /dev/null --max-time 2 "$(config_url)" 2>/dev/null &&
    die "something else already answers on 127.0.0.1:$PORT; stop it or set STSVEND_WEB_PORT"
  [[ -f "$DIR/dist/index.html" ]] || die "web/dist is missing: run scripts/web.sh build"
  mkdir -p "$RUN"
  echo "=== web.sh start $(date -u +%FT%TZ) port $PORT" >>"$LOGFILE"
  (cd "$DIR" && proc_start web "$LOGFILE" node serve.mjs)
  pid="$(cat "$RUN/web.pid")"
  if proc_wait_http "$(config_url)" 10 "$pid" "$LOGFILE"; then
    echo "web.sh: running (pid $pid) on http://127.0.0.1:$PORT/" >&2
    return 0
  fi
  proc_stop web serve.mjs
  die "serve.mjs did not answer on 127.0.0.1:$PORT"
}

cmd_stop() {
  proc_pid web serve.mjs >/dev/null || echo "web.sh: not running" >&2
  proc_stop web serve.mjs
}

case "${1:-}" in
  install) cmd_install ;;
  build) cmd_build ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
