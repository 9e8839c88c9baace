#!/usr/bin/env python3
"""Runs every shell example of every README, as written (issue 11: the docs
cannot rot).

    run_readme_examples.py --repo REPO --build BUILD_DIR [--list]

Every fenced block marked ```sh (or bash, shell) in every README.md of the
repository is an example. Each command (a line, with its backslash
continuations) runs with bash, in order, in a scratch directory of its
own block (so a block's later commands see the files its earlier ones
wrote), where `build` is the build directory and `scripts` the
repository's, so the README's relative paths work verbatim. A command passes when it ends with status 0,
or 1 (a guest's "ok", README "Exit status") when its last part runs a
guest, and prints no sanitizer report: so `nestbed run ... && nestbed trace
summary ...`, which stops at the guest's 1, fails. A block can be skipped only with a stated reason, by an HTML
comment on the line before it:

    <!-- readme-examples: skip: builds both presets and runs every test (minutes); CI runs it -->

and a block whose commands need /dev/kvm or QEMU is skipped, saying so,
where the machine lacks them. Everything skipped is listed with its reason.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from sanitizer_report import report_lines  # noqa: E402

FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"<!--\s*readme-examples:\s*skip:\s*(.+?)\s*-->")
SHELLS = {"sh", "bash", "shell"}
GUEST_RUNNERS = ("build/bin/nestbed run", "qemu-system-x86_64")  # whose "ok" is status 1, (0 << 1) | 1
TIMEOUT_SECONDS = 600


def readmes(repo):
    skip_dirs = {".git", "node_modules"}
    for path in sorted(repo.rglob("README.md")):
        parts = path.relative_to(repo).parts
        if any(p in skip_dirs or p.startswith("build") for p in parts[:-1]):
            continue
        yield path


def blocks(path):
    """(first line number, skip reason or None, [commands]) per shell block."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        skip = SKIP.search(lines[i - 1]) if i > 0 else None
        body = []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        if lang in SHELLS:
            yield start, skip.group(1) if skip else None, commands(body)


def commands(body):
    result, current = [], ""
    for line in body:
        current += line
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            result.append(current.strip())
        current = ""
    if current.strip():
        result.append(current.strip())
    return result


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def have(program):
    return any(os.access(os.path.join(d, program), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep))


def environment_skip(command):
    if "--engine kvm" in command and not kvm_usable():
        return "needs a usable /dev/kvm"
    if command.startswith("qemu-system-x86_64") and not have("qemu-system-x86_64"):
        return "needs qemu-system-x86_64"
    return None


def scratch_directory(repo, build):
    scratch = tempfile.TemporaryDirectory(prefix="readme-example-")
    os.symlink(build, os.path.join(scratch.name, "build"))
    os.symlink(repo / "scripts", os.path.join(scratch.name, "scripts"))
    return scratch


def status_ok(command, status):
    """0, or 1 when the command's last part runs a guest: so `run ... && summary`,
    which stops at the guest's 1 and never reaches the summary, fails."""
    if status == 0:
        return True
    last = re.split(r"&&|\|\||;|\|", command)[-1].strip()
    return status == 1 and last.startswith(GUEST_RUNNERS)


def run(command, scratch):
    try:
        p = subprocess.run(["bash", "-c", command], cwd=scratch, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return [f"did not end within {TIMEOUT_SECONDS} s"], b"", b""
    problems = []
    if not status_ok(command, p.returncode):
        problems.append(f"exit status {p.returncode}: expected 0, or 1 (a guest's ok) when the last command runs a guest")
    problems += [f"sanitizer report: {line}" for line in report_lines(p.stderr)]
    return problems, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, type=Path)
    ap.add_argument("--build", required=True, type=Path)
    ap.add_argument("--list", action="store_true", help="list the examples and what would be skipped, run nothing")
    opts = ap.parse_args()
    repo, build = opts.repo.resolve(), opts.build.resolve()

    failures = ran = 0
    for readme in readmes(repo):
        name = readme.relative_to(repo)
        for line, skip, cmds in blocks(readme):
            scratch = scratch_directory(repo, build)
            skipped = None  # the commands of a block build on each other: once one is skipped, the rest are
            for command in cmds:
                where = f"{name}:{line}"
                reason = skip or environment_skip(command) or skipped
                if reason:
                    print(f"SKIP {where}: {command}\n     reason: {reason}")
                    skipped = skipped or f"follows a command skipped because it {reason}"
                    continue
                if opts.list:
                    print(f"RUN  {where}: {command}")
                    continue
                started = time.monotonic()
                problems, out, err = run(command, scratch.name)
                took = f"({time.monotonic() - started:.1f} s)"
                ran += 1
                if problems:
                    failures += 1
                    print(f"FAIL {took} {where}: {command}")
                    for p in problems:
                        print(f"     {p}")
                    print("     --- stdout (last lines)\n" + "\n".join(out.decode(errors="replace").splitlines()[-10:]))
                    print("     --- stderr\n" + err.decode(errors="replace"))
                else:
                    print(f"ok   {took} {where}: {command}")
            scratch.cleanup()
    if not opts.list:
        print(f"{ran} examples run, {failures} failed")
        if ran == 0:
            print("no example ran: the extraction is broken")
            return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
