"""A unit's life: start, crash, backoff, start limit, oneshot, notify, watchdog, health, stop."""

import os
import time

from harness import Supd, check, procs_matching, retry, run_tests, Fail


def read_floats(path):
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def test_crash_backoff_then_failed():
    unit = """
[Service]
Exec=/bin/sh -c 'date +%s.%N >> "$T/starts"; exit 3'
RestartSec=100ms
RestartMaxSec=5s
StartLimitBurst=5
StartLimitIntervalSec=60s
"""
    with Supd({"crash": unit}) as s:
        st = s.wait_state("crash", "failed", timeout=20)
        starts = read_floats(os.path.join(s.dir, "starts"))
        check(len(starts) == 5, f"5 starts before the limit, got {len(starts)}")
        check(st["restarts"] == 4, f"restarts {st['restarts']}")
        check(st["last_exit"] == {"code": 3}, f"last_exit {st['last_exit']}")
        check("start limit" in (st["error"] or ""), f"error {st['error']}")
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        # 100ms, 200ms, 400ms, 800ms: each gap at least its delay, and growing
        for i, g in enumerate(gaps):
            check(g >= 0.1 * 2**i * 0.9, f"gap {i} = {g:.3f}s shorter than its delay")
        # a loaded machine only adds to a gap (the first, 100 ms, came out longer than the
        # second once): the lower bounds above show the doubling; overall the gaps grow
        check(gaps[-1] > gaps[0], f"delays do not grow: {gaps}")
        # failed stays failed: no more starts
        n = len(starts)
        check(s.status("crash")["state"] == "failed", "still failed")
        check(len(read_floats(os.path.join(s.dir, "starts"))) == n, "no start after failed")


def test_restart_clears_failed():
    unit = """
[Service]
Exec=/bin/sh -c 'test -f "$T/ok" || exit 1; exec sleep 1000'
RestartSec=0
StartLimitBurst=2
"""
    with Supd({"flaky": unit}) as s:
        s.wait_state("flaky", "failed", timeout=10)
        r = s.ctl("start", "flaky")
        check(r.returncode == 1, f"start of a unit at its start limit fails: {r.returncode}")
        open(os.path.join(s.dir, "ok"), "w").close()
        s.ctl_ok("restart", "flaky")
        st = s.status("flaky")
        check(st["state"] == "running" and st["pid"] > 0, f"running after restart: {st}")
        check(st["error"] is None, "error cleared")


def test_reset_clears_failed():
    with Supd({"f": "[Service]\nExec=/bin/false\nRestart=no\n"}) as s:
        s.wait_state("f", "failed")
        s.ctl_ok("reset", "f")
        check(s.status("f")["state"] == "inactive", "reset: inactive")


def test_oneshot_exited():
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'echo done > "$T/x"'
"""
    with Supd({"once": unit}) as s:
        st = s.wait_state("once", "exited")
        check(st["last_exit"] == {"code": 0}, f"last_exit {st['last_exit']}")
        check(st["pid"] == 0, "no pid once exited")
        check(open(os.path.join(s.dir, "x")).read() == "done\n", "it ran")


def test_simple_exit_zero_is_exited():
    with Supd({"z": "[Service]\nExec=/bin/true\n"}) as s:
        st = s.wait_state("z", "exited")
        check(st["restarts"] == 0, "on-failure does not restart an exit 0")


def test_notify_running_only_after_ready():
    unit = """
[Service]
Type=notify
Exec=/bin/sh -c 'while ! test -f "$T/go"; do sleep 0.05; done; sup-notify READY=1 "STATUS=serving"; exec sleep 1000'
"""
    with Supd({"n": unit}) as s:
        deadline = time.monotonic() + 0.7
        while time.monotonic() < deadline:
            st = s.status("n")
            check(st["state"] == "starting", f"starting until READY=1, got {st['state']}")
            time.sleep(0.05)
        check(st["pid"] > 0, "the process runs while starting")
        open(os.path.join(s.dir, "go"), "w").close()
        st = s.wait_state("n", "running")
        check(st["status_text"] == "serving", f"STATUS= shown: {st.get('status_text')}")


def test_notify_ready_timeout_fails():
    unit = """
[Service]
Type=notify
Exec=/bin/sleep 1000
ReadyTimeoutSec=1s
Restart=no
"""
    with Supd({"slow": unit}) as s:
        st = s.wait_state("slow", "failed", timeout=10)
        check("ReadyTimeoutSec" in (st["error"] or ""), f"error names the timeout: {st['error']}")


def test_start_waits_for_ready():
    unit = """
[Service]
Type=notify
Exec=/bin/sh -c 'sleep 0.5; sup-notify READY=1; exec sleep 1000'
"""
    with Supd({"n": unit}) as s:
        s.wait_state("n", "running")
        s.ctl_ok("stop", "n")
        check(s.status("n")["state"] == "inactive", "stop waits until down")
        s.ctl_ok("start", "n")
        check(s.status("n")["state"] == "running", "start returned only once ready")


def test_watchdog_kills_with_sigabrt():
    unit = """
