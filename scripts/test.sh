#!/bin/bash
# Everything CI checks, on a fresh Debian 12 machine: install what is needed,
# build the release preset and the debug preset (ASan + UBSan), and run every
# test of both. Exits non-zero if a build or any test fails; both test suites
# run even when the first one fails, so one run shows every failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${NESTBED_JOBS:-2}

./scripts/install-deps.sh
for preset in release debug; do
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j"$jobs"
done

status=0
for preset in release debug; do
  echo "== ctest --preset $preset"
  ctest --preset "$preset" -j"$jobs" || status=1
done
exit "$status"
