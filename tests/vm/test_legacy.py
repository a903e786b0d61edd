"""Legacy cgroup mode on a real (qemu TCG) machine: supd as PID 1 with `[Cgroup] Mode=v1` in
supd.conf mounts a tmpfs at /sys/fs/cgroup, one cgroup v1 hierarchy per enabled controller
(cpu,cpuacct co-mounted, with the cpu and cpuacct symlinks) and cgroup2 at unified/; the units
run in their v1 cgroups with their limits as v1 files; poweroff still works. Then the kernel's
cgroup_no_v1=: a controller it keeps off v1 is skipped, and with `all` supd falls back to
cgroup2."""

from vm import VM, expect, run_tests

CONF = "[Machine]\nHostname=legacy\n[Cgroup]\nMode=v1\n"

HELPERS = r"""
st() { supctl status --json "$1" | tr -d ' \n'; }
stats() { supctl stats --json "$1" | tr -d ' \n'; }
num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"; }
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }
state_is() { has "$(st $1)" "\"state\":\"$2\""; }
cg=/sys/fs/cgroup
"""

FILES = {
    # a hog for two runs (dd's 64 MiB buffer against MemoryMax=32M), then it behaves
    "etc/t/hog.sh": ("#!/bin/sh\nn=$(cat /run/hog.n 2>/dev/null || echo 0)\n"
                     "echo $((n + 1)) > /run/hog.n\n"
                     "[ $n -lt 2 ] && exec dd if=/dev/zero of=/dev/null bs=64M count=1\n"
                     "exec sleep 1000\n", 0o755),
    # a grandchild in a session of its own, deaf to SIGTERM: only the cgroup knows it
    "etc/t/dfork.sh": ("#!/bin/sh\nsetsid sh -c 'trap \"\" TERM; sleep 1000 & echo $! > "
                       "/run/gc.pid' &\nexec sleep 1000\n", 0o755),
}

UNITS = {
    "svc": "[Service]\nExec=/bin/sleep 1000\n"
           "[Resources]\nMemoryMax=32M\nPidsMax=20\nCPUWeight=200\nCPUQuota=50%\n",
    "whereami": "[Service]\nType=oneshot\nExec=/bin/cat /proc/self/cgroup\n",
    "hog": "[Service]\nExec=/etc/t/hog.sh\nRestart=on-failure\nRestartSec=100ms\n"
           "[Resources]\nMemoryMax=32M\n",
    "dfork": "[Service]\nExec=/etc/t/dfork.sh\nStopTimeoutSec=30s\n",
}

CHECK = HELPERS + r"""
echo "--- /proc/mounts (cgroup):"; grep cgroup /proc/mounts
ls -l $cg
check "/sys/fs/cgroup is a read-only tmpfs" grep -q "^tmpfs $cg tmpfs ro," /proc/mounts
for h in "cpu,cpuacct" memory pids cpuset blkio freezer devices; do
  check "v1 hierarchy $h mounted" grep -q "^cgroup $cg/$h cgroup .*[,]$h[, ]" /proc/mounts
done
check "cpu -> cpu,cpuacct" [ "$(readlink $cg/cpu)" = "cpu,cpuacct" ]
check "cpuacct -> cpu,cpuacct" [ "$(readlink $cg/cpuacct)" = "cpu,cpuacct" ]
check "cgroup2 at unified (hybrid)" grep -q "^cgroup2 $cg/unified cgroup2 " /proc/mounts
check "unified has favordynmods (FavorDynMods= unset: yes as the machine's init)" grep -q "^cgroup2 $cg/unified cgroup2 .*favordynmods" /proc/mounts
check "unified: still nosuid,nodev,noexec after the favordynmods remount" grep -q "^cgroup2 $cg/unified cgroup2 rw,nosuid,nodev,noexec," /proc/mounts
check "unified: no controller enabled" [ -z "$(cat $cg/unified/cgroup.subtree_control)" ]
check "supd uses the v1 backend" sh -c 'dmesg | grep -q "supd: info: cgroup v1: each unit in its own cgroup under the root"'

# --- placement
p=$(st svc | num pid)
echo "svc pid $p:"; cat /proc/$p/cgroup
for c in memory pids "cpu,cpuacct" freezer cpuset blkio; do
  check "svc's process: $c:/svc in /proc/PID/cgroup" grep -q "^[0-9]*:$c:/svc$" /proc/$p/cgroup
done
check "svc's pid is in memory/svc/cgroup.procs" grep -qx "$p" $cg/memory/svc/cgroup.procs
echo "whereami printed: $(supctl logs whereami | tr '\n' ' ')"
check "a oneshot's first instruction already in its memory cgroup" sh -c 'supctl logs whereami | grep -q ":memory:/whereami$"'
check "oneshot done: its cgroups are removed" wait_for 3 [ ! -d $cg/memory/whereami -a ! -d $cg/pids/whereami ]

# --- limits as v1 files
check "svc: memory.limit_in_bytes = 32M" [ "$(cat $cg/memory/svc/memory.limit_in_bytes)" = 33554432 ]
check "svc: pids.max = 20" [ "$(cat $cg/pids/svc/pids.max)" = 20 ]
check "svc: cpu.shares = 2048 (CPUWeight=200)" [ "$(cat $cg/cpu/svc/cpu.shares)" = 2048 ]
check "svc: cpu.cfs_quota_us = 50000 (CPUQuota=50%)" [ "$(cat $cg/cpu/svc/cpu.cfs_quota_us)" = 50000 ]
check "svc: cpuset.cpus inherited" [ -n "$(cat $cg/cpuset/svc/cpuset.cpus)" ]
s=$(stats svc)
echo "svc stats: $s"
check "svc stats: memory_current_bytes > 0" [ "$(echo "$s" | num memory_current_bytes)" -gt 0 ]
check "svc stats: pids_current = 1" [ "$(echo "$s" | num pids_current)" = 1 ]

# --- MemoryMax= OOM on v1 (memory.oom_control eventfd), Restart=
check "hog: OOM-killed twice, third run up" wait_for 20 sh -c '[ "$(cat /run/hog.n 2>/dev/null)" -ge 3 ]'
wait_for 5 state_is hog running
s=$(st hog)
echo "hog status: $s"
check "hog: oom_kills >= 1" [ "$(echo "$s" | num oom_kills)" -ge 1 ]
check "hog: last_exit is {\"signal\":\"SIGKILL\"}" has "$s" '"last_exit":{"signal":"SIGKILL"}'
check "hog: restarts = 2" [ "$(echo "$s" | num restarts)" = 2 ]

# --- stop reaches a double-forked grandchild through the cgroup (freezer, SIGKILL)
wait_for 5 [ -s /run/gc.pid ]
gc=$(cat /run/gc.pid)
check "dfork: grandchild is in the unit's freezer cgroup" grep -qx "$gc" $cg/freezer/dfork/cgroup.procs
check "dfork: supctl stop" timeout 20 supctl stop dfork
check "dfork: grandchild killed" wait_for 2 sh -c "[ ! -e /proc/$gc ] || grep -q '^State:.*Z' /proc/$gc/status"
check "dfork: cgroups removed" [ ! -d $cg/memory/dfork -a ! -d $cg/freezer/dfork ]
supctl status
"""


