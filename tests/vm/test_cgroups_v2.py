"""Cgroups on pure cgroup v2, in the VM (supd as PID 1 mounts cgroup2 and enables the
controllers; this host's own cgroup v2 has none): CLONE_INTO_CGROUP placement, MemoryMax= OOM
kills with Restart=, PidsMax= against a fork bomb, CPUQuota= (cpu.max), stop through
cgroup.kill, IOReadBandwidthMax= (io.max on the virtio disk), and what supctl shows of it:
status --json, stats --json (PSI), metrics (the spec's names; promtool when installed).

Two boots; every check runs in the guest as the harness's `check` unit and prints
VMTEST PASS/FAIL; the host then looks at supd's log and the metrics text."""

import os
import re
import shutil
import subprocess
import tempfile

from vm import VM, expect, run_tests

# guest-side helpers: supctl's JSON, squeezed onto one line, read with sed (busybox only)
HELPERS = r"""
st() { supctl status --json "$1" | tr -d ' \n'; }
stats() { supctl stats --json "$1" | tr -d ' \n'; }
num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"; }
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }
state_is() { has "$(st $1)" "\"state\":\"$2\""; }
cg=/sys/fs/cgroup
"""


def script(body):
    return ("#!/bin/sh\n" + body, 0o755)


FILES = {
    # a hog for two runs (dd's 64 MiB buffer against MemoryMax=32M), then it behaves
    "etc/t/hog.sh": script("n=$(cat /run/hog.n 2>/dev/null || echo 0)\n"
                           "echo $((n + 1)) > /run/hog.n\n"
                           "[ $n -lt 2 ] && exec dd if=/dev/zero of=/dev/null bs=64M count=1\n"
                           "exec sleep 1000\n"),
    # a fork bomb: every process forks copies of itself, forever (ash exits when a fork
    # fails: the main process stays out of it, so the unit keeps running)
    "etc/t/bomb.sh": script("b() { while :; do b & sleep 0.2; done; }\nb &\nexec sleep 1000\n"),
    "etc/t/busy.sh": script("while :; do :; done\n"),
    "etc/t/oomchild.sh": script("dd if=/dev/zero of=/dev/null bs=64M count=1\n"
                                "touch /run/oomchild.done\nexec sleep 1000\n"),
    # a grandchild in a session of its own, double-forked (reparented to supd), deaf to
    # SIGTERM: only the cgroup knows it belongs to the unit
    "etc/t/dfork.sh": script("setsid sh -c 'trap \"\" TERM; sleep 1000 & echo $! > /run/gc.pid' &\n"
                             "exec sleep 1000\n"),
}

LIMITS_UNITS = {
    "svc": "[Service]\nExec=/bin/sleep 1000\n"
           "HealthCmd=/bin/sh -c 'cat /proc/self/cgroup > /run/health.cg'\nHealthIntervalSec=1s\n"
           "[Resources]\nCPUWeight=200\nCPUSet=1\nMemoryHigh=48M\nMemorySwapMax=16M\nIOWeight=500\n",
    # an OOM kill of a child while the main process lives on: only memory.events says so
    "oomchild": "[Service]\nExec=/etc/t/oomchild.sh\n[Resources]\nMemoryMax=32M\n",
    # its first instruction: print the cgroup it runs in
    "whereami": "[Service]\nType=oneshot\nExec=/bin/cat /proc/self/cgroup\n",
    "hog": "[Service]\nExec=/etc/t/hog.sh\nRestart=on-failure\nRestartSec=100ms\n"
           "[Resources]\nMemoryMax=32M\n",
    "bomb": "[Service]\nExec=/etc/t/bomb.sh\nStopTimeoutSec=5s\n"
            "[Resources]\nPidsMax=16\nCPUQuota=10%\nMemoryMax=64M\n",
    "busy": "[Service]\nExec=/etc/t/busy.sh\n[Resources]\nCPUQuota=20%\n",
    "dfork": "[Service]\nExec=/etc/t/dfork.sh\nStopTimeoutSec=30s\n",
}

