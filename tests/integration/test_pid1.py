"""supd as PID 1 of a pid namespace (the container case): reaping orphans, ExitWithUnit=
exit statuses, SIGTERM and SIGINT."""

import os
import signal
import sys
import time

from harness import Supd, check, retry, run_tests


def ns_procs(s):
    """Every process of supd's pid namespace: {pid: (state, ppid, comm)}, pids as it numbers them."""
    root = f"/proc/{s.supd_pid()}/root/proc"
    procs = {}
    for e in os.listdir(root):
        if not e.isdigit():
            continue
        try:
            with open(f"{root}/{e}/stat") as f:
                data = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        rest = data[data.rindex(")") + 2:].split()
        procs[int(e)] = (rest[0], int(rest[1]), data[data.index("(") + 1:data.rindex(")")])
    return procs


def test_orphaned_grandchildren_leave_no_zombies():
    unit = """
[Service]
Exec=/bin/sh -c 'for i in $(seq 1000); do (sleep 0.5 &); done; touch "$T/spawned"; exec sleep 1000'
"""
    with Supd({"forker": unit}) as s:
        main = s.wait_state("forker", "running")["pid"]
        seen_orphans = 0
        t0 = time.monotonic()
        while not os.path.exists(os.path.join(s.dir, "spawned")):
            check(time.monotonic() - t0 < 90, "the unit did not finish forking within 90s")
            procs = ns_procs(s)
            # orphans: re-parented to supd (pid 1), other than the unit's own main process
            seen_orphans = max(seen_orphans, sum(1 for p, (_, ppid, _) in procs.items()
                                                 if ppid == 1 and p != main))
            time.sleep(0.05)
        check(seen_orphans > 0, "the orphans were re-parented to supd (none seen)")

        def settled():
            procs = ns_procs(s)
            zombies = [p for p, (st, _, _) in procs.items() if st == "Z"]
            left = [p for p, (_, ppid, _) in procs.items() if ppid == 1 and p != main]
            return (not zombies and not left) or None
        try:
            retry(settled, timeout=15, what="every orphan reaped")
        except Exception:
            procs = ns_procs(s)
            z = [p for p, (st, _, _) in procs.items() if st == "Z"]
            raise AssertionError(f"{len(z)} zombies left in supd's namespace, e.g. {[procs[p] for p in z[:5]]}")
        st = s.status("forker")
        check(st["state"] == "running" and st["pid"] == main, f"the unit itself still runs: {st}")
        print(f"  up to {seen_orphans} orphans at once re-parented to supd, all reaped", flush=True)


def exit_with(code_cmd, extra=""):
    return {"main": f"[Service]\nExec=/bin/sh -c '{code_cmd}'\nExitWithUnit=yes\nRestart=no\n{extra}"}


def supd_exit_status(units, timeout=20):
    s = Supd(units)
    s.start(wait=False)  # the unit may end before the socket is even polled
    try:
        code = s.wait_exit(timeout=timeout)
    except BaseException:
        s.__exit__(*sys.exc_info())  # stops it, shows its log
        raise
    s.__exit__(None, None, None)
    return code


def test_exit_with_unit_codes():
    for code in (0, 1, 2, 42, 127, 255):
        got = supd_exit_status(exit_with(f"exit {code}"))
        check(got == code, f"unit exit {code}: supd exited {got}")


def test_exit_with_unit_every_code():
    t0 = time.monotonic()
    wrong = []
    for code in range(256):
        got = supd_exit_status(exit_with(f"exit {code}"))
        if got != code:
            wrong.append((code, got))
    took = time.monotonic() - t0
    print(f"  256 supd runs in {took:.1f}s ({took / 256 * 1000:.0f} ms each)", flush=True)
    check(not wrong, f"(unit exit, supd exit) mismatches: {wrong[:20]}")


def test_exit_with_unit_signals():
    for sig, want in ((signal.SIGKILL, 137), (signal.SIGTERM, 143), (signal.SIGSEGV, 139)):
        # no core file: the default core_pattern would write one into /
        got = supd_exit_status(exit_with(f"ulimit -c 0; kill -{sig.name[3:]} $$"))
        check(got == want, f"unit killed by {sig.name}: supd exited {got}, want {want}")


def test_exit_with_unit_exec_failure():
    units = {"main": "[Service]\nExec=/nonexistent/program\nExitWithUnit=yes\nRestart=no\n"}
    got = supd_exit_status(units)
    check(got == 127, f"a main unit that cannot be exec'd: supd exited {got}, want 127")


