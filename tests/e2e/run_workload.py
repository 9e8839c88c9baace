#!/usr/bin/env python3
"""Runs workload images on an engine and checks their result lines.

Each case in the expectations table (workloads/expected.txt) names an image,
its cmdline arguments and the result line it must print: the one output line
that starts with "<image>:". The run must also end with process status 1,
which is isa-debug-exit code 0. The same table serves every engine, which is
the equivalence property of DESIGN.md §8: the same line on QEMU, on the sim
and at every depth.

    run_workload.py --engine qemu hello sieve
    run_workload.py --engine sim --nestbed build/bin/nestbed --all
    run_workload.py --engine sim --depth 1 --all
    run_workload.py --list

--depth d runs the case under d levels of l1-vmm (DESIGN.md §1): the image
is l1-vmm, d - 1 more l1-vmm modules follow, then the workload as the last
module, "IMAGE ARGS", whose string l1-vmm passes on as the guest's cmdline.

Exit status: 0 when every case passed, 1 when one failed, 77 when the engine
is unavailable here and the case is skipped (kvm without /dev/kvm, or an
engine that cannot run the depth: nestbed status 72).
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sanitizer_report import failure as sanitizer_failure

SOURCE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_TABLE = SOURCE_DIR / "workloads" / "expected.txt"
DEFAULT_IMAGES = SOURCE_DIR / "build" / "images"
DEFAULT_NESTBED = SOURCE_DIR / "build" / "bin" / "nestbed"
DEFAULT_L1_VMM = DEFAULT_IMAGES / "l1-vmm"

STATUS_OK = 1  # isa-debug-exit code 0: status (0 << 1) | 1
STATUS_UNSUPPORTED = 72  # nestbed: the engine cannot run this here (e.g. no VMX under kvm)
SKIP = 77  # CTest's conventional "skipped" status


@dataclass
class Case:
    name: str
    image: str
    args: str
    expected: str
    native: str = ""  # the result line at depth 0 when it differs (vmcall-loop: no hypervisor answers)


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def read_table(path):
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise SystemExit(f"cannot read the expectations table: {e}")
    cases = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) not in (4, 5) or not fields[0] or not fields[1] or not fields[3]:
            raise SystemExit(f"{path}:{number}: expected 'case | image | args | result line [| native result line]', "
                             f"got: {raw}")
        case = Case(*fields)
        if case.name in cases:
            raise SystemExit(f"{path}:{number}: case {case.name} defined twice")
        if not all(l.startswith(case.image + ":") for l in (case.expected, case.native or case.expected)):
            raise SystemExit(f"{path}:{number}: the result line must start with '{case.image}:'")
        cases[case.name] = case
    return cases


def qemu_command(opts, image, args):
    qemu = opts.qemu or shutil.which("qemu-system-x86_64")
    if not qemu:
        raise Failure("qemu-system-x86_64 not found on PATH: install Debian's qemu-system-x86 "
                      "(apt-get install qemu-system-x86), or pass --qemu PATH")
    # -nodefaults: no NIC or VGA, so nothing but the image and COM1 on stdio.
    return [qemu, "-accel", "tcg", "-m", "128", "-nodefaults", "-no-reboot", "-display", "none",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-kernel", str(image), "-append", args]


def nestbed_command(engine):
    def command(opts, image, args):
        nestbed = Path(opts.nestbed)
        if not nestbed.is_file():
            raise Failure(f"nestbed CLI not found at {nestbed}: build it (cmake --build build --target nestbed)")
        if engine == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
            raise Skip("/dev/kvm is missing on this machine or not accessible to this user")
        run = [str(nestbed), "run", "--engine", engine]
        if opts.memory:
            run += ["--memory", str(opts.memory)]
        if opts.depth == 0:
            return run + ["--cmdline", args, str(image)]
        return run + nested_arguments(opts, image, args)
    return command


def nested_arguments(opts, image, args):
    """l1-vmm as the image, depth - 1 more l1-vmm modules, the workload last."""
    l1_vmm = Path(opts.l1_vmm)
    if not l1_vmm.is_file():
        raise Failure(f"l1-vmm image not found at {l1_vmm}: build it (cmake --build build --target l1-vmm)")
    inner = " ".join(filter(None, [str(l1_vmm), opts.l1_cmdline]))
    modules = ["--module", inner] * (opts.depth - 1)
    modules += ["--module", " ".join(filter(None, [str(image), args]))]
    return ["--cmdline", opts.l1_cmdline] + modules + [str(l1_vmm)]


ENGINES = {
    "qemu": qemu_command,
    "sim": nestbed_command("sim"),
    "kvm": nestbed_command("kvm"),
}


def result_line(output, image):
    """The single line starting with '<image>:'."""
    lines = [l.rstrip("\r") for l in output.splitlines() if l.startswith(image + ":")]
    if not lines:
        raise Failure(f"no line starting with '{image}:' in the output")
    if len(lines) > 1:
        raise Failure(f"{len(lines)} lines start with '{image}:', expected one")
    return lines[0]


def describe_status(status):
    if status < 0:
        return f"killed by signal {-status}"
    if status & 1:
        return f"status {status} (guest exit code {status >> 1:#x})"
    return f"status {status} (not an isa-debug-exit status: the engine failed)"


def run_case(opts, case):
    image = Path(opts.images) / case.image
    if not image.is_file():
        raise Failure(f"image {image} not found: build it (cmake --build build --target workloads)")
    command = ENGINES[opts.engine](opts, image, case.args)
    print("$ " + shlex.join(command), flush=True)
    try:
        run = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=opts.timeout)
        output, errors, status = run.stdout.decode(errors="replace"), run.stderr.decode(errors="replace"), run.returncode
    except subprocess.TimeoutExpired as e:
        sys.stdout.write((e.stdout or b"").decode(errors="replace"))
        sys.stdout.write((e.stderr or b"").decode(errors="replace"))
        raise Failure(f"no exit after {opts.timeout} s")
    for text in (output, errors):
        sys.stdout.write(text)
        if text and not text.endswith("\n"):
            print()
    # A sanitizer report fails the case even where the engine's status says "skip".
    problems = list(filter(None, [sanitizer_failure(errors, Path(command[0]).name)]))
    if status == STATUS_UNSUPPORTED and opts.depth > 0 and not problems:
        raise Skip(f"the {opts.engine} engine cannot run depth {opts.depth} here (status {status})")
    try:
        line = result_line(output, case.image)
        expected = case.native if opts.depth == 0 and case.native else case.expected
        if line != expected:
            problems.append(f"result line differs\n  expected: {expected}\n  got:      {line}")
    except Failure as e:
        problems.append(str(e))
    if status != STATUS_OK:
        problems.append(f"{describe_status(status)}, expected status {STATUS_OK}")
    if problems:
        raise Failure("\n".join(problems))
    return line


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="*", metavar="CASE", help="case names from the table")
    p.add_argument("--engine", choices=sorted(ENGINES), default="qemu")
    p.add_argument("--all", action="store_true", help="run every case in the table")
    p.add_argument("--list", action="store_true", help="print the case names, one per line, and exit")
    p.add_argument("--table", default=DEFAULT_TABLE, help="expectations table (default: %(default)s)")
    p.add_argument("--images", default=DEFAULT_IMAGES, help="image directory (default: %(default)s)")
    p.add_argument("--nestbed", default=DEFAULT_NESTBED, help="nestbed CLI for sim/kvm (default: %(default)s)")
    p.add_argument("--qemu", help="QEMU binary (default: qemu-system-x86_64 on PATH)")
    p.add_argument("--timeout", type=float, default=100, help="seconds per run (default: %(default)s)")
    p.add_argument("--depth", type=int, default=0, help="levels of l1-vmm under the workload (default: %(default)s)")
    p.add_argument("--l1-vmm", default=DEFAULT_L1_VMM, help="l1-vmm image for --depth (default: %(default)s)")
    p.add_argument("--l1-cmdline", default="", help="options of every l1-vmm level, e.g. 'stats exit_hlt=1'")
    p.add_argument("--memory", type=int, help="nestbed run --memory MiB (sim/kvm; default: nestbed's)")
    opts = p.parse_args()
    if opts.depth < 0:
        p.error("--depth must be 0 or more")
    if opts.depth > 0 and opts.engine == "qemu":
        p.error("--depth needs VMX: use --engine sim (or kvm where the host offers nested VMX)")
    return opts


def main():
    opts = parse_args()
    table = read_table(opts.table)
    if opts.list:
        print("\n".join(table))
        return 0
    names = list(table) if opts.all else opts.cases
    if not names:
        raise SystemExit("no cases given: name some, or pass --all or --list")
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; the table has: {', '.join(table)}")

    failed = skipped = 0
    where = opts.engine + (f" depth {opts.depth}" if opts.depth else "")
    for name in names:
        try:
            line = run_case(opts, table[name])
            print(f"PASS {where} {name}: {line}")
        except Skip as e:
            skipped += 1
            print(f"SKIP {where} {name}: {e}")
        except Failure as e:
            failed += 1
            print(f"FAIL {where} {name}: {e}")
    if failed:
        return 1
    return SKIP if skipped == len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
