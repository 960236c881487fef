#!/usr/bin/env bash
# The shipped systemd unit: `systemd-analyze verify` finds nothing, `systemd-analyze security`
# rates it at most 2.0, and its settings agree with what mmsmon does (notify, watchdog,
# reload by SIGHUP, a stop timeout above mmsmon's own 5 s bound).
# Usage: systemd_unit_test.sh MMSMON SOURCE_DIR
set -uo pipefail
mmsmon=$1 src=$2
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
trap 'rm -rf "$work"' EXIT
command -v systemd-analyze >/dev/null || { echo "FAIL systemd-analyze is not installed"; exit 1; }
unit=$src/systemd/mmsmon.service
# verify checks that the commands exist: point them at the binary just built.
sed "s#/usr/bin/mmsmon#$mmsmon#g" "$unit" >"$work/mmsmon.service"

systemd-analyze verify --man=no "$work/mmsmon.service" >"$work/verify" 2>&1
check "systemd-analyze verify passes" test $? -eq 0
check "... and says nothing" test ! -s "$work/verify"
[ -s "$work/verify" ] && cat "$work/verify"

systemd-analyze security --offline=true "$work/mmsmon.service" >"$work/security" 2>&1
level=$(sed -n 's/.*Overall exposure level for mmsmon.service: \([0-9.]*\).*/\1/p' "$work/security")
echo "exposure level: ${level:-?}"
check "systemd-analyze security rates it at most 2.0" awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.0) }'

setting() { grep -E "^$1=" "$unit" | tail -n 1 | cut -d= -f2-; }
check "Type=notify" test "$(setting Type)" = notify
check "a watchdog" test -n "$(setting WatchdogSec)"
# shellcheck disable=SC2016  # $MAINPID is systemd's, not the shell's
check "ExecReload sends SIGHUP" contains "$unit" 'ExecReload=/bin/kill -HUP $MAINPID'
stop=$(setting TimeoutStopSec)
check "TimeoutStopSec ($stop) leaves room for mmsmon's 5 s stop" \
  awk -v s="${stop%s}" 'BEGIN { exit !(s + 0 > 5) }'
nofile=$(setting LimitNOFILE)
check "LimitNOFILE ($nofile) covers 1024 API connections, 64 HTTP connections and files" \
  test "${nofile:-0}" -ge $((1024 + 64 + 64))
check "no core dumps (LimitCORE=0)" test "$(setting LimitCORE)" = 0
for d in DynamicUser StateDirectory LogsDirectory LoadCredential; do
  check "keeps $d" test -n "$(setting "$d")"
done
finish
