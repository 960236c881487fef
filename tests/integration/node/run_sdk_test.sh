#!/usr/bin/env bash
# Starts mms-sim on 127.0.0.1:0, runs the official SDK against it, stops the simulator.
# Usage: run_sdk_test.sh MMS_SIM NODE_DIR
set -euo pipefail
sim=$1 node_dir=$2
work=$(mktemp -d)
. "$(dirname "$0")/../../lib.sh"
# Set before anything can fail: the trap stops what was started and removes the scratch dir.
trap 'stop_children; rm -rf "$work"' EXIT
cat >"$work/scenario.json" <<'JSON'
{"credentials": [{"access_key_id": "sdk-id", "access_key_secret": "sdk-secret"}],
 "jobs": [{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 100, "task_done": 40},
          {"source_id": 7, "job_id": 2, "name": "logs", "task_num": 10, "task_done": 5}]}
JSON
start_with_port port mms-sim "$work/sim.log" "$sim" --scenario "$work/scenario.json"
node "$node_dir/sdk_against_sim.js" "$port"
