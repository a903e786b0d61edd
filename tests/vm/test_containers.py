"""Containers on pure cgroup v2 with user namespaces, in the VM (one boot, every check in it).

The guest switches root to a tmpfs copy of its initramfs before supd starts (/swinit):
pivot_root refuses the initramfs itself. The container root is the integration tests' busybox
root (roots.busybox(), with ctprobe) on an ext4 disk (/dev/vdb at /ct): on this kernel (Debian's
6.1) ext4 can be id-mapped and tmpfs cannot, which the test uses both ways. Checked from
inside, as a user would, and from the guest's side of it:

- UserNamespace=auto: an automatic range; the root and a Bind= source id-mapped (root's files
  root's inside, nothing chowned on the disk, what the container writes is the disk's root's);
  the container's tmpfs owned by its mapped root; a root on tmpfs (no id-mapped mounts on 6.1)
  refused with a message naming it;
- the container itself: PID 1 is the container init, hostname, cgroup namespace, Docker's
  capabilities, no_new_privs, seccomp, refused syscalls, read-only root, masked /proc, the
  service's real wait status;
- devices: the BPF device program (v2) refuses a host disk's node shipped in the root or made
  with CAP_MKNOD, with and without a user namespace; Devices= adds one;
- leaf cgroups: exec and health checks run in UNIT/sup-exec and UNIT/sup-health (inside: 0::/
  sup-exec); a plain unit whose service enabled a controller below its cgroup (so that its own
  cgroup can take no process) still gets exec and health checks; the unit's memory limit holds
  an exec'd command (OOM-killed in the leaf).
"""

import os
import shutil
import subprocess
import sys
import tempfile

from vm import VM, VMUnavailable, expect, run_tests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import roots  # noqa: E402  (the integration tests' root builder)

SWINIT = r"""#!/bin/sh
# pivot_root refuses the initramfs (rootfs): a tmpfs copy becomes the root, then supd is PID 1
export PATH=/bin
mkdir /newroot
mount -t tmpfs -o mode=755 root /newroot
for f in /*; do [ "$f" = /newroot ] || cp -a "$f" /newroot/; done
exec switch_root /newroot /bin/supd "$@"
"""

CT = "[Container]\nRootDirectory=/ct/root\n"
NEEDS = "[Unit]\nRequires=ctdisk\nAfter=ctdisk\n"

UNITS = {
    "ctdisk": "[Unit]\nAfter=kmod\n[Service]\nType=oneshot\n"
              "Exec=/bin/sh -c 'mkdir -p /ct && mount -t ext4 /dev/vdb /ct'\n",
    # an automatic user namespace: id-mapped root and bind, health checks in a leaf
    "ns": NEEDS + "[Service]\nExec=/bin/sleep 1000\n"
          "HealthCmd=/bin/sh -c 'cat /proc/self/cgroup > /tmp/h'\nHealthIntervalSec=1s\n"
          + CT + "UserNamespace=auto\nHostname=box\nBind=/ct/data:/data\nReadOnlyRoot=yes\n",
    # no user namespace: CAP_MKNOD works, the device program must hold
    "dev": NEEDS + "[Service]\nExec=/bin/sleep 1000\n" + CT + "Devices=/dev/vdc r\n",
    # the service's own death, through the init, in a user namespace
    "seg": NEEDS + "[Service]\nType=oneshot\nRestart=no\nExec=/bin/sh -c 'kill -SEGV $$'\n"
           + CT + "UserNamespace=auto\n",
    # a root on tmpfs: no id-mapped mounts on this kernel
    "tmproot": "[Service]\nType=oneshot\nRestart=no\nExec=/bin/true\n[Container]\n"
               "RootDirectory=/tmproot\nUserNamespace=auto\n",
    # a plain unit whose service moves itself down and enables pids below its cgroup
    "deleg": "[Service]\nExec=/bin/sh -c 'c=/sys/fs/cgroup/deleg; mkdir $c/inner && "
             "echo $$ > $c/inner/cgroup.procs && echo +pids > $c/cgroup.subtree_control && "
             "touch /run/deleg.ok; exec sleep 1000'\n"
             "HealthCmd=/bin/sh -c 'cat /proc/self/cgroup > /run/deleg.h'\nHealthIntervalSec=1s\n",
    "lim": "[Service]\nExec=/bin/sleep 1000\n[Resources]\nMemoryMax=32M\n",
}