LIMITS_CHECK = HELPERS + r"""
echo "subtree_control: $(cat $cg/cgroup.subtree_control)"
# --- placement
p=$(st svc | num pid)
echo "svc pid $p: $(cat /proc/$p/cgroup)"
check "svc's process is in $cg/svc (/proc/PID/cgroup)" [ "$(cat /proc/$p/cgroup)" = "0::/svc" ]
check "svc's pid is in svc/cgroup.procs" grep -qx "$p" $cg/svc/cgroup.procs
echo "whereami printed: $(supctl logs whereami)"
check "first instruction of the service already in its cgroup" sh -c 'supctl logs whereami | grep -qx "0::/whereami"'
check "oneshot done: its cgroup is removed" wait_for 3 [ ! -d $cg/whereami ]
check "supd's oom_score_adj is -1000" [ "$(cat /proc/1/oom_score_adj)" = -1000 ]
check "a service's oom_score_adj is 0" [ "$(cat /proc/$p/oom_score_adj)" = 0 ]
check "HealthCmd= runs in a leaf of the unit's cgroup" wait_for 5 grep -qx "0::/svc/sup-health" /run/health.cg
# --- the other [Resources] keys, as v2 files
check "svc: cpu.weight = 200" [ "$(cat $cg/svc/cpu.weight)" = 200 ]
check "svc: cpuset.cpus = 1" [ "$(cat $cg/svc/cpuset.cpus)" = 1 ]
check "svc: runs on CPU 1 only" grep -q "^Cpus_allowed_list:.1$" /proc/$p/status
check "svc: memory.high = 48M" [ "$(cat $cg/svc/memory.high)" = 50331648 ]
check "svc: memory.swap.max = 16M" [ "$(cat $cg/svc/memory.swap.max)" = 16777216 ]
check "svc: io.weight default 500" grep -qx "default 500" $cg/svc/io.weight
check "svc: memory.max unset = max" [ "$(cat $cg/svc/memory.max)" = max ]
check "svc: pids.max unset = max" [ "$(cat $cg/svc/pids.max)" = max ]
check "svc: cpu.max unset = max" [ "$(cat $cg/svc/cpu.max)" = "max 100000" ]
# --- an OOM kill of a child, noticed from memory.events (inotify) with the unit running:
# supctl logs reads no cgroup file, so the note can only come from the event
check "oomchild: the child was OOM-killed" wait_for 10 [ -e /run/oomchild.done ]
check "oomchild: supd noticed (memory.events event)" wait_for 5 sh -c 'supctl logs oomchild | grep -q "supd: out of memory"'
s=$(st oomchild)
echo "oomchild status: $s"
check "oomchild: still running" state_is oomchild running
check "oomchild: oom_kills = 1" [ "$(echo "$s" | num oom_kills)" = 1 ]
check "oomchild: not restarted" [ "$(echo "$s" | num restarts)" = 0 ]

# --- MemoryMax= OOM, Restart=
check "memory.max = 32M" [ "$(cat $cg/hog/memory.max)" = 33554432 ]
check "hog: OOM-killed twice, third run up" wait_for 20 sh -c '[ "$(cat /run/hog.n 2>/dev/null)" -ge 3 ]'
wait_for 5 state_is hog running
s=$(st hog)
echo "hog status: $s"
echo "hog memory.events: $(cat $cg/hog/memory.events | tr '\n' ' ')"
check "hog: running again (Restart=on-failure)" state_is hog running
check "hog: oom_kills >= 1" [ "$(echo "$s" | num oom_kills)" -ge 1 ]
check "hog: last_exit is {\"signal\":\"SIGKILL\"}" has "$s" '"last_exit":{"signal":"SIGKILL"}'
check "hog: restarts = 2" [ "$(echo "$s" | num restarts)" = 2 ]
check "hog: memory.events oom_kill >= 1" [ "$(sed -n 's/^oom_kill //p' $cg/hog/memory.events)" -ge 1 ]
check "hog: stats oom_kills >= 1" [ "$(stats hog | num oom_kills)" -ge 1 ]
supctl status hog
check "hog: supctl logs has supd's OOM note" sh -c 'supctl logs hog | grep -q "supd: out of memory: the OOM killer killed"'

# --- CPUQuota=: cpu.max, and a busy loop held near 20% (guest clock, over 2 s)
check "busy: cpu.max = '20000 100000'" [ "$(cat $cg/busy/cpu.max)" = "20000 100000" ]
u0=$(sed -n 's/^usage_usec //p' $cg/busy/cpu.stat); t0=$(uptime_s)
sleep 2
u1=$(sed -n 's/^usage_usec //p' $cg/busy/cpu.stat); t1=$(uptime_s)
pct=$(echo "$u0 $u1 $t0 $t1" | awk '{printf "%d", ($2-$1)/(($4-$3)*1e6)*100}')
echo "busy under CPUQuota=20%: ${pct}% of a CPU"
check "busy: CPU usage near 20% (10..30)" [ "$pct" -ge 10 -a "$pct" -le 30 ]
check "busy: cpu.stat nr_throttled > 0" [ "$(sed -n 's/^nr_throttled //p' $cg/busy/cpu.stat)" -gt 0 ]
# reload with a new quota: written in place, no restart
bp=$(st busy | num pid)
sed 's/CPUQuota=20%/CPUQuota=50%/' /etc/sup/units/busy.unit > /tmp/busy.unit
cat /tmp/busy.unit > /etc/sup/units/busy.unit
supctl reload
check "reload: cpu.max = '50000 100000'" wait_for 3 [ "$(cat $cg/busy/cpu.max)" = "50000 100000" ]
check "reload: busy kept running (same pid)" [ "$(st busy | num pid)" = "$bp" ]

# --- PidsMax= against a fork bomb; then stop it
check "bomb: pids.max = 16" [ "$(cat $cg/bomb/pids.max)" = 16 ]
check "bomb: forks refused (pids.events max > 0)" wait_for 15 sh -c "[ \$(sed -n 's/^max //p' $cg/bomb/pids.events) -gt 0 ]"
echo "bomb: pids.current $(cat $cg/bomb/pids.current), pids.events $(cat $cg/bomb/pids.events)"
check "bomb: held at <= 16 processes" [ "$(cat $cg/bomb/pids.current)" -le 16 ]
check "bomb: stats pids_current <= 16" [ "$(stats bomb | num pids_current)" -le 16 ]
check "bomb: still running" state_is bomb running
check "bomb: supctl stop" timeout 15 supctl stop bomb
check "bomb: inactive" state_is bomb inactive
check "bomb: cgroup removed" [ ! -d $cg/bomb ]
check "bomb: no bomb.sh process left" sh -c '! grep -l "t/bomb[.]sh" /proc/[0-9]*/cmdline 2>/dev/null | grep -q .'

# --- stop kills a double-forked, setsid'ed grandchild that ignores SIGTERM (cgroup.kill)
wait_for 5 [ -s /run/gc.pid ]
gc=$(cat /run/gc.pid); main=$(st dfork | num pid)
echo "dfork: main $main sid $(cut -d' ' -f6 /proc/$main/stat), grandchild $gc ppid $(cut -d' ' -f4 /proc/$gc/stat) sid $(cut -d' ' -f6 /proc/$gc/stat)"
check "dfork: grandchild in another session" [ "$(cut -d' ' -f6 /proc/$gc/stat)" != "$(cut -d' ' -f6 /proc/$main/stat)" ]
check "dfork: grandchild is in the unit's cgroup" grep -qx "$gc" $cg/dfork/cgroup.procs
t0=$(uptime_s)
check "dfork: supctl stop" timeout 20 supctl stop dfork
echo "dfork: stop took $(echo "$(uptime_s) $t0" | awk '{print $1-$2}')s (StopTimeoutSec=30s)"
check "dfork: grandchild killed" wait_for 2 sh -c "[ ! -e /proc/$gc ] || grep -q '^State:.*Z' /proc/$gc/status"
check "dfork: stopped well before StopTimeoutSec" [ "$(echo "$(uptime_s) $t0" | awk '{print ($1-$2) < 5}')" = 1 ]
check "dfork: inactive" state_is dfork inactive
check "dfork: cgroup removed" [ ! -d $cg/dfork ]
supctl status
"""

