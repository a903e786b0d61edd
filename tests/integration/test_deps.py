"""Dependencies: start order, a failed requirement, Wants=, bad graphs, reverse stop order.

Unit names are chosen so that dependency order differs from both alphabetical and reverse
alphabetical order: db <- cache <- web (web Requires=cache Requires=db).
"""

import os
import signal
import time

from harness import Fail, Supd, check, retry, run_tests


def ev(s, name):
    return os.path.join(s.dir, name)


def read_float(path):
    """A timestamp a unit wrote, once it is all there (a simple unit runs on before it is)."""
    def whole():
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        return float(text) if text.endswith("\n") else None
    return retry(whole, timeout=5, what=f"a timestamp in {path}")


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def stop_order(s):
    """Units in the order their TERM traps ran (each once: a repeated signal is test_pid1's matter)."""
    return list(dict.fromkeys(read_lines(ev(s, "stops"))))


def ns_alive(s, pid):
    """Whether pid (as supd's namespace numbers it) still exists there (zombie or not)."""
    return os.path.exists(f"/proc/{s.supd_pid()}/root/proc/{pid}")


def unit(exec_line, requires=(), after=(), wants=(), service_extra=""):
    head = ""
    if requires:
        head += "Requires=" + " ".join(requires) + "\n"
    if after:
        head += "After=" + " ".join(after) + "\n"
    if wants:
        head += "Wants=" + " ".join(wants) + "\n"
    if head:
        head = "[Unit]\n" + head + "\n"
    return f"{head}[Service]\nExec={exec_line}\n{service_extra}"


def notify_stamped(name, ready_delay="0.2"):
    """A notify unit that stamps its start, becomes ready after ready_delay, stamps that too."""
    return ("/bin/sh -c 'date +%s.%N > \"$T/" + name + ".start\"; sleep " + ready_delay +
            "; date +%s.%N > \"$T/" + name + ".ready\"; sup-notify READY=1; exec sleep 1000'")


def trapped(name):
    """A unit that records its own stop (SIGTERM) in $T/stops, and says when its trap is set."""
    return ("/bin/sh -c 'trap \"echo " + name + " >> $T/stops; exit 0\" TERM; sleep 1000 & "
            "touch \"$T/" + name + ".up\"; wait'")


def test_requires_chain_start_order():
    units = {
        "db": unit(notify_stamped("db")) + "Type=notify\n",
        "cache": unit(notify_stamped("cache"), requires=["db"]) + "Type=notify\n",
        "web": unit(notify_stamped("web"), requires=["cache"]) + "Type=notify\n",
    }
    with Supd(units) as s:
        for n in ("db", "cache", "web"):
            s.wait_state(n, "running", timeout=10)
        db, cache, web = (read_float(ev(s, f"{n}.start")) for n in ("db", "cache", "web"))
        db_ready, cache_ready = read_float(ev(s, "db.ready")), read_float(ev(s, "cache.ready"))
        # Requires= alone implies ordering: each starts only once its requirement is ready
        check(cache >= db_ready, f"cache started at {cache:.3f} before db was ready at {db_ready:.3f}")
        check(web >= cache_ready, f"web started at {web:.3f} before cache was ready at {cache_ready:.3f}")
        check(db < cache < web, f"start order db < cache < web: {db:.3f} {cache:.3f} {web:.3f}")


def test_requires_oneshot_waits_for_its_exit():
    units = {
        "setup": unit("/bin/sh -c 'sleep 0.3; date +%s.%N > \"$T/setup.done\"'", service_extra="Type=oneshot\n"),
        "app": unit("/bin/sh -c 'date +%s.%N > \"$T/app.start\"; exec sleep 1000'", requires=["setup"]),
    }
    with Supd(units) as s:
        s.wait_state("app", "running", timeout=10)
        check(s.status("setup")["state"] == "exited", "the oneshot is done")
        app, done = read_float(ev(s, "app.start")), read_float(ev(s, "setup.done"))
        check(app >= done, f"app started at {app:.3f}, before its oneshot requirement finished at {done:.3f}")


def test_requires_failed_oneshot_fails_dependant():
    units = {
        "setup": unit("/bin/sh -c 'sleep 0.2; exit 3'", service_extra="Type=oneshot\nRestart=no\n"),
        "app": unit("/bin/sh -c 'touch \"$T/app.ran\"; exec sleep 1000'", requires=["setup"]),
    }
    with Supd(units) as s:
        s.wait_state("setup", "failed", timeout=10)
        st = s.wait_state("app", "failed", timeout=10)
        check("setup" in (st["error"] or ""), f"app's error names setup: {st['error']!r}")
        check(not os.path.exists(ev(s, "app.ran")), "app never ran")


