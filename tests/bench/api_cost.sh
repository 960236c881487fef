#!/usr/bin/env bash
# API cost benchmark: requests an hour to watch 10,000 jobs in 10 data sources (80 % finished,
# 15 % running, 5 % not started) at the same poll interval for running jobs, in three modes:
#   per-job   GetMmsJob for every job every interval (page_refresh false, no cadence)
#   pages     running jobs refreshed by ListMmsJobs pages (no cadence)
#   cadence   pages, and cadence by status (the defaults: INIT every 5m, finished never)
#   tasks     cadence, and the failed tasks of running jobs checked every interval too
#             (tasks.interval; the other modes leave it at 2m, outside the window measured)
# plus mmsmon's CPU and peak RSS in each.
# Usage: tests/bench/api_cost.sh [BUILD] [INTERVAL_S] [SECONDS] [MODES (default: all four)]
# Figures go in README's "Benchmark" (not run in CI).
set -euo pipefail
build=${1:-build}
interval=${2:-5}
seconds=${3:-60}
modes=${4:-per-job pages cadence tasks}
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; rm -rf "$work"' EXIT

# 10 sources x 1,000 jobs: 800 DONE, 150 DOING, 50 INIT each.
{
  echo '{"verify_signatures": false, "jobs": ['
  for s in $(seq 1 10); do
    for j in $(seq 1 1000); do
      if ((j <= 800)); then st=DONE; elif ((j <= 950)); then st=DOING; else st=INIT; fi
      printf '{"source_id": %d, "job_id": %d, "name": "job_%d_%d", "status": "%s", "task_num": 100, "task_done": 10}' \
        "$s" "$j" "$s" "$j" "$st"
      if ((s < 10 || j < 1000)); then echo ,; else echo; fi
    done
  done
  echo ']}'
} >"$work/scenario.json"
start_with_port sim_port mms-sim "$work/sim.log" "$build/tests/mms-sim" --scenario "$work/scenario.json"
admin() { curl -sf --max-time 10 -X "$1" "http://127.0.0.1:$sim_port$2"; }
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

run() {  # run NAME POLL_JSON [TOP_LEVEL_KEYS]
  case " $modes " in *" $1 "*) ;; *) return 0 ;; esac
  {
    echo "{\"api\": {\"endpoint\": \"http://127.0.0.1:$sim_port\", \"timeout\": \"5s\"},"
    echo " \"poll\": $2,${3:+ $3,}"
    echo " \"listen\": \"127.0.0.1:0\", \"alerts\": {\"file\": \"$work/alerts.log\"}, \"log_level\": \"warn\","
    echo " \"jobs\": ["
    for s in $(seq 1 10); do job_refs "$s" 1000 | sed '$ s/$/,/'; done | sed '$ s/,$//'
    echo "]}"
  } >"$work/$1.json"
  ALIBABA_CLOUD_ACCESS_KEY_ID=b ALIBABA_CLOUD_ACCESS_KEY_SECRET=b \
    start_with_port port mmsmon "$work/$1.log" "$build/mmsmon" --config "$work/$1.json"
  local pid=${pids[-1]}
  ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready")" = 200 ]; }
  wait_until 120 ready || { echo "api_cost: mmsmon not ready ($1)"; exit 1; }
  sleep $((interval * 3))  # past the first polls and the confirmations: the steady state
  admin POST /admin/stats/reset >/dev/null
  local c0 t0 c1 requests rss
  c0=$(cpu_of "$pid"); t0=$SECONDS
  sleep "$seconds"
  c1=$(cpu_of "$pid")
  requests=$(admin GET /admin/stats | node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0)).requests))')
  rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
  stop_pid "$pid" || true
  awk -v n="$1" -v r="$requests" -v s="$((SECONDS - t0))" -v i="$interval" -v c0="$c0" -v c1="$c1" -v rss="$rss" 'BEGIN {
    printf "| %s | %.0f | %.0f | %.2f | %.1f |\n", n, r / s * 3600, r / s * 3600 * i / 60, (c1 - c0) / s * 100, rss / 1024 }'
}

echo "| mode | requests/h at poll.interval ${interval}s | requests/h at 60s | CPU % | peak RSS MB |"
echo "|---|---|---|---|---|"
same="\"interval\": \"${interval}s\", \"jitter\": 0.1, \"max_in_flight\": 16, \"pending_interval\": \"${interval}s\", \"finished_interval\": \"${interval}s\""
run per-job "{$same, \"page_refresh\": false}"
run pages "{$same, \"page_refresh\": true}"
run cadence "{\"interval\": \"${interval}s\", \"jitter\": 0.1, \"max_in_flight\": 16, \"page_refresh\": true}"
run tasks "{\"interval\": \"${interval}s\", \"jitter\": 0.1, \"max_in_flight\": 16, \"page_refresh\": true}" \
  "\"tasks\": {\"interval\": \"${interval}s\"}"
