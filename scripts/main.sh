#!/bin/bash
# The main job on a fresh Debian 12 machine, the headline experiment:
# install what is needed, build the release preset, run the headline sweep
# (experiments/sweeps/headline.toml: every workload at every depth the sim
# runs it, l1-vmm's default mechanisms) with progress on stderr, print its
# summary table, and write its figures and tables (analysis/report.py).
# A few minutes on two cores. Exits non-zero if any run failed.
#
#   NESTBED_JOBS   parallel builds and runs (default 2)
#   NESTBED_OUT    the sweep's folder (default results/headline); an existing
#                  folder is resumed: runs whose results exist are skipped
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${NESTBED_JOBS:-2}
out=${NESTBED_OUT:-results/headline}

./scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j"$jobs"

build/bin/nestbed sweep experiments/sweeps/headline.toml --out "$out" -j"$jobs" --resume
echo
build/bin/nestbed report "$out"

# results.csv's "ok" column: 1 for a run that ended as the workload does.
failed=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ok") c = i; next } $c != 1 { print $1 }' "$out/results.csv")
if [[ -n $failed ]]; then
  echo "main: failed runs (see $out/runs/<id>/): $failed" >&2
  exit 1
fi
echo "main: headline sweep done: $out/results.csv (one row per run), $out/figures/, $out/tables/"
