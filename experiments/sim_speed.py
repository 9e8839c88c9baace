#!/usr/bin/env python3
"""Side-by-side speed figures of the sim engine (issue 10 item 7), each a
ratio or a difference of runs made in this one invocation, so that the load
of a shared machine cancels as far as it can:

  1. nestbed (sim) vs qemu-system-x86_64 -accel tcg on the same images
     (sieve, memtouch, hello): process time with start-up, and without
     it (minus the same image run with a count of 0: boot, print, exit);
  2. callgrind host instructions per guest instruction (sieve);
  3. host time per depth-1 CPUID and OUT round trip (cpuid-loop and
     pio-loop under l1-vmm, two counts, the difference divided by the
     difference in iterations);
  4. depth-1 / depth-0 time on sieve and memtouch, with start-up and
     without it, and host instructions on memtouch (callgrind);
  5. --trace on / off time on the depth-1 cpuid-loop, and trace bytes per
     VM transition (exits + entries).

Times are host CPU seconds (user + system) of the process, from
getrusage: on a shared, oversubscribed machine they move far less than wall
time, which also counts the time spent waiting for a core. They are medians
of --repeats runs, taken interleaved. Every timed run is pinned to one CPU
(--cpu, the last one by default): the vCPUs of a virtual machine need not
be equally fast (on 2026-12-04 one of this machine's two ran the same run in
1.05 s, the other in 0.75 s), and a ratio of two runs on different ones
measures that. Before each timed run 1 GiB of memory is touched and freed
(--warm): on a virtual machine, pages the hypervisor has not yet backed
cost their first toucher a fault below, and which of two processes met
them decided a ratio (warm_host_memory). Against QEMU both get the same
guest RAM (--ram). Host instruction counts (callgrind) are exact and do
not depend on the load.

    experiments/sim_speed.py                 # all of it (a few minutes)
    experiments/sim_speed.py --repeats 5 --no-callgrind

Needs a release build (cmake --preset release && cmake --build build),
qemu-system-x86_64 and valgrind.
"""

import argparse
import json
import mmap
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1]
DEBUG_EXIT_PORT = "isa-debug-exit,iobase=0xf4,iosize=4"


PINNED_CPU = None  # --cpu


def pin():
    if PINNED_CPU is not None:
        os.sched_setaffinity(0, {PINNED_CPU})


WARM_MIB = 0  # --warm


def warm_host_memory():
    """Touches and frees WARM_MIB of memory before a timed run.

    On a virtual machine the first touch of a physical page the guest kernel
    has never handed out costs a fault in the hypervisor below, which the
    process pays as its own time. On 2026-12-04 that cost 0.4 s of QEMU's
    `memtouch 65536` on one run in three, and less often nestbed's: which
    process met fresh pages decided the ratio. Touching them first here
    gives both the same, already-backed pages.
    """
    if WARM_MIB:
        size = WARM_MIB << 20
        with mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS) as block:
            block.madvise(mmap.MADV_HUGEPAGE)  # huge pages, as both ask for their guest RAM
            for offset in range(0, size, 4096):
                block[offset] = 1


def timed(command):
    """Runs a command on the pinned CPU; returns (completed process, host CPU seconds it used)."""
    warm_host_memory()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(command, capture_output=True, text=True, preexec_fn=pin)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return run, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def nestbed(opts, args):
    """One `nestbed run --stats -`; returns (process CPU seconds, stats JSON)."""
    command = [opts.nestbed, "run", "--stats", "-", *args]
    run, cpu = timed(command)
    if run.returncode != 1:  # 1: the guest wrote 0 to the debug-exit port
        sys.exit(f"{' '.join(command)}: status {run.returncode}\n{run.stderr}")
    return cpu, json.loads(run.stdout[run.stdout.index("\n{") + 1:])


def depth0(opts, image, count):
    image_path = str(Path(opts.images) / image)
    return [image_path] if count is None else ["--cmdline", str(count), image_path]


def depth1(opts, image, count):
    return ["--module", f"{Path(opts.images) / image} {count}", str(Path(opts.images) / "l1-vmm")]


def qemu(opts, image, count):
    """Process CPU seconds of QEMU TCG running the image to its debug exit."""
    command = [opts.qemu, "-accel", "tcg", "-m", str(opts.ram), "-kernel", str(Path(opts.images) / image),
               "-device", DEBUG_EXIT_PORT, "-serial", "null", "-display", "none", "-no-reboot", "-nodefaults"]
    if count is not None:
        command += ["-append", str(count)]
    run, cpu = timed(command)
    if run.returncode != 1:  # isa-debug-exit: (0 << 1) | 1
        sys.exit(f"{' '.join(command)}: status {run.returncode}\n{run.stderr}")
    return cpu


def medians(opts, runners, repeats=None):
    """Runs every callable `repeats` times (opts.repeats unless given),
    interleaved; the median of each."""
    samples = {name: [] for name in runners}
    for _ in range(repeats or opts.repeats):
        for name, run in runners.items():
            samples[name].append(run())
    return {name: statistics.median(values) for name, values in samples.items()}


