#!/usr/bin/env bash
# The demo of the main job, against a running stack (scripts/stack.sh up, or the fleet's
# balancer: scripts/fleet.sh up): log in, vend, use the keys with the AWS CLI, be denied on
# another user's bucket, be cut off by an operator's revoke and vend again.
#
#   API=http://127.0.0.1:8080 AUTH0_PORT=4400 bash scripts/demo.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
API="${API:-http://127.0.0.1:8080}"
AWS="$ROOT/.venv/bin/aws"

# Bold headings on a terminal; plain text in a log or a pipe.
if [[ -t 1 ]]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi

# Prints one field of a JSON document read from stdin.
field() { jq -er --arg k "$1" '.[$k]'; }

# Puts the keys of a vend response (JSON) into the AWS CLI's environment.
use_keys() {
  AWS_ACCESS_KEY_ID="$(echo "$1" | field AccessKeyId)"
  AWS_SECRET_ACCESS_KEY="$(echo "$1" | field SecretAccessKey)"
  AWS_SESSION_TOKEN="$(echo "$1" | field SessionToken)"
}

# Lists s3://<place> with the keys in the environment; it must be AccessDenied.
# Args: endpoint place (bucket/prefix) message-when-denied message-otherwise.
expect_denied() {
  local out
  out="$("$AWS" --endpoint-url "$1" s3 ls "s3://$2" 2>&1 || true)"
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
  echo "access token: ${token:0:24}... (RS256 JWT, iss http://127.0.0.1:${AUTH0_PORT:-4400}/)"

  # GET /v1/me never provisions: 404 means this vend is alice's first login.
  local first_login=yes
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/me" -H "Authorization: Bearer $token")" == 404 ]] || first_login=""
  if [[ -n "$first_login" ]]; then
    say "2. Vend: POST $API/v1/credentials (alice's first login: it creates her storage, a bucket or in prefix mode a prefix)"
  else
    say "2. Vend: POST $API/v1/credentials (alice has her storage already: keys from the cache or STS)"
  fi
  local body
  body="$(curl -fsS -X POST "$API/v1/credentials" -H "Authorization: Bearer $token" \
    -w '\n%{time_total}')"
  local creds="${body%$'\n'*}" first_time="${body##*$'\n'}"
  echo "$creds" | jq '.SecretAccessKey |= .[:4] + "..." | .SessionToken |= .[:8] + "..."'
  local again_time
  again_time="$(curl -fsS -o /dev/null -X POST "$API/v1/credentials" -H "Authorization: Bearer $token" -w '%{time_total}')"
  if [[ -n "$first_login" ]]; then
    echo "first login ${first_time}s; the same keys again from the cache ${again_time}s (curl time_total)"
  else
    echo "vend ${first_time}s; again from the cache ${again_time}s (curl time_total)"
  fi

  # Her place: her own bucket (Prefix "" in bucket mode), or her prefix of the shared bucket.
  local bucket endpoint place
  bucket="$(echo "$creds" | field Bucket)"
  place="$bucket/$(echo "$creds" | field Prefix)"
  endpoint="$(echo "$creds" | field Endpoint)"
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_DEFAULT_REGION=us-east-1
  use_keys "$creds"

  say "3. Use them with the AWS CLI: upload and list in s3://$place"
  local dir
  dir="$(mktemp -d)"
  echo "hello from stsvend at $(date -u +%FT%TZ)" >"$dir/hello.txt"
  # --no-progress: the CLI's progress line ends in a carriage return, not a newline, and
  # would run into the next line of the demo.
  (cd "$dir" && "$AWS" --endpoint-url "$endpoint" s3 cp --no-progress hello.txt "s3://${place}hello.txt")
  "$AWS" --endpoint-url "$endpoint" s3 ls "s3://$place"
  rm -rf "$dir"

  say "4. And nothing else: the same keys on another user's storage"
  local bob_token bob_creds bob_place
  bob_token="$(bash scripts/auth0.sh token 'auth0|demo-bob')"
  bob_creds="$(curl -fsS -X POST "$API/v1/credentials" -H "Authorization: Bearer $bob_token")"
  bob_place="$(echo "$bob_creds" | field Bucket)/$(echo "$bob_creds" | field Prefix)"
  expect_denied "$endpoint" "$bob_place" "alice's keys on s3://$bob_place: AccessDenied (as they must be)" \
    "alice's keys reached bob's storage"

  say "5. An operator cuts alice off: stsvend users revoke (admin API, M2M token with admin:users)"
  local user_id
  user_id="$(curl -fsS "$API/v1/me" -H "Authorization: Bearer $token" | field user_id)"
  STSVEND_ADMIN_TOKEN="$(bash scripts/auth0.sh m2m-token 'admin:users')" \
    "$CARGO_TARGET_DIR/debug/stsvend" users --api "$API" revoke "$user_id" |
    jq -r '"revoked sessions of \(.subject) issued before \(.sessions_revoked_before)"'
  expect_denied "$endpoint" "$place" "alice's old keys on her own storage: AccessDenied" \
    "revoked keys still work"
  creds="$(curl -fsS -X POST "$API/v1/credentials" -H "Authorization: Bearer $token")"
  use_keys "$creds"
  "$AWS" --endpoint-url "$endpoint" s3 ls "s3://$place" >/dev/null
  echo "keys vended after the revocation: work"
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  say "Stack is up: stsvend $API, MiniStack $endpoint, issuer http://127.0.0.1:${AUTH0_PORT:-4400}/"
}

demo
