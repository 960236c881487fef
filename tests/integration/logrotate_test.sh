#!/usr/bin/env bash
# The shipped logrotate config against a running daemon while alerts keep coming: after
# several forced rotations, every alert mmsmon counted is in exactly one file, whole.
# Usage: logrotate_test.sh MMSMON MMS_SIM SOURCE_DIR
set -uo pipefail
mmsmon=$1 sim=$2 src=$3
work=$(mktemp -d); [ -n "${KEEP_WORK:-}" ] && echo "work: $work"
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
command -v logrotate >/dev/null || { echo "FAIL logrotate is not installed (deploy/bootstrap.sh)"; exit 1; }

jobs=20
{
  echo '{"credentials": [{"access_key_id": "lr-id", "access_key_secret": "lr-secret"}], "jobs": ['
  for ((i = 1; i <= jobs; i++)); do
    printf '{"source_id": 7, "job_id": %d, "task_num": 100, "task_done": 1}%s\n' "$i" "$([ "$i" -lt "$jobs" ] && echo ,)"
  done
  echo ']}'
} >"$work/scenario.json"
start_with_port sim_port mms-sim "$work/sim.log" "$sim" --scenario "$work/scenario.json"
mkdir -p "$work/log"
{
  echo "{\"api\": {\"endpoint\": \"http://127.0.0.1:$sim_port\"},"
  echo " \"poll\": {\"interval\": \"1s\", \"jitter\": 0}, \"listen\": \"127.0.0.1:0\","
  echo " \"alerts\": {\"file\": \"$work/log/alerts.log\"}, \"jobs\": ["
  job_refs 7 "$jobs"
  echo "]}"
} >"$work/mmsmon.json"
ALIBABA_CLOUD_ACCESS_KEY_ID=lr-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=lr-secret \
  start_with_port port mmsmon "$work/mmsmon.log" "$mmsmon" --config "$work/mmsmon.json"
pid=${pids[-1]}

# The shipped config, for this alert file; the reload goes to this daemon.
sed -e "s#/var/log/mmsmon/alerts.log#$work/log/alerts.log#" \
    -e "s#systemctl reload mmsmon.service#kill -HUP $pid#" \
    "$src/deploy/logrotate/mmsmon" >"$work/logrotate.conf"

# Alerts keep coming: in each round every job is stopped (or resumed), which is 20 alert
# lines, and logrotate runs while mmsmon writes them. The next round starts once mmsmon has
# counted the round's alerts (an event, not a guess at how long polling takes under ASan).
alerts_total() {
  curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" |
    awk '/^mmsmon_alerts_total/ { n += $2 } END { print n + 0 }'
}
at_least() { [ "$(alerts_total)" -ge "$1" ]; }
# Every job polled once first: a job already stopped at its first poll is a baseline, not a change.
check "every job polled" wait_until 30 curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$port/-/ready"
rounds=5
for ((r = 1; r <= rounds; r++)); do
  stopped=$([ $((r % 2)) = 1 ] && echo true || echo false)
  for ((j = 1; j <= jobs; j++)); do
    curl -sf --max-time 5 -X POST --data "{\"source_id\": 7, \"job_id\": $j, \"stopped\": $stopped}" \
      "http://127.0.0.1:$sim_port/admin/jobs" >/dev/null
  done
  # The first of the round's alerts is out: rotate while the others are being written.
  wait_until 30 at_least $((jobs * (r - 1) + 1))
  logrotate --force -s "$work/logrotate.state" "$work/logrotate.conf" 2>>"$work/logrotate.err"
  check "logrotate run $r" test $? -eq 0
  check "round $r: every job's alert counted" wait_until 30 at_least $((jobs * r))
done
total=$(alerts_total)
stop_pid "$pid"
files=$(find "$work/log" -name 'alerts.log*' | wc -l)
check "rotated files exist ($files)" test "$files" -ge 4
lines=$(find "$work/log" -name 'alerts.log*' -exec zcat -f {} + | wc -l)
echo "alerts counted by mmsmon: $total, lines in the files: $lines"
check "alerts were written all through the rotations" test "$total" -ge $((jobs * rounds))
check "every alert is in the files, none twice" test "$lines" -eq "$total"
find "$work/log" -name 'alerts.log*' -exec zcat -f {} + >"$work/all.jsonl"
check "every line is whole JSON with an alert" node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l);
  for (const l of lines) { const o = JSON.parse(l); if (!o.alert || !o.ts) process.exit(1); }' "$work/all.jsonl"
[ -s "$work/logrotate.err" ] && cat "$work/logrotate.err"
finish