def vs_qemu(opts):
    counts = {"sieve": opts.sieve, "memtouch": opts.memtouch, "hello": None}
    runners = {}
    for image, count in counts.items():
        ram = ["--memory", str(opts.ram)]  # the same RAM as QEMU's -m
        runners[("nestbed", image)] = lambda i=image, c=count: nestbed(opts, ram + depth0(opts, i, c))[0]
        runners[("qemu", image)] = lambda i=image, c=count: qemu(opts, i, c)
        if count:
            runners[("nestbed", image, 0)] = lambda i=image: nestbed(opts, ram + depth0(opts, i, 0))[0]
            runners[("qemu", image, 0)] = lambda i=image: qemu(opts, i, 0)
    m = medians(opts, runners)
    print("## nestbed (sim) vs QEMU TCG, same image\n")
    print("| workload | nestbed | QEMU | ratio with start-up | nestbed minus count 0 | QEMU minus count 0 "
          "| ratio without start-up |")
    print("|---|---|---|---|---|---|---|")
    for image, count in counts.items():
        nb, qm = m[("nestbed", image)], m[("qemu", image)]
        label = f"`{image} {count}`" if count else f"`{image}`"
        if count:
            nb_net = nb - m[("nestbed", image, 0)]
            qm_net = qm - m[("qemu", image, 0)]
            print(f"| {label} | {nb:.3f} s | {qm:.3f} s | {nb / qm:.2f} | {nb_net:.3f} s | {qm_net:.3f} s "
                  f"| {nb_net / qm_net:.2f} |")
        else:
            print(f"| {label} | {nb:.3f} s | {qm:.3f} s | {nb / qm:.2f} | | | |")
    print("\nHost CPU seconds; ratio < 1: nestbed is faster. Start-up: the same image with a count of 0 "
          "(boot, print, exit).\n")


def callgrind(opts):
    if not shutil.which("valgrind"):
        print("(valgrind not found: no host-instruction figures)\n")
        return
    args = depth0(opts, "sieve", opts.callgrind_sieve)
    _, stats = nestbed(opts, args)
    host = callgrind_count(opts, args)
    guest = stats["instructions"]
    print("## Host instructions per guest instruction (callgrind)\n")
    print("| run | host instructions | guest instructions | host per guest |")
    print("|---|---|---|---|")
    print(f"| `nestbed run {' '.join(args)}` | {host:,} | {guest:,} | {host / guest:.1f} |\n")


def round_trips(opts):
    n1, n2 = opts.n1, opts.n2
    runners = {}
    for image in ("cpuid-loop", "pio-loop"):
        for n in (n1, n2):
            runners[(image, n)] = lambda i=image, c=n: nestbed(opts, depth1(opts, i, c))[0]
    m = medians(opts, runners)
    print("## Host time per depth-1 round trip (guest exit -> l1-vmm -> VMRESUME)\n")
    print(f"| workload | {n1:,} iterations | {n2:,} iterations | per round trip |")
    print("|---|---|---|---|")
    for image, insn in (("cpuid-loop", "CPUID"), ("pio-loop", "OUT")):
        per = (m[(image, n2)] - m[(image, n1)]) / (n2 - n1)
        print(f"| {insn} (`{image}`) | {m[(image, n1)]:.3f} s | {m[(image, n2)]:.3f} s | {per * 1e6:.2f} µs |")
    print()


