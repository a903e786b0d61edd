"""supd.conf: log files with rotation, the in-memory ring's budget, and a broken config."""

import os
import subprocess
import tempfile
import time

from harness import IN_CI, Supd, check, retry, run_tests


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
    def caught_up():
        # files are written by supd's writer thread: they may lag the unit by a moment
        try:
            text = open(os.path.join(logdir, "talk.log")).read()
        except FileNotFoundError:
            return None
        return "line 1999 of a unit that talks a lot" in text

    with s:
        s.wait_state("talk", "exited")
        retry(caught_up, timeout=10, what="the last line in talk.log")
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


def test_frozen_log_disk_does_not_stall_supd():
    """Log files on a disk that stops taking writes (an ext4 frozen with fsfreeze: every write
    blocks until it is thawed): supd keeps answering and supervising; the lines it could not
    write are counted in the file once the disk is back."""
    for tool in ("mkfs.ext4", "fsfreeze", "losetup"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            check(not IN_CI, f"{tool} is missing")
            print(f"skip: no {tool}")
            return
    work = tempfile.mkdtemp(prefix="sup-frozen-")
    img, mnt = os.path.join(work, "disk.img"), os.path.join(work, "logs")
    os.makedirs(mnt)
    subprocess.run(["truncate", "-s", "64M", img], check=True)
    subprocess.run(["mkfs.ext4", "-q", img], check=True)
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    frozen = False
    units = {
        # about 0.5 MB/s: the writer's queue (1 MiB) fills while the disk is frozen
        "chatter": "[Service]\nExec=/bin/sh -c 'x=$(head -c 4000 /dev/zero | tr \"\\\\0\" a); "
                   "i=0; while :; do echo $x; i=$((i+1)); echo $i > \"$T/n\"; sleep 0.001; done'\n",
        "crasher": "[Service]\nExec=/bin/sh -c 'sleep 0.2; exit 1'\nRestart=always\n"
                   "RestartSec=100ms\nRestartMaxSec=100ms\nStartLimitBurst=0\n",
    }
    try:
        with Supd(units, config=f"[Log]\nDirectory={mnt}\n") as s:
            s.wait_state("chatter", "running")
            retry(lambda: os.path.getsize(os.path.join(mnt, "chatter.log")) > 0,
                  what="chatter.log written")
            subprocess.run(["fsfreeze", "-f", mnt], check=True)
            frozen = True
            before = s.status("crasher")["restarts"]
            start = s.status("chatter")

            def lines():
                try:
                    return int(open(os.path.join(s.dir, "n")).read() or 0)
                except (FileNotFoundError, ValueError):
                    return 0
            first = lines()

            def overflowed():
                # while frozen, supctl answers at once and the unit's lines pile up in the
                # writer's queue (1 MiB) until it overflows
                t = time.monotonic()
                s.ctl_ok("status", timeout=5)
                check(time.monotonic() - t < 1.0, "supctl answers while the disk is frozen")
                return (lines() - first) * 4000 > 1400 * 1024

            retry(overflowed, timeout=40, interval=0.2, what="1.4 MB of lines while frozen")
            check(s.status("chatter")["pid"] == start["pid"], "the chatty unit ran on")
            after = s.status("crasher")["restarts"]
            check(after >= before + 5, f"restarts go on while the disk is frozen: {before} -> {after}")
            subprocess.run(["fsfreeze", "-u", mnt], check=True)
            frozen = False
            log = os.path.join(mnt, "chatter.log")
            retry(lambda: "lines not written here" in open(log).read(), timeout=15,
                  what="the mark of the lines dropped while frozen")
    finally:
        if frozen:
            subprocess.run(["fsfreeze", "-u", mnt])
        subprocess.run(["umount", mnt])
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    run_tests([test_log_files_rotate, test_small_ring_counts_dropped_lines,
               test_bad_config_does_not_stop_supd, test_frozen_log_disk_does_not_stall_supd])
