"""Fault injection: supd out of file descriptors, out of memory (allocations failing through a
shim), with its log and state directories full, with its wall clock jumping. Each time supd
reports what failed, carries on, and is whole again once the fault is gone."""

import mmap
import os
import socket
import struct
import subprocess
import threading
import time

from harness import IN_CI, Supd, check, procs_matching, retry, run_tests

SHIM = os.environ.get("SUP_FAULT_SHIM")
SANITIZED = os.environ.get("SUP_SANITIZED") == "1"


def proc_cpu_secs(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ns_zombies(s):
    root = f"/proc/{s.supd_pid()}/root/proc"
    found = []
    for e in os.listdir(root):
        if e.isdigit():
            try:
                with open(f"{root}/{e}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        found.append(int(e))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found


def unit_cgroup_dirs(name):
    """Every v1 hierarchy's directory named `name` under a sup-* subtree of this test's
    cgroup (supd's units live there)."""
    found = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.strip().split(":", 2)
            for c in ctrls.split(","):
                base = f"/sys/fs/cgroup/{c}{path}"
                if not c or not os.path.isdir(base):
                    continue
                for d in os.listdir(base):
                    if d.startswith("sup-") and os.path.isdir(f"{base}/{d}/{name}"):
                        found.append(f"{base}/{d}/{name}")
    return found


def nofile(pid):
    """supd's (soft, hard) open-files limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no open-files limit in /proc/PID/limits")


def set_nofile(pid, n):
    """The soft limit only: raising a hard limit needs CAP_SYS_RESOURCE."""
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={n}:{nofile(pid)[1]}"], check=True)


def test_out_of_fds():
    """Out of fds: the accept handler does not spin (it pauses, and one client is told why),
    a unit whose cgroup cannot be made fails with the reason and leaves no cgroup directory,
    and all is well once fds are free again."""
    units = {"a": "[Service]\nExec=/bin/sleep 1000\n",
             "b": "[Service]\nType=oneshot\nExec=/bin/true\nStandardOutput=null\nStandardError=null\n"}
    with Supd(units) as s:
        s.wait_state("a", "running")
        s.wait_state("b", "exited")
        retry(lambda: not unit_cgroup_dirs("b"), what="b's cgroup released")
        pid = s.supd_pid()
        soft = nofile(pid)[0]
        nfd = len(os.listdir(f"/proc/{pid}/fd"))
        set_nofile(pid, nfd + 1)  # the connection of the next supctl takes the last one
        r = s.ctl("restart", "b")
        check(r.returncode == 1 and "Too many open files" in r.stderr,
              f"b cannot start, and says why: {r.returncode} {r.stderr!r}")
        check(not unit_cgroup_dirs("b"), f"no cgroup left behind: {unit_cgroup_dirs('b')}")
        set_nofile(pid, nfd)  # not even one: accept() fails
        cpu0, t0 = proc_cpu_secs(pid), time.monotonic()
        clients = []
        for _ in range(8):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(5)
            c.connect(s.socket)  # the backlog takes it; supd cannot accept it
            clients.append(c)
        time.sleep(2)  # what supd does meanwhile is the point: no condition to wait for
        cpu = proc_cpu_secs(pid) - cpu0
        check(cpu < 0.3 * (time.monotonic() - t0), f"supd used {cpu:.2f}s of CPU: not spinning")
        told = 0
        for c in clients:
            c.setblocking(False)
            try:
                hdr = c.recv(4)
                if hdr:
                    body = c.recv(struct.unpack(">I", hdr)[0])
                    check(b"out of file descriptors" in body, f"why: {body!r}")
                    told += 1
            except BlockingIOError:
                pass
            c.close()
        check(told >= 1, "a client waiting is told supd is out of fds")
        check("refusing connections for now" in s.log(), "the log says so")
        set_nofile(pid, soft)
        retry(lambda: s.ctl("status").returncode == 0, what="supd serving again")
        s.ctl_ok("restart", "b")
        check(s.status("b")["state"] == "exited", "b runs again")
        check(s.status("a")["state"] == "running", "a never stopped")


class Tmpfs:
    def __init__(self, path, opts):
        self.path = path
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path], check=True)

    def close(self):
        for _ in range(50):
            if subprocess.run(["umount", self.path], capture_output=True).returncode == 0:
                return
            time.sleep(0.1)


def test_log_and_state_dirs_full():
    s = Supd({"chatty": "[Service]\nExec=/bin/sh -c 'i=0; while [ $i -lt 3000 ]; do "
                        "echo \"line $i of a unit that talks a lot\"; i=$((i+1)); done; "
                        "touch \"$T/said\"; while :; do echo tick; sleep 0.2; done'\n"})
    logs = Tmpfs(os.path.join(s.dir, "logs"), "size=64k")
    state = Tmpfs(s.state, "size=16k")
    try:
        with open(os.path.join(s.state, "filler"), "wb") as f:
            try:
                f.write(b"x" * (64 << 10))
            except OSError:
                pass  # full: that is the point
        s.config = os.path.join(s.dir, "supd.conf")
        with open(s.config, "w") as f:
            f.write(f"[Log]\nDirectory={logs.path}\n")
        with s:
            retry(lambda: os.path.exists(os.path.join(s.dir, "said")), timeout=30,
                  what="the unit's output")
            # the file's writer thread finds the disk full; the next line says so in the ring
            out = retry(lambda: (lambda o: o if "No space left on device; no longer written"
                                 in o else None)(s.ctl_ok("logs", "chatty", "-n", "0").stdout),
                        what="the unit's log to say its file is full")
            check("line 2999 of a unit" in out, "and the ring still has every line")
            s.write_unit("later", "[Service]\nExec=/bin/sh -c 'echo later; exec sleep 1000'\n")
            s.ctl_ok("reload")
            s.wait_state("later", "running")
            retry(lambda: "later" in s.ctl_ok("logs", "later").stdout, what="later's output")
            check(s.status("chatty")["state"] == "running", "supd carries on")
    finally:
        logs.close()
        state.close()


class FaultControl:
    """The shim's control file (struct fault_ctl in tests/faults/fault_shim.c)."""

    def __init__(self, path):
        with open(path, "wb") as f:
            f.write(b"\0" * 24)
        self.f = open(path, "r+b")
        self.m = mmap.mmap(self.f.fileno(), 24)

    def fail_every(self, n):
        self.m[0:4] = struct.pack("<i", n)

    def realtime_offset(self, secs):
        self.m[8:16] = struct.pack("<q", int(secs * 1e9))

    def failed(self):
        return struct.unpack("<Q", self.m[16:24])[0]


def shim_available():
    if SANITIZED:
        print("  (the allocator shim cannot run under ASan: this build's sanitizers check supd "
              "instead; the plain build runs this test)", flush=True)
        return False
    check(SHIM and os.path.exists(SHIM), f"the fault shim is built (SUP_FAULT_SHIM={SHIM})")
    return True


def shimmed(units):
    s = Supd(units)
    ctl = FaultControl(os.path.join(s.dir, "faults"))
    s.env["LD_PRELOAD"] = SHIM
    s.env["SUP_FAULT_FILE"] = os.path.join(s.dir, "faults")
    # the units would inherit both: only supd is meant
    for name in list(units):
        s.write_unit(name, units[name] + "Environment=LD_PRELOAD= SUP_FAULT_FILE=\n")
    return s, ctl


def test_out_of_memory():
    """Every 7th allocation of supd fails for a few seconds while units crash, log and get
    status asked: supd keeps running (no crash, no zombie), and works fully afterwards."""
    if not shim_available():
        return
    units = {"loop": "[Service]\nExec=/bin/sh -c 'echo boom; exit 3'\nRestart=always\n"
                     "RestartSec=20ms\nRestartMaxSec=100ms\nStartLimitBurst=0\n",
             "talker": "[Service]\nExec=/bin/sh -c 'while :; do echo tick; sleep 0.01; done'\n",
             "svc": "[Service]\nExec=/bin/sleep 1000\nHealthCmd=/bin/true\nHealthIntervalSec=100ms\n"}
    s, ctl = shimmed(units)
    with s:
        s.wait_state("svc", "running")
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                for args in (("status",), ("logs", "talker", "-n", "0"), ("metrics",),
                             ("restart", "--no-wait", "svc")):
                    s.ctl(*args, "--timeout", "5s", timeout=20)
        t = threading.Thread(target=hammer)
        t.start()
        try:
            ctl.fail_every(7)
            time.sleep(4)  # the fault lasts this long: nothing to wait for
        finally:
            ctl.fail_every(0)
            stop.set()
            t.join()
        check(ctl.failed() > 20, f"the shim failed {ctl.failed()} allocations")
        check(s.proc.poll() is None, f"supd survived: {s.log()[-2000:]}")
        retry(lambda: s.ctl("status").returncode == 0, what="status again")
        n = s.status("loop")["restarts"]
        try:
            retry(lambda: s.status("loop")["restarts"] > n + 5, what="the crash loop goes on")
        except Exception:
            print(s.status("loop"), flush=True)
            raise
        s.ctl_ok("restart", "svc")
        check(s.status("svc")["state"] == "running", "svc restarts")
        check("tick" in s.ctl_ok("logs", "talker").stdout, "logs work")
        retry(lambda: len(ns_zombies(s)) <= 1, what="no zombies")


def test_wall_clock_jumps():
    """CLOCK_REALTIME a day back, then a year ahead: restart delays, stop timeouts and health
    intervals run on the monotonic clock and keep their length; log times follow the wall."""
    if not shim_available():
        return
    units = {"crash": "[Service]\nExec=/bin/sh -c 'date +%s.%N >> \"$T/starts\"; sleep 0.2; exit 1'\n"
                      "RestartSec=500ms\nRestartMaxSec=500ms\nStartLimitBurst=0\n",
             "hc": "[Service]\nExec=/bin/sleep 1000\nHealthCmd=/bin/sh -c 'echo x >> \"$T/checks\"'\n"
                   "HealthIntervalSec=200ms\n"}
    s, ctl = shimmed(units)
    with s:
        s.wait_state("hc", "running")
        for offset in (-86400, 365 * 86400):
            ctl.realtime_offset(offset)
            n = s.status("crash")["restarts"]
            t0 = time.monotonic()
            retry(lambda: s.status("crash")["restarts"] >= n + 3, timeout=60,
                  what=f"3 restarts with the clock moved {offset}s")
            took = time.monotonic() - t0
            # a jump the timers followed would be a day or a year; a loaded machine, seconds
            check(took < 30, f"3 restarts of 0.7 s took {took:.1f}s with the clock moved {offset}s")
            with open(os.path.join(s.dir, "checks")) as f:
                before = len(f.read().split())
            t1 = time.monotonic()
            time.sleep(2)  # checks every 200 ms: count what two seconds bring
            with open(os.path.join(s.dir, "checks")) as f:
                got = len(f.read().split()) - before
            secs = time.monotonic() - t1
            # a jump the timers followed: none (a day back) or a flood (a year ahead); a
            # loaded machine: fewer than 5 a second, never more
            check(2 <= got <= secs * 5 + 3,
                  f"{got} health checks in {secs:.1f}s, clock moved {offset}s")
            st = s.status("hc")
            check(st["state"] == "running" and 0 <= st["uptime_s"] < 60, f"uptime sane: {st}")
        r = s.ctl_ok("logs", "crash", "-t", "-n", "3")
        year = time.gmtime(time.time() + 365 * 86400).tm_year
        check(str(year) in r.stdout, f"log times follow the wall clock: {r.stdout!r}")


if __name__ == "__main__":
    run_tests([
        test_out_of_fds,
        test_log_and_state_dirs_full,
        test_out_of_memory,
        test_wall_clock_jumps,
    ])
