#!/usr/bin/env bash
# The shipped deploy/alertmanager/alertmanager.yml: amtool accepts it and routes each severity
# to its receiver; Debian's real Alertmanager running it holds back job alerts while mmsmon is
# down or the API rejects its credentials (inhibition), lets other alerts through, and sends the
# held ones once the cause resolves. Notifications go to a local webhook receiver.
# Usage: alertmanager_kit_test.sh SOURCE_DIR
set -euo pipefail
src=$1
command -v prometheus-alertmanager >/dev/null ||
  { echo "prometheus-alertmanager is not installed (deploy/bootstrap.sh)"; exit 1; }
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
shipped=$src/deploy/alertmanager/alertmanager.yml

check "amtool check-config accepts it" amtool check-config "$shipped"
routes() {  # routes RECEIVER LABEL=VALUE...
  local want=$1
  shift
  amtool config routes test --config.file="$shipped" --verify.receivers="$want" "$@" >/dev/null 2>&1
}
check "critical goes to mmsmon-pager" routes mmsmon-pager severity=critical alertname=JobFailed source_id=7
check "warning goes to mmsmon-chat" routes mmsmon-chat severity=warning alertname=JobStalled source_id=7
check "info goes to mmsmon-events" routes mmsmon-events severity=info alertname=JobSucceeded source_id=7
check "no severity goes to mmsmon-chat" routes mmsmon-chat alertname=Other

# The shipped file with its receivers pointed at the local webhook receiver and the group
# waits shortened (routes, grouping and inhibition unchanged).
start_with_port hook_port webhooks "$work/hooks.log" node "$src/tests/integration/webhook_receiver.mjs" "$work/hooks.jsonl"
sed -e "s#http://alert-receiver.example:8080#http://127.0.0.1:$hook_port#" \
    -e "s/group_wait: [0-9a-z]*/group_wait: 0s/" -e "s/group_interval: [0-9a-z]*/group_interval: 1s/" \
    "$shipped" >"$work/am.yml"
amtool check-config "$work/am.yml" >/dev/null
prometheus-alertmanager --config.file="$work/am.yml" --storage.path="$work/am-data" \
  --web.listen-address=127.0.0.1:0 --cluster.listen-address= >"$work/am.log" 2>&1 &
pids+=($!)
listening() { grep -q 'msg="Listening on"' "$work/am.log"; }
wait_until 20 listening || { echo "FAIL Alertmanager did not start:"; log_tail "$work/am.log"; exit 1; }
am_port=$(sed -n 's/.*msg="Listening on" address=127.0.0.1:\([0-9]*\).*/\1/p' "$work/am.log" | head -1)
am_url=http://127.0.0.1:$am_port

# post NAME SEVERITY ENDS [LABEL=VALUE...]: one alert, as Prometheus or mmsmon's sink sends it
# (ENDS: "firing" is an hour ahead, "resolved" now).
post() {
  local name=$1 severity=$2 ends=$3
  shift 3
  node -e '
    const [name, severity, ends, ...extra] = process.argv.slice(1);
    const labels = { alertname: name, severity };
    for (const kv of extra) { const i = kv.indexOf("="); labels[kv.slice(0, i)] = kv.slice(i + 1); }
    const now = Date.now();
    const endsAt = new Date(ends === "firing" ? now + 3600e3 : now).toISOString();
    const startsAt = new Date(now - 600e3).toISOString();
    fetch(process.env.AM + "/api/v2/alerts", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify([{ labels, annotations: { summary: name }, startsAt, endsAt }]),
    }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
  ' "$name" "$severity" "$ends" "$@"
}
export AM=$am_url
# state NAME: the state Alertmanager gives the alert (active, suppressed), "inhibited" when it
# is suppressed by an inhibition.
state() {
  curl -sf --max-time 5 "$am_url/api/v2/alerts?filter=alertname%3D%22$1%22" | node -e '
    const a = JSON.parse(require("fs").readFileSync(0, "utf8"));
    if (a.length !== 1) { console.log(a.length ? "many" : "none"); process.exit(0); }
    const s = a[0].status;
    console.log(s.state === "suppressed" && s.inhibitedBy.length ? "inhibited" : s.state);'
}
state_is() { [ "$(state "$1")" = "$2" ]; }
# notified PATH ALERTNAME STATUS: the receiver got a notification at PATH with that alert
# (PATH and STATUS may be "*": any).
notified() {
  [ -f "$work/hooks.jsonl" ] && node -e '
    const [file, path, name, status] = process.argv.slice(1);
    const lines = require("fs").readFileSync(file, "utf8").trim().split("\n").map(JSON.parse);
    const hit = lines.some((l) => (path === "*" || l.path === path) &&
      JSON.parse(l.body).alerts.some((a) => a.labels.alertname === name &&
                                            (status === "*" || a.status === status)));
    process.exit(hit ? 0 : 1);' "$work/hooks.jsonl" "$@"
}
never_notified() { ! notified "*" "$1" "*"; }  # never_notified ALERTNAME

