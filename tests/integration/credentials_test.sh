#!/usr/bin/env bash
# Temporary credentials from each source, refreshed across several expiries, against
# mms-sim's credential services (tokens that live 6 s): the ECS metadata service at
# 100.100.100.200 (hardened mode), STS AssumeRoleWithOIDC, a credentials URI. Then the
# metadata service goes away (one ApiAuthFailed after expiry, resolved when it is back),
# and bad answers are clear errors naming the source.
# Runs in a private network namespace (unshare -n) where 100.100.100.200 is a local
# address: nothing is ever sent to that address outside it.
# Usage: credentials_test.sh MMSMON MMS_SIM
set -uo pipefail
if [ "${1:-}" != --inside ]; then
  exec unshare --net "$0" --inside "$@"
fi
shift
mmsmon=$1 sim=$2
ip link set lo up
ip addr add 100.100.100.200/32 dev lo
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; rm -rf "$work"' EXIT

cat >"$work/scenario.json" <<'JSON'
{"credential_services": {"lifetime": "6s", "role": "mmsmon-role", "oidc_token": "oidc-jwt-from-the-file",
                         "role_arn": "acs:ram::1:role/mmsmon"},
 "jobs": [{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 1000, "task_done": 10, "rate": 1}]}
JSON
# One simulator on every address of this namespace, port 80: the metadata service at
# 100.100.100.200:80 as on ECS, the API, STS and the credentials URI on 127.0.0.1.
start_with_port sim_port mms-sim "$work/sim.log" "$sim" --listen 0.0.0.0:80 --scenario "$work/scenario.json"
sim=http://127.0.0.1:$sim_port
echo -n "oidc-jwt-from-the-file" >"$work/oidc-token"
# Nothing of the caller's credentials leaks in: only the sources configured here answer.
while read -r name; do unset "$name"; done < <(env | sed -n 's/^\(ALIBABA_CLOUD_[A-Z0-9_]*\)=.*/\1/p')
unset CREDENTIALS_DIRECTORY
export HOME=$work

config() {  # config NAME CREDENTIALS_JSON
  cat >"$work/$1.json" <<JSON
{"api": {"endpoint": "$sim"}, "poll": {"interval": "1s", "jitter": 0}, "listen": "127.0.0.1:0",
 "credentials": $2,
 "jobs": [{"source_id": 7, "job_id": 1}], "alerts": {"file": "$work/$1-alerts.log", "resolve_hold": "0s"}}
JSON
}
config ecs '{"type": "ecs_ram_role"}'
config oidc "{\"type\": \"oidc\", \"role_arn\": \"acs:ram::1:role/mmsmon\", \"oidc_provider_arn\": \"acs:ram::1:oidc-provider/ack\", \"oidc_token_file\": \"$work/oidc-token\", \"sts_endpoint\": \"$sim\"}"
config uri "{\"type\": \"credentials_uri\", \"uri\": \"$sim/credentials\"}"

metric() {  # metric PORT NAME -> the value of the first series of NAME
  curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { print $2; exit }'
}
issued() { curl -sf --max-time 5 -X POST --data '{}' "$sim/admin/credential_services" | sed -n 's/.*"issued":\([0-9]*\).*/\1/p'; }

for kind in ecs oidc uri; do
  start_with_port port "mmsmon-$kind" "$work/$kind.log" "$mmsmon" --config "$work/$kind.json"
  eval "${kind}_port=$port"
done

