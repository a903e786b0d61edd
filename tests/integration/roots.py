"""Root filesystems for the container tests, built once and cached.

busybox(): busybox-static with an applet link per command, /etc/passwd and /etc/group with a
user `app` (1000, also in group `extra` 2000), and ctprobe (roots/ctprobe.c, built static).
debian(): debootstrap --variant=minbase bookworm with redis-server, cached under the build
directory (CI builds it if absent). Under CI=true a missing tool fails, never skips.
"""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("SUP_ROOTS_CACHE") or "/tmp/sup-roots-cache"
IN_CI = os.environ.get("CI") == "true"

APPLETS = ("sh ps hostname ip cat ls mount sleep id echo grep unshare touch readlink wc "
           "insmod stat head tr kill true false env pwd mkdir rm").split()


def missing(what):
    msg = f"container tests need {what}"
    if IN_CI:
        raise RuntimeError(msg + " (CI=true: a missing tool fails the run)")
    print(f"SKIP: {msg}")
    sys.exit(77)


def busybox():
    root = os.path.join(CACHE, "busybox")
    probe_src = os.path.join(HERE, "roots", "ctprobe.c")
    stamp = os.path.join(root, ".built")
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(probe_src):
        return root
    bb = shutil.which("busybox")
    if not bb or not _static_hint(bb):
        missing("busybox-static")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "etc", "tmp", "run", "proc", "sys", "dev", "mnt", "root", "home/app"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(bb, os.path.join(root, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(root, "bin", a))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
                "nobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n")
    r = subprocess.run(["gcc", "-static", "-O1", "-o", os.path.join(root, "bin", "ctprobe"),
                        probe_src], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("build ctprobe: " + r.stderr)
    open(stamp, "w").close()
    return root


def _static_hint(path):
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    return "static" if "not a dynamic" in (r.stdout + r.stderr) else ""


def debian():
    """A minbase bookworm with redis-server: cached; ~1-2 min to build the first time."""
    root = os.path.join(CACHE, "debian")
    if os.path.exists(os.path.join(root, "usr", "bin", "redis-server")):
        return root
    if not shutil.which("debootstrap"):
        missing("debootstrap")
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(CACHE, exist_ok=True)
    r = subprocess.run(["debootstrap", "--variant=minbase", "--include=redis-server", "bookworm",
                        tmp, "http://deb.debian.org/debian"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("debootstrap: " + r.stdout[-2000:] + r.stderr[-2000:])
    os.rename(tmp, root)
    return root
