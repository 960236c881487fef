#!/usr/bin/env bash
# Installs the official Alibaba Cloud SDK modules used by the cross-check tests into DIR.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
dir=$1
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.js "$dir/"
cd "$dir"
if [ -d node_modules/@alicloud/openapi-client ] && cmp -s package-lock.json .installed-lock 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json .installed-lock