def test_after_only_orders_start():
    units = {
        "early": unit(notify_stamped("early", "0.3")) + "Type=notify\n",
        "late": unit("/bin/sh -c 'date +%s.%N > \"$T/late.start\"; exec sleep 1000'", after=["early"]),
    }
    with Supd(units) as s:
        s.wait_state("late", "running", timeout=10)
        s.wait_state("early", "running", timeout=10)
        late, early_ready = read_float(ev(s, "late.start")), read_float(ev(s, "early.ready"))
        check(late >= early_ready, f"late started at {late:.3f} before early was ready at {early_ready:.3f}")


def test_after_a_failed_unit_still_starts():
    units = {
        "broken": unit("/bin/sh -c 'sleep 0.3; exit 1'", service_extra="Restart=no\n"),
        "late": unit("/bin/sleep 1000", after=["broken"]),
    }
    with Supd(units) as s:
        s.wait_state("broken", "failed", timeout=10)
        st = s.wait_state("late", "running", timeout=10)
        check(st["pid"] > 0 and st["error"] is None, f"After= is ordering only: {st}")


def test_failed_requirement_fails_running_dependant():
    units = {
        "base": unit("/bin/sh -c 'while ! test -f \"$T/die\"; do sleep 0.05; done; exit 1'",
                     service_extra="Restart=no\n"),
        "dep": unit("/bin/sleep 1000", requires=["base"]),
    }
    with Supd(units) as s:
        s.wait_state("base", "running")
        pid = s.wait_state("dep", "running")["pid"]
        check(pid > 0, "dep runs")
        open(ev(s, "die"), "w").close()
        st = s.wait_state("base", "failed", timeout=10)
        check(st["last_exit"] == {"code": 1}, f"base last_exit {st['last_exit']}")
        st = s.wait_state("dep", "failed", timeout=10)
        check("base" in (st["error"] or ""), f"dep's error names its requirement: {st['error']!r}")
        check(st["pid"] == 0, f"dep has no process: {st}")
        retry(lambda: not ns_alive(s, pid), timeout=5, what="dep's process to be gone")
        # failed stays failed: it is not restarted behind the user's back
        for _ in range(10):
            st = s.status("dep")
            check(st["state"] == "failed" and st["restarts"] == 0, f"dep stays failed: {st}")
            time.sleep(0.05)
        r = s.ctl("status")
        check(r.returncode == 0 and "failed" in r.stdout, f"the table shows it: {r.stdout}")


def test_requirement_restart_takes_dependant_down_and_up():
    units = {
        "base": unit("/bin/sh -c 'test -f \"$T/once\" && exec sleep 1000; touch \"$T/once\"; "
                     "while ! test -f \"$T/die\"; do sleep 0.05; done; exit 1'",
                     service_extra="RestartSec=100ms\n"),
        "dep": unit("/bin/sleep 1000", requires=["base"]),
    }
    with Supd(units) as s:
        s.wait_state("base", "running")
        pid = s.wait_state("dep", "running")["pid"]
        open(ev(s, "die"), "w").close()
        retry(lambda: s.status("base")["restarts"] == 1, timeout=10, what="base to restart")
        s.wait_state("base", "running")

        def back():
            d = s.status("dep")
            return d if d["state"] == "running" and d["pid"] not in (0, pid) else None
        st = retry(back, timeout=10, what="dep back up with a new process")
        check(st["error"] is None, f"dep is fine again: {st}")
        retry(lambda: not ns_alive(s, pid), timeout=5, what="dep's old process to be gone")


def test_requirement_restarts_do_not_use_up_the_dependants_start_limit():
    """Eight requested restarts of a requirement within a minute take its dependant down and
    up eight times: that is not the dependant crash-looping (default StartLimitBurst=5)."""
    units = {
        "base": unit("/bin/sleep 1000"),
        "dep": unit("/bin/sleep 1000", requires=["base"]),
    }
    with Supd(units) as s:
        s.wait_state("dep", "running")
        pids = {s.status("dep")["pid"]}
        for i in range(8):
            s.ctl_ok("restart", "base")

            def back():
                d = s.status("dep")
                return d if d["state"] == "running" and d["pid"] not in pids else None
            try:
                st = retry(back, timeout=10, what=f"dep back up after base's restart {i + 1}")
            except Fail:
                raise Fail(f"after base's restart {i + 1}: dep is {s.status('dep')}")
            pids.add(st["pid"])
        st = s.status("dep")
        check(st["state"] == "running" and st["error"] is None, f"dep runs: {st}")


