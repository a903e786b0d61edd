"""The VM test harness: boot Debian's kernel under qemu (TCG) with supd as /init (PID 1).

A test gives unit files, a guest-side check script (and optionally supd.conf, extra files,
kernel command line options, console input, extra kernel modules, extra virtio disks); it gets
pass/fail plus the serial console log.

    from vm import VM
    r = VM("name", units={"web": "[Service]\\nExec=...\\n"}, check="check 'it works' true").run()
    r.ok, r.log, r.rc, r.elapsed, r.reasons

The guest: an initramfs with busybox-static (applets in /bin), supd as /init, supctl and
sup-notify with their shared libraries and the loader, the kernel modules (overlay, veth, bridge,
virtio disk, 9p: insmod'ed by the `kmod` oneshot unit), units in /etc/sup/units. The check script
runs as the oneshot unit `check` (after every other unit unless check_after says otherwise), with
its output on the console and these helpers:

    pass MSG / fail MSG          print "VMTEST PASS: MSG" / "VMTEST FAIL: MSG"
    check MSG CMD...             pass or fail on CMD's exit status
    wait_for SECS CMD...         retry CMD every 0.1 s up to SECS seconds
    uptime_s                     seconds since the kernel started

then, unless power=None, it prints "VMTEST DONE" and runs `supctl poweroff` (or reboot).

The result passes when qemu exited 0 (the guest powered itself off through supd), "VMTEST DONE"
is in the log (or done_marker=None), no "VMTEST FAIL" line and no kernel panic. Kernel or qemu
missing: VMUnavailable (tests skip; under CI=true they fail). The extracted vmlinux is cached
in $SUP_VM_CACHE (the build dir).
"""

import glob
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = ["virtio_pci", "virtio_blk", "overlay", "veth", "bridge", "9pnet_virtio", "9p"]
SKIP = 77  # ctest SKIP_RETURN_CODE


class VMUnavailable(Exception):
    pass


def _find(env, name, build_rel):
    p = os.environ.get(env)
    if p:
        return p
    for d in (os.environ.get("SUP_BUILD"), os.path.join(HERE, "..", "..", "build")):
        if d and os.path.exists(os.path.join(d, build_rel)):
            return os.path.join(d, build_rel)
    raise VMUnavailable(f"{name} not found: set {env}")


def kernel_version():
    ks = sorted(glob.glob("/boot/vmlinuz-*"), key=lambda p: [int(x) if x.isdigit() else x
                                                            for x in re.split(r"[.-]", p)])
    if not ks:
        raise VMUnavailable("no /boot/vmlinuz-*: apt-get install linux-image-amd64")
    return os.environ.get("SUP_VM_KVER") or ks[-1][len("/boot/vmlinuz-"):]


def vmlinux(kver):
    """The uncompressed ELF kernel (PVH entry: skips the bzImage's slow xz stub under TCG)."""
    cache = os.environ.get("SUP_VM_CACHE") or os.path.join(tempfile.gettempdir(), "sup-vm-cache")
    os.makedirs(cache, exist_ok=True)
    out = os.path.join(cache, f"vmlinux-{kver}")
    if os.path.exists(out):
        return out
    data = open(f"/boot/vmlinuz-{kver}", "rb").read()
    off = data.find(b"\xfd7zXZ\x00")
    if off < 0:
        return f"/boot/vmlinuz-{kver}"  # not xz: boot the bzImage as it is
    elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[off:])
    if elf[:4] != b"\x7fELF":
        return f"/boot/vmlinuz-{kver}"
    tmp = f"{out}.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(elf)
    os.rename(tmp, out)
    return out