IO_UNITS = {
    # 3 MiB of direct reads from the virtio disk at 1 MiB/s: about 3 s
    "ioread": "[Unit]\nAfter=kmod\n[Service]\nExec=/etc/t/ioread.sh\n"
              "[Resources]\nIOReadBandwidthMax=/dev/vda 1M\n",
    "busy": "[Service]\nExec=/etc/t/busy.sh\n",
    # supd under another init (here: a unit of supd as PID 1): it owns its own cgroup,
    # moves itself into the leaf supd/ and gives its units SUBTREE/UNIT
    "nested": "[Service]\nExec=/bin/supd --units /etc/nested/units --run-dir /run/nested "
              "--state-dir /run/nested-state --log-level debug\n[Resources]\nMemoryMax=256M\n",
}

IO_FILES = dict(FILES)
IO_FILES["etc/t/ioread.sh"] = script(
    "t0=$(cut -d' ' -f1 /proc/uptime)\n"
    "dd if=/dev/vda of=/dev/null bs=64k count=48 iflag=direct\n"
    "echo \"$t0 $(cut -d' ' -f1 /proc/uptime)\" > /run/io.time\n"
    "exec sleep 1000\n")
IO_FILES["etc/nested/units/inner.unit"] = "[Service]\nExec=/bin/sleep 1000\n" \
    "[Resources]\nMemoryMax=16M\nPidsMax=8\n"

