#!/usr/bin/env bash
# Local AWS stand-in for stsvend: MiniStack (pip package) in a project venv.
#
#   bash scripts/ministack.sh install   # create $ROOT/.venv, pip install scripts/requirements-local.txt
#   bash scripts/ministack.sh start     # MiniStack on 127.0.0.1:${MINISTACK_PORT:-4566}, AUTH=true, in-memory
#   bash scripts/ministack.sh seed      # service user + keys -> $ROOT/.run/service-credentials.env, and the
#                                       # role via `stsvend bootstrap` (binary: $STSVEND_BIN, default
#                                       # $CARGO_TARGET_DIR/debug/stsvend; build it first)
#   bash scripts/ministack.sh stop      # stop the instance recorded in $ROOT/.run/ministack.pid
#   bash scripts/ministack.sh status
#
# Root/admin credentials under AUTH=true: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
# (account 000000000000). MiniStack itself is started with every AWS_* variable removed
# from its environment, because it treats the AWS_ACCESS_KEY_ID it sees as root.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
VENV="$ROOT/.venv"
RUN_DIR="${STSVEND_RUN_DIR:-$ROOT/.run}"
LOG_FILE="$RUN_DIR/ministack.log"
REQS="$SCRIPT_DIR/requirements-local.txt"
MARKER="$VENV/.stsvend-requirements.sha256"
PORT="${MINISTACK_PORT:-4566}"
START_TIMEOUT="${MINISTACK_START_TIMEOUT:-30}"

RUN="$RUN_DIR"
PROC_TAG=ministack
# shellcheck source=scripts/lib/proc.sh
source "$SCRIPT_DIR/lib/proc.sh"
log() { proc_log "$@"; }

reqs_hash() { sha256sum "$REQS" | cut -d' ' -f1; }

venv_ready() {
  [[ -x "$VENV/bin/python" && -f "$MARKER" ]] || return 1
  [[ "$(cat "$MARKER")" == "$(reqs_hash)" ]] || return 1
  "$VENV/bin/python" -c 'import ministack, boto3' >/dev/null 2>&1
}

cmd_install() {
  if venv_ready; then
    log "venv up to date ($VENV)"
    return 0
  fi
  local py="${PYTHON:-}"
  if [[ -z "$py" ]]; then
    py="$(command -v python3 || command -v python || true)"
  fi
  [[ -n "$py" ]] || { log "python3 not found"; exit 1; }
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV with $py"
    "$py" -m venv "$VENV"
  fi
  log "installing $(grep -cvE '^\s*(#|$)' "$REQS") pinned packages from $REQS"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS"
  reqs_hash >"$MARKER"
  log "installed: $("$VENV/bin/python" -m pip show ministack 2>/dev/null | awk '/^Version:/{print "ministack " $2}')"
}

health_url() { echo "http://127.0.0.1:$PORT/_ministack/health"; }

cmd_start() {
  local pid
  if pid="$(proc_pid ministack ministack)"; then
    log "already running (pid $pid), nothing to do"
    return 0
  fi
  venv_ready || { log "venv missing or stale; run: bash scripts/ministack.sh install"; exit 1; }
  mkdir -p "$RUN_DIR/tmp"
  rm -rf "$RUN_DIR/tmp/"* "$RUN_DIR/state" "$RUN_DIR/s3-data"
  : >"$LOG_FILE"
  # Build the environment from scratch: no AWS_* (MiniStack would treat those keys
  # as root), no stray AUTH/MINISTACK_* settings from the caller.
  #   AUTH=true          enforce SigV4 + IAM (ministack/app.py: AUTH)
  #   BIND_HOST          listen address (ministack/app.py main(); default 0.0.0.0)
  #   GATEWAY_PORT       listen port (EDGE_PORT is an alias)
  #   PERSIST_STATE / S3_PERSIST = 0  -> in-memory; STATE_DIR / S3_DATA_DIR kept under .run anyway
  #   IOT_MTLS_ENABLED=0 / SFTP_ENABLED=0 -> no extra listeners (IoT mTLS would bind :8883)
  #   TMPDIR             MiniStack writes its own ministack-<port>.pid there
  proc_start ministack "$LOG_FILE" env -i \
    PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin" \
    HOME="${HOME:-/root}" \
    LANG=C.UTF-8 \
    TMPDIR="$RUN_DIR/tmp" \
    AUTH=true \
    BIND_HOST=127.0.0.1 \
    GATEWAY_PORT="$PORT" \
    MINISTACK_HOST=localhost \
    MINISTACK_REGION=us-east-1 \
    MINISTACK_ACCOUNT_ID=000000000000 \
    PERSIST_STATE=0 \
    S3_PERSIST=0 \
    STATE_DIR="$RUN_DIR/state" \
    S3_DATA_DIR="$RUN_DIR/s3-data" \
    IOT_MTLS_ENABLED=0 \
    SFTP_ENABLED=0 \
    LOG_LEVEL="${MINISTACK_LOG_LEVEL:-INFO}" \
    "$VENV/bin/python" -m ministack
  pid="$(cat "$RUN_DIR/ministack.pid")"
  log "started pid $pid on 127.0.0.1:$PORT (log: $LOG_FILE)"
  if proc_wait_http "$(health_url)" "$START_TIMEOUT" "$pid" "$LOG_FILE"; then
    log "healthy: $(health_url)"
    return 0
  fi
  proc_stop ministack ministack # the process we just started, by its pid
  exit 1
}

cmd_stop() {
  if proc_pid ministack ministack >/dev/null; then
    proc_stop ministack ministack 10
  else
    log "not running"
    proc_stop ministack ministack
  fi
}

cmd_status() {
  local pid
  if pid="$(proc_pid ministack ministack)" && curl -fsS -o /dev/null --max-time 2 "$(health_url)"; then
    echo "running pid $pid on 127.0.0.1:$PORT"
  elif [[ -n "${pid:-}" ]]; then
    echo "pid $pid alive but health check failing on 127.0.0.1:$PORT"
    return 1
  else
    echo "not running"
    return 1
  fi
}

cmd_seed() {
  venv_ready || { log "venv missing or stale; run: bash scripts/ministack.sh install"; exit 1; }
  local bin="${STSVEND_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/stsvend}"
  if [[ ! -x "$bin" ]]; then
    log "seed creates the role with \`stsvend bootstrap\`, but $bin does not exist;"
    log "build it first (cargo build --locked --bin stsvend) or point STSVEND_BIN at it"
    exit 1
  fi
  MINISTACK_PORT="$PORT" STSVEND_ROOT="$ROOT" STSVEND_BIN="$bin" "$VENV/bin/python" "$SCRIPT_DIR/seed_aws.py" "$@"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  seed) shift; cmd_seed "$@" ;;
  *)
    echo "usage: $0 {install|start|stop|status|seed}" >&2
    exit 2
    ;;
esac
