#!/usr/bin/env python3
"""Proves that a sanitizer report can never pass for success (tests/sanitizer.cmake).

    check_sanitizer_checks.py [paths] status {ubsan,null-memcpy,asan,leak}
    check_sanitizer_checks.py [paths] executables
    check_sanitizer_checks.py [paths] ctest
    check_sanitizer_checks.py [paths] driver {expect.sh,run_workload.py,check_determinism.py,
                                              check_vmx_selftest.py,l1vmm_check.py}

status: the trigger's real report (ASan, UBSan, LeakSanitizer) ends it with
exit_status::SANITIZER, with no *SAN_OPTIONS in the environment (the
options are baked in), and tests/sanitizer/report_patterns.txt recognises it.

executables: every host executable of the build defines the sanitizers'
default options (l0/sanitizer_options.cpp).

ctest: every registered test has the patterns as FAIL_REGULAR_EXPRESSION,
and CTest really fails a test that exits 0 after a report (and passes the
same test without one).

driver: the driver passes with nestbed as it is, and fails, naming the
report, when nestbed's stderr carries one although its status and output
are right (a wrapper runs nestbed, then the trigger).

Without sanitizers the trigger reports nothing; the reports are then a
canned line in the same format. This script's own output never shows a
report line as it is (it would fail this test): they are masked.
Exit status 0 = pass, 1 = fail.
"""

import argparse
import json
import os
import shlex
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS_DIR / "e2e"))
from sanitizer_report import REPORT, report_lines  # noqa: E402

CANNED_REPORT = "trigger.cpp:1:1: runtime error: canned report (this build has no sanitizers)"
SANITIZER_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
# Host executables every build has (nestbed_host_target in CMakeLists.txt).
EXECUTABLES = ("nestbed", "nestbed_unit_tests", "nestbed_cli_test_images", "nestbed_sanitizer_trigger",
               "nestbed_arch_jsongen")


class Failure(Exception):
    pass


