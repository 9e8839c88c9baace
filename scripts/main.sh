#!/bin/bash
# The main job on a fresh Debian 12 machine: install what is needed, build the
# release preset, and run every workload at depth 0 on the sim with its
# default count, printing the guest's result line and the --stats JSON of
# each run. Exits non-zero if any workload does not end with status 1
# (isa-debug-exit code 0, the workloads' "ok").
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${NESTBED_JOBS:-2}

./scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j"$jobs"

# The workloads are the images named in the expectations table (column 2).
mapfile -t workloads < <(grep -v '^\s*#' workloads/expected.txt | awk -F'|' 'NF >= 4 { gsub(/ /, "", $2); print $2 }' | awk '!seen[$0]++')

failed=()
for name in "${workloads[@]}"; do
  echo "== $name (depth 0, sim)"
  status=0
  build/bin/nestbed run --engine sim --stats - "build/images/$name" || status=$?
  if ((status != 1)); then
    echo "main: $name ended with status $status, expected 1" >&2
    failed+=("$name")
  fi
done

if ((${#failed[@]})); then
  echo "main: ${#failed[@]} of ${#workloads[@]} workloads failed: ${failed[*]}" >&2
  exit 1
fi
echo "main: all ${#workloads[@]} workloads ran at depth 0 on the sim"
