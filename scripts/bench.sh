#!/usr/bin/env bash
# The load benchmark (BENCHMARKS.md): builds stsvend in release mode, starts its own MiniStack,
# Auth0 stand-in and stsvend on private ports and run directory (.run/bench), measures, prints
# ONE table, and stops what it started. Not part of scripts/test.sh.
#
#   bash scripts/bench.sh
#
# Environment (defaults): BENCH_SECONDS (8, per wrk run), BENCH_MEM_USERS (100000),
# BENCH_DB_USERS (1000000), BENCH_PHASES (all of: warm,team,quota,db,latency,hour,memory,fleet; a subset gives a partial
# table, e.g. BENCH_PHASES=warm for a quick look at the warm path), BENCH_OUT (a file that also receives the table), BENCH_PORT (8090,
# stsvend), BENCH_MINISTACK_PORT (4586), BENCH_AUTH0_PORT (4420), BENCH_AUX_PORT (4587: the AWS
# timing relay; +1 its control port, +2 the fake STS), BENCH_STS_TOKEN_LEN (1024: session-token
# length of the fake STS), BENCH_STSVEND_ENV (extra VAR=value words for stsvend, for experiments
# such as MALLOC_ARENA_MAX=2), BENCH_AWS_LATENCY_MS (30: added to every AWS call in the latency
# phase), BENCH_BEFORE_DIR (unset: a directory holding an earlier build's `stsvend`, its
# `config.toml` and `policies/`, measured in the latency phase beside this one). Needs wrk
# (apt-get installs it as root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export STSVEND_RUN_DIR="$ROOT/.run/bench"
export MINISTACK_PORT="${BENCH_MINISTACK_PORT:-4586}"
export AUTH0_PORT="${BENCH_AUTH0_PORT:-4420}"
export AUTH0_STATE_DIR="$STSVEND_RUN_DIR/auth0"
export MINISTACK_LOG_LEVEL=WARNING
RUN="$STSVEND_RUN_DIR"
PORT="${BENCH_PORT:-8090}"
AUX="${BENCH_AUX_PORT:-4587}"
RELAY_PORT="$AUX" RELAY_CTL="$((AUX + 1))" FAKE_STS_PORT="$((AUX + 2))"
SECS="${BENCH_SECONDS:-8}"
MEM_USERS="${BENCH_MEM_USERS:-100000}"
DB_USERS="${BENCH_DB_USERS:-1000000}"
WARM_USERS=1000
PHASES=",${BENCH_PHASES:-warm,team,quota,db,latency,hour,memory,fleet},"
phase() { [[ "$PHASES" == *",$1,"* ]]; }
ISSUER="http://127.0.0.1:$AUTH0_PORT/"
API="http://127.0.0.1:$PORT"
RESULTS="$RUN/results.tsv"
STARTED_AT=$SECONDS
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

say() { printf '[bench %3ds] %s\n' "$((SECONDS - STARTED_AT))" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
record() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; }

# --- processes this script starts, stopped by pid on exit ---------------------------------
SV_PID="" RELAY_PID="" FAKE_PID="" MINT_PID="" HAPROXY_PID="" LAT_PID=""
FLEET_PIDS=()
PROC_TAG=bench
# shellcheck source=scripts/lib/proc.sh
source "$ROOT/scripts/lib/proc.sh"
stop_pid() { proc_kill "$1"; }
cleanup() {
  stop_pid "$SV_PID"
  stop_pid "$RELAY_PID"
  stop_pid "$LAT_PID"
  stop_pid "$FAKE_PID"
  stop_pid "$MINT_PID"
  stop_pid "$HAPROXY_PID"
  for p in "${FLEET_PIDS[@]}"; do stop_pid "$p"; done
  POSTGRES_PORT="${BENCH_POSTGRES_PORT:-5452}" bash scripts/postgres.sh stop >/dev/null 2>&1 || true
  bash scripts/auth0.sh stop >/dev/null 2>&1 || true
  bash scripts/ministack.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# --- tools and builds -----------------------------------------------------------------------
bash scripts/install-deps.sh
bash scripts/ministack.sh install >/dev/null
bash scripts/auth0.sh install
if ! command -v wrk >/dev/null 2>&1; then
  [[ "$(id -u)" == 0 ]] || die "wrk is missing: apt-get install wrk"
  say "apt-get install wrk"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
# Many connections at once (1000 concurrent requests of one user) on both ends.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

say "cargo build --release (stsvend and the load helper)"
build_json="$(cargo build --release --locked -p stsvend --bin stsvend -p stsvend-load --bin load --message-format=json-render-diagnostics)"
BIN="$CARGO_TARGET_DIR/release/stsvend"
LOAD="$(printf '%s\n' "$build_json" |
  jq -r 'select(.reason == "compiler-artifact" and .target.name == "load" and .executable) | .executable')"