def mask(text):
    """`text` with each report match defused ("AddressSanitizer" becomes
    "[masked: Address Sanitizer]"), so that CTest does not fail this test."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")

    def defuse(m):
        return "[masked: " + m.group(0).replace("Sanitizer", " Sanitizer").replace(":", "") + "]"

    masked = REPORT.sub(defuse, text)
    if REPORT.search(masked):  # a pattern the defusing does not break: hide the lines
        masked = "\n".join("[masked line]" if REPORT.search(l) else l for l in masked.splitlines())
    return masked


def show(text):
    sys.stdout.write(mask(text))
    if text and not text.endswith("\n"):
        print()


def run(command, timeout, env=None, cwd=None):
    print("$ " + shlex.join(str(c) for c in command), flush=True)
    r = subprocess.run([str(c) for c in command], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=timeout, env=env, cwd=cwd)
    return r


def sanitizer_status(opts):
    """(status, sanitized) from the trigger, which has them from l0/engine.h."""
    r = run([opts.trigger, "status"], opts.timeout)
    fields = r.stdout.split()
    if r.returncode != 0 or len(fields) != 2 or not fields[0].isdigit():
        raise Failure(f"nestbed_sanitizer_trigger status: status {r.returncode}, output {r.stdout!r}")
    return int(fields[0]), fields[1] == "sanitized"


# ---- status ------------------------------------------------------------------

def check_status(opts):
    status, sanitized = sanitizer_status(opts)
    if not sanitized:
        raise Failure("this build has no sanitizers: sanitizer.status.* belongs to sanitizer builds only")
    if status % 2 != 0 or status in (0, 1):
        raise Failure(f"exit_status::SANITIZER is {status}: a guest could end with it (odd) or it means success")
    env = {k: v for k, v in os.environ.items() if k not in SANITIZER_ENV}
    clean = run([opts.trigger, "clean"], opts.timeout, env=env)
    if clean.returncode != 0 or report_lines(clean.stderr):
        show(clean.stderr)
        raise Failure(f"the clean run: status {clean.returncode}, expected 0 and no report")
    r = run([opts.trigger, opts.mode], opts.timeout, env=env)
    show(r.stderr)
    if r.returncode != status:
        raise Failure(f"{opts.mode}: status {r.returncode}, expected exit_status::SANITIZER = {status}")
    lines = report_lines(r.stderr)
    if not lines:
        raise Failure(f"{opts.mode}: the report patterns do not recognise the report above")
    print(f"{opts.mode}: status {r.returncode}, {len(lines)} report line(s) recognised")


# ---- executables ---------------------------------------------------------------

def check_executables(opts):
    _, sanitized = sanitizer_status(opts)
    if not sanitized:
        raise Failure("this build has no sanitizers: sanitizer.options_in_every_executable belongs to them")
    bin_dir = Path(opts.bin_dir)
    found = sorted(p for p in bin_dir.iterdir()
                   if p.is_file() and os.access(p, os.X_OK) and p.read_bytes()[:4] == b"\x7fELF")
    missing = [name for name in EXECUTABLES if not (bin_dir / name).is_file()]
    if missing:
        raise Failure(f"{', '.join(missing)} not in {bin_dir}: build everything first")
    problems = []
    for exe in found:
        r = subprocess.run(["nm", "--defined-only", str(exe)], capture_output=True, text=True, timeout=opts.timeout)
        symbols = {line.split()[-1]: line.split()[-2] for line in r.stdout.splitlines() if len(line.split()) >= 2}
        lacking = [name for name in ("__asan_default_options", "__ubsan_default_options") if symbols.get(name) != "T"]
        problems += [f"{exe.name} does not define {name}" for name in lacking]
        print(f"{exe.name}: {'lacks ' + ', '.join(lacking) if lacking else 'has both default options'}")
    if problems:
        raise Failure("\n".join(problems))


# ---- ctest -------------------------------------------------------------------

def ctest_tests(ctest, directory, timeout):
    """The tests CTest would run from `directory`, with their properties. Read
    through a CTestTestfile of our own elsewhere, so that CTest writes its
    Testing/ log there and not beside the suite's, which may be running."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "CTestTestfile.cmake").write_text(f'subdirs("{directory}")\n')
        r = run([ctest, "--show-only=json-v1"], timeout, cwd=tmp)
    if r.returncode != 0:
        show(r.stderr)
        raise Failure(f"ctest --show-only failed with status {r.returncode}")
    return json.loads(r.stdout)["tests"]


def fail_regex(test):
    for p in test.get("properties", []):
        if p["name"] == "FAIL_REGULAR_EXPRESSION":
            return p["value"]
    return None


def check_ctest(opts):
    status, sanitized = sanitizer_status(opts)
    tests = ctest_tests(opts.ctest, opts.build_dir, opts.timeout)
    unit = [t for t in tests if any("nestbed_unit_tests" in str(c) for c in t.get("command", [])[:1])]
    if len(tests) < 100 or not unit:
        raise Failure(f"{len(tests)} tests, {len(unit)} of them GoogleTest cases: is the build complete?")
    expected = REPORT.pattern
    wrong = [t["name"] for t in tests if fail_regex(t) != [expected]]
    if wrong:
        raise Failure(f"{len(wrong)} test(s) without FAIL_REGULAR_EXPRESSION {mask(expected)!r}: "
                      + ", ".join(wrong[:20]))
    print(f"{len(tests)} tests ({len(unit)} GoogleTest cases), each with the report patterns as "
          "FAIL_REGULAR_EXPRESSION")

    # A test whose status is 0 and whose only fault is the report it prints.
    if sanitized:
        reporting = f'"{opts.trigger}" ubsan; exit 0'
    else:
        reporting = f"echo '{CANNED_REPORT}' >&2; exit 0"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "CTestTestfile.cmake").write_text(
            f'add_test(reports "sh" "-c" [==[{reporting}]==])\n'
            f'add_test(clean "sh" "-c" [==["{opts.trigger}" clean]==])\n'
            f"set_tests_properties(reports clean PROPERTIES FAIL_REGULAR_EXPRESSION [==[{expected}]==])\n")
        for name, want_pass in (("clean", True), ("reports", False)):
            r = run([opts.ctest, "--output-on-failure", "-R", f"^{name}$"], opts.timeout, cwd=tmp)
            show(r.stdout + r.stderr)
            if (r.returncode == 0) != want_pass:
                raise Failure(f"CTest {'failed' if want_pass else 'passed'} the test '{name}'")
            if not want_pass and "Error regular expression found" not in r.stdout:
                raise Failure("CTest failed the reporting test, but not for its report")
    print("CTest fails a test that exits 0 after a sanitizer report, and passes it without one")