# 1. The API rejects mmsmon's credentials: the job alerts it causes are inhibited, a reload
#    failure is not; once auth works again the held alert is sent.
post ApiAuthFailed critical firing instance=mmsmon:9854 job=mmsmon
post JobUnreachable warning firing source_id=7 job_id=1
post DataSourceAgentOffline warning firing source_id=7
post MmsmonReloadFailed warning firing instance=mmsmon:9854 job=mmsmon
check "ApiAuthFailed is active" wait_until 10 state_is ApiAuthFailed active
check "JobUnreachable is inhibited by it" wait_until 10 state_is JobUnreachable inhibited
check "DataSourceAgentOffline is inhibited by it" wait_until 10 state_is DataSourceAgentOffline inhibited
check "MmsmonReloadFailed is not" state_is MmsmonReloadFailed active
check "ApiAuthFailed pages (mmsmon-pager)" wait_until 20 notified /pager ApiAuthFailed firing
check "MmsmonReloadFailed goes to chat" wait_until 20 notified /chat MmsmonReloadFailed firing
check "JobUnreachable was not sent while auth failed" never_notified JobUnreachable
post ApiAuthFailed critical resolved instance=mmsmon:9854 job=mmsmon
check "auth fixed: JobUnreachable is active" wait_until 10 state_is JobUnreachable active
check "and sent to chat" wait_until 20 notified /chat JobUnreachable firing
check "ApiAuthFailed's resolution pages" wait_until 20 notified /pager ApiAuthFailed resolved

# 2. mmsmon is down: its job alerts (from the rules or from its own sink, with no instance
#    label) are inhibited, its reload alert is not; when it is back they are active again.
post MmsmonDown critical firing instance=mmsmon:9854 job=mmsmon
post JobStalled warning firing source_id=8 job_id=3 job_name=orders
post JobFailed critical firing source_id=8 job_id=4 job_name=users
check "JobStalled is inhibited while mmsmon is down" wait_until 10 state_is JobStalled inhibited
check "JobFailed is inhibited while mmsmon is down" wait_until 10 state_is JobFailed inhibited
check "JobUnreachable is inhibited while mmsmon is down" state_is JobUnreachable inhibited
check "MmsmonReloadFailed is still active" state_is MmsmonReloadFailed active
check "MmsmonDown pages" wait_until 20 notified /pager MmsmonDown firing
check "JobStalled was not sent" never_notified JobStalled
post MmsmonDown critical resolved instance=mmsmon:9854 job=mmsmon
check "mmsmon back: JobStalled is active" wait_until 10 state_is JobStalled active
check "and JobFailed pages" wait_until 20 notified /pager JobFailed firing

# 3. Grouping: alerts of one data source arrive in one notification.
post JobTasksFailed warning firing source_id=9 job_id=5 job_name=a
post JobEtaAtRisk warning firing source_id=9 job_id=6 job_name=b
grouped() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const hit = lines.some((l) => {
      const b = JSON.parse(l.body);
      const names = b.alerts.map((a) => a.labels.alertname);
      return b.groupLabels.source_id === "9" && names.includes("JobTasksFailed") && names.includes("JobEtaAtRisk");
    });
    process.exit(hit ? 0 : 1);' "$work/hooks.jsonl"
}
check "two alerts of source 9 come in one notification grouped by source_id" wait_until 20 grouped
if [ "$failed" -ne 0 ]; then echo "--- am.log"; log_tail "$work/am.log" 40; fi
finish
