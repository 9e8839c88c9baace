#!/usr/bin/env python3
"""Per-iteration cost of pio-loop and cpuid-loop at depth 0: kvm engine
(host TSC and wall time) beside the sim engine (modeled cycles).

Each workload runs with two counts N1 < N2; the per-iteration cost is
(cost(N2) - cost(N1)) / (N2 - N1), which cancels boot and teardown. The sim
is deterministic, so one run per count; kvm runs are repeated and the median
taken. For pio-loop, one more kvm run with --trace splits an exit's cost into
what user space sees (`nestbed trace summary`).

    experiments/kvm_vs_sim.py                # prints the Markdown tables
    experiments/kvm_vs_sim.py --repeats 11 --n1 20000 --n2 200000

Needs a build (cmake --build build) and /dev/kvm.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1]
WORKLOADS = ["pio-loop", "cpuid-loop"]


def run_stats(opts, engine, image, count, extra=()):
    """One `nestbed run --stats -`: the JSON object printed after the guest's output."""
    command = [opts.nestbed, "run", "--engine", engine, "--stats", "-", "--cmdline", str(count), *extra,
               str(Path(opts.images) / image)]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 1:
        sys.exit(f"{' '.join(command)}: status {run.returncode}\n{run.stderr}")
    return json.loads(run.stdout[run.stdout.index("\n{") + 1:])


def median_stats(opts, engine, image, count):
    runs = [run_stats(opts, engine, image, count) for _ in range(opts.repeats if engine == "kvm" else 1)]
    return {key: statistics.median(r[key] for r in runs) for key in ("cycles", "wall_seconds")}


def per_iteration(opts, engine, image):
    low, high = median_stats(opts, engine, image, opts.n1), median_stats(opts, engine, image, opts.n2)
    iterations = opts.n2 - opts.n1
    return {"cycles": (high["cycles"] - low["cycles"]) / iterations,
            "ns": (high["wall_seconds"] - low["wall_seconds"]) * 1e9 / iterations}


def summary_row(text, label):
    """count, total cycles, mean cycles of a `nestbed trace summary` row."""
    match = re.search(r"^  " + re.escape(label) + r"\s+(\d+)\s+(\d+)\s+([\d.]+)", text, re.MULTILINE)
    return (int(match[1]), int(match[2]), float(match[3])) if match else None


def pio_trace_split(opts):
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "pio.trace"
        run_stats(opts, "kvm", "pio-loop", opts.n2, ["--trace", str(trace)])
        text = subprocess.run([opts.nestbed, "trace", "summary", str(trace)], capture_output=True, text=True,
                              check=True).stdout
    user = summary_row(text, "port 0x80 out")
    # The kvm_userspace_exit table comes last; its KVM_EXIT_IO row is the kernel's way out.
    kernel_part = text[text.index("kernel kvm:kvm_userspace_exit"):]
    way_out = summary_row(kernel_part, "KVM_EXIT_IO")
    kvm_exit_rows = "(none recorded)" not in text[text.index("kernel kvm:kvm_exit"):text.index("kernel kvm:kvm_userspace_exit")]
    return user, way_out, kvm_exit_rows


def user_exit_count(opts, image, count):
    """How many exits reached user space in one traced kvm run."""
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "run.trace"
        run_stats(opts, "kvm", image, count, ["--trace", str(trace)])
        text = subprocess.run([opts.nestbed, "trace", "summary", str(trace)], capture_output=True, text=True,
                              check=True).stdout
    return int(re.search(r"records: (\d+) exits to user space", text)[1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nestbed", default=str(SOURCE_DIR / "build" / "bin" / "nestbed"))
    p.add_argument("--images", default=str(SOURCE_DIR / "build" / "images"))
    p.add_argument("--n1", type=int, default=20000)
    p.add_argument("--n2", type=int, default=200000)
    p.add_argument("--repeats", type=int, default=7, help="kvm runs per count; the median is used")
    opts = p.parse_args()
    if opts.n2 <= opts.n1:
        sys.exit("--n2 must be larger than --n1")

    print(f"N1 = {opts.n1}, N2 = {opts.n2}, kvm median of {opts.repeats} runs per count\n")
    print("| workload | sim: modeled cycles / iteration | kvm: TSC cycles / iteration | kvm: wall ns / iteration |")
    print("|---|---:|---:|---:|")
    for image in WORKLOADS:
        sim, kvm = per_iteration(opts, "sim", image), per_iteration(opts, "kvm", image)
        print(f"| {image} | {sim['cycles']:.1f} | {kvm['cycles']:.0f} | {kvm['ns']:.0f} |")

    user, way_out, kvm_exit_rows = pio_trace_split(opts)
    print(f"\npio-loop {opts.n2} on kvm with --trace (one run):\n")
    print("| part of a port-0x80 exit | exits | mean TSC cycles |")
    print("|---|---:|---:|")
    if user:
        print(f"| user space: KVM_RUN returned -> next KVM_RUN | {user[0]} | {user[2]:.1f} |")
    if way_out:
        print(f"| kernel: kvm:kvm_userspace_exit -> KVM_RUN returned (all KVM_EXIT_IO) | {way_out[0]} | {way_out[2]:.1f} |")
    print(f"\nkvm:kvm_exit events recorded: {'yes' if kvm_exit_rows else 'none'}")
    print("\nExits that reached user space in one traced kvm run:\n")
    print(f"| workload | N = {opts.n1} | N = {opts.n2} |")
    print("|---|---:|---:|")
    for image in WORKLOADS:
        print(f"| {image} | {user_exit_count(opts, image, opts.n1)} | {user_exit_count(opts, image, opts.n2)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
