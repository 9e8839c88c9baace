#!/usr/bin/env python3
"""End-to-end checks of l1-vmm beyond the workloads' result lines
(tests/e2e/run_workload.py --depth 1 checks those): equivalence of a whole
run natively and at depth 1, exit counts, and guests and inputs that break
the rules. Each subcommand is one CTest test (tests/l1vmm.cmake).

    l1vmm_check.py equivalence [--l1-cmdline OPTS] PROBE_MODE
    l1vmm_check.py hypervisor
    l1vmm_check.py misbehave {triple-fault,outside,mmio-unsupported,halt}
    l1vmm_check.py bad-input {no-module,not-multiboot,arm-elf,truncated-elf,bad-option,too-much-memory}
    l1vmm_check.py exits {cpuid-loop,pio-loop,mmio-loop}
    l1vmm_check.py depth2
    l1vmm_check.py qemu

Paths default to build/: --nestbed build/bin/nestbed, --images build/images.
Exit status 0 = pass, 1 = fail, 77 = skipped (qemu: no qemu-system-x86_64).
"""

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from sanitizer_report import failure as sanitizer_failure

SOURCE_DIR = Path(__file__).resolve().parents[2]

# nestbed's process status: (code << 1) | 1 for an isa-debug-exit write of
# code; these two for a run the platform stopped (l0/cli/run_command.cpp).
STATUS_HALTED = 120
STATUS_TRIPLE_FAULT = 122


def debug_exit_status(code):
    return (code << 1) | 1


STATUS_OK = debug_exit_status(0)
# l1-vmm's exit codes (l1-vmm/panic.h, README.md).
L1_USAGE = debug_exit_status(0x61)
L1_NO_VMX = debug_exit_status(0x62)
L1_BAD_GUEST_IMAGE = debug_exit_status(0x63)
L1_GUEST_FAILED = debug_exit_status(0x64)
L1_NO_MEMORY = debug_exit_status(0x65)


class Failure(Exception):
    pass


class Runner:
    def __init__(self, opts):
        self.nestbed = Path(opts.nestbed)
        self.images = Path(opts.images)
        self.timeout = opts.timeout

    def image(self, name):
        path = self.images / name
        if not path.is_file():
            raise Failure(f"image {path} not found: build it (cmake --build build)")
        return path

    def run(self, args):
        command = [str(self.nestbed), "run", *args]
        print("$ " + " ".join(f"'{a}'" if " " in a or not a else a for a in command), flush=True)
        try:
            r = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"no exit after {self.timeout} s")
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
        sys.stdout.write(out + (err and "[stderr] " + err))
        report = sanitizer_failure(err)
        if report:
            raise Failure(report)
        return out, err, r.returncode

    def native(self, image, cmdline="", extra=(), modules=()):
        module_args = [a for m in modules for a in ("--module", m)]
        return self.run([*extra, "--cmdline", cmdline, *module_args, str(self.image(image))])

    def depth1(self, guest, guest_args="", l1_cmdline="", extra=(), modules=()):
        """`guest` is an image name or a path; `modules` become the guest's."""
        guest_path = guest if "/" in str(guest) else self.image(guest)
        module = " ".join(filter(None, [str(guest_path), guest_args]))
        module_args = ["--module", module] + [a for m in modules for a in ("--module", m)]
        return self.run([*extra, "--cmdline", l1_cmdline, *module_args, str(self.image("l1-vmm"))])


def expect_status(status, want, what):
    if status != want:
        raise Failure(f"{what}: status {status}, expected {want}")


def expect_in(text, pattern, what):
    if not re.search(pattern, text, re.MULTILINE):
        raise Failure(f"{what}: no line matching /{pattern}/ in the output")


def l1_lines(text):
    return [l for l in text.splitlines() if l.startswith("l1-vmm:")]


# ---- equivalence -----------------------------------------------------------

