#!/usr/bin/env bash
# The status page with JOBS jobs (default 10,000), all polled, in headless chromium.
# Usage: tests/bench/page_bench.sh BUILD_DIR [JOBS]
set -euo pipefail
build=$1 jobs=${2:-10000}
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
. "$src/tests/lib.sh"
trap 'stop_children; rm -rf "$work"' EXIT
"$src/tests/npm_ci.sh" "$src/tests/ui" "$build/tests/ui/node" puppeteer-core
echo "{\"verify_signatures\": false, \"generate\": {\"source_id\": 1, \"count\": $jobs, \"task_num\": 1000, \"rate\": 1}}" >"$work/sim.json"
start_with_port sim_port mms-sim "$work/sim.log" "$build/tests/mms-sim" --scenario "$work/sim.json"
{
  echo "{\"api\": {\"endpoint\": \"http://127.0.0.1:$sim_port\"}, \"poll\": {\"interval\": \"10s\", \"max_in_flight\": 32},"
  echo " \"listen\": \"127.0.0.1:0\", \"alerts\": {\"file\": \"$work/alerts.log\"}, \"jobs\": ["
  job_refs 1 "$jobs"
  echo "]}"
} >"$work/mmsmon.json"
ALIBABA_CLOUD_ACCESS_KEY_ID=bench ALIBABA_CLOUD_ACCESS_KEY_SECRET=bench \
  start_with_port port mmsmon "$work/mmsmon.log" "$build/mmsmon" --config "$work/mmsmon.json"
wait_until 60 curl -sf -o /dev/null "http://127.0.0.1:$port/-/ready" || { echo "not every job polled within 60 s"; exit 1; }
echo "/api/v1/jobs: $(curl -sf "http://127.0.0.1:$port/api/v1/jobs" | wc -c) bytes for $jobs jobs"
node "$build/tests/ui/node/page_bench.mjs" "http://127.0.0.1:$port/"
