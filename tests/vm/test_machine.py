"""supd as PID 1 of a real (qemu TCG) machine: mounts, cgroup2 controllers, dependency order,
restarts, orphans, a tight crash loop, and the way down (poweroff order, a unit that ignores
SIGTERM, reboot, signals)."""

import re

from vm import VM, expect, run_tests


def svc(name, extra_unit="", extra_service=""):
    """A long-running unit that says on the console when it starts and when SIGTERM stops it."""
    return (f"[Unit]\n{extra_unit}\n[Service]\n"
            f"Exec=/bin/sh -c 'trap \"echo STOP {name} >/dev/console; exit 0\" TERM; "
            f"echo {name} >> /run/order; echo START {name} >/dev/console; "
            f"while :; do sleep 1 & wait; done'\n{extra_service}\n")


def order_of(log, word, names):
    """Line positions of 'WORD name' on the console, by name."""
    pos = {}
    for i, line in enumerate(log.splitlines()):
        m = re.search(rf"\b{word} (\w+)$", line.strip())
        if m and m.group(1) in names and m.group(1) not in pos:
            pos[m.group(1)] = i
    return pos


def test_boot_units_and_poweroff():
    units = {
        "db": svc("db"),
        "app": svc("app", "Requires=db\nAfter=db"),
        "web": svc("web", "Requires=app\nAfter=app"),
        "crasher": "[Service]\nExec=/bin/sh -c 'echo x >> /run/crashes; exit 3'\n"
                   "Restart=on-failure\nRestartSec=50ms\nStartLimitBurst=4\n",
        "stubborn": "[Service]\nExec=/bin/sh -c 'trap \"\" TERM; echo START stubborn >/dev/console;"
                    " while :; do sleep 1; done'\nStopTimeoutSec=2s\n",
        "forker": "[Service]\nExec=/bin/sh -c 'for i in $(seq 300); do (sleep 0.5 &); done; "
                  "touch /run/forked; exec sleep 1000'\n",
    }
    check = r"""
check "PID 1 is supd" [ "$(readlink /proc/1/exe)" = /bin/supd ]
for m in "/proc proc" "/sys sysfs" "/dev devtmpfs" "/dev/pts devpts" "/dev/shm tmpfs" "/run tmpfs" "/sys/fs/cgroup cgroup2"; do
  set -- $m
  check "$1 mounted ($2)" grep -q "^[^ ]* $1 $2 " /proc/mounts
done
echo "subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
for c in cpu memory pids io; do
  check "cgroup2 controller $c enabled" grep -qw $c /sys/fs/cgroup/cgroup.subtree_control
done
check "hostname from supd.conf" [ "$(hostname)" = vmtest ]
check "lo is up" sh -c 'ip link show lo | grep -q "<.*UP"'
check "kmsg has supd's lines" sh -c 'dmesg | grep -q "supd: info: machine: hostname vmtest"'
check "units started in dependency order" [ "$(grep -E '^(db|app|web)$' /run/order | tr '\n' ' ')" = "db app web " ]
check "crasher restarted by policy" wait_for 10 sh -c '[ $(wc -l < /run/crashes) -ge 3 ]'
supctl status crasher
wait_for 20 [ -e /run/forked ]
sleep 1
zombies() { grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l; }
check "orphan storm: no zombies left" wait_for 10 [ "$(zombies)" = 0 ]
supctl status
"""
    r = VM("boot-poweroff", units, check, conf="[Machine]\nHostname=vmtest\n",
           cmdline="", timeout=120).run()
    expect(r, "boot, units, poweroff")
    stops = order_of(r.log, "STOP", ["db", "app", "web"])
    assert stops.get("web", -1) < stops.get("app", -1) < stops.get("db", -1) and "web" in stops, \
        f"units stop in reverse dependency order (web, app, db): {stops}"
    starts = order_of(r.log, "START", ["db", "app", "web"])
    assert starts["db"] < starts["app"] < starts["web"], f"start order: {starts}"
    assert r.lines(r"stubborn: .*SIGKILL"), "stubborn unit was SIGKILLed after StopTimeoutSec"
    assert r.lines(r"machine: powering off now") and r.lines(r"reboot: Power down"), "powered off"
    done = float(re.search(r"VMTEST DONE at ([\d.]+)s", r.log).group(1))
    down = float(re.search(r"\[\s*([\d.]+)\] reboot: Power down", r.log).group(1))
    # within the stop timeouts: stubborn's 2s is the one that runs out (the others are 10s,
    # and stop at once); the margin is for TCG on a busy host
    assert down - done < 8, f"poweroff took {down - done:.2f}s (stop timeouts: 2s, 10s)"
    print(f"  supctl poweroff -> power down: {down - done:.2f}s (guest clock)")
    print(f"  stop order web, app, db; stubborn SIGKILLed; {r.lines('SIGKILL')[0].strip()}")


def test_tight_crash_loop_keeps_supd_answering():
    units = {"tightloop": "[Service]\nExec=/bin/false\nRestart=always\nRestartSec=1ms\n"
                          "RestartMaxSec=1ms\nStartLimitBurst=0\n",
             "ok": svc("ok")}
    check = r"""
restarts() { supctl status tightloop | awk '$1 == "Restarts:" {print $2}'; }
n1=$(restarts)
ok=0; t0=$(uptime_s)
for i in $(seq 20); do timeout 5 supctl status >/dev/null && ok=$((ok+1)); done
echo "20 supctl status calls in $(echo "$(uptime_s) $t0" | awk '{print $1-$2}')s"
n2=$(restarts)
echo "tightloop restarts: $n1 -> $n2"
check "tight crash loop: supd answers" [ $ok = 20 ]
check "tight crash loop: still restarting" [ "$n2" -gt "$n1" ]
check "the other unit still runs" sh -c 'supctl status ok | grep -q running'
"""
    # warnings only: an info line per crash would flood the serial console
    r = VM("tight-loop", units, check, modules=False, cmdline="sup.log_level=warning",
           timeout=60).run()
    expect(r, "tight crash loop")


