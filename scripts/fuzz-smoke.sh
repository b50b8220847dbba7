#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in fuzz/ and runs each for FUZZ_SECONDS
# (default 30) from its committed seeds. Exits non-zero on a crash, a failed invariant, a hang or
# a build failure, naming the input that did it (fuzz/artifacts/<target>/). Long runs:
# fuzz/README.md.
#
#   bash scripts/fuzz-smoke.sh                    # all targets, 30 s each
#   FUZZ_SECONDS=300 bash scripts/fuzz-smoke.sh policy_render
#   FUZZ_DEV=1 bash scripts/fuzz-smoke.sh         # unoptimised: ~3x less CPU to build, ~10x fewer runs
#
# cargo-fuzz needs nightly-only compiler flags (sanitizer coverage, -Zsanitizer). Only a stable
# toolchain is installed here, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them; it affects
# only this script's builds, which go to their own target directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${FUZZ_SECONDS:-30}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/fuzz}"
export RUSTC_BOOTSTRAP=1
LOG_DIR="$ROOT/.run/fuzz"
profile=()
[[ "${FUZZ_DEV:-0}" == 1 ]] && profile=(--dev)

log() { printf '[fuzz-smoke] %s\n' "$*" >&2; }

bash scripts/install-cargo-tools.sh cargo-fuzz

mapfile -t targets < <(if (($#)); then printf '%s\n' "$@"; else cargo fuzz list; fi)
log "building ${targets[*]} (target dir $CARGO_TARGET_DIR)"
started=$SECONDS
cargo fuzz build "${profile[@]}"
log "built in $((SECONDS - started)) s"

mkdir -p "$LOG_DIR"
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  log "$t: ${SECONDS_EACH} s"
  # The first corpus directory collects new inputs (git-ignored); seeds are read only.
  if ! cargo fuzz run "${profile[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout=20 -print_final_stats=1 >"$LOG_DIR/$t.log" 2>&1; then
    tail -n 60 "$LOG_DIR/$t.log" >&2
    log "$t FAILED; full log $LOG_DIR/$t.log; reproduce with:"
    log "  RUSTC_BOOTSTRAP=1 cargo fuzz run $t fuzz/artifacts/$t/<crash file>"
    exit 1
  fi
  log "$t: $(grep -E '^stat::number_of_executed_units' "$LOG_DIR/$t.log" | awk '{print $2}') runs, no crash"
done
log "all ${#targets[@]} targets ran ${SECONDS_EACH} s each without a crash"
