"""The control socket under abuse, the privilege check, and supctl's exit statuses."""

import json
import os
import random
import shutil
import socket
import struct
import subprocess
import time

from harness import SLOW_BOUND, SUPCTL, Supd, Fail, check, connect, frame, run_tests

UNIT = {"svc": "[Service]\nExec=/bin/sleep 1000\n"}


# --- the protocol by hand (docs/protocol.md): 4-byte big-endian length, then a JSON object

def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            return buf
        buf += chunk
    return buf


def recv_frame(c):
    """The next reply frame (a dict), or None on a clean close before any byte of it."""
    hdr = recv_exact(c, 4)
    if not hdr:
        return None
    check(len(hdr) == 4, f"connection closed inside a frame header ({hdr!r})")
    (n,) = struct.unpack(">I", hdr)
    check(1 <= n <= 1 << 20, f"reply frame length {n}")
    body = recv_exact(c, n)
    check(len(body) == n, f"connection closed inside a reply frame ({len(body)} of {n} bytes)")
    obj = json.loads(body)
    check(isinstance(obj, dict) and obj.get("v") == 1 and isinstance(obj.get("ok"), bool),
          f"a reply is an object with v and ok: {obj!r}")
    return obj


def closed(c, timeout=5.0):
    """True once the peer has closed (EOF or reset) within timeout."""
    c.settimeout(timeout)
    try:
        return c.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def request(s, obj):
    with connect(s) as c:
        c.sendall(frame(obj))
        return recv_frame(c)


def still_serving(s, pid):
    st = s.status("svc")
    check(st["state"] == "running" and st["pid"] == pid, f"supd still supervising: {st}")


def expect_error_and_close(s, data, what, code=2):
    """An error frame then close, or just a close (supd may cut off a client mid-send)."""
    with connect(s) as c:
        try:
            c.sendall(data)
            rep = recv_frame(c)
        except (BrokenPipeError, ConnectionResetError):
            return
        if rep is not None:
            check(rep["ok"] is False and rep.get("code") == code and rep.get("error"),
                  f"{what}: a clean error (code {code}), got {rep}")
        check(closed(c), f"{what}: supd closes the connection")


# --- tests

def test_garbage_gets_an_error_or_close():
    rnd = random.Random(1234)
    with Supd(UNIT) as s:
        pid = s.wait_state("svc", "running")["pid"]
        cases = [
            (b"\xf3" + bytes(rnd.randrange(256) for _ in range(4095)), "random bytes (a huge length)"),
            (b"\xff\xff\xff\xff", "length 4 GiB"),
            (struct.pack(">I", 65537) + b"{" * 100, "a request just over 64 KiB"),
            (b"\0\0\0\0", "a zero-length frame"),
        ]
        for data, what in cases:
            expect_error_and_close(s, data, what)
            still_serving(s, pid)


