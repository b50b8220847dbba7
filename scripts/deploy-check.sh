#!/usr/bin/env bash
# Checks the deployment files in deploy/ against the built stsvend ($STSVEND_BIN, default
# $CARGO_TARGET_DIR/debug/stsvend; build it first):
#   1. promtool check rules   deploy/prometheus/stsvend.rules.yml (and its metrics are ones
#                             `stsvend metrics` names)
#   2. promtool test rules    deploy/prometheus/stsvend.rules.test.yml
#   3. the Grafana dashboard  valid JSON, datasource ${DS_PROMETHEUS}, every query parses as
#                             PromQL and names only metrics stsvend exports
#   4. the systemd unit       systemd-analyze verify, and its STSVEND_* overrides name config keys
#                             `stsvend check-config` knows
# Installs Debian's `prometheus` (for promtool), `systemd` and `python3` when missing. Note that
# on a host with systemd running, installing `prometheus` also enables and starts a Prometheus
# server (port 9090); CI containers refuse the start.
# Ends with `deploy-check: N passed, M failed`; exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${STSVEND_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/stsvend}"
[[ -x "$BIN" ]] || { echo "deploy-check: $BIN does not exist; build it first (cargo build --bin stsvend)" >&2; exit 1; }
RULES=deploy/prometheus/stsvend.rules.yml
RULE_TESTS=deploy/prometheus/stsvend.rules.test.yml
DASHBOARD=deploy/grafana/stsvend.json
UNIT=deploy/systemd/stsvend.service
ENV_EXAMPLE=deploy/systemd/stsvend.env.example

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
  echo "deploy-check: apt-get install ${need[*]}" >&2
  sudo=()
  [[ $EUID -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# Runs one check; prints its output only when it fails (or its last line, as a summary).
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    passed=$((passed + 1))
    echo "ok    $name: $(tail -n 1 "$tmp/out")"
  else
    failed=$((failed + 1))
    echo "FAIL  $name"
    sed 's/^/      /' "$tmp/out"
  fi
}

# The metric names stsvend exports, as the program lists them.
metric_names() {
  "$BIN" metrics
}

rules_check() {
  promtool check rules "$RULES" || return 1
  # Every stsvend_* name the rules use (outside comments) must be one stsvend exports.
  local unknown
  unknown="$(grep -v '^\s*#' "$RULES" | grep -o '\bstsvend_[a-z0-9_]*' | sort -u | grep -vxF -f "$tmp/metrics" || true)"
  if [[ -n $unknown ]]; then
    echo "metrics not exported by stsvend (stsvend metrics): $unknown"
    return 1
  fi
  echo "$(grep -c '^\s*- alert:' "$RULES") alerts over $(grep -v '^\s*#' "$RULES" | grep -o '\bstsvend_[a-z0-9_]*' | sort -u | wc -l) exported metrics"
}

rules_test() {
  promtool test rules "$RULE_TESTS" || return 1
  echo "$(grep -c '^  - name:' "$RULE_TESTS") test groups"
}

dashboard_check() {
  python3 -m json.tool "$DASHBOARD" >/dev/null || return 1
  grep -v '^\s*#' "$RULES" | grep -o '\bstsvend_[a-z0-9_]*' | sort -u >"$tmp/rule-metrics"
  # Writes each query as a recording rule, Grafana's variables replaced, for promtool to parse.
  local summary
  summary="$(python3 - "$DASHBOARD" "$tmp/metrics" "$tmp/rule-metrics" "$tmp/queries.yml" <<'PY'
import json, re, sys
dash_path, metrics_path, rule_metrics_path, out_path = sys.argv[1:]
dash = json.load(open(dash_path))
known = set(open(metrics_path).read().split()) | set(open(rule_metrics_path).read().split())
problems = []
if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus" for i in dash.get("__inputs", [])):
    problems.append("__inputs does not declare DS_PROMETHEUS (a prometheus datasource)")

def ds_ok(where, ds):
    if not (isinstance(ds, dict) and ds.get("uid") == "${DS_PROMETHEUS}"):
        problems.append(f"{where}: datasource is not ${{DS_PROMETHEUS}}: {ds!r}")

def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))

