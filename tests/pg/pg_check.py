#!/usr/bin/env python3
"""End-to-end checks of `nestbed pg` (tests/pg.cmake), one CTest test each:

    pg_check.py classification --depth D [--no-rerun]
                                           the known classification, each row
                                           with the reason it must hold; every
                                           control-sensitive instruction exits or
                                           runs as natively under l1-vmm; nothing
                                           reachable by the escape probes;
                                           equivalence at every depth; the JSON
                                           identical across two runs
    pg_check.py misconfig                  l1-vmm's test-only hole (test_leak_page)
                                           is found by the escape probes
    pg_check.py qemu                       pg-probe on QEMU TCG (an independent x86),
                                           its output classified by `nestbed pg
                                           --probe-output`: the same known classes,
                                           and the sim's class for every row

Paths: --nestbed build/bin/nestbed, --images build/images.
Exit status 0 = pass, 1 = fail, 77 = skipped (qemu: no qemu-system-x86_64).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from sanitizer_report import failure as sanitizer_failure  # noqa: E402

# Classic sensitive-but-unprivileged x86 instructions (Robin & Irvine 2000):
# id -> what their result must depend on (a word of the "why").
STORE_PRIVILEGED_STATE = {"sgdt": "gdtr", "sidt": "idtr", "sldt": "ldtr", "str": "tr", "smsw": "cr0.ts"}
CPL_REVEALING = {"mov_from_cs": "CPL 0 vs CPL 3", "mov_from_ss": "CPL 0 vs CPL 3"}
# Their ZF depends on CPL vs the DPL of the descriptor they are given (KDATA, DPL 0): set at CPL 0, clear
# at CPL 3, with no fault (SDM vol. 2A LAR/LSL, 2B VERR/VERW).
DESCRIPTOR_CHECKS = ["lar", "lsl", "verr", "verw"]
# Privileged: #GP at CPL 3 (IN/OUT with IOPL 0), none at CPL 0.
PRIVILEGED = ["mov_to_cr0", "mov_to_cr3", "mov_to_cr4", "lgdt", "lidt", "lldt", "ltr", "hlt", "wrmsr", "rdmsr",
              "in_scr", "out_scr", "out_post", "cli", "sti", "clts", "lmsw"]


class Checker:
    def __init__(self):
        self.problems = []

    def expect(self, condition, message):
        if not condition:
            self.problems.append(message)


def run_pg(args, extra, json_path):
    cmd = [args.nestbed, "pg", "--images", args.images, "--json", str(json_path)] + extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    problem = sanitizer_failure(p.stderr)
    if problem:
        raise SystemExit(f"FAIL: {problem}")
    if p.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)} ended with status {p.returncode}\n{p.stderr[-2000:]}")
    return json.loads(json_path.read_text()), json_path.read_bytes()


def rows(report, mode):
    return {r["id"]: r for r in report["instructions"] if r["mode"] == mode}


MODES = ("64-bit", "compatibility", "32-bit protected")


def mem_of(why, which):
    """The `which`-th (0, 1) "mem:HEX" of a behavior-sensitive why ("CPL 0, base vs gdtr: mem:.. vs mem:..")."""
    mems = [w[len("mem:"):] for w in why.replace(",", " ").split() if w.startswith("mem:")]
    return mems[which] if len(mems) > which else ""


def check_modes(c, report):
    """What differs between the modes, with its reason."""
    counts = {mode: len(rows(report, mode)) for mode in MODES}
    c.expect(counts["compatibility"] == counts["32-bit protected"] == counts["64-bit"],
             f"every instruction should run in both 32-bit modes: rows per mode {counts}")
    # SWAPGS exists in 64-bit mode only (SDM vol. 2B SWAPGS: #UD if not in 64-bit mode).
    swapgs = {mode: rows(report, mode)["swapgs"] for mode in MODES}
    c.expect(swapgs["64-bit"]["privileged"]["value"] and swapgs["64-bit"]["control_sensitive"]["value"],
             f"swapgs (64-bit mode): should be privileged and control-sensitive: {swapgs['64-bit']}")
    for mode in MODES[1:]:
        c.expect(not swapgs[mode]["implemented"] and "#UD at CPL 0" in swapgs[mode]["privileged"]["why"],
                 f"swapgs ({mode} mode): should be #UD: {swapgs[mode]['privileged']['why']}")
    differences = {d["id"]: d["classes"] for d in report["mode_differences"]}
    c.expect("swapgs" in differences and len(differences["swapgs"]) == 3,
             f"the mode differences should list swapgs in all three modes: {report['mode_differences']}")
    # SGDT stores 10 bytes in 64-bit mode, 6 in 32-bit code (SDM vol. 2B SGDT); the buffer is filled with
    # a5 before each run.
    for mode in MODES:
        mem = mem_of(rows(report, mode)["sgdt"]["behavior_sensitive"]["why"], 0)
        bytes_6_to_9_written = len(mem) == 32 and mem[12:20] != "a5" * 4
        c.expect(len(mem) == 32 and mem[20:] == "a5" * 6 and bytes_6_to_9_written == (mode == "64-bit"),
                 f"sgdt ({mode} mode): should store {10 if mode == '64-bit' else 6} bytes: mem:{mem}")
    # Legacy protected mode runs with paging off: MOV from CR0 shows PG clear there, set in IA-32e mode.
    for mode in MODES:
        cr0 = rows(report, mode)["mov_from_cr0"]["behavior_sensitive"]["why"]
        value = int(cr0.split("rax:")[1].split()[0], 16) if "rax:" in cr0 else None
        paging = None if value is None else bool(value & (1 << 31))
        c.expect(paging == (mode != "32-bit protected"),
                 f"mov_from_cr0 ({mode} mode): CR0.PG should be {'clear' if mode == '32-bit protected' else 'set'}: "
                 f"{cr0}")


def check_native(c, report):
    check_modes(c, report)
    for mode in MODES:
        by_id = rows(report, mode)
        where = f"({mode} mode)"
        for insn, resource in STORE_PRIVILEGED_STATE.items():
            r = by_id[insn]
            c.expect(r["theorem1_violation"], f"{insn} {where}: should violate Theorem 1 (sensitive, unprivileged)")
            c.expect(not r["privileged"]["value"] and "no fault at CPL 3" in r["privileged"]["why"],
                     f"{insn} {where}: should complete at CPL 3 with UMIP off: {r['privileged']['why']}")
            c.expect(resource in r["behavior_sensitive"]["why"],
                     f"{insn} {where}: its result should depend on {resource}: {r['behavior_sensitive']['why']}")
            if report["configurations"].get("cr4.umip"):
                c.expect("#GP at CPL 3" in r["privileged_under"].get("cr4.umip", ""),
                         f"{insn} {where}: should be privileged with CR4.UMIP: {r['privileged_under']}")
        for insn, why in CPL_REVEALING.items():
            r = by_id[insn]
            c.expect(r["theorem1_violation"] and why in r["behavior_sensitive"]["why"],
                     f"{insn} {where}: its result should reveal the CPL: {r['behavior_sensitive']['why']}")
        pushf = by_id["pushf"]
        c.expect(pushf["theorem1_violation"] and ("if" in pushf["behavior_sensitive"]["why"]
                                                  or "iopl3" in pushf["behavior_sensitive"]["why"]),
                 f"pushf {where}: should push IF/IOPL: {pushf['behavior_sensitive']['why']}")
        popf = by_id["popf"]
        c.expect(popf["theorem1_violation"] and "CPL 0 vs CPL 3" in popf["behavior_sensitive"]["why"]
                 and "rflags" in popf["control_sensitive"]["why"],
                 f"popf {where}: should set IF at CPL 0 and silently not at CPL 3: {popf['behavior_sensitive']}")
        for insn in DESCRIPTOR_CHECKS:
            r = by_id[insn]
            c.expect(r["implemented"], f"{insn} {where}: not implemented: {r['privileged']['why']}")
            why = r["behavior_sensitive"]["why"]
            c.expect(r["theorem1_violation"] and not r["privileged"]["value"]
                     and why.startswith("CPL 0 vs CPL 3") and "rdx:1 vs" in why and why.endswith("rdx:0"),
                     f"{insn} {where}: ZF (and LAR's/LSL's result) should depend on the CPL against the DPL 0 "
                     f"descriptor, with no fault at CPL 3: {r['privileged']['why']}; {r['behavior_sensitive']['why']}")
        for insn in PRIVILEGED:
            r = by_id[insn]
            c.expect(r["privileged"]["value"] and "#GP at CPL 3, none at CPL 0" in r["privileged"]["why"],
                     f"{insn} {where}: should be privileged: {r['privileged']['why']}")
            c.expect(not r["theorem1_violation"], f"{insn} {where}: privileged, so no Theorem 1 violation")
        for insn in ("add", "nop"):
            r = by_id[insn]
            c.expect(not r["privileged"]["value"] and not r["control_sensitive"]["value"]
                     and not r["behavior_sensitive"]["value"], f"{insn} {where}: should be innocuous: {r}")
        rdtsc = by_id["rdtsc"]
        c.expect("#GP at CPL 3" in rdtsc["privileged_under"].get("cr4.tsd", ""),
                 f"rdtsc {where}: should be privileged with CR4.TSD: {rdtsc['privileged_under']}")


def check_vtx(c, report, depth):
    for r in report["instructions"]:
        v = [x for x in r["vtx"] if x["depth"] == depth]
        c.expect(len(v) == 1, f"{r['id']}: no verdict at depth {depth}")
        if not v:
            continue
        v = v[0]
        if r["control_sensitive"]["value"]:
            c.expect(v["verdict"] in ("exits", "no exit, as natively"),
                     f"{r['id']} ({r['mode']}) at depth {depth}: control-sensitive and neither exits nor runs "
                     f"as natively: {v['why']}")
        if r["id"] == "cpuid":
            c.expect(v["exits"].get("CPUID", 0) > 0, f"cpuid at depth {depth}: should exit (CPUID): {v}")
        if r["id"] == "out_post":
            c.expect(v["exits"].get("IO_INSTRUCTION", 0) > 0, f"out 0x80 at depth {depth}: should exit: {v}")


def classification(args):
    c = Checker()
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--depth", str(args.depth)]
        report, first = run_pg(args, extra, Path(tmp) / "a.json")
        if args.rerun:
            _, second = run_pg(args, extra, Path(tmp) / "b.json")
            c.expect(first == second, "the JSON differs between two identical runs")
    check_native(c, report)
    for d in report["depths"]:
        depth = d["depth"]
        if depth > 0:
            check_vtx(c, report, depth)
        c.expect(d["equivalence"]["holds"], f"depth {depth}: equivalence fails: {d['equivalence']}")
        c.expect(d["resource_control"]["reachable"] == 0,
                 f"depth {depth}: the escape probes reached something: {d['resource_control']}")
        tried = [t["tried"] for t in d["resource_control"]["escape_probes"]]
        c.expect(any(t.startswith("mem-write") for t in tried) and any(t.startswith("msr") for t in tried)
                 and any(t.startswith("port") for t in tried), f"depth {depth}: escape probes missing: {tried}")
    return c


def misconfig(args):
    c = Checker()
    with tempfile.TemporaryDirectory() as tmp:
        report, _ = run_pg(args, ["--depth", "1", "--vmm-cmdline", "test_leak_page"], Path(tmp) / "m.json")
    by_depth = {d["depth"]: d for d in report["depths"]}
    c.expect(by_depth[0]["resource_control"]["reachable"] == 0, "depth 0 should reach nothing")
    reached = [t["tried"] for t in by_depth[1]["resource_control"]["escape_probes"] if t["reachable"]]
    c.expect(any(t.startswith("mem-read") for t in reached) and any(t.startswith("mem-write") for t in reached),
             f"the leaked page should be found by a read and a write: reachable {reached}")
    c.expect(not by_depth[1]["resource_control"]["holds"], "resource control should be reported broken")
    return c


def qemu(args):
    c = Checker()
    binary = shutil.which("qemu-system-x86_64")
    if not binary:
        print("SKIP: no qemu-system-x86_64")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "probe.txt"
        # -cpu max: UMIP and everything else TCG implements.
        with open(log, "w") as out:
            p = subprocess.run([binary, "-accel", "tcg", "-cpu", "max", "-kernel", str(Path(args.images) / "pg-probe"),
                                "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial", "stdio", "-display",
                                "none", "-no-reboot"], stdout=out, stderr=subprocess.PIPE, text=True,
                               timeout=args.timeout)
        c.expect(p.returncode == 1, f"pg-probe on QEMU ended with status {p.returncode}: {p.stderr[-500:]}")
        report, _ = run_pg(args, ["--probe-output", str(log)], Path(tmp) / "q.json")
        sim, _ = run_pg(args, ["--depth", "0"], Path(tmp) / "s.json")
    check_native(c, report)
    c.expect(report["configurations"].get("cr4.umip"), "QEMU -cpu max has UMIP")
    # An independent x86 and the sim: the same class for every instruction in every mode.
    def classes(r):
        return {(x["id"], x["mode"]): (x["implemented"], x["privileged"]["value"], x["control_sensitive"]["value"],
                                       x["behavior_sensitive"]["value"], sorted(x["privileged_under"]))
                for x in r["instructions"]}
    on_qemu, on_sim = classes(report), classes(sim)
    c.expect(on_qemu.keys() == on_sim.keys(), f"QEMU and the sim ran different rows: {on_qemu.keys() ^ on_sim.keys()}")
    for row in sorted(on_qemu.keys() & on_sim.keys()):
        c.expect(on_qemu[row] == on_sim[row], f"{row}: QEMU {on_qemu[row]}, the sim {on_sim[row]}")
    return c


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["classification", "misconfig", "qemu"])
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--no-rerun", dest="rerun", action="store_false",
                        help="classification: one run, no determinism check (slow depths)")
    parser.add_argument("--nestbed", default="build/bin/nestbed")
    parser.add_argument("--images", default="build/images")
    parser.add_argument("--timeout", type=int, default=280)
    args = parser.parse_args()
    c = {"classification": classification, "misconfig": misconfig, "qemu": qemu}[args.check](args)
    for p in c.problems:
        print(f"FAIL: {p}")
    if c.problems:
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