CHECK = r"""
cg=/sys/fs/cgroup
st() { supctl status --json "$1" | tr -d ' \n'; }
num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"; }
has() { case "$1" in *"$2"*) return 0;; esac; return 1; }
re() { echo "$1" | grep -Eq "$2"; }
state_is() { has "$(st $1)" "\"state\":\"$2\""; }
# the rest makes no sense without them: say why and stop
bail() { fail "$*"; echo "VMTEST DONE at $(uptime_s)s"; supctl poweroff; exit 1; }
wait_for 20 state_is ns running || bail "ns never ran: $(st ns)"
wait_for 10 state_is dev running || bail "dev never ran: $(st dev)"
set -- $(stat -c '%t %T' /dev/vda); MAJ=$((0x$1)); MIN=$((0x$2))
echo "host disk /dev/vda: $MAJ:$MIN"

# --- UserNamespace=auto on ext4: id-mapped root and bind
o=$(supctl exec ns -- /bin/sh -c 'ps -o pid,comm; hostname; cat /proc/self/uid_map; stat -c "%u %g %n" /bin/busybox /data/f /tmp; cat /proc/self/cgroup; grep -E "^(CapEff|NoNewPrivs|Seccomp)" /proc/self/status; id -u')
echo "$o"
base=$(echo "$o" | awk '$1 == 0 && $3 == 65536 {print $2}')
check "ns: PID 1 is the container init" re "$o" '^ *1 sup-init'
check "ns: hostname" re "$o" '^box$'
check "ns: an automatic range above the host's ids" [ "${base:-0}" -ge 2147483648 ]
check "ns: the root's files are root's inside (id-mapped)" re "$o" '^0 0 /bin/busybox$'
check "ns: the bind source's files are root's inside (id-mapped)" re "$o" '^0 0 /data/f$'
check "ns: its tmpfs is its root's" re "$o" '^0 0 /tmp$'
check "ns: exec in its own cgroup namespace, in the leaf" re "$o" '^0::/sup-exec$'
check "ns: Docker's capabilities" re "$o" 'CapEff:.00000000a80425fb'
check "ns: no_new_privs" re "$o" 'NoNewPrivs:.1'
check "ns: seccomp" re "$o" 'Seccomp:.2'
check "ns: root inside" re "$o" '^0$'
check "ns: the exec leaf is UNIT/sup-exec" [ -d $cg/ns/sup-exec ]
check "ns: nothing chowned on the disk" [ "$(stat -c %u /ct/root/bin/busybox)" = 0 ]
supctl exec ns -- /bin/touch /data/new
check "ns: a file written inside is the disk's root's" [ "$(stat -c %u /ct/data/new)" = 0 ]
p=$(st ns | num pid)
check "ns: its tmpfs belongs to its mapped root on the host" [ -n "$base" -a "$(stat -c %u /proc/$p/root/tmp)" = "$base" ]
check "ns: health checks run in UNIT/sup-health" wait_for 10 sh -c 'supctl exec ns -- /bin/cat /tmp/h | grep -qx "0::/sup-health"'
check "ns: the health leaf is UNIT/sup-health" [ -d $cg/ns/sup-health ]
o=$(supctl exec ns -- /bin/ctprobe)
echo "$o"
for w in "mount: EPERM" "unshare-user: EPERM" "kexec_load: EPERM" "init_module: EPERM" "clone3: ENOSYS" "setns: EPERM"; do
  check "ns: $w" has "$o" "$w"
done
check "ns: read-only root" sh -c '! supctl exec ns -- /bin/touch /x 2>/dev/null'
check "ns: /proc/kcore masked" [ "$(supctl exec ns -- /bin/sh -c 'cat /proc/kcore | wc -c')" = 0 ]
supctl exec ns -- /bin/sh -c 'exit 7'
rc=$?
check "ns: exec's status is the command's" [ $rc = 7 ]

# --- devices: the BPF program, with and without a user namespace
mknod /ct/root/shipped b $MAJ $MIN
o=$(supctl exec ns -- /bin/ctprobe open /shipped r)
echo "ns: $o"
check "ns: a host disk's node shipped in the root: EPERM" has "$o" "open /shipped r: EPERM"
o=$(supctl exec dev -- /bin/sh -c "/bin/ctprobe mknod /dev/disk b $MAJ $MIN; /bin/ctprobe open /dev/disk r; /bin/ctprobe open /shipped r; /bin/ctprobe open /dev/null w; /bin/ctprobe open /dev/vdc r; /bin/ctprobe open /dev/vdc w")
echo "$o"
check "dev: CAP_MKNOD makes the node" has "$o" "mknod /dev/disk: ok"
check "dev: opening it: EPERM" has "$o" "open /dev/disk r: EPERM"
check "dev: the shipped node: EPERM" has "$o" "open /shipped r: EPERM"
check "dev: /dev/null" has "$o" "open /dev/null w: ok"
check "dev: Devices=/dev/vdc r: readable" has "$o" "open /dev/vdc r: ok"
check "dev: ... not writable" has "$o" "open /dev/vdc w: EPERM"

# --- the service's real wait status through the init
check "seg: failed" wait_for 10 state_is seg failed
check "seg: killed by SIGSEGV (not exit 139)" has "$(st seg)" '"last_exit":{"signal":"SIGSEGV"}'

# --- a root on tmpfs cannot be id-mapped on 6.1: a clear error
wait_for 10 state_is tmproot failed
e=$(supctl status --json tmproot)
echo "tmproot: $e"
check "tmproot: refused, saying why" has "$e" "tmpfs (or a mount below it) does not support id-mapped mounts"

# --- leaves: a service that enabled controllers below its cgroup
check "deleg: pids enabled below the unit's cgroup" wait_for 10 [ -e /run/deleg.ok ]
echo "deleg: subtree_control '$(cat $cg/deleg/cgroup.subtree_control)', procs '$(cat $cg/deleg/cgroup.procs)'"
o=$(supctl exec deleg -- /bin/cat /proc/self/cgroup)
check "deleg: exec still works, in UNIT/sup-exec" [ "$o" = "0::/deleg/sup-exec" ]
check "deleg: health checks still run, in UNIT/sup-health" wait_for 10 grep -qx "0::/deleg/sup-health" /run/deleg.h
# --- the unit's limits hold its exec'd commands
supctl exec lim -- dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null
rc=$?
check "lim: an exec'd command over MemoryMax= is OOM-killed (137)" [ $rc = 137 ]
check "lim: the unit counts the OOM kill" wait_for 5 sh -c '[ "$(supctl status --json lim | tr -d " \n" | sed -n "s/.*\"oom_kills\":\([0-9]*\).*/\1/p")" -ge 1 ]'
check "lim: its service still runs" state_is lim running
"""


