#!/usr/bin/env bash
# Benchmark: mmsmon polling 10,000 jobs on mms-sim, and wrk against the same simulator
# endpoint (signature checks off) for a baseline of one bare HTTP request.
# Usage: tests/bench/bench.sh [BUILD_DIR] [JOBS] [INTERVAL_SECONDS] [SECONDS]
# Reports: sustained polls/s, CPU seconds per 1,000 polls, peak RSS, /metrics render time
# and size, wrk CPU per request and the ratio, as rows of README's "Benchmark" table. Exits 1
# when a target is missed: /metrics < 50 ms, RSS < 64 MB, CPU per poll within 3x of wrk's
# CPU per request. (Not run in CI: timings on a shared VM are noisy.)
set -euo pipefail
build=${1:-build}
jobs=${2:-10000}
interval=${3:-10}
seconds=${4:-30}
command -v wrk >/dev/null || { echo "bench: wrk is needed (deploy/bootstrap.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; rm -rf "$work"' EXIT

cat >"$work/scenario.json" <<JSON
{"verify_signatures": false,
 "generate": {"source_id": 1, "count": $jobs, "task_num": 100000, "task_done": 10, "rate": 0.5,
              "status": "DOING"}}
JSON
start_with_port sim_port mms-sim "$work/sim.log" "$build/tests/mms-sim" --scenario "$work/scenario.json"

{
  echo "{\"api\": {\"endpoint\": \"http://127.0.0.1:$sim_port\", \"timeout\": \"5s\"},"
  echo " \"poll\": {\"interval\": \"${interval}s\", \"jitter\": 0.1, \"max_in_flight\": 16, \"page_refresh\": false},"
  echo " \"listen\": \"127.0.0.1:0\", \"alerts\": {\"file\": \"$work/alerts.log\"}, \"log_level\": \"warn\","
  echo " \"tasks\": {\"interval\": \"0s\"},"  # polls alone: task checks have a cost of their own
  echo " \"jobs\": ["
  job_refs 1 "$jobs"
  echo "]}"
} >"$work/mmsmon.json"
ALIBABA_CLOUD_ACCESS_KEY_ID=bench ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench \
  start_with_port port mmsmon "$work/mmsmon.log" "$build/mmsmon" --config "$work/mmsmon.json"
mmsmon_pid=${pids[-1]}

cpu_of() {  # user+system CPU seconds of a process
  awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"
}
polls() {
  curl -s "http://127.0.0.1:$port/metrics" | awk '/^mmsmon_api_requests_total\{action="GetMmsJob"\}/ { print $2 }'
}

echo "warming up: until every job has been polled once (/-/ready)..."
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready")" = 200 ]; }
wait_until $((interval * 3 + 30)) ready || { echo "bench: mmsmon not ready"; exit 1; }
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

stop_pid "$mmsmon_pid" || true

# Baseline: wrk on the same endpoint of the same simulator (signature checks are off).
TIMEFORMAT='%U %S'
{ time wrk -t1 -c8 -d10s "http://127.0.0.1:$sim_port/api/v1/mms/datasources/1/jobs/1" >"$work/wrk.txt"; } 2>"$work/wrk.cpu"
wrk_requests=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
read -r wu ws <"$work/wrk.cpu"

awk -v p0="$p0" -v p1="$p1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v rss="$rss_kb" \
    -v ss="$scrape_s" -v sb="$scrape_bytes" -v series="$series" -v wr="$wrk_requests" \
    -v wu="$wu" -v ws="$ws" -v jobs="$jobs" -v interval="$interval" '
function row(name, value, target, ok) {
  printf "| %s | %s | %s |%s\n", name, value, target, ok ? "" : "  <-- target missed"
  if (!ok) missed++
}
BEGIN {
  polls = p1 - p0; secs = t1 - t0; cpu = c1 - c0
  per_poll = cpu / polls; wrk_per = (wu + ws) / wr
  printf "| measure | %d jobs, interval %ss | target |\n|---|---|---|\n", jobs, interval
  row("sustained polls/s", sprintf("%d", polls / secs), "—", 1)
  row("CPU seconds per 1,000 polls", sprintf("%.3f (%.1f µs per poll)", 1000 * per_poll, 1e6 * per_poll), "—", 1)
  row("peak RSS", sprintf("%.1f MB", rss / 1024), "< 64 MB", rss / 1024 < 64)
  row(sprintf("`/metrics` render (%.1f MB, %d series)", sb / 1048576, series), sprintf("%.0f ms", ss * 1000), "< 50 ms", ss < 0.050)
  row("wrk CPU per request", sprintf("%.1f µs (%d requests)", 1e6 * wrk_per, wr), "—", 1)
  row("ratio poll / bare request", sprintf("%.2f", per_poll / wrk_per), "≤ 3", per_poll / wrk_per <= 3)
  exit missed > 0
}'
