#!/usr/bin/env python3
"""sup's benchmarks, side by side with s6, runit and tini, in one run.

Run as root: `sudo tests/bench/run.sh` (SUPD/SUPCTL point at the binaries; default: look in
$BUILD_DIR, then build/ and build-*/ of this tree). Prints the machine, the raw
figures as it goes (stderr), and a markdown table (stdout). See docs/benchmarks.md.

Every supervisor runs as PID 1 of a fresh pid+mount namespace (`unshare --pid --mount --fork
--kill-child --mount-proc`) under a temp dir made here; everything is killed and removed at
the end, whatever happens. Every wait is bounded.
"""

import glob
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

KILLS = int(os.environ.get("BENCH_KILLS", "30"))       # kills per supervisor (restart latency)
GAP_MS = 1500  # kill >= 1.5 s after the last exec: outside runsv's and s6-supervise's 1 s hold-back
SERVICES = int(os.environ.get("BENCH_SERVICES", "100"))
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "10"))
ORPHANS = int(os.environ.get("BENCH_ORPHANS", "10000"))
ORPHAN_RUNS = int(os.environ.get("BENCH_ORPHAN_RUNS", "7"))

UNSHARE = ["unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc"]


def note(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Problem(Exception):
    pass


def wait_for(fn, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Problem(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- /proc helpers

def children(pid):
    try:
        out = []
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
        return out
    except (FileNotFoundError, ProcessLookupError):
        return []


def descendants(pid):
    out, todo = [], children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError):
        return None


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def pss_kib(pid):
    """(Pss, Private_Clean+Private_Dirty, Rss) in KiB from smaps_rollup."""
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                vals[m.group(1)] = int(m.group(2))
    return vals["Pss"], vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0), vals["Rss"]


def ctxsw(pid):
    v = n = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                v = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                n = int(line.split()[1])
    return v + n


# ---------------------------------------------------------------- supervision trees

class Tree:
    """One supervisor as PID 1 of a fresh pid+mount namespace."""

    def __init__(self, name, workdir, cmd, env=None):
        self.name, self.dir, self.cmd = name, workdir, cmd
        self.env = env
        self.proc = None
        self.log_path = os.path.join(workdir, "pid1.log")

    def start(self):
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(UNSHARE + self.cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.dir,
                                     start_new_session=True)
        LIVE.append(self)
        return self

    def pid1(self):
        kids = children(self.proc.pid)
        return kids[0] if kids else None

    def wait_pid1(self):
        return wait_for(self.pid1, 5, what=f"{self.name}'s PID 1")

    def procs(self):
        p1 = self.pid1()
        return [p1] + descendants(p1) if p1 else []

    def running(self, exe_path):
        return [p for p in self.procs() if exe(p) == exe_path]

    def exited(self):
        return self.proc.poll() is not None

    def stop(self, gentle=False, timeout=10):
        """Stop the tree; with gentle, SIGTERM PID 1 first and report whether it exited."""
        ok = None
        if self.proc and self.proc.poll() is None and gentle:
            p1 = self.pid1()
            if p1:
                os.kill(p1, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                    ok = True
                except subprocess.TimeoutExpired:
                    ok = False
        if self.proc and self.proc.poll() is None:
            # SIGKILL the namespace's PID 1 (which ends the namespace) and let unshare reap it
            p1 = self.pid1()
            if p1:
                try:
                    os.kill(p1, signal.SIGKILL)
                    self.proc.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        if self.proc and self.proc.poll() is None:
            # unshare --kill-child: its death SIGKILLs the namespace's PID 1 too
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.proc:
            self.logf.close()
        if self in LIVE:
            LIVE.remove(self)
        return ok

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


LIVE = []


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def sup_tree(name, d, services, extra_service_keys="", unit_text=None):
    """supd with one unit per (unit name, exe path, args)."""
    units = os.path.join(d, "units")
    os.makedirs(units)
    for uname, path, args in services:
        text = unit_text or ("[Service]\nExec=%s%s\n%s" % (path, "".join(" " + a for a in args),
                                                           extra_service_keys))
        write(os.path.join(units, uname + ".unit"), text)
    env = dict(os.environ)
    env.pop("BENCH_READY_FD", None)
    env["PATH"] = os.path.dirname(SUPD) + ":" + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    # favordynmods: without it each cgroup attach (every spawn on cgroup v1) waits out an RCU
    # grace period, ~10 ms (docs/cgroups.md); it is machine-wide, so the peers run with it too
    conf = os.path.join(d, "supd.conf")
    write(conf, "[Cgroup]\nFavorDynMods=yes\n")
    return Tree(name, d, [SUPD, "--units", units, "--run-dir", os.path.join(d, "run"),
                          "--state-dir", os.path.join(d, "state"), "--config", conf], env=env)


def peer_tree(kind, name, d, services, direct=False):
    """s6-svscan or runsvdir over one service dir per (dir name, exe path).

    direct=False: ./run is `#!/bin/sh` + `exec SERVICE` (the usual run script);
    direct=True: ./run is the service binary itself (exe path must then be DIR/NAME/run).
    s6: each service dir gets notification-fd (3) and svc-bench reports readiness on it
    (BENCH_READY_FD): without readiness, s6-supervise 2.11 always waits 1 s after a death."""
    scan = os.path.join(d, "scan")
    os.makedirs(scan)
    for sname, path, _ in services:
        sd = os.path.join(scan, sname)
        os.makedirs(sd)
        if direct:
            assert path == os.path.join(sd, "run")
            shutil.copy2(SVC, path)
        else:
            write(os.path.join(sd, "run"), "#!/bin/sh\nexec %s\n" % path, 0o755)
        if kind == "s6":
            write(os.path.join(sd, "notification-fd"), "3\n")
    env = dict(os.environ)
    env.pop("BENCH_READY_FD", None)
    if kind == "s6":
        env["BENCH_READY_FD"] = "3"
        cmd = ["s6-svscan", scan]
    else:
        cmd = ["runsvdir", scan]
    return Tree(name, d, cmd, env=env)


# ---------------------------------------------------------------- benchmarks

def stats(xs):
    xs = sorted(xs)
    if not xs:
        return None
    p90 = xs[min(len(xs) - 1, max(0, int(round(0.9 * len(xs))) - 1))]
    return {"n": len(xs), "median": statistics.median(xs), "p90": p90, "min": xs[0], "max": xs[-1]}


def bench_restart(tmp):
    note(f"== restart latency: {KILLS} kills each, >= {GAP_MS} ms apart per service")
    base = os.path.join(tmp, "restart")
    trees, targets = [], []

    def svc_copy(d):
        p = os.path.join(d, "svc-bench")
        shutil.copy2(SVC, p)
        return p

    if SUPD:
        d = os.path.join(base, "sup"); os.makedirs(d)
        p = svc_copy(d)
        # RestartSec=0 doubles from a microsecond while runs are shorter than RestartMaxSec=
        # (a crash loop backs off); the kills come >= 1.5 s apart, so a 1 s cap restarts each
        # at once, as the peers do (s6-supervise and runsv hold back only runs under 1 s)
        trees.append(sup_tree("sup", d, [("svc", p, [])],
                              "Restart=always\nRestartSec=0\nRestartMaxSec=1s\n"
                              "StartLimitBurst=0\n"))
        targets.append(("sup", p))
    for kind in ("s6", "runit"):
        d = os.path.join(base, kind); os.makedirs(d)
        p = svc_copy(d)
        trees.append(peer_tree(kind, kind, d, [("svc", p, None)]))
        targets.append((kind, p))
        d = os.path.join(base, kind + "-direct"); os.makedirs(d)
        p = os.path.join(d, "scan", "svc", "run")
        trees.append(peer_tree(kind, kind + "-direct", d, [("svc", p, None)], direct=True))
        targets.append((kind + "-direct", p))
    res = {}
    try:
        for t in trees:
            t.start()
        for t, (name, path) in list(zip(trees, targets)):
            try:
                wait_for(lambda: t.running(path) or t.exited(), 10, what=f"{name}'s service")
                if t.exited():
                    raise Problem(f"PID 1 exited (status {t.proc.returncode})")
            except Problem as e:  # measure the others anyway
                msg = f"restart: {name}: {e}; PID 1 log: {t.log()[-2000:]}"
                note("  " + msg)
                res.setdefault("problems", []).append(msg)
                targets.remove((name, path))
        if not targets:
            return res
        time.sleep(1.5)  # first kill outside every throttle window
        probe = [os.path.join(BIN, "restart-probe"), str(KILLS), str(GAP_MS), "100", "5000"]
        probe += [f"{n}={p}" for n, p in targets]
        budget = KILLS * (GAP_MS / 1000 + 0.2 * len(targets)) + 60
        r = subprocess.run(probe, capture_output=True, text=True, timeout=budget)
        if r.stderr.strip():
            note(r.stderr.strip())
        if r.returncode != 0:
            raise Problem(f"restart-probe exited {r.returncode}: {r.stderr}")
        lat = {n: [] for n, _ in targets}
        bad = {n: [] for n, _ in targets}
        for line in r.stdout.splitlines():
            name, rnd, val = line.split()
            if val.isdigit():
                lat[name].append(int(val) / 1e6)
            else:
                bad[name].append(f"round {rnd}: {val}")
        for name, _ in targets:
            s = stats(lat[name])
            res[name] = {"stats": s, "bad": bad[name], "raw": lat[name]}
            if s:
                note(f"  {name:13} n={s['n']:3} median {s['median']:.3f} ms  p90 {s['p90']:.3f} ms"
                     f"  min {s['min']:.3f}  max {s['max']:.3f}" +
                     (f"  FAILURES: {bad[name]}" if bad[name] else ""))
            else:
                note(f"  {name:13} no measurement: {bad[name]}")
        if SUPD and targets[0][0] == "sup":  # sup's own view of the same run, for the record
            st = subprocess.run([SUPCTL, "--socket", os.path.join(trees[0].dir, "run", "supd.sock"),
                                 "status", "svc"], capture_output=True, text=True, timeout=10)
            res["sup_status"] = (st.stdout + st.stderr).strip()
            note("  supctl status svc after the kills:\n    " + res["sup_status"].replace("\n", "\n    "))
    finally:
        for t in trees:
            ok = t.stop(gentle=t.name == "sup")
            if ok is False:
                res["sup_stop_problem"] = "supd did not exit within 10 s of SIGTERM"
            if t.name == "sup":
                res["sup_log_tail"] = t.log()[-3000:]
    return res


def bench_tree(tmp):
    note(f"== memory (PSS) and idle wakeups ({IDLE_S:g} s) with {SERVICES} services each")
    base = os.path.join(tmp, "tree")
    setups = []  # (name, tree, svc path, supervisor-process filter)
    for name, keys in (("sup", ""), ("sup-nolog", "StandardOutput=null\nStandardError=null\n")):
        if not SUPD:
            break
        d = os.path.join(base, name); os.makedirs(d)
        p = os.path.join(d, "svc-bench"); shutil.copy2(SVC, p)
        svcs = [("svc%03d" % i, p, []) for i in range(SERVICES)]
        setups.append((name, sup_tree(name, d, svcs, keys), p, "supd"))
    for kind, sup_comm in (("s6", ("s6-svscan", "s6-supervise")), ("runit", ("runsvdir", "runsv"))):
        d = os.path.join(base, kind); os.makedirs(d)
        p = os.path.join(d, "svc-bench"); shutil.copy2(SVC, p)
        svcs = [("svc%03d" % i, p, None) for i in range(SERVICES)]
        setups.append((kind, peer_tree(kind, kind, d, svcs), p, sup_comm))
    res = {}
    try:
        for _, t, _, _ in setups:
            t.start()
        for name, t, p, w in list(setups):
            try:
                wait_for(lambda: len(t.running(p)) == SERVICES or t.exited(), 30, interval=0.2,
                         what=f"{SERVICES} services of {name}")
                if t.exited():
                    raise Problem(f"PID 1 exited (status {t.proc.returncode})")
            except Problem as e:  # measure the others anyway
                msg = (f"tree: {name}: {e} (running: {len(t.running(p))}); "
                       f"PID 1 log: {t.log()[-2000:]}")
                note("  " + msg)
                res.setdefault("problems", []).append(msg)
                setups.remove((name, t, p, w))
                t.stop()
        time.sleep(2)  # let start-up settle

        def supervisors(name, t, want):
            want = (want,) if isinstance(want, str) else want
            ps = [p for p in t.procs() if comm(p) in want]
            if name.startswith("sup"):
                ps = [t.pid1()]  # supd alone: its children are the services
            return sorted(ps)

        sets = {name: supervisors(name, t, w) for name, t, _, w in setups}
        for name, ps in sets.items():
            pss = priv = rss = 0
            for pid in ps:
                a, b, c = pss_kib(pid)
                pss += a; priv += b; rss += c
            res[name] = {"procs": len(ps), "pss_kib": pss, "uss_kib": priv, "rss_kib": rss}
            note(f"  {name:10} {len(ps):3} processes  PSS {pss / 1024:.2f} MiB  "
                 f"private {priv / 1024:.2f} MiB  RSS {rss / 1024:.2f} MiB")
        before = {name: {pid: ctxsw(pid) for pid in ps} for name, ps in sets.items()}
        time.sleep(IDLE_S)
        for name, ps in sets.items():
            after = {pid: ctxsw(pid) for pid in ps}
            by_comm = {}
            for pid in ps:
                c = comm(pid)
                by_comm[c] = by_comm.get(c, 0) + after[pid] - before[name][pid]
            total = sum(by_comm.values())
            now = sorted(supervisors(name, [t for n, t, _, _ in setups if n == name][0],
                                     [w for n, _, _, w in setups if n == name][0]))
            res[name]["idle_ctxsw"] = total
            res[name]["idle_by_comm"] = by_comm
            res[name]["idle_stable"] = now == ps
            note(f"  {name:10} context switches in {IDLE_S:g} s: {total}  {by_comm}"
                 + ("" if now == ps else "  (process set changed!)"))
    finally:
        for name, t, _, _ in setups:
            ok = t.stop(gentle=name.startswith("sup"))
            if ok is False:
                res.setdefault("problems", []).append(f"{name}: supd did not exit within 10 s of SIGTERM")
    return res


def bench_orphans(tmp):
    note(f"== reaping {ORPHANS} orphans as PID 1, {ORPHAN_RUNS} runs each (alternating)")
    base = os.path.join(tmp, "orphans")
    storm = os.path.join(BIN, "orphan-storm")
    res = {"sup": [], "tini": [], "problems": []}
    for i in range(ORPHAN_RUNS):
        for who in ("tini", "sup") if SUPD else ("tini",):
            d = os.path.join(base, f"{who}{i}"); os.makedirs(d)
            out = os.path.join(d, "result")
            if who == "tini":
                t = Tree("tini", d, ["tini", "-s", "--", storm, str(ORPHANS), out])
            else:
                t = sup_tree("sup", d, [("storm", storm, [str(ORPHANS), out])],
                             "Restart=no\nExitWithUnit=yes\n")
            t.start()
            try:
                try:
                    def done():
                        if os.path.exists(out) and open(out).read().endswith("\n"):
                            return True
                        if t.exited() and not os.path.exists(out):
                            raise Problem(f"PID 1 exited (status {t.proc.returncode}) without a result")
                        return False
                    wait_for(done, 90, interval=0.05, what=f"{who}'s orphan-storm result")
                except Problem as e:
                    res["problems"].append(f"{who} run {i}: {e}; PID 1 log: {t.log()[-1500:]}")
                    note(f"  {who} run {i}: {e}")
                    continue
                line = open(out).read().strip()
                if line.startswith("error"):
                    res["problems"].append(f"{who} run {i}: {line}")
                    note(f"  {who} run {i}: {line}")
                    continue
                n, total, fork, reap, cpu = line.split()
                res[who].append((float(total), float(fork), float(reap), float(cpu)))
                note(f"  {who:4} run {i}: total {float(total):8.1f} ms  (forking {float(fork):7.1f}"
                     f" ms, orphaning -> no zombie left {float(reap):7.1f} ms)  "
                     f"PID 1 CPU {float(cpu):6.1f} ms")
                # the entrypoint case: PID 1 should now end by itself (tini always does)
                try:
                    wait_for(t.exited, 10, what=f"{who} to exit after its service ended")
                except Problem as e:
                    res["problems"].append(f"{who} run {i}: {e}")
                    note(f"  {who} run {i}: {e}")
            finally:
                t.stop()
    return res


# ---------------------------------------------------------------- main

def find_bin(env, name):
    if os.environ.get(env):
        return os.path.abspath(os.environ[env])
    dirs = []
    if os.environ.get("BUILD_DIR"):
        dirs.append(os.environ["BUILD_DIR"])
    dirs += [os.path.join(ROOT, "build")] + sorted(glob.glob(os.path.join(ROOT, "build-*")))
    for d in dirs:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return os.path.abspath(p)
    return shutil.which(name)


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024 // 1024
    vers = []
    for pkg in ("s6", "runit", "tini"):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        vers.append(f"{pkg} {r.stdout.strip() or '?'}")
    rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                         text=True).stdout.strip() or "?"
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}; nproc {os.cpu_count()}, kernel {platform.release()}, "
            f"CPU {cpu}, {mem} GiB; {', '.join(vers)}; sup {rev} ({SUPD}); CPUs {quiet():.0f}% busy in the second before the run")


