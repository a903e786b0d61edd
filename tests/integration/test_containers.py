"""Containers: every check made from inside a running container, as a user would make it.

The roots are a busybox-static root (roots.busybox()) and a Debian minbase with redis
(roots.debian()). Each unit prints what it sees to its log, or the test runs commands in it
with `supctl exec`.
"""

import json
import os
import signal
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import roots
from harness import Supd, check, procs_matching, retry, run_tests

BB = None


def root():
    global BB
    if BB is None:
        BB = roots.busybox()
    return BB


def unit(exec_line, container="", service=""):
    return (f"[Service]\nType=oneshot\nRestart=no\nExec={exec_line}\n{service}\n"
            f"[Container]\nRootDirectory={root()}\n{container}\n")


def logs(s, name):
    return s.ctl_ok("logs", name, "-n", "0").stdout


def run_once(exec_line, container="", service=""):
    """Run a oneshot container unit; its status and its log."""
    with Supd({"c": unit(exec_line, container, service)}) as s:
        st = s.wait_state("c", "exited", "failed", timeout=20)
        return st, logs(s, "c")


def test_the_container_sees_only_itself():
    sh = ("/bin/sh -c 'ps -o pid,comm; echo host=$(hostname); ip -o link; "
          "echo mounts=$(cat /proc/self/mounts | wc -l); grep -E \"^(Cap|NoNew|Seccomp)\" "
          "/proc/self/status; cat /proc/self/uid_map'")
    st, out = run_once(sh, "Hostname=box\n")
    check(st["state"] == "exited", f"state {st}: {out}")
    ps = [l.split() for l in out.splitlines() if l.strip() and l.split()[0].isdigit()]
    check(ps[0][:2] == ["1", "sup-init"], f"PID 1 is the container init: {ps}")
    check(len(ps) <= 4, f"only the container's processes: {ps}")
    check("host=box" in out, out)
    links = [l for l in out.splitlines() if ": " in l and "link/" in l]
    check(len(links) == 1 and " lo:" in links[0] and "UP" in links[0], f"only lo, up: {links}")
    check("CapEff:\t00000000a80425fb" in out and "CapBnd:\t00000000a80425fb" in out,
          f"Docker's 14 capabilities: {out}")
    check("NoNewPrivs:\t1" in out and "Seccomp:\t2" in out, out)
    mounts = int(out.split("mounts=")[1].split()[0])
    check(mounts < 30, f"only the container's mounts ({mounts}): {out}")


def test_capabilities_user_and_init_no():
    sh = "/bin/sh -c 'echo pid=$$; id; grep -E \"^Cap(Eff|Prm|Inh|Bnd)\" /proc/self/status'"
    st, out = run_once(sh, "Capabilities=CAP_NET_BIND_SERVICE\nInit=no\n", "User=app\n")
    check(st["state"] == "exited", f"{st}: {out}")
    check("pid=1" in out, f"Init=no: the service is PID 1: {out}")
    check("uid=1000(app) gid=1000(app) groups=2000(extra)" in out or
          "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)" in out,
          f"User= from the root's /etc/passwd and /etc/group: {out}")
    check("CapEff:\t0000000000000000" in out and "CapPrm:\t0000000000000000" in out,
          f"non-root: empty sets: {out}")
    check("CapBnd:\t0000000000000400" in out and "CapInh:\t0000000000000000" in out, out)


def test_what_the_kernel_refuses():
    st, out = run_once("/bin/ctprobe")
    for what, want in (("mount", "EPERM"), ("unshare-user", "EPERM"), ("kexec_load", "EPERM"),
                       ("init_module", "EPERM"), ("clone3", "ENOSYS"), ("setns", "EPERM")):
        check(f"{what}: {want}" in out, f"{what} must fail with {want}: {out}")


