#!/usr/bin/env bash
# README command 1: the whole local stack and the service, and the main job shown working.
#
#   bash scripts/stack.sh up     install what is missing, (re)start MiniStack (AWS), the Auth0
#                                stand-in, stsvend and the web app fresh, then run the demo; all
#                                stay up
#   bash scripts/stack.sh demo   the demo again, against the running stack
#   bash scripts/stack.sh down   stop what `up` started (by pid file)
#
# Ports: MiniStack 4566, Auth0 stand-in 4400, stsvend 8080 (config.toml), web app 5173.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN="$ROOT/.run"
PIDFILE="$RUN/stsvend.pid"
LOGFILE="$RUN/stsvend.log"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
API="http://127.0.0.1:8080"
WEB="http://127.0.0.1:5173"
PY="$ROOT/.venv/bin/python"
AWS="$ROOT/.venv/bin/aws"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

stsvend_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'stsvend serve' && echo "$pid"
}

start_stsvend() {
  if stsvend_pid >/dev/null; then
    echo "stsvend already running (pid $(stsvend_pid))"
    return
  fi
  # The same build as the tests (scripts/test.sh), so nothing is compiled twice.
  cargo build --locked --workspace --bins --examples
  set -a
  # shellcheck disable=SC1091
  source "$RUN/service-credentials.env"
  set +a
  STSVEND_ADMIN__PERMISSION=admin:users nohup "$CARGO_TARGET_DIR/debug/stsvend" serve --config config.toml >>"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 100); do
    if curl -fsS "$API/readyz" >/dev/null 2>&1; then
      echo "stsvend ready on $API (log: $LOGFILE)"
      return
    fi
    sleep 0.2
  done
  echo "stsvend did not become ready; log tail:" >&2
  tail -n 30 "$LOGFILE" >&2
  exit 1
}

# Prints one field of a JSON document read from stdin.
field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Puts the keys of a vend response (JSON) into the AWS CLI's environment.
use_keys() {
  AWS_ACCESS_KEY_ID="$(echo "$1" | field AccessKeyId)"
  AWS_SECRET_ACCESS_KEY="$(echo "$1" | field SecretAccessKey)"
  AWS_SESSION_TOKEN="$(echo "$1" | field SessionToken)"
}

# Lists s3://<bucket> with the keys in the environment; it must be AccessDenied.
# Args: endpoint bucket message-when-denied message-otherwise.
expect_denied() {
  local out
  out="$("$AWS" --endpoint-url "$1" s3 ls "s3://$2/" 2>&1 || true)"
  if [[ "$out" == *AccessDenied* ]]; then
    echo "$3"
  else
    echo "UNEXPECTED: $4" >&2
    exit 1
  fi
}