def test_exit_with_unit_after_its_restarts_run_out():
    # Restart=on-failure (the default): supd exits only once the unit has ended for good
    units = exit_with('date +%s.%N >> "$T/runs"; exit 3', "RestartSec=10ms\nStartLimitBurst=3\n")
    units["main"] = units["main"].replace("Restart=no\n", "")
    s = Supd(units)
    s.start(wait=False)
    try:
        code = s.wait_exit(timeout=10)
        with open(os.path.join(s.dir, "runs")) as f:
            runs = len(f.read().split())
        check(code == 3, f"supd exits with the unit's last status: {code}")
        check(runs == 3, f"after its StartLimitBurst=3 runs: {runs}")
    except BaseException:
        s.__exit__(*sys.exc_info())
        raise
    s.__exit__(None, None, None)


def test_exit_with_unit_when_its_requirement_fails():
    units = {
        "db": "[Service]\nExec=/bin/sh -c 'while ! test -f \"$T/die\"; do sleep 0.05; done; exit 1'\nRestart=no\n",
        "main": "[Unit]\nRequires=db\n\n[Service]\nExec=/bin/sleep 1000\nExitWithUnit=yes\n",
    }
    with Supd(units) as s:
        s.wait_state("main", "running")
        open(os.path.join(s.dir, "die"), "w").close()
        code = s.wait_exit(timeout=10)
        check(code != 0, f"main ended failed (its requirement failed): supd exits non-zero, got {code}")


def test_exit_with_unit_status_on_sigterm():
    """SIGTERM or SIGINT to supd stops the units; supd then exits with the ExitWithUnit= unit's
    answer to its stop signal (as tini): its exit code, or 128+N when the signal killed it."""
    cases = [
        (signal.SIGTERM, "trap \"exit 7\" TERM; touch \"$T/up\"; while :; do sleep 0.05; done", 7),
        (signal.SIGINT, "touch \"$T/up\"; exec sleep 1000", 143),
        (signal.SIGTERM, "trap \"\" TERM; touch \"$T/up\"; while :; do sleep 0.05; done", 137),
    ]
    for sig, cmd, want in cases:
        extra = "StopTimeoutSec=300ms\n" if want == 137 else ""
        units = exit_with(cmd, extra)
        units["other"] = "[Service]\nExec=/bin/sleep 1000\n"
        with Supd(units) as s:
            s.wait_state("main", "running")
            retry(lambda: os.path.exists(os.path.join(s.dir, "up")), what="main's trap set")
            s.signal(sig)
            got = s.wait_exit(timeout=20)
            check(got == want, f"{sig.name} to supd, main ends with {want}: supd exited {got}")


def test_exit_with_unit_stops_the_others():
    units = {
        "main": "[Service]\nExec=/bin/sh -c 'while ! test -f \"$T/go\"; do sleep 0.05; done; exit 42'\n"
                "ExitWithUnit=yes\nRestart=no\n",
        "side": "[Service]\nExec=/bin/sh -c 'trap \"echo side >> $T/stops; exit 0\" TERM; sleep 1000 & "
                "touch \"$T/side.up\"; wait'\n",
    }
    with Supd(units) as s:
        s.wait_state("main", "running")
        s.wait_state("side", "running")
        retry(lambda: os.path.exists(os.path.join(s.dir, "side.up")), what="side's trap")
        open(os.path.join(s.dir, "go"), "w").close()
        code = s.wait_exit(timeout=20)
        check(code == 42, f"supd exits with main's status: {code}")
        with open(os.path.join(s.dir, "stops")) as f:
            got = sorted(set(f.read().split()))
            check(got == ["side"], f"the other unit was stopped (SIGTERM), not just killed: {got}")


def stop_all_on(sig):
    trap = ("[Service]\nExec=/bin/sh -c 'trap \"echo {n} >> $T/stops; exit 0\" TERM; sleep 1000 & "
            "touch \"$T/{n}.up\"; wait'\n")
    units = {n: trap.format(n=n) for n in ("one", "two", "three")}
    # one that ignores SIGTERM: killed after its StopTimeoutSec, supd still exits 0
    units["deaf"] = ("[Service]\nExec=/bin/sh -c 'trap \"\" TERM; touch \"$T/deaf.up\"; "
                     "while :; do sleep 0.1; done'\nStopTimeoutSec=1s\n")
    with Supd(units) as s:
        for n in units:
            s.wait_state(n, "running")
            retry(lambda: os.path.exists(os.path.join(s.dir, f"{n}.up")), what=f"{n}'s trap")
        t0 = time.monotonic()
        s.signal(sig)
        code = s.wait_exit(timeout=20)
        took = time.monotonic() - t0
        check(code == 0, f"supd exits 0 on {sig.name}, got {code}")
        with open(os.path.join(s.dir, "stops")) as f:
            stopped = sorted(set(f.read().split()))
        check(stopped == ["one", "three", "two"], f"every unit got its stop signal: {stopped}")
        check(took >= 0.9, f"the deaf unit's StopTimeoutSec was waited out ({took:.2f}s)")
        check(took < 10, f"and no longer than needed ({took:.2f}s)")


