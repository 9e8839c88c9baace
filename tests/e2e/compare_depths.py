#!/usr/bin/env python3
"""Runs a guest natively (depth 0) and under l1-vmm (depth 1) and requires
the two outputs to be identical, line by line (DESIGN.md §8, the
equivalence property; tests/vmx_fuzz.cmake runs vmx-fuzz this way).

    compare_depths.py --nestbed build/bin/nestbed --images build/images vmx-fuzz 3000 1

Depth 0 runs with --memory equal to the RAM l1-vmm gives its guest by
default (64 MiB), so that a guest that points a VMX structure at an
address beyond its RAM meets "no RAM" at both depths.

The test fails, saying why (the most serious first), when:
  - l1-vmm printed an "l1-vmm:" line (a panic, a VMX abort, a guest it
    stopped) or ended the run with one of its own statuses (193 panic, ...);
  - either run did not end with status 1 (isa-debug-exit code 0), e.g. l0
    stopped (status 70 internal error, 122 shutdown) or crashed;
  - the outputs differ: the first differing lines are printed with the
    line before them, and how many lines differ in all.
With --known FILE, each difference whose depth-0 line matches a known
failure's pattern is annotated with that failure (the test still fails).

Exit status: 0 identical, 1 different or failed.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[2]
STATUS_OK = 1  # isa-debug-exit code 0
L1_GUEST_RAM_MIB = 64  # l1-vmm's default guest RAM (l1-vmm/README.md, "Memory")
# l1-vmm's own statuses (l1-vmm/panic.h): (code << 1) | 1.
L1_STATUSES = {
    193: "l1-vmm panic",
    195: "bad l1-vmm option",
    197: "no usable VMX for l1-vmm",
    199: "l1-vmm could not load its guest",
    201: "l1-vmm stopped its guest (it did what l1-vmm cannot run)",
    203: "l1-vmm out of memory",
}
NESTBED_STATUSES = {
    64: "bad nestbed option",
    66: "bad input",
    70: "nestbed internal error",
    72: "engine cannot run this",
    120: "halted",
    122: "shutdown (triple fault or VMX abort)",
    124: "instruction limit",
}


def describe_status(status):
    if status < 0:
        return f"killed by signal {-status}"
    what = L1_STATUSES.get(status) or NESTBED_STATUSES.get(status)
    if what:
        return f"status {status} ({what})"
    if status & 1:
        return f"status {status} (guest exit code {status >> 1:#x})"
    return f"status {status}"


def run(cmd, timeout):
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return out.splitlines(), f"timed out after {timeout} s", None, timeout
    return p.stdout.splitlines(), p.stderr, p.returncode, time.monotonic() - start


def load_known(path):
    known = []
    if not path:
        return known
    for number, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, sep, text = line.partition(" | ")  # the regex itself may hold '|' without spaces
        if not sep:
            raise SystemExit(f"{path}:{number}: expected 'regex | description'")
        known.append((re.compile(pattern.strip()), text.strip()))
    return known


def known_note(known, *lines):
    for pattern, text in known:
        if any(l is not None and pattern.search(l) for l in lines):
            return text
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nestbed", default=str(SOURCE_DIR / "build" / "bin" / "nestbed"))
    ap.add_argument("--images", default=str(SOURCE_DIR / "build" / "images"))
    ap.add_argument("--l1-cmdline", default="", help="l1-vmm's own options")
    ap.add_argument("--memory", type=int, default=L1_GUEST_RAM_MIB, help="depth 0's RAM in MiB")
    ap.add_argument("--timeout", type=int, default=300, help="per run, in seconds")
    ap.add_argument("--show", type=int, default=8, help="how many differences to print")
    ap.add_argument("--known", help="file of 'regex | description' lines naming known differences")
    ap.add_argument("image", help="the guest image's name in --images")
    ap.add_argument("args", nargs="*", help="the guest's arguments")
    opts = ap.parse_args()

    images = Path(opts.images)
    image = images / opts.image
    args = " ".join(opts.args)
    native_cmd = [opts.nestbed, "run", "--memory", str(opts.memory), "--cmdline", args, str(image)]
    nested_cmd = [opts.nestbed, "run", "--cmdline", opts.l1_cmdline, "--module", f"{image} {args}".strip(),
                  str(images / "l1-vmm")]
    known = load_known(opts.known)

    out0, err0, status0, t0 = run(native_cmd, opts.timeout)
    out1, err1, status1, t1 = run(nested_cmd, opts.timeout)
    print(f"depth 0: {describe_status(status0) if status0 is not None else err0}, {len(out0)} lines, {t0:.1f} s")
    print(f"depth 1: {describe_status(status1) if status1 is not None else err1}, {len(out1)} lines, {t1:.1f} s")

    problems = []
    l1_lines = [(n, l) for n, l in enumerate(out1, 1) if l.startswith("l1-vmm:")]
    for n, line in l1_lines:
        prev = out1[n - 2] if n >= 2 else ""
        problems.append(f"depth 1, line {n}: {line}\n    after: {prev}")
    if status1 in L1_STATUSES:
        problems.append(f"depth 1 ended with {describe_status(status1)}")
    for depth, status, err, out in ((0, status0, err0, out0), (1, status1, err1, out1)):
        if status != STATUS_OK and not (depth == 1 and status in L1_STATUSES):
            tail = "\n".join("    " + l for l in (err or "").strip().splitlines()[-5:])
            problems.append(f"depth {depth} ended with {describe_status(status) if status is not None else err}"
                            + (f"; stderr:\n{tail}" if tail.strip() else ""))

    common = min(len(out0), len(out1))
    differing = [n for n in range(common) if out0[n] != out1[n]]
    if differing:
        shown = []
        known_count = 0
        for n in differing:
            note = known_note(known, out0[n], out1[n])
            known_count += note is not None
            if len(shown) < opts.show:
                text = f"line {n + 1}:\n"
                if n > 0:
                    text += f"    before:  {out0[n - 1]}\n"
                text += f"    depth 0: {out0[n]}\n    depth 1: {out1[n]}"
                if note:
                    text += f"\n    known:   {note}"
                shown.append(text)
        summary = f"{len(differing)} of the {common} lines both runs printed differ"
        if known:
            summary += f" ({known_count} of them match a known failure)"
        problems.append(summary + "; the first ones:\n" + "\n".join(shown))
    for depth, out, other in ((0, out0, out1), (1, out1, out0)):
        if len(out) < len(other):
            note = known_note(known, other[len(out)])
            problems.append(f"depth {depth}'s output ends after line {len(out)}; depth {1 - depth} printed "
                            f"{len(other) - len(out)} more, the next being:\n    {other[len(out)]}"
                            + (f"\n    known:   {note}" if note else ""))

    summary_line = next((l for l in reversed(out0) if re.match(r"^\S+: \d+ cases", l)), None)
    if summary_line:
        print("depth 0 summary:", summary_line)
    for p in problems:
        print("PROBLEM:", p)
    if not problems:
        print(f"identical: {len(out0)} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