def test_read_only_root_and_masked_proc():
    sh = ("/bin/sh -c 'touch /x 2>&1 || echo rootro; touch /tmp/ok && echo tmprw; "
          "echo kcore=$(cat /proc/kcore | wc -c); echo keys=$(cat /proc/keys | wc -c); "
          "echo 1 > /proc/sys/kernel/domainname 2>&1 || echo sysro; "
          "echo x > /proc/sysrq-trigger 2>&1 || echo sysrqro; ls /sys/firmware | wc -l; "
          "readlink /proc/1/exe || echo exe-hidden; cat /proc/1/exe > /dev/null || echo exe-denied'")
    st, out = run_once(sh, "ReadOnlyRoot=yes\n")
    for word in ("rootro", "tmprw", "kcore=0", "keys=0", "sysro", "sysrqro", "exe-hidden",
                 "exe-denied"):
        check(word in out, f"{word}: {out}")


def test_orphans_are_reaped_and_signals_are_real():
    sh = ("/bin/sh -c '(sh -c \"sleep 0.2\" &) ; sleep 1; "
          "ps -o stat,comm | grep -c ^Z || true; kill -SEGV $$'")
    st, out = run_once(sh, "", "")
    check(out.strip().splitlines()[0].strip() == "0" or "\n0\n" in out, f"no zombie: {out}")
    check(st["last_exit"] == {"signal": "SIGSEGV"},
          f"the service's own death, not the init's exit code: {st['last_exit']}")


def test_spawn_failures_say_why():
    st, _ = run_once("/bin/nope")
    check(st["state"] == "failed" and "exec /bin/nope: ENOENT" in (st["error"] or ""), st)
    st, _ = run_once("/bin/true", "Bind=/nonexistent/src:/x\n")
    check("Bind=/nonexistent/src:/x: the source: ENOENT" in (st["error"] or ""), st)
    st, _ = run_once("/bin/true", "", "WorkingDirectory=/proc/self/fd/3\n")
    check("chdir to /proc/self/fd/3: ENOENT" in (st["error"] or ""),
          f"CVE-2024-21626: no fd of supd's reaches the container: {st}")
    with Supd({"c": unit("/bin/true", "Seccomp=/nonexistent.json\n")}) as s:
        st = s.wait_state("c", "bad-unit")
        check("Seccomp=/nonexistent.json" in st["error"] and ":8: Seccomp:" in st["error"], st)


def test_bad_seccomp_profile_is_an_error_at_load():
    d = roots.CACHE
    bad = os.path.join(d, "bad-profile.json")
    with open(bad, "w") as f:
        f.write('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], ')
    good = os.path.join(d, "good-profile.json")
    with open(good, "w") as f:
        json.dump({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}, f)
    with Supd({"bad": unit("/bin/true", f"Seccomp={bad}\n"),
               "good": unit("/bin/sh -c 'mkdir /tmp/x || echo denied'", f"Seccomp={good}\n")}) as s:
        st = s.wait_state("bad", "bad-unit")
        check(f"Seccomp: Seccomp={bad}: line 1" in st["error"], st)
        s.wait_state("good", "exited")
        check("denied" in logs(s, "good"), logs(s, "good"))


def test_bind_target_symlink_out_of_the_root_is_refused():
    outside = os.path.join(roots.CACHE, "outside")
    os.makedirs(outside, exist_ok=True)
    src = os.path.join(roots.CACHE, "bindsrc")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(src, "marker"), "w") as f:
        f.write("x")
    link = os.path.join(root(), "escape")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(outside, link)
    try:
        st, _ = run_once("/bin/true", f"Bind={src}:/escape\n")
        check(st["state"] == "failed" and "Bind=" in (st["error"] or "") and
              "ELOOP" in st["error"], st)
        check(os.listdir(outside) == [], "nothing outside the root is touched")
        st, out = run_once("/bin/cat /data/marker", f"BindReadOnly={src}:/data\n")
        check(st["state"] == "exited" and "x" in out, f"a plain bind works: {st} {out}")
    finally:
        os.unlink(link)