COUNTER = """
import os, signal
# a real-time signal queues every sending: each kill() is counted, none merged
signal.pthread_sigmask(signal.SIG_BLOCK, [40])
open(os.path.join(os.environ["T"], os.environ["SUP_UNIT"] + ".up"), "w").close()
while True:
    info = signal.sigwaitinfo([40])
    with open(os.path.join(os.environ["T"], os.environ["SUP_UNIT"] + ".got"), "a") as f:
        f.write(f"{info.si_pid}\\n")
"""


def test_stop_signal_delivered_once():
    # a service may treat a second SIGTERM/SIGINT as "quit now, skip the clean-up"
    s = Supd()
    script = os.path.join(s.dir, "counter.py")
    with open(script, "w") as f:
        f.write(COUNTER)
    for n in ("bystop", "byshutdown"):
        s.write_unit(n, f"[Service]\nExec=/usr/bin/python3 {script}\nStopSignal=40\nStopTimeoutSec=1s\n")
    with s:
        for n in ("bystop", "byshutdown"):
            s.wait_state(n, "running")
            retry(lambda: os.path.exists(os.path.join(s.dir, f"{n}.up")), what=f"{n} to block its signal")
        s.ctl_ok("stop", "bystop")  # ignores it: SIGKILL after StopTimeoutSec
        s.signal(signal.SIGTERM)
        s.wait_exit(timeout=20)
        for n in ("bystop", "byshutdown"):
            with open(os.path.join(s.dir, f"{n}.got")) as f:
                senders = f.read().split()
            check(len(senders) == 1, f"{n}: StopSignal= delivered {len(senders)} times (from pids {senders})")


def test_sigterm_while_waiting_to_restart():
    units = {"crashy": "[Service]\nExec=/bin/sh -c 'exit 1'\nRestartSec=30s\n",
             "ok": "[Service]\nExec=/bin/sleep 1000\n"}
    with Supd(units) as s:
        s.wait_state("crashy", "restarting")
        s.wait_state("ok", "running")
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        code = s.wait_exit(timeout=20)
        took = time.monotonic() - t0
        check(code == 0, f"exit status {code}")
        check(took < 5, f"supd does not wait out a pending RestartSec=30s: took {took:.1f}s")


def test_status_answers_during_shutdown():
    unit = ("[Service]\nExec=/bin/sh -c 'trap \"\" TERM; touch \"$T/up\"; while :; do sleep 0.1; done'\n"
            "StopTimeoutSec=3s\n")
    with Supd({"slow": unit, "other": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("slow", "running")
        retry(lambda: os.path.exists(os.path.join(s.dir, "up")), what="the trap")
        s.signal(signal.SIGTERM)
        st = s.wait_state("slow", "stopping", timeout=5)
        check(st["pid"] > 0, f"still there while it ignores SIGTERM: {st}")
        r = s.ctl("status")
        check(r.returncode == 0 and "stopping" in r.stdout, f"status during shutdown: {r.returncode} {r.stdout}")
        r = s.ctl("start", "other")
        check(r.returncode == 1, f"start during shutdown is refused with 1: {r.returncode} {r.stderr}")
        check(s.wait_exit(timeout=20) == 0, "then supd exits 0")


def test_units_get_a_clean_signal_state():
    # supd blocks and ignores signals for itself; none of that may leak into a service
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'grep -E "^Sig(Blk|Ign):" /proc/self/status > "$T/sig"'
"""
    with Supd({"sig": unit}) as s:
        s.wait_state("sig", "exited", "failed")
        with open(os.path.join(s.dir, "sig")) as f:
            got = dict(line.split(":") for line in f.read().splitlines())
        for k in ("SigBlk", "SigIgn"):
            check(int(got[k].strip(), 16) == 0, f"{k} of a service: {got[k].strip()} (want none)")


def test_sigterm_stops_all_and_exits_0():
    stop_all_on(signal.SIGTERM)


def test_sigint_stops_all_and_exits_0():
    stop_all_on(signal.SIGINT)


if __name__ == "__main__":
    run_tests([
        test_orphaned_grandchildren_leave_no_zombies,
        test_exit_with_unit_codes,
        test_exit_with_unit_signals,
        test_exit_with_unit_exec_failure,
        test_exit_with_unit_after_its_restarts_run_out,
        test_exit_with_unit_when_its_requirement_fails,
        test_exit_with_unit_stops_the_others,
        test_exit_with_unit_status_on_sigterm,
        test_sigterm_stops_all_and_exits_0,
        test_sigint_stops_all_and_exits_0,
        test_stop_signal_delivered_once,
        test_sigterm_while_waiting_to_restart,
        test_status_answers_during_shutdown,
        test_units_get_a_clean_signal_state,
        test_exit_with_unit_every_code,
    ])
