# Shared helpers of the shell tests (and the demo): start children that report their port
# through a FIFO with every wait bounded, stop them with a bounded wait, count checks.
# Source it after setting `work` (a scratch directory the caller removes):
#   work=$(mktemp -d); . "$(dirname "$0")/../lib.sh"; trap 'stop_children; rm -rf "$work"' EXIT
# shellcheck shell=bash

: "${work:?set work to a scratch directory before sourcing lib.sh}"
pids=()
passed=0 failed=0
: "${START_DEADLINE:=20}"  # seconds a child may take to report its port
: "${STOP_DEADLINE:=10}"   # seconds a child may take to exit after SIGTERM

# The last lines of a log, indented, for failure messages.
log_tail() {
  if [ -s "$1" ]; then tail -n "${2:-30}" "$1" | sed 's/^/  | /'; else echo "  (empty)"; fi
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# start_with_port VAR NAME LOG CMD [ARGS...]
# Starts CMD ARGS --port-file FIFO in the background with its stderr in LOG and stores the
# port it reports in VAR. A child that exits first, or reports nothing within
# START_DEADLINE seconds, ends the script with a message naming it and its log's tail.
start_with_port() {
  local _var=$1 _name=$2 _log=$3
  shift 3
  local _fifo _fd _pid _port=""
  _fifo=$(mktemp -u "$work/port.XXXXXX")
  mkfifo "$_fifo"
  # Read-write: the open does not block, and a child that dies cannot leave us waiting.
  exec {_fd}<>"$_fifo"
  "$@" --port-file "$_fifo" 2>"$_log" &
  _pid=$!
  pids+=("$_pid")
  local _deadline=$((SECONDS + START_DEADLINE))
  until read -r -t 0.2 -u "$_fd" _port; do
    if ! alive "$_pid"; then
      wait "$_pid" 2>/dev/null
      echo "FAIL $_name exited (status $?) before reporting its port; its log ends:" >&2
      log_tail "$_log" >&2
      exit 1
    fi
    if ((SECONDS >= _deadline)); then
      echo "FAIL waited ${START_DEADLINE}s for $_name to report its port; its log ends:" >&2
      log_tail "$_log" >&2
      exit 1
    fi
  done
  exec {_fd}<&-
  printf -v "$_var" '%s' "$_port"
}

# stop_pid PID: SIGTERM, then SIGKILL after STOP_DEADLINE seconds. Returns the exit status
# (137 when it had to be killed).
stop_pid() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
  for ((i = 0; i < STOP_DEADLINE * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  alive "$pid" && kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# For the EXIT trap: stops every child started here, each within its deadline.
stop_children() {
  local p
  for p in "${pids[@]}"; do stop_pid "$p" || true; done
}

# check NAME COMMAND [ARGS...]: runs a check, prints ok/FAIL, counts it.
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"
  fi
}
contains() { grep -qF -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }

# wait_until SECONDS COMMAND [ARGS...]: retries COMMAND every 0.2 s until it succeeds or
# SECONDS pass (for peers that offer no event to wait on, such as Prometheus's API).
wait_until() {
  local limit=$1 deadline
  shift
  deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# job_refs SOURCE_ID COUNT: the JSON items {"source_id": SOURCE_ID, "job_id": 1..COUNT},
# comma-separated, one a line (for a config's "jobs" or a scenario's job list).
job_refs() {
  local i
  for ((i = 1; i <= $2; i++)); do
    printf '{"source_id": %d, "job_id": %d}%s\n' "$1" "$i" "$([ "$i" -lt "$2" ] && echo ,)"
  done
}

# The closing line CI reads, and the exit status.
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
