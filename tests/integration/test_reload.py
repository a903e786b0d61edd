"""Reload (supctl reload and SIGHUP): add new units, remove deleted ones, restart exactly the
changed ones, leave the rest alone; invalid and fixed unit files."""

import json
import os
import re
import signal
import socket
import struct

from harness import Supd, Fail, check, retry, run_tests


def ns_alive(s, pid):
    """Whether pid (as supd's namespace numbers it) still exists there (zombie or not)."""
    return os.path.exists(f"/proc/{s.supd_pid()}/root/proc/{pid}")


def request(s, obj, timeout=10):
    """One request over the control socket, by hand: the reply object."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(timeout)
        c.connect(s.socket)
        body = json.dumps(obj).encode()
        c.sendall(struct.pack(">I", len(body)) + body)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
            chunk = c.recv(65536)
            if not chunk:
                raise Fail(f"connection closed after {len(buf)} bytes of the reply")
            buf += chunk
        return json.loads(buf[4:4 + struct.unpack(">I", buf[:4])[0]])


KEEP = "[Service]\nExec=/bin/sleep 1000\n"
GONE = "[Service]\nExec=/bin/sleep 1001\n"
NEW = "[Service]\nExec=/bin/sh -c 'touch \"$T/new.ran\"; exec sleep 1002'\n"


def chg(v):
    return f"[Service]\nExec=/bin/sh -c 'echo \"$V\" > \"$T/chg.v\"; exec sleep 1000'\nEnvironment=V={v}\n"


def read(s, name):
    try:
        with open(os.path.join(s.dir, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def start_three(s):
    pids = {n: s.wait_state(n, "running")["pid"] for n in ("keep", "chg", "gone")}
    retry(lambda: read(s, "chg.v") == "1", what="chg's first run to write V")
    return pids


def edit_three(s):
    s.write_unit("new", NEW)
    s.remove_unit("gone")
    s.write_unit("chg", chg(2))
    s.write_unit("keep", KEEP)  # rewritten, same text: not a change


def check_three(s, pids):
    def listed():
        st = s.status()
        return st if "gone" not in st and "new" in st else None
    names = retry(listed, what="gone removed and new added")
    check(set(names) == {"keep", "chg", "new"}, f"units after reload: {sorted(names)}")
    r = s.ctl("status", "gone")
    check(r.returncode == 3, f"a removed unit is unknown: exit {r.returncode}")
    retry(lambda: not ns_alive(s, pids["gone"]), timeout=10, what="the removed unit's process to go")
    s.wait_state("new", "running")
    retry(lambda: read(s, "new.ran") is not None, what="new to run")
    def restarted():
        u = s.status("chg")
        return u if u["state"] == "running" and u["pid"] != pids["chg"] else None
    retry(restarted, what="chg running with a new process")
    retry(lambda: read(s, "chg.v") == "2", what="chg's new run to see V=2")
    st = s.status("keep")
    check(st["state"] == "running" and st["pid"] == pids["keep"] and st["restarts"] == 0,
          f"unchanged unit left alone: {st} (pid was {pids['keep']})")


def said(out, word, name):
    """Some line of supctl's output says `word` (added/removed/changed) about `name`."""
    return any(word in line.lower() and name in re.split(r"[^A-Za-z0-9_.@-]+", line)
               for line in out.splitlines())


def test_reload_add_remove_change():
    with Supd({"keep": KEEP, "chg": chg(1), "gone": GONE}) as s:
        pids = start_three(s)
        edit_three(s)
        r = s.ctl_ok("reload")
        out = r.stdout
        check(said(out, "add", "new"), f"reload says new was added: {out!r}")
        check(said(out, "remov", "gone"), f"reload says gone was removed: {out!r}")
        check(said(out, "chang", "chg"), f"reload says chg was changed: {out!r}")
        check("keep" not in out, f"keep is not mentioned: {out!r}")
        check_three(s, pids)