def test_time_namespace_and_user_namespace():
    st, out = run_once("/bin/sh -c 'cat /proc/uptime; cat /proc/self/uid_map; touch /tmp/t "
                       "&& stat -c %u /tmp/t'",
                       "Namespaces=pid mnt uts ipc net time user\nTimeOffsetSec=1000000s\n")
    check(st["state"] == "exited", f"{st} {out}")
    up = float(out.split()[0])
    check(up > 1000000, f"the time namespace's offset: uptime {up}")
    m = out.splitlines()[1].split()
    check(m[0] == "0" and int(m[1]) >= 2 ** 31 and m[2] == "65536", f"an automatic range: {m}")
    check(out.splitlines()[2].strip() == "0", f"tmpfs owned by the mapped root: {out}")


def test_user_namespace_auto_mounts_id_mapped():
    """UserNamespace=auto: the root and Bind= sources are id-mapped mounts, so root's files
    are root's inside and nothing is chowned on the host; what the container writes through
    a bind is the host's root's; its tmpfs belong to its mapped root; a filesystem without
    id-mapped mounts is a clear error."""
    src = os.path.join(roots.CACHE, "idmapsrc")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    for name, uid in (("owned0", 0), ("owned1000", 1000)):
        open(os.path.join(src, name), "w").close()
        os.chown(os.path.join(src, name), uid, uid)
    sh = ("/bin/sh -c 'stat -c \"%u %g %n\" /bin/busybox /etc/passwd /data/owned0 "
          "/data/owned1000 /tmp; touch /data/new && echo wrote; touch /ro/x || echo ro-refused; "
          "echo uid=$(id -u); cat /proc/self/uid_map; exec sleep 4242'")
    units = {"c": f"[Service]\nExec={sh}\n[Container]\nRootDirectory={root()}\n"
                  f"UserNamespace=auto\nBind={src}:/data\nBindReadOnly={src}:/ro\n",
             # the host's / as the root (its top mount id-mapped), staged under supd's run
             # directory, which only the host's root may enter (0700)
             "h": "[Service]\nType=oneshot\nExec=/bin/stat -c %u /usr/bin\n[Container]\n"
                  "UserNamespace=auto\n"}
    with Supd(units) as s:
        st = s.wait_state("h", "exited", "failed")
        check(st["state"] == "exited" and "0" in logs(s, "h").split(),
              f"{st} {logs(s, 'h')!r}")
        s.wait_state("c", "running")
        out = retry(lambda: "uid=" in (o := logs(s, "c")) and o, what="the unit's lines")
        for want in ("0 0 /bin/busybox", "0 0 /etc/passwd", "0 0 /data/owned0",
                     "1000 1000 /data/owned1000", "0 0 /tmp", "wrote", "ro-refused", "uid=0"):
            check(want in out, f"{want!r} inside: {out}")
        m = out.split("uid=0")[1].split()
        check(m[0] == "0" and int(m[1]) >= 2 ** 31 and m[2] == "65536", f"auto range: {m}")
        check(os.stat(os.path.join(src, "new")).st_uid == 0 and
              os.stat(os.path.join(src, "owned1000")).st_uid == 1000 and
              os.stat(os.path.join(root(), "bin", "busybox")).st_uid == 0,
              "nothing chowned on the host; a file written inside is the host root's")
        pid = retry(lambda: procs_matching("sleep 4242"), what="the service's host pid")[0]
        check(os.stat(f"/proc/{pid}/root/tmp").st_uid == int(m[1]),
              "the container's tmpfs belongs to its mapped root on the host")
    # a filesystem that cannot be id-mapped (ramfs): the start fails and says why
    d = tempfile.mkdtemp(prefix="sup-ramfs-")
    subprocess.run(["mount", "-t", "ramfs", "ramfs", d], check=True)
    try:
        with Supd({"r": f"[Service]\nType=oneshot\nRestart=no\nExec=/bin/true\n[Container]\n"
                        f"RootDirectory={d}\nUserNamespace=auto\n"}) as s:
            st = s.wait_state("r", "failed", "exited")
        check(st["state"] == "failed" and "ramfs" in (st["error"] or "") and
              "does not support id-mapped mounts" in st["error"], st)
    finally:
        subprocess.run(["umount", d])
        os.rmdir(d)