# Three lifetimes of 6 s: each daemon refreshes about every 4 s, and no poll fails.
before=$(issued)
refreshed() { [ "$(issued)" -ge $((before + 12)) ]; }
check "the services issued fresh credentials again and again" wait_until 60 refreshed
for kind in ecs oidc uri; do
  eval "port=\$${kind}_port"
  fails=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^mmsmon_api_request_failures_total/ { n += $2 } END { print n + 0 }')
  check "$kind: polls kept succeeding across the expiries (failures: $fails)" test "$fails" -eq 0
  check "$kind: the job is up" test "$(metric "$port" mms_job_up)" = 1
  expiry=$(metric "$port" mmsmon_credentials_expiry_timestamp_seconds)
  check "$kind: mmsmon_credentials_expiry_timestamp_seconds is in the future ($expiry)" \
    awk -v e="$expiry" -v now="$(date +%s)" 'BEGIN { exit !(e > now) }'
  check "$kind: mmsmon_credentials_info names the source type" \
    contains <(curl -sf "http://127.0.0.1:$port/metrics") "source_type=\""
  check "$kind: no refresh failed" test "$(metric "$port" mmsmon_credentials_refresh_failures_total)" = 0
done

# One refresh fails: it is retried while the credentials in use are still valid (after 1 s,
# with 2 s left of their 6), so no poll fails.
fails_before=0
for kind in ecs oidc uri; do
  eval "port=\$${kind}_port"
  fails_before=$((fails_before + $(metric "$port" mmsmon_credentials_refresh_failures_total)))
