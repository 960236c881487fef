#!/usr/bin/env bash
# The deploy kit against a real Prometheus: it scrapes (with the shipped prometheus.yml and
# mmsmon-rules.yml) an mmsmon watching mms-sim where every alert's cause is staged (a failed
# job, failed tasks, a job behind its eta, one whose polls fail, throttling, an agent
# offline, a dead alert sink), a second mmsmon whose credentials are rejected and whose
# reload fails, and a target that is down. Then deploy_kit_check.mjs runs every expression
# of the Grafana dashboard and of the rules and checks each returns data.
# Usage: deploy_kit_test.sh MMSMON MMS_SIM SOURCE_DIR
# Runs in a private network namespace (unshare -n), as prometheus_test.sh does.
set -euo pipefail
if [ "${1:-}" != --inside ]; then
  command -v prometheus >/dev/null || { echo "prometheus is not installed (deploy/bootstrap.sh)"; exit 1; }
  exec unshare --net "$0" --inside "$@"
fi
shift
mmsmon=$1 sim=$2 src=$3
ip link set lo up
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

cat >"$work/scenario.json" <<'JSON'
{"credentials": [{"access_key_id": "kit-id", "access_key_secret": "kit-secret"}],
 "datasources": [{"id": 7, "name": "hive", "type": "HIVE", "agent_online": true},
                 {"id": 8, "name": "bigquery", "type": "BIGQUERY", "agent_online": false}],
 "jobs": [
  {"source_id": 7, "job_id": 1, "name": "orders", "task_num": 100000, "task_done": 10, "rate": 2,
   "eta": "2026-01-15"},
  {"source_id": 7, "job_id": 2, "name": "logs", "task_num": 100, "task_done": 10, "rate": 20,
   "fail_at": 20},
  {"source_id": 7, "job_id": 3, "name": "events", "task_num": 100000, "task_done": 5, "rate": 1,
   "failed_tasks": [{"at": 6, "table": "events_2019", "status": "DATA_FAILED", "msg": "ODPS-0130071"}]},
  {"source_id": 7, "job_id": 4, "name": "clicks", "task_num": 100, "task_done": 10},
  {"source_id": 7, "job_id": 5, "name": "carts", "task_num": 100, "task_done": 10},
  {"source_id": 7, "job_id": 6, "name": "users", "task_num": 10, "task_done": 10, "status": "DONE"},
  {"source_id": 8, "job_id": 7, "name": "sessions", "task_num": 100, "task_done": 30, "rate": 1,
   "stop_at": 31, "resume_after": "1h"}]}
JSON
start_with_port sim_port mms-sim "$work/sim.log" "$sim" --scenario "$work/scenario.json"
admin() { curl -sf --max-time 5 -X "$1" "http://127.0.0.1:$sim_port$2" ${3:+-H content-type:application/json -d "$3"} >/dev/null; }
# Job 4's polls fail with server errors once it has been polled (JobUnreachable,
# MmsmonApiErrors, the dashboard's "poll failing" column); job 5's are
# throttled (ApiThrottled); job 7/99, in the config but not in the simulator, is not found
# (JobNotFound).
admin POST /admin/faults '{"job": {"source_id": 7, "job_id": 5}, "error": {"status": 400, "code": "Throttling.User", "message": "slow down"}}'

jobs='[{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}, {"source_id": 7, "job_id": 3},
  {"source_id": 7, "job_id": 4}, {"source_id": 7, "job_id": 5}, {"source_id": 7, "job_id": 6},
  {"source_id": 8, "job_id": 7}, {"source_id": 7, "job_id": 99}]'
cat >"$work/a.json" <<JSON
{"api": {"endpoint": "http://127.0.0.1:$sim_port", "timeout": "2s"},
 "poll": {"interval": "1s", "jitter": 0, "page_refresh": false},
 "tasks": {"interval": "1s"},
 "jobs": $jobs,
 "discover": [{"source_id": 8, "include": ["nothing-matches-*"]}], "discover_interval": "1s",
 "listen": "127.0.0.1:0", "state_file": "$work/a-state.json",
 "alerts": {"file": "$work/a-alerts.log", "eta_window": "1m", "unreachable_after": "2s",
            "sinks": [{"type": "webhook", "name": "dead", "url": "http://127.0.0.1:1/hook"}]}}