def test_supctl_reboot():
    r = VM("reboot", {"a": svc("a")}, "check 'a runs' wait_for 5 grep -q a /run/order",
           power="reboot", timeout=60).run()
    expect(r, "supctl reboot")
    assert r.lines(r"STOP a"), "a stopped on the way down"
    assert r.lines(r"machine: rebooting now") and r.lines(r"reboot: Restarting system"), \
        "the log says reboot"


def test_signals_sigterm_poweroff_sigint_reboot():
    # SIGTERM to PID 1: power off
    r = VM("sigterm", {"a": svc("a")}, 'echo "VMTEST DONE"; kill -TERM 1', power=None,
           timeout=60).run()
    expect(r, "SIGTERM")
    assert r.lines("STOP a") and r.lines(r"reboot: Power down"), "SIGTERM powers off"
    # SIGINT (what ctrl-alt-del becomes once RB_DISABLE_CAD is set): reboot
    r = VM("sigint", {"a": svc("a")}, 'echo "VMTEST DONE"; kill -INT 1', power=None,
           timeout=60).run()
    expect(r, "SIGINT")
    assert r.lines("STOP a") and r.lines(r"reboot: Restarting system"), "SIGINT reboots"


def test_signals_sigusr1_halt_sigusr2_poweroff():
    # SIGUSR1 (busybox halt): stop everything, then reboot(RB_HALT_SYSTEM). A halted guest
    # stays on, so qemu never exits: the harness's timeout ends it (rc 124), and the console
    # must show the halt and nothing wrong before it
    r = VM("sigusr1-halt", {"a": svc("a")}, 'echo "VMTEST DONE"; kill -USR1 1', power=None,
           modules=False, timeout=25).run()
    others = [x for x in r.reasons if not x.startswith("qemu timed out")]
    assert r.rc == 124 and not others, \
        f"SIGUSR1: qemu should run until the timeout (rc {r.rc}), nothing else: {others}"
    assert r.lines("STOP a") and r.lines(r"machine: User defined signal 1: halt"), "halt asked"
    assert r.lines(r"machine: halting now") and r.lines(r"reboot: System halted"), \
        "the kernel halted"
    print(f"  SIGUSR1: {r.lines('System halted')[0].strip()} (qemu ended by the timeout)")
    # SIGUSR2 (busybox poweroff): power off
    r = VM("sigusr2", {"a": svc("a")}, 'echo "VMTEST DONE"; kill -USR2 1', power=None,
           modules=False, timeout=60).run()
    expect(r, "SIGUSR2")
    assert r.lines("STOP a") and r.lines(r"reboot: Power down"), "SIGUSR2 powers off"


def test_missing_units_dir_keeps_supd_up():
    # no units at all: the console shell (sup.shell) is the only way in
    shell = ("echo SHELL-UP; supctl status; echo status=$?; "
             "echo 'VMTEST DONE'; supctl poweroff\n")
    r = VM("no-units-dir", {}, None, modules=False, cmdline="sup.units=/nonexistent sup.shell",
           console_input=shell, timeout=60).run()
    expect(r, "missing units directory")
    assert r.lines(r"supd: error: .*nonexistent"), "supctl status shows supd's error"
    assert r.lines(r"status=0"), "supctl status answers"


def test_all_bad_units_keep_supd_up():
    units = {"bad1": "[Service]\nNoSuchKey=1\n", "bad2": "not an ini file at all\n["}
    shell = ("supctl status; echo status=$?; "
             "echo 'VMTEST DONE'; supctl poweroff\n")
    r = VM("all-bad-units", units, None, modules=False, cmdline="sup.shell",
           console_input=shell, timeout=60).run()
    expect(r, "all-bad units directory")
    assert r.lines(r"supd: error: every unit in .* is bad"), "status shows the error"
    assert r.lines(r"bad1 .*bad") and r.lines(r"status=0"), "bad units listed; supd answers"


def test_emergency_shell_then_units():
    shell = ("echo IN-SHELL pid1=$(cat /proc/1/comm); supctl status; touch /run/shell-was-here;"
             " exit\n")
    check = "check 'the units booted after the emergency shell' [ -e /run/shell-was-here ]"
    r = VM("emergency", {"a": svc("a")}, check, modules=False, cmdline="sup.emergency",
           console_input=shell, timeout=60).run()
    expect(r, "sup.emergency")
    assert r.lines("IN-SHELL"), "the shell ran"
    assert r.lines(r"machine: the shell ended"), "supd saw the shell end"


if __name__ == "__main__":
    run_tests([test_boot_units_and_poweroff, test_tight_crash_loop_keeps_supd_answering,
               test_supctl_reboot,
               test_signals_sigterm_poweroff_sigint_reboot,
               test_signals_sigusr1_halt_sigusr2_poweroff, test_missing_units_dir_keeps_supd_up,
               test_all_bad_units_keep_supd_up, test_emergency_shell_then_units])
