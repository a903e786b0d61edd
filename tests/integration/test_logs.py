"""Captured output: `supctl logs UNIT -n N`, `logs -f`, a flooding unit, unknown units."""

import errno
import json
import os
import select
import socket
import statistics
import struct
import subprocess
import time

from harness import SLOW_BOUND, SUPCTL, Supd, Fail, check, retry, run_tests


def touch(s, name):
    open(os.path.join(s.dir, name), "w").close()


def logs(s, unit, *args):
    return s.ctl_ok("logs", unit, *args).stdout


def has_line(out, text):
    return any(line.rstrip().endswith(text) for line in out.splitlines())


# Echoes what the test writes to the FIFO $T/in: "o TEXT" to stdout, "e TEXT" to stderr. Opened
# read-write, so the FIFO always has a reader and never reports EOF.
ECHO = """
[Service]
Exec=/bin/sh -c 'exec 3<>"$T/in"; while read k l <&3; do if test $k = e; then echo "$l" >&2; else echo "$l"; fi; done'
"""


def echo_supd(**units):
    s = Supd(dict(units))
    os.mkfifo(os.path.join(s.dir, "in"))
    return s


def say(s, unit, lines):
    """Have the echo unit print lines ("o x" / "e x"); return once the last one is logged."""
    fifo_write(s, "".join(l + "\n" for l in lines))
    last = lines[-1].split(" ", 1)[1]
    retry(lambda: has_line(logs(s, unit, "-n", "1000"), last), what=f"{last!r} in the log")


def test_logs_tail_newest_last_both_streams():
    with echo_supd(talk=ECHO) as s:
        s.wait_state("talk", "running")
        # stdout and stderr are separate pipes: each batch is logged before the next is sent
        say(s, "talk", [f"o out{i}" for i in range(1, 11)])
        say(s, "talk", ["e err1", "e err2"])
        say(s, "talk", ["o out11"])
        out = logs(s, "talk", "-n", "4")
        lines = [l.rstrip() for l in out.splitlines() if l.strip()]
        want = ["out10", "err1", "err2", "out11"]
        check(len(lines) == 4 and all(g.endswith(w) for g, w in zip(lines, want)),
              f"-n 4: the newest 4, newest last, stdout and stderr: {lines}")
        out = logs(s, "talk", "-n", "1")
        lines = [l.rstrip() for l in out.splitlines() if l.strip()]
        check(len(lines) == 1 and lines[0].endswith("out11"), f"-n 1: just the newest: {lines}")
        out = logs(s, "talk", "-n", "100")
        texts = [f"out{i}" for i in range(1, 11)] + ["err1", "err2", "out11"]
        lines = iter(l.rstrip() for l in out.splitlines())
        check(all(any(l.endswith(t) for l in lines) for t in texts), f"everything, in order: {out!r}")


