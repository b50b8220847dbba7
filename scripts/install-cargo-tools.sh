#!/usr/bin/env bash
# Installs the cargo subcommands CI uses, at pinned versions, only when missing or at another
# version: cargo-deny (supply-chain checks, deny.toml) and cargo-fuzz (fuzz/). Idempotent;
# about 4 minutes the first time on 2 cores, a second or so afterwards.
#
#   bash scripts/install-cargo-tools.sh            # both
#   bash scripts/install-cargo-tools.sh cargo-deny # only the ones named
set -euo pipefail

CARGO_DENY_VERSION=0.20.2
CARGO_FUZZ_VERSION=0.13.2

log() { printf '[cargo-tools] %s\n' "$*" >&2; }

# `cargo deny --version` prints "cargo-deny 0.20.2"; `cargo fuzz --version` "cargo-fuzz 0.13.2".
installed_version() {
  local sub="${1#cargo-}"
  cargo "$sub" --version 2>/dev/null | awk '{print $2}'
}

ensure() {
  local name="$1" version="$2" have
  have="$(installed_version "$name" || true)"
  if [[ "$have" == "$version" ]]; then
    return 0
  fi
  log "installing $name $version (found: ${have:-none})"
  # Its own target dir, so the project's build cache is left alone and nothing is shared with
  # a concurrent build.
  CARGO_TARGET_DIR="${CARGO_TOOLS_TARGET_DIR:-${TMPDIR:-/tmp}/stsvend-cargo-tools}" \
    cargo install --locked --quiet --force "$name" --version "$version"
  [[ "$(installed_version "$name")" == "$version" ]] || { log "$name $version did not install"; exit 1; }
}

tools=("$@")
((${#tools[@]})) || tools=(cargo-deny cargo-fuzz)
for t in "${tools[@]}"; do
  case "$t" in
    cargo-deny) ensure cargo-deny "$CARGO_DENY_VERSION" ;;
    cargo-fuzz) ensure cargo-fuzz "$CARGO_FUZZ_VERSION" ;;
    *) log "unknown tool $t"; exit 2 ;;
  esac
done
