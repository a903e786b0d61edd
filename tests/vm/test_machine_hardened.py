"""supd as PID 1 of a machine, under what breaks an appliance in the field (issue 12): the
kernel's own words on init's command line, an OOM from the console shell, fault signals sent to
PID 1, a crash loop against the kernel's log, a stopped (XOFF) serial console, a shutdown that a
reload, a frozen process and repeated requests try to derail, and disks left clean.

Each boot checks several findings; the budget for the file is a few minutes of TCG."""

import os
import re
import shutil
import subprocess
import tempfile

from vm import VM, VMUnavailable, expect, run_tests


def guest_seconds(log, pattern):
    """The kernel timestamp of the first console line matching pattern (a printk line)."""
    m = re.search(r"\[\s*([\d.]+)\] " + pattern, log)
    return float(m.group(1)) if m else None


# `restarts UNIT`: the unit's automatic restarts so far (a file, so that `sh -c` finds it too)
RESTARTS = ("#!/bin/sh\nsupctl status \"$1\" | awk '$1 == \"Restarts:\" {print $2}'\n", 0o755)
PID1_IS_SUPD = '[ "$(readlink /proc/1/exe)" = /bin/supd ]'


def test_kernel_words_and_console_shell_oom():
    """Finding 1: `single 3 -- --bogus -x bar -s` on the kernel command line reach init as
    arguments: supd warns, takes `single` (and `-s`) for the emergency shell, and boots.
    Finding 2: that shell runs with oom_score_adj 0, so an OOM from it kills its processes and
    the machine lives."""
    shell = ("echo SHELL-ADJ=$(cat /proc/$$/oom_score_adj)\n"
             # two 300 MiB buffers in 512 MiB: the OOM killer must pick one of them
             "dd if=/dev/zero of=/dev/null bs=300M count=1 & "
             "dd if=/dev/zero of=/dev/null bs=300M count=1; wait\n"
             "echo MACHINE-LIVES; exit\n")
    check = r"""
check "the units booted after the emergency shell" true
check "supd is still PID 1" [ "$(readlink /proc/1/exe)" = /bin/supd ]
"""
    r = VM("kernel-words", {}, check, modules=False, cmdline="single 3 -- --bogus -x bar -s",
           console_input=shell, timeout=90).run()
    expect(r, "kernel words, console shell OOM")
    for word in ("3", "--bogus", "-x", "bar"):
        assert r.lines(rf"machine: kernel argument '{re.escape(word)}' ignored"), \
            f"supd warns about the kernel's word {word!r}"
    for word in ("single", "-s"):
        assert r.lines(rf"machine: kernel argument '{word}': emergency shell"), \
            f"`{word}` means the emergency shell"
    assert r.lines(r"SHELL-ADJ=0$"), "the console shell starts with oom_score_adj 0"
    assert r.lines(r"Out of memory: Killed process \d+ \(dd\)"), "the OOM killer took a dd"
    assert r.lines(r"^MACHINE-LIVES"), "the shell went on after the OOM"


def test_fault_signals_and_crash_loop_kmsg():
    """Finding 3: SEGV, ABRT, BUS, ILL and FPE sent to PID 1 by a unit are ignored (logged);
    units still restart and poweroff works. Finding 7: a crash loop at the default log level
    leaves the kernel's first boot lines in dmesg (supd rate-limits what it writes to kmsg)."""
    # each failed exec is a ~520-byte note ("cannot start: exec /nonexistent/...: ..."): 600
    # of them are more than twice the kernel's 128 KiB log ring
    missing = "/nonexistent/" + "/".join(["x" * 200] * 3)
    units = {
        "sender": "[Service]\nType=oneshot\n"
                  "Exec=/bin/sh -c 'for s in SEGV ABRT BUS ILL FPE; do kill -$s 1; done'\n",
        "loop": f"[Service]\nExec={missing}\nRestart=always\nRestartSec=1ms\n"
                "RestartMaxSec=1ms\nStartLimitBurst=0\n",
    }
    check = r"""
check "supd is still PID 1 after the fault signals" [ "$(readlink /proc/1/exe)" = /bin/supd ]
check "supd answers after the fault signals" timeout 5 supctl status
n0=$(restarts loop)
wait_for 60 sh -c '[ "$(restarts loop)" -ge 600 ]'
echo "loop restarts: $n0 at the check's start, $(restarts loop) now"
check "the crash loop restarts after the fault signals" [ "$(restarts loop)" -ge 600 ]
check "dmesg still starts with the kernel's first line" sh -c 'dmesg | head -1 | grep -q "Linux version"'
check "supd says it held lines back from kmsg" sh -c 'dmesg | grep -q "supd: warning: [0-9]* lines not written to /dev/kmsg"'
echo "loop lines in dmesg: $(dmesg | grep -c 'loop: info')"
"""
    r = VM("faults-kmsg", units, check, check_after=["sender"], modules=False,
           files={"bin/restarts": RESTARTS}, cmdline="", timeout=120).run()
    expect(r, "fault signals, crash loop vs kmsg")
    for sig in ("SIGSEGV", "SIGABRT", "SIGBUS", "SIGILL", "SIGFPE"):
        assert r.lines(rf"machine: {sig} from pid \d+ .*ignored"), f"{sig} from a unit is logged"
    assert not r.lines("PID 1 crashed"), "no crash mode"
    assert r.lines(r"reboot: Power down"), "poweroff works after the fault signals"


