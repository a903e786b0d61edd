#!/usr/bin/env python3
"""Boot-time benchmark in the VM (qemu TCG, Debian's kernel, tests/vm/vm.py): kernel start to
every service up, and to power-off complete, with supd as PID 1 against busybox init running
the same services as shell scripts (inittab respawn lines), same kernel, same run.

    sudo tests/bench/vm_boot.py [RUNS]      (SUPD/SUPCTL/SUP_NOTIFY or SUP_BUILD: the binaries)

Both inits do the same set-up (mounts incl. cgroup2 with its controllers, hostname, lo up), then
start four services: db (ready when it says so), migrate (a oneshot after db), app (after db and
migrate), web (busybox httpd). "all up" is the guest's uptime when every service has written its
marker in /run; "down" is the kernel's timestamp of "reboot: Power down". Both count from the
kernel's start (uptime 0). Prints a markdown table on stdout.
"""

import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vm"))
from vm import VM  # noqa: E402

MARKERS = "db migrate app web"
WAIT_ALL = rf"""
for s in {MARKERS}; do while [ ! -e /run/up.$s ]; do sleep 0.01; done; done
t=$(cut -d' ' -f1 /proc/uptime)
echo "BENCH all-up $t pid1-start $(dmesg | sed -n 's/^\[ *\([0-9.]*\)\] Run .* as init process.*/\1/p' | head -1)"
"""

# the services' bodies, shared by both inits
DB = "echo db: loading; sleep 0.2; touch /run/up.db"
MIGRATE = "mkdir -p /tmp/data && echo v3 > /tmp/data/schema && touch /run/up.migrate"
APP = "touch /run/up.app; while :; do sleep 5; done"
WEB = "touch /run/up.web; exec busybox httpd -f -p 127.0.0.1:8080 -h /tmp"


def supd_vm():
    units = {
        "db": f"[Service]\nType=notify\nExec=/bin/sh -c '{DB}; sup-notify READY=1; "
              "while :; do sleep 5; done'\n",
        "migrate": f"[Unit]\nRequires=db\nAfter=db\n[Service]\nType=oneshot\n"
                   f"Exec=/bin/sh -c '{MIGRATE}'\n",
        "app": f"[Unit]\nRequires=db migrate\nAfter=db migrate\n[Service]\n"
               f"Exec=/bin/sh -c '{APP}'\nRestart=always\n",
        "web": f"[Unit]\nWants=app\nAfter=app\n[Service]\nExec=/bin/sh -c '{WEB}'\n",
    }
    return VM("bench-supd", units, WAIT_ALL, modules=False, check_after=[],
              conf="[Machine]\nHostname=bench\n", cmdline="sup.log_level=warning",
              done_marker="BENCH all-up")


RCS = r"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs -o mode=0755 devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo +$c > /sys/fs/cgroup/cgroup.subtree_control; done
hostname bench
ip link set lo up
"""


def busybox_vm():
    svc = {
        "db": f"#!/bin/sh\n{DB}\nwhile :; do sleep 5; done\n",
        "migrate": f"#!/bin/sh\nwhile [ ! -e /run/up.db ]; do sleep 0.01; done\n{MIGRATE}\n",
        "app": "#!/bin/sh\nwhile [ ! -e /run/up.db ] || [ ! -e /run/up.migrate ]; do sleep 0.01;"
               f" done\n{APP}\n",
        "web": f"#!/bin/sh\nwhile [ ! -e /run/up.app ]; do sleep 0.01; done\n{WEB}\n",
        "check": f"#!/bin/sh\n{WAIT_ALL}\npoweroff\n",
    }
    files = {f"etc/svc/{n}": (body, 0o755) for n, body in svc.items()}
    files["etc/init.d/rcS"] = (RCS, 0o755)
    files["etc/inittab"] = ("::sysinit:/etc/init.d/rcS\n"
                            "::respawn:/etc/svc/db\n::once:/etc/svc/migrate\n"
                            "::respawn:/etc/svc/app\n::respawn:/etc/svc/web\n"
                            "::once:/etc/svc/check\n"
                            "::shutdown:/bin/sync\n")
    return VM("bench-busybox", {}, None, files=files, modules=False, init="/bin/init",
              done_marker="BENCH all-up")


def measure(vm):
    r = vm.run()
    up = re.search(r"BENCH all-up ([\d.]+) pid1-start ([\d.]+)", r.log)
    down = re.search(r"\[\s*([\d.]+)\] reboot: Power down", r.log)
    if not r.ok or not up or not down:
        raise SystemExit(f"{vm.name}: {r.reasons or 'no figures'}; see {r.logfile}")
    return float(up.group(1)), float(down.group(1)), r.elapsed, float(up.group(2))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    res = {"supd": [], "busybox init": []}
    for i in range(runs):  # alternate, so drift hits both
        res["supd"].append(measure(supd_vm()))
        res["busybox init"].append(measure(busybox_vm()))
        print(f"run {i + 1}: supd {res['supd'][-1]}, busybox {res['busybox init'][-1]}",
              file=sys.stderr, flush=True)
    print(f"| init (PID 1) | PID 1 starts | all services up | of which init's work | "
          f"poweroff complete | of which shutdown | qemu wall time |\n"
          f"|---|---|---|---|---|---|---|")
    for name, rs in res.items():
        up = statistics.median(x[0] for x in rs)
        down = statistics.median(x[1] for x in rs)
        sd = statistics.median(x[1] - x[0] for x in rs)
        wall = statistics.median(x[2] for x in rs)
        rng = f"{min(x[0] for x in rs):.2f}–{max(x[0] for x in rs):.2f}"
        p1 = statistics.median(x[3] for x in rs)
        work = statistics.median(x[0] - x[3] for x in rs)
        print(f"| {name} | {p1:.2f} s | {up:.2f} s ({rng}) | {work:.2f} s | {down:.2f} s | "
              f"{sd:.2f} s | {wall:.2f} s |")


if __name__ == "__main__":
    main()