def test_sandboxed_plain_unit():
    units = {"p": "[Service]\nType=oneshot\nExec=/bin/sh -c 'ls -A /tmp | wc -l; "
                  "touch /usr/x 2>/dev/null || echo usr-ro; grep NoNewPrivs /proc/self/status'\n"
                  "PrivateTmp=yes\nProtectSystem=strict\nNoNewPrivileges=yes\n"}
    with Supd(units) as s:
        st = s.wait_state("p", "exited", "failed")
        out = logs(s, "p")
        check(st["state"] == "exited", f"{st}: {out}")
        check(out.splitlines()[0].strip() == "0" and "usr-ro" in out and
              "NoNewPrivs:\t1" in out, out)
        check(st["container"] is None or "pid" not in st["container"]["namespaces"], st)


def test_status_shows_the_container():
    with Supd({"c": "[Service]\nExec=/bin/sleep 1000\n[Container]\nRootDirectory=" + root()
               + "\n"}) as s:
        st = s.wait_state("c", "running")
        c = st["container"]
        check(c["namespaces"] == "pid net mnt uts ipc cgroup" and c["root"] == root(), st)
        check(c["init_pid"] and c["init_pid"] != st["pid"], f"pid is the service's: {st}")
        # the init is sup-init from its sealed memfd, not a copy of supd
        init = retry(lambda: procs_matching("sup-init"), what="the init's host pid")[0]
        exe = os.readlink(f"/proc/{init}/exe")
        anon = [int(l.split()[1]) for l in open(f"/proc/{init}/status")
                if l.startswith("RssAnon:")][0]
        check(exe.startswith("/memfd:sup-init") and anon < 200,
              f"the init: exe {exe}, {anon} KiB of anonymous memory")
        s.ctl_ok("stop", "c")
        st = s.wait_state("c", "inactive")
        check(st["last_exit"] == {"signal": "SIGTERM"}, st)


def test_notify_in_a_container():
    with Supd({"n": "[Service]\nType=notify\nExec=/bin/sh -c 'echo $NOTIFY_SOCKET; "
                    "ls /run/host; /bin/ctprobe notify READY=1; exec sleep 1000'\n"
                    "[Container]\nRootDirectory=" + root() + "\n"}) as s:
        s.wait_state("n", "running")
        out = logs(s, "n")
        check("/run/host/notify" in out and out.count("notify") == 2,
              f"only the unit's socket is bound in: {out}")


def host_disk():
    """A real block device of the host's: the one its root filesystem is on."""
    dev = os.stat("/").st_dev
    return os.major(dev), os.minor(dev)