[[ -x "$BIN" && -x "$LOAD" ]] || die "release build did not produce stsvend and the load helper"
# `ministack.sh seed` runs `stsvend bootstrap`; by default from the debug build, which may be
# missing or older than this checkout (and then refuses the current config.toml).
export STSVEND_BIN="$BIN"

# --- local stack ----------------------------------------------------------------------------
cleanup
rm -rf "$RUN"
mkdir -p "$RUN"
: >"$RESULTS"
bash scripts/ministack.sh start
bash scripts/ministack.sh seed >/dev/null
bash scripts/auth0.sh start
set -a
# shellcheck disable=SC1091
source "$RUN/service-credentials.env"
set +a
MINISTACK_URL="$STSVEND_AWS__ENDPOINT_URL"

# Tokens are minted in-process with the stand-in's own signing key (its published JWKS is what
# stsvend trusts): signing 100k tokens through its HTTP endpoint would take minutes.
KID="$(node -e '
const crypto = require("crypto"), fs = require("fs");
const jwk = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).keys[0];
const key = crypto.createPrivateKey({ key: jwk, format: "jwk" });
fs.writeFileSync(process.argv[2], key.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
const canon = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
process.stdout.write(crypto.createHash("sha256").update(canon).digest("base64url"));
' "$AUTH0_STATE_DIR/jwks.json" "$RUN/issuer-key.pem")"
mint() { # prefix count out [start [--org-prefix P --org-size N]]
  "$LOAD" mint --key-pem "$RUN/issuer-key.pem" --kid "$KID" --issuer "$ISSUER" \
    --prefix "$1" --count "$2" --out "$3" --start "${4:-0}" "${@:5}"
}
seed() { # db prefix count [start]
  "$LOAD" seed-db --db "$1" --issuer "$ISSUER" --prefix "$2" --count "$3" --start "${4:-0}" >/dev/null
}

# --- stsvend ----------------------------------------------------------------------------------
LIMITS_ENV=()
if grep -q '^\[limits\]' config.toml; then
  # The per-user vend rate and the AssumeRole rate limit would turn a load test into a test of
  # the limiter; raise them (their check still runs on every request).
  LIMITS_ENV=(STSVEND_LIMITS__VENDS_PER_MINUTE=100000000 STSVEND_LIMITS__VEND_BURST=1000000
    STSVEND_LIMITS__ASSUME_ROLE_PER_SECOND=1000000)
fi
# Set only for a config that has the key (an earlier build refuses keys it does not know).
limits_env() { # config
  if ((${#LIMITS_ENV[@]})); then printf '%s\n' "${LIMITS_ENV[@]}"; fi
  if grep -q '^new_users_per_minute' "$1"; then echo STSVEND_LIMITS__NEW_USERS_PER_MINUTE=1000000; fi
  # The daily bound of new users (documented, commented out, in a config that knows it): off.
  if grep -q 'new_users_per_day' "$1"; then echo STSVEND_LIMITS__NEW_USERS_PER_DAY=0; fi
  # Organisations on, with the team templates granted as README says (the team phase), for a
  # config that knows them; personal vends are measured with the same setting.
  if grep -q '^# \[orgs\]\|^\[orgs\]' "$1"; then
    printf '%s\n' STSVEND_ORGS__CLAIM=org_id \
      'STSVEND_POLICIES__GRANTS__TEAM-READ-WRITE=["write:team-files"]' \
      'STSVEND_POLICIES__GRANTS__TEAM-READ=["read:team-files", "write:team-files"]'
  fi
}
# SV_BIN / SV_CONFIG (default: this checkout's) run another build, such as BENCH_BEFORE_DIR's.
start_stsvend() { # name db aws_endpoint [VAR=value...]
  local name="$1" db="$2" endpoint="$3"
  shift 3
  local limits
  mapfile -t limits < <(limits_env "${SV_CONFIG:-config.toml}")
  # shellcheck disable=SC2086 # BENCH_STSVEND_ENV is a list of words on purpose
  env "${limits[@]}" ${BENCH_STSVEND_ENV:-} \
    STSVEND_SERVER__BIND="127.0.0.1:$PORT" \
    STSVEND_AUTH__ISSUER="$ISSUER" \
    STSVEND_AWS__ENDPOINT_URL="$endpoint" \
    STSVEND_DATABASE__PATH="$db" \
    "$@" \
    "${SV_BIN:-$BIN}" serve --config "${SV_CONFIG:-config.toml}" >"$RUN/$name.log" 2>&1 </dev/null &
  SV_PID=$!
  proc_wait_http "$API/readyz" 30 "$SV_PID" "$RUN/$name.log" || die "stsvend ($name) did not become ready"
}
stop_stsvend() {
  stop_pid "$SV_PID"
  SV_PID=""
}
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SV_PID/status"; }
assumed() { grep -c 'assumed role' "$RUN/$1.log" || true; }

# CPU time (user + system, clock ticks) stsvend has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SV_PID/stat"; }
wrk_run() { # key connections url [script args...]
  local key="$1" conns="$2" url="$3" script="$4"
  shift 4
  local threads=$((conns < 2 ? 1 : 2)) out before
  before="$(cpu_ticks)"
  out="$(wrk -t"$threads" -c"$conns" -d"${SECS}s" --timeout 10s -s "$script" "$url" -- "$@")"
  local line
  line="$(grep '^WRK_RESULT' <<<"$out")" || die "wrk printed no result: $out"
  line="$line server_cpu_ticks=$(($(cpu_ticks) - before)) ticks_per_s=$(getconf CLK_TCK)"
  record "$key" "$line"
  say "$key: $line"
}

# === Phase A: real MiniStack (through the timing relay), 1k users, then 1M users =============
"$LOAD" relay --listen "127.0.0.1:$RELAY_PORT" --upstream "${MINISTACK_URL#http://}" \
  --control "127.0.0.1:$RELAY_CTL" 2>"$RUN/relay.log" &
RELAY_PID=$!

say "minting tokens and seeding $WARM_USERS users"
mint 'auth0|bench-warm-' "$WARM_USERS" "$RUN/warm.tokens"
mint 'auth0|bench-new-' 20 "$RUN/new.tokens"
mint 'auth0|bench-known-' 20 "$RUN/known.tokens"
bash scripts/auth0.sh token "auth0|bench-burst-$(date +%s)" >"$RUN/burst.tokens"
seed "$RUN/a.db" 'auth0|bench-warm-' "$WARM_USERS"
seed "$RUN/a.db" 'auth0|bench-known-' 20
if phase team; then
  # 1000 members of 10 organisations (100 each), their own storage made; the organisations'
  # storage is made by their first team vends.
  mint 'auth0|bench-team-' "$WARM_USERS" "$RUN/team.tokens" 0 --org-prefix org_bench --org-size 100
  mint 'auth0|bench-team-new-' 1 "$RUN/team-new.tokens" 0 --org-prefix org_bench --org-size 100
  seed "$RUN/a.db" 'auth0|bench-team-' "$WARM_USERS"
fi

start_stsvend a "$RUN/a.db" "http://127.0.0.1:$RELAY_PORT"
record rss_idle "$(rss_mib)"

say "first vends: 20 new users, then 20 known users whose credentials are not cached"
record first_new "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/new.tokens" \
  --relay-control "127.0.0.1:$RELAY_CTL")"
record first_known "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/known.tokens" \
  --relay-control "127.0.0.1:$RELAY_CTL")"

say "1000 concurrent requests of one new user"
before="$(assumed a)"
record burst "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/burst.tokens" \
  --repeat 1000 --concurrency 1000)"
sleep 0.5
record burst_assume_role "$(($(assumed a) - before))"

say "warming $WARM_USERS users"
"$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/warm.tokens" --concurrency 16 >/dev/null
record warm_check "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/warm.tokens" --concurrency 16)"
sleep 1
record rss_1k "$(rss_mib)"
before="$(assumed a)"