def test_bad_payloads_get_a_clean_error():
    rnd = random.Random(99)
    with Supd(UNIT) as s:
        pid = s.wait_state("svc", "running")["pid"]
        payloads = [
            (bytes(rnd.randrange(256) for _ in range(100)), "random bytes as payload"),
            (b'{"v": 1, "cmd": "status"', "truncated JSON"),
            (b"[1, 2, 3]", "a JSON array"),
            (b'"status"', "a JSON string"),
            (b"42", "a JSON number"),
            (b"null", "JSON null"),
            (b'{"v": 1, "cmd": "status"}\0garbage', "a NUL inside the payload"),
        ]
        for body, what in payloads:
            with connect(s) as c:
                c.sendall(frame(body))
                rep = recv_frame(c)
                check(rep is not None and rep["ok"] is False and rep.get("code") == 2,
                      f"{what}: an error reply with code 2, got {rep}")
            still_serving(s, pid)
        wrong = [
            ({"v": 1, "cmd": 42}, "cmd a number"),
            ({"v": "1", "cmd": "status"}, "v a string"),
            ({"v": 1}, "no cmd"),
            ({"v": 1, "cmd": "frobnicate"}, "an unknown command"),
            ({"v": 1, "cmd": "status", "units": "svc"}, "units a string"),
            ({"v": 1, "cmd": "status", "units": [1, 2]}, "units of numbers"),
            ({"v": 1, "cmd": "status", "units": ["../../etc"]}, "an invalid unit name"),
            ({"v": 1, "cmd": "stop", "units": ["svc"], "wait": "yes"}, "wait a string"),
            ({"v": 1, "cmd": "logs", "units": ["svc"], "lines": "ten"}, "lines a string"),
            ({"v": 1, "cmd": "logs", "units": ["svc"], "follow": 1}, "follow a number"),
            ({"v": 1, "cmd": "stop"}, "stop without units"),
            ({"v": 1, "cmd": "cat", "units": ["svc", "svc"]}, "cat of two units"),
            ({"v": 1, "cmd": "kill", "units": ["svc"], "signal": 0}, "kill with signal 0"),
            ({"v": 2, "cmd": "status"}, "protocol version 2"),
        ]
        for obj, what in wrong:
            rep = request(s, obj)
            check(rep is not None and rep["ok"] is False and rep.get("code") == 2 and rep.get("error"),
                  f"{what}: code 2 with a message, got {rep}")
            still_serving(s, pid)
        rep = request(s, {"v": 1, "cmd": "status", "units": ["svc"], "some_future_field": {"x": 1}})
        check(rep["ok"] is True and rep["data"][0]["name"] == "svc", f"unknown fields are ignored: {rep}")
        rep = request(s, {"v": 1, "cmd": "status", "units": ["nosuch"]})
        check(rep["ok"] is False and rep.get("code") == 4, f"unknown unit: code 4, got {rep}")


def test_non_object_payload_closes_connection():
    # docs/protocol.md: a payload that is not a JSON object is a protocol error: error frame, close
    with Supd(UNIT) as s:
        pid = s.wait_state("svc", "running")["pid"]
        for body in (b"[1, 2, 3]", b"not json at all"):
            expect_error_and_close(s, frame(body), f"payload {body!r}")
        still_serving(s, pid)


def test_largest_request_accepted():
    with Supd(UNIT) as s:
        s.wait_state("svc", "running")
        body = json.dumps({"v": 1, "cmd": "version"}).encode()
        body = body[:-1] + b" " * (65536 - len(body)) + b"}"
        check(len(body) == 65536, "a 64 KiB request")
        with connect(s) as c:
            c.sendall(frame(body))
            rep = recv_frame(c)
        check(rep is not None and rep["ok"] is True and rep["data"]["protocol"] == 1,
              f"a request of exactly 64 KiB is fine: {rep}")


def test_several_requests_on_one_connection():
    with Supd(UNIT) as s:
        s.wait_state("svc", "running")
        with connect(s) as c:
            for _ in range(20):
                c.sendall(frame({"v": 1, "cmd": "status"}))
                rep = recv_frame(c)
                check(rep is not None and rep["ok"] is True, f"reply on a reused connection: {rep}")
            # a bad request on it is answered and the next one still works
            c.sendall(frame({"v": 1, "cmd": "status", "units": ["nosuch"]}))
            check(recv_frame(c)["code"] == 4, "unknown unit: code 4")
            c.sendall(frame({"v": 1, "cmd": "version"}))
            check(recv_frame(c)["ok"] is True, "the connection goes on after a failed request")


def timed_status(s, bound=SLOW_BOUND):
    t0 = time.monotonic()
    r = s.ctl("status", timeout=bound + 5)
    took = time.monotonic() - t0
    check(r.returncode == 0 and "svc" in r.stdout, f"status: exit {r.returncode} {r.stderr}")
    check(took < bound, f"status took {took:.2f}s")
    return took