def test_wants_failure_does_not_stop_wanter():
    units = {
        "helper": unit("/bin/sh -c 'while ! test -f \"$T/die\"; do sleep 0.05; done; exit 1'",
                       service_extra="Restart=no\n"),
        "wanter": unit("/bin/sleep 1000", wants=["helper"]),
        # same situation with Requires=: reacts in the same pass, so it is our sync point
        "needer": unit("/bin/sleep 1000", requires=["helper"]),
    }
    with Supd(units) as s:
        s.wait_state("helper", "running")
        s.wait_state("needer", "running")
        pid = s.wait_state("wanter", "running")["pid"]
        open(ev(s, "die"), "w").close()
        s.wait_state("helper", "failed", timeout=10)
        s.wait_state("needer", "failed", timeout=10)
        for _ in range(10):
            st = s.status("wanter")
            check(st["state"] == "running" and st["pid"] == pid and st["restarts"] == 0,
                  f"wanter untouched by its Wants= failing: {st}")
            time.sleep(0.05)
        check(ns_alive(s, pid), "wanter's process still there")


def test_missing_requirement_and_cycle_are_bad_units():
    marker = "/bin/sh -c 'touch \"$T/started-$SUP_UNIT\"; exec sleep 1000'"
    units = {
        "orphan": unit(marker, requires=["nosuch"]),
        "ring-one": unit(marker, requires=["ring-two"]),
        "ring-two": unit(marker, requires=["ring-one"]),
        "fine": unit(marker),
    }
    with Supd(units) as s:
        s.wait_state("fine", "running")
        st = s.status()
        for n in ("orphan", "ring-one", "ring-two"):
            check(st[n]["state"] == "bad-unit", f"{n}: {st[n]['state']}")
            check(st[n]["pid"] == 0, f"{n} has no process")
            check(not os.path.exists(ev(s, f"started-{n}")), f"{n} was never started")
        check("nosuch" in (st["orphan"]["error"] or ""), f"orphan's error: {st['orphan']['error']!r}")
        check("ring-two" in (st["ring-one"]["error"] or ""), f"ring-one's error: {st['ring-one']['error']!r}")
        check("ring-one" in (st["ring-two"]["error"] or ""), f"ring-two's error: {st['ring-two']['error']!r}")
        r = s.ctl("start", "orphan")
        check(r.returncode == 1, f"start of a bad unit fails with 1: {r.returncode} {r.stderr}")


def test_bad_unit_state_since_counts_from_load():
    with Supd({"orphan": unit("/bin/sleep 1000", requires=["nosuch"]), "fine": unit("/bin/sleep 1000")}) as s:
        s.wait_state("fine", "running")
        st = s.status("orphan")
        check(st["state"] == "bad-unit", f"orphan: {st['state']}")
        check(0 <= st["state_since_s"] < 60, f"bad-unit since supd loaded it, not since boot: {st['state_since_s']}")


def test_after_cycle_is_bad_unit_others_run():
    marker = "/bin/sh -c 'touch \"$T/started-$SUP_UNIT\"; exec sleep 1000'"
    units = {
        "ord-one": unit(marker, after=["ord-two"]),
        "ord-two": unit(marker, after=["ord-one"]),
        "fine": unit(marker),
    }
    with Supd(units) as s:
        s.wait_state("fine", "running")
        st = s.status()
        for n, other in (("ord-one", "ord-two"), ("ord-two", "ord-one")):
            check(st[n]["state"] == "bad-unit", f"{n} on an ordering cycle: {st[n]['state']}")
            check(other in (st[n]["error"] or ""), f"{n}'s error names {other}: {st[n]['error']!r}")


def test_missing_after_and_wants_are_not_errors():
    units = {
        "loose": unit("/bin/sleep 1000", after=["nosuch-a"], wants=["nosuch-w"]),
    }
    with Supd(units) as s:
        st = s.wait_state("loose", "running")
        check(st["error"] is None, f"no error: {st}")


def test_start_pulls_in_requirements():
    units = {
        "db": unit("/bin/sleep 1000"),
        "cache": unit("/bin/sleep 1000", requires=["db"]),
        "web": unit("/bin/sleep 1000", requires=["cache"]),
    }
    with Supd(units) as s:
        for n in ("db", "cache", "web"):
            s.wait_state(n, "running")
        s.ctl_ok("stop", "db")
        st = s.status()
        for n in ("db", "cache", "web"):
            check(st[n]["state"] == "inactive", f"stop db takes {n} down: {st[n]['state']}")
        s.ctl_ok("start", "web")
        st = s.status()
        for n in ("db", "cache", "web"):
            check(st[n]["state"] == "running", f"start web brings {n} up: {st[n]['state']}")