say "warm path and floor, ${SECS}s per run"
wrk -t2 -c64 -d2s -s benches/wrk/vend.lua "$API/v1/credentials" -- "$RUN/warm.tokens" >/dev/null
for c in 1 16 64; do
  wrk_run "floor_$c" "$c" "$API/healthz" benches/wrk/report.lua
  wrk_run "floorreq_$c" "$c" "$API/healthz" benches/wrk/vend.lua "$RUN/warm.tokens" GET /healthz
  wrk_run "warm_$c" "$c" "$API/v1/credentials" benches/wrk/vend.lua "$RUN/warm.tokens"
done
record warm_assume_role "$(($(assumed a) - before))"

if phase team; then
  TEAM_BODY='{"access":"team-read-write"}'
  say "team vends: $WARM_USERS members of 10 organisations (team-read-write), against the warm runs"
  "$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/team.tokens" --concurrency 16 \
    --access team-read-write >/dev/null
  record team_check "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/team.tokens" \
    --concurrency 16 --access team-read-write)"
  before="$(assumed a)"
  wrk -t2 -c64 -d2s -s benches/wrk/vend.lua "$API/v1/credentials" -- "$RUN/team.tokens" \
    POST /v1/credentials "$TEAM_BODY" >/dev/null
  # Personal and team runs back to back, so they share the machine's state.
  wrk_run warm_64_again 64 "$API/v1/credentials" benches/wrk/vend.lua "$RUN/warm.tokens"
  # The same personal vends asking for their template by name, as the team ones must: the
  # body's share of the difference.
  wrk_run warm_64_body 64 "$API/v1/credentials" benches/wrk/vend.lua "$RUN/warm.tokens" \
    POST /v1/credentials '{"access":"read-write"}'
  wrk_run team_64 64 "$API/v1/credentials" benches/wrk/vend.lua "$RUN/team.tokens" \
    POST /v1/credentials "$TEAM_BODY"
  record team_assume_role "$(($(assumed a) - before))"
  say "a new member of an existing organisation"
  before="$(assumed a)"
  record team_new_member "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/team-new.tokens" \
    --access team-read-write)"
  record team_new_member_assume_role "$(($(assumed a) - before))"
