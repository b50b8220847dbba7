# The one way the scripts run a cargo build a reader does not need to watch line by line.
# Sourced after proc.sh:
#   source "$ROOT/scripts/lib/build.sh"
#
#   build_quietly LOG CMD...   run CMD (a cargo build) with its whole output in LOG; meanwhile
#                              one line tells how many crates are compiled so far (rewritten in
#                              place on a terminal, once a minute otherwise); at the end one
#                              summary line, or on failure the errors and the log's tail.
#                              Returns CMD's status.
#
# A cold build compiles ~480 crates; their `Compiling ...` lines stay in LOG.

build_quietly() {
  local log="$1"
  shift
  mkdir -p "$(dirname "$log")"
  local started=$SECONDS pid status=0 compiled last_said=$SECONDS tty=""
  [[ -t 2 ]] && tty=1
  proc_log "build: $* (full log: $log)"
  "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    compiled="$(grep -c '^ *Compiling ' "$log" || true)"
    if [[ -n "$tty" ]]; then
      printf '\r[%s] build: %s crates compiled, %s s' "${PROC_TAG:-proc}" "$compiled" $((SECONDS - started)) >&2
    elif ((SECONDS - last_said >= 60)); then
      proc_log "build: $compiled crates compiled so far, $((SECONDS - started)) s"
      last_said=$SECONDS
    fi
  done
  wait "$pid" || status=$?
  [[ -n "$tty" ]] && printf '\r\033[K' >&2
  compiled="$(grep -c '^ *Compiling ' "$log" || true)"
  local warnings
  warnings="$(grep -c '^warning' "$log" || true)"
  if ((status == 0)); then
    local said="build: $compiled crates compiled in $(build_duration $((SECONDS - started)))"
    ((compiled)) || said="build: up to date ($(build_duration $((SECONDS - started))))"
    ((warnings == 0)) || said+=", $warnings warnings (see the log)"
    proc_log "$said"
    return 0
  fi
  proc_log "build FAILED (exit $status) after $(build_duration $((SECONDS - started))); its errors, then the log's tail ($log):"
  grep -E -A 12 '^error(\[|:)' "$log" | head -n 80 >&2 || true
  echo '...' >&2
  tail -n 15 "$log" >&2
  return "$status"
}

build_duration() {
  local s="$1"
  if ((s >= 60)); then
    echo "$((s / 60)) min $((s % 60)) s"
  else
    echo "$s s"
  fi
}
