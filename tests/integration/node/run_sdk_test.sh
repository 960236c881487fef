#!/usr/bin/env bash
# Starts mms-sim on 127.0.0.1:0, runs the official SDK against it, stops the simulator.
set -euo pipefail
sim=$1 node_dir=$2
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/scenario.json" <<'JSON'
{"credentials": [{"access_key_id": "sdk-id", "access_key_secret": "sdk-secret"}],
 "jobs": [{"source_id": 7, "job_id": 1, "name": "orders", "task_num": 100, "task_done": 40},
          {"source_id": 7, "job_id": 2, "name": "logs", "task_num": 10, "task_done": 5}]}
JSON
mkfifo "$work/port"
"$sim" --scenario "$work/scenario.json" --port-file "$work/port" 2>"$work/sim.log" &
pid=$!
read -r port <"$work/port"
node "$node_dir/sdk_against_sim.js" "$port"
