#!/usr/bin/env bash
# README command 1: the whole local stack and the service, and the main job shown working.
#
#   bash scripts/stack.sh up     install what is missing, (re)start MiniStack (AWS), the Auth0
#                                stand-in, stsvend and the web app fresh, then run the demo; all
#                                stay up
#   bash scripts/stack.sh demo   the demo again, against the running stack
#   bash scripts/stack.sh down   stop what `up` started (by pid file)
#   bash scripts/stack.sh down --purge
#                                also stop the fleet (scripts/fleet.sh down), then remove .run/
#                                (logs, the test and fleet PostgreSQL data, MiniStack's venv
#                                stays in .venv/); refused while anything with a pid file there
#                                still runs (a test run, say)
#
# Ports: MiniStack 4566, Auth0 stand-in 4400, stsvend 8080 (config.toml), web app 5173.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN="$ROOT/.run"
LOGFILE="$RUN/stsvend.log"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
API="http://127.0.0.1:8080"
PROC_TAG=stack
# shellcheck source=scripts/lib/proc.sh
source "$ROOT/scripts/lib/proc.sh"
# shellcheck source=scripts/lib/build.sh
source "$ROOT/scripts/lib/build.sh"
WEB="http://127.0.0.1:5173"

start_stsvend() {
  local pid
  if pid="$(proc_pid stsvend 'stsvend serve')"; then
    echo "stsvend already running (pid $pid)"
    return
  fi
  set -a
  # shellcheck disable=SC1091
  source "$RUN/service-credentials.env"
  set +a
  # The Auth0 stand-in is plain http on loopback: allowed explicitly (config.toml does too).
  STSVEND_ADMIN__PERMISSION=admin:users STSVEND_AUTH__ALLOW_INSECURE_HTTP=true \
    proc_start stsvend "$LOGFILE" "$CARGO_TARGET_DIR/debug/stsvend" serve --config config.toml
  if proc_wait_http "$API/readyz" 20 "$(cat "$RUN/stsvend.pid")" "$LOGFILE"; then
    echo "stsvend ready on $API (log: $LOGFILE)"
    return
  fi
  # Stop what `up` started (MiniStack, the issuer, stsvend) instead of leaving it running.
  down >/dev/null 2>&1 || true
  exit 1
}

up() {
  # A fresh stack each time: MiniStack keeps its state in memory, so the service's database
  # (mappings to buckets in that memory) starts fresh with it.
  down >/dev/null 2>&1 || true
  rm -f "$RUN"/stsvend.db "$RUN"/stsvend.db-wal "$RUN"/stsvend.db-shm
  mkdir -p "$RUN"
  # A fresh log too, so a failure's tail is this start's.
  : >"$LOGFILE"
  bash scripts/install-deps.sh
  bash scripts/ministack.sh install
  bash scripts/auth0.sh install
  bash scripts/web.sh build
  # Seeding creates the role with `stsvend bootstrap`, so the binary comes first.
  # The same build as the tests (scripts/test.sh), so nothing is compiled twice.
  build_quietly "$RUN/build.log" cargo build --locked --workspace --bins --examples
  bash scripts/ministack.sh start
  bash scripts/ministack.sh seed >/dev/null
  bash scripts/auth0.sh start
  start_stsvend
  # The browser app; its origin is in config.toml's server.cors_allowed_origins (stsvend API)
  # and storage.cors_allowed_origins (bucket CORS), and in the stand-in's redirect URIs.
  STSVEND_WEB_PORT=5173 STSVEND_WEB_API="$API" STSVEND_WEB_ISSUER="http://127.0.0.1:4400/" \
    bash scripts/web.sh start
  bash scripts/demo.sh
  echo "Web app: $WEB/ (Log in, then Sign in: the login page offers auth0|demo-alice, whose hello.txt is listed)"
  echo "Operator console: $WEB/#/console (log in with permissions 'read:files write:files admin:users')"
  echo "Stop it with: bash scripts/stack.sh down"
}

down() {
  proc_stop stsvend 'stsvend serve'
  bash scripts/web.sh stop || true
  bash scripts/auth0.sh stop || true
  bash scripts/ministack.sh stop || true
}

# Everything under .run/ goes, once nothing recorded there runs any more: a pid file whose
# process is alive means a test run or a fleet that is still using its files.
purge() {
  bash scripts/fleet.sh down >/dev/null 2>&1 || true
  local file pid busy=()
  while IFS= read -r file; do
    pid="$(head -n1 "$file" | tr -dc '0-9')"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      busy+=("${file#"$ROOT"/} (pid $pid)")
    fi
  done < <(find "$RUN" -name '*.pid' -type f 2>/dev/null)
  if ((${#busy[@]})); then
    proc_log "not removing $RUN: still running: ${busy[*]}"
    proc_log "stop those first (a test run stops its own when it ends)"
    exit 1
  fi
  local size
  size="$(du -sh "$RUN" 2>/dev/null | cut -f1 || true)"
  rm -rf "$RUN"
  proc_log "removed $RUN (${size:-0})"
}

case "${1:-up}" in
  up) up ;;
  demo) bash scripts/demo.sh ;;
  down)
    down
    case "${2:-}" in
      --purge) purge ;;
      "") ;;
      *) sed -n '2,15p' "$0" >&2; exit 2 ;;
    esac
    ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