def test_devices_allow_list():
    """Docker's device allow-list in the unit's cgroup (v1: the devices controller; v2 -- this
    host's unified hierarchy, without controllers -- a BPF device program): a node of a host
    disk, made inside with CAP_MKNOD (in the default set) or shipped in the root, cannot be
    opened; Devices= adds a node with the access it names; exec is held alike."""
    maj, mi = host_disk()
    shipped = os.path.join(root(), "shipped-disk")
    if os.path.lexists(shipped):
        os.unlink(shipped)
    os.mknod(shipped, 0o600 | stat.S_IFBLK, os.makedev(maj, mi))
    probe = (f"/bin/ctprobe mknod /dev/disk b {maj} {mi}; /bin/ctprobe open /dev/disk r; "
             "/bin/ctprobe open /shipped-disk r; /bin/ctprobe open /dev/null w; "
             "/bin/ctprobe open /dev/loop0 r; /bin/ctprobe open /dev/loop0 w")
    want = ("mknod /dev/disk: ok", "open /dev/disk r: EPERM", "open /shipped-disk r: EPERM",
            "open /dev/null w: ok", "open /dev/loop0 r: ok", "open /dev/loop0 w: EPERM")
    units = {"c": f"[Service]\nExec=/bin/sh -c '{probe}; exec sleep 1000'\n[Container]\n"
                  f"RootDirectory={root()}\nDevices=/dev/loop0 r\n"}
    try:
        for mode in ("v1", "v2"):
            with Supd(units, config=f"[Cgroup]\nMode={mode}\n") as s:
                s.wait_state("c", "running")
                out = retry(lambda: "loop0 w" in (o := logs(s, "c")) and o,
                            what="the probe's lines")
                for w in want:
                    check(w in out, f"{mode}: the service: {w}: {out}")
                r = s.ctl("exec", "c", "--", "/bin/sh", "-c",
                          probe.replace("/dev/disk", "/dev/d2"))
                for w in want:
                    w = w.replace("/dev/disk", "/dev/d2")
                    check(w in r.stdout, f"{mode}: supctl exec: {w}: {r.stdout} {r.stderr}")
                # a changed Devices= restarts the unit with the new list in force (v2: the
                # program replaced in place)
                s.write_unit("c", units["c"].replace("loop0 r", "loop0 rw"))
                s.ctl_ok("reload")
                r = retry(lambda: (x := s.ctl("exec", "c", "/bin/ctprobe", "open", "/dev/loop0",
                                              "w")).returncode == 0 and ": ok" in x.stdout and x,
                          what="loop0 writable after the reload")
    finally:
        os.unlink(shipped)


def test_exec():
    units = {"c": "[Service]\nExec=/bin/sleep 1000\n[Container]\nRootDirectory=" + root() + "\n",
             "p": "[Service]\nExec=/bin/sleep 1000\n"}
    with Supd(units) as s:
        s.wait_state("c", "running")
        s.wait_state("p", "running")
        r = s.ctl("exec", "c", "--", "/bin/sh", "-c", "ps -o pid,comm; hostname; exit 7")
        check(r.returncode == 7, f"the exit status is CMD's: {r.returncode} {r.stderr}")
        check("1 sup-init" in r.stdout and "sleep" in r.stdout and r.stdout.count("\n") <= 6,
              f"the same view as the service: {r.stdout}")
        r = s.ctl("exec", "c", "/bin/nope")
        check(r.returncode == 127 and "exec /bin/nope: ENOENT" in r.stderr, r)
        r = s.ctl("exec", "c", "/bin/sh", input="echo from-stdin\n")
        check(r.returncode == 0 and "from-stdin" in r.stdout, r)
        r = s.ctl("exec", "p", "--", "/bin/sh", "-c", "cat /proc/self/cgroup; exit 3")
        check(r.returncode == 3 and "/p/sup-exec\n" in r.stdout,
              f"a plain unit: a leaf of its cgroup: {r}")
        r = s.ctl("exec", "nope", "/bin/true")
        check(r.returncode == 3, f"no such unit: {r}")


