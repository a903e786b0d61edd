#!/usr/bin/env python3
"""Containers: start latency against crun, runc and unshare, and the container init's memory
against tini-static and catatonit, side by side in one run (docs/benchmarks.md).

    sudo tests/bench/container_bench.py            # SUPD/SUPCTL as for run.py

Start latency: from the start request to the service's exec, measured by the kernel (the proc
connector's exec event, tests/bench/start-probe.c), ROUNDS (BENCH_START_ROUNDS, 40) times
each, in turns of BENCH_START_CHUNK (5) rounds per runtime so that the load of a shared
machine falls on all alike, for the same container: pid, net, mnt, uts, ipc and cgroup
namespaces, the busybox root of the container tests, Docker's 14 capabilities, no_new_privs and Docker's
seccomp profile (for crun and runc: /usr/share/containers/seccomp.json, turned into OCI form
for those capabilities on x86_64), the same /tmp and /run tmpfs, the device allow-list. The
service is a static program that pauses (bench-svc) and is stopped, untimed, after each round.

- sup: supd (as PID 1 of a pid+mount namespace, like run.py's trees) with the unit already
  loaded; "request": the probe writes the start request on the control socket itself;
  "supctl start": the same through the client (its exec and connect included).
- crun run / runc run: an OCI bundle over the same root, the runtime exec'd by the probe.
  crun refuses this host's hybrid cgroups: it runs in a private mount namespace where
  /sys/fs/cgroup/unified is unmounted (made once per turn, around the probe: not timed), so
  it uses cgroup v1 alone.
- unshare -fpmuin --mount-proc: namespaces only (no root, no cgroup, no capabilities or
  seccomp): the floor.

Memory: INITS (BENCH_INITS, 10) containers each, the PSS (and RSS, private) of each one's
init: sup's container init (sup-init, exec'd from a sealed memfd), tini-static and catatonit as
PID 1 of a pid namespace (`unshare --fork --pid`) over the same service.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import run as bench  # noqa: E402  (the trees, /proc helpers, machine line)

ROUNDS = int(os.environ.get("BENCH_START_ROUNDS", "40"))
CHUNK = int(os.environ.get("BENCH_START_CHUNK", "5"))
INITS = int(os.environ.get("BENCH_INITS", "10"))
SETTLE_MS = 150
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
SECCOMP_JSON = "/usr/share/containers/seccomp.json"
note = bench.note


def oci_seccomp(problems):
    """Docker's profile (containers-common's copy) in OCI form, for DOCKER_CAPS on x86_64."""
    try:
        src = json.load(open(SECCOMP_JSON))
    except OSError as e:
        problems.append(f"{SECCOMP_JSON}: {e}: crun and runc ran WITHOUT seccomp")
        return None
    arches = ("amd64", "x86", "x32")
    rules = []
    for r in src["syscalls"]:
        inc, exc = r.get("includes") or {}, r.get("excludes") or {}
        if inc.get("arches") and not set(inc["arches"]) & set(arches):
            continue
        if inc.get("caps") and not set(inc["caps"]) <= set(DOCKER_CAPS):
            continue
        if set(exc.get("caps") or ()) & set(DOCKER_CAPS) or set(exc.get("arches") or ()) & {"amd64"}:
            continue
        rule = {"names": r["names"], "action": r["action"]}
        for k in ("args", "errnoRet"):
            if r.get(k):
                rule[k] = r[k]
        rules.append(rule)
    out = {"defaultAction": src["defaultAction"], "syscalls": rules,
           "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}
    if src.get("defaultErrnoRet"):
        out["defaultErrnoRet"] = src["defaultErrnoRet"]
    return out


def bundle(d, root, seccomp):
    caps = {k: DOCKER_CAPS for k in ("bounding", "effective", "permitted")}
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]},
    ]
    linux = {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    }
    if seccomp:
        linux["seccomp"] = seccomp
    cfg = {"ociVersion": "1.0.2",
           "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/bench-svc"],
                       "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                       "cwd": "/", "capabilities": caps, "noNewPrivileges": True},
           "root": {"path": root, "readonly": False}, "hostname": "ct", "mounts": mounts,
           "linux": linux}
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def probe(start, stop, rounds, wrap=()):
    """ROUNDS start latencies (ms) of one runtime, and the failures seen."""
    cmd = list(wrap) + [PROBE, str(rounds), "bench-svc", str(SETTLE_MS), "5000", start, stop]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=rounds * 8 + 60)
    lat, bad = [], []
    for line in r.stdout.splitlines():
        rnd, val = line.split()
        if val.isdigit():
            lat.append(int(val) / 1e6)
        else:
            bad.append(f"round {rnd}: {val}")
    # noise: util-linux's unshare when its child dies of SIGKILL; supctl start when the stop
    # comes before it saw the unit up (the exec was measured already)
    err = "\n".join(l for l in r.stderr.splitlines() if "sigprocmask unblock failed" not in l
                    and "stopped before it was up" not in l)
    if r.returncode != 0 or err.strip():
        bad.append(f"probe: exit {r.returncode}: {err.strip()[-500:]}")
    return lat, bad


def report(name, lat, bad):
    s = bench.stats(lat)
    if s:
        note(f"  {name:14} n={s['n']:3} median {s['median']:.3f} ms  p90 {s['p90']:.3f} ms  "
             f"min {s['min']:.3f}  max {s['max']:.3f}" + (f"  FAILURES: {bad}" if bad else ""))
    else:
        note(f"  {name:14} no measurement: {bad}")
    return {"stats": s, "bad": bad}


def crun_wrap():
    """A private mount namespace without the cgroup2 mount: crun uses cgroup v1 alone."""
    unified = "/sys/fs/cgroup/unified"
    if not os.path.ismount(unified):
        return ()
    return ("unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'umount {unified} && exec "$0" "$@"')


def bench_start(tmp, root, problems):
    chunks = max(1, -(-ROUNDS // CHUNK))
    note(f"== start latency: request -> the service's exec, {chunks * CHUNK} rounds each, "
         f"in turns of {CHUNK}")
    d = os.path.join(tmp, "sup")
    os.makedirs(d)
    unit = (f"[Service]\nExec=/bin/bench-svc\nRestart=no\nStartLimitBurst=0\n[Container]\n"
            f"RootDirectory={root}\n")
    t = bench.sup_tree("sup", d, [("ct", None, None)], unit_text=unit).start()
    sock = os.path.join(d, "run", "supd.sock")
    # (key, label, start, stop, wrapper, cleanup): one turn of CHUNK rounds each, in turn,
    # so that a change of the machine's load falls on every runtime alike
    runners = []
    stop = f"{SUPCTL} --socket {sock} stop ct >/dev/null"
    runners.append(("sup", "sup (request)", f"sock:{sock}:ct", stop, (), None))
    runners.append(("sup-ctl", "sup (supctl)", f"{SUPCTL} --socket {sock} start ct", stop, (), None))
    for rt in ("crun", "runc"):
        if not shutil.which(rt):
            problems.append(f"{rt} missing: not measured")
            continue
        state = os.path.join(tmp, rt + "-state")
        name = f"bench-{os.getpid()}"
        runners.append((rt, f"{rt} run",
                        f"{rt} --root {state} run --bundle {os.path.join(tmp, 'bundle')} {name}",
                        f"{rt} --root {state} kill {name} KILL",
                        crun_wrap() if rt == "crun" else (),
                        [rt, "--root", state, "delete", "-f", name]))
    runners.append(("unshare", "unshare", f"unshare -fpmuin --mount-proc {root}/bin/bench-svc",
                    "kill -KILL $SVC_PID", (), None))
    lat = {r[0]: [] for r in runners}
    bad = {r[0]: [] for r in runners}
    try:
        bench.wait_for(lambda: os.path.exists(sock), 10, what="supd's socket")
        for _ in range(chunks):
            for key, _label, start, stop, wrap, cleanup in runners:
                l, b = probe(start, stop, CHUNK, wrap)
                lat[key] += l
                bad[key] += b
                if cleanup:
                    subprocess.run(cleanup, capture_output=True)
        st = subprocess.run([SUPCTL, "--socket", sock, "status", "ct"], capture_output=True,
                            text=True)
        note("  " + (st.stdout + st.stderr).strip().replace("\n", "\n  "))
    finally:
        t.stop(gentle=True)
    return {key: report(label, lat[key], bad[key]) for key, label, *_ in runners}


def pss_of(pids):
    vals = [bench.pss_kib(p) for p in pids]
    return {"n": len(vals), "pss": statistics.median(v[0] for v in vals),
            "uss": statistics.median(v[1] for v in vals), "rss": statistics.median(v[2] for v in vals)}


def bench_inits(tmp, root, problems):
    note(f"== the container init's memory: {INITS} containers each, per init (median)")
    res = {}
    d = os.path.join(tmp, "sup-inits")
    os.makedirs(d)
    unit = f"[Service]\nExec=/bin/bench-svc\n[Container]\nRootDirectory={root}\n"
    t = bench.sup_tree("sup", d, [(f"ct{i}", None, None) for i in range(INITS)],
                       unit_text=unit).start()
    try:
        inits = bench.wait_for(lambda: (lambda ps: len(ps) == INITS and ps)(
            [p for p in t.procs() if bench.comm(p) == "sup-init"]), 20, what="sup's inits")
        time.sleep(1)
        res["sup"] = pss_of(inits)
        res["supd"] = pss_of([t.pid1()])
    finally:
        t.stop(gentle=True)
    svc = os.path.join(root, "bin", "bench-svc")
    for init, argv in (("tini-static", ["tini-static", "--", svc]),
                       ("catatonit", ["catatonit", "--", svc])):
        if not shutil.which(argv[0]):
            problems.append(f"{init} missing: not measured")
            continue
        ps = [subprocess.Popen(["unshare", "--fork", "--pid", "--kill-child"] + argv,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               start_new_session=True) for _ in range(INITS)]
        try:
            pids = bench.wait_for(lambda: (lambda k: len(k) == INITS and k)(
                [c for p in ps for c in bench.children(p.pid)]), 10, what=init)
            bench.wait_for(lambda: all(bench.children(p) for p in pids), 10, what=f"{init}'s services")
            time.sleep(1)
            res[init] = pss_of(pids)
        finally:
            for p in ps:
                p.send_signal(signal.SIGKILL)
                p.wait()
    for k, v in res.items():
        note(f"  {k:12} n={v['n']:3}  PSS {v['pss']:.0f} KiB  private {v['uss']:.0f} KiB  "
             f"RSS {v['rss']:.0f} KiB")
    return res


def table(line, S, M):
    def lat(k):
        s = (S.get(k) or {}).get("stats")
        return f"{bench.ms(s['median'])} / {bench.ms(s['p90'])}" if s else "no data"
    out = [f"Machine: {line}", "",
           "| benchmark | sup | crun | runc | unshare | sup's target | met? |",
           "|---|---|---|---|---|---|---|"]
    sup, crun, uns = ((S.get(k) or {}).get("stats") for k in ("sup", "crun", "unshare"))
    met = ("yes" if sup and crun and sup["median"] <= crun["median"] / 2 else "**no**") \
        if sup and crun else "**no data**"
    out.append(f"| container start, request → service exec, median / p90 | {lat('sup')} | "
               f"{lat('crun')} | {lat('runc')} | {lat('unshare')} | ≤ half of crun's"
               + (f" (≤ {bench.ms(crun['median'] / 2)})" if crun else "") + f"; close to unshare's | {met} |")
    out.append(f"| … sup through `supctl start` (the client's exec and connect included) | "
               f"{lat('sup-ctl')} | | | | | |")

    def mem(k):
        m = M.get(k)
        return f"{m['pss']:.0f} KiB PSS ({m['rss']:.0f} KiB RSS, {m['uss']:.0f} KiB private)" if m else "no data"
    out += ["", "| the container init, per container (median of each one's) | sup-init | tini-static | catatonit |",
            "|---|---|---|---|",
            f"| {INITS} containers | {mem('sup')} | {mem('tini-static')} | {mem('catatonit')} |"]
    return "\n".join(out)


def main():
    global PROBE, SUPD, SUPCTL
    if os.geteuid() != 0:
        sys.exit("run as root (namespaces, the proc connector)")
    SUPD, SUPCTL = bench.find_bin("SUPD", "supd"), bench.find_bin("SUPCTL", "supctl")
    if not SUPD or not SUPCTL:
        sys.exit("supd/supctl not found: set SUPD and SUPCTL, or BUILD_DIR")
    bench.SUPD, bench.SUPCTL = SUPD, SUPCTL
    import roots
    tmp = tempfile.mkdtemp(prefix="sup-ctbench.")
    problems = []
    try:
        root = os.path.join(tmp, "root")
        shutil.copytree(roots.busybox(), root, symlinks=True)
        subprocess.run(["cc", "-O2", "-static", "-o", os.path.join(root, "bin", "bench-svc"),
                        os.path.join(HERE, "svc-bench.c")], check=True)
        PROBE = os.path.join(tmp, "start-probe")
        subprocess.run(["cc", "-O2", "-Wall", "-o", PROBE, os.path.join(HERE, "start-probe.c")],
                       check=True)
        bundle(os.path.join(tmp, "bundle"), root, oci_seccomp(problems))
        line = bench.machine() + "; " + ", ".join(
            f"{p} {subprocess.run(['dpkg-query', '-W', '-f=${Version}', p], capture_output=True, text=True).stdout.strip() or '?'}"
            for p in ("crun", "runc", "catatonit", "util-linux"))
        note(f"machine: {line}")
        S = bench_start(tmp, root, problems)
        M = bench_inits(tmp, root, problems)
    finally:
        for t in list(bench.LIVE):
            t.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(line, S, M))
    for k, v in S.items():
        if v.get("bad"):
            problems.append(f"{k}: {v['bad']}")
    if problems:
        print("\nProblems seen:\n")
        for p in problems:
            print(f"- {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
