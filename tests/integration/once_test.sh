#!/usr/bin/env bash
# mmsmon's command line against mms-sim: --check-config, --once (table and json), exit
# codes, and that a secret never shows in anything printed or logged.
# Usage: once_test.sh MMSMON MMS_SIM
set -uo pipefail
mmsmon=$1 sim=$2
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; rm -rf "$work"' EXIT

secret='S3cret-Never-Print-Me'
cat >"$work/scenario.json" <<JSON
{"credentials": [{"access_key_id": "once-id", "access_key_secret": "$secret"}],
 "jobs": [{"source_id": 2000015, "job_id": 10, "name": "migrate_sales", "task_num": 200, "task_done": 50},
          {"source_id": 2000015, "job_id": 11, "name": "migrate_logs", "task_num": 50, "task_done": 50, "status": "DONE"},
          {"source_id": 2000015, "job_id": 20, "name": "evil\u001b[2Jname"}, {"source_id": 2000015, "job_id": 21},
          {"source_id": 2000015, "job_id": 22}, {"source_id": 2000015, "job_id": 23}]}
JSON
start_with_port port mms-sim "$work/sim.log" "$sim" --scenario "$work/scenario.json" --log-requests

write_config() {  # write_config FILE JOBS_JSON [MORE_API_KEYS [MORE_TOP_LEVEL_KEYS]]
  cat >"$1" <<JSON
{
  // test config
  "api": {"endpoint": "${endpoint:-http://127.0.0.1:$port}", "timeout": "2s" ${3:+, $3}},
  "jobs": $2,
  ${4:+$4}
}
JSON
}
admin() {  # admin METHOD PATH [BODY]: the simulator's admin API
  curl -sf --max-time 5 -X "$1" -H 'content-type: application/json' ${3:+--data "$3"} \
    "http://127.0.0.1:$port$2"
}
write_config "$work/good.json" '[{"source_id": 2000015, "job_id": 10}, {"source_id": 2000015, "job_id": 11}]'
write_config "$work/missing.json" '[{"source_id": 2000015, "job_id": 10}, {"source_id": 2000015, "job_id": 99}]'
export ALIBABA_CLOUD_ACCESS_KEY_ID=once-id
export ALIBABA_CLOUD_ACCESS_KEY_SECRET=$secret

"$mmsmon" --config "$work/good.json" --check-config >"$work/out" 2>&1
check "--check-config accepts a good config" test $? -eq 0
check "--check-config names the credential source" contains "$work/out" "credentials from environment"