def check_equivalence(runner, opts):
    """The probe's whole output and status are the same natively and at depth 1,
    with two Multiboot modules passed on to it (--elf64: the probe's ELF64
    file as the guest at depth 1, against the ELF32 image natively)."""
    modules = [f"{runner.image('hello')} one two", str(runner.image("cpuid-loop"))]
    out0, _, status0 = runner.native("l1vmm-probe", opts.mode, modules=modules)
    guest = Path(opts.elf64) if opts.elf64 else "l1vmm-probe"
    out1, _, status1 = runner.depth1(guest, opts.mode, opts.l1_cmdline, modules=modules)
    expect_status(status0, STATUS_OK, "native run")
    if out0 != out1 or status0 != status1:
        raise Failure(f"depth 1 differs from native (status {status1} vs {status0}); output:\n{out1}")


# ---- what the guest sees of l1-vmm ----------------------------------------------

HYPERVISOR_LINES = [
    r"^  CPUID\.1 ECX hypervisor 1 vmx 0$",
    r'^  CPUID\.40000000 max 0x40000001 signature "NestbedL1VMM"; 40000001 level 2 abi 1$',
    r"^  vmcall NOP returns 0x0$",
    r"^  vmcall PUTCHAR: hi$",
    r"^  vmcall 12345 returns 0xfffffffffffffc18$",  # E_NOSYS, -1000
    r"^  CR4\.VMXE: #GP",
    r"^  IA32_FEATURE_CONTROL 0x1$",
    r"^  IA32_VMX_BASIC: #GP",
    r"^  vmxon: #UD",
    r"^l1vmm-probe: hypervisor probes done$",
]


# With nested=1 (the default) VMX is offered: CPUID says so, IA32_FEATURE_CONTROL
# is locked with VMX outside SMX enabled (l1-vmm/nested/).
VMX_OFFERED_LINES = [
    r"^  CPUID\.1 ECX hypervisor 1 vmx 1$",
    r"^  IA32_FEATURE_CONTROL 0x5$",
]


def check_hypervisor(runner, opts):
    """What the guest sees of l1-vmm: with nested=0 VMX is hidden as on a
    processor without it (the probe expects exactly that); by default it is
    offered."""
    out, _, status = runner.depth1("l1vmm-probe", "hypervisor", "nested=0")
    expect_status(status, STATUS_OK, "depth 1")
    for pattern in HYPERVISOR_LINES + [r"^  fw_cfg RAM_SIZE 64 MiB$"]:
        expect_in(out, pattern, "hypervisor probe")
    if "FAIL" in out:
        raise Failure("a probe failed")
    out, _, status = runner.depth1("l1vmm-probe", "hypervisor")
    expect_status(status, STATUS_OK, "depth 1, nested=1")
    for pattern in VMX_OFFERED_LINES:
        expect_in(out, pattern, "hypervisor probe, nested=1")
    # guest_mem sets what the guest sees (Multiboot and fw_cfg alike).
    out, _, status = runner.depth1("l1vmm-probe", "hypervisor", "guest_mem=16")
    expect_status(status, STATUS_OK, "depth 1, guest_mem=16")
    expect_in(out, r"^  fw_cfg RAM_SIZE 16 MiB$", "guest_mem=16")


# ---- guests that break the rules ---------------------------------------------