queries = []
count = 0
for p in panels(dash.get("panels", [])):
    if p.get("type") == "row":
        continue
    count += 1
    where = f"panel {p.get('id')} ({p.get('title')!r})"
    ds_ok(where, p.get("datasource"))
    if not p.get("targets"):
        problems.append(f"{where}: no query")
    for t in p.get("targets", []):
        ds_ok(f"{where} target {t.get('refId')}", t.get("datasource", p.get("datasource")))
        queries.append((f"{where} target {t.get('refId')}", t.get("expr", ""), f"grafana:panel_{p.get('id')}_{t.get('refId')}"))
for v in dash.get("templating", {}).get("list", []):
    if v.get("type") == "query":
        ds_ok(f"variable {v.get('name')}", v.get("datasource"))
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else q
        queries.append((f"variable {v.get('name')}", q, None))

rules = []
used = set()
for where, expr, record in queries:
    names = set(re.findall(r"\bstsvend_[a-z0-9_]*", expr))
    if not names:
        problems.append(f"{where}: names no stsvend metric: {expr!r}")
    for n in sorted(names - known):
        problems.append(f"{where}: {n} is neither exported by stsvend nor in the alerting rules")
    used |= names
    if record is None:
        continue
    promql = (expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
              .replace("$__range", "1h").replace("$instance", ".*"))
    if "$" in promql:
        problems.append(f"{where}: unknown Grafana variable in {expr!r}")
    rules.append(f"      - record: {record}\n        expr: {json.dumps(promql)}\n")
with open(out_path, "w") as f:
    f.write("groups:\n  - name: grafana-queries\n    rules:\n" + "".join(rules))
for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"{count} panels, {len(queries)} queries over {len(used)} metrics")
PY
)" || {
    printf '%s\n' "$summary"
    return 1
  }
  promtool check rules "$tmp/queries.yml" >"$tmp/promtool-out" 2>&1 || {
    cat "$tmp/promtool-out"
    return 1
  }
  echo "$summary, all parse as PromQL"
}

systemd_check() {
  # `systemd-analyze verify` insists that ExecStart= names an existing executable, and
  # /usr/local/bin/stsvend is not installed here (and not built by this script): verify a copy
  # of the unit whose ExecStart points at a throwaway script instead. Nothing else changes.
  local dir="$tmp/systemd" out rc=0
  mkdir -p "$dir"
  printf '#!/bin/sh\nexit 0\n' >"$dir/stsvend"
  chmod +x "$dir/stsvend"
  sed "s|^ExecStart=/usr/local/bin/stsvend |ExecStart=$dir/stsvend |" "$UNIT" >"$dir/stsvend.service"
  if ! grep -qx "ExecStart=$dir/stsvend serve --config /etc/stsvend/config.toml" "$dir/stsvend.service"; then
    echo "ExecStart is not \`/usr/local/bin/stsvend serve --config /etc/stsvend/config.toml\`"
    return 1
  fi
  # verify exits 0 after unknown keys or values it cannot parse (it only prints them), so any
  # line about the unit fails the check too.
  out="$(systemd-analyze verify "$dir/stsvend.service" 2>&1)" || rc=$?
  if [[ $rc -ne 0 ]] || grep -q stsvend <<<"$out"; then
    printf '%s\n' "$out"
    return 1
  fi
  # Every STSVEND_<SECTION>__<KEY> set by the unit or the example (commented ones included)
  # must be a key the program's own configuration loader knows: `check-config` with that one
  # override must not call it unknown or not a section (other complaints, such as paths of
  # this machine, do not matter here).
  # Each is tried with the value the file gives it, so a type error cannot hide the key.
  local setting var bad=0 said
  while read -r setting; do
    var="${setting%%=*}"
    said="$(env -i PATH="$PATH" "$setting" "$BIN" check-config --config config.toml 2>&1 || true)"
    if grep -qE "unknown key|is not a section|two underscores" <<<"$said"; then
      echo "$var: $(grep -E "unknown key|is not a section|two underscores" <<<"$said" | head -n1)"
      bad=1
    fi
  done < <(grep -oh 'STSVEND_[A-Z0-9_]*=[^ ]*' "$UNIT" "$ENV_EXAMPLE" | sort -u)
  ((bad == 0)) || return 1
  systemd-analyze security --offline=yes "$dir/stsvend.service" 2>/dev/null | tail -n 1 | sed 's/^→ //'
}

metric_names >"$tmp/metrics"
check "promtool check rules" rules_check
check "promtool test rules" rules_test
check "grafana dashboard" dashboard_check
check "systemd unit" systemd_check
echo "deploy-check: $passed passed, $failed failed"
((failed == 0))
