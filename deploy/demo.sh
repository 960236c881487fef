#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts mms-sim with a demo scenario and the
# daemon with config/demo.json, then shows alert lines as they come. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh --demo
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMSMON_BUILD_TESTS=ON >/dev/null
cmake --build build -j "$(nproc)" --target mmsmon mms-sim

work=/tmp/mmsmon-demo
rm -rf "$work"
mkdir -p "$work"
. tests/lib.sh
cleanup() {
  stop_children
  echo
  echo "demo stopped; files are in $work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

start_with_port sim_port mms-sim "$work/sim.log" build/tests/mms-sim --scenario tests/sim/scenarios/demo.json
# The demo config, pointed at this simulator; listen on 9854 unless it is taken.
listen=127.0.0.1:9854
if (exec 3<>/dev/tcp/127.0.0.1/9854) 2>/dev/null; then listen=127.0.0.1:0; fi
sed -e "s#http://127.0.0.1:8080#http://127.0.0.1:$sim_port#" -e "s#127.0.0.1:9854#$listen#" \
  config/demo.json >"$work/mmsmon.json"
export ALIBABA_CLOUD_ACCESS_KEY_ID=demo-access-key-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=demo-access-key-secret
start_with_port port mmsmon "$work/mmsmon.log" build/mmsmon --config "$work/mmsmon.json"

cat <<MSG

  status page:  http://127.0.0.1:$port/    (open it in a browser)

mmsmon is watching 4 jobs on the simulated MMS API at http://127.0.0.1:$sim_port
  metrics:      http://127.0.0.1:$port/metrics
  jobs (JSON):  http://127.0.0.1:$port/api/v1/jobs
  alert file:   $work/alerts.log    (main log: $work/mmsmon.log)
Within a minute: migrate_sales starts, migrate_users is stopped and later resumed,
migrate_logs fails, migrate_sales succeeds; job 13 does not exist.
Alert lines as they come (Ctrl-C stops the demo):

MSG
tail -n +1 -F "$work/alerts.log" 2>/dev/null &
pids+=($!)
# Every 15 s, a short progress table from the daemon's own API.
while sleep 15; do
  echo "--- $(date -u +%H:%M:%S) mms_job_progress_ratio from http://127.0.0.1:$port/metrics"
  curl -s "http://127.0.0.1:$port/metrics" | grep '^mms_job_progress_ratio' || true
done
