#!/usr/bin/env python3
"""End-to-end checks of `nestbed sweep` (l0/cli/sweep_*.cpp) on a tiny sweep:

  - results.csv has one row per run, the axis columns, how each run ended and
    every --stats field; levels.csv one row per run x level; exits.csv one
    row per run x level x reason, whose counts add up to results.csv's vm_exits;
  - a run that fails (l1-vmm rejects an option: status 195) is recorded with
    its status and the sweep goes on;
  - --resume skips the runs that succeeded and runs the failed ones again;
  - two sweeps of the same SPEC give the same CSV files but for the wall-time
    columns, and so do its two shards (--shard 1/2, 2/2) once merged
    (`nestbed sweep merge`; on a real Slurm: tests/e2e/check_slurm.py);
  - a malformed SPEC gets status 66 and one error naming its line.

    check_sweep.py --nestbed build/bin/nestbed --images build/images
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sanitizer_report import failure as sanitizer_failure

WALL_COLUMNS = {"run_seconds", "wall_seconds", "mips"}
AXES = ["run_id", "workload", "args", "depth", "engine", "l1_options", "cost_model", "memory_mib", "repetition"]

TINY = """\
[sweep]
name = "tiny"
timeout_seconds = 120

[axes]
workload = ["hello", "cpuid-loop 20"]
depth = [0, 1]
l1_options = ["", "no_such_option=1"]  # l1-vmm rejects it: status 195
"""


class Failure(Exception):
    pass


def sweep(opts, *args, images=None):
    r = subprocess.run([opts.nestbed, "sweep", *args, "--images", images or opts.images], capture_output=True, text=True,
                       timeout=opts.timeout)
    report = sanitizer_failure(r.stderr)
    if report:
        raise Failure(report)
    return r


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_tiny(opts, tmp):
    spec = tmp / "tiny.toml"
    spec.write_text(TINY)
    out = tmp / "a"
    r = sweep(opts, str(spec), "--out", str(out), "-j", "2")
    if r.returncode != 0:
        raise Failure(f"sweep: status {r.returncode}\n{r.stderr}")
    if "sweep tiny: 6 runs, 4 ok, 2 failed" not in r.stderr:
        raise Failure(f"sweep summary line missing:\n{r.stderr}")
    results = read_csv(out / "results.csv")
    if len(results) != 6:
        raise Failure(f"results.csv: {len(results)} rows, expected 6 (2 workloads x (depth 0 + depth 1 x 2 options))")
    columns = list(results[0])
    for c in AXES + ["ok", "status", "instructions", "cycles", "vm_exits", "workload_exits", "efficiency"]:
        if c not in columns:
            raise Failure(f"results.csv: no column {c}: {columns}")
    if columns[: len(AXES)] != AXES:
        raise Failure(f"results.csv: the axis columns come first: {columns[:len(AXES)]}")
    for row in results:
        bad_option = row["l1_options"] == "no_such_option=1"
        if bad_option != (row["ok"] == "0") or (bad_option and row["status"] != "195"):
            raise Failure(f"results.csv: run {row['run_id']}: ok {row['ok']} status {row['status']}")
        if row["ok"] == "1" and row["depth"] == "0" and row["vm_exits"] != "0":
            raise Failure(f"results.csv: depth-0 run {row['run_id']} has vm_exits {row['vm_exits']}")
        if row["ok"] == "1" and row["workload_level"] != str(int(row["depth"]) + 1):
            raise Failure(f"results.csv: run {row['run_id']}: workload_level {row['workload_level']}")
    exits = read_csv(out / "exits.csv")
    for row in results:
        if row["ok"] != "1":
            continue
        n = sum(int(e["exits"]) for e in exits if e["run_id"] == row["run_id"])
        if n != int(row["vm_exits"]):
            raise Failure(f"exits.csv: run {row['run_id']}: {n} exits, results.csv says {row['vm_exits']}")
    cpuid = [e for e in exits if e["workload"] == "cpuid-loop" and e["depth"] == "1" and e["level"] == "2"
             and e["reason"] == "CPUID"]
    if len(cpuid) != 1 or int(cpuid[0]["exits"]) < 20:
        raise Failure(f"exits.csv: cpuid-loop 20 at depth 1: level 2's CPUID rows {cpuid}")
    levels = read_csv(out / "levels.csv")
    for r in results:
        if r["ok"] != "1":
            continue
        got = [l["level"] for l in levels if l["run_id"] == r["run_id"]]
        if got != [str(k) for k in range(1, int(r["depth"]) + 2)]:
            raise Failure(f"levels.csv: run {r['run_id']} at depth {r['depth']}: levels {got}")
    for name in ("params.json", "command.txt", "output.txt", "stderr.txt", "result.json"):
        if not (out / "runs" / results[0]["run_id"] / name).is_file():
            raise Failure(f"runs/{results[0]['run_id']}/{name} missing")
    return spec, out


def check_resume(opts, spec, out):
    ok_run = next(r["run_id"] for r in read_csv(out / "results.csv") if r["ok"] == "1")
    stats = out / "runs" / ok_run / "stats.json"
    before = stats.stat().st_mtime_ns
    r = sweep(opts, str(spec), "--out", str(out), "--resume")
    if r.returncode != 0 or "(4 resumed)" not in r.stderr or "2 failed" not in r.stderr:
        raise Failure(f"--resume: status {r.returncode}, expected 4 resumed and the 2 failed runs again:\n{r.stderr}")
    if stats.stat().st_mtime_ns != before:
        raise Failure(f"--resume ran {ok_run} again")


def check_deterministic(opts, spec, out, tmp):
    other = tmp / "b"
    r = sweep(opts, str(spec), "--out", str(other))
    if r.returncode != 0:
        raise Failure(f"second sweep: status {r.returncode}\n{r.stderr}")
    for name in ("results.csv", "levels.csv", "exits.csv"):
        a, b = read_csv(out / name), read_csv(other / name)
        strip = lambda rows: [{k: v for k, v in row.items() if k not in WALL_COLUMNS} for row in rows]
        if strip(a) != strip(b):
            raise Failure(f"{name} differs between two sweeps of the same SPEC")
    sharded = tmp / "sharded"
    for shard in ("1/2", "2/2"):
        r = sweep(opts, str(spec), "--out", str(sharded), "--shard", shard)
        if r.returncode != 0 or f"shard {shard}: 3 runs" not in r.stderr:
            raise Failure(f"--shard {shard}: status {r.returncode}, expected 3 runs:\n{r.stderr}")
        if (sharded / "results.csv").exists():
            raise Failure(f"--shard {shard} wrote results.csv (merge's job)")
    r = subprocess.run([opts.nestbed, "sweep", "merge", str(sharded)], capture_output=True, text=True,
                       timeout=opts.timeout)
    if r.returncode != 0:
        raise Failure(f"sweep merge: status {r.returncode}\n{r.stderr}")
    for name in ("results.csv", "levels.csv", "exits.csv"):
        strip = lambda rows: [{k: v for k, v in row.items() if k not in WALL_COLUMNS} for row in rows]
        if strip(read_csv(out / name)) != strip(read_csv(sharded / name)):
            raise Failure(f"{name} of the merged shards differs from the sweep's")


MALFORMED = [
    ("[axes]\nworkload = [\"hello\"]\ndepth = [0, \"one\"]\n", ":3: depth must be an integer"),
    ("[axes]\nworkload = [\"hello\"]\nspeed = [1]\n", ":3: unknown axis 'speed'"),
    ("[sweep]\nrepetitions = 0\n[axes]\nworkload = \"hello\"\n", ":2: repetitions 0 is out of range"),
    ("[axes]\nworkload = [\"hello\"\n", ":2: "),  # TOML syntax: the unterminated array
    ("[sweep]\nname = \"x\"\n", ": no [axes] table"),
    ("[axes]\nworkload = [\"hello\"]\n[[exclude]]\nworkload = \"hello\"\n", ":1: the axes and exclusions leave no run"),
]


def check_malformed(opts, tmp):
    for k, (text, expected) in enumerate(MALFORMED):
        spec = tmp / f"bad{k}.toml"
        spec.write_text(text)
        r = sweep(opts, str(spec), "--out", str(tmp / f"bad{k}"))
        lines = r.stderr.strip().splitlines()
        if r.returncode != 66 or len(lines) != 1 or f"{spec}{expected}" not in lines[0]:
            raise Failure(f"malformed SPEC {k}: status {r.returncode}, expected 66 and '{spec}{expected}':\n{r.stderr}")
    r = sweep(opts, str(tmp / "tiny.toml"), "--out", str(tmp / "c"), images=str(tmp))
    if r.returncode != 66 or "image" not in r.stderr or "not found" not in r.stderr:
        raise Failure(f"missing image: status {r.returncode}\n{r.stderr}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nestbed", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--timeout", type=int, default=200)
    opts = p.parse_args()
    try:
        with tempfile.TemporaryDirectory() as t:
            tmp = Path(t)
            spec, out = check_tiny(opts, tmp)
            check_resume(opts, spec, out)
            check_deterministic(opts, spec, out, tmp)
            check_malformed(opts, tmp)
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