IO_CHECK = HELPERS + r"""
dev=$(cat /sys/block/vda/dev)
echo "vda is $dev; ioread io.max: $(cat $cg/ioread/io.max)"
check "ioread: io.max has $dev rbps=1048576" grep -q "^$dev rbps=1048576 " $cg/ioread/io.max
check "ioread: the throttled read finished" wait_for 20 [ -s /run/io.time ]
took=$(awk '{printf "%.2f", $2-$1}' /run/io.time)
t0=$(uptime_s); dd if=/dev/vda of=/dev/null bs=64k count=48 iflag=direct 2>/dev/null
free=$(echo "$(uptime_s) $t0" | awk '{printf "%.2f", $1-$2}')
echo "3 MiB direct read from /dev/vda: ${took}s under IOReadBandwidthMax=1M, ${free}s unthrottled"
check "ioread: throttled to about 1 MiB/s (>= 2 s for 3 MiB)" [ "$(echo $took | awk '{print ($1 >= 2.0)}')" = 1 ]
check "unthrottled read is faster (< 1.5 s)" [ "$(echo $free | awk '{print ($1 < 1.5)}')" = 1 ]
s=$(stats ioread)
echo "ioread stats: $s"
check "ioread: io_read_bytes >= 3 MiB" [ "$(echo "$s" | num io_read_bytes)" -ge 3145728 ]
check "ioread: io_read_ops > 0" [ "$(echo "$s" | num io_read_ops)" -gt 0 ]

sleep 1
s=$(stats busy)
echo "busy stats: $s"
check "busy: cpu_usage_usec > 0" [ "$(echo "$s" | num cpu_usage_usec)" -gt 0 ]
check "busy: cpu_user_usec > 0" [ "$(echo "$s" | num cpu_user_usec)" -gt 0 ]
check "busy: memory_current_bytes > 0" [ "$(echo "$s" | num memory_current_bytes)" -gt 0 ]
check "busy: memory_peak_bytes > 0" [ "$(echo "$s" | num memory_peak_bytes)" -gt 0 ]
check "busy: pids_current = 1" [ "$(echo "$s" | num pids_current)" = 1 ]
for r in cpu memory io; do
  check "busy: PSI $r some/full are numbers" sh -c "echo '$s' | grep -q '\"$r\":{\"some_usec\":[0-9][0-9]*,\"full_usec\":[0-9][0-9]*}'"
done
s=$(st busy)
echo "busy status: $s"
check "busy: status cpu_usage_usec > 0" [ "$(echo "$s" | num cpu_usage_usec)" -gt 0 ]
check "busy: status memory_current_bytes > 0" [ "$(echo "$s" | num memory_current_bytes)" -gt 0 ]
check "busy: status pids_current = 1" [ "$(echo "$s" | num pids_current)" = 1 ]

supctl metrics > /tmp/metrics
for m in sup_unit_state sup_unit_restarts_total sup_unit_cpu_usage_seconds_total \
         sup_unit_memory_current_bytes sup_unit_memory_peak_bytes sup_unit_pids_current \
         sup_unit_io_read_bytes_total sup_unit_io_write_bytes_total sup_unit_oom_kills_total \
         sup_unit_cpu_pressure_some_seconds_total; do
  check "metrics: $m with HELP and TYPE" sh -c "grep -q '^# HELP $m ' /tmp/metrics && grep -q '^# TYPE $m ' /tmp/metrics && grep -q '^$m{' /tmp/metrics"
done
check "metrics: busy's cpu seconds > 0" sh -c "grep '^sup_unit_cpu_usage_seconds_total{unit=\"busy\"}' /tmp/metrics | awk '{exit !(\$2 > 0)}'"
check "metrics: ioread read >= 3 MiB" sh -c "grep '^sup_unit_io_read_bytes_total{unit=\"ioread\"}' /tmp/metrics | awk '{exit !(\$2 >= 3145728)}'"
check "metrics: busy's cpu PSI" grep -q '^sup_unit_cpu_pressure_some_seconds_total{unit="busy"} ' /tmp/metrics
check "metrics: state running = 1" grep -q '^sup_unit_state{unit="busy",state="running"} 1$' /tmp/metrics

# --- supd under another init
ns() { supctl --socket /run/nested/supd.sock "$@"; }
check "nested: its unit runs" wait_for 10 sh -c 'supctl --socket /run/nested/supd.sock status inner | grep -q running'
np=$(st nested | num pid)
ip=$(ns status --json inner | tr -d ' \n' | num pid)
echo "nested supd $np: $(cat /proc/$np/cgroup); inner $ip: $(cat /proc/$ip/cgroup); nested/cgroup.subtree_control: $(cat $cg/nested/cgroup.subtree_control)"
check "nested: supd moved itself into nested/supd" grep -qx "$np" $cg/nested/supd/cgroup.procs
check "nested: only supd/ and the units hold processes" [ -z "$(cat $cg/nested/cgroup.procs)" ]
for c in cpu memory pids io; do
  check "nested: controller $c enabled for its units" grep -qw $c $cg/nested/cgroup.subtree_control
done
check "nested: inner is in nested/inner" [ "$(cat /proc/$ip/cgroup)" = "0::/nested/inner" ]
check "nested: inner memory.max = 16M" [ "$(cat $cg/nested/inner/memory.max)" = 16777216 ]
check "nested: inner pids.max = 8" [ "$(cat $cg/nested/inner/pids.max)" = 8 ]
check "nested: placed by clone3" sh -c 'supctl logs nested | grep -q "inner: debug: pid [0-9]* born in its cgroup (clone3"'
check "nested: stats of inner" [ "$(ns stats --json inner | tr -d ' \n' | num memory_current_bytes)" -gt 0 ]
t0=$(uptime_s)
check "nested: supctl stop nested" timeout 15 supctl stop nested
echo "nested: stop took $(echo "$(uptime_s) $t0" | awk '{print $1-$2}')s"
# SIGTERM reaches the nested supd in nested/supd (a child cgroup), not only nested/'s procs
check "nested: stopped by SIGTERM, before the 10 s SIGKILL" [ "$(echo "$(uptime_s) $t0" | awk '{print ($1-$2) < 5}')" = 1 ]
check "nested: inner's process is gone" wait_for 2 sh -c "[ ! -e /proc/$ip ]"
ls -R $cg/nested 2>/dev/null | head -5
check "nested: the whole nested cgroup subtree is removed" wait_for 3 [ ! -d $cg/nested ]

echo "METRICS-BEGIN"; cat /tmp/metrics; echo "METRICS-END"
"""


