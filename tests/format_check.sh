#!/usr/bin/env bash
# format_check.sh CLANG_FORMAT FILE...: fails when any file differs from .clang-format, when
# clang-format is missing, or when there is nothing to check.
set -uo pipefail
tool=$1
shift
if ! command -v "$tool" >/dev/null 2>&1; then
  echo "FAIL $tool is not installed (deploy/bootstrap.sh installs clang-format)"
  exit 1
fi
if [ $# -lt 20 ]; then
  echo "FAIL only $# files to check: the list of sources is wrong"
  exit 1
fi
if "$tool" --dry-run --Werror "$@"; then
  echo "$# passed, 0 failed"
else
  echo "FAIL clang-format would change the files above (run: $tool -i FILE)"
  exit 1
fi
