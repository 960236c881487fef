#!/usr/bin/env bash
# Installs what is missing, builds mmsmon twice (normal with warnings as errors, then with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test on both builds; then
# builds the libFuzzer targets with clang and runs each briefly over its seed corpus.
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
echo "== fuzz build (clang, libFuzzer, ASan+UBSan)" >&2
cmake -S . -B build-ci-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DMMSMON_FUZZ=ON \
  -DMMSMON_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-ci-fuzz -j "$jobs"
echo "== fuzz runs (10 s each)" >&2
ctest --test-dir build-ci-fuzz --output-on-failure --no-tests=error --timeout 300 -j "$jobs"
