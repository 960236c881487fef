#!/usr/bin/env bash
# layering_check.sh DAEMON_DIR: the rooms of daemon/ keep their layering (README
# "Development"). Fails naming each file and include that breaks it:
#   core/  pure logic: no Asio, Beast, spdlog or prometheus-cpp, nothing from io/, obs/, app/
#   io/    nothing from app/ or obs/
#   obs/   nothing from io/ or app/
# `layering_check.sh --self-test` checks that a violation is caught.
set -uo pipefail
if [ "${1:-}" = --self-test ]; then
  t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  mkdir -p "$t/core" "$t/io" "$t/obs" "$t/app"
  printf '#include <boost/asio/post.hpp>\n' >"$t/core/bad.cpp"
  printf '#include "app/router.hpp"\n' >"$t/io/bad.hpp"
  out=$("$0" "$t" 2>&1) && { echo "FAIL a violation passed"; exit 1; }
  if ! grep -q 'core/bad.cpp: #include <boost/asio/post.hpp>' <<<"$out" ||
    ! grep -q 'io/bad.hpp: #include "app/router.hpp"' <<<"$out"; then
    echo "FAIL violations not named: $out"
    exit 1
  fi
  echo "1 passed, 0 failed"
  exit 0
fi
dir=$1
bad=0
check() {  # check ROOM REGEX WHY
  local room=$1 re=$2 why=$3 f line
  while IFS= read -r f; do
    while IFS= read -r line; do
      echo "FAIL ${f#"$dir"/}: $line ($why)"
      bad=$((bad + 1))
    done < <(grep -E "^[[:space:]]*#[[:space:]]*include[[:space:]]*$re" "$f")
  done < <(find "$dir/$room" -name '*.[ch]pp' | sort)
}
check core '<(boost/(asio|beast)|spdlog|prometheus)' "core is pure: no I/O or logging libraries"
check core '"(io|obs|app)/' "core depends on nothing above it"
check io '"(app|obs)/' "io does not reach into the composition or observability"
check obs '"(io|app)/' "obs does not reach into I/O or the composition"
files=$(find "$dir" -name '*.[ch]pp' | wc -l)
if [ "$files" -lt 20 ]; then echo "FAIL only $files files under $dir"; exit 1; fi
[ "$bad" -eq 0 ] && echo "$files passed, 0 failed"
[ "$bad" -eq 0 ]
