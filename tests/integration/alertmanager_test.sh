#!/usr/bin/env bash
# mmsmon pushes alerts to Debian's real Alertmanager (API v2) and to webhooks while it polls
# mms-sim: a JobFailed arrives with its labels and annotations; a firing JobStalled is back
# after an Alertmanager restart (mmsmon sends firing alerts again every resend_interval);
# its resolution ends it there. Webhooks: a flaky one gets each alert once after its 500s,
# with the configured headers and basic auth; one that redirects or hangs drops or retries
# (counted), and polling goes on; no secret of the sink config appears anywhere.
# Usage: alertmanager_test.sh MMSMON MMS_SIM SOURCE_DIR
set -euo pipefail
mmsmon=$1 sim=$2 src=$3
command -v prometheus-alertmanager >/dev/null ||
  { echo "prometheus-alertmanager is not installed (deploy/bootstrap.sh)"; exit 1; }
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

cat >"$work/scenario.json" <<'JSON'
{"credentials": [{"access_key_id": "am-id", "access_key_secret": "am-secret"}],
 "jobs": [{"source_id": 7, "job_id": 1, "name": "orders", "status": "DOING", "task_num": 100,
           "task_done": 10, "rate": 10, "fail_at": 25},
          {"source_id": 7, "job_id": 2, "name": "users", "status": "DOING", "task_num": 100,
           "task_done": 10}]}
JSON
start_with_port sim_port mms-sim "$work/sim.log" "$sim" --scenario "$work/scenario.json"

# Alertmanager on a free loopback port (read back from its log), no clustering.
cat >"$work/am.yml" <<'YAML'
route: {receiver: "null", group_wait: 0s}
receivers: [{name: "null"}]
YAML
am_port=""
start_am() {  # start_am ADDRESS
  prometheus-alertmanager --config.file="$work/am.yml" --storage.path="$work/am-data" \
    --web.listen-address="$1" --cluster.listen-address= >"$work/am.log" 2>&1 &
  am_pid=$!
  pids+=("$am_pid")
  listening() { grep -q 'msg="Listening on"' "$work/am.log"; }
  wait_until 20 listening || { echo "FAIL Alertmanager did not start:"; log_tail "$work/am.log"; exit 1; }
  am_port=$(sed -n 's/.*msg="Listening on" address=127.0.0.1:\([0-9]*\).*/\1/p' "$work/am.log" | head -1)
}
start_am 127.0.0.1:0
am() { curl -sf --max-time 5 "http://127.0.0.1:$am_port/api/v2/alerts?$1"; }

start_with_port hook_port webhooks "$work/hooks.log" node "$src/tests/integration/webhook_receiver.mjs" "$work/hooks.jsonl"

hook="http://127.0.0.1:$hook_port"
cat >"$work/mmsmon.json" <<JSON
{"api": {"endpoint": "http://127.0.0.1:$sim_port", "timeout": "2s"},
 "poll": {"interval": "1s", "jitter": 0},
 "jobs": [{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}],
 "listen": "127.0.0.1:0", "log_level": "debug",
 "state_file": "$work/state.json",
 "alerts": {"file": "$work/alerts.log", "stall_after": "3s", "resolve_hold": "0s",
            "external_url": "http://mmsmon.example:9854",
   "sinks": [
     {"type": "alertmanager", "url": "http://127.0.0.1:$am_port", "resend_interval": "1s",
      "labels": {"cluster": "test"}},
     {"type": "webhook", "name": "flaky", "url": "$hook/flaky", "min_severity": "info",
      "headers": {"X-Token": "s3cret-token"}, "basic_auth": {"username": "mmsmon", "password": "p4ss-w0rd"}},
     {"type": "webhook", "name": "redirect", "url": "$hook/redirect"},
     {"type": "webhook", "name": "hang", "url": "$hook/hang", "timeout": "500ms"}]}}
JSON
ALIBABA_CLOUD_ACCESS_KEY_ID=am-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=am-secret \
  start_with_port port mmsmon "$work/mmsmon.log" "$mmsmon" --config "$work/mmsmon.json"
metrics() { curl -sf --max-time 5 "http://127.0.0.1:$port/metrics"; }
value() { metrics | awk -v s="$1" '$1 == s { print $2 }'; }

