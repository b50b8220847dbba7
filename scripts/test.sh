#!/usr/bin/env bash
# README command 2: runs every test.
#
# Installs what the suite needs (MiniStack venv, node packages, Chromium), builds web/, starts a private MiniStack
# and Auth0 stand-in on their own ports and run directory (so a running demo stack is left
# alone), seeds AWS, runs the unit and integration tests, and stops what it started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export STSVEND_RUN_DIR="$ROOT/.run/test"
export MINISTACK_PORT="${TEST_MINISTACK_PORT:-4576}"
export AUTH0_PORT="${TEST_AUTH0_PORT:-4410}"
export AUTH0_STATE_DIR="$STSVEND_RUN_DIR/auth0"
export POSTGRES_PORT="${TEST_POSTGRES_PORT:-5442}"
# moto's server, started by the selftest test itself (tests/api/selftest/moto.rs), on loopback.
export MOTO_PORT="${TEST_MOTO_PORT:-4577}"
# The browser test (tests/api/web/, tests/api/admin/console.rs) serves web/ on its own port, away from the demo's 5173;
# the stand-in lists that origin among the web client's redirect URIs.
export WEB_E2E_PORT="${TEST_WEB_PORT:-5174}"
export AUTH0_WEB_ORIGINS="http://127.0.0.1:5173 http://localhost:5173 http://127.0.0.1:$WEB_E2E_PORT"
mkdir -p "$STSVEND_RUN_DIR"

bash scripts/install-deps.sh
bash scripts/ministack.sh install
bash scripts/auth0.sh install
bash scripts/web.sh build
# The client libraries: the npm package built with tsc from its lockfile and unit-tested
# (Node's runner, a stub stsvend); pytest for the Python package, whose suite
# tests/api/clients/python.rs runs against MiniStack. The Rust crate is a workspace member.
(cd clients/js && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build && npm test --silent)
.venv/bin/python -m pip install -q --disable-pip-version-check -r clients/python/requirements-test.txt

cleanup() {
  bash scripts/auth0.sh stop >/dev/null 2>&1 || true
  bash scripts/ministack.sh stop >/dev/null 2>&1 || true
  bash scripts/postgres.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A previous run that was cut off may have left its own instances behind (tracked by pid file).
cleanup
# Seeding runs `stsvend bootstrap`: build the binary (with the test targets, so one build serves both).
# The whole workspace: the client tests in tests/api run the stsvend-cli binary and the
# bulk_upload example, so `cargo build` makes those two as plain executables (`cargo test
# --examples` would build the example as a test harness). Both commands include dev-dependency
# targets, so features resolve the same way and the dependencies are built once.
CARGO_TEST=(cargo test --locked --workspace --lib --bins --tests)
"${CARGO_TEST[@]}" --no-run
cargo build --locked --workspace --bins --examples
# The deployment files (alert rules and their unit tests, dashboard, systemd unit), checked
# against the metric names and configuration keys of the binary just built.
bash scripts/deploy-check.sh
bash scripts/ministack.sh start
bash scripts/ministack.sh seed >/dev/null
bash scripts/auth0.sh start
# PostgreSQL (Debian's package, a private cluster under the run directory): the store suite
# runs every test on it as well as on SQLite, and the fleet tests put replicas on it.
bash scripts/postgres.sh start
eval "$(bash scripts/postgres.sh env)"

# The service's own keys and the role, as seeded; MiniStack's address.
set -a
# shellcheck disable=SC1091
source "$STSVEND_RUN_DIR/service-credentials.env"
set +a
export AUTH0_ISSUER="http://127.0.0.1:$AUTH0_PORT/"

# The hostile-input, fault and load tests append their figures here; summed below.
export FIGURES_FILE="$STSVEND_RUN_DIR/figures.jsonl"
: >"$FIGURES_FILE"

# libtest's summary lines (one per test binary) are kept to count the tests at the end.
TEST_OUT="$STSVEND_RUN_DIR/cargo-test.out"
status=0
"${CARGO_TEST[@]}" -- "$@" | tee "$TEST_OUT" || status=$?

jq -rs '
  def sum(k): map(.[k] // 0) | add // 0;
  (if sum("coherence_trials") > 0 then
    "fleet: a change through one replica held on another within \(map(.coherence_worst_ms // 0) | max) ms at worst (\(sum("coherence_trials")) trials); a replica killed under load cost \(sum("lost_to_kill")) requests"
  else empty end),
  "hostile-suite: cases tried=\(sum("cases")) faults injected=\(sum("faults")) requests served=\(sum("requests")) 5xx=\(sum("server_errors")) (+\(sum("expected_unavailable")) demanded 503s during injected outages) mappings lost=\(sum("mappings_lost")) cross-user accesses allowed=\(sum("cross_user_allowed")) (of \(sum("cross_user_attempts")) tried)"
' "$FIGURES_FILE"
# The count, from what ran (a README number would drift): passed, failed, ignored, and what a
# filter argument left out.
awk '/^test result:/ { p += $4; f += $6; i += $8; x += $12; n++ }
  END { printf "tests: %d passed, %d failed, %d ignored%s (%d test binaries)\n", p, f, i, (x ? sprintf(", %d filtered out", x) : ""), n }' "$TEST_OUT"
exit "$status"