[Service]
Exec=/bin/sh -c 'sup-notify WATCHDOG=1; sleep 0.3; sup-notify WATCHDOG=1; exec sleep 1000'
WatchdogSec=1s
Restart=no
"""
    with Supd({"wd": unit}) as s:
        st = s.wait_state("wd", "failed", timeout=10)
        check(st["last_exit"] == {"signal": "SIGABRT"}, f"last_exit {st['last_exit']}")
        check("watchdog" in (st["error"] or ""), f"error {st['error']}")


def test_watchdog_restarts_on_failure():
    unit = """
[Service]
Exec=/bin/sleep 1000
WatchdogSec=500ms
RestartSec=100ms
"""
    with Supd({"wd": unit}) as s:
        retry(lambda: s.status("wd")["restarts"] >= 1, timeout=10, what="a watchdog restart")


def test_health_unhealthy_and_back():
    unit = """
[Service]
Exec=/bin/sleep 1000
HealthCmd=/bin/sh -c 'test -f "$T/healthy"'
HealthIntervalSec=200ms
HealthTimeoutSec=1s
HealthRetries=2
Restart=no
"""
    with Supd({"h": unit}) as s:
        pid = s.wait_state("h", "unhealthy", timeout=10)["pid"]
        check(pid > 0, "an unhealthy unit keeps running when Restart= does not cover it")
        open(os.path.join(s.dir, "healthy"), "w").close()
        st = s.wait_state("h", "running", timeout=10)
        check(st["pid"] == pid and st["health"] == "healthy", f"same process, healthy: {st}")


def test_health_restart():
    unit = """
[Service]
Exec=/bin/sleep 1000
HealthCmd=/bin/false
HealthIntervalSec=200ms
HealthRetries=2
RestartSec=100ms
"""
    with Supd({"h": unit}) as s:
        retry(lambda: s.status("h")["restarts"] >= 1, timeout=10, what="restart when unhealthy")


def test_health_check_that_cannot_run_says_why():
    """A HealthCmd= that cannot be executed is reported as the exec error (it used to die of
    SIGPIPE: the report pipe was closed right after the fork)."""
    unit = """
[Service]
Exec=/bin/sleep 1000
HealthCmd=/nonexistent/check --ping
HealthIntervalSec=200ms
HealthRetries=1
Restart=no
"""
    with Supd({"hc": unit}) as s:
        s.wait_state("hc", "unhealthy", timeout=10)
        log = s.ctl_ok("logs", "hc").stdout
        check("health check failed (1/1): exec /nonexistent/check: No such file or directory"
              in log, f"the exec error in the log: {log}")
        check("signal 13" not in log and "SIGPIPE" not in log, f"no SIGPIPE: {log}")


def test_health_timeout_counts_as_failure():
    unit = """
[Service]
Exec=/bin/sleep 1000
HealthCmd=/bin/sleep 100
HealthIntervalSec=100ms
HealthTimeoutSec=200ms
HealthRetries=1
Restart=no
"""
    with Supd({"h": unit}) as s:
        s.wait_state("h", "unhealthy", timeout=10)
        check("timed out" in s.ctl_ok("logs", "h").stdout, "the log says the check timed out")


def test_stop_timeout_then_sigkill():
    unit = """
[Service]
Exec=/bin/sh -c 'trap "" TERM; echo up > "$T/up"; while :; do sleep 0.1; done' stubborn-marker
StopTimeoutSec=1s
"""
    with Supd({"stubborn": unit}) as s:
        s.wait_state("stubborn", "running")
        retry(lambda: os.path.exists(os.path.join(s.dir, "up")), what="the trap is set")
        check(procs_matching("stubborn-marker"), "it runs")
        t0 = time.monotonic()
        s.ctl_ok("stop", "stubborn")
        took = time.monotonic() - t0
        st = s.status("stubborn")
        check(st["state"] == "inactive", f"inactive after stop: {st['state']}")
        check(st["last_exit"] == {"signal": "SIGKILL", "stopped": True}, f"SIGKILL: {st['last_exit']}")
        check(took >= 0.9, f"it waited out StopTimeoutSec ({took:.2f}s)")
        check(not procs_matching("stubborn-marker"), "the process is gone")


def test_stop_signal_and_process_group():
    unit = """
[Service]
Exec=/bin/sh -c 'sleep 1001.25 & trap "echo got-int >> $T/sig; exit 0" INT; echo > "$T/up"; wait' group-marker
StopSignal=SIGINT
"""
    with Supd({"g": unit}) as s:
        s.wait_state("g", "running")
        retry(lambda: os.path.exists(os.path.join(s.dir, "up")), what="the trap is set")
        check(len(procs_matching("sleep 1001.25")) >= 1, "the child runs")
        s.ctl_ok("stop", "g")
        check("got-int" in open(os.path.join(s.dir, "sig")).read(), "StopSignal= delivered")
        st = s.status("g")
        check(st["state"] == "inactive" and st["last_exit"] == {"code": 0, "stopped": True},
              f"clean stop: {st}")
        check(not procs_matching("sleep 1001.25"), "the whole group stopped")


def test_leftovers_killed_when_main_exits():
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'sleep 1234.5678 & exit 0'
"""
    with Supd({"l": unit}) as s:
        s.wait_state("l", "exited")
        retry(lambda: not procs_matching("sleep 1234.5678"), what="the leftover killed")