demo() {
  say "1. Log in: a token for demo user auth0|demo-alice from the local Auth0 stand-in"
  local token
  token="$(bash scripts/auth0.sh token 'auth0|demo-alice')"
  echo "access token: ${token:0:24}... (RS256 JWT, iss http://127.0.0.1:4400/)"

  say "2. Vend: POST $API/v1/credentials (first login creates the user's bucket)"
  local body
  body="$(curl -fsS -X POST "$API/v1/credentials" -H "Authorization: Bearer $token" \
    -w '\n%{time_total}')"
  local creds="${body%$'\n'*}" first_time="${body##*$'\n'}"
  echo "$creds" | "$PY" -c '
import json, sys
c = json.load(sys.stdin)
c["SecretAccessKey"] = c["SecretAccessKey"][:4] + "..."
c["SessionToken"] = c["SessionToken"][:8] + "..."
print(json.dumps(c, indent=2))'
  local again_time
  again_time="$(curl -fsS -o /dev/null -X POST "$API/v1/credentials" -H "Authorization: Bearer $token" -w '%{time_total}')"
  echo "first vend ${first_time}s; cached vend ${again_time}s (curl time_total)"

  local bucket endpoint
  bucket="$(echo "$creds" | field Bucket)"
  endpoint="$(echo "$creds" | field Endpoint)"
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_DEFAULT_REGION=us-east-1
  use_keys "$creds"

  say "3. Use them with the AWS CLI: upload and list in s3://$bucket"
  local file
  file="$(mktemp)"
  echo "hello from stsvend at $(date -u +%FT%TZ)" >"$file"
  "$AWS" --endpoint-url "$endpoint" s3 cp "$file" "s3://$bucket/hello.txt"
  "$AWS" --endpoint-url "$endpoint" s3 ls "s3://$bucket/"
  rm -f "$file"

  say "4. And nothing else: the same keys on another user's bucket"
  local bob_token bob_bucket
  bob_token="$(bash scripts/auth0.sh token 'auth0|demo-bob')"
  bob_bucket="$(curl -fsS -X POST "$API/v1/credentials" -H "Authorization: Bearer $bob_token" | field Bucket)"
  expect_denied "$endpoint" "$bob_bucket" "alice's keys on s3://$bob_bucket: AccessDenied (as they must be)" \
    "alice's keys reached bob's bucket"

  say "5. An operator cuts alice off: stsvend users revoke (admin API, M2M token with admin:users)"
  local user_id
  user_id="$(curl -fsS "$API/v1/me" -H "Authorization: Bearer $token" | field user_id)"
  STSVEND_ADMIN_TOKEN="$(bash scripts/auth0.sh m2m-token 'admin:users')" \
    "$CARGO_TARGET_DIR/debug/stsvend" users --api "$API" revoke "$user_id" |
    "$PY" -c 'import json,sys; u=json.load(sys.stdin); print("revoked sessions of", u["subject"], "issued before", u["sessions_revoked_before"])'
  expect_denied "$endpoint" "$bucket" "alice's old keys on her own bucket: AccessDenied" \
    "revoked keys still work"
  creds="$(curl -fsS -X POST "$API/v1/credentials" -H "Authorization: Bearer $token")"
  use_keys "$creds"
  "$AWS" --endpoint-url "$endpoint" s3 ls "s3://$bucket/" >/dev/null
  echo "keys vended after the revocation: work"
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  say "Stack is up: stsvend $API, MiniStack http://127.0.0.1:4566, issuer http://127.0.0.1:4400/"
  echo "Web app: $WEB/ (log in as any sub, e.g. auth0|demo-alice; files go to that user's bucket)"
  echo "Stop it with: bash scripts/stack.sh down"
}

up() {
  # A fresh stack each time: MiniStack keeps its state in memory, so the service's database
  # (mappings to buckets in that memory) starts fresh with it.
  down >/dev/null 2>&1 || true
  rm -f "$RUN"/stsvend.db "$RUN"/stsvend.db-wal "$RUN"/stsvend.db-shm
  mkdir -p "$RUN"
  bash scripts/install-deps.sh
  bash scripts/ministack.sh install
  bash scripts/auth0.sh install
  bash scripts/web.sh build
  # Seeding creates the role with `stsvend bootstrap`, so the binary comes first.
  # The same build as the tests (scripts/test.sh), so nothing is compiled twice.
  cargo build --locked --workspace --bins --examples
  bash scripts/ministack.sh start
  bash scripts/ministack.sh seed >/dev/null
  bash scripts/auth0.sh start
  start_stsvend
  # The browser app; its origin is in config.toml's server.cors_allowed_origins (stsvend API)
  # and storage.cors_allowed_origins (bucket CORS), and in the stand-in's redirect URIs.
  STSVEND_WEB_PORT=5173 STSVEND_WEB_API="$API" STSVEND_WEB_ISSUER="http://127.0.0.1:4400/" \
    bash scripts/web.sh start
  demo
}

down() {
  local pid
  if pid="$(stsvend_pid)"; then
    kill -TERM "$pid"
    echo "stopped stsvend (pid $pid)"
  fi
  rm -f "$PIDFILE"
  bash scripts/web.sh stop || true
  bash scripts/auth0.sh stop || true
  bash scripts/ministack.sh stop || true
}

case "${1:-up}" in
  up) up ;;
  demo) demo ;;
  down) down ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
