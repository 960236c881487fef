#!/usr/bin/env bash
# A real Prometheus scrapes mmsmon (with deploy/prometheus/prometheus.yml) while mmsmon
# polls mms-sim; the test asks Prometheus's HTTP API that up is 1 and that
# mms_job_progress_ratio has the expected value.
# Usage: prometheus_test.sh MMSMON MMS_SIM SOURCE_DIR
# Runs in a private network namespace (unshare -n), so Prometheus's own port cannot
# collide with anything; mmsmon and mms-sim still bind port 0 and report it.
set -euo pipefail
if [ "${1:-}" != --inside ]; then
  command -v prometheus >/dev/null || { echo "prometheus is not installed (deploy/bootstrap.sh)"; exit 1; }
  exec unshare --net "$0" --inside "$@"
fi
shift
mmsmon=$1 sim=$2 src=$3
ip link set lo up
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

cat >"$work/scenario.json" <<'JSON'
{"credentials": [{"access_key_id": "prom-id", "access_key_secret": "prom-secret"}],
 "jobs": [{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 200, "task_done": 50},
          {"source_id": 7, "job_id": 2, "name": "users", "task_num": 10, "task_done": 10, "status": "DONE"}]}
JSON
mkfifo "$work/sim.port" "$work/mmsmon.port"
"$sim" --scenario "$work/scenario.json" --port-file "$work/sim.port" 2>"$work/sim.log" &
pids+=($!)
read -r sim_port <"$work/sim.port"
cat >"$work/mmsmon.json" <<JSON
{"api": {"endpoint": "http://127.0.0.1:$sim_port"},
 "poll": {"interval": "1s", "jitter": 0},
 "jobs": [{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}],
 "listen": "127.0.0.1:0",
 "alerts": {"file": "$work/alerts.log"}}
JSON
ALIBABA_CLOUD_ACCESS_KEY_ID=prom-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=prom-secret \
  "$mmsmon" --config "$work/mmsmon.json" --port-file "$work/mmsmon.port" 2>"$work/mmsmon.log" &
pids+=($!)
read -r mmsmon_port <"$work/mmsmon.port"

# The shipped scrape config, pointed at this mmsmon and scraping every second.
sed -e "s/localhost:9854/127.0.0.1:$mmsmon_port/" -e "s/scrape_interval: 30s/scrape_interval: 1s/" \
    -e "s/scrape_timeout: 10s/scrape_timeout: 1s/" -e "s/evaluation_interval: 30s/evaluation_interval: 1s/" \
    "$src/deploy/prometheus/prometheus.yml" >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address=127.0.0.1:9090 --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)

query() {  # query PROMQL -> the value of the first result, or nothing
  curl -sf --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
    sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p'
}
# Prometheus offers no event to wait on: ask until the answer comes (bounded: 60 s).
wait_value() {  # wait_value PROMQL EXPECTED
  local v=""
  for _ in $(seq 1 300); do
    v=$(query "$1" || true)
    [ "$v" = "$2" ] && return 0
    sleep 0.2
  done
  echo "last answer for $1: '${v}'"
  return 1
}

passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); echo "ok   ${*:2}"; else failed=$((failed + 1)); echo "FAIL ${*:2}"; fi; }
check wait_value 'up{job="mmsmon"}' 1
check wait_value 'mms_job_progress_ratio{job="mmsmon",source_id="7",job_id="1"}' 0.25
check wait_value 'mms_job_status{job="mmsmon",job_id="2",status="DONE"}' 1
check wait_value 'mms_job_tasks{job="mmsmon",job_id="1"}' 200
check wait_value 'count(mms_job_info{job="mmsmon",name="orders"})' 1
if [ "$failed" -ne 0 ]; then
  echo "--- prometheus.log"; cat "$work/prometheus.log"; echo "--- mmsmon.log"; cat "$work/mmsmon.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