JSON
ALIBABA_CLOUD_ACCESS_KEY_ID=kit-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=kit-secret \
  start_with_port a_port mmsmon-a "$work/a.log" "$mmsmon" --config "$work/a.json"
polled_4() { curl -sf --max-time 5 "http://127.0.0.1:$a_port/metrics" | grep -qF 'mms_job_info{source_id="7",job_id="4",'; }
check "job 4 is polled before its fault" wait_until 30 polled_4
admin POST /admin/faults '{"job": {"source_id": 7, "job_id": 4}, "error": {"status": 500, "code": "InternalError", "message": "boom"}}'
# The second daemon's key is wrong; its configuration is broken later and reloaded.
cat >"$work/b.json" <<JSON
{"api": {"endpoint": "http://127.0.0.1:$sim_port", "timeout": "2s"},
 "poll": {"interval": "1s", "jitter": 0},
 "jobs": [{"source_id": 9, "job_id": 1}],
 "listen": "127.0.0.1:0",
 "alerts": {"file": "$work/b-alerts.log"}}
JSON
ALIBABA_CLOUD_ACCESS_KEY_ID=kit-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=wrong-secret \
  start_with_port b_port mmsmon-b "$work/b.log" "$mmsmon" --config "$work/b.json"
b_pid=${pids[-1]}

# The shipped scrape config and rules; three targets in job mmsmon, one of them down (port 1:
# nothing listens in this namespace). Scrapes and rule evaluation every second, and the
# rules' `for:` in seconds instead of minutes, so that alerts fire within the test (their
# durations are promtool's to test: tests/rules/).
mkdir -p "$work/rules"
sed -E 's/^( +for: )([0-9]+)m$/\1\2s/' "$src/deploy/prometheus/mmsmon-rules.yml" >"$work/rules/mmsmon-rules.yml"
grep -qE '^ +for: [0-9]+m$' "$work/rules/mmsmon-rules.yml" && { echo "FAIL a for: in minutes is left"; exit 1; }
sed -e "s/\"localhost:9854\"/\"127.0.0.1:$a_port\", \"127.0.0.1:$b_port\", \"127.0.0.1:1\"/" \
    -e "s/scrape_interval: 30s/scrape_interval: 1s/" -e "s/scrape_timeout: 10s/scrape_timeout: 1s/" \
    -e "s/evaluation_interval: 30s/evaluation_interval: 1s/" \
    -e "s#/usr/share/mmsmon/prometheus/#$work/rules/#" \
    "$src/deploy/prometheus/prometheus.yml" >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address=127.0.0.1:9090 --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)

printf '{"api": {"endpoint": ' >"$work/b.json"  # broken: the reload must fail
kill -HUP "$b_pid"

query() {  # query PROMQL -> the number of results
  curl -sf --max-time 5 --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
    node -e 'const b = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(b.data.result.length)'
}
has_data() { [ "$(query "$1" 2>/dev/null || echo 0)" -gt 0 ]; }
# Every cause shows in the scraped data first (Prometheus offers no event to wait on; each
# wait is bounded). JobFailed fires a second (its for:) after the job failed.
for q in 'up{instance="127.0.0.1:1"} == 0' \
  'mmsmon_config_last_reload_successful == 0' \
  'mms_datasource_agent_online{source_id="8"} == 0' \
  'mms_job_tasks_failed{job_id="3"} > 0' \
  'mms_job_projected_completion_timestamp_seconds{job_id="1"}' \
  'mms_job_stopped{job_id="7"} == 1' \
  'mmsmon_api_request_failures_total{reason="throttled"}' \
  'mmsmon_api_request_failures_total{reason="auth"}' \
  'mmsmon_api_request_failures_total{reason="server"}' \
  'mms_job_poll_failure{job_id="99",reason="not_found"}' \
  'rate(mmsmon_alert_sink_failures_total{sink="dead"}[10m]) > 0' \
  'ALERTS{alertname="JobFailed",alertstate="firing"}'; do
  check "Prometheus has $q" wait_until 120 has_data "$q"
done
check "every expression of the dashboard and the rules returns data" \
  node "$src/tests/integration/deploy_kit_check.mjs" "$src/deploy/grafana/mmsmon.json" http://127.0.0.1:9090
if [ "$failed" -ne 0 ]; then
  echo "--- prometheus.log"; log_tail "$work/prometheus.log"
  echo "--- a.log"; log_tail "$work/a.log"
fi
finish