def test_reload_reply_lists_exact_sets():
    with Supd({"keep": KEEP, "chg": chg(1), "gone": GONE}) as s:
        pids = start_three(s)
        edit_three(s)
        rep = request(s, {"v": 1, "cmd": "reload"})
        check(rep.get("ok") is True, f"reload ok: {rep}")
        d = rep["data"]
        check((sorted(d["added"]), sorted(d["removed"]), sorted(d["changed"])) == (["new"], ["gone"], ["chg"]),
              f"reload reply: {d}")
        check_three(s, pids)
        # again, with nothing changed on disk: nothing happens
        pids = {n: s.status(n)["pid"] for n in ("keep", "chg", "new")}
        rep = request(s, {"v": 1, "cmd": "reload"})
        check(rep.get("ok") and rep["data"] == {"added": [], "removed": [], "changed": [],
                                                "errors": {}},
              f"a second reload changes nothing: {rep}")
        st = s.status()
        for n, p in pids.items():
            check(st[n]["state"] == "running" and st[n]["pid"] == p, f"{n} untouched: {st[n]}")


def test_sighup_reloads():
    with Supd({"keep": KEEP, "chg": chg(1), "gone": GONE}) as s:
        pids = start_three(s)
        edit_three(s)
        s.signal(signal.SIGHUP)
        check_three(s, pids)


def test_invalid_file_on_reload_keeps_the_configuration_in_force():
    """A typo in a running unit's file: the reload keeps the configuration in force (the unit
    and what requires it keep running) and reports the error in a field of its own."""
    units = {"u": "[Service]\nExec=/bin/sleep 1000\n", "other": KEEP,
             "needs-u": "[Unit]\nRequires=u\n\n[Service]\nExec=/bin/sleep 1000\n"}
    with Supd(units) as s:
        pid = s.wait_state("u", "running")["pid"]
        other = s.wait_state("other", "running")["pid"]
        needs = s.wait_state("needs-u", "running")["pid"]
        s.write_unit("u", "[Service]\nExec=/bin/sleep 1000\nRestart=sometimes\n")
        r = s.ctl_ok("reload")
        check(said(r.stdout, "not reloaded", "u") and "previous configuration" in r.stdout,
              f"reload says u was not reloaded: {r.stdout!r}")
        check(not said(r.stdout, "chang", "u"), f"u is not changed: {r.stdout!r}")
        st = s.status("u")
        err = st["reload_error"] or ""
        check("u.unit:3" in err and "Restart" in err, f"reload_error names file:line and key: {st}")
        check(st["state"] == "running" and st["pid"] == pid and st["error"] is None,
              f"u keeps running on its old configuration: {st}")
        for n, p in (("other", other), ("needs-u", needs)):
            st = s.status(n)
            check(st["state"] == "running" and st["pid"] == p and st["restarts"] == 0,
                  f"{n} keeps running: {st}")
        table = s.ctl_ok("status").stdout
        check("u: not reloaded:" in table and "u.unit:3" in table, f"the table says so: {table!r}")
        s.ctl_ok("reload")  # the same typo again: still kept, still reported
        check(s.status("u")["pid"] == pid, "a second reload changes nothing")
        s.ctl_ok("restart", "u")  # the configuration in force is the old one
        check(s.status("u")["state"] == "running", "u restarts on its old configuration")
        s.write_unit("u", "[Service]\nExec=/bin/sleep 1001\n")
        r = s.ctl_ok("reload")
        check(said(r.stdout, "chang", "u"), f"the fixed file is a change: {r.stdout!r}")
        st = s.wait_state("u", "running")
        check(st["reload_error"] is None, f"fixed: reload_error cleared: {st}")


def test_fixed_bad_unit_runs_after_reload():
    bad = "[Unit]\nRequires=nosuch\n\n[Service]\nExec=/bin/sleep 1000\n"
    with Supd({"u": "[Service]\nExec=/bin/sleep 1000\nRestart=sometimes\n", "other": KEEP,
               "needs-u": "[Unit]\nRequires=u\n\n[Service]\nExec=/bin/sleep 1000\n", "dangling": bad}) as s:
        other = s.wait_state("other", "running")["pid"]
        check(s.status("u")["state"] == "bad-unit", "u starts out bad")
        check(s.status("dangling")["state"] == "bad-unit", "dangling starts out bad")
        check(s.status("needs-u")["state"] != "running", "needs-u cannot run without u")
        s.write_unit("u", "[Service]\nExec=/bin/sleep 1000\n")
        s.write_unit("nosuch", KEEP)  # what dangling requires now exists
        r = s.ctl_ok("reload")
        check(said(r.stdout, "chang", "u"), f"reload says u changed: {r.stdout!r}")
        check(said(r.stdout, "add", "nosuch"), f"reload says nosuch was added: {r.stdout!r}")
        for n in ("u", "needs-u", "nosuch", "dangling"):
            st = s.wait_state(n, "running")
            check(st["error"] is None and st["pid"] > 0, f"{n} runs once fixed: {st}")
        st = s.status("other")
        check(st["pid"] == other and st["restarts"] == 0, f"other untouched: {st}")


