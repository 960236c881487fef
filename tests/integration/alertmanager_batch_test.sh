#!/usr/bin/env bash
# mmsmon's Alertmanager sink with 1,200 firing conditions (jobs the API does not know:
# JobNotFound each), against a recording receiver in Alertmanager's place: no request carries
# more than 500 alerts; every condition arrives, and again each resend_interval; a change
# (a job that appears: JobNotFound resolved) is sent at once, not only with the next round.
# Usage: alertmanager_batch_test.sh MMSMON MMS_SIM SOURCE_DIR
set -euo pipefail
mmsmon=$1 sim=$2 src=$3
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

echo '{"credentials": [{"access_key_id": "b-id", "access_key_secret": "b-secret"}], "jobs": []}' >"$work/scenario.json"
start_with_port sim_port mms-sim "$work/sim.log" "$sim" --scenario "$work/scenario.json"
start_with_port hook_port receiver "$work/hooks.log" node "$src/tests/integration/webhook_receiver.mjs" "$work/am.jsonl"
{
  echo "{\"api\": {\"endpoint\": \"http://127.0.0.1:$sim_port\", \"timeout\": \"2s\"},"
  echo ' "poll": {"interval": "2s", "max_in_flight": 32, "page_refresh": false},'
  echo " \"listen\": \"127.0.0.1:0\", \"log_level\": \"warn\","
  echo " \"alerts\": {\"file\": \"$work/alerts.log\", \"resolve_hold\": \"0s\","
  echo "   \"sinks\": [{\"type\": \"alertmanager\", \"url\": \"http://127.0.0.1:$hook_port/am\", \"resend_interval\": \"8s\"}]},"
  echo ' "jobs": ['
  job_refs 7 1200
  echo ']}'
} >"$work/mmsmon.json"
ALIBABA_CLOUD_ACCESS_KEY_ID=b-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=b-secret \
  start_with_port port mmsmon "$work/mmsmon.log" "$mmsmon" --config "$work/mmsmon.json"

# stats: the largest body, how many distinct firing JobNotFound arrived, how many of them
# arrived at least twice, and whether job 1's resolution arrived.
stats() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    let max = 0; const seen = new Map(); let resolved1 = false;
    for (const l of lines) {
      if (l.path !== "/am/api/v2/alerts") continue;
      const alerts = JSON.parse(l.body);
      max = Math.max(max, alerts.length);
      for (const a of alerts) {
        if (a.labels.alertname !== "JobNotFound") continue;
        const ended = Date.parse(a.endsAt) <= Date.now();
        if (ended && a.labels.job_id === "1") resolved1 = true;
        if (!ended) seen.set(a.labels.job_id, (seen.get(a.labels.job_id) ?? 0) + 1);
      }
    }
    const twice = [...seen.values()].filter((n) => n >= 2).length;
    console.log(max, seen.size, twice, resolved1 ? 1 : 0);' "$work/am.jsonl" 2>/dev/null || echo "0 0 0 0"
}
field() { stats | cut -d" " -f"$1"; }
all_arrived() { [ "$(field 2)" -eq 1200 ]; }
all_again() { [ "$(field 3)" -eq 1200 ]; }
resolved() { [ "$(field 4)" -eq 1 ]; }
check "all 1,200 firing conditions arrive" wait_until 60 all_arrived
check "each arrives again with the next round of resending" wait_until 30 all_again
# Job 1 appears: its JobNotFound resolves, and the resolution goes out at once.
curl -sf --max-time 5 -X POST "http://127.0.0.1:$sim_port/admin/jobs" -H content-type:application/json \
  -d '{"source_id": 7, "job_id": 1, "name": "late", "task_num": 10}' >/dev/null
check "a resolution is sent at once, not with the next round" wait_until 4 resolved
check "no request carries more than 500 alerts ($(field 1) at most)" test "$(field 1)" -le 500
check "the requests were split ($(field 1) at most in one)" test "$(field 1)" -ge 100
if [ "$failed" -ne 0 ]; then echo "--- stats: $(stats)"; log_tail "$work/mmsmon.log"; fi
finish
