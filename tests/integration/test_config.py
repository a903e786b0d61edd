"""supd.conf: log files with rotation, the in-memory ring's budget, and a broken config."""

import os

from harness import Supd, check, retry, run_tests


def test_log_files_rotate():
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'i=0; while [ $i -lt 2000 ]; do echo "line $i of a unit that talks a lot"; i=$((i+1)); done'
"""
    s = Supd({"talk": unit})
    logdir = os.path.join(s.dir, "logs")
    os.makedirs(logdir)
    s.config = os.path.join(s.dir, "supd.conf")
    with open(s.config, "w") as f:
        f.write(f"[Log]\nDirectory={logdir}\nMaxFileSize=8K\nMaxFiles=2\n")
    with s:
        s.wait_state("talk", "exited")
        names = sorted(os.listdir(logdir))
        check(names == ["talk.log", "talk.log.1", "talk.log.2"], f"rotated files: {names}")
        for n in names:
            size = os.path.getsize(os.path.join(logdir, n))
            check(size <= 8192, f"{n} is {size} bytes, over MaxFileSize")
        last = open(os.path.join(logdir, "talk.log")).read().splitlines()
        check(any(l.endswith("stdout line 1999 of a unit that talks a lot") for l in last),
              f"newest line in talk.log: {last[-2:]}")
        check(last[0][:4].isdigit() and "Z stdout " in last[0], f"timestamped: {last[0]}")


def test_small_ring_counts_dropped_lines():
    unit = """
[Service]
Type=oneshot
Exec=/bin/sh -c 'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done'
"""
    with Supd({"talk": unit}, config="[Log]\nBufferSize=16K\n") as s:
        s.wait_state("talk", "exited")
        r = s.ctl_ok("logs", "talk", "-n", "0")
        lines = r.stdout.splitlines()
        check("line 2999" in lines[-2] or "line 2999" in lines[-1], f"newest kept: {lines[-2:]}")
        check(len(lines) < 3000, f"a 16K ring cannot hold 3000 lines: {len(lines)}")
        check("dropped" in r.stderr, f"supctl says lines were dropped: {r.stderr!r}")


def test_bad_config_does_not_stop_supd():
    conf = "[Log]\nBufferSize=lots\nNoSuchKey=1\n[Nope]\nX=1\n"
    with Supd({"a": "[Service]\nExec=/bin/sleep 1000\n"}, config=conf) as s:
        s.wait_state("a", "running")
        log = s.log()
        check("BufferSize=lots: invalid value" in log, "the bad value is reported")
        check("NoSuchKey" in log, "the unknown key is reported")


if __name__ == "__main__":
    run_tests([test_log_files_rotate, test_small_ring_counts_dropped_lines,
               test_bad_config_does_not_stop_supd])
