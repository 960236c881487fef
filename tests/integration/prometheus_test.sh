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
. "$(dirname "$0")/../lib.sh"
trap 'stop_children; rm -rf "$work"' EXIT

cat >"$work/scenario.json" <<'JSON'
{"credentials": [{"access_key_id": "prom-id", "access_key_secret": "prom-secret"}],
 "jobs": [{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 200, "task_done": 50},
          {"source_id": 7, "job_id": 2, "name": "users", "task_num": 10, "task_done": 10, "status": "DONE"}]}
JSON
start_with_port sim_port mms-sim "$work/sim.log" "$sim" --scenario "$work/scenario.json"
cat >"$work/mmsmon.json" <<JSON
{"api": {"endpoint": "http://127.0.0.1:$sim_port"},
 "poll": {"interval": "1s", "jitter": 0},
 "jobs": [{"source_id": 7, "job_id": 1}, {"source_id": 7, "job_id": 2}],
 "listen": "127.0.0.1:0",
 "alerts": {"file": "$work/alerts.log"}}
JSON
ALIBABA_CLOUD_ACCESS_KEY_ID=prom-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=prom-secret \
  start_with_port mmsmon_port mmsmon "$work/mmsmon.log" "$mmsmon" --config "$work/mmsmon.json"

# A second mmsmon with TLS and basic auth on its HTTP server (bcrypt of "scrape-password").
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mmsmon -keyout "$work/key.pem" \
  -out "$work/cert.pem" -addext subjectAltName=IP:127.0.0.1 2>/dev/null
printf 'scrape-password' >"$work/password"
sed -e "s#\"listen\": \"127.0.0.1:0\",#\"listen\": \"127.0.0.1:0\", \"web\": {\"tls_server_config\": {\"cert_file\": \"$work/cert.pem\", \"key_file\": \"$work/key.pem\"}, \"basic_auth_users\": {\"prometheus\": \"\$2b\$04\$mmsmontestsaltmmsmonteuV4aGFg8HwsmtZTMxqqKCyXMG0NqP1q\"}},#" \
  -e "s#$work/alerts.log#$work/alerts-tls.log#" "$work/mmsmon.json" >"$work/mmsmon-tls.json"
ALIBABA_CLOUD_ACCESS_KEY_ID=prom-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=prom-secret \
  start_with_port tls_port mmsmon-tls "$work/mmsmon-tls.log" "$mmsmon" --config "$work/mmsmon-tls.json"

# The shipped scrape configs, pointed at these two and scraping every second.
sed -e "s/localhost:9854/127.0.0.1:$mmsmon_port/" -e "s/scrape_interval: 30s/scrape_interval: 1s/" \
    -e "s/scrape_timeout: 10s/scrape_timeout: 1s/" -e "s/evaluation_interval: 30s/evaluation_interval: 1s/" \
    -e "s#/usr/share/mmsmon/prometheus/#$src/deploy/prometheus/#" \
    "$src/deploy/prometheus/prometheus.yml" >"$work/prometheus.yml"
sed -e "s/localhost:9854/127.0.0.1:$tls_port/" -e "s/job_name: mmsmon/job_name: mmsmon-tls/" \
    -e "s/scrape_interval: 30s/scrape_interval: 1s/" -e "s/scrape_timeout: 10s/scrape_timeout: 1s/" \
    -e "s#/etc/prometheus/mmsmon-ca.pem#$work/cert.pem#" -e "s#/etc/prometheus/mmsmon-password#$work/password#" \
    "$src/deploy/prometheus/prometheus-tls.yml" | sed -n '/^scrape_configs:/,$p' | tail -n +2 >>"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address=127.0.0.1:9090 --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)

query() {  # query PROMQL -> the value of the first result, or nothing
  curl -sf --max-time 5 --get --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
    sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p'
}
# Prometheus offers no event to wait on: ask until the answer comes (bounded: 60 s).
answer_is() { [ "$(query "$1" || true)" = "$2" ]; }
wait_value() {  # wait_value PROMQL EXPECTED
  wait_until 60 answer_is "$1" "$2" && return 0
  echo "last answer for $1: '$(query "$1" || true)'"
  return 1
}

for q in 'up{job="mmsmon"}=1' \
  'mms_job_progress_ratio{job="mmsmon",source_id="7",job_id="1"}=0.25' \
  'mms_job_status{job="mmsmon",job_id="2",status="DONE"}=1' \
  'mms_job_tasks{job="mmsmon",job_id="1"}=200' \
  'count(mms_job_info{job="mmsmon",name="orders"})=1' \
  'up{job="mmsmon-tls"}=1' \
  'mms_job_progress_ratio{job="mmsmon-tls",source_id="7",job_id="1"}=0.25'; do
  check "${q%=*} is ${q##*=}" wait_value "${q%=*}" "${q##*=}"
done
if [ "$failed" -ne 0 ]; then
  echo "--- prometheus.log"; cat "$work/prometheus.log"; echo "--- mmsmon.log"; cat "$work/mmsmon.log"
fi
finish
