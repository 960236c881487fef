#!/usr/bin/env bash
# Benchmark: mmsmon polling 10,000 jobs on mms-sim, and wrk against the same simulator
# endpoint (signature checks off) for a baseline of one bare HTTP request.
# Usage: tests/bench/bench.sh [BUILD_DIR] [JOBS] [INTERVAL_SECONDS] [SECONDS]
# Reports: sustained polls/s, CPU seconds per 1,000 polls, peak RSS, /metrics render time
# and size, wrk CPU per request and the ratio. Targets: /metrics < 50 ms, RSS < 64 MB,
# CPU per poll within 3x of wrk's CPU per request.
set -euo pipefail
build=${1:-build}
jobs=${2:-10000}
interval=${3:-10}
seconds=${4:-30}
command -v wrk >/dev/null || { echo "bench: wrk is needed (deploy/bootstrap.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

cat >"$work/scenario.json" <<JSON
{"verify_signatures": false,
 "generate": {"source_id": 1, "count": $jobs, "task_num": 100000, "task_done": 10, "rate": 0.5,
              "status": "DOING"}}
JSON
mkfifo "$work/sim.port" "$work/mmsmon.port"
"$build/tests/mms-sim" --scenario "$work/scenario.json" --port-file "$work/sim.port" 2>/dev/null &
sim_pid=$!
pids+=($sim_pid)
read -r sim_port <"$work/sim.port"

{
  echo "{\"api\": {\"endpoint\": \"http://127.0.0.1:$sim_port\", \"timeout\": \"5s\"},"
  echo " \"poll\": {\"interval\": \"${interval}s\", \"jitter\": 0.1, \"max_in_flight\": 16},"
  echo " \"listen\": \"127.0.0.1:0\", \"alerts\": {\"file\": \"$work/alerts.log\"}, \"log_level\": \"warn\","
  echo " \"jobs\": ["
  for ((i = 1; i <= jobs; i++)); do
    printf '{"source_id": 1, "job_id": %d}%s\n' "$i" "$([ "$i" -lt "$jobs" ] && echo ,)"
  done
  echo "]}"
} >"$work/mmsmon.json"
ALIBABA_CLOUD_ACCESS_KEY_ID=bench ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench \
  "$build/mmsmon" --config "$work/mmsmon.json" --port-file "$work/mmsmon.port" 2>"$work/mmsmon.log" &
mmsmon_pid=$!
pids+=($mmsmon_pid)
read -r port <"$work/mmsmon.port"

cpu_of() {  # user+system CPU seconds of a process
  awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"
}
polls() {
  curl -s "http://127.0.0.1:$port/metrics" | awk '/^mmsmon_api_requests_total\{action="GetMmsJob"\}/ { print $2 }'
}

echo "warming up: one full interval (${interval}s) so that every job is polled once..."
sleep "$interval"
p0=$(polls); c0=$(cpu_of "$mmsmon_pid"); t0=$(date +%s.%N)
sleep "$seconds"
p1=$(polls); c1=$(cpu_of "$mmsmon_pid"); t1=$(date +%s.%N)
rss_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$mmsmon_pid/status")

# /metrics: five scrapes, the median time.
for i in 1 2 3 4 5; do
  curl -s -o "$work/metrics.txt" -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port/metrics"
done | sort -n >"$work/scrapes"
read -r scrape_s scrape_bytes < <(sed -n 3p "$work/scrapes")
series=$(grep -vc '^#' "$work/metrics.txt")

kill "$mmsmon_pid"; wait "$mmsmon_pid" 2>/dev/null || true

# Baseline: wrk on the same endpoint of the same simulator (signature checks are off).
TIMEFORMAT='%U %S'
{ time wrk -t1 -c8 -d10s "http://127.0.0.1:$sim_port/api/v1/mms/datasources/1/jobs/1" >"$work/wrk.txt"; } 2>"$work/wrk.cpu"
wrk_requests=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
read -r wu ws <"$work/wrk.cpu"

awk -v p0="$p0" -v p1="$p1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v rss="$rss_kb" \
    -v ss="$scrape_s" -v sb="$scrape_bytes" -v series="$series" -v wr="$wrk_requests" \
    -v wu="$wu" -v ws="$ws" -v jobs="$jobs" -v interval="$interval" '
BEGIN {
  polls = p1 - p0; secs = t1 - t0; cpu = c1 - c0
  per_poll = cpu / polls; wrk_per = (wu + ws) / wr
  printf "jobs                         %d (interval %ss, jitter 0.1)\n", jobs, interval
  printf "sustained polls/s            %.0f\n", polls / secs
  printf "CPU seconds per 1,000 polls  %.3f  (%.1f us per poll)\n", 1000 * per_poll, 1e6 * per_poll
  printf "peak RSS                     %.1f MB  (target < 64 MB)\n", rss / 1024
  printf "/metrics render              %.1f ms, %.1f MB, %d series  (target < 50 ms)\n", ss * 1000, sb / 1048576, series
  printf "wrk CPU per request          %.1f us  (%d requests)\n", 1e6 * wrk_per, wr
  printf "ratio poll / wrk request     %.2f  (target <= 3)\n", per_poll / wrk_per
}'