def test_legacy_v1_hierarchies():
    r = VM("legacy-v1", UNITS, CHECK, conf=CONF, files=FILES, modules=False,
           timeout=120).run()
    expect(r, "[Cgroup] Mode=v1 as the machine's init")
    assert r.lines(r"machine: cgroup v1 hierarchies mounted: .*cpu,cpuacct.*memory"), \
        "supd logs the hierarchies it mounted"
    assert not r.lines(r"supd: warning: machine: .*cgroup"), "no cgroup warning from machine.c"
    assert not r.lines(r"svc: warning:"), "svc's limits written without a warning"
    assert r.lines(r"machine: powering off now") and r.lines(r"reboot: Power down"), \
        "poweroff still works"
    print("  " + r.lines(r"cgroup v1 hierarchies mounted")[0].strip())


NO_V1_CHECK = HELPERS + r"""
grep cgroup /proc/mounts
check "no v1 memory hierarchy (cgroup_no_v1=memory)" [ ! -e $cg/memory ]
check "v1 pids hierarchy mounted" grep -q "^cgroup $cg/pids cgroup " /proc/mounts
p=$(st svc | num pid)
cat /proc/$p/cgroup
check "svc: pids:/svc" grep -q "^[0-9]*:pids:/svc$" /proc/$p/cgroup
check "svc: pids.max = 20" [ "$(cat $cg/pids/svc/pids.max)" = 20 ]
"""

ALL_OFF_CHECK = HELPERS + r"""
grep cgroup /proc/mounts
check "fallback: cgroup2 at /sys/fs/cgroup (nosuid,nodev,noexec)" grep -q "^cgroup2 $cg cgroup2 rw,nosuid,nodev,noexec," /proc/mounts
p=$(st svc | num pid)
check "svc in its cgroup2 cgroup (0::/svc)" [ "$(cat /proc/$p/cgroup)" = "0::/svc" ]
check "svc: memory.max = 32M" [ "$(cat $cg/svc/memory.max)" = 33554432 ]
"""


def test_cgroup_no_v1():
    units = {"svc": UNITS["svc"]}
    r = VM("legacy-no-v1-memory", units, NO_V1_CHECK, conf=CONF, modules=False,
           cmdline="cgroup_no_v1=memory", timeout=60).run()
    expect(r, "Mode=v1 with cgroup_no_v1=memory")
    assert r.lines(r"machine: cgroup_no_v1=memory: no v1 hierarchy for memory"), "logged"
    assert r.lines(r"svc: warning: Memory\*=: no memory hierarchy"), \
        "MemoryMax= without a memory hierarchy is a warning"
    r = VM("legacy-no-v1-all", units, ALL_OFF_CHECK, conf=CONF, modules=False,
           cmdline="cgroup_no_v1=all", timeout=60).run()
    expect(r, "Mode=v1 with cgroup_no_v1=all: cgroup2 instead")
    assert r.lines(r"machine: \[Cgroup\] Mode=v1 but no v1 hierarchy could be mounted"), \
        "the fallback is an error in the log"


if __name__ == "__main__":
    run_tests([test_legacy_v1_hierarchies, test_cgroup_no_v1])