def shared_libs(binary):
    """Every library ldd lists for binary, and the loader: absolute paths."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


PRELUDE = r"""#!/bin/sh
exec </dev/null >/dev/console 2>&1
export PATH=/bin NO_COLOR=1
pass() { echo "VMTEST PASS: $*"; }
fail() { echo "VMTEST FAIL: $*"; }
check() { _m=$1; shift; if "$@"; then pass "$_m"; else fail "$_m"; fi; }
wait_for() { _t=$1; shift; _n=$(( _t * 10 )); while [ $_n -gt 0 ]; do "$@" && return 0; sleep 0.1; _n=$((_n - 1)); done; "$@"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo "VMTEST check starts at $(uptime_s)s"
"""


class Result:
    def __init__(self, ok, rc, log, elapsed, reasons, logfile):
        self.ok, self.rc, self.log, self.elapsed, self.reasons, self.logfile = \
            ok, rc, log, elapsed, reasons, logfile

    def lines(self, pattern):
        return [l for l in self.log.splitlines() if re.search(pattern, l)]


class VM:
    def __init__(self, name, units=None, check=None, conf=None, files=None, cmdline="",
                 console_input=None, power="poweroff", check_after=None, timeout=90,
                 modules=True, memory="512M", init="supd", done_marker="VMTEST DONE",
                 console_wait=r"sup-emergency# ", extra_modules=(), disks=()):
        self.name = name
        self.units = dict(units or {})
        self.check = check
        self.conf = conf
        self.files = dict(files or {})
        self.cmdline = cmdline
        self.console_input = console_input
        self.power = power
        self.check_after = check_after
        self.timeout = timeout
        self.modules = modules
        self.memory = memory
        self.init = init  # "supd", or a path inside the guest (e.g. "/bin/init": busybox)
        self.done_marker = done_marker
        self.console_wait = console_wait  # regex: type console_input once it is on the console
        # console_input may also be a list of (regex, text): each text typed once its regex
        # shows up on the console after the previous one was typed
        self.extra_modules = list(extra_modules)  # more modules for the kmod unit, e.g. ext4
        self.disks = list(disks)  # host image files: /dev/vdb, /dev/vdc, ... in this order

    # --- the initramfs
    def build(self, work):
        supd = _find("SUPD", "supd", "supd")
        supctl = _find("SUPCTL", "supctl", "supctl")
        notify = _find("SUP_NOTIFY", "sup-notify", "sup-notify")
        busybox = shutil.which("busybox") or "/bin/busybox"
        if not os.path.exists(busybox):
            raise VMUnavailable("busybox-static is not installed")
        kver = kernel_version()
        r = os.path.join(work, "root")
        for d in ("bin", "dev", "proc", "sys", "tmp", "run", "etc/sup/units", "var/lib/sup",
                  "mnt/host", "root"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        os.chmod(os.path.join(r, "tmp"), 0o1777)
        shutil.copy(busybox, os.path.join(r, "bin/busybox"))
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
        for a in applets:
            if a != "busybox" and not os.path.exists(os.path.join(r, "bin", a)):
                os.symlink("busybox", os.path.join(r, "bin", a))
        for link, to in (("sbin", "bin"), ("usr", "."), ("lib64", "lib")):
            os.symlink(to, os.path.join(r, link))
        for src, dst in ((supd, "bin/supd"), (supctl, "bin/supctl"), (notify, "bin/sup-notify")):
            shutil.copy(src, os.path.join(r, dst))
            for lib in shared_libs(src):
                # merged /usr: keep the path ldd printed, under /lib
                rel = re.sub(r"^/(usr/)?(lib64|lib)/", "lib/", lib)
                p = os.path.join(r, rel)
                if not os.path.exists(p):
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    shutil.copy(lib, p)
        if self.init == "supd":
            os.symlink("bin/supd", os.path.join(r, "init"))
        for dev, major, minor, mode in (("console", 5, 1, 0o600), ("null", 1, 3, 0o666)):
            try:
                os.mknod(os.path.join(r, "dev", dev), mode | stat.S_IFCHR, os.makedev(major, minor))
            except PermissionError:
                pass  # supd mounts devtmpfs and reopens the console itself
        with open(os.path.join(r, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        with open(os.path.join(r, "etc/group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        # kernel modules in load order, and a oneshot unit to load them
        if self.modules:
            deps = []
            for mod in MODULES + self.extra_modules:
                out = subprocess.run(["modprobe", "-S", kver, "--show-depends", mod],
                                     capture_output=True, text=True).stdout
                deps += [l.split()[1] for l in out.splitlines() if l.startswith("insmod ")]
            seen = []
            for ko in deps:
                if ko not in seen:
                    seen.append(ko)
                    dst = os.path.join(r, ko.lstrip("/"))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy(ko, dst)
            with open(os.path.join(r, "etc/modules.load"), "w") as f:
                f.write("\n".join(seen) + "\n")
            self.units.setdefault("kmod", "[Unit]\nDescription=kernel modules\n[Service]\n"
                                  "Type=oneshot\nExec=/bin/sh -c 'for ko in $(cat /etc/modules.load);"
                                  " do insmod $ko || echo insmod $ko failed; done'\n")
        if self.check is not None:
            body = PRELUDE + self.check + "\n"
            if self.power:
                body += f'echo "VMTEST DONE at $(uptime_s)s"\nsupctl {self.power}\n'
            self.files["etc/sup/check.sh"] = (body, 0o755)
            after = self.check_after if self.check_after is not None else \
                [u for u in self.units if u != "check"]
            self.units["check"] = ("[Unit]\nDescription=the test's guest-side check\n"
                                   + (f"After={' '.join(after)}\n" if after else "")
                                   + "[Service]\nType=oneshot\nExec=/etc/sup/check.sh\n"
                                   "StandardOutput=inherit\nStandardError=inherit\n")
        for n, text in self.units.items():
            if text is not None:
                with open(os.path.join(r, "etc/sup/units", f"{n}.unit"), "w") as f:
                    f.write(text)
        if self.conf:
            self.files["etc/sup/supd.conf"] = self.conf
        for path, content in self.files.items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            p = os.path.join(r, path.lstrip("/"))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if os.path.lexists(p):
                os.unlink(p)
            with open(p, "w") as f:
                f.write(content)
            os.chmod(p, mode)
        cpio = os.path.join(work, "initramfs.cpio")
        find = subprocess.run(["find", "."], cwd=r, capture_output=True, check=True).stdout
        with open(cpio, "wb") as out:
            subprocess.run(["cpio", "--create", "--format=newc", "--owner=0:0", "--quiet"],
                           cwd=r, input=find, stdout=out, check=True)
        return vmlinux(kver), cpio

    def _qemu(self, cmd):
        """Run qemu; type console_input once console_wait shows up (input sent earlier gets
        flushed when the shell sets up the tty)."""
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out = bytearray()

        def reader():
            while True:
                b = p.stdout.read1(65536)
                if not b:
                    return
                out.extend(b)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        steps = self.console_input
        if isinstance(steps, str):
            steps = [(self.console_wait, steps)]
        seen = 0  # each step waits for its pattern after what the previous step saw
        for wait, text in steps or ():
            pattern = re.compile(wait.encode())
            m = None
            while p.poll() is None and not (m := pattern.search(bytes(out), seen)):
                time.sleep(0.05)
            if not m:
                break
            seen = m.end()
            try:
                p.stdin.write(text.encode())
                p.stdin.flush()
            except BrokenPipeError:
                break
        p.wait()
        t.join(5)
        return p.returncode, bytes(out)

    # --- boot
    def run(self):
        if not shutil.which("qemu-system-x86_64"):
            raise VMUnavailable("qemu-system-x86_64 missing: apt-get install qemu-system-x86")
        if not shutil.which("cpio"):
            raise VMUnavailable("cpio missing")
        logdir = os.environ.get("SUP_VM_LOGS") or os.path.join(
            os.environ.get("SUP_VM_CACHE") or tempfile.gettempdir(), "logs")
        os.makedirs(logdir, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"sup-vm-{self.name}-") as work:
            kernel, initrd = self.build(work)
            disk = os.path.join(work, "disk.img")
            with open(disk, "wb") as f:
                f.truncate(16 << 20)
            append = "console=ttyS0 panic=-1 quiet " + self.cmdline
            if self.init != "supd":
                append += f" rdinit={self.init}"
            cmd = ["timeout", "-k", "5", str(self.timeout), "qemu-system-x86_64",
                   "-accel", "tcg", "-cpu", "max", "-machine", "q35", "-smp", "2", "-m", self.memory,
                   "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                   "-serial", "stdio", "-kernel", kernel, "-initrd", initrd, "-append", append,
                   "-drive", f"file={disk},format=raw,if=virtio"]
            for extra in self.disks:
                cmd += ["-drive", f"file={extra},format=raw,if=virtio"]
            t0 = time.monotonic()
            rc, out = self._qemu(cmd)
            elapsed = time.monotonic() - t0
        log = out.decode(errors="replace").replace("\r\n", "\n")
        logfile = os.path.join(logdir, f"{self.name}.log")
        with open(logfile, "w") as f:
            f.write(log)
        reasons = []
        if rc == 124:
            reasons.append(f"qemu timed out after {self.timeout}s")
        elif rc != 0:
            reasons.append(f"qemu exited {rc}")
        if self.done_marker and self.done_marker not in log:
            reasons.append(f"no '{self.done_marker}' on the console")
        fails = [l for l in log.splitlines() if "VMTEST FAIL" in l]
        reasons += fails
        if "Kernel panic" in log:
            reasons.append("kernel panic")
        return Result(not reasons, rc, log, elapsed, reasons, logfile)


# --- a tiny test runner for tests/vm/test_*.py

def run_tests(tests):
    """Run each test(); exit 0, 1 (a failure) or 77 (skipped: no kernel/qemu, not under CI)."""
    failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
            print(f"ok   {t.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
        except VMUnavailable as e:
            if os.environ.get("CI") == "true":
                print(f"FAIL {t.__name__}: {e} (CI=true: a missing component is a failure)")
                failed += 1
            else:
                print(f"SKIP {t.__name__}: {e}")
                sys.exit(SKIP)
        except AssertionError as e:
            print(f"FAIL {t.__name__} ({time.monotonic() - t0:.1f}s): {e}", flush=True)
            failed += 1
    sys.exit(1 if failed else 0)


def expect(result, what=""):
    """Assert the run passed; on failure show the reasons and the console's tail."""
    if not result.ok:
        tail = "\n".join(result.log.splitlines()[-60:])
        raise AssertionError(f"{what}: {'; '.join(result.reasons)}\n--- console "
                             f"({result.logfile}), last lines:\n{tail}")
    print(f"  {what}: passed in {result.elapsed:.1f}s, "
          f"{len(result.lines('VMTEST PASS'))} checks", flush=True)
