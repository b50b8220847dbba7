#!/usr/bin/env bash
# Supply-chain checks with deny.toml: licenses, bans, sources always; advisories when a RustSec
# database is available.
#
# The advisory database is a git repository on GitHub. This project's machines and CI reach
# crates.io but not GitHub, so:
#   - the crate graph comes from `cargo metadata` (crates.io only), and every check then runs
#     with `--offline`;
#   - the database is fetched when that works (a few seconds to fail when it does not), and the
#     advisories check runs against whatever copy is in $CARGO_HOME/advisory-dbs;
#   - with no copy at all, advisories are reported as NOT CHECKED (loudly) and the script still
#     passes, unless STSVEND_REQUIRE_ADVISORIES=1, which makes that a failure (use it wherever
#     GitHub is reachable).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[cargo-deny] %s\n' "$*" >&2; }

metadata="$(mktemp)"
trap 'rm -f "$metadata"' EXIT
cargo metadata --locked --format-version 1 >"$metadata"
deny=(cargo deny --offline --locked --metadata-path "$metadata" check --hide-inclusion-graph)

"${deny[@]}" bans licenses sources

db_dir="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if timeout 60 cargo deny fetch db >/dev/null 2>&1; then
  log "advisory database fetched"
else
  log "could not fetch the advisory database (GitHub unreachable?)"
fi
if compgen -G "$db_dir/advisory-db-*/crates" >/dev/null; then
  log "advisories: checking against the copy in $db_dir (last commit $(git -C "$(compgen -G "$db_dir/advisory-db-*" | head -n1)" log -1 --format=%cs 2>/dev/null || echo unknown))"
  "${deny[@]}" advisories
else
  log "advisories NOT CHECKED: no RustSec database in $db_dir and it cannot be fetched here."
  log "  Run 'cargo deny fetch db' on a machine that reaches GitHub (or copy that directory here)."
  if [[ "${STSVEND_REQUIRE_ADVISORIES:-0}" == 1 ]]; then
    exit 1
  fi
fi
