#!/usr/bin/env python3
"""Scale: N units in an After=/Requires= chain, and N fanned out (all Requires= one root), under
supd as PID 1 of a fresh pid+mount namespace. Measures, per shape and N: wall time from supd's
start until every unit is running, supd's CPU time (user+sys) until then, its fd count and RSS
with every unit up, and whether every unit came up. Used for docs/benchmarks.md ("scale").

The peer, in the same run: s6-svscan as PID 1 of its own namespace over N service dirs with
the same command (the "fan" shape without the dependency: s6 has none), its CPU the sum of
s6-svscan's and every s6-supervise's (one supervisor process per service) until every service
marked itself up. s6 makes no cgroups; sup makes one per unit on every hierarchy, so the
ratio is sup's whole cost of a unit against s6's whole cost of a service.

Run as root: `tests/bench/scale_bench.py [N ...]` (default 100 1000); SUPD/SUPCTL point at the
binaries (default: build/ of this tree); SCALE_SHAPES picks shapes (default "chain fan s6").
Prints a markdown table on stdout.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUPD = os.environ.get("SUPD", os.path.join(ROOT, "build", "supd"))
SUPCTL = os.environ.get("SUPCTL", os.path.join(ROOT, "build", "supctl"))
TICK = os.sysconf("SC_CLK_TCK")


def unit(i, shape):
    req = ""
    if shape == "chain" and i > 0:
        req = f"[Unit]\nRequires=u{i - 1}\nAfter=u{i - 1}\n\n"
    elif shape == "fan" and i > 0:
        req = "[Unit]\nRequires=u0\n\n"
    # the unit marks itself up in a directory the benchmark counts: polling supd itself
    # (status --json reads every unit's cgroup figures) would charge supd for the watching
    return req + f"[Service]\nExec=/bin/sh -c 'touch \"$MARKS/u{i}\"; exec sleep 100000'\n"


def supd_pid(p):
    for _ in range(500):
        try:
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise RuntimeError("supd did not start")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def running(sock):
    try:
        r = subprocess.run([SUPCTL, "--socket", sock, "status", "--json"], capture_output=True,
                           text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode != 0:
        return None
    data = json.loads(r.stdout)
    return sum(1 for u in data if u["state"] == "running"), data


def run(shape, n, timeout):
    d = tempfile.mkdtemp(prefix="sup-scale-")
    units = os.path.join(d, "units")
    os.makedirs(units)
    for i in range(n):
        with open(os.path.join(units, f"u{i}.unit"), "w") as f:
            f.write(unit(i, shape))
    conf = os.path.join(d, "supd.conf")
    with open(conf, "w") as f:
        # without favordynmods every cgroup v1 attach waits an RCU grace period (~10 ms wall,
        # not CPU): see docs/benchmarks.md; the restart benchmark sets it too
        f.write("[Cgroup]\nFavorDynMods=yes\n")
    sock = os.path.join(d, "run", "supd.sock")
    marks = os.path.join(d, "marks")
    os.makedirs(marks)
    log = open(os.path.join(d, "supd.log"), "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(["unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc",
                          SUPD, "--units", units, "--config", conf, "--run-dir", os.path.join(d, "run"),
                          "--state-dir", os.path.join(d, "state")], stdout=log, stderr=log,
                         env=dict(os.environ, MARKS=marks))
    try:
        pid = supd_pid(p)
        while time.monotonic() - t0 < timeout and len(os.listdir(marks)) < n:
            time.sleep(0.02)
        wall = time.monotonic() - t0
        cpu = cpu_s(pid)
        up, data = len(os.listdir(marks)), []
        r = running(sock) if os.path.exists(sock) else None  # errors, if any (best effort)
        if r:
            data = r[1]
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        rss = rss_kib(pid)
        states = {}
        for u in data:
            states[u["state"]] = states.get(u["state"], 0) + 1
        errors = sorted({u["error"] for u in data if u.get("error")})[:3]
        return dict(shape=shape, n=n, up=up, wall=wall, cpu=cpu, fds=fds, rss=rss,
                    states=states, errors=errors)
    finally:
        p.terminate()
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def tree_cpu(root, comms):
    """CPU seconds of root and its descendants whose comm is in comms."""
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            if comm in comms:
                total += cpu_s(pid)
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def run_s6(n, timeout):
    d = tempfile.mkdtemp(prefix="sup-scale-s6-")
    scan, marks = os.path.join(d, "scan"), os.path.join(d, "marks")
    os.makedirs(marks)
    for i in range(n):
        sd = os.path.join(scan, f"u{i}")
        os.makedirs(sd)
        run = os.path.join(sd, "run")
        with open(run, "w") as f:
            f.write(f"#!/bin/sh\ntouch \"$MARKS/u{i}\"; exec sleep 100000\n")
        os.chmod(run, 0o755)
    t0 = time.monotonic()
    p = subprocess.Popen(["unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc",
                          "s6-svscan", "-c", str(n + 10), scan], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=dict(os.environ, MARKS=marks))
    try:
        pid = supd_pid(p)
        while time.monotonic() - t0 < timeout and len(os.listdir(marks)) < n:
            time.sleep(0.02)
        wall = time.monotonic() - t0
        cpu = tree_cpu(pid, ("s6-svscan", "s6-supervise"))
        up = len(os.listdir(marks))
        rss = 0
        return dict(shape="s6", n=n, up=up, wall=wall, cpu=cpu, fds=0, rss=rss, states={},
                    errors=[])
    finally:
        p.terminate()
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ns = [int(a) for a in sys.argv[1:]] or [100, 1000]
    timeout = float(os.environ.get("SCALE_TIMEOUT", "180"))
    print("| shape | units | all running | wall to all running | supd CPU | supd fds | supd RSS |")
    print("|---|---|---|---|---|---|---|")
    for shape in os.environ.get("SCALE_SHAPES", "chain fan s6").split():
        for n in ns:
            r = run_s6(n, timeout) if shape == "s6" else run(shape, n, timeout)
            sys.stderr.write(json.dumps(r) + "\n")
            print(f"| {shape} | {n} | {r['up']}/{n} | {r['wall']:.2f} s | {r['cpu']:.2f} s | " +
                  (f"{r['fds']} | {r['rss'] / 1024:.1f} MiB |" if shape != "s6" else "— | — |"),
                  flush=True)


if __name__ == "__main__":
    main()
