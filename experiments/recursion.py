#!/usr/bin/env python3
"""The exit-multiplication table: what one logical exit of the innermost guest
costs at depths 1-5, with VMCS shadowing on and off (experiments/recursion.md).

For cpuid-loop and pio-loop, each point is two runs at counts n1 < n2; the
difference divided by n2 - n1 cancels boot and teardown and leaves one
logical exit (one CPUID, one OUT to port 0x80) of the innermost guest:

  - hardware exits per logical exit, split by the level that exited, from
    `nestbed trace summary` ("hardware VM exits by level");
  - modeled cycles per logical exit (--stats "cycles");
  - host wall time per logical exit (--stats "wall_seconds", runs without
    --trace, best of --repeats).

`hello` is reported whole: boot to exit (hardware exits by level, cycles,
wall time). The sim is deterministic, so exits and cycles are exact;
wall time is this machine's.

  experiments/recursion.py [--depths 1-5] [--markdown FILE] [--csv FILE]
"""
import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY = 3584
# Counts per depth: enough logical exits to dominate, few enough to run fast
# (without shadowing a logical exit at depth 5 costs about a second of host time).
COUNTS = {0: (20000, 90000), 1: (20000, 90000), 2: (5000, 25000), 3: (1000, 3000), 4: (100, 300), 5: (10, 50)}
COUNTS_NO_SHADOW = {4: (10, 30), 5: (2, 6)}
WORKLOADS = ("cpuid-loop", "pio-loop")

# Published figures to compare with (../shared/reference/published-exit-costs.md).
PUBLISHED = {
    ("cpuid-loop", 1): "~2,600 cycles (Turtles); 1,020 (kvm-unit-tests, 2024)",
    ("cpuid-loop", 2): "~58,000 cycles; 13 hw exits without shadowing, 2 with (Turtles, OSDI 2010)",
    ("pio-loop", 1): "2,307 cycles device I/O (NEVE, SOSP 2017)",
    ("pio-loop", 2): "39,108 cycles (NEVE); 32 hw exits without shadowing, 14 with (Turtles)",
}


def nestbed_args(opts, depth, workload, n, shadow):
    """`nestbed run` arguments for `workload n` under `depth` levels of l1-vmm."""
    images = Path(opts.images)
    target = f"{images / workload}" + (f" {n}" if n is not None else "")
    if depth == 0:
        args = ["--cmdline", str(n) if n is not None else "", str(images / workload)]
        return args
    option = f"shadow_vmcs={1 if shadow else 0}"
    l1 = str(images / "l1-vmm")
    args = ["--memory", str(MEMORY), "--cmdline", option]
    for _ in range(depth - 1):
        args += ["--module", f"{l1} {option}"]
    return args + ["--module", target, l1]


def run(opts, args, trace=None):
    cmd = [opts.nestbed, "run", "--stats", "-"] + (["--trace", str(trace)] if trace else []) + args
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=opts.timeout)
    if r.returncode != 1:
        raise SystemExit(f"{' '.join(cmd)}: status {r.returncode}\n{r.stdout[-2000:]}{r.stderr}")
    return json.loads(r.stdout[r.stdout.index("{"):])


def hw_exits_by_level(opts, trace):
    r = subprocess.run([opts.nestbed, "trace", "summary", str(trace)], capture_output=True, text=True,
                       timeout=opts.timeout)
    rows, inside = {}, False
    for line in r.stdout.splitlines():
        if not line.startswith(" "):
            inside = line.startswith("hardware VM exits by level")
            continue
        m = re.match(r"^  level (\d+)\s+(\d+)\s", line)
        if inside and m:
            rows[int(m.group(1))] = int(m.group(2))
    return rows


def measure(opts, depth, workload, n, shadow):
    """(stats, hardware exits by level) of one run, and its best wall time."""
    args = nestbed_args(opts, depth, workload, n, shadow)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "run.nbt"
        stats = run(opts, args, trace if depth > 0 else None)
        levels = hw_exits_by_level(opts, trace) if depth > 0 else {}
    # Best of --repeats for the wall time (fewer for runs over 10 s: those
    # are dominated by the logical exits, and noise matters less).
    first = run(opts, args)["wall_seconds"]
    repeats = opts.repeats - 1 if first < 10 else 0
    wall = min([first] + [run(opts, args)["wall_seconds"] for _ in range(repeats)])
    return stats, levels, wall


def point(opts, depth, workload, shadow):
    row = {"workload": workload, "depth": depth, "shadow_vmcs": int(shadow) if depth > 1 else ""}
    if workload == "hello":
        stats, levels, wall = measure(opts, depth, workload, None, shadow)
        row.update(logical_exits="boot to exit", hw_per_exit=sum(levels.values()),
                   hw_by_level=" ".join(f"L{k}:{v}" for k, v in sorted(levels.items())),
                   cycles_per_exit=stats["cycles"], host_us_per_exit=round(wall * 1e6))
        return row
    n1, n2 = COUNTS_NO_SHADOW.get(depth, COUNTS[depth]) if depth > 1 and not shadow else COUNTS[depth]
    s1, l1, w1 = measure(opts, depth, workload, n1, shadow)
    s2, l2, w2 = measure(opts, depth, workload, n2, shadow)
    dn = n2 - n1
    by_level = {k: (l2.get(k, 0) - l1.get(k, 0)) / dn for k in sorted(set(l1) | set(l2))}
    row.update(logical_exits=f"{n1}->{n2}",
               hw_per_exit=round(sum(by_level.values()), 2),
               hw_by_level=" ".join(f"L{k}:{v:g}" for k, v in by_level.items() if v),
               cycles_per_exit=round((s2["cycles"] - s1["cycles"]) / dn),
               host_us_per_exit=round((w2 - w1) / dn * 1e6, 2))
    return row


def markdown(rows):
    out = ["| workload | depth | shadowing | hw exits per logical exit | by exiting level | modeled cycles per logical exit | host µs per logical exit | published |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shadow = {"": "—", 0: "off", 1: "on"}[r["shadow_vmcs"]]
        pub = PUBLISHED.get((r["workload"], r["depth"]), "") if r["shadow_vmcs"] != 0 else ""
        out.append(f"| {r['workload']} | {r['depth']} | {shadow} | {r['hw_per_exit']} | {r['hw_by_level']} | "
                   f"{r['cycles_per_exit']:,} | {r['host_us_per_exit']} | {pub} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nestbed", default=str(ROOT / "build/bin/nestbed"))
    ap.add_argument("--images", default=str(ROOT / "build/images"))
    ap.add_argument("--depths", default="1-5", help="e.g. 1-5 or 2")
    ap.add_argument("--workloads", default="cpuid-loop,pio-loop,hello")
    ap.add_argument("--repeats", type=int, default=3, help="wall-time runs per point (best kept)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--markdown", help="write the table here (default: stdout)")
    ap.add_argument("--csv", help="write the rows as CSV here")
    opts = ap.parse_args()
    lo, _, hi = opts.depths.partition("-")
    depths = range(int(lo), int(hi or lo) + 1)
    rows = []
    for workload in opts.workloads.split(","):
        for depth in depths:
            for shadow in ((True, False) if depth > 1 else (True,)):
                t = time.time()
                rows.append(point(opts, depth, workload, shadow))
                print(f"{workload} depth {depth} shadow {shadow}: {rows[-1]} ({time.time() - t:.1f} s)",
                      file=sys.stderr)
    table = markdown(rows)
    if opts.markdown:
        Path(opts.markdown).write_text(table)
    else:
        print(table)
    if opts.csv:
        with open(opts.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
