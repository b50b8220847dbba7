#!/usr/bin/env bash
# The quota benchmark (BENCHMARKS.md, "Issue 25"): how fast the usage queue's S3 events are
# applied to the ledger by one and by two replicas, and how long a reconciliation of 100k
# objects takes. Builds stsvend in release mode, starts its own MiniStack, Auth0 stand-in and
# PostgreSQL on private ports under .run/bench-quota, prints ONE table, stops what it started.
# Not part of scripts/test.sh. (Warm vends with quotas on are the `quota` phase of
# scripts/bench.sh.)
#
#   bash scripts/bench-quota.sh
#
# Environment (defaults): BENCH_EVENTS (20000, per run), BENCH_EVENT_USERS (100: owners the
# events are spread over), BENCH_OBJECTS (100000: objects reconciled; 0 skips it),
# BENCH_MINISTACK_PORT (4596), BENCH_AUTH0_PORT (4430), BENCH_POSTGRES_PORT (5453),
# BENCH_PORT (8190: replica 1; replica 2 takes +1, their metrics +10, +11), BENCH_OUT (a file
# that also receives the table).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export STSVEND_RUN_DIR="$ROOT/.run/bench-quota"
export MINISTACK_PORT="${BENCH_MINISTACK_PORT:-4596}"
export AUTH0_PORT="${BENCH_AUTH0_PORT:-4430}"
export POSTGRES_PORT="${BENCH_POSTGRES_PORT:-5453}"
export AUTH0_STATE_DIR="$STSVEND_RUN_DIR/auth0"
export MINISTACK_LOG_LEVEL=WARNING
RUN="$STSVEND_RUN_DIR"
PORT="${BENCH_PORT:-8190}"
EVENTS="${BENCH_EVENTS:-20000}"
EVENT_USERS="${BENCH_EVENT_USERS:-100}"
OBJECTS="${BENCH_OBJECTS:-100000}"
ISSUER="http://127.0.0.1:$AUTH0_PORT/"
SHARED=stsvend-bench-quota-shared
PY="$ROOT/.venv/bin/python"
STARTED_AT=$SECONDS

say() { printf '[bench-quota %3ds] %s\n' "$((SECONDS - STARTED_AT))" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

PIDS=()
PROC_TAG=bench-quota
# shellcheck source=scripts/lib/proc.sh
source "$ROOT/scripts/lib/proc.sh"
stop_replicas() {
  for p in "${PIDS[@]}"; do proc_kill "$p"; done
  PIDS=()
}
cleanup() {
  stop_replicas
  bash scripts/postgres.sh stop >/dev/null 2>&1 || true
  bash scripts/auth0.sh stop >/dev/null 2>&1 || true
  bash scripts/ministack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

bash scripts/install-deps.sh
bash scripts/ministack.sh install >/dev/null
bash scripts/auth0.sh install
say "cargo build --release (stsvend and examples/reconcile_bench)"
cargo build --release --locked -p stsvend --bin stsvend --example reconcile_bench 2>&1 | tail -n 2 >&2
BIN="$CARGO_TARGET_DIR/release/stsvend"
RECONCILE_BENCH="$CARGO_TARGET_DIR/release/examples/reconcile_bench"
export STSVEND_BIN="$BIN"

cleanup
rm -rf "$RUN"
mkdir -p "$RUN"
bash scripts/ministack.sh start
bash scripts/ministack.sh seed >/dev/null
bash scripts/auth0.sh start
bash scripts/postgres.sh start >/dev/null
set -a
# shellcheck disable=SC1091
source "$RUN/service-credentials.env"
set +a
ENDPOINT="$STSVEND_AWS__ENDPOINT_URL"
PSQL="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1)/psql"
PG_URL="$(bash scripts/postgres.sh url)"

# The usage queue and the shared bucket, made with MiniStack's root keys (the events are sent
# by this script, so no notification is configured).
QUEUE_URL="$("$PY" - "$MINISTACK_PORT" "$SHARED" <<'EOF'
import sys, boto3
port, bucket = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
          aws_access_key_id="test", aws_secret_access_key="test")
boto3.client("s3", **kw).create_bucket(Bucket=bucket)
print(boto3.client("sqs", **kw).create_queue(QueueName="stsvend-bench-usage",
      Attributes={"VisibilityTimeout": "30"})["QueueUrl"])
EOF
)"

fresh_db() { # name -> url
  "$PSQL" "$PG_URL" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >&2
  sed -E "s#/[^/?]+(\\?|\$)#/$1\\1#" <<<"$PG_URL"
}

