"""supd's own log never blocks supd: with its stderr on a pipe nobody reads (`supd | less`, a
container log pipe nobody drains), supd keeps answering, reaping and restarting; the lines that
did not fit are counted and reported once the pipe is read again; the stderr that services
inherit keeps its blocking mode."""

import os
import subprocess
import time

from harness import SLOW_BOUND, SUPD, Supd, check, retry, run_tests


class StalledSupd(Supd):
    """supd with stdout and stderr on a pipe that the test reads only when it says so."""

    def start(self, wait=True):
        cmd = ["unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc",
               SUPD, "--units", self.units, "--run-dir", self.run, "--state-dir", self.state,
               "--log-level", "debug"]
        r, w = os.pipe()
        self.pipe = r
        self.logf = open(self.log_path, "wb")  # the harness closes it; the pipe is the log
        self.proc = subprocess.Popen(cmd, stdout=w, stderr=w, env=self.env)
        os.close(w)
        if wait:
            retry(lambda: self.ctl("version").returncode == 0, timeout=10, what="supd's socket")
        return self

    def drain(self, seconds):
        """Read the pipe for a while: what supd wrote."""
        os.set_blocking(self.pipe, False)
        out = bytearray()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                b = os.read(self.pipe, 65536)
                if not b:
                    break
                out.extend(b)
            except BlockingIOError:
                time.sleep(0.02)
        return out.decode(errors="replace")


def restarts(s, name):
    return s.status(name)["restarts"]


def test_stalled_stderr_never_blocks_supd():
    units = {
        # debug level: several lines per crash, far more than a pipe and the queue hold
        "loop": "[Service]\nExec=/bin/false\nRestart=always\nRestartSec=1ms\n"
                "RestartMaxSec=1ms\nStartLimitBurst=0\n",
        "orphans": "[Service]\nExec=/bin/sh -c 'while :; do (sleep 0.1 &); sleep 0.3; done'\n",
        "flags": "[Service]\nType=oneshot\nExec=/bin/sh -c 'cat /proc/self/fdinfo/2 > $T/flags'\n"
                 "StandardError=inherit\n",
    }
    s = StalledSupd(units)
    with s:
        # 64 KiB of pipe and 64 KiB of queue: at ~350 bytes per crash, 800 crashes fill both
        # twice over
        retry(lambda: restarts(s, "loop") >= 800, timeout=90, what="800 crashes")
        t0 = time.monotonic()
        for _ in range(20):
            s.ctl_ok("status", timeout=5)
        took = time.monotonic() - t0
        check(took < 3 * SLOW_BOUND, f"20 status calls took {took:.1f}s with stderr stalled")
        n = restarts(s, "loop")
        retry(lambda: restarts(s, "loop") > n + 50, timeout=10, what="restarts go on")
        # the orphans unit's sleepers come back to supd: reaped while stderr is stalled

        def no_zombies():
            root = f"/proc/{s.supd_pid()}/task/{s.supd_pid()}/children"
            kids = open(root).read().split()
            zombies = []
            for k in kids:
                try:
                    if open(f"/proc/{k}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                        zombies.append(k)
                except FileNotFoundError:
                    pass
            return len(zombies) <= 1  # the crash loop's latest exit may be a moment old
        for _ in range(10):  # 3 s of orphans, looked at every 0.3 s
            retry(no_zombies, timeout=10, what="supd's children reaped")
            time.sleep(0.3)
        s.ctl_ok("stop", "loop")
        text = s.drain(3)
        s.ctl_ok("start", "flags")  # lines for supd to log, now that there is room
        text += s.drain(2)
        check("log lines dropped (stderr was not being read)" in text,
              f"the drop count is reported; the stream's tail: {text[-2000:]!r}")
        flags = open(os.path.join(s.dir, "flags")).read()
        mode = int(flags.split("flags:")[1].split()[0], 8)
        check(not mode & os.O_NONBLOCK, f"the inherited stderr stays blocking: flags {oct(mode)}")
        dropped = [line for line in text.splitlines() if "log lines dropped" in line]
        print(f"  {dropped[0]}; 20 status calls in {took:.2f}s", flush=True)


if __name__ == "__main__":
    run_tests([test_stalled_stderr_never_blocks_supd])
