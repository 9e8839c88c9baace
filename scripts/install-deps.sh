#!/bin/bash
# Installs everything nestbed needs on Debian 12 (bookworm): the host
# toolchain, the libraries l0 and the tests use, QEMU (the second, independent
# implementation the end-to-end tests compare against), Python for analysis/.
# Idempotent: when every package is already installed it only checks, in well
# under a second, and neither updates nor installs anything.
set -euo pipefail

packages=(
  g++ make cmake pkg-config binutils       # build (CMake presets use Makefiles)
  libcapstone-dev                          # the sim's decoder
  libcli11-dev nlohmann-json3-dev          # the nestbed CLI (header-only)
  libtomlplusplus-dev                      # nestbed sweep's SPEC files
  libssl-dev                               # the nestbed CLI: SHA-256 of a run's inputs in --stats
  libgtest-dev libbenchmark-dev            # tests, microbenchmarks
  qemu-system-x86                          # depth-0 reference runs
  python3 python3-pandas python3-matplotlib  # e2e driver, analysis/
  python3-pytest                           # analysis/'s tests
  slurm-wlm munge                          # nestbed sweep --slurm's test (a single-node Slurm)
  valgrind
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if ((EUID != 0)); then sudo=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
