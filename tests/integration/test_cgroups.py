"""Cgroups on this host (v1/hybrid): limits, OOM, fork bomb, CPU quota, stop kills all, stats, metrics.

The cgroup v2 path (CLONE_INTO_CGROUP, cgroup.kill, io.max, PSI) needs the VM harness.
"""

import json
import os
import shutil
import subprocess
import time

from harness import IN_CI, Supd, check, procs_matching, retry, run_tests, Fail


def stats(s, name):
    r = s.ctl_ok("stats", "--json", name)
    return json.loads(r.stdout)[0]


def test_memory_hog_oom_killed_and_restarted():
    unit = """
[Service]
Exec=/bin/sh -c 'date +%s >> "$T/starts"; exec python3 -c "a = bytearray(256 << 20); import time; time.sleep(1000)"'
Restart=on-failure
RestartSec=200ms
[Resources]
MemoryMax=64M
"""
    with Supd({"hog": unit}) as s:
        st = retry(lambda: (lambda x: x if x["oom_kills"] >= 1 else None)(s.status("hog")),
                   timeout=20, what="an OOM kill")
        check(st["oom_kills"] >= 1, f"oom_kills {st}")

        def restarted():
            x = s.status("hog")
            return x if x["restarts"] >= 1 else None
        st = retry(restarted, timeout=20, what="a restart after the OOM kill")
        check(st["last_exit"] in ({"signal": "SIGKILL"}, None), f"last_exit {st['last_exit']}")
        # some status in between showed SIGKILL: the log says so
        logs = s.ctl_ok("logs", "hog", "-n", "0").stdout
        check("OOM" in logs and "SIGKILL" in logs, f"logs: {logs}")
        def starts():
            with open(os.path.join(s.dir, "starts")) as f:
                return len(f.read().split()) >= 2
        retry(starts, timeout=10, what="a second start per Restart=on-failure")
        check("hog" in s.ctl_ok("stats").stdout, "stats lists the unit")


def test_fork_bomb_contained_and_stopped():
    s = Supd()
    bomb = os.path.join(s.dir, "bomb.py")
    with open(bomb, "w") as f:
        # every process forks forever; a refused fork (EAGAIN at PidsMax) is retried
        f.write("import os, time\nwhile True:\n    try:\n        os.fork()\n"
                "    except OSError:\n        time.sleep(0.01)\n")
    s.write_unit("bomb", f"[Service]\nExec=/usr/bin/python3 {bomb}\n[Resources]\nPidsMax=40\n")
    with s:
        s.wait_state("bomb", "running", timeout=10)
        st = retry(lambda: (lambda x: x if (x["pids_current"] or 0) >= 30 else None)(stats(s, "bomb")),
                   timeout=10, what="the bomb to fill its pids")
        check(st["pids_current"] <= 40, f"pids contained: {st['pids_current']}")
        time.sleep(0.5)
        check(stats(s, "bomb")["pids_current"] <= 40, "still contained")
        t0 = time.monotonic()
        s.ctl_ok("stop", "bomb", timeout=30)
        check(time.monotonic() - t0 < 15, "stopped in time")
        st = s.status("bomb")
        check(st["state"] == "inactive", f"inactive: {st}")
        check(stats(s, "bomb")["cgroup"] is False, "the cgroup is gone")


def test_cpu_quota_holds():
    unit = """
[Service]
Exec=/bin/sh -c 'while :; do :; done'
[Resources]
CPUQuota=20%
"""
    with Supd({"busy": unit}) as s:
        s.wait_state("busy", "running", timeout=10)
        time.sleep(0.3)
        a = stats(s, "busy")["cpu_usage_usec"]
        t0 = time.monotonic()
        time.sleep(1.5)
        b = stats(s, "busy")["cpu_usage_usec"]
        pct = (b - a) / 1e4 / (time.monotonic() - t0)
        check(12 <= pct <= 28, f"CPUQuota=20% gave {pct:.1f}%")


def test_stop_kills_double_forked_setsid_grandchild():
    marker = f"sup-cg-escape-{os.getpid()}"
    unit = f"""
[Service]
Exec=/bin/sh -c 'setsid sh -c "sleep 1000; : {marker}" & exec sleep 1000'
"""
    with Supd({"esc": unit}) as s:
        s.wait_state("esc", "running", timeout=10)
        retry(lambda: procs_matching(marker), timeout=5, what="the grandchild")
        s.ctl_ok("stop", "esc")
        check(s.status("esc")["state"] == "inactive", "inactive")
        check(not procs_matching(marker), "the setsid'ed grandchild was killed by the stop")