def check_misbehave(runner, opts):
    mode = opts.mode
    out0, err0, status0 = runner.native("l1vmm-probe", mode)
    out1, err1, status1 = runner.depth1("l1vmm-probe", mode, "stats")
    if mode == "triple-fault":
        # Shutdown is passed on as shutdown: the platform reports it as natively.
        expect_status(status0, STATUS_TRIPLE_FAULT, "native")
        expect_status(status1, STATUS_TRIPLE_FAULT, "depth 1")
        expect_in(out1, r"^l1-vmm: the guest triple-faulted \(shutdown\) at rip 0x[0-9a-f]+", "depth 1")
    elif mode == "outside":
        # Natively the write goes to no device; l1-vmm cannot emulate that and says so.
        expect_status(status0, STATUS_OK, "native")
        expect_status(status1, L1_GUEST_FAILED, "depth 1")
        expect_in(out1, r"^l1-vmm: guest stopped: write to guest-physical 0xc0000000 \(outside its RAM.*"
                        r"EPT violation, qualification 0x[0-9a-f]+, guest rip 0x[0-9a-f]+", "depth 1")
    elif mode == "mmio-unsupported":
        # Natively the ADD reaches the I/O APIC; l1-vmm's decoder takes MOVs only and names the bytes.
        expect_status(status0, STATUS_OK, "native")
        expect_in(out0, r"^l1vmm-probe: the ADD went through: window 0x10001$", "native")
        expect_status(status1, L1_GUEST_FAILED, "depth 1")
        expect_in(out1, r"^l1-vmm: guest stopped: MMIO access to guest-physical 0xfec00010 by an instruction "
                        r"l1-vmm cannot emulate \(not a MOV, MOVZX or MOVSX with a memory operand\) "
                        r"at linear 0x[0-9a-f]+, bytes 01 03( [0-9a-f]{2})*$", "depth 1")
    elif mode == "halt":
        expect_status(status0, STATUS_HALTED, "native")
        expect_status(status1, STATUS_HALTED, "depth 1")
        # exit_hlt=1: the HLT exits, and l1-vmm halts the guest in the HLT activity state.
        _, _, status2 = runner.depth1("l1vmm-probe", mode, "exit_hlt=1")
        expect_status(status2, STATUS_HALTED, "depth 1 with exit_hlt=1")
    # l1-vmm's table is printed however the run ends (stats).
    if mode != "halt":
        expect_in(out1, r"^l1-vmm:   total ", "the statistics at the end")


def elf32_over_bios():
    """An ELF32 Multiboot kernel whose one segment, [0x9f000, 0xa1000), runs
    over the EBDA at 0x9fc00: refused, as l0 refuses it (issue 14 item 5)."""
    paddr, memsz, header_at = 0x9f000, 0x2000, 52 + 32
    flags = 3  # page-align, memory info
    multiboot = struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xFFFFFFFF)
    size = header_at + len(multiboot)
    header = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    header += struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, paddr + header_at, 52, 0, 0, 52, 32, 1, 40, 0, 0)
    program_header = struct.pack("<IIIIIIII", 1, 0, paddr, paddr, size, memsz, 5, 0x1000)
    return header + program_header + multiboot


def write_bad_module(kind, directory, images):
    path = Path(directory) / kind
    if kind == "not-multiboot":
        path.write_text("not a kernel\n" * 100)
    elif kind == "arm-elf":
        # An ELF64 header for AArch64 (e_machine 183): refused before any header search.
        header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
        header += struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0x400000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
        path.write_bytes(header)
    elif kind == "over-bios":
        path.write_bytes(elf32_over_bios())
    elif kind == "truncated-elf":
        # The header survives, the segments it loads do not.
        image = (images / "hello").read_bytes()
        header = image.find(struct.pack("<I", 0x1BADB002))
        path.write_bytes(image[:header + 256])
    return path


BAD_INPUT = {
    # kind: (status, pattern)
    "no-module": (L1_BAD_GUEST_IMAGE, r"^l1-vmm: no guest: l1-vmm boots Multiboot module 0 as its guest"),
    "not-multiboot": (L1_BAD_GUEST_IMAGE, r"^l1-vmm: guest image '.*not-multiboot': no Multiboot header"),
    "arm-elf": (L1_BAD_GUEST_IMAGE, r"^l1-vmm: guest image '.*arm-elf': an ELF for AArch64 \(e_machine 183\), not an x86 image$"),
    "over-bios": (L1_BAD_GUEST_IMAGE, r"^l1-vmm: guest image '.*over-bios': segment \[0x9f000, 0xa1000\) overlaps "
                                     r"\[0x9fc00, 0x100000\), the EBDA, VGA and BIOS area \(not RAM\)$"),
    "truncated-elf": (L1_BAD_GUEST_IMAGE, r"^l1-vmm: guest image '.*truncated-elf': ELF segment \d+ lies outside the file"),
    "bad-option": (L1_USAGE, r"^l1-vmm: option 'bogus=1': unknown"),
    "too-much-memory": (L1_NO_MEMORY, r"^l1-vmm: guest_mem=1000 MiB does not fit"),
}


