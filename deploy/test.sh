#!/usr/bin/env bash
# Installs what is missing, builds mmsmon twice (normal with warnings as errors, then with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test on both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/bootstrap.sh
jobs=$(nproc)
for variant in release asan; do
  dir=build-ci-$variant
  flags=(-DMMSMON_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$variant" = asan ] && flags=(-DMMSMON_WERROR=ON -DMMSMON_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  echo "== $variant build" >&2
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== $variant tests" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" --output-on-failure --no-tests=error --timeout 300 -j "$jobs"
done