def test_reload_leaves_stopped_units_stopped():
    with Supd({"keep": KEEP, "chg": chg(1)}) as s:
        s.wait_state("keep", "running")
        s.wait_state("chg", "running")
        s.ctl_ok("stop", "keep", "chg")
        s.write_unit("chg", chg(2))
        r = s.ctl_ok("reload")
        check(said(r.stdout, "chang", "chg"), f"reload says chg changed: {r.stdout!r}")
        st = s.status()
        check(st["keep"]["state"] == "inactive", f"a stopped unit stays stopped: {st['keep']}")
        check(st["chg"]["state"] == "inactive", f"a stopped, changed unit stays stopped: {st['chg']}")
        s.ctl_ok("start", "chg")
        retry(lambda: read(s, "chg.v") == "2", what="chg to start with its new config")


def test_changed_requirement_restarts_dependants():
    units = {
        "db": "[Service]\nExec=/bin/sleep 1000\nEnvironment=V=1\n",
        "app": "[Unit]\nRequires=db\n\n[Service]\nExec=/bin/sleep 1000\n",
        "other": KEEP,
    }
    with Supd(units) as s:
        pids = {n: s.wait_state(n, "running")["pid"] for n in units}
        s.write_unit("db", "[Service]\nExec=/bin/sleep 1000\nEnvironment=V=2\n")
        rep = request(s, {"v": 1, "cmd": "reload"})
        check(rep.get("ok") and rep["data"]["changed"] == ["db"] and not rep["data"]["added"]
              and not rep["data"]["removed"], f"only db changed: {rep}")
        for n in ("db", "app"):
            def restarted():
                u = s.status(n)
                return u if u["state"] == "running" and u["pid"] != pids[n] else None
            retry(restarted, what=f"{n} running with a new process")
        st = s.status("other")
        check(st["pid"] == pids["other"], f"other untouched: {st}")


def test_removed_requirement_stops_dependant():
    units = {"db": KEEP, "app": "[Unit]\nRequires=db\n\n[Service]\nExec=/bin/sleep 1000\n", "other": KEEP}
    with Supd(units) as s:
        pids = {n: s.wait_state(n, "running")["pid"] for n in units}
        s.remove_unit("db")
        s.ctl_ok("reload")
        st = s.wait_state("app", "bad-unit", "failed")
        check("db" in (st["error"] or ""), f"app's error names db: {st['error']!r}")
        for n in ("db", "app"):
            retry(lambda: not ns_alive(s, pids[n]), timeout=10, what=f"{n}'s process to be gone")
        st = s.status("other")
        check(st["state"] == "running" and st["pid"] == pids["other"], f"other untouched: {st}")


def test_repeated_reloads_change_nothing():
    with Supd({"keep": KEEP, "chg": chg(1)}) as s:
        pids = {n: s.wait_state(n, "running")["pid"] for n in ("keep", "chg")}
        for _ in range(10):
            r = s.ctl_ok("reload")
            check("keep" not in r.stdout and "chg" not in r.stdout, f"nothing to report: {r.stdout!r}")
            s.signal(signal.SIGHUP)
        s.ctl_ok("status")  # every SIGHUP handled before this is answered, or soon after
        for n, p in pids.items():
            st = s.status(n)
            check(st["state"] == "running" and st["pid"] == p and st["restarts"] == 0,
                  f"{n} untouched by 20 reloads: {st}")