def check_bad_input(runner, opts):
    want_status, pattern = BAD_INPUT[opts.mode]
    l1 = str(runner.image("l1-vmm"))
    with tempfile.TemporaryDirectory() as tmp:
        if opts.mode == "no-module":
            out, _, status = runner.run(["--cmdline", "stats", l1])
        elif opts.mode == "bad-option":
            out, _, status = runner.run(["--cmdline", "stats bogus=1", "--module", str(runner.image("hello")), l1])
        elif opts.mode == "too-much-memory":
            out, _, status = runner.run(["--cmdline", "guest_mem=1000", "--module", str(runner.image("hello")), l1])
        else:
            module = write_bad_module(opts.mode, tmp, runner.images)
            out, _, status = runner.run(["--module", f"{module} some args", l1])
    expect_status(status, want_status, opts.mode)
    expect_in(out, pattern, opts.mode)


# ---- exit counts -------------------------------------------------------------

def summary_rows(summary, title_pattern):
    """Rows "  NAME count ..." of the summary table whose title matches."""
    rows, inside = {}, False
    for line in summary.splitlines():
        if not line.startswith(" "):
            inside = bool(re.match(title_pattern, line))
            continue
        m = re.match(r"^  (\S+)\s+(\d+)\s", line)
        if inside and m:
            rows[m.group(1)] = int(m.group(2))
    return rows


