#!/usr/bin/env python3
"""Determinism (DESIGN.md §4): the same image, options and cost table give
the same run. Runs `nestbed run --stats FILE` twice and requires identical
guest output, exit status, instruction count, modeled cycles, exceptions
and interrupts. With --second, the second run gets those options too: the
same checks then say the options change nothing (--translate off: the
interpreter gives what translated code gives)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from sanitizer_report import failure as sanitizer_failure

COMPARED = ("instructions", "cycles", "exceptions", "interrupts", "io_accesses", "exit_status")


def run_once(nestbed, image, args, timeout, extra):
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        proc = subprocess.run([nestbed, "run", "--cmdline", args, "--stats", stats_path] + extra + [image],
                              capture_output=True, text=True, timeout=timeout)
        sys.stderr.write(proc.stderr)
        report = sanitizer_failure(proc.stderr)
        if report:
            raise SystemExit(f"FAIL: {report}")
        with open(stats_path) as f:
            stats = json.load(f)
    return proc.returncode, proc.stdout, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nestbed", required=True)
    ap.add_argument("--timeout", type=int, default=100)
    ap.add_argument("image")
    ap.add_argument("--both", action="append", default=[], help="an option for both runs (repeat for more)")
    ap.add_argument("--second", action="append", default=[], help="an option for the second run only")
    ap.add_argument("args", nargs="?", default="")
    opts = ap.parse_args()

    first = run_once(opts.nestbed, opts.image, opts.args, opts.timeout, opts.both)
    second = run_once(opts.nestbed, opts.image, opts.args, opts.timeout, opts.both + opts.second)
    failures = []
    if first[0] != second[0]:
        failures.append(f"exit status {first[0]} vs {second[0]}")
    if first[1] != second[1]:
        failures.append("guest output differs")
    for key in COMPARED:
        if first[2].get(key) != second[2].get(key):
            failures.append(f"{key}: {first[2].get(key)} vs {second[2].get(key)}")
    if first[2].get("instructions", 0) == 0:
        failures.append("no instructions were counted")
    print(f"{os.path.basename(opts.image)} {opts.args}: instructions={first[2].get('instructions')} "
          f"cycles={first[2].get('cycles')} interrupts={first[2].get('interrupts')}")
    for f in failures:
        print("NOT DETERMINISTIC:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
