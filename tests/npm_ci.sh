#!/usr/bin/env bash
# Installs the npm modules a test uses: copies SRC's package.json, package-lock.json and
# scripts into DEST and runs `npm ci` there, unless DEST already holds MODULE installed
# from the same lock file.
# Usage: npm_ci.sh SRC DEST MODULE
set -euo pipefail
src=$1 dest=$2 module=$3
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
find "$src" -maxdepth 1 \( -name '*.js' -o -name '*.mjs' \) -exec cp {} "$dest/" \;
cd "$dest"
if [ -d "node_modules/$module" ] && cmp -s package-lock.json .installed-lock 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json .installed-lock