start_replica() { # n db_url
  local port=$((PORT + $1 - 1)) metrics=$((PORT + 9 + $1))
  env STSVEND_SERVER__BIND="127.0.0.1:$port" STSVEND_SERVER__METRICS_BIND="127.0.0.1:$metrics" \
    STSVEND_AUTH__ISSUER="$ISSUER" STSVEND_AUTH__ALLOW_INSECURE_HTTP=true \
    STSVEND_AWS__ENDPOINT_URL="$ENDPOINT" STSVEND_DATABASE__URL="$2" \
    STSVEND_CACHE__SEALING_KEYS="1:$(head -c 32 /dev/urandom | base64)" \
    STSVEND_STORAGE__MODE=prefix STSVEND_STORAGE__SHARED_BUCKET="$SHARED" \
    STSVEND_QUOTA__QUEUE_URL="$QUEUE_URL" STSVEND_QUOTA__USER_BYTES=1000000000000 \
    "$BIN" serve --config config.toml >"$RUN/replica-$1.log" 2>&1 </dev/null &
  PIDS+=($!)
  proc_wait_http "http://127.0.0.1:$port/readyz" 30 "$!" "$RUN/replica-$1.log" || die "replica $1 did not become ready"
}

applied() { # replicas -> events applied, summed
  local total=0 n v
  for ((n = 1; n <= $1; n++)); do
    v="$(curl -fsS "http://127.0.0.1:$((PORT + 9 + n))/metrics" |
      awk '/^stsvend_quota_events_total\{result="applied"\}/ { print $2 }')"
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# The replicas start with the queue empty; then the events are sent, and the clock runs from
# the first event sent to the last applied (sending takes part of it: the figure is a floor of
# what the consumers sustain).
events_run() { # replicas seed -> "events seconds rate exact"
  local replicas="$1" db start end expected got
  db="$(fresh_db "bench_quota_$replicas")"
  for ((n = 1; n <= replicas; n++)); do start_replica "$n" "$db"; done
  start=$(date +%s.%N)
  expected="$("$PY" scripts/bench_quota.py fill-queue --queue-url "$QUEUE_URL" --bucket "$SHARED" \
    --users "$EVENT_USERS" --events "$EVENTS" --seed "$2")"
  local deadline=$((SECONDS + 600))
  until (($(applied "$replicas") >= EVENTS)); do
    ((SECONDS < deadline)) || die "only $(applied "$replicas") of $EVENTS events applied in 600 s"
    sleep 0.2
  done
  end=$(date +%s.%N)
  # The ledger's totals against what the events add up to.
  got="$("$PSQL" "$db" -Atc "SELECT COALESCE(SUM(bytes), 0) || ' ' || COALESCE(SUM(objects), 0) FROM ledger_owners")"
  local want
  want="$(jq -r '"\(.bytes) \(.objects)"' <<<"$expected")"
  stop_replicas
  awk -v e="$EVENTS" -v s="$start" -v t="$end" -v got="$got" -v want="$want" \
    'BEGIN { d = t - s; printf "%d %.2f %.0f %s\n", e, d, e / d, (got == want ? "exact" : "WRONG(" got " vs " want ")") }'
}

say "events: $EVENTS events over $EVENT_USERS owners, one replica consuming"
ONE="$(events_run 1 1)"
say "  $ONE"
say "events: $EVENTS more, two replicas consuming the same queue"
TWO="$(events_run 2 2)"
say "  $TWO"

RECONCILE=""
if ((OBJECTS > 0)); then
  say "reconciliation: writing $OBJECTS objects, then listing them into the ledger (PostgreSQL)"
  RECONCILE="$(env STSVEND_AUTH__ISSUER="$ISSUER" STSVEND_AWS__ENDPOINT_URL="$ENDPOINT" \
    STSVEND_DATABASE__URL="$(fresh_db bench_quota_reconcile)" BENCH_OBJECTS="$OBJECTS" \
    STSVEND_QUOTA__QUEUE_URL="$QUEUE_URL" "$RECONCILE_BENCH" config.toml 2>&1 | tee "$RUN/reconcile.log" | grep -E '^(write|reconcile)')" ||
    die "reconcile_bench failed: $(tail -n 5 "$RUN/reconcile.log")"
fi

{
  echo "| quota benchmark ($(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)) | figure |"
  echo "|---|---|"
  read -r e s r x <<<"$ONE"
  echo "| S3 events applied to the ledger, 1 replica consuming ($e events in $s s; ledger $x) | $r events/s |"
  read -r e s r x <<<"$TWO"
  echo "| S3 events applied to the ledger, 2 replicas consuming one queue ($e events in $s s; ledger $x) | $r events/s |"
  if [[ -n "$RECONCILE" ]]; then
    while IFS= read -r line; do echo "| reconciliation, $OBJECTS objects: $line | |"; done <<<"$RECONCILE"
  fi
} | tee "${BENCH_OUT:-/dev/null}"
