#!/usr/bin/env bash
# Builds shiplog. Usage: scripts/build.sh [test|release]
#   test    (default) build/ with AddressSanitizer + UndefinedBehaviorSanitizer and the unit tests
#   release build-release/, optimized, what the run command starts
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-test}"
case "$kind" in
  test)
    dir=build
    [ -f "$dir/build.ninja" ] || meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false -Dtests=true >/dev/null
    ;;
  release)
    dir=build-release
    [ -f "$dir/build.ninja" ] || meson setup "$dir" --buildtype=release -Db_ndebug=false -Dtests=false >/dev/null
    ;;
  *) echo "usage: $0 [test|release]" >&2; exit 2 ;;
esac
ninja -C "$dir" >&2
echo "$dir"