def test_limits_oom_pids_quota_kill():
    r = VM("cgroups-v2-limits", LIMITS_UNITS, LIMITS_CHECK, files=FILES, modules=False,
           cmdline="sup.log_level=debug", timeout=120).run()
    expect(r, "cgroup v2: placement, OOM, PidsMax, CPUQuota, cgroup.kill")
    assert not r.lines(r"\bwarning: "), f"no warnings: {r.lines(r'warning: ')}"
    assert r.lines(r"cgroup v2: each unit in its own cgroup under the root"), \
        "supd uses the v2 backend with the root as its subtree"
    for unit in ("svc", "whereami", "hog"):
        assert r.lines(rf"\b{unit}\b.*born in its cgroup \(clone3 CLONE_INTO_CGROUP\)"), \
            f"{unit}: placed by clone3(CLONE_INTO_CGROUP) (supd's debug log)"
    assert not r.lines(r"CLONE_INTO_CGROUP refused"), "clone3 was never refused"
    assert r.lines(r"hog.*(out of memory|OOM)"), "supd logs the OOM kill"


def test_io_max_stats_psi_metrics():
    r = VM("cgroups-v2-io-stats", IO_UNITS, IO_CHECK, files=IO_FILES, timeout=120).run()
    expect(r, "cgroup v2: io.max, stats, PSI, metrics")
    assert r.lines(r"nested: info: exited with code 0"), "the nested supd exited 0 on SIGTERM"
    log = r.log
    i, j = log.find("METRICS-BEGIN\n"), log.find("METRICS-END")
    assert 0 <= i < j, "metrics text on the console"
    text = "\n".join(l for l in log[i + len("METRICS-BEGIN\n"):j].splitlines()
                     if not re.match(r"^(\[\s*\d+\.\d+\]|supd)", l)) + "\n"
    if shutil.which("promtool"):
        with tempfile.NamedTemporaryFile("w", suffix=".prom", delete=False) as f:
            f.write(text)
        p = subprocess.run(["promtool", "check", "metrics"], stdin=open(f.name),
                           capture_output=True, text=True)
        os.unlink(f.name)
        assert p.returncode == 0, f"promtool check metrics: {p.stdout}{p.stderr}"
        print("  promtool check metrics: ok")


if __name__ == "__main__":
    run_tests([test_limits_oom_pids_quota_kill, test_io_max_stats_psi_metrics])