def test_reload_of_unreadable_directory_fails_cleanly():
    with Supd({"keep": KEEP}) as s:
        pid = s.wait_state("keep", "running")["pid"]
        os.rename(s.units, s.units + ".away")
        try:
            r = s.ctl("reload")
            check(r.returncode == 1 and r.stderr.strip(), f"reload without a units directory: {r.returncode} {r.stderr!r}")
            st = s.status("keep")
            check(st["state"] == "running" and st["pid"] == pid, f"nothing removed by a failed reload: {st}")
        finally:
            os.rename(s.units + ".away", s.units)
        s.ctl_ok("reload")
        check(s.status("keep")["pid"] == pid, "and a good reload after it changes nothing")


# a service that takes ~1 s to stop, and says when it got its stop signal and when it left
SLOW = ("[Service]\nExec=/bin/sh -c '"
        "trap \"echo term >> \\\"$T/slow.log\\\"; sleep 1; echo clean >> \\\"$T/slow.log\\\"; exit 0\" TERM; "
        "echo $$ >> \"$T/slow.pids\"; while :; do sleep 0.05; done'\nStopTimeoutSec=20s\n")


def trap_set(s, n=1):
    """The n-th run of SLOW has its trap in place."""
    retry(lambda: len((read(s, "slow.pids") or "").split()) >= n, what=f"run {n}'s trap")


def test_reload_during_requested_stop_keeps_it_down():
    with Supd({"slow": SLOW}) as s:
        s.wait_state("slow", "running")
        trap_set(s)
        s.ctl_ok("stop", "--no-wait", "slow")
        retry(lambda: "term" in (read(s, "slow.log") or ""), what="the stop signal to arrive")
        s.write_unit("slow", SLOW + "Environment=CHANGED=1\n")
        r = s.ctl_ok("reload")
        check(said(r.stdout, "chang", "slow"), f"the reload saw the change: {r.stdout!r}")
        st = s.wait_state("slow", "inactive", timeout=15)
        check(st["pid"] == 0, f"stopped by request, it stays stopped: {st}")
        with open(os.path.join(s.dir, "slow.pids")) as f:
            check(len(f.read().split()) == 1, "it never ran again")
        s.ctl_ok("start", "slow")  # the new configuration is there for the next start


def test_readded_unit_waits_for_its_old_instance():
    """A unit removed by one reload and added back by the next while its old instance is still
    stopping: the new instance waits (state starting) until the old one is gone, rather than
    sharing its cgroup (which killed the old one early and made the new one fail)."""
    # the old instance takes 5 s to stop: the second reload lands well within that even on
    # a loaded machine
    slow = SLOW.replace("sleep 1;", "sleep 5;")
    with Supd({"slow": slow}) as s:
        old = s.wait_state("slow", "running")["pid"]
        trap_set(s)
        s.remove_unit("slow")
        s.ctl_ok("reload")
        retry(lambda: "term" in (read(s, "slow.log") or ""), what="the old instance's stop signal")
        s.write_unit("slow", slow)
        r = s.ctl_ok("reload")
        check(said(r.stdout, "add", "slow"), f"added again: {r.stdout!r}")
        st = s.status("slow")
        check(st["state"] == "starting" and st["pid"] == 0,
              f"the new instance waits while the old one stops: {st}")
        st = s.wait_state("slow", "running", timeout=60)
        check(st["pid"] != old and st["restarts"] == 0, f"a new instance runs: {st}")
        check(read(s, "slow.log") == "term\nclean", f"the old one ended cleanly: {read(s, 'slow.log')!r}")
        check(not ns_alive(s, old), "the old instance is gone")


if __name__ == "__main__":
    run_tests([
        test_reload_add_remove_change,
        test_reload_reply_lists_exact_sets,
        test_sighup_reloads,
        test_invalid_file_on_reload_keeps_the_configuration_in_force,
        test_fixed_bad_unit_runs_after_reload,
        test_reload_leaves_stopped_units_stopped,
        test_changed_requirement_restarts_dependants,
        test_removed_requirement_stops_dependant,
        test_repeated_reloads_change_nothing,
        test_reload_of_unreadable_directory_fails_cleanly,
        test_reload_during_requested_stop_keeps_it_down,
        test_readded_unit_waits_for_its_old_instance,
    ])
