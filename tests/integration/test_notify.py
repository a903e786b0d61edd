"""sd_notify: a socket per unit, and only the unit's own processes are heard on it.

A READY=1 from outside supd's pid namespace (it arrives with pid 0), or from a process of
another unit that sits in a cgroup named like the unit, must not make a queued or starting
notify unit `running`; a socket file deleted under supd is made again at the next start.
"""

import os
import signal
import socket
import time

from harness import Supd, check, retry, run_tests

NEVER_READY = """
[Service]
Type=notify
Exec=/bin/sleep 1000
ReadyTimeoutSec=60
"""


def sock_path(s, unit):
    return os.path.join(s.run, "unit", unit, "notify")


def send(path, msg):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
        c.connect(path)
        c.send(msg)


def stays(s, unit, state, secs=1.0):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        st = s.status(unit)
        check(st["state"] == state, f"{unit} stays {state}, got {st['state']}")
        time.sleep(0.05)


def test_each_notify_unit_has_its_own_socket():
    units = {
        "n": "[Service]\nType=notify\nExec=/bin/sh -c 'echo \"$NOTIFY_SOCKET\" > \"$T/n.env\"; "
             "sup-notify READY=1; exec sleep 1000'\n",
        "plain": "[Service]\nExec=/bin/sh -c 'echo \"[$NOTIFY_SOCKET]\" > \"$T/plain.env\"; "
                 "exec sleep 1000'\n",
    }
    with Supd(units) as s:
        s.wait_state("n", "running")
        s.wait_state("plain", "running")
        env = retry(lambda: open(os.path.join(s.dir, "n.env")).read().strip(), what="n's env")
        check(env == sock_path(s, "n"), f"NOTIFY_SOCKET of n: {env}")
        plain = retry(lambda: open(os.path.join(s.dir, "plain.env")).read().strip(),
                      what="plain's env")
        check(plain == "[]", f"a simple unit gets no NOTIFY_SOCKET, as in systemd: {plain}")


def test_outsider_cannot_make_a_unit_ready():
    with Supd({"q": NEVER_READY}) as s:
        s.wait_state("q", "starting")
        path = retry(lambda: os.path.exists(sock_path(s, "q")) and sock_path(s, "q"),
                     what="q's socket")
        # the test runs outside supd's pid namespace: its pid arrives as 0
        send(path, b"READY=1\nSTATUS=forged")
        stays(s, "q", "starting")
        check(s.status("q")["status_text"] is None, "a forged STATUS= is not taken")
        s.ctl_ok("stop", "q", timeout=15)
        check(s.status("q")["state"] == "inactive", "the unit stops normally")
        s.signal(signal.SIGTERM)
        check(s.wait_exit(15) == 0, "supd exits on SIGTERM")


def test_cgroup_named_like_the_unit_is_not_the_unit():
    """A process of another unit moves into a cgroup named "q" elsewhere in the hierarchy and
    sends READY=1 to q's socket: before, a sender was matched by the last component of its
    cgroup path."""
    decoy = "/sys/fs/cgroup/pids/sup-notify-decoy/q"
    if not os.path.isdir("/sys/fs/cgroup/pids"):
        decoy = "/sys/fs/cgroup/sup-notify-decoy/q"
    os.makedirs(decoy, exist_ok=True)
    liar = ("[Service]\nExec=/bin/sh -c 'while ! test -S \"$SOCK\"; do sleep 0.05; done; "
            f"echo $$ > {decoy}/cgroup.procs && touch \"$T/moved\"; "
            "python3 -c \"import os,socket; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); "
            "s.connect(os.environ[\\\"SOCK\\\"]); s.send(b\\\"READY=1\\\")\"; "
            "touch \"$T/sent\"; exec sleep 1000'\n")
    try:
        with Supd({"q": NEVER_READY}) as s:
            s.write_unit("liar", liar + f"Environment=SOCK={sock_path(s, 'q')}\n")
            s.ctl_ok("reload")
            retry(lambda: os.path.exists(os.path.join(s.dir, "sent")), timeout=15,
                  what="the liar's message")
            check(os.path.exists(os.path.join(s.dir, "moved")), "the liar sat in a cgroup 'q'")
            stays(s, "q", "starting")
            s.ctl_ok("stop", "liar", "q", timeout=15)
    finally:
        for _ in range(50):
            try:
                os.rmdir(decoy)
                os.rmdir(os.path.dirname(decoy))
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def test_deleted_socket_is_made_again():
    unit = ("[Service]\nType=notify\nExec=/bin/sh -c 'sup-notify READY=1; exec sleep 1000'\n")
    with Supd({"n": unit}) as s:
        s.wait_state("n", "running")
        os.unlink(sock_path(s, "n"))
        s.ctl_ok("restart", "n", timeout=15)
        check(s.status("n")["state"] == "running", "ready again through a new socket")
        check(os.path.exists(sock_path(s, "n")), "the socket file is back")


if __name__ == "__main__":
    run_tests([
        test_each_notify_unit_has_its_own_socket,
        test_outsider_cannot_make_a_unit_ready,
        test_cgroup_named_like_the_unit_is_not_the_unit,
        test_deleted_socket_is_made_again,
    ])