def cgroup_paths(pid):
    """{controller list: path} of a host pid."""
    with open(f"/proc/{pid}/cgroup") as f:
        return {line.split(":")[1]: line.split(":", 2)[2].strip() for line in f}


def test_units_named_like_cgroup_files():
    """A unit's cgroup is a directory beside the kernel's own files: units named tasks,
    cgroup.procs, cpu.shares, memory.max... get an escaped directory ("_tasks"), as in
    systemd, and run like any other."""
    names = ["tasks", "cgroup.procs", "cpu.shares", "memory.max", "notify_on_release",
             "release_agent", "supd", "_under", "web.api"]
    marker = f"sup-cg-name-{os.getpid()}"
    units = {n: f"[Service]\nExec=/bin/sh -c 'sleep 1000; : {marker}-{n}'\n" for n in names}
    with Supd(units) as s:
        for n in names:
            s.wait_state(n, "running", timeout=10)
            pid = retry(lambda: procs_matching(f"{marker}-{n}"), what=f"{n}'s process")[0]
            paths = cgroup_paths(pid)
            leaf = [p for c, p in paths.items() if c and "pids" in c.split(",")]
            leaf = leaf[0] if leaf else paths[""]
            want = n if n in ("web.api",) else "_" + n
            check(leaf.endswith("/" + want), f"{n}: its cgroup is {leaf}, want .../{want}")
        s.ctl_ok("stop", *names, timeout=30)
        for n in names:
            check(stats(s, n)["cgroup"] is False, f"{n}: the cgroup is gone after the stop")


def test_health_check_leftovers_killed():
    """What a passing health check leaves behind (`cmd &`, even setsid'ed) is killed when the
    check ends: the check runs in a leaf cgroup of the unit, killed whole."""
    marker = f"sup-health-left-{os.getpid()}"
    unit = f"""
[Service]
Exec=/bin/sleep 1000
HealthCmd=/bin/sh -c 'cat /proc/self/cgroup > "$T/hc.cg.$$"; mv "$T/hc.cg.$$" "$T/hc.cg"; echo x >> "$T/checks"; sh -c "sleep 1000; : {marker}-a" & setsid sh -c "sleep 1000; : {marker}-b" & exit 0'
HealthIntervalSec=100ms
"""
    with Supd({"hc": unit}) as s:
        s.wait_state("hc", "running")

        def checks():
            try:
                with open(os.path.join(s.dir, "checks")) as f:
                    return len(f.read().split()) >= 15
            except FileNotFoundError:
                return False
        retry(checks, timeout=30, what="15 health checks")
        left = procs_matching(marker)
        check(len(left) <= 2, f"{len(left)} processes left by 15 passing health checks")
        with open(os.path.join(s.dir, "hc.cg")) as f:
            lines = f.read().splitlines()
        mine = [line for line in lines if line.split(":")[1] in ("pids", "memory", "")]
        mine = [line for line in mine if line.split(":")[1] or len(mine) == 1]
        check(mine and all(line.endswith("/hc/sup-health") for line in mine),
              f"the check runs in the leaf hc/sup-health: {lines}")
        st = s.status("hc")
        check(st["state"] == "running" and st["health"] == "healthy", f"healthy: {st}")
        s.ctl_ok("stop", "hc")
        check(not procs_matching(marker), "nothing of the checks outlives the unit")
        # a check still running at the stop is reaped just after it: the cgroup goes then
        retry(lambda: stats(s, "hc")["cgroup"] is False, timeout=30,
              what="the unit's cgroup (and its leaf) gone")