fi

if phase quota; then
  # Quotas (issue 25): the same warm vends with `[quota]` on (every write vend looks its owner
  # up in memory; the consumer long-polls an empty queue), then off again, back to back.
  QUOTA_QUEUE="$("$ROOT/.venv/bin/python" -c '
import sys, boto3
print(boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test",
      aws_secret_access_key="test").create_queue(QueueName="stsvend-bench-usage")["QueueUrl"])' "$MINISTACK_URL")"
  quota_run() { # key [VAR=value...]
    local key="$1"
    shift
    stop_stsvend
    start_stsvend a "$RUN/a.db" "http://127.0.0.1:$RELAY_PORT" "$@"
    "$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/warm.tokens" --concurrency 16 >/dev/null
    wrk -t2 -c64 -d2s -s benches/wrk/vend.lua "$API/v1/credentials" -- "$RUN/warm.tokens" >/dev/null
    wrk_run "$key" 64 "$API/v1/credentials" benches/wrk/vend.lua "$RUN/warm.tokens"
  }
  say "warm vends with [quota] on, then off"
  quota_run quota_on_64 STSVEND_QUOTA__QUEUE_URL="$QUOTA_QUEUE" STSVEND_QUOTA__USER_BYTES=1000000000000 \
    STSVEND_QUOTA__USER_OBJECTS=1000000000
  quota_run quota_off_64
fi

if phase db; then
say "adding users up to $DB_USERS rows in the database"
existing="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from users").fetchone()[0])' "$RUN/a.db")"
seed "$RUN/a.db" 'auth0|bench-filler-' "$((DB_USERS - existing))"
record db_users "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from users").fetchone()[0])' "$RUN/a.db")"
wrk -t2 -c64 -d2s -s benches/wrk/vend.lua "$API/v1/credentials" -- "$RUN/warm.tokens" >/dev/null
wrk_run floor_64_big 64 "$API/healthz" benches/wrk/report.lua
wrk_run warm_64_big 64 "$API/v1/credentials" benches/wrk/vend.lua "$RUN/warm.tokens"
fi
stop_stsvend

# === Phase L: first logins with AWS's latency (a relay adds it to every call) ==================
# MiniStack answers in about a millisecond; AWS in tens. A first login's cost is its number of
# sequential AWS round trips, which only shows with the latency put back.
if phase latency; then
LAT_MS="${BENCH_AWS_LATENCY_MS:-30}"
LAT_PORT="$((AUX + 3))" LAT_CTL="$((AUX + 4))"
"$LOAD" relay --listen "127.0.0.1:$LAT_PORT" --upstream "${MINISTACK_URL#http://}" \
  --control "127.0.0.1:$LAT_CTL" --latency-ms "$LAT_MS" 2>"$RUN/relay-latency.log" &
LAT_PID=$!
record latency_ms "$LAT_MS"
latency_round() { # key [VAR=value...]: 20 new users, then 20 known users with nothing cached
  local key="$1"
  shift
  mint "auth0|bench-lat-$key-new-" 20 "$RUN/lat-$key-new.tokens"
  mint "auth0|bench-lat-$key-known-" 20 "$RUN/lat-$key-known.tokens"
  seed "$RUN/lat-$key.db" "auth0|bench-lat-$key-known-" 20
  start_stsvend "lat-$key" "$RUN/lat-$key.db" "http://127.0.0.1:$LAT_PORT" "$@"
  record "lat_new_$key" "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/lat-$key-new.tokens" \
    --relay-control "127.0.0.1:$LAT_CTL")"
  record "lat_known_$key" "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/lat-$key-known.tokens" \
    --relay-control "127.0.0.1:$LAT_CTL")"
  stop_stsvend
}
if [[ -n "${BENCH_BEFORE_DIR:-}" ]]; then
  say "first logins with ${LAT_MS} ms per AWS call: the earlier build in $BENCH_BEFORE_DIR"
  SV_BIN="$BENCH_BEFORE_DIR/stsvend" SV_CONFIG="$BENCH_BEFORE_DIR/config.toml" \
    latency_round before STSVEND_POLICIES__DIR="$BENCH_BEFORE_DIR/policies"
fi
say "first logins with ${LAT_MS} ms per AWS call"
latency_round now
# Prefix mode: a new user is a row and one AssumeRole; the shared bucket is not touched.
say "first logins with ${LAT_MS} ms per AWS call, prefix mode"
latency_round prefix STSVEND_STORAGE__MODE=prefix STSVEND_STORAGE__SHARED_BUCKET=stsvend-bench-shared
stop_pid "$LAT_PID"
LAT_PID=""
fi

