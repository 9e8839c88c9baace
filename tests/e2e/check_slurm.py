#!/usr/bin/env python3
"""`nestbed sweep --slurm` on a real single-node Slurm cluster on localhost
(Debian's slurm-wlm and munge), started and stopped by this test in a
temporary folder: a two-task job array from --slurm, `sbatch --wait`,
`nestbed sweep merge`, and the merged CSV files compared with a local sweep
of the same SPEC (wall-time columns aside).

Exits 77 (CTest's skip), saying why, where Slurm cannot start here: the
programs are missing (scripts/install-deps.sh installs slurm-wlm and munge),
or munged/slurmctld/slurmd do not come up (e.g. a container without the
privileges they need).

    check_slurm.py --nestbed build/bin/nestbed --images build/images
"""
import argparse
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKIP = 77
WALL_COLUMNS = {"run_seconds", "wall_seconds", "mips"}
PROGRAMS = ["munged", "slurmctld", "slurmd", "sbatch", "sinfo"]

TINY = """\
[sweep]
name = "slurmtiny"
timeout_seconds = 120

[axes]
workload = ["hello", "cpuid-loop 20"]
depth = [0, 1]
"""


class Skip(Exception):
    pass


class Failure(Exception):
    pass


def find(name):
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)),
                                      None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, n=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


class Cluster:
    """munged + slurmctld + slurmd on this host, everything under `root`."""

    def __init__(self, root):
        self.root = root
        self.procs = []
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))

    def start(self):
        r = self.root
        for d in ("munge", "state", "spool", "log"):
            (r / d).mkdir()
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        sock = r / "munge" / "munge.sock"
        self._spawn([find("munged"), "--foreground", "--force", f"--key-file={key}", f"--socket={sock}",
                     f"--pid-file={r / 'munge' / 'munged.pid'}", f"--log-file={r / 'log' / 'munged.log'}",
                     f"--seed-file={r / 'munge' / 'seed'}"], r / "log" / "munged.out")
        self._wait(lambda: sock.exists(), 10, "munged", r / "log" / "munged.log")
        cpus = os.cpu_count() or 1
        self.conf.write_text(f"""\
ClusterName=nestbedtest
SlurmctldHost={self.host}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
StateSaveLocation={r / 'state'}
SlurmdSpoolDir={r / 'spool'}
SlurmctldPidFile={r / 'slurmctld.pid'}
SlurmdPidFile={r / 'slurmd.pid'}
SlurmctldLogFile={r / 'log' / 'slurmctld.log'}
SlurmdLogFile={r / 'log' / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        self._spawn([find("slurmctld"), "-D", "-i", "-f", str(self.conf)], r / "log" / "slurmctld.out")
        self._spawn([find("slurmd"), "-D", "-f", str(self.conf)], r / "log" / "slurmd.out")
        self._wait(self._node_ready, 30, "slurmctld/slurmd", r / "log" / "slurmd.log", r / "log" / "slurmctld.log")

    def _spawn(self, argv, log):
        with open(log, "w") as out:
            self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                               start_new_session=True))

    def _node_ready(self):
        r = subprocess.run([find("sinfo"), "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=self.env)
        return r.returncode == 0 and r.stdout.strip() in ("idle", "mixed", "allocated")

    def _wait(self, ready, seconds, what, *logs):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if ready():
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.5)
        raise Skip(f"{what} did not start here:\n" + "\n".join(f"--- {l}\n{tail(l)}" for l in logs))

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def read_csv(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in WALL_COLUMNS} for row in csv.DictReader(f)]


def run(argv, timeout, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    if r.returncode != 0:
        raise Failure(f"{' '.join(map(str, argv))}: status {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def check(opts, tmp):
    missing = [p for p in PROGRAMS if not find(p)]
    if missing:
        raise Skip(f"Slurm is not installed here (missing {', '.join(missing)}: Debian's slurm-wlm and munge)")
    cluster = Cluster(tmp / "cluster")
    (tmp / "cluster").mkdir()
    try:
        cluster.start()
        spec = tmp / "tiny.toml"
        spec.write_text(TINY)
        out = tmp / "slurm-out"
        nb = [opts.nestbed, "sweep", str(spec), "--images", opts.images]
        script = run(nb + ["--out", str(out), "--slurm", str(tmp / "job"), "--tasks", "2"], 30).stdout.strip()
        run([find("sbatch"), "--wait", script], opts.timeout, env=cluster.env)
        logs = sorted((tmp / "job" / "logs").glob("*.out"))
        if len(logs) != 2:
            raise Failure(f"expected the logs of 2 array tasks, got {[l.name for l in logs]}")
        run([opts.nestbed, "sweep", "merge", str(out)], 30)
    finally:
        cluster.stop()
    local = tmp / "local-out"
    run(nb + ["--out", str(local)], opts.timeout)
    for name in ("results.csv", "levels.csv", "exits.csv"):
        a, b = read_csv(out / name), read_csv(local / name)
        if a != b:
            raise Failure(f"{name}: the merged Slurm sweep differs from the local one")
        if not a:
            raise Failure(f"{name} is empty")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nestbed", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--timeout", type=int, default=200)
    opts = p.parse_args()
    opts.nestbed = str(Path(opts.nestbed).resolve())
    opts.images = str(Path(opts.images).resolve())
    try:
        with tempfile.TemporaryDirectory() as t:
            check(opts, Path(t))
    except Skip as e:
        print(f"SKIP: {e}")
        return SKIP
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        return 1
    print("ok: two Slurm array tasks, merged, equal the local sweep's CSV files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
