#!/usr/bin/env python3
"""Cost of cgroup stats with 100 running units: `sudo tests/bench/stats_bench.py [UNITS]`.

One supd (PID 1 of a fresh pid+mount namespace, the host's network namespace) with UNITS
(default 100) units, each `sleep`, and `[Metrics] Listen=127.0.0.1:PORT`. In the same run:

  a. one whole `supctl stats --json` command (fork+exec of supctl, connect, request, reply,
     JSON printed), wall time, median of RUNS (30);
  b. one GET /metrics over HTTP on a fresh TCP connection, wall time, median of RUNS;
  c. a shell loop reading the same cgroup files with cat, one `sh -c` for all the units, wall
     time, median of RUNS;
  d. supd's idle wakeups over IDLE_S (10 s): voluntary + nonvoluntary context switches from
     /proc/PID/status (supd is the child of the unshare process).

Also, for reference: `supctl version` (a supctl command that reads no cgroup file: the fixed
cost of running supctl) and the `stats` request alone over the control socket from this
process (supd's own share). SUPD/SUPCTL point at the binaries (default: $BUILD_DIR, then
build/ and build-*/ of this tree). Prints a markdown table on stdout, progress on stderr.
"""

import glob
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUNS = int(os.environ.get("BENCH_RUNS", "30"))
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "10"))
UNSHARE = ["unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc"]

# the files supd reads per unit (spawner/cgroup_v1.c v1_stats, cgroup_v2.c on v2)
V1_FILES = {
    "cpuacct": ["cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys"],
    "memory": ["memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.oom_control"],
    "pids": ["pids.current"],
    "blkio": ["blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"],
}
V2_FILES = ["cpu.stat", "memory.current", "memory.peak", "memory.events", "pids.current",
            "io.stat", "cpu.pressure", "memory.pressure", "io.pressure"]


