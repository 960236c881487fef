#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` builds it, lintian finds no error, dpkg installs it, the
# installed binary runs and accepts the installed example configuration, an upgrade over
# itself keeps an edited conffile, and a purge removes everything. Needs root (CI is).
# Usage: deb_test.sh BUILD_DIR
set -uo pipefail
build=$1
work=$(mktemp -d)
. "$(dirname "$0")/../lib.sh"
installed=false
cleanup() {
  $installed && dpkg --purge mmsmon >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "FAIL needs root to install a package"; exit 1; }
for tool in cpack dpkg lintian dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "FAIL $tool is not installed (deploy/bootstrap.sh)"; exit 1; }
done

(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1)
check "cpack builds the package" test $? -eq 0
deb=$(find "$work" -maxdepth 1 -name 'mmsmon_*.deb' | head -n 1)
[ -n "$deb" ] || { cat "$work/cpack.log"; echo "FAIL no package"; exit 1; }

lintian --fail-on error "$deb" >"$work/lintian" 2>&1
check "lintian finds no error" test $? -eq 0
grep '^E:' "$work/lintian"
check "the shared libraries are in Depends (dpkg-shlibdeps)" \
  bash -c "dpkg-deb -f '$deb' Depends | grep -q libboost-json"
check "the config is a conffile" bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/mmsmon/mmsmon.json"

dpkg -i "$deb" >"$work/install.log" 2>&1
check "dpkg -i installs it" test $? -eq 0
installed=true
check "the binary is /usr/bin/mmsmon" test -x /usr/bin/mmsmon
/usr/bin/mmsmon --version >"$work/out" 2>&1
check "the installed mmsmon --version runs" contains "$work/out" "mmsmon "
check "the unit is installed" test -f /usr/lib/systemd/system/mmsmon.service
check "logrotate's file is installed" test -f /etc/logrotate.d/mmsmon
check "the config is mode 0640" test "$(stat -c %a /etc/mmsmon/mmsmon.json)" = 640
check "the scrape config is in /usr/share/mmsmon" test -f /usr/share/mmsmon/prometheus/prometheus.yml
check "promtool accepts the installed scrape config with the installed rules" \
  promtool check config /usr/share/mmsmon/prometheus/prometheus.yml
check "the Grafana dashboard and its provisioning are installed" \
  test -f /usr/share/mmsmon/grafana/mmsmon.json -a -f /usr/share/mmsmon/grafana/provisioning/mmsmon.yml
check "amtool accepts the installed Alertmanager example" \
  amtool check-config /usr/share/mmsmon/alertmanager/alertmanager.yml
ALIBABA_CLOUD_ACCESS_KEY_ID=deb-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=deb-secret \
  /usr/bin/mmsmon --config /etc/mmsmon/mmsmon.json --check-config >"$work/out" 2>&1
check "--check-config accepts the installed example" test $? -eq 0

# An operator edits the config; an upgrade (here: the same package again) keeps it.
sed -i 's/"interval": "60s"/"interval": "120s"/' /etc/mmsmon/mmsmon.json
check "the edit is in place" contains /etc/mmsmon/mmsmon.json '"interval": "120s"'
dpkg -i --force-confold "$deb" >"$work/upgrade.log" 2>&1
check "the upgrade succeeds" test $? -eq 0
check "the edited conffile is kept" contains /etc/mmsmon/mmsmon.json '"interval": "120s"'

dpkg --purge mmsmon >"$work/purge.log" 2>&1
check "dpkg --purge succeeds" test $? -eq 0
installed=false
check "the binary is gone" test ! -e /usr/bin/mmsmon
check "/etc/mmsmon is gone" test ! -e /etc/mmsmon
check "the unit is gone" test ! -e /usr/lib/systemd/system/mmsmon.service
check "dpkg knows nothing of it" bash -c '! dpkg -s mmsmon >/dev/null 2>&1'
finish