def test_no_wait():
    with Supd({"w": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("w", "running")
        s.ctl_ok("stop", "w", "--no-wait")
        s.wait_state("w", "inactive")
        s.ctl_ok("start", "--no-wait", "w")
        s.wait_state("w", "running")


def test_environment_user_workdir():
    with open("/tmp/sup-test-envfile", "w") as f:
        f.write("# comment\nFROM_FILE=yes\nQUOTED=\"a b\"\n")
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'echo "$A|$B|$FROM_FILE|$QUOTED|$(id -u)|$(pwd)|$SUP_UNIT" > "$T/env"'
Environment=A=1 "B=two words"
EnvironmentFile=/tmp/sup-test-envfile
EnvironmentFile=-/nonexistent/optional
User=nobody
WorkingDirectory=/tmp
"""
    s = Supd({"env": unit})
    os.chmod(s.dir, 0o777)  # User=nobody writes its evidence there
    with s:
        s.wait_state("env", "exited", "failed")
        got = open(os.path.join(s.dir, "env")).read().strip()
        check(got == "1|two words|yes|a b|65534|/tmp|env", f"environment: {got}")


def test_exec_failure_reported():
    with Supd({"nope": "[Service]\nExec=/nonexistent/bin\nRestart=no\n"}) as s:
        st = s.wait_state("nope", "failed")
        check("exec /nonexistent/bin: No such file or directory" in (st["error"] or ""),
              f"error: {st['error']}")
        check(st["last_exit"] == {"code": 127}, f"127: {st['last_exit']}")


def test_missing_envfile_reported():
    unit = "[Service]\nExec=/bin/true\nEnvironmentFile=/nonexistent/env\nRestart=no\n"
    with Supd({"e": unit}) as s:
        st = s.wait_state("e", "failed")
        check("/nonexistent/env" in (st["error"] or ""), f"error: {st['error']}")


def test_bad_unit_reported_others_run():
    with Supd({"bad": "[Service]\nExec=/bin/true\nRestart=sometimes\n",
               "good": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        st = s.status()
        check(st["bad"]["state"] == "bad-unit", f"bad: {st['bad']['state']}")
        err = st["bad"]["error"] or ""
        check("bad.unit:3" in err and "Restart" in err and "on-failure" in err, f"error: {err}")
        s.wait_state("good", "running")
        r = s.ctl("start", "bad")
        check(r.returncode == 1 and "bad unit" in r.stderr, f"start bad: {r.returncode} {r.stderr}")
        r = s.ctl("status")
        check(r.returncode == 0 and "bad-unit" in r.stdout, "the table shows it")


def test_status_table_and_unknown():
    with Supd({"a": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("a", "running")
        r = s.ctl_ok("status")
        head = r.stdout.splitlines()[0].split()
        for col in ("UNIT", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEMORY"):
            check(col in head, f"column {col} in {head}")
        check(s.ctl("status", "nosuch").returncode == 4, "unknown unit: exit 4")
        check(s.ctl("stop", "nosuch").returncode == 4, "unknown unit: exit 4")


def test_notify_from_a_process_in_its_own_session():
    # the READY=1 comes from a process that left the unit's session (as daemons do): it is
    # still in the unit's cgroup, which is how supd recognises it
    s = Supd()
    sender = os.path.join(s.dir, "sender.py")
    with open(sender, "w") as f:
        f.write("import os, socket, time\nos.setsid()\n"
                "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                "s.connect(os.environ['NOTIFY_SOCKET'])\ns.send(b'READY=1')\ntime.sleep(2)\n")
    s.write_unit("d", f"""
[Service]
Type=notify
Exec=/bin/sh -c 'python3 {sender} & exec sleep 1000'
ReadyTimeoutSec=10s
""")
    with s:
        s.wait_state("d", "running", timeout=8)

if __name__ == "__main__":
    run_tests([
        test_crash_backoff_then_failed,
        test_restart_clears_failed,
        test_reset_clears_failed,
        test_oneshot_exited,
        test_simple_exit_zero_is_exited,
        test_notify_running_only_after_ready,
        test_notify_ready_timeout_fails,
        test_start_waits_for_ready,
        test_notify_from_a_process_in_its_own_session,
        test_watchdog_kills_with_sigabrt,
        test_watchdog_restarts_on_failure,
        test_health_unhealthy_and_back,
        test_health_restart,
        test_health_timeout_counts_as_failure,
        test_health_check_that_cannot_run_says_why,
        test_stop_timeout_then_sigkill,
        test_stop_signal_and_process_group,
        test_leftovers_killed_when_main_exits,
        test_no_wait,
        test_environment_user_workdir,
        test_exec_failure_reported,
        test_missing_envfile_reported,
        test_bad_unit_reported_others_run,
        test_status_table_and_unknown,
    ])