done
issued_before=$(issued)
curl -sf -X POST --data '{"fail_next": 1}' "$sim/admin/credential_services" >/dev/null
refreshed_again() { [ "$(issued)" -ge $((issued_before + 6)) ]; }
check "refreshes go on after one failed" wait_until 30 refreshed_again
refresh_fails=0 api_fails=0
for kind in ecs oidc uri; do
  eval "port=\$${kind}_port"
  refresh_fails=$((refresh_fails + $(metric "$port" mmsmon_credentials_refresh_failures_total)))
  api_fails=$((api_fails + $(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^mmsmon_api_request_failures_total/ { n += $2 } END { print n + 0 }')))
done
check "one refresh failed ($((refresh_fails - fails_before)))" test $((refresh_fails - fails_before)) -eq 1
check "it was retried in time: no poll failed ($api_fails)" test "$api_fails" -eq 0

# The metadata service goes away: after the credentials expire, one ApiAuthFailed; back, resolved.
curl -sf -X POST --data '{"available": false}' "$sim/admin/credential_services" >/dev/null
check "ecs: ApiAuthFailed fires once the credentials expire" \
  wait_until 30 contains "$work/ecs-alerts.log" '"alert":"ApiAuthFailed","state":"firing"'
check "ecs: refresh failures are counted" test "$(metric "$ecs_port" mmsmon_credentials_refresh_failures_total)" -gt 0
curl -sf -X POST --data '{"available": true}' "$sim/admin/credential_services" >/dev/null
check "ecs: ApiAuthFailed resolves when the service is back" \
  wait_until 90 contains "$work/ecs-alerts.log" '"alert":"ApiAuthFailed","state":"resolved"'
check "ecs: ApiAuthFailed fired once" test "$(grep -c '"alert":"ApiAuthFailed","state":"firing"' "$work/ecs-alerts.log")" -eq 1

# Bad answers: a clear error naming the source, exit 1, no crash.
bad() {  # bad ANSWER KIND EXPECTED_TEXT
  curl -sf -X POST --data "{\"answer\": \"$1\"}" "$sim/admin/credential_services" >/dev/null
  "$mmsmon" --config "$work/$2.json" --check-config >"$work/bad.out" 2>&1
  local status=$?
  check "$2, answer \"$1\": --check-config exits 1 (got $status)" test "$status" -eq 1
  check "$2, answer \"$1\": the error says \"$3\"" contains "$work/bad.out" "$3"
}
bad garbage ecs "ECS RAM role: the answer is not a JSON object"
bad code ecs 'Code is "Failed"'
bad no_token uri "credentials URI $sim/credentials: the answer has no SecurityToken"
bad expired oidc "OIDC role acs:ram::1:role/mmsmon: the credentials expired already"
bad code oidc 'Code "Failed"'
curl -sf -X POST --data '{"answer": ""}' "$sim/admin/credential_services" >/dev/null
# An OIDC token the service refuses.
echo -n "a-wrong-token" >"$work/oidc-token"
"$mmsmon" --config "$work/oidc.json" --check-config >"$work/bad.out" 2>&1
check "oidc: a refused token is an error with STS's code" contains "$work/bad.out" "AuthenticationFail.OIDCToken.Invalid"
# The metadata service without token support, while IMDSv1 is disabled.
curl -sf -X POST --data '{"require_token": false}' "$sim/admin/credential_services" >/dev/null
# An old metadata service without session tokens: the old mode, unless IMDSv1 is disabled.
curl -sf -X POST --data '{"token_endpoint": false, "require_token": false}' "$sim/admin/credential_services" >/dev/null
"$mmsmon" --config "$work/ecs.json" --check-config >"$work/v1.out" 2>&1
check "ecs: without session tokens the old mode answers" contains "$work/v1.out" "OK ("
ALIBABA_CLOUD_IMDSV1_DISABLED=true "$mmsmon" --config "$work/ecs.json" --check-config >"$work/v1-off.out" 2>&1
check "ecs: with ALIBABA_CLOUD_IMDSV1_DISABLED=true it is refused, saying why" \
  contains "$work/v1-off.out" "ALIBABA_CLOUD_IMDSV1_DISABLED is true"
curl -sf -X POST --data '{"token_endpoint": true, "require_token": true}' "$sim/admin/credential_services" >/dev/null
ALIBABA_CLOUD_ECS_METADATA=mmsmon-role "$mmsmon" --config "$work/ecs.json" --check-config >"$work/ok.out" 2>&1
check "ecs: --check-config names the source that answered" contains "$work/ok.out" "credentials from ECS RAM role"

# Keys in files ($CREDENTIALS_DIRECTORY) are read again on reload: a rotated key without a restart.
config files '{}'
mkdir -m 700 "$work/creds"
printf 'file-id' >"$work/creds/access_key_id"
printf 'file-secret-one' >"$work/creds/access_key_secret"
curl -sf -X POST --data '{"credentials": [{"access_key_id": "file-id", "access_key_secret": "file-secret-one"}]}' \
  "$sim/admin/credentials" >/dev/null
CREDENTIALS_DIRECTORY=$work/creds start_with_port files_port mmsmon-files "$work/files.log" "$mmsmon" --config "$work/files.json"
files_pid=${pids[-1]}
job_up() { [ "$(metric "$files_port" mms_job_up)" = 1 ]; }
check "files: the job is polled with the keys from \$CREDENTIALS_DIRECTORY" wait_until 20 job_up
curl -sf -X POST --data '{"credentials": [{"access_key_id": "file-id", "access_key_secret": "file-secret-two"}]}' \
  "$sim/admin/credentials" >/dev/null
check "files: the old secret is refused once the key is rotated" \
  wait_until 20 contains "$work/files-alerts.log" '"alert":"ApiAuthFailed","state":"firing"'
printf 'file-secret-two' >"$work/creds/access_key_secret"
kill -HUP "$files_pid"
check "files: after a reload the new secret is used" \
  wait_until 20 contains "$work/files-alerts.log" '"alert":"ApiAuthFailed","state":"resolved"'
check "files: the reload says the credentials changed" contains "$work/files.log" "credentials read again from systemd credentials"

# No secret anywhere: not the temporary secrets and tokens, not the OIDC token.
for f in "$work"/*.log "$work"/*.out; do
  check "no secret in $(basename "$f")" sh -c "! grep -qE 'sim-temporary-secret|sim-token-|oidc-jwt-from-the-file|file-secret-' '$f'"
done
for kind in ecs oidc uri; do
  eval "port=\$${kind}_port"
  check "$kind: no secret in /metrics or /api/v1/jobs" sh -c \
    "! curl -sf http://127.0.0.1:$port/metrics http://127.0.0.1:$port/api/v1/jobs | grep -qE 'sim-temporary-secret|sim-token-'"
done
finish