def test_shutdown_deadline_reload_and_repeats():
    """Finding 4: once poweroff has begun, a reload (SIGHUP, supctl reload) and a start start
    nothing; a unit whose process SIGKILL cannot end (a frozen cgroup v1 freezer) does not hold
    the shutdown past its deadline; a second poweroff is accepted and cuts the deadline short.
    Finding 8: a SIGINT during the poweroff does not turn it into a reboot."""
    units = {
        # its process sits in a frozen v1 freezer cgroup: SIGKILL stays pending
        "frozen": "[Service]\nExec=/bin/sh -c 'mkdir -p /run/freezer && "
                  "mount -t cgroup -o freezer freezer /run/freezer && mkdir /run/freezer/f && "
                  "echo $$ > /run/freezer/f/cgroup.procs && exec sleep 100000'\n"
                  "StopTimeoutSec=1s\n",
        # once the check says so: asks for the poweroff, then tries to derail it
        "hammer": "[Service]\n"
                  "Exec=/bin/sh -c 'exec /etc/sup/hammer.sh'\n"
                  "StandardOutput=inherit\nStandardError=inherit\nStopTimeoutSec=20s\n",
    }
    hammer = r"""#!/bin/sh
trap "" TERM
while [ ! -e /run/go ]; do sleep 0.1; done
printf '[Service]\nExec=/bin/sh -c "echo START late >/dev/console; exec sleep 1000"\n' \
    > /etc/sup/units/late.unit
supctl poweroff; echo "HAMMER poweroff rc=$?"
kill -HUP 1
supctl reload; echo "HAMMER reload rc=$?"
supctl start late; echo "HAMMER start rc=$?"
kill -INT 1
sleep 1
supctl poweroff; echo "HAMMER second poweroff rc=$?"
echo "HAMMER done at $(cut -d' ' -f1 /proc/uptime)s"
"""
    check = r"""
wait_for 10 sh -c 'supctl status frozen | grep -q running'
wait_for 5 sh -c '[ -n "$(cat /run/freezer/f/cgroup.procs)" ]'
echo FROZEN > /run/freezer/f/freezer.state
check "the frozen unit's process is frozen" wait_for 5 grep -q '^FROZEN' /run/freezer/f/freezer.state
echo "VMTEST DONE"
touch /run/go
"""
    conf = "[Machine]\nShutdownTimeoutSec=60s\n"
    r = VM("shutdown-deadline", units, check, conf=conf, check_after=["frozen", "hammer"],
           power=None, modules=False, files={"etc/sup/hammer.sh": (hammer, 0o755)}, timeout=90).run()
    expect(r, "shutdown deadline")
    assert r.lines(r"HAMMER poweroff rc=0"), "the first poweroff is accepted"
    assert r.lines(r"reload \(SIGHUP\) refused: supd is shutting down"), "SIGHUP refused"
    assert r.lines(r"HAMMER reload rc=[1-9]") and r.lines(r"supctl reload refused"), \
        "supctl reload refused, and logged"
    assert r.lines(r"HAMMER start rc=[1-9]"), "supctl start refused"
    assert not r.lines(r"START late"), "nothing started during the shutdown"
    assert r.lines(r"machine: Interrupt: reboot again, while powering off: still power off"), \
        "SIGINT during the poweroff is taken as a repeat, not a reboot"
    assert r.lines(r"HAMMER second poweroff rc=0"), "the second poweroff is accepted"
    assert r.lines(r"machine: shutdown deadline passed; still not down: .*frozen"), \
        "the deadline names the unit that did not stop"
    assert r.lines(r"outlived SIGKILL"), "the frozen process is reported"
    assert r.lines(r"reboot: Power down") and not r.lines(r"Restarting system"), \
        "powered off, not rebooted"
    begun = guest_seconds(r.log, r"supd")  # the kernel's copy of supd's lines has timestamps
    done = float(re.search(r"HAMMER done at ([\d.]+)s", r.log).group(1))
    down = guest_seconds(r.log, r"reboot: Power down")
    # the repeat cut the 60 s deadline to 5 s; then SIGKILL, sync and unmount
    assert down - done < 15, f"power down {down - done:.1f}s after the second request"
    print(f"  second poweroff -> power down: {down - done:.1f}s (deadline 60s, cut to 5s)")