def test_stats_and_metrics_nonzero_and_promtool():
    unit = """
[Service]
Exec=/bin/sh -c 'while :; do :; done'
"""
    with Supd({"busy": unit, "idle": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("busy", "running", timeout=10)
        time.sleep(0.5)
        st = stats(s, "busy")
        check(st["cpu_usage_usec"] > 0, f"cpu: {st}")
        check(st["memory_current_bytes"] > 0, f"memory: {st}")
        check(st["pids_current"] >= 1, f"pids: {st}")
        status = s.status("busy")
        check(status["cpu_usage_usec"] > 0 and status["memory_current_bytes"] > 0
              and status["pids_current"] >= 1, f"status from the cgroup: {status}")
        text = s.ctl_ok("metrics").stdout
        for name in ("sup_unit_state", "sup_unit_restarts_total", "sup_unit_cpu_usage_seconds_total",
                     "sup_unit_memory_current_bytes", "sup_unit_memory_peak_bytes",
                     "sup_unit_pids_current", "sup_unit_oom_kills_total"):
            check(f"# TYPE {name} " in text and f"# HELP {name} " in text, f"{name} in metrics")
        line = [l for l in text.splitlines()
                if l.startswith('sup_unit_cpu_usage_seconds_total{unit="busy"}')]
        check(line and float(line[0].split()[-1]) > 0, f"busy's cpu metric: {line}")
        promtool = shutil.which("promtool")
        if not promtool:
            if IN_CI:
                raise Fail("promtool missing (scripts/deps.sh installs prometheus)")
            print("note: promtool not installed; metrics format not checked")
            return
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 0, f"promtool: {r.stdout}{r.stderr}")


def memory_limit_of(marker):
    """memory.limit_in_bytes of the v1 memory cgroup the process with marker is in."""
    pid = retry(lambda: procs_matching(marker), what=f"process {marker}")[0]
    with open(f"/proc/{pid}/cgroup") as f:
        path = [l.split(":", 2)[2].strip() for l in f if ":memory:" in l][0]
    with open(f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes") as f:
        return int(f.read())


def test_reload_changes_limits_without_restart():
    unit = "[Service]\nExec=/bin/sleep 4242.5\n[Resources]\nMemoryMax=%s\n"
    with Supd({"lim": unit % "64M"}) as s:
        pid = s.wait_state("lim", "running")["pid"]
        check(memory_limit_of("sleep 4242.5") == 64 << 20, "64M applied")
        s.write_unit("lim", unit % "128M")
        r = s.ctl_ok("reload")
        check("changed" in r.stdout and "lim" in r.stdout, f"reload says: {r.stdout}")
        st = s.wait_state("lim", "running")
        check(st["pid"] == pid and st["restarts"] == 0, f"not restarted: {st}")
        retry(lambda: memory_limit_of("sleep 4242.5") == 128 << 20, what="128M applied")


def test_top_sorted_by_cpu_plain_and_terminal():
    import pty
    import select
    units = {"busy": "[Service]\nExec=/bin/sh -c 'while :; do :; done'\n",
             "idle": "[Service]\nExec=/bin/sleep 1000\n"}
    with Supd(units) as s:
        s.wait_state("busy", "running")
        s.wait_state("idle", "running")
        # not a terminal: plain tables, one a second, the busiest first
        p = subprocess.Popen([os.environ.get("SUPCTL", "supctl"), "--socket", s.socket, "top"],
                             stdout=subprocess.PIPE, text=True, env=s.env)
        try:
            lines, deadline = [], time.monotonic() + 10
            while sum(l.startswith("supctl top:") for l in lines) < 4 and time.monotonic() < deadline:
                if select.select([p.stdout], [], [], 1)[0]:
                    lines.append(p.stdout.readline())
        finally:
            p.kill()
            p.wait()
        tables = "".join(lines).split("supctl top:")
        check(len(tables) >= 5, f"four refreshes: {lines}")
        rows = [l.split()[0] for l in tables[3].splitlines()[2:] if l.strip()]  # a whole one
        check(rows[:2] == ["busy", "idle"], f"sorted by CPU: {tables[3]}")
        # a terminal: redrawn in place, q quits
        pid, fd = pty.fork()
        if pid == 0:
            os.execvpe(os.environ.get("SUPCTL", "supctl"),
                       ["supctl", "--socket", s.socket, "top"], s.env)
        out = b""
        deadline = time.monotonic() + 10
        while out.count(b"supctl top:") < 2 and time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                out += os.read(fd, 65536)
        check(b"\033[H\033[2J" in out and b"(q quits)" in out, f"in place: {out[:200]!r}")
        os.write(fd, b"q")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    os.read(fd, 65536)
                except OSError:
                    pass
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise Fail("q did not quit top")
        check(os.waitstatus_to_exitcode(status) == 0, f"top exit status {status}")


if __name__ == "__main__":
    run_tests([
        test_memory_hog_oom_killed_and_restarted,
        test_fork_bomb_contained_and_stopped,
        test_cpu_quota_holds,
        test_stop_kills_double_forked_setsid_grandchild,
        test_units_named_like_cgroup_files,
        test_health_check_leftovers_killed,
        test_stats_and_metrics_nonzero_and_promtool,
        test_reload_changes_limits_without_restart,
        test_top_sorted_by_cpu_plain_and_terminal,
    ])