def note(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def find_bin(env, name):
    if os.environ.get(env):
        return os.path.abspath(os.environ[env])
    dirs = [os.environ["BUILD_DIR"]] if os.environ.get("BUILD_DIR") else []
    dirs += [os.path.join(ROOT, "build")] + sorted(glob.glob(os.path.join(ROOT, "build-*")))
    for d in dirs:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return os.path.abspath(p)
    return shutil.which(name)


def wait_for(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def ctxsw(pid):
    v = n = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                v = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                n = int(line.split()[1])
    return v, n


def timed(fn, runs=RUNS):
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    xs.sort()
    return {"median": statistics.median(xs), "min": xs[0], "max": xs[-1],
            "p90": xs[min(len(xs) - 1, int(round(0.9 * len(xs))) - 1)]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control_request(path, req):
    """One request over the control socket (4-byte big-endian length + JSON); the reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(path)
        body = json.dumps(req).encode()
        c.sendall(struct.pack(">I", len(body)) + body)
        buf = b""
        while len(buf) < 4:
            buf += c.recv(65536)
        n = struct.unpack(">I", buf[:4])[0]
        while len(buf) < 4 + n:
            chunk = c.recv(1 << 20)
            if not chunk:
                raise RuntimeError("control socket closed")
            buf += chunk
        return json.loads(buf[4:4 + n])


def http_get(port):
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while True:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"scrape: {data[:100]!r}")
    return data


def unit_cgroup_dirs(supd_pid):
    """The cgroup directories of each unit, from its main process's /proc/PID/cgroup."""
    dirs = []
    for kid in children(supd_pid):
        with open(f"/proc/{kid}/cgroup") as f:
            lines = [l.rstrip("\n").split(":", 2) for l in f]
        d = {}
        for _, ctrls, path in lines:
            for ctrl in ctrls.split(","):
                d[ctrl or "unified"] = path
        dirs.append(d)
    return dirs


def cat_script(dirs):
    """One shell loop over the units, catting the files supd reads for each."""
    words = []
    for d in dirs:
        if "cpuacct" in d or "memory" in d:  # v1 / hybrid
            files = []
            for ctrl, names in V1_FILES.items():
                mnt = next((m for m in glob.glob(f"/sys/fs/cgroup/*{ctrl}*")
                            if os.path.isdir(m) and ctrl in os.path.basename(m).split(",")), None)
                if mnt and ctrl in d:
                    files += [f"{mnt}{d[ctrl]}/{n}" for n in names]
        else:
            files = [f"/sys/fs/cgroup{d['unified']}/{n}" for n in V2_FILES]
        files = [f for f in files if os.path.exists(f)]
        words.append("'" + " ".join(files) + "'")
    return "for u in " + " ".join(words) + "; do cat $u; done >/dev/null", sum(
        len(w.split()) for w in words)


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: sudo tests/bench/stats_bench.py")
    n_units = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    supd, supctl = find_bin("SUPD", "supd"), find_bin("SUPCTL", "supctl")
    if not supd or not supctl:
        sys.exit("supd/supctl not found: set SUPD and SUPCTL, or BUILD_DIR")
    tmp = tempfile.mkdtemp(prefix="sup-stats-bench-")
    units = os.path.join(tmp, "units")
    os.makedirs(units)
    for i in range(n_units):
        with open(os.path.join(units, f"u{i:03d}.unit"), "w") as f:
            f.write("[Service]\nExec=/bin/sleep 100000\n")
    port = free_port()
    with open(os.path.join(tmp, "supd.conf"), "w") as f:
        f.write(f"[Metrics]\nListen=127.0.0.1:{port}\n")
    sock = os.path.join(tmp, "run", "supd.sock")
    logf = open(os.path.join(tmp, "supd.log"), "wb")
    proc = subprocess.Popen(UNSHARE + [supd, "--units", units, "--run-dir", os.path.join(tmp, "run"),
                                       "--state-dir", os.path.join(tmp, "state"), "--config",
                                       os.path.join(tmp, "supd.conf"), "--log-level", "warning"],
                            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    ctl = [supctl, "--socket", sock]
    try:
        pid = wait_for(lambda: (children(proc.pid) or [None])[0], 10, "supd's pid")

        def all_running():
            r = subprocess.run(ctl + ["status", "--json"], capture_output=True, text=True)
            if r.returncode:
                return False
            st = json.loads(r.stdout)
            return len(st) == n_units and all(u["state"] == "running" for u in st)
        wait_for(all_running, 60, f"{n_units} units running")
        note(f"supd pid {pid}, {n_units} units running")
        time.sleep(1)

        # d. idle wakeups first, with nothing else going on
        v0, n0 = ctxsw(pid)
        time.sleep(IDLE_S)
        v1, n1 = ctxsw(pid)
        idle = (v1 - v0, n1 - n0)
        note(f"idle over {IDLE_S:.0f} s: {idle[0]} voluntary + {idle[1]} nonvoluntary")

        stats_json = subprocess.run(ctl + ["stats", "--json"], capture_output=True, text=True,
                                    check=True).stdout
        check_units = json.loads(stats_json)
        assert len(check_units) == n_units and all(u["cgroup"] for u in check_units), \
            "every unit has a cgroup"
        dirs = unit_cgroup_dirs(pid)
        script, n_files = cat_script(dirs)
        assert len(dirs) == n_units, f"{len(dirs)} unit processes"
        backend = "cgroup v1" if "cpuacct" in dirs[0] or "memory" in dirs[0] else "cgroup v2"

        rows = []
        # interleave the measurements so that a change in machine load hits them all
        res = {k: [] for k in ("version", "stats", "stats_req", "metrics_req", "http", "cat")}
        fns = {
            "version": lambda: subprocess.run(ctl + ["version"], stdout=subprocess.DEVNULL, check=True),
            "stats": lambda: subprocess.run(ctl + ["stats", "--json"], stdout=subprocess.DEVNULL, check=True),
            "stats_req": lambda: control_request(sock, {"v": 1, "cmd": "stats"}),
            "metrics_req": lambda: control_request(sock, {"v": 1, "cmd": "metrics"}),
            "http": lambda: http_get(port),
            "cat": lambda: subprocess.run(["sh", "-c", script], check=True),
        }
        for _ in range(RUNS):
            for k, fn in fns.items():
                res[k].append(timed(fn, 1)["median"])
        for k in res:
            xs = sorted(res[k])
            res[k] = {"median": statistics.median(xs), "min": xs[0], "max": xs[-1]}
            note(f"{k}: median {res[k]['median']:.2f} ms (min {xs[0]:.2f}, max {xs[-1]:.2f})")
        body = http_get(port)
        time.sleep(1)  # the last connection's close reaches supd
        v2, n2 = ctxsw(pid)
        time.sleep(IDLE_S)
        v3, n3 = ctxsw(pid)
        idle_after = (v3 - v2, n3 - n2)
        note(f"idle over {IDLE_S:.0f} s after the scrapes: {idle_after[0]} + {idle_after[1]}")

        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip() or "?"
        print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}; nproc {os.cpu_count()}, kernel "
              f"{platform.release()}, CPU {cpu}; load average {load}; sup {rev}; "
              f"{n_units} units (`sleep`), {backend}; medians of {RUNS}, wall time")
        print()
        print("| what | median | min | max |")
        print("|---|---|---|---|")
        label = {
            "stats": f"(a) `supctl stats --json`, whole command, {n_units} units "
                     f"({len(stats_json)} bytes of JSON)",
            "http": f"(b) GET /metrics over HTTP, fresh connection ({len(body)} bytes)",
            "cat": f"(c) `sh -c` loop, `cat` of the same cgroup files ({n_files} files, "
                   f"{n_units} cats)",
            "version": "`supctl version` (supctl's fixed cost, no cgroup file read)",
            "stats_req": "`stats` request alone over the control socket (from Python)",
            "metrics_req": "`metrics` request alone over the control socket (from Python)",
        }
        for k in ("stats", "http", "cat", "version", "stats_req", "metrics_req"):
            r = res[k]
            print(f"| {label[k]} | {r['median']:.2f} ms | {r['min']:.2f} ms | {r['max']:.2f} ms |")
        print(f"| (d) supd idle wakeups over {IDLE_S:.0f} s, {n_units} units (voluntary + "
              f"nonvoluntary) | {sum(idle)} ({idle[0]} + {idle[1]}); after the scrapes: "
              f"{sum(idle_after)} | | |")
        target = res["stats"]["median"] < 5.0
        print()
        print(f"Target `supctl stats --json` over {n_units} units < 5 ms: "
              f"{'met' if target else 'MISSED'} ({res['stats']['median']:.2f} ms); "
              f"idle 0 wakeups: {'met' if sum(idle) == 0 and sum(idle_after) == 0 else 'MISSED'}")
    finally:
        try:
            kids = children(proc.pid)
            if kids:
                os.kill(kids[0], signal.SIGTERM)
            proc.wait(timeout=30)
        except Exception:
            proc.kill()
            proc.wait()
        logf.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
