#!/usr/bin/env bash
# Supply-chain checks with deny.toml: licenses, bans, sources and advisories.
#
# The advisory database is a git repository on GitHub. This project's machines and CI reach
# crates.io but not GitHub, so:
#   - the crate graph comes from `cargo metadata` (crates.io only), and every check then runs
#     with `--offline`;
#   - the database is fetched when that works (it fails within a second or so when it does not);
#   - when it cannot be fetched, the offline snapshot (a git bundle: $STSVEND_RUSTSEC_BUNDLE, the
#     bundle or a folder holding advisory-db.bundle; else shared/rustsec/advisory-db.bundle
#     beside the repository root or a folder above it) is restored into
#     $CARGO_HOME/advisory-dbs, if no copy is there yet or the snapshot's last commit is newer
#     than the copy's;
#   - the advisories check runs against that copy, and the script says which copy and how old.
# An advisory fails the script. With no copy at all, advisories are reported as NOT CHECKED
# (loudly) and the script still passes, unless STSVEND_REQUIRE_ADVISORIES=1 (CI sets it), which
# makes that a failure too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[cargo-deny] %s\n' "$*" >&2; }

metadata="$(mktemp)"
trap 'rm -f "$metadata"' EXIT
cargo metadata --locked --format-version 1 >"$metadata"
deny=(cargo deny --offline --locked --workspace --metadata-path "$metadata" check --hide-inclusion-graph)

"${deny[@]}" bans licenses sources

db_root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
# cargo-deny names the directory after the database URL (deny.toml `db-urls`, the default one).
db="$db_root/advisory-db-3157b0e258782691"
db_url=https://github.com/rustsec/advisory-db
# The snapshot: $STSVEND_RUSTSEC_BUNDLE (the bundle itself, or a folder holding
# advisory-db.bundle), else shared/rustsec/ beside the repository root or a folder above it. No
# machine's absolute path: a checkout elsewhere names its snapshot with the variable.
if [[ -n "${STSVEND_RUSTSEC_BUNDLE:-}" ]]; then
  bundle="$STSVEND_RUSTSEC_BUNDLE"
  if [[ -d "$bundle" ]]; then
    bundle="${bundle%/}/advisory-db.bundle"
  fi
  bundle_from="STSVEND_RUSTSEC_BUNDLE"
else
  # ../shared beside the repository root; for a clone made one folder deeper (CI's clean
  # clone may be), beside a folder above it. Relative to the checkout, never a fixed path.
  bundle="$(dirname "$ROOT")/shared/rustsec/advisory-db.bundle"
  bundle_from="../shared/rustsec/ beside the repository root or a folder above it"
  dir="$(dirname "$ROOT")"
  while [[ "$dir" != / ]]; do
    if [[ -f "$dir/shared/rustsec/advisory-db.bundle" ]]; then
      bundle="$dir/shared/rustsec/advisory-db.bundle"
      break
    fi
    dir="$(dirname "$dir")"
  done
fi

# Unix time of a repository's last commit; 0 when there is no readable repository.
commit_time() {
  [[ -d "$1/.git" ]] && git -C "$1" log -1 --format=%ct 2>/dev/null || echo 0
}

# Restores the snapshot into $db unless the copy there is at least as new. The clone is made
# beside $db and renamed into place; the caller holds cargo-deny's own lock on the directory.
restore_snapshot() {
  if [[ ! -f "$bundle" ]]; then
    log "no advisory database snapshot at $bundle (from $bundle_from)"
    return 0
  fi
  local tmp out
  tmp="$(mktemp -d "$db_root/.restore.XXXXXX")"
  if ! out="$(git -c init.defaultBranch=main clone -q "$bundle" "$tmp/db" 2>&1)"; then
    log "the snapshot $bundle could not be restored: $out"
    rm -rf "$tmp"
    return 0
  fi
  if [[ -d "$db" ]] && (($(commit_time "$tmp/db") <= $(commit_time "$db"))); then
    log "the copy in $db is at least as new as the snapshot $bundle; keeping it"
    rm -rf "$tmp"
    return 0
  fi
  # origin is GitHub, as in a copy cargo-deny cloned itself: `cargo deny fetch db` then updates
  # it from there, not from the bundle (which would look like a successful fetch).
  git -C "$tmp/db" remote set-url origin "$db_url"
  git -C "$tmp/db" config stsvend.snapshot "$bundle"
  if [[ -e "$db" ]]; then
    mv "$db" "$tmp/old"
  fi
  mv "$tmp/db" "$db"
  rm -rf "$tmp"
  log "restored the snapshot $bundle into $db"
}

# A copy cloned from a bundle by hand has the bundle as origin, and `cargo deny fetch db` would
# "fetch" from it; point it at GitHub and remember where it came from.
adopt_copy() {
  local origin
  [[ -d "$db/.git" ]] || return 0
  origin="$(git -C "$db" remote get-url origin 2>/dev/null)" || return 0
  if [[ "$origin" != "$db_url" ]]; then
    git -C "$db" config stsvend.snapshot "$origin"
    git -C "$db" remote set-url origin "$db_url"
  fi
}

mkdir -p "$db_root"
# cargo-deny takes this lock (flock) while it reads or fetches the database; holding it here
# means other checks on this machine never see the copy half-replaced.
with_db_lock() { (flock -w 300 9 && "$@") 9>>"$db_root/db.lock" || log "could not lock $db_root"; }
with_db_lock adopt_copy
if timeout 60 cargo deny fetch db >/dev/null 2>&1; then
  log "advisory database fetched from $db_url"
  git -C "$db" config --unset stsvend.snapshot 2>/dev/null || true
else
  log "could not fetch the advisory database (GitHub unreachable?)"
  with_db_lock restore_snapshot
fi

if [[ -d "$db/.git" && -d "$db/crates" ]]; then
  last="$(commit_time "$db")"
  age_days=$((($(date +%s) - last) / 86400))
  from="$(git -C "$db" config --get stsvend.snapshot || echo "$db_url")"
  log "advisories: checking against $db, from $from (last commit $(date -u -d "@$last" +%F), $age_days days old)"
  # cargo-deny's own staleness check (maximum-db-staleness, 90 days) counts from when the copy
  # was fetched or restored, not from the database's last commit; say so when the data is older.
  if ((age_days > 90)); then
    log "  WARNING: the database is more than 90 days old; advisories published since are missed."
    log "  Refresh the snapshot ($bundle) or fetch the database where GitHub is reachable."
  fi
  "${deny[@]}" advisories
else
  log "advisories NOT CHECKED: no RustSec database in $db;"
  log "  it cannot be fetched here and there is no snapshot at $bundle ($bundle_from)."
  log "  Run 'cargo deny fetch db' where GitHub is reachable, or set STSVEND_RUSTSEC_BUNDLE to a"
  log "  git bundle of $db_url (or the folder holding advisory-db.bundle)."
  if [[ "${STSVEND_REQUIRE_ADVISORIES:-0}" == 1 ]]; then
    exit 1
  fi
fi
