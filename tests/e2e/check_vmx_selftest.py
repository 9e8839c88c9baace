#!/usr/bin/env python3
"""Runs the vmx-selftest guest on the sim and requires every test to pass:
no FAIL line, a summary "vmx-selftest: N passed, 0 failed" with N > 0, and
the guest's success status (isa-debug-exit code 0 -> status 1)."""
import argparse
import re
import subprocess
import sys

from sanitizer_report import failure as sanitizer_failure


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nestbed", required=True)
    ap.add_argument("--timeout", type=int, default=100)
    ap.add_argument("image")
    ap.add_argument("extra", nargs="*", help="extra nestbed run options")
    opts = ap.parse_args()
    proc = subprocess.run([opts.nestbed, "run", *opts.extra, opts.image], capture_output=True, text=True,
                          timeout=opts.timeout)
    out = proc.stdout
    fails = [l for l in out.splitlines() if l.startswith("FAIL")]
    summary = re.search(r"^vmx-selftest: (\d+) passed, (\d+) failed$", out, re.M)
    problems = []
    if fails:
        problems += fails
    if not summary:
        problems.append("no summary line")
    elif int(summary.group(1)) == 0 or int(summary.group(2)) != 0:
        problems.append("summary: " + summary.group(0))
    report = sanitizer_failure(proc.stderr)
    if report:
        problems.append(report)
    if proc.returncode != 1:
        problems.append(f"exit status {proc.returncode}, expected 1; stderr: {proc.stderr.strip()}")
    print(summary.group(0) if summary else out[-2000:])
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
