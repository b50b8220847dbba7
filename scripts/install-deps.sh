#!/usr/bin/env bash
# Installs the machine-level tools the project needs, when missing: curl, Python 3 with venv,
# Node.js with npm, Chromium for the browser test (Debian packages), and the rustfmt/clippy
# components. Idempotent.
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
# JSON in the scripts (tokens, vend answers, test figures) is read with jq.
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The web app's browser test drives Debian's Chromium through playwright-core (which cannot
# download a browser of its own here).
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
# The fleet tests and scripts/fleet.sh put Debian's HAProxy in front of the replicas.
[[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
