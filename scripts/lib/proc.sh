# The one way the scripts start, find, wait for and stop a background process. Sourced:
#   source "$ROOT/scripts/lib/proc.sh"
#
#   proc_start NAME LOG CMD...        start CMD in the background (stdin closed, output appended
#                                     to LOG); its pid goes to $RUN/NAME.pid
#   proc_pid NAME MATCH               print the pid of $RUN/NAME.pid when that process is alive
#                                     and its command line contains MATCH (so a stale pid file
#                                     never names somebody else's process); else status 1
#   proc_kill PID [SECONDS]           TERM, wait up to SECONDS (5), then KILL: that pid only
#   proc_stop NAME MATCH [SECONDS]    proc_kill of NAME's live pid, and its pid file removed
#   proc_wait_http URL SECONDS PID LOG
#                                     wait until URL answers 2xx, by curl's own retries; fails
#                                     with LOG's tail as soon as PID has exited, or at the bound
#
# RUN must be set (the run directory). Messages go to stderr, tagged with $PROC_TAG.

proc_log() { printf '[%s] %s\n' "${PROC_TAG:-proc}" "$*" >&2; }

proc_start() {
  local name="$1" log="$2"
  shift 2
  mkdir -p "$RUN" "$(dirname "$log")"
  nohup "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

proc_pid() {
  local file="$RUN/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}

proc_kill() {
  local pid="$1" seconds="${2:-5}"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + seconds))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    proc_log "pid $pid did not exit after TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

proc_stop() {
  local name="$1" pid
  if pid="$(proc_pid "$1" "$2")"; then
    proc_kill "$pid" "${3:-5}"
    proc_log "stopped $name (pid $pid)"
  fi
  rm -f "$RUN/$name.pid"
}

# Each curl retries a refused connection and transient answers (5xx, 429) once a second for up
# to 5 s; between those slices the process is checked, so an early exit is reported at once.
proc_wait_http() {
  local url="$1" seconds="$2" pid="$3" log="$4"
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null --max-time 2 --retry 4 --retry-delay 1 --retry-connrefused \
      --retry-max-time 5 "$url" 2>/dev/null; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      proc_log "pid $pid exited before $url answered; log tail ($log):"
      tail -n 30 "$log" >&2 || true
      return 1
    fi
  done
  proc_log "$url did not answer within ${seconds}s; log tail ($log):"
  tail -n 30 "$log" >&2 || true
  return 1
}
