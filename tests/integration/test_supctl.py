"""supctl as a user meets it: systemctl's exit statuses, is-active/is-failed, the detail view of
`status UNIT`, cat, kill, several units' logs merged with timestamps, what an unprivileged user
may do, stats columns and metrics --json."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Supd, SUPCTL, check, retry, run_tests  # noqa: E402

SLEEPER = "[Unit]\nDescription=A sleeper\n[Service]\nExec=/bin/sleep 100000\n"
ONESHOT = "[Service]\nType=oneshot\nExec=/bin/true\n"
BROKEN = "[Service]\nExec=/bin/sh -c 'exit 7'\nRestart=no\n"
SHORT_TS = r"[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d"


def as_nobody(s, *args):
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", SUPCTL,
                           "--socket", s.socket, *args], capture_output=True, text=True, timeout=30,
                          env=s.env)


def test_exit_statuses():
    units = {"up": SLEEPER, "done": ONESHOT, "bad": BROKEN}
    with Supd(units) as s:
        s.wait_state("up", "running")
        s.wait_state("done", "exited")
        s.wait_state("bad", "failed")
        for args, want in ((("status",), 0), (("status", "up"), 0), (("status", "up", "--json"), 0),
                           (("status", "done"), 3), (("status", "up", "bad"), 3),
                           (("status", "bad", "--json"), 3),
                           (("status", "nosuch"), 4), (("status", "up", "nosuch"), 4),
                           (("start", "nosuch"), 4), (("kill", "nosuch"), 4), (("cat", "nosuch"), 4),
                           (("frobnicate",), 2), (("kill", "up", "-s", "NOSIG"), 2),
                           (("logs", "-o", "fancy"), 2), (("is-active",), 2)):
            r = s.ctl(*args)
            check(r.returncode == want, f"supctl {' '.join(args)}: exit {r.returncode}, want {want}: "
                  f"{r.stderr.strip()}")
    r = subprocess.run([SUPCTL, "--socket", "/nonexistent/supd.sock", "is-active", "up"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 5 and "cannot reach supd" in r.stderr, f"no supd: exit 5: {r}")


def test_is_active_and_is_failed():
    units = {"up": SLEEPER, "done": ONESHOT, "bad": BROKEN,
             "stay": "[Service]\nType=oneshot\nExec=/bin/true\nRemainAfterExit=yes\n"}
    with Supd(units) as s:
        s.wait_state("up", "running")
        s.wait_state("bad", "failed")
        s.wait_state("done", "exited")
        s.wait_state("stay", "exited")
        r = s.ctl("is-active", "stay")
        check(r.returncode == 0 and r.stdout == "active\n", f"RemainAfterExit=yes is active: {r}")
        r = s.ctl("status", "stay")
        check(r.returncode == 0, f"status of a RemainAfterExit=yes oneshot: 0: {r}")
        r = s.ctl("is-active", "up")
        check(r.returncode == 0 and r.stdout == "active\n", f"is-active up: {r}")
        r = s.ctl("is-active", "done")
        check(r.returncode == 3 and r.stdout == "inactive\n", f"a oneshot done is inactive: {r}")
        r = s.ctl("is-active", "bad", "up", "done")
        check(r.returncode == 0 and r.stdout == "failed\nactive\ninactive\n",
              f"one active is enough; each state printed in order: {r}")
        r = s.ctl("is-active", "bad", "done")
        check(r.returncode == 3, f"none active: 3: {r}")
        r = s.ctl("is-active", "--quiet", "bad")
        check(r.returncode == 3 and r.stdout == "" and r.stderr == "", f"--quiet: {r}")
        r = s.ctl("is-active", "-q", "up")
        check(r.returncode == 0 and r.stdout == "", f"-q: {r}")
        r = s.ctl("is-active", "nosuch", "done")
        check(r.returncode == 4 and "nosuch" in r.stderr, f"a unit that does not exist: 4: {r}")
        r = s.ctl("is-active", "nosuch", "up")
        check(r.returncode == 0, f"one active among them: 0: {r}")
        r = s.ctl("is-failed", "bad")
        check(r.returncode == 0 and r.stdout == "failed\n", f"is-failed bad: {r}")
        r = s.ctl("is-failed", "up", "done")
        check(r.returncode == 3 and r.stdout == "active\ninactive\n", f"is-failed, none failed: {r}")
        r = s.ctl("is-failed", "-q", "up", "bad")
        check(r.returncode == 0 and r.stdout == "", f"is-failed -q: {r}")
        r = s.ctl("status", "-q", "up")
        check(r.returncode == 2, f"-q belongs to is-active/is-failed: {r}")
        st = s.status()
        check(st["up"]["active_state"] == "active" and st["bad"]["active_state"] == "failed"
              and st["done"]["active_state"] == "inactive",
              f"active_state in status --json: {st}")


def test_requested_stop_shows_as_stopped():
    with Supd({"up": SLEEPER}) as s:
        s.wait_state("up", "running")
        s.ctl_ok("stop", "up")
        st = s.status("up")
        check(st["state"] == "inactive", f"inactive: {st}")
        check(st["last_exit"].get("stopped") is True and st["last_exit"].get("signal") == "SIGTERM",
              f"last_exit says stopped (and keeps the signal): {st['last_exit']}")
        table = s.ctl_ok("status").stdout
        row = [l for l in table.splitlines() if l.startswith("up ")][0]
        check(row.split()[-1] == "stopped" and "SIGTERM" not in row, f"the table: {row!r}")
        r = s.ctl("status", "up")
        check(r.returncode == 3 and re.search(r"Last exit: stopped", r.stdout), f"the detail view: {r}")
        s.ctl_ok("start", "up")
        s.ctl_ok("restart", "up")
        check(s.status("up")["last_exit"].get("stopped") is True, "a restart's stop too")


def test_no_float_noise():
    with Supd({"up": SLEEPER}) as s:
        s.wait_state("up", "running")
        time.sleep(0.3)
        out = s.ctl_ok("status", "--json").stdout
        m = re.search(r'"state_since_s": ([0-9.e+-]+)', out)
        check(m and len(m.group(1).split(".")[-1]) <= 3, f"state_since_s in milliseconds: {out}")
        m = re.search(r'"state_since_ts": ([0-9.e+-]+)', out)
        check(m and len(m.group(1).split(".")[-1]) <= 3, f"state_since_ts: {out}")


def test_status_detail_view():
    unit = ("[Unit]\nDescription=Web server\n[Service]\n"
            "Exec=/bin/sh -c 'echo hello from web; sleep 100001 & echo child started; wait'\n"
            "HealthCmd=/bin/true\nHealthIntervalSec=1s\n"
            "[Resources]\nMemoryMax=512M\nPidsMax=50\n")
    with Supd({"web": unit}) as s:
        st = s.wait_state("web", "running")
        retry(lambda: "child started" in s.ctl_ok("logs", "web").stdout, what="the child")
        retry(lambda: s.status("web")["health"] == "healthy", what="healthy")
        r = s.ctl("status", "web")
        out = r.stdout
        check(r.returncode == 0, f"running: exit 0: {r}")
        check(out.startswith("● web - Web server\n"), f"name and description first: {out}")
        check(re.search(r"Active: active \(running\) since \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
                        r"\S+; \d+s ago", out), f"state and since when: {out}")
        check(f"Main PID: {st['pid']}" in out, f"main pid: {out}")
        check(re.search(r"Loaded: \S+/web\.unit", out), f"the unit file: {out}")
        check("Restarts: 0" in out and "Last exit: -" in out, f"restarts, last exit: {out}")
        check("Health: healthy" in out, f"health: {out}")
        check(re.search(r"Memory: \S+ \(max: 512M", out), f"memory and its limit: {out}")
        check(re.search(r"Tasks: \d+ \(limit: 50\)", out), f"tasks and their limit: {out}")
        check(re.search(r"CPU: \S+", out), f"cpu: {out}")
        check(re.search(r"[├└]─\d+ /bin/sh -c echo hello", out), f"the main process: {out}")
        check(re.search(r"[├└]─\d+ sleep 100001", out), f"its child, from the cgroup: {out}")
        check(re.search(SHORT_TS + r" hello from web", out), f"the last log lines: {out}")
        # an unprivileged user sees the view without the log
        os.chmod(s.dir, 0o755)
        r = as_nobody(s, "status", "web")
        check(r.returncode == 0 and "● web - Web server" in r.stdout, f"nobody's status: {r}")
        check(not re.search(SHORT_TS + " hello from web", r.stdout) and "Hint:" in r.stdout,
              f"no log lines for nobody: {r}")


def test_cat():
    with Supd({"web": SLEEPER}) as s:
        s.wait_state("web", "running")
        path = os.path.join(s.units, "web.unit")
        r = s.ctl_ok("cat", "web")
        check(r.stdout == f"# {path}\n{SLEEPER}", f"cat: {r.stdout!r}")
        r = s.ctl("cat", "web", "up")
        check(r.returncode == 2, f"one unit: {r}")
        os.chmod(s.dir, 0o755)
        os.chmod(s.units, 0o755)
        os.chmod(path, 0o644)
        r = as_nobody(s, "cat", "web")
        check(r.returncode == 0 and r.stdout.startswith("# "), f"a readable file, for anyone: {r}")
        os.chmod(path, 0o600)
        r = as_nobody(s, "cat", "web")
        check(r.returncode == 1 and "permission denied" in r.stderr, f"a private file: {r}")


def test_kill():
    unit = ("[Service]\nExec=/bin/sh -c 'trap \"echo got-hup >> $T/main\" HUP; "
            "(trap \"echo child-hup >> $T/child\" HUP; while :; do sleep 0.1; done) & "
            "while :; do sleep 0.1; done'\n")
    with Supd({"k": unit, "down": ONESHOT}) as s:
        pid = s.wait_state("k", "running")["pid"]
        time.sleep(0.3)  # the traps set
        s.ctl_ok("kill", "k", "-s", "HUP")
        retry(lambda: os.path.exists(os.path.join(s.dir, "main")), what="HUP to the main process")
        check(not os.path.exists(os.path.join(s.dir, "child")), "only the main process")
        s.ctl_ok("kill", "k", "--signal", "SIGHUP", "--all")
        retry(lambda: os.path.exists(os.path.join(s.dir, "child")), what="HUP to every process")
        check(s.status("k")["pid"] == pid, "still running")
        logs = s.ctl_ok("logs", "k").stdout
        check("supctl kill: SIGHUP sent to the main process" in logs, f"noted in its log: {logs}")
        s.wait_state("down", "exited")
        r = s.ctl("kill", "down")
        check(r.returncode == 1 and "not running" in r.stderr, f"nothing to signal: {r}")
        s.ctl_ok("kill", "k", "-s", "9")
        st = s.wait_state("k", "restarting", "running", "failed", "inactive")
        retry(lambda: s.status("k")["last_exit"] == {"signal": "SIGKILL"}, what="killed by SIGKILL")


def test_reload_unit_runs_exec_reload():
    units = {
        "r": "[Service]\nExec=/bin/sleep 100000\n"
             "ExecReload=/bin/sh -c 'echo \"reloaded $MAINPID\" >> $T/reloads; sleep 0.3'\n",
        "bad": "[Service]\nExec=/bin/sleep 100000\nExecReload=/bin/sh -c 'exit 3'\n",
        "plain": SLEEPER,
        "done": ONESHOT,
    }
    with Supd(units) as s:
        pid = s.wait_state("r", "running")["pid"]
        s.wait_state("bad", "running")
        s.wait_state("done", "exited")
        t0 = time.monotonic()
        r = s.ctl("reload", "r")
        check(r.returncode == 0 and r.stdout == "", f"reload r: {r}")
        check(time.monotonic() - t0 >= 0.25, "it waited for ExecReload= to finish")
        with open(os.path.join(s.dir, "reloads")) as f:
            check(f.read() == f"reloaded {pid}\n", "ExecReload= ran once, with $MAINPID")
        st = s.status("r")
        check(st["state"] == "running" and st["pid"] == pid and st["restarts"] == 0,
              f"still the same run: {st}")
        r = s.ctl("reload", "bad")
        check(r.returncode == 1 and "ExecReload" in r.stderr and "exit code 3" in r.stderr,
              f"a failing ExecReload= fails the command: {r}")
        check(s.status("bad")["state"] == "running", "and the unit runs on")
        r = s.ctl("reload", "plain")
        check(r.returncode == 1 and "no ExecReload=" in r.stderr, f"no ExecReload=: {r}")
        r = s.ctl("reload", "done")
        check(r.returncode == 1 and "not running" in r.stderr, f"not running: {r}")
        r = s.ctl("reload", "nosuch")
        check(r.returncode == 4, f"no such unit: {r}")
        s.ctl_ok("reload", "r", "r")
        r = s.ctl_ok("reload")
        check(r.stdout == "no changes\n", f"plain reload is still the configuration's: {r.stdout!r}")


def test_logs_of_several_units_merged():
    # each line waits for the one before it (and a little more, for supd to read it)
    wait = "while [ ! -e $T/%s ]; do sleep 0.05; done; sleep 0.1"
    units = {
        "a": "[Service]\nExec=/bin/sh -c 'echo a1; touch $T/a1; %s; echo a2; touch $T/a2; "
             "sleep 100000'\n" % (wait % "b1"),
        "b": "[Service]\nExec=/bin/sh -c '%s; echo b1; touch $T/b1; %s; echo b2; sleep 100000'\n"
             "SyslogIdentifier=bee\n" % (wait % "a1", wait % "a2"),
    }
    with Supd(units) as s:
        retry(lambda: "b2" in s.ctl_ok("logs", "b").stdout, what="both units' lines")
        out = s.ctl_ok("logs", "a", "b", "-o", "cat").stdout
        check(out.split("\n")[:4] == ["a1", "b1", "a2", "b2"], f"-o cat: the text alone, merged: {out!r}")
        out = s.ctl_ok("logs", "a", "b").stdout
        lines = [l for l in out.splitlines() if "supd:" not in l]
        check(len(lines) == 4, f"four lines: {out}")
        for l, (who, text) in zip(lines, [("a", "a1"), ("bee", "b1"), ("a", "a2"), ("bee", "b2")]):
            check(re.fullmatch(SHORT_TS + f" {who}: {text}", l),
                  f"time, then the unit (SyslogIdentifier= for b), then the text: {l!r}")
        out = s.ctl_ok("logs").stdout
        check([l.split(": ", 1)[1] for l in out.splitlines() if "supd:" not in l] == ["a1", "b1", "a2", "b2"],
              f"no unit named: every unit: {out}")
        out = s.ctl_ok("logs", "-n", "2").stdout
        check(out.splitlines()[-1].endswith("bee: b2") and len(out.splitlines()) == 2,
              f"-n counts the merged lines: {out}")
        out = s.ctl_ok("logs", "a").stdout
        check(re.fullmatch(SHORT_TS + " a1", out.splitlines()[0]), f"one unit: time, no label: {out}")
        out = s.ctl_ok("logs", "a", "--no-timestamps").stdout
        check(out.splitlines()[0] == "a1", f"--no-timestamps: {out}")
        out = s.ctl_ok("logs", "a", "b", "--no-timestamps").stdout
        check(out.splitlines()[0] == "a: a1", f"--no-timestamps keeps the label: {out}")
        out = s.ctl_ok("logs", "a", "-o", "short-iso").stdout
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) a1", out.splitlines()[0]),
              f"-o short-iso: {out}")
        out = s.ctl_ok("logs", "a", "-o", "short-precise").stdout
        check(re.fullmatch(SHORT_TS + r"\.\d{3} a1", out.splitlines()[0]), f"-o short-precise: {out}")
        out = s.ctl_ok("logs", "a", "b", "--json").stdout
        objs = [json.loads(l) for l in out.splitlines()]
        check(objs[1]["unit"] == "b" and objs[1]["ident"] == "bee" and objs[0]["unit"] == "a",
              f"--json lines carry the unit: {objs}")


def test_logs_follow_several_units():
    units = {
        "a": "[Service]\nExec=/bin/sh -c 'while [ ! -e $T/go ]; do sleep 0.05; done; echo a-new; "
             "sleep 0.2; touch $T/go2; sleep 100000'\n",
        "b": "[Service]\nExec=/bin/sh -c 'while [ ! -e $T/go2 ]; do sleep 0.05; done; echo b-new; "
             "sleep 100000'\n",
    }
    with Supd(units) as s:
        s.wait_state("a", "running")
        s.wait_state("b", "running")
        p = subprocess.Popen([SUPCTL, "--socket", s.socket, "logs", "-f", "-n", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=s.env)
        try:
            time.sleep(0.5)
            open(os.path.join(s.dir, "go"), "w").close()
            got = []
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(got) < 2:
                line = p.stdout.readline()
                if "-new" in line:
                    got.append(line.rstrip("\n"))
            check(len(got) == 2 and re.fullmatch(SHORT_TS + " a: a-new", got[0])
                  and re.fullmatch(SHORT_TS + " b: b-new", got[1]), f"-f of every unit: {got}")
        finally:
            p.kill()
            p.wait()


def test_unprivileged_user():
    with Supd({"up": SLEEPER}) as s:
        pid = s.wait_state("up", "running")["pid"]
        os.chmod(s.dir, 0o755)
        check(os.stat(s.socket).st_mode & 0o777 == 0o666, "the socket is open to every local user")
        for args in (("status",), ("status", "up"), ("status", "--json"), ("is-active", "up"),
                     ("is-failed", "up"), ("stats",), ("metrics",), ("version",)):
            r = as_nobody(s, *args)
            check(r.returncode in (0, 3) and r.stdout, f"nobody may {' '.join(args)}: {r}")
        for args in (("logs", "up"), ("logs",), ("logs", "up", "-f"), ("stop", "up"), ("start", "up"),
                     ("restart", "up"), ("reset", "up"), ("reload",), ("reload", "up"), ("kill", "up"),
                     ("kill", "up", "--all", "-s", "KILL")):
            r = as_nobody(s, *args)
            check(r.returncode == 1 and "permission denied" in r.stderr and "uid 65534" in r.stderr,
                  f"nobody may not {' '.join(args)}: {r}")
        r = as_nobody(s, "logs", "up")
        check("read logs" in r.stderr, f"says what is refused: {r.stderr}")
        st = s.status("up")
        check(st["pid"] == pid and st["state"] == "running", f"untouched: {st}")


def test_group_may_read_logs():
    with Supd({"up": SLEEPER}, config="[Control]\nGroup=4242\n") as s:
        s.wait_state("up", "running")
        os.chmod(s.dir, 0o755)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=4242", "--clear-groups", SUPCTL,
                            "--socket", s.socket, "logs", "up", "-n", "0"], capture_output=True,
                           text=True, timeout=30, env=s.env)
        check(r.returncode == 0, f"the [Control] Group= reads logs: {r}")


def test_stats_columns_and_metrics_json():
    long = "a-rather-long-unit-name-for-columns-0123456789"
    with Supd({"up": SLEEPER, long: SLEEPER}) as s:
        s.wait_state("up", "running")
        s.wait_state(long, "running")
        out = s.ctl_ok("stats").stdout.splitlines()
        state_col = {l.index(" running") if " running" in l else None for l in out[1:]}
        check(out[0].index("STATE") == out[1].index("running") == out[2].index("running"),
              f"columns aligned with a long name: {out}")
        check(len(state_col) == 1, f"{out}")
        r = s.ctl_ok("metrics", "--json")
        data = json.loads(r.stdout)
        states = [m for m in data if m["name"] == "sup_unit_state" and m["labels"].get("unit") == "up"
                  and m["labels"].get("state") == "running"]
        check(states and states[0]["value"] == 1, f"metrics --json: {states} {r.stdout[:500]}")


if __name__ == "__main__":
    run_tests([
        test_exit_statuses,
        test_is_active_and_is_failed,
        test_requested_stop_shows_as_stopped,
        test_no_float_noise,
        test_status_detail_view,
        test_cat,
        test_kill,
        test_reload_unit_runs_exec_reload,
        test_logs_of_several_units_merged,
        test_logs_follow_several_units,
        test_unprivileged_user,
        test_group_may_read_logs,
        test_stats_columns_and_metrics_json,
    ])