def quiet(limit=30.0, wait_s=60):
    """Wait (at most wait_s) for the machine to be less than limit % busy; the last figure."""
    deadline = time.monotonic() + wait_s
    b = busy()
    if b >= limit:
        note(f"(CPUs {b:.0f}% busy: waiting up to {wait_s} s for them to be under {limit:.0f}%)")
    while b >= limit and time.monotonic() < deadline:
        b = busy()
    return b


def busy(secs=1.0):
    """Share of all CPUs' time not idle over secs: how much else runs on the machine."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = sample()
    time.sleep(secs)
    t1, i1 = sample()
    return 100.0 * (1 - (i1 - i0) / max(1, t1 - t0))


def ms(x):
    return f"{x:.2f} ms" if x >= 1 else f"{x * 1000:.0f} µs"


def table(machine_line, R, O, M):
    out = [f"Machine: {machine_line}", ""]
    out.append("| benchmark | sup | s6 | runit | tini | sup's target | met? |")
    out.append("|---|---|---|---|---|---|---|")

    def lat(name):
        r = R.get(name)
        if not r or not r["stats"]:
            return "no data"
        s = r["stats"]
        txt = f"{ms(s['median'])} / {ms(s['p90'])}"
        if r["bad"]:
            txt += f" ({len(r['bad'])} of {KILLS} failed)"
        return txt

    if R:
        sup = R.get("sup", {}).get("stats")
        peers = [R.get(k, {}).get("stats") for k in ("s6", "runit")]
        if sup and all(peers):
            limit = min(p["median"] for p in peers) / 2
            met = "yes" if sup["median"] <= limit else "**no**"
            if R["sup"]["bad"]:
                met = "**no** (restarts failed)"
        else:
            limit, met = None, "**no data**"
        out.append(f"| restart latency, median / p90 (kill -9 → new exec; peers: `run` = sh script "
                   f"that `exec`s the service) | {lat('sup')} | {lat('s6')} | {lat('runit')} | — | "
                   f"median ≤ half of s6's and runit's" + (f" (≤ {ms(limit)})" if limit else "") +
                   f" | {met} |")
        sd = [R.get(k, {}).get("stats") for k in ("s6-direct", "runit-direct")]
        if sup and all(sd):
            limit2 = min(p["median"] for p in sd) / 2
            met2 = "yes" if sup["median"] <= limit2 else "**no**"
        else:
            limit2, met2 = None, "—"
        out.append(f"| restart latency, median / p90 (peers: `run` is the service binary itself, "
                   f"no shell) | {lat('sup')} | {lat('s6-direct')} | {lat('runit-direct')} | — | "
                   f"(same target, stricter setup" + (f": ≤ {ms(limit2)}" if limit2 else "") +
                   f") | {met2} |")
    if M:
        def mem(n):
            m = M.get(n)
            return f"{m['pss_kib'] / 1024:.2f} MiB ({m['procs']} proc.)" if m else "no data"
        sup = M.get("sup")
        met = ("yes" if sup["pss_kib"] <= 1.5 * 1024 else "**no**") if sup else "**no data**"
        out.append(f"| PSS of the supervision tree, {SERVICES} services (services excluded) | "
                   f"{mem('sup')} | {mem('s6')} | {mem('runit')} | — | ≤ 1.5 MiB | {met} |")
        if M.get("sup-nolog"):
            out.append(f"| … same, sup with StandardOutput=null, StandardError=null | "
                       f"{mem('sup-nolog')} | | | — | | |")

        def idle(n):
            m = M.get(n)
            return str(m["idle_ctxsw"]) if m and "idle_ctxsw" in m else "no data"
        met = ("yes" if sup.get("idle_ctxsw") == 0 else "**no**") if sup else "**no data**"
        out.append(f"| idle context switches (vol.+invol.) in {IDLE_S:g} s, {SERVICES} services | "
                   f"{idle('sup')} | {idle('s6')} | {idle('runit')} | — | 0 | {met} |")
    if O:
        def orph(n):
            xs = O.get(n) or []
            if not xs:
                return "no data"
            tot = statistics.median(x[0] for x in xs)
            reap = statistics.median(x[2] for x in xs)
            cpu = statistics.median(x[3] for x in xs)
            txt = (f"{tot:.0f} ms (range {min(x[0] for x in xs):.0f}–{max(x[0] for x in xs):.0f}); "
                   f"orphaning → none left {reap:.0f} ms; PID 1 CPU {cpu:.0f} ms")
            if len(xs) < ORPHAN_RUNS:
                txt += f" ({ORPHAN_RUNS - len(xs)} of {ORPHAN_RUNS} runs failed)"
            return txt
        out.append(f"| reap {ORPHANS} orphans as PID 1: first fork → no zombie left, median of "
                   f"{ORPHAN_RUNS} runs | {orph('sup')} | — | — | {orph('tini')} | (none set) | — |")
    return "\n".join(out)


def main():
    global SUPD, SUPCTL, BIN, SVC
    if os.geteuid() != 0:
        sys.exit("run as root (namespaces, the proc connector)")
    for tool in ("unshare", "s6-svscan", "s6-supervise", "runsvdir", "runsv", "tini", "cc"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: run scripts/deps.sh (Debian packages s6, runit, tini, gcc)")
    SUPD = find_bin("SUPD", "supd")
    SUPCTL = find_bin("SUPCTL", "supctl")
    if SUPD and not os.environ.get("SUPCTL") and os.access(os.path.join(os.path.dirname(SUPD), "supctl"), os.X_OK):
        SUPCTL = os.path.join(os.path.dirname(SUPD), "supctl")  # from the same build as supd
    if not SUPD or not SUPCTL:
        note("supd/supctl not found (set SUPD and SUPCTL, or BUILD_DIR): measuring the peers only")
    tmp = tempfile.mkdtemp(prefix="sup-bench.")
    BIN = os.path.join(tmp, "bin")
    os.makedirs(BIN)
    for prog in ("svc-bench", "restart-probe", "orphan-storm"):
        subprocess.run(["cc", "-O2", "-Wall", "-o", os.path.join(BIN, prog),
                        os.path.join(HERE, prog + ".c")], check=True)
    SVC = os.path.join(BIN, "svc-bench")
    line = machine()
    note(f"machine: {line}")
    only = set(sys.argv[1:])  # restart, tree, orphans (default: all)
    R, M, O = {}, {}, {}
    problems = [] if SUPD and SUPCTL else ["supd/supctl not found: sup was not measured"]
    start = time.monotonic()
    try:
        for key, fn in (("restart", bench_restart), ("tree", bench_tree), ("orphans", bench_orphans)):
            if only and key not in only:
                continue
            try:
                r = fn(tmp)
            except (Problem, subprocess.TimeoutExpired) as e:
                problems.append(f"{key}: {e}")
                note(f"  {key}: FAILED: {e}")
                continue
            if key == "restart":
                R = r
            elif key == "tree":
                M = r
            else:
                O = r
    finally:
        for t in list(LIVE):
            t.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    note(f"(total {time.monotonic() - start:.0f} s)")
    print(table(line, R, O, M))
    print(f"\nCPUs {busy():.0f}% busy in the second after the run (other work on the machine makes "
          f"the timings noisier).")
    for k in ("sup_stop_problem",):
        if R.get(k):
            problems.append(R[k])
    problems += R.get("problems", []) + M.get("problems", []) + O.get("problems", [])
    for name in ("sup",):
        if R.get(name, {}).get("bad"):
            problems.append(f"restart: {name}: {R[name]['bad']}")
            problems.append(f"supctl status: {R.get('sup_status')}")
            problems.append(f"supd log tail: {R.get('sup_log_tail')}")
    if problems:
        print("\nProblems seen:\n")
        for p in problems:
            print(f"- {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