def test_start_pulls_in_wants():
    units = {
        "helper": unit("/bin/sleep 1000"),
        "wanter": unit("/bin/sleep 1000", wants=["helper"]),
    }
    with Supd(units) as s:
        s.wait_state("helper", "running")
        s.wait_state("wanter", "running")
        s.ctl_ok("stop", "wanter", "helper")
        s.ctl_ok("start", "wanter")
        s.wait_state("wanter", "running")
        s.wait_state("helper", "running", timeout=5)


def chain_with_traps():
    return {
        "db": unit(trapped("db")),
        "cache": unit(trapped("cache"), requires=["db"]),
        "web": unit(trapped("web"), requires=["cache"]),
    }


def wait_traps(s, names):
    for n in names:
        s.wait_state(n, "running")
        retry(lambda: os.path.exists(ev(s, f"{n}.up")), what=f"{n}'s trap")


def test_stop_runs_in_reverse_order():
    with Supd(chain_with_traps()) as s:
        wait_traps(s, ("db", "cache", "web"))
        s.ctl_ok("stop", "db")
        stops = stop_order(s)
        check(stops == ["web", "cache", "db"], f"dependants stop first: {stops}")
        st = s.status()
        for n in ("db", "cache", "web"):
            check(st[n]["state"] == "inactive", f"{n} stopped by request: {st[n]}")
            check(st[n]["error"] is None, f"{n}: no error for a requested stop: {st[n]['error']!r}")


def test_stop_middle_of_chain():
    with Supd(chain_with_traps()) as s:
        wait_traps(s, ("db", "cache", "web"))
        db = s.status("db")["pid"]
        s.ctl_ok("stop", "cache")
        check(stop_order(s) == ["web", "cache"], f"web then cache stop, db does not: {stop_order(s)}")
        st = s.status()
        check(st["web"]["state"] == "inactive" and st["cache"]["state"] == "inactive", f"{st['web']} {st['cache']}")
        check(st["db"]["state"] == "running" and st["db"]["pid"] == db, f"db untouched: {st['db']}")


def test_stop_leaves_after_only_unit_running():
    units = {"db": unit(trapped("db")), "logger": unit(trapped("logger"), after=["db"])}
    with Supd(units) as s:
        wait_traps(s, ("db", "logger"))
        pid = s.status("logger")["pid"]
        t0 = time.monotonic()
        r = s.ctl("stop", "db", timeout=20)
        took = time.monotonic() - t0
        check(r.returncode == 0, f"stop db: exit {r.returncode} after {took:.1f}s: {r.stderr}")
        check(s.status("db")["state"] == "inactive", "db stopped")
        st = s.status("logger")
        check(st["state"] == "running" and st["pid"] == pid,
              f"After= is ordering only: logger keeps running: {st}")
        check(stop_order(s) == ["db"], f"only db stopped: {stop_order(s)}")


def test_shutdown_stops_in_reverse_order():
    units = chain_with_traps()
    units["logger"] = unit(trapped("logger"), after=["db"])
    with Supd(units) as s:
        wait_traps(s, ("db", "cache", "web", "logger"))
        s.signal(signal.SIGTERM)
        code = s.wait_exit(timeout=20)
        check(code == 0, f"supd exits 0 on SIGTERM, got {code}")
        stops = stop_order(s)
        check(sorted(stops) == ["cache", "db", "logger", "web"], f"every unit stopped: {stops}")
        pos = {n: stops.index(n) for n in stops}
        check(pos["web"] < pos["cache"] < pos["db"], f"Requires= chain stops in reverse: {stops}")
        check(pos["logger"] < pos["db"], f"After= unit stops before what it is after: {stops}")


if __name__ == "__main__":
    run_tests([
        test_requires_chain_start_order,
        test_requires_oneshot_waits_for_its_exit,
        test_requires_failed_oneshot_fails_dependant,
        test_after_only_orders_start,
        test_after_a_failed_unit_still_starts,
        test_failed_requirement_fails_running_dependant,
        test_requirement_restart_takes_dependant_down_and_up,
        test_requirement_restarts_do_not_use_up_the_dependants_start_limit,
        test_wants_failure_does_not_stop_wanter,
        test_missing_requirement_and_cycle_are_bad_units,
        test_bad_unit_state_since_counts_from_load,
        test_after_cycle_is_bad_unit_others_run,
        test_missing_after_and_wants_are_not_errors,
        test_start_pulls_in_requirements,
        test_start_pulls_in_wants,
        test_stop_runs_in_reverse_order,
        test_stop_middle_of_chain,
        test_stop_leaves_after_only_unit_running,
        test_shutdown_stops_in_reverse_order,
    ])
