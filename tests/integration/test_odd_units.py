"""Odd units and odd files: EnvironmentFile= pointing at /dev/zero, a directory or a FIFO; a
script whose #! interpreter is missing; unit files with invalid names; timeouts of 0; restart and
health-check loops with no delay; a unit that floods supd with SIGHUP; deleted sockets."""

import json
import os
import signal
import socket
import time

from harness import SLOW_BOUND, Supd, check, procs_matching, retry, run_tests


def proc_cpu_secs(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_environment_file_odd_targets():
    """/dev/zero (endless), a directory and a FIFO (an open that never returns) are refused,
    saying what they are; the unit fails at once instead of eating memory, starting with
    nothing, or hanging in `starting` for ever."""
    s = Supd()
    fifo = os.path.join(s.dir, "fifo")
    os.mkfifo(fifo)
    good = os.path.join(s.dir, "good.env")
    with open(good, "w") as f:
        f.write("GREETING=hello\n")
    cases = {"zero": ("/dev/zero", "a character device"), "dir": (s.dir, "a directory"),
             "fifo": (fifo, "a FIFO")}
    for name, (path, _) in cases.items():
        s.write_unit(name, f"[Service]\nExec=/bin/sleep 1000\nEnvironmentFile={path}\nRestart=no\n")
    s.write_unit("ok", "[Service]\nExec=/bin/sh -c 'echo \"$GREETING\" > \"$T/ok.out\"; exec sleep 1000'\n"
                       f"EnvironmentFile={good}\nEnvironmentFile=-/nonexistent/env\n")
    with s:
        for name, (path, what) in cases.items():
            st = s.wait_state(name, "failed", timeout=10)
            check(f"EnvironmentFile={path}: {what}" in (st["error"] or ""),
                  f"{name}: the error says what the file is: {st['error']!r}")
        s.wait_state("ok", "running")
        retry(lambda: os.path.exists(os.path.join(s.dir, "ok.out")), what="ok's output")
        with open(os.path.join(s.dir, "ok.out")) as f:
            check(f.read() == "hello\n", "a regular file is read; a missing optional one skipped")


def test_missing_interpreter_is_named():
    s = Supd()
    script = os.path.join(s.dir, "script.sh")
    with open(script, "w") as f:
        f.write("#!/nonexistent/bash -e\necho hi\n")
    os.chmod(script, 0o755)
    s.write_unit("script", f"[Service]\nExec={script}\nRestart=no\n")
    s.write_unit("missing", f"[Service]\nExec={s.dir}/no-such-program\nRestart=no\n")
    with s:
        st = s.wait_state("script", "failed")
        check(f"exec {script}: its interpreter '/nonexistent/bash' (the #! line) was not found"
              in (st["error"] or ""), f"the missing interpreter is named: {st['error']!r}")
        check(st["last_exit"] == {"code": 127}, f"127, as a shell says: {st['last_exit']}")
        st = s.wait_state("missing", "failed")
        check(st["error"] == f"exec {s.dir}/no-such-program: No such file or directory",
              f"a missing program is still just missing: {st['error']!r}")


def test_invalid_unit_file_names_are_logged():
    names = ["bad name.unit", "x" * 65 + ".unit", "semi;colon.service"]
    s = Supd({"good": "[Service]\nExec=/bin/sleep 1000\n"})
    for n in names:
        with open(os.path.join(s.units, n), "w") as f:
            f.write("[Service]\nExec=/bin/sleep 1000\n")
    with s:
        s.wait_state("good", "running")
        log = s.log()
        for n in names:
            check(f"{n}: ignored: not a valid unit name" in log, f"{n!r} is said in the log")
        r = s.ctl_ok("status", "--json")
        check([u["name"] for u in json.loads(r.stdout)] == ["good"], "only good is a unit")


def test_zero_timeouts_are_warned():
    units = {"z": "[Service]\nType=notify\nExec=/bin/sleep 1000\nStopTimeoutSec=0\nReadyTimeoutSec=0\n",
             "inf": "[Service]\nExec=/bin/sleep 1000\nStopTimeoutSec=infinity\n"}
    with Supd(units) as s:
        s.wait_state("inf", "running")
        log = s.log()
        check("z.unit:4: StopTimeoutSec: 0 means no timeout" in log and "ShutdownTimeoutSec" in log,
              "StopTimeoutSec=0 is warned about at load")
        check("z.unit:5: ReadyTimeoutSec: 0 means no timeout" in log, "and ReadyTimeoutSec=0")
        check("inf.unit" not in log, "an explicit infinity is not")


def test_supd_exit_is_bounded_by_the_shutdown_limit():
    """A unit that ignores its stop signal with StopTimeoutSec=0 cannot hold supd's exit for
    ever: [Machine] ShutdownTimeoutSec= of supd.conf bounds it, as it bounds a machine's."""
    marker = f"sup-stubborn-{os.getpid()}"
    unit = ("[Service]\nExec=/bin/sh -c 'trap \"\" TERM; touch \"$T/trap\"; "
            f"while :; do sleep 0.1; done; : {marker}'\nStopTimeoutSec=0\n")
    with Supd({"stubborn": unit}, config="[Machine]\nShutdownTimeoutSec=2s\n") as s:
        s.wait_state("stubborn", "running")
        retry(lambda: os.path.exists(os.path.join(s.dir, "trap")), what="the trap")
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        code = s.wait_exit(timeout=20)
        took = time.monotonic() - t0
        check(1.5 < took < 6, f"supd exits at its shutdown deadline (2s): took {took:.1f}s")
        check(code == 0, f"exit status {code}")
        check("shutdown deadline passed; still not down: stubborn" in s.log(), "the log says why")
        retry(lambda: not procs_matching(marker), timeout=5, what="the stubborn unit killed")


def test_zero_restart_delay_without_start_limit_backs_off():
    """RestartSec=0 and StartLimitBurst=0: the delay doubles from a microsecond (and reaches
    at least 10 ms) instead of restarting as fast as fork allows."""
    unit = "[Service]\nExec=/bin/false\nRestartSec=0\nStartLimitBurst=0\n"
    with Supd({"loop": unit}) as s:
        time.sleep(3)  # the point is what happens in this time: no condition to wait for
        n = s.status("loop")["restarts"]
        check(5 <= n <= 40, f"{n} restarts in 3 s: backing off, not thousands")


def test_tiny_health_interval_has_a_floor():
    unit = ("[Service]\nExec=/bin/sleep 1000\n"
            "HealthCmd=/bin/sh -c 'echo x >> \"$T/checks\"'\nHealthIntervalSec=1us\n")
    with Supd({"hc": unit}) as s:
        s.wait_state("hc", "running")
        check("HealthIntervalSec: below 100ms: checks run every 100ms" in s.log(),
              "the floor is said at load")
        time.sleep(2)
        with open(os.path.join(s.dir, "checks")) as f:
            n = len(f.read().split())
        check(5 <= n <= 25, f"{n} checks in 2 s (the floor is 100 ms)")


def test_sighup_flood_is_merged():
    """A unit sending SIGHUP to supd as fast as it can: reloads are merged (the next one waits
    twice the last one's time, at least 200 ms), supd keeps answering and does not spin."""
    units = {f"u{i:03}": "[Service]\nType=oneshot\nExec=/bin/true\n" for i in range(150)}
    units["flood"] = "[Service]\nExec=/bin/sh -c 'while :; do kill -HUP 1; done'\n"
    with Supd(units) as s:
        s.wait_state("flood", "running")
        pid = s.supd_pid()
        before_log = s.log().count(" added, ")
        cpu0, t0 = proc_cpu_secs(pid), time.monotonic()
        for _ in range(10):
            t = time.monotonic()
            s.ctl_ok("status", "u000", timeout=10)
            check(time.monotonic() - t < SLOW_BOUND, "status answers during the flood")
            time.sleep(0.3)
        cpu = proc_cpu_secs(pid) - cpu0
        wall = time.monotonic() - t0
        s.ctl_ok("stop", "flood")
        reloads = s.log().count(" added, ") - before_log
        check(reloads <= wall / 0.2 + 2, f"{reloads} reloads in {wall:.1f}s: merged")
        check(cpu < 0.6 * wall, f"supd used {cpu:.2f}s of CPU in {wall:.1f}s of SIGHUP flood")
        print(f"  {reloads} reloads, {cpu:.2f}s CPU in {wall:.1f}s of flood", flush=True)


def test_deleted_sockets_are_made_again_on_sighup():
    unit = "[Service]\nType=notify\nExec=/bin/sh -c 'sup-notify READY=1; exec sleep 1000'\nWatchdogSec=1h\n"
    with Supd({"n": unit}) as s:
        s.wait_state("n", "running")
        notify = os.path.join(s.run, "unit", "n", "notify")
        os.unlink(s.socket)
        os.unlink(notify)
        check(s.ctl("status").returncode != 0, "without its socket supd cannot be reached")
        s.signal(signal.SIGHUP)
        retry(lambda: s.ctl("status").returncode == 0, what="the control socket back")
        retry(lambda: os.path.exists(notify), what="the notify socket back")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.connect(notify)  # something listens there again
        check("control socket" in s.log() and "made again" in s.log(), "the log says so")


if __name__ == "__main__":
    run_tests([
        test_environment_file_odd_targets,
        test_missing_interpreter_is_named,
        test_invalid_unit_file_names_are_logged,
        test_zero_timeouts_are_warned,
        test_supd_exit_is_bounded_by_the_shutdown_limit,
        test_zero_restart_delay_without_start_limit_backs_off,
        test_tiny_health_interval_has_a_floor,
        test_sighup_flood_is_merged,
        test_deleted_sockets_are_made_again_on_sighup,
    ])