src=$(cd "$(dirname "$0")/../.." && pwd)
for example in "$src"/config/*.json; do
  "$mmsmon" --config "$example" --check-config >"$work/out" 2>&1
  check "shipped config $(basename "$example") is valid" test $? -eq 0
done

printf '{\n  "api": {"endpoint": "http://x"},\n  "jobs": [{"source_id": 1, "job_id": 2}],\n  "pol": {}\n}\n' >"$work/bad.json"
"$mmsmon" --config "$work/bad.json" --check-config >"$work/out" 2>&1
check "--check-config rejects a bad config" test $? -eq 1
check "the error names file:line:column, key and a suggestion" \
  contains "$work/out" "$work/bad.json:4:3: pol: unknown key \"pol\"; did you mean \"poll\"?"

"$mmsmon" --config "$work/good.json" --once >"$work/out" 2>&1
check "--once exits 0 when every poll succeeds" test $? -eq 0
check "--once prints the table" contains "$work/out" "migrate_sales"
check "--once prints progress" contains "$work/out" "50/200"

"$mmsmon" --config "$work/missing.json" --once --format json >"$work/out" 2>"$work/err"
check "--once exits 1 when a poll failed" test $? -eq 1
check "--once json is an array with ok, fields and error reason" node -e '
  const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ok = a.find(j => j.job_id === 10), bad = a.find(j => j.job_id === 99);
  process.exit(a.length === 2 && ok.ok === true && ok.source_id === 2000015 && ok.task_done === 50 &&
    ok.task_num === 200 && ok.status === "DOING" && bad.ok === false &&
    bad.error.reason === "not_found" && bad.error.request_id ? 0 : 1);' "$work/out"
check "--once says how many polls failed" contains "$work/err" "1 of 2 polls failed"

# --once with discover: the configured job, and the jobs the rules pick from a listing.
write_config "$work/discover.json" '[{"source_id": 2000015, "job_id": 10}]' "" \
  '"discover": [{"source_id": 2000015, "include": ["migrate_*"]}],'
"$mmsmon" --config "$work/discover.json" --once --format json >"$work/out" 2>"$work/err"
check "--once with discover exits 0" test $? -eq 0
check "--once lists the configured job and the discovered one, once each" node -e '
  const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ids = a.map(j => j.job_id).sort();
  const logs = a.find(j => j.job_id === 11);
  process.exit(ids.join() === "10,11" && logs.ok && logs.name === "migrate_logs" &&
    logs.status === "DONE" ? 0 : 1);' "$work/out"
admin POST /admin/faults '{"action": "ListMmsJobs", "error": {"status": 500, "code": "InternalError", "message": "x"}, "count": 1}' >/dev/null
"$mmsmon" --config "$work/discover.json" --once >"$work/out" 2>"$work/err"
check "--once exits 1 when a listing failed" test $? -eq 1
check "and says which" contains "$work/err" "discovery: listing the jobs of data source 2000015 failed"
check "the configured job is still shown" contains "$work/out" "migrate_sales"

ALIBABA_CLOUD_ACCESS_KEY_SECRET="wrong-$secret" "$mmsmon" --config "$work/good.json" --once >"$work/out" 2>&1
check "--once with a wrong secret exits 1" test $? -eq 1
check "the auth failure is reported with its code" contains "$work/out" "auth: HTTP 400 SignatureDoesNotMatch"
ALIBABA_CLOUD_ACCESS_KEY_SECRET="wrong-$secret" "$mmsmon" --config "$work/good.json" --once --format json >>"$work/out" 2>&1
ALIBABA_CLOUD_ACCESS_KEY_SECRET="wrong-$secret" "$mmsmon" --config "$work/good.json" --check-config >>"$work/out" 2>&1
check "the secret appears nowhere in what mmsmon printed" lacks "$work/out" "$secret"
check "the secret appears nowhere in the simulator's request log" lacks "$work/sim.log" "$secret"

env -u ALIBABA_CLOUD_ACCESS_KEY_ID -u ALIBABA_CLOUD_ACCESS_KEY_SECRET HOME="$work/nohome" \
  "$mmsmon" --config "$work/good.json" --once >"$work/out" 2>&1
check "no credentials: exit 1" test $? -eq 1
check "no credentials: the message names what was tried" contains "$work/out" "tried:"

# api.max_connections: --once polls this many jobs at a time.
six='[{"source_id": 2000015, "job_id": 10}, {"source_id": 2000015, "job_id": 11},
     {"source_id": 2000015, "job_id": 20}, {"source_id": 2000015, "job_id": 21},
     {"source_id": 2000015, "job_id": 22}, {"source_id": 2000015, "job_id": 23}]'
write_config "$work/two.json" "$six" '"max_connections": 2'
admin POST /admin/faults '{"action": "GetMmsJob", "delay": "300ms"}' >/dev/null
admin POST /admin/stats/reset >/dev/null
"$mmsmon" --config "$work/two.json" --once >"$work/out" 2>&1
check "api.max_connections 2: --once succeeds" test $? -eq 0
admin GET /admin/stats >"$work/stats"
check "api.max_connections 2: two requests at a time at most" contains "$work/stats" '"max_in_flight":2,'
check "... all six polled" contains "$work/stats" '"GetMmsJob":6'
admin DELETE /admin/faults >/dev/null

# Control characters from the API (a terminal escape in a job name) are not printed raw.
"$mmsmon" --config "$work/two.json" --once >"$work/out" 2>&1
check "an escape sequence from the API is not printed raw" bash -c "! grep -q \$'\\x1b' '$work/out'"
check "... the rest of the name is" contains "$work/out" "evil?[2Jname"

# api.max_response_bytes: a larger body is a decode failure, never buffered.
write_config "$work/small.json" '[{"source_id": 2000015, "job_id": 10}]' '"max_response_bytes": 4096'
admin POST /admin/faults '{"job": {"source_id": 2000015, "job_id": 10}, "huge_body": 100000, "count": 1}' >/dev/null
"$mmsmon" --config "$work/small.json" --once --format json >"$work/out" 2>&1
check "api.max_response_bytes: the poll fails" test $? -eq 1
check "... as decode, naming the limit" contains "$work/out" '"reason":"decode","message":"response body exceeds 4096 bytes'

# api.time_zone: createTime carries no zone; +08:00 by default, as configured otherwise.
write_config "$work/tz.json" '[{"source_id": 2000015, "job_id": 10}]'
"$mmsmon" --config "$work/tz.json" --once --format json >"$work/out" 2>&1
check "api.time_zone default +08:00" contains "$work/out" '"create_time":"2026-11-20T02:00:00.000Z"'
write_config "$work/tz.json" '[{"source_id": 2000015, "job_id": 10}]' '"time_zone": "UTC"'
"$mmsmon" --config "$work/tz.json" --once --format json >"$work/out" 2>&1
check "api.time_zone UTC" contains "$work/out" '"create_time":"2026-11-20T10:00:00.000Z"'

# credentials.config_file: an Aliyun CLI config file, with nothing in the environment.
cat >"$work/aliyun.json" <<JSON
{"current": "mig", "profiles": [{"name": "mig", "mode": "AK", "access_key_id": "once-id",
  "access_key_secret": "$secret"}]}
JSON
chmod 644 "$work/aliyun.json"
write_config "$work/cli.json" '[{"source_id": 2000015, "job_id": 10}]' "" \
  "\"credentials\": {\"config_file\": \"$work/aliyun.json\"}"
env -u ALIBABA_CLOUD_ACCESS_KEY_ID -u ALIBABA_CLOUD_ACCESS_KEY_SECRET HOME="$work/nohome" \
  "$mmsmon" --config "$work/cli.json" --check-config >"$work/out" 2>&1
check "a CLI config others may read is refused" \
  contains "$work/out" "$work/aliyun.json is readable by group or others (mode 0644); it holds secrets: chmod 600 it"
chmod 600 "$work/aliyun.json"
env -u ALIBABA_CLOUD_ACCESS_KEY_ID -u ALIBABA_CLOUD_ACCESS_KEY_SECRET HOME="$work/nohome" \
  "$mmsmon" --config "$work/cli.json" --check-config >"$work/out" 2>&1
check "credentials.config_file: --check-config names the profile" contains "$work/out" 'profile "mig"'
env -u ALIBABA_CLOUD_ACCESS_KEY_ID -u ALIBABA_CLOUD_ACCESS_KEY_SECRET HOME="$work/nohome" \
  "$mmsmon" --config "$work/cli.json" --once >"$work/out" 2>&1
check "credentials.config_file: polls succeed with its key" test $? -eq 0

# api.ca_file: an HTTPS endpoint with a self-signed certificate.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mms-sim-test \
  -keyout "$work/key.pem" -out "$work/cert.pem" -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_with_port tls_port mms-sim-tls "$work/sim-tls.log" "$sim" --scenario "$work/scenario.json" \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
endpoint=https://127.0.0.1:$tls_port write_config "$work/tls.json" '[{"source_id": 2000015, "job_id": 10}]'
"$mmsmon" --config "$work/tls.json" --once >"$work/out" 2>&1
check "https without api.ca_file: the certificate is refused" contains "$work/out" "tls: "
endpoint=https://127.0.0.1:$tls_port write_config "$work/tls.json" '[{"source_id": 2000015, "job_id": 10}]' \
  "\"ca_file\": \"$work/cert.pem\""
"$mmsmon" --config "$work/tls.json" --once >"$work/out" 2>&1
check "https with api.ca_file: polls succeed" test $? -eq 0

# A child that dies at start fails the script at once, naming it and its log (no hang).
start=$SECONDS
(start_with_port p broken "$work/broken.log" "$mmsmon" --config /nonexistent.json) >"$work/out" 2>&1
check "a child that exits at start fails the script" test $? -ne 0
check "... within seconds" test $((SECONDS - start)) -lt 5
check "... naming it and the tail of its log" contains "$work/out" "FAIL broken exited (status 1) before reporting its port"
check "... the log tail is shown" contains "$work/out" "/nonexistent.json"

"$mmsmon" --bogus >"$work/out" 2>&1
check "unknown argument: exit 1" test $? -eq 1
"$mmsmon" --version >"$work/out" 2>&1
check "--version" contains "$work/out" "mmsmon "

finish