# === Phase B: a simulated hour of refreshes (time compressed 60x) ===========================
# Credentials live 900 s and are handed out again while 860 s remain: a 40 s refresh window,
# i.e. the default 3600 s / 1200 s (a 40-minute window) at 1 s per simulated minute.
if phase memory; then
say "tokens for the memory phase, minted in the background"
mint 'auth0|bench-mem-' "$MEM_USERS" "$RUN/mem.tokens" &
MINT_PID=$!
seed "$RUN/c.db" 'auth0|bench-mem-' "$MEM_USERS"
fi
if phase hour; then
mint 'auth0|bench-hour-' 100 "$RUN/hour.tokens"
seed "$RUN/b.db" 'auth0|bench-hour-' 100
say "simulated hour: 100 users x 2 templates, each refreshing every 30 simulated seconds"
start_stsvend b "$RUN/b.db" "http://127.0.0.1:$RELAY_PORT" \
  STSVEND_AWS__SESSION_DURATION_SECONDS=900 STSVEND_AWS__MIN_REMAINING_SECONDS=860
record hour "$("$LOAD" hour --url "$API/v1/credentials" --tokens "$RUN/hour.tokens" \
  --seconds 60 --period-ms 500 --access read-write,read-only)"
stop_stsvend
record hour_assume_role "$(python3 - "$RUN/b.log" <<'EOF'
import collections, datetime, json, re, sys
calls = collections.defaultdict(list)
for line in open(sys.argv[1], encoding="utf-8"):
    if "assumed role" not in line:
        continue
    user = re.findall(r"user_id=([a-z2-7]{26})", line)[-1]
    access = re.findall(r"access=\"?([a-z0-9-]+)", line)[-1]
    at = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00"))
    calls[(user, access)].append(at)
counts = [len(v) for v in calls.values()]
gaps = [(b - a).total_seconds() for v in calls.values() for a, b in zip(sorted(v), sorted(v)[1:])]
print(json.dumps({"pairs": len(calls), "total": sum(counts), "max": max(counts, default=0),
                  "min": min(counts, default=0), "min_gap_s": min(gaps, default=None)}))
EOF
)"
fi

# === Phase C: resident memory with 1k and 100k users' credentials cached ====================
# MiniStack serves ~300 AssumeRole/s (5+ minutes for 100k), and its session tokens are 134
# characters against ~1 KiB on AWS; a local fake STS answers with AWS-sized credentials instead.
if phase memory; then
wait "$MINT_PID" || die "minting the memory-phase tokens failed"
MINT_PID=""
"$LOAD" fake-sts --listen "127.0.0.1:$FAKE_STS_PORT" --token-len "${BENCH_STS_TOKEN_LEN:-1024}" 2>"$RUN/fake-sts.log" &
FAKE_PID=$!
start_stsvend c "$RUN/c.db" "http://127.0.0.1:$FAKE_STS_PORT"
record mem_rss_idle "$(rss_mib)"
say "memory: vending for 1000, then $MEM_USERS users"
record mem_fill_1k "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/mem.tokens" --limit 1000 --concurrency 32)"
sleep 1
record mem_rss_1k "$(rss_mib)"
record mem_fill_all "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/mem.tokens" --concurrency 32)"
sleep 1
record mem_rss_all "$(rss_mib)"
# Every user again: most credentials come back from the spill table, none from STS.
before="$(assumed c)"
record mem_again "$("$LOAD" vend --url "$API/v1/credentials" --tokens "$RUN/mem.tokens" --concurrency 32)"
record mem_again_assume_role "$(($(assumed c) - before))"
record mem_rss_again "$(rss_mib)"
stop_stsvend
fi