# ---- drivers -----------------------------------------------------------------

def write_wrapper(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def driver_command(opts, driver, nestbed):
    images = Path(opts.images)
    py = sys.executable
    if driver == "expect.sh":
        return ["bash", TESTS_DIR / "cli" / "expect.sh", "--status", "33", "--stdout", "^ok$", "--",
                nestbed, "run", Path(opts.cli_inputs) / "hello.elf"]
    if driver == "run_workload.py":
        return [py, TESTS_DIR / "e2e" / "run_workload.py", "--engine", "sim", "--nestbed", nestbed,
                "--images", images, "hello"]
    if driver == "check_determinism.py":
        return [py, TESTS_DIR / "e2e" / "check_determinism.py", "--nestbed", nestbed, images / "hello"]
    if driver == "check_vmx_selftest.py":
        return [py, TESTS_DIR / "e2e" / "check_vmx_selftest.py", "--nestbed", nestbed, images / "vmx-selftest"]
    if driver == "l1vmm_check.py":
        return [py, TESTS_DIR / "e2e" / "l1vmm_check.py", "depth2", "--nestbed", nestbed, "--images", images]
    raise Failure(f"unknown driver {driver}")


def check_driver(opts):
    _, sanitized = sanitizer_status(opts)
    real = shlex.quote(str(Path(opts.nestbed).resolve()))
    if sanitized:
        report = f"{shlex.quote(str(Path(opts.trigger).resolve()))} ubsan >/dev/null"
    else:
        report = f"echo {shlex.quote(CANNED_REPORT)} >&2"
    with tempfile.TemporaryDirectory() as tmp:
        # nestbed as it is; nestbed whose status and output are right but whose stderr has a report.
        plain = write_wrapper(Path(tmp, "nestbed"), f'exec {real} "$@"\n')
        reporting = write_wrapper(Path(tmp, "reporting-nestbed"), f'{real} "$@"\nstatus=$?\n{report}\nexit $status\n')
        r = run(driver_command(opts, opts.mode, plain), opts.timeout)
        show(r.stdout + r.stderr)
        if r.returncode != 0:
            raise Failure(f"{opts.mode} fails (status {r.returncode}) with nestbed as it is")
        r = run(driver_command(opts, opts.mode, reporting), opts.timeout)
        show(r.stdout + r.stderr)
        if r.returncode in (0, 77):
            raise Failure(f"{opts.mode} {'passed' if r.returncode == 0 else 'skipped'} although nestbed's stderr "
                          "has a sanitizer report")
        if "sanitizer report" not in r.stdout + r.stderr:
            raise Failure(f"{opts.mode} failed (status {r.returncode}), but does not say it was for the report")
    print(f"{opts.mode} passes with nestbed as it is and fails on its sanitizer report")


CHECKS = {"status": check_status, "executables": check_executables, "ctest": check_ctest, "driver": check_driver}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("check", choices=sorted(CHECKS))
    p.add_argument("mode", nargs="?", default="")
    p.add_argument("--trigger", required=True, help="nestbed_sanitizer_trigger")
    p.add_argument("--nestbed", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--build-dir", required=True)
    p.add_argument("--bin-dir", required=True)
    p.add_argument("--cli-inputs", required=True)
    p.add_argument("--ctest", default="ctest", help="the ctest that runs the suite (default: on PATH)")
    p.add_argument("--timeout", type=float, default=240)
    opts = p.parse_args()
    try:
        CHECKS[opts.check](opts)
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL sanitizer {opts.check} {opts.mode}: {mask(str(e))}")
        return 1
    print(f"PASS sanitizer {opts.check} {opts.mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