has_alert() {  # has_alert ALERTNAME JOB_ID
  am "filter=alertname%3D%22$1%22&filter=job_id%3D%22$2%22" | node -e '
    const a = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(a.length === 1 ? 0 : 1);'
}
wait_until 30 has_alert JobFailed 1 || true
check "JobFailed is at Alertmanager" has_alert JobFailed 1
am "filter=alertname%3D%22JobFailed%22" >"$work/failed.json"
check "with labels alertname, severity, source_id, job_id, job_name and the extra label" node -e '
  const [a] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const l = a.labels, n = a.annotations;
  const ok = l.alertname === "JobFailed" && l.severity === "critical" && l.source_id === "7" &&
    l.job_id === "1" && l.job_name === "orders" && l.cluster === "test" &&
    n.summary.includes("failed with") && n.description.includes("MMS console") &&
    n.from === "DOING" && a.generatorURL === "http://mmsmon.example:9854/api/v1/jobs";
  if (!ok) console.log(JSON.stringify(a));
  process.exit(ok ? 0 : 1);' "$work/failed.json"

wait_until 30 has_alert JobStalled 2 || true
check "JobStalled (firing) is at Alertmanager" has_alert JobStalled 2
# Alertmanager restarts (its alerts are in memory only): mmsmon sends the firing one again.
stop_pid "$am_pid"
start_am "127.0.0.1:$am_port"
check "after an Alertmanager restart, the firing JobStalled is back" wait_until 15 has_alert JobStalled 2
# Job 2 progresses again: JobStalled resolves, and ends at Alertmanager.
curl -sf --max-time 5 -X POST -H 'content-type: application/json' \
  --data '{"source_id": 7, "job_id": 2, "rate": 5}' "http://127.0.0.1:$sim_port/admin/jobs" >/dev/null
gone() { ! has_alert JobStalled 2; }
check "the resolved JobStalled is no longer active at Alertmanager" wait_until 20 gone
check "the alert log said it resolved" contains "$work/alerts.log" '"alert":"JobStalled","state":"resolved"'

# Webhooks.
flaky_lines() { node -e '
  const fs = require("fs");
  const hooks = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
    .map(JSON.parse).filter(h => h.path === "/flaky");
  const alerts = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean);
  const ok = hooks.filter((h, i) => i >= 2);  // the first two got a 500
  const bodies = new Set(ok.map(h => h.body));
  const good = ok.every(h => h.headers["x-token"] === "s3cret-token" &&
      h.headers.authorization === "Basic " + Buffer.from("mmsmon:p4ss-w0rd").toString("base64") &&
      h.headers["content-type"] === "application/json");
  const each = alerts.every(l => [...bodies].some(b => { const x = JSON.parse(b);
      const y = JSON.parse(l); return x.ts === y.ts && x.alert === y.alert && x.state === y.state; }));
  process.exit(ok.length === bodies.size && good && each && ok.length === alerts.length ? 0 : 1);
  ' "$work/hooks.jsonl" "$work/alerts.log"; }
check "the flaky webhook got every alert line once, after its 500s, with headers and basic auth" wait_until 20 flaky_lines
check "the flaky webhook's two failures are counted" test "$(value 'mmsmon_alert_sink_failures_total{sink="flaky"}')" = 2
check "a redirect is not followed: dropped and counted" wait_until 10 test "$(value 'mmsmon_alert_sink_dropped_total{sink="redirect"}')" != 0
hang_failed() { [ "$(value 'mmsmon_alert_sink_failures_total{sink="hang"}')" != 0 ]; }
check "a webhook that hangs times out and is counted" wait_until 10 hang_failed
check "polling goes on: both jobs up" test "$(metrics | grep -c '^mms_job_up{.*} 1$')" = 2
check "the queue length of each sink is exported" test "$(metrics | grep -c '^mmsmon_alert_sink_queue_length{')" = 4
check "the Alertmanager sink sent alerts" test "$(value 'mmsmon_alert_sink_sent_total{sink="alertmanager-0"}')" != 0
for secret in s3cret-token p4ss-w0rd; do
  check "no $secret in mmsmon's log" lacks "$work/mmsmon.log" "$secret"
  check "no $secret in /metrics" bash -c "! curl -sf http://127.0.0.1:$port/metrics | grep -qF -- $secret"
  check "no $secret in the alert log" lacks "$work/alerts.log" "$secret"
done
finish
