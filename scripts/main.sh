#!/bin/bash
# The main job on a fresh Debian 12 machine: install what is needed, build the
# release preset, and run every workload with its default count at depth 0
# and at depth 1 (under l1-vmm) on the sim, then the vmx-selftest guest,
# printing each guest's output and the --stats JSON of each run. Exits
# non-zero if any run does not end with status 1 (isa-debug-exit code 0, the
# guests' "ok").
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${NESTBED_JOBS:-2}

./scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j"$jobs"

# The workloads are the images named in the expectations table (column 2).
mapfile -t workloads < <(grep -v '^\s*#' workloads/expected.txt | awk -F'|' 'NF >= 4 { gsub(/ /, "", $2); print $2 }' | awk '!seen[$0]++')

failed=()
# run_one LABEL nestbed-run-arguments...: the run must end with status 1.
run_one() {
  local label=$1
  shift
  echo "== $label"
  local status=0
  build/bin/nestbed run --engine sim --stats - "$@" || status=$?
  if ((status != 1)); then
    echo "main: $label ended with status $status, expected 1" >&2
    failed+=("$label")
  fi
}

for name in "${workloads[@]}"; do
  run_one "$name (depth 0, sim)" "build/images/$name"
done
for name in "${workloads[@]}"; do
  run_one "$name (depth 1: l1-vmm -> $name, sim)" --module "build/images/$name" build/images/l1-vmm
done
for name in "${workloads[@]}"; do
  run_one "$name (depth 2: l1-vmm -> l1-vmm -> $name, sim)" --module build/images/l1-vmm --module "build/images/$name" \
    build/images/l1-vmm
done
run_one "vmx-selftest (the sim's VMX, test by test)" build/images/vmx-selftest
run_one "vmx-selftest at depth 1 (l1-vmm's nested VMX, test by test)" --module build/images/vmx-selftest build/images/l1-vmm
run_one "hello at depth 5 (five l1-vmms)" --memory 3584 --module build/images/l1-vmm --module build/images/l1-vmm \
  --module build/images/l1-vmm --module build/images/l1-vmm --module build/images/hello build/images/l1-vmm

if ((${#failed[@]})); then
  echo "main: ${#failed[@]} runs failed: ${failed[*]}" >&2
  exit 1
fi
echo "main: all ${#workloads[@]} workloads ran at depths 0, 1 and 2 on the sim, hello at depth 5, and vmx-selftest passed natively and under l1-vmm"