def ext4_image(path, label):
    if not shutil.which("mkfs.ext4") or not shutil.which("dumpe2fs"):
        raise VMUnavailable("mkfs.ext4/dumpe2fs missing: apt-get install e2fsprogs")
    with open(path, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", label, path], check=True)


def ext4_state(path):
    """(clean, features line) of an ext4 image, from dumpe2fs -h."""
    out = subprocess.run(["dumpe2fs", "-h", path], capture_output=True, text=True).stdout
    state = re.search(r"^Filesystem state:\s*(.*)$", out, re.M)
    features = re.search(r"^Filesystem features:\s*(.*)$", out, re.M)
    features = features.group(1) if features else ""
    return (state and state.group(1).strip() == "clean" and "needs_recovery" not in features,
            f"state {state.group(1).strip() if state else '?'}; features {features}")


def test_disks_clean_after_poweroff():
    """Finding 6: an ext4 disk mounted at a path with a space, and one mounted behind 300 other
    mounts, are both clean after poweroff (dumpe2fs: no needs_recovery) although a process
    outside every unit holds a file open for writing on each, and a unit lazily unmounted /proc
    (which supd needs to find what to kill and what to unmount)."""
    check = r"""
mkdir -p "/mnt/my disk" /mnt/data
check "the first disk mounts at a path with a space" mount -t ext4 /dev/vdb "/mnt/my disk"
i=0
while [ $i -lt 300 ]; do i=$((i + 1)); mkdir -p /run/m/$i; mount -t tmpfs -o size=16k m$i /run/m/$i || break; done
check "the second disk mounts behind 300 others" mount -t ext4 /dev/vdc /mnt/data
echo "mounts: $(wc -l < /proc/self/mountinfo)"
echo hello > "/mnt/my disk/f"
echo hello > /mnt/data/f
# outside every unit's cgroup (unit stops do not reach it): only supd's kill-all does
setsid sh -c 'echo $$ > /sys/fs/cgroup/cgroup.procs; exec 3>>"/mnt/my disk/held" 4>>/mnt/data/held; echo $$ > /run/holder; exec sleep 100000' &
wait_for 5 [ -s /run/holder ]
check "the holder keeps both disks busy" sh -c '! umount /mnt/data 2>/dev/null'
echo "VMTEST DONE at $(uptime_s)s"
umount -l /proc
supctl poweroff
"""
    with tempfile.TemporaryDirectory(prefix="sup-vm-disks-") as d:
        space, data = os.path.join(d, "space.img"), os.path.join(d, "data.img")
        ext4_image(space, "space")
        ext4_image(data, "data")
        r = VM("disks", {}, check, extra_modules=["ext4"], disks=[space, data], power=None,
               timeout=90).run()
        expect(r, "disks clean after poweroff")
        for img, what in ((space, "the disk at '/mnt/my disk'"),
                          (data, "the disk behind 300 mounts")):
            clean, how = ext4_state(img)
            assert clean, f"{what} is not clean after poweroff: {how}"
            content = subprocess.run(["debugfs", "-R", "cat /f", img], capture_output=True,
                                     text=True).stdout
            assert content == "hello\n", f"{what}: /f holds {content!r}"
    assert r.lines(r"machine: /proc was unmounted \(by a unit\?\); mounted it again"), \
        "/proc mounted again for the way down"
    assert r.lines(r"machine: \d+ processes left: TERM"), "the holder was found and killed"
    m = r.lines(r"machine: \d+ unmounted, \d+ left read-only, \d+ left read-write")
    assert m and int(re.search(r"(\d+) unmounted", m[-1]).group(1)) >= 302, \
        f"every mount handled: {m}"
    print(f"  {m[-1].strip()}")


XOFF, XON = "\x13", "\x11"


def test_console_stopped_with_xoff():
    """Finding 5: ^S on the serial console stops its output; supd's log lines then only fill a
    bounded queue (dropped lines counted and reported after ^Q): supd keeps answering, reaping
    and restarting, and powers off with the console still stopped. The guest reports through
    /dev/kmsg at error priority, which the kernel prints on the console whatever ^S says."""
    # a long name and the debug level: ~1 KiB of supd's log lines per crash
    chatty = "chatty" + "x" * 58
    units = {chatty: "[Service]\nExec=/bin/sh -c '[ -e /run/chat ] && exit 3; exec sleep 100000'\n"
                     "Restart=always\nRestartSec=1ms\nRestartMaxSec=1ms\nStartLimitBurst=0\n"}
    check = f"chatty={chatty}\n" + r"""
exec >/dev/null 2>&1
say() { echo "<3>VMTEST $*" > /dev/kmsg; }
pass() { say "PASS: $*"; }
fail() { say "FAIL: $*"; }
# the console is stopped when 8 KiB cannot be written to it within a second
stopped() { ! head -c 8192 /dev/zero | timeout 1 tr '\0' '\n' > /dev/console; }
flowing() { ! stopped; }
say "XOFF-1"
check "^S stopped the console" wait_for 20 stopped
touch /run/chat; supctl restart --no-wait $chatty
# a few hundred crashes are far more than the queue's 64 KiB
check "chatty crash-loops while the console is stopped" wait_for 60 sh -c "[ \$(restarts $chatty) -ge 300 ]"
say "restarts: $(restarts $chatty)"
check "supd answers while the console is stopped" timeout 5 supctl status
for i in 1 2 3 4 5 6 7 8 9 10; do (sleep 0.1 & echo $! >> /run/orphans); done
gone() { for p in $(cat /run/orphans); do [ ! -e /proc/$p ] || return 1; done; }
check "supd reaps orphans while the console is stopped" wait_for 10 gone
rm /run/chat
wait_for 10 sh -c "supctl status $chatty | grep -q running"
say "XON-1"
# the probe waits for supd's writer (the tty's write lock): flowing = supd's queue written
check "^Q restarted the console" wait_for 20 flowing
supctl stop $chatty   # a line for supd to log, now that there is room: the drop report first
wait_for 10 flowing
say "XOFF-2"
check "^S stopped the console again" wait_for 20 stopped
say "DONE at $(uptime_s)s"
supctl poweroff
"""
    steps = [(r"VMTEST XOFF-1", XOFF), (r"VMTEST XON-1", XON), (r"VMTEST XOFF-2", XOFF)]
    r = VM("console-xoff", units, check, power=None, modules=False, console_input=steps,
           files={"bin/restarts": RESTARTS}, cmdline="sup.log_level=debug", timeout=120).run()
    expect(r, "console stopped with ^S")
    assert r.lines(r"supd: warning: \d+ log lines dropped"), "the dropped lines are reported"
    assert r.lines(r"reboot: Power down"), "powered off with the console stopped"
    assert not r.lines(r"machine: powering off now"), \
        "supd's last lines were still queued behind ^S (else the console was not stopped)"
    print(f"  {r.lines('log lines dropped')[0].strip()}")


if __name__ == "__main__":
    run_tests([test_kernel_words_and_console_shell_oom, test_fault_signals_and_crash_loop_kmsg,
               test_shutdown_deadline_reload_and_repeats, test_disks_clean_after_poweroff,
               test_console_stopped_with_xoff])
