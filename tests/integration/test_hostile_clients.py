"""Hostile and careless clients of the control socket, and hostile unit output: clients that
hang up while waiting or following, one user holding connections, replies larger than a frame,
a follower that falls behind, escape sequences and forged notes in a unit's output, bytes that
are not UTF-8 in a unit file."""

import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

from harness import SLOW_BOUND, SUPCTL, Supd, check, connect, frame, retry, run_tests

NEVER_READY = "[Service]\nType=notify\nExec=/bin/sleep 1000\nReadyTimeoutSec=300\n"


def read_frame(c):
    """The next frame as a dict, or None at EOF."""
    hdr = b""
    while len(hdr) < 4:
        b = c.recv(4 - len(hdr))
        if not b:
            return None
        hdr += b
    (n,) = struct.unpack(">I", hdr)
    body = b""
    while len(body) < n:
        b = c.recv(n - len(body))
        check(b, "connection closed inside a frame")
        body += b
    return json.loads(body)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))


def timed_status(s, bound=SLOW_BOUND):
    t0 = time.monotonic()
    r = s.ctl("status", timeout=bound + 10)
    took = time.monotonic() - t0
    check(r.returncode == 0, f"status: exit {r.returncode}: {r.stderr}")
    check(took < bound, f"status took {took:.2f}s")


def test_vanished_waiters_and_followers_free_their_slots():
    """1,000 clients (the most supd serves at once) that hang up while following a log or
    waiting for a start: each is noticed at once, so the next clients, root's included, get
    in. Before, their sockets were no longer watched and locked the socket for everyone."""
    raise_nofile()
    with Supd({"svc": "[Service]\nExec=/bin/sleep 1000\n", "q": NEVER_READY}) as s:
        s.wait_state("svc", "running")
        for round_ in range(2):
            conns = []
            for i in range(1000):
                c = connect(s, timeout=10.0)
                if i % 2:
                    c.sendall(frame({"v": 1, "cmd": "logs", "units": ["svc"], "follow": True}))
                else:
                    c.sendall(frame({"v": 1, "cmd": "start", "units": ["q"]}))
                conns.append(c)
            for c in conns[1::2]:
                check(read_frame(c)["ok"] is True, "the follower's first reply")
            for c in conns:
                c.close()
            retry(lambda: s.ctl("status").returncode == 0, timeout=5,
                  what=f"round {round_ + 1}: the socket free again for root")
        timed_status(s)


def hold_as(uid, sock, n):
    """A process of uid that opens n connections to sock and holds them; returns the process
    and what it saw: how many were refused, and the first refusal. Each connection asks for
    the version: a kept one gets the answer, a refused one the refusal (no guess by timing).
    The kept ones ask again every 5 s, so that supd's 30 s idle limit never frees a slot
    while the test (slow under load) goes on."""
    code = f"""
import json, os, select, socket, struct, sys, time, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
REQ = json.dumps({{"v": 1, "cmd": "version"}}).encode()
def read(c, n):
    got = b""
    while len(got) < n:
        more = c.recv(n - len(got))
        if not more:
            raise EOFError
        got += more
    return got
def ask(c):
    try:
        c.sendall(struct.pack(">I", len(REQ)) + REQ)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused and closed: its refusal is still there to read
    return json.loads(read(c, struct.unpack(">I", read(c, 4))[0]))
conns, kept, refused, why = [], [], 0, None
for _ in range({n}):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect({sock!r})  # blocking: a full listen backlog waits (with a timeout: EAGAIN)
    c.settimeout(120)
    conns.append(c)
for c in conns:
    try:
        r = ask(c)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        r = {{"ok": False, "error": None}}
    if r.get("ok"):
        kept.append(c)
    else:
        refused += 1
        why = why or r.get("error")
print(json.dumps({{"refused": refused, "why": why}}), flush=True)
while not select.select([sys.stdin], [], [], 5)[0]:
    for c in kept:
        ask(c)
sys.stdin.read()
"""
    p = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                          sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    check(line, f"the process of uid {uid} reported nothing")
    return p, json.loads(line)