def test_logs_kept_after_exit_with_partial_line():
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'echo first-line; echo on-stderr >&2; printf no-newline-at-end'
"""
    with Supd({"once": unit}) as s:
        s.wait_state("once", "exited")
        out = retry(lambda: (lambda o: o if has_line(o, "no-newline-at-end") else None)(logs(s, "once", "-n", "50")),
                    what="the partial last line")
        check(has_line(out, "first-line") and has_line(out, "on-stderr"),
              f"a finished unit's output is kept: {out!r}")


def read_until(proc, needle, timeout, buf):
    """Read proc.stdout (raw, non-blocking via select) until needle appears; returns the text so far."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while needle.encode() not in buf[0]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"logs -f did not show {needle!r} within {timeout}s; got {buf[0][-2000:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise Fail(f"logs -f ended (exit {proc.wait()}) before {needle!r}; got {buf[0][-2000:]!r}")
            buf[0] += chunk
    return buf[0].decode(errors="replace")


def fifo_write(s, text):
    """Write to the unit's FIFO once a reader has it open (the unit's cat)."""
    path = os.path.join(s.dir, "in")

    def opened():
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ENXIO:
                return None
            raise
    fd = retry(opened, what="the unit to open its FIFO")
    os.write(fd, text.encode())
    os.close(fd)


def test_logs_follow_streams_new_lines():
    with echo_supd(echo=ECHO) as s:
        s.wait_state("echo", "running")
        say(s, "echo", ["o before-follow"])
        proc = subprocess.Popen([SUPCTL, "--socket", s.socket, "logs", "echo", "-f"], env=s.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        try:
            buf = [b""]
            read_until(proc, "before-follow", 5, buf)  # the tail comes first
            fifo_write(s, "e followed-on-stderr\n")
            read_until(proc, "followed-on-stderr", 5, buf)
            fifo_write(s, "o followed-1\no followed-2\n")
            text = read_until(proc, "followed-2", 5, buf)
            check(text.index("before-follow") < text.index("followed-on-stderr") < text.index("followed-1")
                  < text.index("followed-2"), f"streamed in order: {text!r}")
            check(proc.poll() is None, "logs -f keeps following")
            s.ctl_ok("status")  # the follower does not hold up anybody else
        finally:
            proc.terminate()
            proc.wait(timeout=5)
        say(s, "echo", ["o after-the-follower-left"])
        check(s.status("echo")["state"] == "running", "the unit is fine after the follower left")


def test_flood_does_not_slow_status():
    # 1000-character lines as fast as `yes` can write them, on stdout and on stderr
    units = {
        "flood-out": "[Service]\nExec=/bin/sh -c 'l=$(printf %01000d 0); exec yes \"$l\"'\n",
        "flood-err": "[Service]\nExec=/bin/sh -c 'l=$(printf %01000d 0); exec yes \"$l\" >&2'\n",
        "quiet": "[Service]\nExec=/bin/sleep 1000\n",
    }
    with Supd(units) as s:
        for n in units:
            s.wait_state(n, "running")
        retry(lambda: "0" * 1000 in logs(s, "flood-out", "-n", "1"), what="flood-out's lines logged")
        retry(lambda: "0" * 1000 in logs(s, "flood-err", "-n", "1"), what="flood-err's lines logged")
        times = []
        for _ in range(50):
            t0 = time.monotonic()
            r = s.ctl("status", timeout=SLOW_BOUND + 10)
            took = time.monotonic() - t0
            times.append(took)
            check(r.returncode == 0 and "quiet" in r.stdout, f"status under flood: {r.returncode} {r.stderr}")
            check(took < SLOW_BOUND, f"a status call took {took:.2f}s under flood")
        print(f"  status under a stdout+stderr flood: median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms over {len(times)} calls", flush=True)
        t0 = time.monotonic()
        out = logs(s, "flood-out", "-n", "3")
        lines = [l for l in out.splitlines() if l.strip()]
        check(len(lines) == 3 and all(l.rstrip().endswith("0" * 1000) for l in lines),
              f"logs -n 3 of the flood: {[l[-40:] for l in lines]}")
        check(time.monotonic() - t0 < SLOW_BOUND, "logs answers under flood too")
        for n in units:
            check(s.status(n)["state"] == "running", f"{n} still running")


def test_follower_that_never_reads_does_not_hurt():
    # a `logs -f` client on a flooding unit that reads nothing: supd must cut it off or drop
    # for it, never stall, never grow without bound
    units = {"flood": "[Service]\nExec=/bin/sh -c 'l=$(printf %01000d 0); exec yes \"$l\"'\n",
             "quiet": "[Service]\nExec=/bin/sleep 1000\n"}
    with Supd(units) as s:
        s.wait_state("flood", "running")
        s.wait_state("quiet", "running")
        body = json.dumps({"v": 1, "cmd": "logs", "units": ["flood"], "follow": True, "lines": 0}).encode()
        hog = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.connect(s.socket)
        hog.sendall(struct.pack(">I", len(body)) + body)
        try:
            t_end = time.monotonic() + 3
            while time.monotonic() < t_end:  # 3 s of flood while the follower reads nothing
                t0 = time.monotonic()
                r = s.ctl("status", timeout=10)
                check(r.returncode == 0, f"status: {r.returncode} {r.stderr}")
                check(time.monotonic() - t0 < SLOW_BOUND, "status answers while a follower stalls")
            with open(f"/proc/{s.supd_pid()}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            print(f"  supd's RSS with a stalled follower of a flood: {rss // 1024} MiB", flush=True)
            check(rss < 256 * 1024, f"supd's memory stays bounded: {rss} KiB")
        finally:
            hog.close()
        out = logs(s, "flood", "-n", "2")
        check(len([l for l in out.splitlines() if l.strip()]) == 2, "logs still answers")


def test_exit_note_comes_after_the_last_output():
    # what a unit printed before it died must come before supd's "exited with code 1" in the
    # log: "newest last", and the order anyone reads a crash in
    unit = """
[Service]
Exec=/bin/sh -c 'sleep 0.2; echo last-words; echo last-on-stderr >&2; exit 1'
Restart=no
"""
    with Supd({"crash": unit}) as s:
        s.wait_state("crash", "failed")
        out = retry(lambda: (lambda o: o if has_line(o, "last-words") and has_line(o, "last-on-stderr")
                             else None)(logs(s, "crash", "-n", "1000")), what="the output logged")
        lines = out.splitlines()
        note = [i for i, l in enumerate(lines) if "exited with code 1" in l]
        check(note, f"supd notes the exit in the log: {lines[-5:]}")
        last = max(i for i, l in enumerate(lines) if l.rstrip().endswith(("last-words", "last-on-stderr")))
        check(last < note[0], f"the unit's last output comes before the exit note: {lines[-6:]}")


def logs_request(s, unit, lines):
    body = json.dumps({"v": 1, "cmd": "logs", "units": [unit], "lines": lines}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(s.socket)
        c.sendall(struct.pack(">I", len(body)) + body)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
            chunk = c.recv(1 << 20)
            check(chunk, "reply cut short")
            buf += chunk
        return json.loads(buf[4:])


def test_ring_keeps_the_newest_and_counts_the_dropped():
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'seq -f "line-%05g" 1 5000'
"""
    with Supd({"many": unit}, config="[Log]\nBufferSize=16K\n") as s:
        s.wait_state("many", "exited")
        rep = retry(lambda: (lambda r: r if any(l["text"] == "line-05000" for l in r["data"]["lines"]) else None)(
            logs_request(s, "many", 0)), what="the last line logged")
        lines = [l["text"] for l in rep["data"]["lines"] if l["stream"] == "stdout"]
        check(rep["data"]["dropped"] > 0, f"a 16K ring cannot hold 5000 lines: dropped {rep['data']['dropped']}")
        check(lines[-1] == "line-05000", f"the newest line is kept: {lines[-1:]}")
        nums = [int(t.split("-")[1]) for t in lines]
        check(nums == list(range(nums[0], 5001)), "what is kept is the newest lines, contiguous, in order")
        check(rep["data"]["dropped"] + len(rep["data"]["lines"]) >= 5000, "dropped counts what is gone")
        ts = [l["ts"] for l in rep["data"]["lines"]]
        check(ts == sorted(ts), "timestamps never go back")
        out = logs(s, "many", "-n", "4")  # supd's note of the exit is among the newest 4
        lines = [l.rstrip() for l in out.splitlines() if l.strip()]
        got = [l[-10:] for l in lines if "exited with code" not in l][-3:]
        check(len(lines) == 4 and got == ["line-04998", "line-04999", "line-05000"],
              f"supctl logs -n 4 of it: {out!r}")


def test_invalid_utf8_output():
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'printf "caf\\351 \\377\\376 binary\\n"; echo plain-after'
"""
    with Supd({"bin": unit}) as s:
        s.wait_state("bin", "exited")
        out = retry(lambda: (lambda o: o if has_line(o, "plain-after") else None)(logs(s, "bin")),
                    what="both lines logged")
        check(any("caf" in l and l.rstrip().endswith("binary") for l in out.splitlines()),
              f"a line that is not UTF-8 is shown, not dropped: {out!r}")
        r = s.ctl_ok("status", "--json", "bin")
        check(json.loads(r.stdout)[0]["state"] == "exited", "status JSON still fine")


def test_logs_unknown_unit_exits_3():
    with Supd({"a": "[Service]\nExec=/bin/sleep 1000\n"}) as s:
        s.wait_state("a", "running")
        r = s.ctl("logs", "nosuch")
        check(r.returncode == 3, f"logs of an unknown unit: exit {r.returncode} ({r.stderr.strip()})")
        check("nosuch" in r.stderr, f"the message names it: {r.stderr!r}")
        r = s.ctl("logs", "nosuch", "-f", timeout=10)
        check(r.returncode == 3, f"logs -f of an unknown unit: exit {r.returncode}")


if __name__ == "__main__":
    run_tests([
        test_logs_tail_newest_last_both_streams,
        test_logs_kept_after_exit_with_partial_line,
        test_logs_follow_streams_new_lines,
        test_flood_does_not_slow_status,
        test_follower_that_never_reads_does_not_hurt,
        test_exit_note_comes_after_the_last_output,
        test_ring_keeps_the_newest_and_counts_the_dropped,
        test_invalid_utf8_output,
        test_logs_unknown_unit_exits_3,
    ])