def test_exec_on_a_terminal():
    with Supd({"c": "[Service]\nExec=/bin/sleep 1000\n[Container]\nRootDirectory=" + root()
               + "\n"}) as s:
        s.wait_state("c", "running")
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(roots.os.environ.get("SUPCTL", "supctl"),
                      ["supctl", "--socket", s.socket, "exec", "c", "--", "/bin/sh", "-c",
                       "tty; read x; echo got-$x; exit 4"])
        out = b""
        deadline = time.monotonic() + 10
        while b"/dev/pts/0" not in out and time.monotonic() < deadline:
            out += os.read(fd, 1024)
        os.write(fd, b"yes\r")
        while b"got-yes" not in out and time.monotonic() < deadline:
            try:
                out += os.read(fd, 1024)
            except OSError:
                break
        _, st = os.waitpid(pid, 0)
        check(b"/dev/pts/0" in out, f"a pty of the container's devpts: {out}")
        check(b"got-yes" in out and os.waitstatus_to_exitcode(st) == 4, f"{out} {st}")
        # ctrl-c on the caller's terminal interrupts the command inside (the pty's ISIG)
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(roots.os.environ.get("SUPCTL", "supctl"),
                      ["supctl", "--socket", s.socket, "exec", "c", "--", "/bin/sh", "-c",
                       "echo ready; sleep 100; echo not-interrupted"])
        out = b""
        deadline = time.monotonic() + 20
        while b"ready" not in out and time.monotonic() < deadline:
            out += os.read(fd, 1024)
        os.write(fd, b"\x03")
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, st = os.waitpid(pid, 0)
        check(b"not-interrupted" not in out and os.waitstatus_to_exitcode(st) == 130,
              f"ctrl-c: the command dies of SIGINT (130): {out} {st}")


def test_real_daemon_from_debian():
    deb = roots.debian()
    with Supd({"redis": "[Service]\nExec=/usr/bin/redis-server --port 16379 --save '' "
                        "--bind 127.0.0.1\n[Container]\nRootDirectory=" + deb +
                        "\nNetwork=host\nReadOnlyRoot=yes\n"}) as s:
        s.wait_state("redis", "running")

        def ping():
            try:
                with socket.create_connection(("127.0.0.1", 16379), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    return c.recv(64)
            except OSError:
                return None
        check(retry(ping, timeout=10, what="redis PONG") == b"+PONG\r\n", "redis answers")


def test_reload_of_a_container_key_restarts():
    """A changed [Container] key restarts the unit, as any changed key does; Network=host: no
    net namespace, whatever Namespaces= lists."""
    base = "[Service]\nExec=/bin/sleep 1000\n[Container]\nRootDirectory=" + root() + "\n"
    with Supd({"c": base + "Hostname=one\n"}) as s:
        st = s.wait_state("c", "running")
        r = s.ctl("exec", "c", "/bin/hostname")
        check(r.returncode == 0 and r.stdout.strip() == "one", f"before: {r}")
        s.write_unit("c", base + "Hostname=two\nNetwork=host\n")
        out = s.ctl_ok("reload").stdout
        check("c" in out, f"reload names the changed unit: {out!r}")
        st2 = retry(lambda: (lambda x: x["state"] == "running" and x["pid"] != st["pid"] and x)(
            s.status("c")), timeout=30, what="c restarted")
        r = s.ctl("exec", "c", "/bin/hostname")
        check(r.returncode == 0 and r.stdout.strip() == "two", f"after: {r}")
        check("net" not in st2["container"]["namespaces"].split(),
              f"Network=host: no net namespace: {st2['container']}")
        r = s.ctl("exec", "c", "--", "/bin/readlink", "/proc/self/ns/net")
        check(r.stdout.strip() == os.readlink("/proc/self/ns/net"),
              f"the host's net namespace: {r.stdout!r}")


if __name__ == "__main__":
    run_tests([test_the_container_sees_only_itself, test_capabilities_user_and_init_no,
               test_what_the_kernel_refuses, test_read_only_root_and_masked_proc,
               test_orphans_are_reaped_and_signals_are_real, test_spawn_failures_say_why,
               test_bad_seccomp_profile_is_an_error_at_load,
               test_bind_target_symlink_out_of_the_root_is_refused,
               test_time_namespace_and_user_namespace,
               test_user_namespace_auto_mounts_id_mapped, test_sandboxed_plain_unit,
               test_status_shows_the_container, test_notify_in_a_container,
               test_devices_allow_list, test_exec,
               test_exec_on_a_terminal,
               test_real_daemon_from_debian, test_reload_of_a_container_key_restarts])