def ext4_root(img):
    """The busybox root and a bind source on an ext4 image."""
    with tempfile.TemporaryDirectory(prefix="sup-vm-ct-") as d:
        shutil.copytree(roots.busybox(), os.path.join(d, "root"), symlinks=True)
        os.makedirs(os.path.join(d, "data"))
        open(os.path.join(d, "data", "f"), "w").close()
        os.makedirs(os.path.join(d, "spare"))
        r = subprocess.run(["mkfs.ext4", "-q", "-F", "-d", d, img, "32M"], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise VMUnavailable("mkfs.ext4 -d: " + r.stderr)


def test_containers_on_cgroup_v2():
    if not shutil.which("mkfs.ext4"):
        raise VMUnavailable("mkfs.ext4 missing: apt-get install e2fsprogs")
    with tempfile.TemporaryDirectory(prefix="sup-vm-containers-") as d:
        img, spare = os.path.join(d, "ct.img"), os.path.join(d, "spare.img")
        ext4_root(img)
        with open(spare, "wb") as f:
            f.truncate(1 << 20)
        r = VM("containers", UNITS, CHECK, init="/swinit", files={"swinit": (SWINIT, 0o755),
               "init": "busybox switch_root wants it", "tmproot/bin/true": ""}, extra_modules=["ext4"], disks=[img, spare],
               timeout=240, memory="768M").run()
        expect(r, "containers on cgroup v2")


if __name__ == "__main__":
    run_tests([test_containers_on_cgroup_v2])