# === Phase D: the fleet: replicas on PostgreSQL behind HAProxy ==============================
# Warm vends/s through the balancer with three replicas, and with one behind the same
# balancer; database transactions per warm vend (pg_stat_database): the transactions during the
# load run less those of an idle run as long, per vend. The replicas' own timers (change-feed
# poll, repeat counts, /readyz from the balancer) make the idle ones; the warm path makes none.
if phase fleet; then
export POSTGRES_PORT="${BENCH_POSTGRES_PORT:-5452}"
bash scripts/postgres.sh start >/dev/null
PSQL="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1)/psql"
PG_URL="$(bash scripts/postgres.sh url)"
"$PSQL" "$PG_URL" -qc "DROP DATABASE IF EXISTS bench_fleet WITH (FORCE)" -c "CREATE DATABASE bench_fleet"
FLEET_DB="$(sed -E 's#/[^/?]+(\?|$)#/bench_fleet\1#' <<<"$PG_URL")"
BAL_PORT=$((PORT + 20))
FLEET_KEY="1:$(head -c 32 /dev/urandom | base64)"
mint 'auth0|bench-fleet-' 200 "$RUN/fleet.tokens"
start_replica() { # n
  local port=$((PORT + 20 + $1))
  # shellcheck disable=SC2086
  env $(limits_env config.toml) ${BENCH_STSVEND_ENV:-} \
    STSVEND_SERVER__BIND="127.0.0.1:$port" STSVEND_SERVER__METRICS_BIND="127.0.0.1:0" \
    STSVEND_SERVER__TRUSTED_PROXIES='["127.0.0.1/32"]' \
    STSVEND_AUTH__ISSUER="$ISSUER" STSVEND_AUTH__ALLOW_INSECURE_HTTP=true STSVEND_AWS__ENDPOINT_URL="$MINISTACK_URL" \
    STSVEND_DATABASE__URL="$FLEET_DB" STSVEND_CACHE__SEALING_KEYS="$FLEET_KEY" \
    "$BIN" serve --config config.toml >"$RUN/fleet-$1.log" 2>&1 </dev/null &
  FLEET_PIDS+=($!)
  proc_wait_http "http://127.0.0.1:$port/readyz" 30 "$!" "$RUN/fleet-$1.log" || die "replica $1 did not become ready"
}
balance() { # replicas...
  stop_pid "$HAPROXY_PID"
  {
    printf 'global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    option forwardfor\n'
    printf 'frontend api\n    bind 127.0.0.1:%s\n    default_backend stsvend\nbackend stsvend\n    balance roundrobin\n    option httpchk GET /readyz\n' "$BAL_PORT"
    for n in "$@"; do printf '    server r%s 127.0.0.1:%s check inter 1s\n' "$n" "$((PORT + 20 + n))"; done
  } >"$RUN/haproxy.cfg"
  haproxy -db -f "$RUN/haproxy.cfg" >"$RUN/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  proc_wait_http "http://127.0.0.1:$BAL_PORT/readyz" 20 "$HAPROXY_PID" "$RUN/haproxy.log" || die "haproxy did not come up"
}
fleet_wrk() { # key
  local out line
  out="$(wrk -t2 -c64 -d"${SECS}s" --timeout 10s -s benches/wrk/vend.lua "http://127.0.0.1:$BAL_PORT/v1/credentials" -- "$RUN/fleet.tokens")"
  line="$(grep '^WRK_RESULT' <<<"$out")" || die "wrk printed no result: $out"
  record "$1" "$line server_cpu_ticks=0 ticks_per_s=100"
  say "$1: $line"
}
xacts() { "$PSQL" "$FLEET_DB" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
for n in 1 2 3; do start_replica "$n"; done
balance 1 2 3
say "fleet: warming 200 users through the balancer (first logins on three replicas)"
"$LOAD" vend --url "http://127.0.0.1:$BAL_PORT/v1/credentials" --tokens "$RUN/fleet.tokens" --concurrency 16 >/dev/null
"$LOAD" vend --url "http://127.0.0.1:$BAL_PORT/v1/credentials" --tokens "$RUN/fleet.tokens" --concurrency 16 >/dev/null
wrk -t2 -c64 -d2s -s benches/wrk/vend.lua "http://127.0.0.1:$BAL_PORT/v1/credentials" -- "$RUN/fleet.tokens" >/dev/null
sleep 1
x0="$(xacts)"
sleep "$SECS"
record fleet_xacts_idle "$(($(xacts) - x0 - 1))"
x0="$(xacts)"
fleet_wrk fleet_3
record fleet_xacts "$(($(xacts) - x0 - 1))"
balance 1
wrk -t2 -c64 -d2s -s benches/wrk/vend.lua "http://127.0.0.1:$BAL_PORT/v1/credentials" -- "$RUN/fleet.tokens" >/dev/null
fleet_wrk fleet_1
fi

# === The table ================================================================================
say "done"
TABLE="$(python3 - "$RESULTS" "$SECS" "$MEM_USERS" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1], encoding="utf-8"):
    key, _, value = line.rstrip("\n").partition("\t")
    rows[key] = value
secs, mem_users = sys.argv[2], int(sys.argv[3])

def wrk(key):
    fields = dict(kv.split("=") for kv in rows[key].split()[1:])
    n, us = int(fields["requests"]), int(fields["duration_us"])
    cpu_us = int(fields["server_cpu_ticks"]) / int(fields["ticks_per_s"]) * 1e6
    return {"rate": n / (us / 1e6), "p50": int(fields["p50_us"]) / 1000, "p99": int(fields["p99_us"]) / 1000,
            "bad": int(fields["non2xx"]) + int(fields["socket_errors"]), "cpu": cpu_us / n}

def j(key):
    return json.loads(rows[key])

out = []
def row(what, value, floor="", ratio="", target="", met=""):
    out.append(f"| {what} | {value} | {floor} | {ratio} | {target} | {met} |")
yes = lambda ok: "yes" if ok else "**no**"

# Two floors: the bare one (wrk replays one static `GET /healthz`), and the same requests as the
# warm run (each token's Authorization header, through the same wrk script) sent to `/healthz`,
# so both sides of that ratio cost wrk and the kernel the same and differ only in the route.
for c in (1, 16, 64):
    w, f, fr = wrk(f"warm_{c}"), wrk(f"floor_{c}"), wrk(f"floorreq_{c}")
    ratio, ratio_req = w["rate"] / f["rate"], w["rate"] / fr["rate"]
    bad = f" ({w['bad']} failed)" if w["bad"] else ""
    tgt, ok = ("≥ 70% of floor", yes(ratio >= 0.7)) if c == 64 else ("", "")
    row(f"warm vends/s, {c} conn, against the bare floor", f"{w['rate']:,.0f}{bad}", f"{f['rate']:,.0f}", f"{ratio:.0%}", tgt, ok)
    tgt, ok = ("≥ 70% of floor", yes(ratio_req >= 0.7)) if c == 64 else ("", "")
    row(f"warm vends/s, {c} conn, against the same requests to `/healthz`", f"{w['rate']:,.0f}{bad}", f"{fr['rate']:,.0f}", f"{ratio_req:.0%}", tgt, ok)
    row(f"stsvend CPU per request, µs, {c} conn (floors: bare; same requests)", f"{w['cpu']:.1f}",
        f"{f['cpu']:.1f}; {fr['cpu']:.1f}")
    tgt, ok = ("p99 < 5 ms", yes(w["p99"] < 5)) if c == 64 else ("", "")
    row(f"warm p50 / p99 ms, {c} conn (floors: bare; same requests)", f"{w['p50']:.2f} / {w['p99']:.2f}",
        f"{f['p50']:.2f} / {f['p99']:.2f}; {fr['p50']:.2f} / {fr['p99']:.2f}", "", tgt, ok)

# A first login's AWS calls overlap (the bucket settings and AssumeRole go out together), so
# the time summed over its calls can exceed the request's own; `in stsvend` is then not shown.
for key, label in (("first_new", "first vend, new user (bucket + AssumeRole)"),
                   ("first_known", "first vend, known user, nothing cached (AssumeRole)")):
    v = j(key)
    total, aws = v['latency_ms']['p50'], v['aws_ms']['p50']
    inside = f"{v['inside_ms']['p50']:.1f}" if aws <= total else "(calls overlap)"
    row(f"{label}: total / in stsvend / AWS calls' time summed, p50 ms (n={v['requests']}, {v['aws_calls']['p50']:.0f} AWS calls)",
        f"{total:.1f} / {inside} / {aws:.1f}")

have = lambda *keys: all(rows.get(k) for k in keys)
if have("latency_ms", "lat_new_now"):
    lat = float(rows["latency_ms"])
    for build in ("before", "now", "prefix"):
        if not have(f"lat_new_{build}"):
            continue
        # Prefix mode's first login is one AssumeRole: one round trip, like a known user.
        new_target = 1 if build == "prefix" else 3
        for kind, label, target in (("new", "new user", new_target), ("known", "known user, nothing cached", 1)):
            v = j(f"lat_{kind}_{build}")
            p50 = v["latency_ms"]["p50"]
            trips = p50 / lat
            row(f"first vend with {lat:.0f} ms per AWS call, {label}, {build}: p50 ms (n={v['requests']}, {v['aws_calls']['p50']:.0f} AWS calls) = round trips of AWS latency",
                f"{p50:.1f} = {trips:.1f}", "", "",
                f"≤ {target} round trips (+⅓ for stsvend's own work)" if build != "before" else "",
                yes(trips <= target + 0.34) if build != "before" else "")

if have("hour", "hour_assume_role"):
  h = j("hour_assume_role")
  hs = j("hour")["status"]
  # Expirations are whole seconds, so a 40 s window can close up to 1 s early.
  ok = h["max"] <= 2 and (h["min_gap_s"] is None or h["min_gap_s"] >= 39)
  row(f"AssumeRole per (user, template), simulated hour ({h['pairs']} pairs, {sum(hs.values()):,} vends, statuses {hs})",
    f"max {h['max']}, min {h['min']}; closest two {h['min_gap_s']:.0f} s apart" if h["min_gap_s"] else f"max {h['max']}",
    "", "", "≤ 1 per 40-min window (≤ 2 per hour)", yes(ok))
b = j("burst")
ar = int(rows["burst_assume_role"])
row(f"AssumeRole for 1000 concurrent requests of one new user (statuses {b['status']}, {b['distinct_access_keys']} distinct key)",
    f"{ar} (p99 {b['latency_ms']['p99']:.0f} ms)", "", "", "exactly 1", yes(ar == 1 and b["status"].get("200") == 1000))
row("AssumeRole during the warm runs", rows["warm_assume_role"], "", "", "0", yes(rows["warm_assume_role"] == "0"))

if have("team_64", "warm_64_again", "team_check"):
  t, p = wrk("team_64"), wrk("warm_64_again")
  bad = f" ({t['bad']} failed)" if t["bad"] else ""
  ratio = t["rate"] / p["rate"]
  row(f"warm team vends/s (team-read-write, 10 orgs of 100), 64 conn, against personal vends run just before (p99 {t['p99']:.2f} / {p['p99']:.2f} ms)",
    f"{t['rate']:,.0f}{bad} / {p['rate']:,.0f}", "", f"{ratio:.0%}", "≥ 90% of personal", yes(ratio >= 0.9))
  if have("warm_64_body"):
    b = wrk("warm_64_body")
    row(f"the same personal vends naming their template in a body (`{{\"access\":\"read-write\"}}`), 64 conn (p99 {b['p99']:.2f} ms); team vends against them",
      f"{b['rate']:,.0f}", "", f"{t['rate'] / b['rate']:.0%}")
  row(f"stsvend CPU per request, µs, 64 conn: team / personal / personal with a body", f"{t['cpu']:.1f} / {p['cpu']:.1f}" + (f" / {wrk('warm_64_body')['cpu']:.1f}" if have("warm_64_body") else ""))
  row("AssumeRole during the warm team runs", rows["team_assume_role"], "", "", "0", yes(rows["team_assume_role"] == "0"))
if have("quota_on_64", "quota_off_64"):
  q, o = wrk("quota_on_64"), wrk("quota_off_64")
  row(f"warm vends/s, 64 conn, `[quota]` on (limits set, consumer polling) against off, run back to back (p99 {q['p99']:.2f} / {o['p99']:.2f} ms; CPU µs/request {q['cpu']:.1f} / {o['cpu']:.1f})",
    f"{q['rate']:,.0f}", f"{o['rate']:,.0f}", f"{q['rate'] / o['rate']:.0%}", "unchanged (≥ 95%)", yes(q["rate"] >= 0.95 * o["rate"]))
if have("team_new_member", "team_new_member_assume_role"):
  v, ar = j("team_new_member"), int(rows["team_new_member_assume_role"])
  row(f"a new member's first team vend, organisation's storage existing (status {v['status']}, p50 {v['latency_ms']['p50']:.1f} ms): AssumeRole calls",
    f"{ar}", "", "", "exactly 1", yes(ar == 1 and v["status"].get("200") == 1))
row("RSS, real STS (MiniStack): idle / 1k users cached, MiB", f"{rows['rss_idle']} / {rows['rss_1k']}")
if have("mem_fill_all", "mem_rss_all"):
  fill = j("mem_fill_all")
  row(f"RSS, AWS-sized credentials (fake STS): idle / 1k / {mem_users // 1000}k users cached, MiB "
    f"(fill at {fill['rate']:,.0f} vends/s)",
    f"{rows['mem_rss_idle']} / {rows['mem_rss_1k']} / {rows['mem_rss_all']}", "", "", "≤ 100 MiB at 100k",
    yes(float(rows["mem_rss_all"]) <= 100))
if have("mem_again", "mem_again_assume_role"):
  again = j("mem_again")
  ar = int(rows["mem_again_assume_role"])
  row(f"the same {mem_users // 1000}k users again (statuses {again['status']}): AssumeRole calls; vends/s; RSS after, MiB",
    f"{ar}; {again['rate']:,.0f}; {rows['mem_rss_again']}", "", "", "0 AssumeRole (≤ 1 per refresh window)", yes(ar == 0))
if have("warm_64_big", "floor_64_big"):
  small, big, fbig = wrk("warm_64"), wrk("warm_64_big"), wrk("floor_64_big")
  keep = big["rate"] / small["rate"]
  row(f"warm vends/s, 64 conn, {int(rows['db_users']):,} users in the database (p50 / p99 {big['p50']:.2f} / {big['p99']:.2f} ms)",
    f"{big['rate']:,.0f} ({keep:.0%} of 1k-user run)", f"{fbig['rate']:,.0f}", f"{big['rate'] / fbig['rate']:.0%}",
    "≥ 90% of 1k-user throughput", yes(keep >= 0.9))
if have("fleet_3", "fleet_1", "fleet_xacts", "fleet_xacts_idle"):
  f3, f1 = wrk("fleet_3"), wrk("fleet_1")
  bad = f3["bad"] + f1["bad"]
  row(f"fleet: warm vends/s through HAProxy, 64 conn, 3 replicas on PostgreSQL / 1 replica (p99 {f3['p99']:.1f} / {f1['p99']:.1f} ms{f', {bad} failed' if bad else ''})",
    f"{f3['rate']:,.0f} / {f1['rate']:,.0f}", "", f"{f3['rate'] / f1['rate']:.0%}")
  n = f3["rate"] * int(secs)
  x, idle = int(rows["fleet_xacts"]), int(rows["fleet_xacts_idle"])
  per = max(0, x - idle) / n
  row(f"fleet: database transactions per warm vend, 3 replicas ({x} during {n:,.0f} vends in {secs} s, {idle} in {secs} s idle: the replicas' timers)",
    f"{per:.5f}", "", "", "0", yes(per < 0.001))
print("| measurement | stsvend | floor `/healthz` | vend/floor | target | met |")
print("|---|---|---|---|---|---|")
print("\n".join(out))
EOF
)"
{
  echo
  echo "stsvend load benchmark, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes'), $(nproc) cores, ${SECS}s per wrk run"
  echo "load average (1/5/15 min) at start: $LOAD_BEFORE; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "$TABLE"
} | tee "${BENCH_OUT:-/dev/null}"
say "finished in $((SECONDS - STARTED_AT)) s"