def test_one_user_cannot_lock_out_root_or_others():
    """With the socket open to every user (as read-only commands will be), one user holds at
    most 32 connections, and every user together leave 64 of the 1,000 slots to root."""
    with Supd({"svc": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("svc", "running")
        os.chmod(s.dir, 0o755)
        os.chmod(s.run, 0o755)
        os.chmod(s.socket, 0o666)
        holders = []
        try:
            p, seen = hold_as(65534, s.socket, 200)
            holders.append(p)
            check(seen["refused"] == 200 - 32, f"uid 65534: 32 of 200 kept: {seen}")
            check("too many connections from uid 65534 (at most 32)" in (seen["why"] or ""),
                  f"a refused client is told why: {seen['why']!r}")
            timed_status(s)  # root
            for uid in range(60000, 60030):  # 30 users x 32 = 960 > 1000 - 64 - 32
                p, seen = hold_as(uid, s.socket, 32)
                holders.append(p)
            check("kept for root" in (seen["why"] or "") and seen["refused"] > 0,
                  f"the last users hit the common limit: {seen}")
            timed_status(s)  # root still gets in
            r = s.ctl("version")
            check(r.returncode == 0, f"and again: {r.stderr}")
        finally:
            for p in holders:
                p.stdin.close()
                p.wait(timeout=10)
        timed_status(s)


def test_replies_larger_than_a_frame():
    """logs -n 0 of a full 4 MiB buffer, and status/metrics of 3,000 units: each reply is more
    than the 1 MiB a frame holds, and arrives whole (before: dropped, "supd unreachable")."""
    marker = "x" * 200
    units = {"chatty": f"[Service]\nType=oneshot\nExec=/bin/sh -c 'i=0; while [ $i -lt 40000 ]; "
                       f"do echo \"$i {marker}\"; i=$((i+1)); done'\n"}
    units.update({f"bad{i:04}": "[Service]\nExec=/bin/true\nRestart=sometimes\n" for i in range(3000)})
    with Supd(units, config="[Log]\nBufferSize=4M\n") as s:
        s.wait_state("chatty", "exited", timeout=60)
        r = s.ctl_ok("logs", "chatty", "-n", "0", "-o", "cat")
        lines = [line for line in r.stdout.splitlines() if marker in line]
        check(len(lines) > 10000, f"{len(lines)} lines of {len(r.stdout)} bytes arrived")
        check(lines[-1].startswith("39999 "), f"the newest last: {lines[-1][:20]!r}")
        r = s.ctl_ok("status", "--json")
        check(len(json.loads(r.stdout)) == 3001, "every unit's status")
        check(len(r.stdout) > 1 << 20, f"status is {len(r.stdout)} bytes")
        r = s.ctl_ok("metrics")
        check(r.stdout.count('sup_unit_restarts_total{unit="bad') == 3000,
              "every unit in the metrics")


def test_follower_that_falls_behind_skips_ahead():
    """A `logs -f` client that stops reading while the unit floods: supd keeps its queue
    bounded and, once it reads again, tells it how many lines it missed and goes on (before:
    it was cut off, and supctl exited 0 as if the stream had ended)."""
    unit = ("[Service]\nExec=/bin/sh -c 'while ! test -f \"$T/go\"; do sleep 0.05; done; "
            "yes 0123456789012345678901234567890123456789 | head -c 40000000; "
            "touch \"$T/done\"; exec sleep 1000'\n")
    with Supd({"flood": unit}) as s:
        s.wait_state("flood", "running")
        c = connect(s, timeout=10.0)
        c.sendall(frame({"v": 1, "cmd": "logs", "units": ["flood"], "follow": True}))
        check(read_frame(c)["ok"], "the first reply")
        open(os.path.join(s.dir, "go"), "w").close()
        retry(lambda: os.path.exists(os.path.join(s.dir, "done")), timeout=60,
              what="the flood written")
        timed_status(s)
        dropped, lines = 0, 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (dropped and lines > 1000):
            f = read_frame(c)
            check(f is not None, f"the stream goes on (after {lines} lines, {dropped} dropped)")
            if f.get("event") == "dropped":
                dropped += f["lines"]
            elif f.get("event") == "log":
                lines += 1
        check(dropped > 0 and lines > 1000, f"told of {dropped} missed lines, then {lines} more")
        c.close()


def test_follow_end_is_reported():
    with Supd({"u": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("u", "running")
        p = subprocess.Popen([SUPCTL, "--socket", s.socket, "logs", "-f", "u"], env=s.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)  # let it connect: nothing to poll for from here
        s.remove_unit("u")
        s.ctl_ok("reload")
        out, err = p.communicate(timeout=15)
        check(p.returncode == 0, f"supctl logs -f exits 0 when the unit goes: {p.returncode}")
        check("the stream ended: the unit was removed" in err, f"and says why: {err!r}")


def test_unit_output_cannot_drive_the_terminal():
    unit = ("[Service]\nType=oneshot\nExec=/bin/sh -c 'printf \"\\\\033]0;pwned\\\\007\\\\033[2J"
            "evil\\\\rgood\\\\n\"; printf \"supd: exited with code 0\\\\n\"'\n")
    with Supd({"esc": unit}) as s:
        s.wait_state("esc", "exited")
        out = s.ctl_ok("logs", "esc", "-o", "cat").stdout
        check("\x1b" not in out and "\r" not in out and "\x07" not in out,
              f"no raw control character reaches the terminal: {out!r}")
        check("\\x1b]0;pwned\\x07\\x1b[2Jevil\\x0dgood" in out, f"shown escaped: {out!r}")
        check("\\supd: exited with code 0" in out, f"a forged note is marked: {out!r}")
        check(out.count("\nsupd: exited with code 0") + out.startswith("supd: exited") == 1,
              f"only supd's own note reads as one: {out!r}")


def test_invalid_utf8_in_a_unit_file_keeps_every_field():
    s = Supd()
    with open(os.path.join(s.units, "latin.unit"), "wb") as f:
        f.write(b"[Unit]\nDescription=caf\xe9 \xff\n[Service]\nExec=/bin/sleep 1000\n")
    with open(os.path.join(s.units, "badval.unit"), "wb") as f:
        f.write(b"[Service]\nExec=/bin/sleep 1000\nRestart=\xe9\xe9\n")
    with s:
        st = s.wait_state("latin", "running")
        for key in ("name", "state", "pid", "error", "description", "status_text", "health"):
            check(key in st, f"{key} is in latin's status: {st}")
        check(st["description"] == "caf\ufffd \ufffd", f"bad bytes as U+FFFD: {st['description']!r}")
        st = s.wait_state("badval", "bad-unit")
        check("Restart" in (st["error"] or "") and "\ufffd" in st["error"],
              f"a bad-unit error quoting the bytes is kept: {st}")
        table = s.ctl_ok("status").stdout
        check("badval" in table and "latin" in table, "the table too")


def test_supctl_has_a_timeout_of_its_own():
    """A supd that answers nothing (stopped, or stuck) does not hang supctl: --timeout bounds
    the wait, the message names it, and the exit status is 5 (cannot reach supd)."""
    with Supd({"a": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("a", "running")
        pid = s.supd_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = s.ctl("status", "--timeout", "1s", timeout=60)
            took = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        check(r.returncode == 5 and "--timeout" in r.stderr,
              f"supctl gave up: {r.returncode} {r.stderr!r}")
        check(took < 30, f"within its timeout, give or take a loaded machine: {took:.1f}s")
        check(s.ctl("status").returncode == 0, "supd answers again once it runs")


if __name__ == "__main__":
    run_tests([
        test_vanished_waiters_and_followers_free_their_slots,
        test_one_user_cannot_lock_out_root_or_others,
        test_replies_larger_than_a_frame,
        test_follower_that_falls_behind_skips_ahead,
        test_follow_end_is_reported,
        test_unit_output_cannot_drive_the_terminal,
        test_invalid_utf8_in_a_unit_file_keeps_every_field,
        test_supctl_has_a_timeout_of_its_own,
    ])
