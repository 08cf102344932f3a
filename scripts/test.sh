#!/usr/bin/env bash
# The README's second command: installs dependencies, builds with ASan+UBSan,
# runs the C unit tests (meson test) and the integration tests that start
# real nodes (pytest, Debian's python3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
dir=$(bash scripts/build.sh test)
meson test -C "$dir" --print-errorlogs
export SHIPLOGD="$PWD/$dir/shiplogd"
# Nodes report leaks at exit (into their logs, exit code unchanged); the
# integration fixtures fail a test whose nodes leaked (conftest.py: fail_on_leaks).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="exitcode=0"
export UBSAN_OPTIONS="print_stacktrace=1"
timeout 1200 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/jepsen/test_checkers.py tests/fake_k8s tests/integration tests/regions tests/jepsen/test_smoke.py "$@"
# A short run of every fuzz target (fuzz/run; long runs are by hand).
bash fuzz/run "${SHIPLOG_FUZZ_SECONDS:-10}"
