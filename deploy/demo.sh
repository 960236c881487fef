#!/usr/bin/env bash
# Installs what is missing, builds mmsmon and mms-sim, starts the simulator with the demo
# scenario and shows mmsmon polling it.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh --build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target mmsmon mms-sim
work=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT INT TERM
mkfifo "$work/port"
build/tests/mms-sim --listen 127.0.0.1:0 --scenario tests/sim/scenarios/demo.json --port-file "$work/port" &
sim=$!
read -r port <"$work/port"
sed "s/127.0.0.1:8080/127.0.0.1:$port/" config/demo.json >"$work/demo.json"
export ALIBABA_CLOUD_ACCESS_KEY_ID=demo-access-key-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=demo-access-key-secret
for round in 1 2 3; do
  echo "== poll $round (mmsmon --once against mms-sim on port $port)"
  build/mmsmon --config "$work/demo.json" --once || true
  [ "$round" -lt 3 ] && sleep 5
done
