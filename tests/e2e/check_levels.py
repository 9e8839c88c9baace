#!/usr/bin/env python3
"""End-to-end checks of the per-level accounting in `nestbed run --stats`
(the "levels" array, l0/level_stats.h, l0/cli/levels_json.h):

  - its shape: levels 1..d+1 in order, each with instructions, cycles,
    hw_exits and exits by reason name;
  - sums over the levels equal the run's totals (instructions, cycles,
    vm_exits), and each level's hw_exits is the sum of its exits;
  - the same hardware exits, by level and reason, as the trace of the same
    run (`nestbed trace export --csv`), which resolves levels the same way;
  - the workload's level retires the same instructions at every depth >= 1
    (l1-vmm gives its guest the same machine at every level);
  - level 1 (l1-vmm in VMX root operation) takes no hardware exit, and the
    workload's level takes at least N CPUID exits for cpuid-loop N (N OUT
    exits for pio-loop N); for mmio-loop N every level from 2 to the
    workload's takes at least 3N + 2 EPT violations, one per I/O APIC
    access: the workload's own, and each l1-vmm's forwarded one (every
    VMM level emulates the device by exit).
(l0/sim/level_accounting's rules, exit by exit, are checked in
tests/unit/level_accounting_test.cpp.)

    check_levels.py --nestbed build/bin/nestbed --images build/images
"""
import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from sanitizer_report import failure as sanitizer_failure

STATUS_OK = 1  # isa-debug-exit code 0


class Failure(Exception):
    pass


def nestbed(opts, *args):
    r = subprocess.run([opts.nestbed, *args], capture_output=True, text=True, timeout=opts.timeout)
    report = sanitizer_failure(r.stderr)
    if report:
        raise Failure(report)
    return r


def run_stats(opts, workload, args, depth, trace=None):
    """--stats of `workload args` under `depth` levels of l1-vmm."""
    image = str(Path(opts.images) / workload)
    l1_vmm = str(Path(opts.images) / "l1-vmm")
    if depth == 0:
        command = ["--cmdline", args, image]
    else:
        modules = ["--module", l1_vmm] * (depth - 1) + ["--module", f"{image} {args}"]
        command = modules + [l1_vmm]
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = Path(tmp) / "stats.json"
        extra = ["--trace", trace] if trace else []
        r = nestbed(opts, "run", "--memory", "512", "--stats", str(stats_path), *extra, *command)
        if r.returncode != STATUS_OK:
            raise Failure(f"{workload} at depth {depth}: status {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        return json.loads(stats_path.read_text())


def check_shape_and_sums(stats, depth, where):
    levels = stats["levels"]
    if [l["level"] for l in levels] != list(range(1, depth + 2)):
        raise Failure(f"{where}: levels {[l['level'] for l in levels]}, expected 1..{depth + 1}")
    for l in levels:
        if list(l) != ["level", "instructions", "cycles", "hw_exits", "exits"]:
            raise Failure(f"{where}: level {l['level']} has keys {list(l)}")
        if sum(l["exits"].values()) != l["hw_exits"]:
            raise Failure(f"{where}: level {l['level']}: exits {l['exits']} do not sum to hw_exits {l['hw_exits']}")
    for key, total in (("instructions", "instructions"), ("cycles", "cycles"), ("hw_exits", "vm_exits")):
        s = sum(l[key] for l in levels)
        if s != stats[total]:
            raise Failure(f"{where}: {key} over the levels sum to {s}, the run's {total} is {stats[total]}")


def trace_exits(opts, trace):
    """Counter of (level, reason name) over the trace's hardware exits."""
    r = nestbed(opts, "trace", "export", "--csv", "-", trace)
    if r.returncode != 0:
        raise Failure(f"trace export: status {r.returncode}: {r.stderr}")
    return Counter((int(row["level"]), row["reason"]) for row in csv.DictReader(io.StringIO(r.stdout)))


def check_against_trace(opts, stats, trace, where):
    from_stats = Counter({(l["level"], reason): n for l in stats["levels"] for reason, n in l["exits"].items()})
    from_trace = trace_exits(opts, trace)
    if from_stats != from_trace:
        raise Failure(f"{where}: exits by level and reason differ from the trace's:\n"
                      f"  stats: {sorted(from_stats.items())}\n  trace: {sorted(from_trace.items())}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nestbed", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--timeout", type=int, default=200)
    p.add_argument("--max-depth", type=int, default=2)
    opts = p.parse_args()
    n = 50
    try:
        for workload, args in (("cpuid-loop", str(n)), ("pio-loop", str(n)), ("mmio-loop", str(n))):
            native = run_stats(opts, workload, args, 0)
            check_shape_and_sums(native, 0, f"{workload} natively")
            if native["levels"][0]["hw_exits"] != 0:
                raise Failure(f"{workload} natively: {native['levels'][0]['hw_exits']} hardware exits")
            under_l1_vmm = None  # the workload level's instructions at depth 1
            for depth in range(1, opts.max_depth + 1):
                where = f"{workload} at depth {depth}"
                with tempfile.TemporaryDirectory() as tmp:
                    trace = str(Path(tmp) / "run.trace")
                    stats = run_stats(opts, workload, args, depth, trace)
                    check_shape_and_sums(stats, depth, where)
                    check_against_trace(opts, stats, trace, where)
                inner = stats["levels"][depth]["instructions"]
                under_l1_vmm = inner if under_l1_vmm is None else under_l1_vmm
                if inner != under_l1_vmm:
                    raise Failure(f"{where}: level {depth + 1} retired {inner} instructions, {under_l1_vmm} at depth 1")
                if stats["levels"][0]["hw_exits"] != 0:
                    raise Failure(f"{where}: level 1 took hardware exits: {stats['levels'][0]}")
                reason = {"cpuid-loop": "CPUID", "pio-loop": "IO_INSTRUCTION", "mmio-loop": "EPT_VIOLATION"}[workload]
                want = 3 * n + 2 if workload == "mmio-loop" else n
                exiting = range(1, depth + 1) if workload == "mmio-loop" else [depth]
                for k in exiting:
                    if stats["levels"][k]["exits"].get(reason, 0) < want:
                        raise Failure(f"{where}: level {k + 1} took fewer than {want} {reason} exits: {stats['levels'][k]}")
                print(f"ok: {where}: " + ", ".join(f"level {l['level']}: {l['instructions']} instructions, "
                                                   f"{l['hw_exits']} exits" for l in stats["levels"]))
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
