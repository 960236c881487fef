#!/usr/bin/env bash
# Installs exactly the Debian 12 packages mmsmon needs that are missing. Idempotent: when
# nothing is missing it touches no package index and prints nothing.
#   deploy/bootstrap.sh          build + test dependencies
#   deploy/bootstrap.sh --demo   build dependencies and what the demo uses (curl)
set -euo pipefail

build_pkgs=(g++ cmake ninja-build pkg-config libboost1.81-dev libboost-json1.81-dev libspdlog-dev
            libsystemd-dev prometheus-cpp-dev libssl-dev doctest-dev)
# Tests: openssl (test certificates), prometheus (promtool and the server), wrk (benchmark),
# clang-format (format check), curl (demo), iproute2 (private network namespace for the
# Prometheus test), systemd (systemd-analyze for the unit file), logrotate (the rotation
# test), dpkg-dev and lintian (the Debian package test), clang-14 with libFuzzer (the fuzz
# targets), chromium (the status page in a real browser), prometheus-alertmanager (the alert
# sink test, amtool), Node.js and npm (official-SDK cross-check, puppeteer-core for the
# browser, the test webhook receiver).
test_pkgs=(openssl prometheus wrk clang-format curl ca-certificates iproute2 systemd logrotate
           dpkg-dev lintian clang-14 libclang-rt-14-dev chromium prometheus-alertmanager)

want=("${build_pkgs[@]}")
case "${1:-}" in
  --demo) want+=(curl) ;;
  "") want+=("${test_pkgs[@]}") ;;
  *) echo "usage: deploy/bootstrap.sh [--demo]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
# Node.js may come from elsewhere (e.g. NodeSource, which bundles npm and conflicts with
# Debian's npm package): only ask Debian for it when the commands are absent.
if [ -z "${1:-}" ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