def test_silent_and_stalled_clients_block_nobody():
    with Supd(UNIT) as s:
        pid = s.wait_state("svc", "running")["pid"]
        silent = [connect(s) for _ in range(10)]
        stalled = connect(s)
        body = json.dumps({"v": 1, "cmd": "status", "units": ["svc"]}).encode()
        full = frame(body)
        stalled.sendall(full[:2])  # half a header
        stalled2 = connect(s)
        stalled2.sendall(full[:4 + len(body) // 2])  # the header and half the payload
        for _ in range(5):
            timed_status(s)
        s.ctl_ok("stop", "svc")
        s.ctl_ok("start", "svc")
        # the stalled clients finish their frames and get their answers
        stalled.sendall(full[2:])
        stalled2.sendall(full[4 + len(body) // 2:])
        for c in (stalled, stalled2):
            rep = recv_frame(c)
            check(rep is not None and rep["ok"] is True and rep["data"][0]["name"] == "svc",
                  f"a frame sent in pieces is answered: {rep}")
        for c in silent + [stalled, stalled2]:
            c.close()
        check(s.status("svc")["pid"] != pid, "the restart went through")


def test_client_that_never_reads():
    with Supd(UNIT) as s:
        s.wait_state("svc", "running")
        hog = connect(s)
        hog.setblocking(False)
        req = frame({"v": 1, "cmd": "status"}) * 64
        sent = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sent < 64 << 20:
            try:
                sent += hog.send(req)
            except BlockingIOError:
                time.sleep(0.01)  # its buffers are full: supd is not reading (or cut it off)
            except (BrokenPipeError, ConnectionResetError):
                break
        for _ in range(5):
            timed_status(s)
        hog.close()
        timed_status(s)


def test_300_simultaneous_connections():
    with Supd(UNIT) as s:
        s.wait_state("svc", "running")
        conns = []
        try:
            for _ in range(300):
                conns.append(connect(s, timeout=10))
            answered, refused = 0, 0
            for c in conns:
                try:
                    c.sendall(frame({"v": 1, "cmd": "status"}))
                except (BrokenPipeError, ConnectionResetError):
                    refused += 1
                    c.close()
            for c in conns:
                if c.fileno() < 0:
                    continue
                try:
                    rep = recv_frame(c)
                except (ConnectionResetError, socket.timeout):
                    rep = None
                if rep is not None and rep["ok"] is True:
                    answered += 1
                else:
                    refused += 1
            print(f"  300 connections held open at once: {answered} answered, {refused} refused",
                  flush=True)
            check(answered == 300, f"every one of 300 simultaneous clients is served: only {answered}")
            timed_status(s)  # and a 301st, while those 300 are still connected
        finally:
            for c in conns:
                c.close()
        timed_status(s)


def test_300_concurrent_supctl_runs():
    with Supd(UNIT) as s:
        s.wait_state("svc", "running")
        procs = [subprocess.Popen([SUPCTL, "--socket", s.socket, "status", "--json"], env=s.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(300)]
        bad = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            if p.returncode != 0 or json.loads(out)[0]["name"] != "svc":
                bad.append((p.returncode, err.decode()[-200:]))
        check(not bad, f"{len(bad)} of 300 concurrent supctl runs failed: {bad[:3]}")


def as_nobody(s, *args, gid=65534, groups=None):
    cmd = ["setpriv", "--reuid=65534", f"--regid={gid}"]
    cmd += [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
    return subprocess.run(cmd + [SUPCTL, "--socket", s.socket, *args], capture_output=True, text=True,
                          timeout=30, env=s.env)


def test_non_root_can_read_but_not_change():
    with Supd(UNIT) as s:
        pid = s.wait_state("svc", "running")["pid"]
        os.chmod(s.dir, 0o755)
        # the socket is open to every local user: the peer credentials decide
        check(os.stat(s.socket).st_mode & 0o777 == 0o666, "socket mode 0666")
        r = as_nobody(s, "status")
        check(r.returncode == 0 and "svc" in r.stdout, f"non-root status: exit {r.returncode} {r.stderr}")
        for args in (("stop", "svc"), ("restart", "svc"), ("start", "svc"), ("reset", "svc"), ("reload",),
                     ("logs", "svc")):
            r = as_nobody(s, *args)
            check(r.returncode == 1, f"non-root {' '.join(args)}: exit {r.returncode}, want 1")
            check("permission" in r.stderr.lower() or "denied" in r.stderr.lower(),
                  f"non-root {' '.join(args)}: says why: {r.stderr!r}")
        st = s.status("svc")
        check(st["state"] == "running" and st["pid"] == pid and st["restarts"] == 0,
              f"the unit is untouched: {st}")


def test_control_group_may_change_state():
    with Supd(UNIT, config="[Control]\nGroup=4242\n") as s:
        pid = s.wait_state("svc", "running")["pid"]
        os.chmod(s.dir, 0o755)
        st = os.stat(s.socket)
        check(st.st_mode & 0o777 == 0o666 and st.st_gid == 4242,
              f"socket mode {st.st_mode & 0o777:o} group {st.st_gid}, want 666 and 4242")
        r = as_nobody(s, "status")
        check(r.returncode == 0, f"not in the group: may read: exit {r.returncode}")
        r = as_nobody(s, "stop", "svc")
        check(r.returncode == 1 and "permission denied" in r.stderr,
              f"not in the group: may not stop: exit {r.returncode}")
        r = as_nobody(s, "stop", "svc", gid=4242)
        check(r.returncode == 0, f"primary group 4242: stop allowed: exit {r.returncode} {r.stderr}")
        check(s.status("svc")["state"] == "inactive", "stopped")
        r = as_nobody(s, "start", "svc", gid=4242)
        check(r.returncode == 0, f"primary group 4242: start allowed: exit {r.returncode} {r.stderr}")
        check(s.status("svc")["pid"] != pid, "started again")


def test_control_group_as_supplementary_group():
    # a client outside supd's pid namespace (SO_PEERCRED's pid is 0 there), in the group only as a
    # supplementary group: the normal case of `setpriv`/`sudo -g` style access to a container's supd
    with Supd(UNIT, config="[Control]\nGroup=4242\n") as s:
        s.wait_state("svc", "running")
        os.chmod(s.dir, 0o755)
        r = as_nobody(s, "stop", "svc", groups=[4242])
        check(r.returncode == 0, f"supplementary group 4242: stop allowed: exit {r.returncode} {r.stderr}")
        check(s.status("svc")["state"] == "inactive", "stopped")


def test_supctl_exit_statuses():
    with Supd(UNIT) as s:
        s.wait_state("svc", "running")
        for args in (("status", "nosuch"), ("stop", "nosuch"), ("start", "nosuch"), ("restart", "nosuch"),
                     ("reset", "nosuch"), ("logs", "nosuch"), ("status", "svc", "nosuch")):
            r = s.ctl(*args)
            check(r.returncode == 4, f"supctl {' '.join(args)}: exit {r.returncode}, want 4")
            check("nosuch" in r.stderr, f"supctl {' '.join(args)}: names the unit: {r.stderr!r}")
        for args in ((), ("frobnicate",), ("start",), ("stop",), ("restart",), ("cat",), ("kill",),
                     ("logs", "svc", "-n", "many"), ("status", "--bogus-option"), ("status", "bad/name")):
            r = s.ctl(*args)
            check(r.returncode == 2, f"supctl {' '.join(args)}: exit {r.returncode}, want 2 ({r.stderr.strip()})")
        check(s.status("svc")["state"] == "running", "none of that touched the unit")
    r = subprocess.run([SUPCTL, "--socket", "/nonexistent/dir/supd.sock", "status"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 5, f"no socket: exit {r.returncode}, want 5")
    check(r.stderr.strip() != "", "no socket: a message")
    # a socket file with nobody listening (supd gone, the file left behind)
    d = Supd()
    try:
        path = os.path.join(d.dir, "stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as l:
            l.bind(path)
        r = subprocess.run([SUPCTL, "--socket", path, "status"], capture_output=True, text=True, timeout=30)
        check(r.returncode == 5, f"stale socket: exit {r.returncode}, want 5")
    finally:
        shutil.rmtree(d.dir, ignore_errors=True)


if __name__ == "__main__":
    run_tests([
        test_garbage_gets_an_error_or_close,
        test_bad_payloads_get_a_clean_error,
        test_non_object_payload_closes_connection,
        test_largest_request_accepted,
        test_several_requests_on_one_connection,
        test_silent_and_stalled_clients_block_nobody,
        test_client_that_never_reads,
        test_300_simultaneous_connections,
        test_300_concurrent_supctl_runs,
        test_non_root_can_read_but_not_change,
        test_control_group_may_change_state,
        test_control_group_as_supplementary_group,
        test_supctl_exit_statuses,
    ])