def trace_summary(runner, trace):
    r = subprocess.run([str(runner.nestbed), "trace", "summary", str(trace)], capture_output=True, timeout=runner.timeout)
    report = sanitizer_failure(r.stderr, "nestbed trace summary")
    if report:
        sys.stdout.write(r.stderr.decode(errors="replace"))
        raise Failure(report)
    if r.returncode != 0:
        raise Failure(f"nestbed trace summary failed: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode()


def stats_count(out, reason):
    for line in l1_lines(out):
        m = re.match(rf"^l1-vmm:   {reason}\s+\d+\s+(\d+)\s", line)
        if m:
            return int(m.group(1))
    return 0


def port_count(out, port):
    for line in l1_lines(out):
        m = re.match(rf"^l1-vmm:     port 0x{port:04x}\s+(\d+)$", line)
        if m:
            return int(m.group(1))
    return 0


EXIT_REASON = {"cpuid-loop": "CPUID", "pio-loop": "IO_INSTRUCTION", "mmio-loop": "EPT_VIOLATION"}
# Exits a run with argument n makes: one per CPUID or OUT; for mmio-loop one
# EPT violation per I/O APIC access, 3 per round trip and 2 for its version check.
EXITS_FOR = {"cpuid-loop": lambda n: n, "pio-loop": lambda n: n, "mmio-loop": lambda n: 3 * n + 2}


def mmio_count(out, page):
    for line in l1_lines(out):
        m = re.match(rf"^l1-vmm:     mmio 0x{page:08x}\s+(\d+)$", line)
        if m:
            return int(m.group(1))
    return 0


def check_exits(runner, opts):
    """cpuid-loop N: N CPUID exits of level 2, each one logical exit handled by
    level 1; pio-loop N: N I/O exits (port 0x80); mmio-loop N: 3N + 2 EPT
    violations (the I/O APIC page). From the trace (nestbed trace summary)
    and from l1-vmm's own table (`stats`), for two N."""
    workload, reason = opts.mode, EXIT_REASON[opts.mode]
    for runs in (100, 250):
        n = EXITS_FOR[workload](runs)
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "run.trace"
            out, _, status = runner.depth1(workload, str(runs), extra=("--trace", str(trace)))
            expect_status(status, STATUS_OK, f"{workload} {runs}")
            summary = trace_summary(runner, trace)
        print(summary)
        hw = summary_rows(summary, r"^hardware VM exits of level 2 by reason")
        logical = summary_rows(summary, r"^logical exits handled by level 1")
        if hw.get(reason) != n:
            raise Failure(f"{workload} {n}: {hw.get(reason)} {reason} hardware exits of level 2, expected {n}")
        if logical.get(reason) != n:
            raise Failure(f"{workload} {n}: {logical.get(reason)} {reason} logical exits of level 1, expected {n}")
        # Every exit at level 2 is one l1-vmm handled (nothing else exits).
        if sum(hw.values()) != sum(logical.values()):
            raise Failure(f"{workload} {n}: {sum(hw.values())} hardware exits but {sum(logical.values())} logical ones")
        out, _, status = runner.depth1(workload, str(runs), "stats")
        expect_status(status, STATUS_OK, f"{workload} {runs} with stats")
        if stats_count(out, reason) != n:
            raise Failure(f"{workload} {n}: l1-vmm's table counts {stats_count(out, reason)} {reason}, expected {n}")
        if workload == "pio-loop" and port_count(out, 0x80) != n:
            raise Failure(f"pio-loop {n}: l1-vmm's table counts {port_count(out, 0x80)} exits on port 0x80")
        if workload == "mmio-loop" and mmio_count(out, 0xfec00000) != n:
            raise Failure(f"mmio-loop {runs}: l1-vmm's table counts {mmio_count(out, 0xfec00000)} MMIO accesses "
                          f"to page 0xfec00000, expected {n}")


# ---- depth 2 -----------------------------------------------------------------

def check_depth2(runner, opts):
    """l1-vmm runs a copy of itself (nested/); with nested=0 at level 1 the
    inner l1-vmm finds no VMX and stops cleanly."""
    l1 = str(runner.image("l1-vmm"))
    out, _, status = runner.run(["--module", l1, "--module", f"{runner.image('hello')}", l1])
    expect_status(status, STATUS_OK, "depth 2")
    expect_in(out, r"^hello: Hello from nestbed$", "depth 2")
    out, _, status = runner.run(["--cmdline", "nested=0", "--module", l1, "--module", f"{runner.image('hello')}", l1])
    expect_status(status, L1_NO_VMX, "depth 2, nested=0 at level 1")
    expect_in(out, r"^l1-vmm: the processor does not report VMX", "depth 2, nested=0 at level 1")


# ---- an independent Multiboot loader ---------------------------------------------

class Skip(Exception):
    pass


def check_qemu(runner, opts):
    """QEMU's own Multiboot loader boots l1-vmm (ELF32 at 16 MiB, its header,
    a module with its string); TCG has no VMX, which l1-vmm says plainly."""
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise Skip("qemu-system-x86_64 not found (Debian: apt-get install qemu-system-x86)")
    command = [qemu, "-accel", "tcg", "-m", "128", "-nodefaults", "-no-reboot", "-display", "none",
               "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
               "-kernel", str(runner.image("l1-vmm")), "-initrd", str(runner.image("hello")), "-append", "stats"]
    print("$ " + " ".join(command), flush=True)
    r = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=runner.timeout)
    out = r.stdout.decode(errors="replace")
    sys.stdout.write(out)
    expect_status(r.returncode, L1_NO_VMX, "l1-vmm on QEMU TCG")
    expect_in(out, r"^l1-vmm: the processor does not report VMX", "l1-vmm on QEMU TCG")


CHECKS = {
    "equivalence": check_equivalence,
    "hypervisor": check_hypervisor,
    "misbehave": check_misbehave,
    "bad-input": check_bad_input,
    "exits": check_exits,
    "depth2": check_depth2,
    "qemu": check_qemu,
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("check", choices=sorted(CHECKS))
    p.add_argument("mode", nargs="?", default="native")
    p.add_argument("--l1-cmdline", default="", help="l1-vmm options for the depth-1 run")
    p.add_argument("--elf64", help="equivalence: this ELF64 file as the guest at depth 1")
    p.add_argument("--nestbed", default=SOURCE_DIR / "build" / "bin" / "nestbed")
    p.add_argument("--images", default=SOURCE_DIR / "build" / "images")
    p.add_argument("--timeout", type=float, default=100)
    opts = p.parse_args()
    try:
        CHECKS[opts.check](Runner(opts), opts)
    except Failure as e:
        print(f"FAIL l1vmm {opts.check} {opts.mode}: {e}")
        return 1
    except Skip as e:
        print(f"SKIP l1vmm {opts.check}: {e}")
        return 77
    print(f"PASS l1vmm {opts.check} {opts.mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