def callgrind_count(opts, args):
    """Host instructions (callgrind, exact) of one `nestbed run`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", opts.nestbed, "run", *args],
                             capture_output=True, text=True)
    match = re.search(r"refs:\s+([\d,]+)", run.stderr)
    if not match:
        sys.exit("callgrind printed no instruction count:\n" + run.stderr)
    return int(match[1].replace(",", ""))


def depth_ratio(opts):
    """Depth 1 / depth 0, with start-up and without it (minus the same run
    with a count of 0 at the same depth, as against QEMU). Depth 1's
    start-up adds l1-vmm's boot: mostly decoding and running its code for
    the first time, about 7 ms, which a short run does not amortise."""
    workloads = (("sieve", opts.sieve), ("memtouch", opts.memtouch_depth))
    ram = ["--memory", str(opts.ram)]
    runners = {}
    for image, count in workloads:
        for c in (count, 0):
            runners[(image, 0, c)] = lambda i=image, c=c: nestbed(opts, ram + depth0(opts, i, c))[0]
            runners[(image, 1, c)] = lambda i=image, c=c: nestbed(opts, ram + depth1(opts, i, c))[0]
    m = medians(opts, runners)
    print("## Depth 1 / depth 0\n")
    print("| workload | depth 0 | depth 1 | depth 1 / depth 0 | depth 0 minus count 0 | depth 1 minus count 0 "
          "| ratio without start-up |")
    print("|---|---|---|---|---|---|---|")
    for image, count in workloads:
        d0, d1 = m[(image, 0, count)], m[(image, 1, count)]
        n0, n1 = d0 - m[(image, 0, 0)], d1 - m[(image, 1, 0)]
        print(f"| `{image} {count}` | {d0:.3f} s | {d1:.3f} s | {d1 / d0:.2f} | {n0:.3f} s | {n1:.3f} s "
              f"| {n1 / n0:.2f} |")
    print(f"\nHost CPU seconds, medians; guest RAM {opts.ram} MiB at both depths.\n")
    if opts.no_callgrind or not shutil.which("valgrind"):
        return
    image, count = "memtouch", opts.callgrind_memtouch
    c = {(d, n): callgrind_count(opts, (depth0 if d == 0 else depth1)(opts, image, n)) for d in (0, 1) for n in (count, 0)}
    print(f"Host instructions (callgrind), `{image} {count}`:\n")
    print("| | depth 0 | depth 1 | depth 1 / depth 0 |")
    print("|---|---|---|---|")
    print(f"| whole run | {c[(0, count)]:,} | {c[(1, count)]:,} | {c[(1, count)] / c[(0, count)]:.3f} |")
    net0, net1 = c[(0, count)] - c[(0, 0)], c[(1, count)] - c[(1, 0)]
    print(f"| minus count 0 | {net0:,} | {net1:,} | {net1 / net0:.3f} |\n")


def tracing(opts):
    """Tracing on / off: the two runs differ by a few per cent, about the
    size of this machine's run-to-run spread, so they are taken three times
    as often as the other figures (a pair is a third of a second), and
    callgrind's exact count stands beside them."""
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "t.nbt"
        args = depth1(opts, "cpuid-loop", opts.n2)
        runners = {
            "off": lambda: nestbed(opts, args)[0],
            "on": lambda: nestbed(opts, ["--trace", str(trace), *args])[0],
        }
        m = medians(opts, runners, repeats=3 * opts.repeats)
        _, stats = nestbed(opts, ["--trace", str(trace), *args])
        size = os.path.getsize(trace)
        counted = None
        if not opts.no_callgrind and shutil.which("valgrind"):
            short = depth1(opts, "cpuid-loop", opts.n1)
            counted = (callgrind_count(opts, short), callgrind_count(opts, ["--trace", str(trace), *short]))
    transitions = stats["vm_exits"] + stats["vm_entries"]
    print(f"## Tracing on / off (depth-1 cpuid-loop, medians of {3 * opts.repeats})\n")
    print("| run | off | on | on / off | trace bytes | bytes per VM exit or entry |")
    print("|---|---|---|---|---|---|")
    print(f"| `cpuid-loop {opts.n2}` under l1-vmm | {m['off']:.3f} s | {m['on']:.3f} s | {m['on'] / m['off']:.2f} "
          f"| {size:,} | {size / transitions:.0f} |\n")
    if counted:
        off, on = counted
        print(f"Host instructions (callgrind), `cpuid-loop {opts.n1}` under l1-vmm: {off:,} off, {on:,} on, "
              f"on / off {on / off:.3f}.\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nestbed", default=str(SOURCE_DIR / "build/bin/nestbed"))
    parser.add_argument("--images", default=str(SOURCE_DIR / "build/images"))
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sieve", type=int, default=20000000)
    # 65536 pages (256 MiB): at 8192, QEMU's share beyond its start-up
    # (0.12 s) was 0.04 s, smaller than the start-up's own spread.
    parser.add_argument("--memtouch", type=int, default=65536)
    parser.add_argument("--ram", type=int, default=512, help="guest RAM (MiB) of both, against QEMU")
    # 32768 pages (128 MiB, in --ram at both depths): at 8192 the guest's
    # work (20 ms) was smaller than what depth 1 adds to start-up (l1-vmm's
    # boot, about 7 ms), so the ratio measured mostly start-up.
    parser.add_argument("--memtouch-depth", type=int, default=32768)
    parser.add_argument("--callgrind-memtouch", type=int, default=8192)
    parser.add_argument("--callgrind-sieve", type=int, default=2000000)
    parser.add_argument("--n1", type=int, default=20000)
    parser.add_argument("--n2", type=int, default=200000)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)),
                        help="the CPU every timed run is pinned to (-1: not pinned)")
    parser.add_argument("--warm", type=int, default=1024,
                        help="MiB of host memory touched and freed before each timed run (0: none)")
    parser.add_argument("--no-qemu", action="store_true")
    parser.add_argument("--no-callgrind", action="store_true")
    opts = parser.parse_args()
    global PINNED_CPU, WARM_MIB
    PINNED_CPU = opts.cpu if opts.cpu >= 0 else None
    WARM_MIB = opts.warm
    load = os.getloadavg()
    print(f"# Sim speed, side by side\n\nhost load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"({os.cpu_count()} CPUs); medians of {opts.repeats} runs"
          f"{f', pinned to CPU {PINNED_CPU}' if PINNED_CPU is not None else ''}\n")
    if not opts.no_qemu:
        vs_qemu(opts)
    if not opts.no_callgrind:
        callgrind(opts)
    round_trips(opts)
    depth_ratio(opts)
    tracing(opts)
    load = os.getloadavg()
    print(f"host load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
