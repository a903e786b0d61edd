#!/usr/bin/env python3
"""Images through supd: supctl pull/images/rmi/load/gc, and Image= units. A real registry
(Debian's docker-registry on 127.0.0.1) serves images built with umoci from busybox-static;
supd runs the sup-image helper for every request (--image-helper). What is checked is what a
user sees: supctl's output and exit status, status --json, a unit's logs and files."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Fail, Supd, check, procs_matching, retry, run_tests  # noqa: E402
from imgfix import (SUP_IMAGE, Registry, busybox_layer, files_layer, need_tools,  # noqa: E402
                    run, umoci_image)

W = None


class World:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="sup-imgunits-")
        os.chmod(self.work, 0o755)
        self.reg = Registry(self.work)
        self.layout = os.path.join(self.work, "oci")
        umoci_image(self.layout, "1", [busybox_layer, files_layer({
            "srv/data/a": b"a", "etc/app/config": b"answer=42\n"})],
            config=["--config.env", "PATH=/bin", "--config.env", "GREETING=hello",
                    "--config.workingdir", "/srv/data", "--config.cmd", "/bin/sh",
                    "--config.cmd", "-c", "--config.cmd",
                    "echo from-cmd greeting=$GREETING cwd=$(pwd); exec sleep 1000"])
        umoci_image(self.layout, "2", [files_layer({"etc/two": b"2"})], base="1")
        umoci_image(self.layout, "user", [], base="1",
                    config=["--config.user", "1000:1001", "--config.stopsignal", "SIGINT"])
        self.reg.push(f"oci:{self.layout}:1", "test/bb:1")
        self.reg.push(f"oci:{self.layout}:2", "test/bb:2")
        self.reg.push(f"oci:{self.layout}:1", "test/bb:moving")
        self.reg.push(f"oci:{self.layout}:user", "test/bb:user")
        self.addr = self.reg.addr

    def ref(self, tag="1"):
        return f"{self.addr}/test/bb:{tag}"

    def digest(self, tag):
        out = run("skopeo", "inspect", "--tls-verify=false", f"docker://{self.ref(tag)}")
        return json.loads(out)["Digest"]

    def stop(self):
        self.reg.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def supd(units=None):
    return Supd(units=units, config="[Images]\nRetryDelaySec=50ms\nRetries=1\n",
                args=["--image-helper", SUP_IMAGE])


def store_layers(s):
    d = os.path.join(s.state, "images/layers")
    return {x for x in os.listdir(d) if not x.startswith(".")} if os.path.isdir(d) else set()


def unit(image, exec_line=None, extra=""):
    text = "[Service]\nRestart=no\n"
    if exec_line:
        text += f"Exec={exec_line}\n"
    return text + extra + f"[Container]\nImage={image}\n"


def logs(s, name):
    return s.ctl("logs", name, "-n", "0").stdout


# ---------------------------------------------------------------------------------------------

def test_pull_images_rmi():
    with supd() as s:
        r = s.ctl("pull", W.ref("1"))
        check(r.returncode == 0, f"pull: {r.stderr}")
        # not a terminal: no progress, one line of result
        check(r.stdout.strip() == f"pulled {W.ref('1')} {W.digest('1')}", f"out: {r.stdout!r}")
        r = s.ctl_ok("pull", W.ref("2"), "--json")
        two = json.loads(r.stdout)
        check(two["digest"] == W.digest("2") and len(two["layers"]) == 3, f"json: {two}")
        lst = json.loads(s.ctl_ok("images", "--json").stdout)["images"]
        byname = {i["ref"]: i for i in lst}
        check(set(byname) == {W.ref("1"), W.ref("2")}, f"images: {lst}")
        one = byname[W.ref("1")]
        check(one["tag"] == "1" and one["digest"] == W.digest("1") and one["size"] > 100000
              and one["created"], f"fields: {one}")
        table = s.ctl_ok("images").stdout.splitlines()
        check(table[0].split() == ["NAME", "TAG", "DIGEST", "SIZE", "CREATED"], table[0])
        check(any(W.digest("1")[7:19] in line for line in table[1:]), f"table: {table}")
        # a missing tag: the registry's message, exit 1
        r = s.ctl("pull", W.ref("nope"))
        check(r.returncode == 1 and "MANIFEST_UNKNOWN" in r.stderr, f"missing: {r.stderr}")
        r = s.ctl("pull", "Bad/UPPER")
        check(r.returncode == 2 and "invalid" in r.stderr, f"bad ref: {r.stderr}")
        # rmi: untagged and collected
        before = store_layers(s)
        r = s.ctl_ok("rmi", W.ref("2"))
        check(f"untagged {W.ref('2')}" in r.stdout and "removed" in r.stdout, r.stdout)
        check(len(store_layers(s)) == len(before) - 1, "image 2's own layer collected")
        r = s.ctl("rmi", W.ref("2"))
        check(r.returncode == 1 and "no image" in r.stderr, f"rmi again: {r.stderr}")
        lst = json.loads(s.ctl_ok("images", "--json").stdout)["images"]
        check([i["ref"] for i in lst] == [W.ref("1")], f"after rmi: {lst}")


def test_load_both_tarball_kinds():
    oa = os.path.join(W.work, "img-oci.tar")
    da = os.path.join(W.work, "img-docker.tar")
    if not os.path.exists(oa):
        run("skopeo", "--insecure-policy", "copy", "-q", f"oci:{W.layout}:1",
            f"oci-archive:{oa}:example.com/app/web:3")
        run("skopeo", "--insecure-policy", "copy", "-q", f"oci:{W.layout}:1",
            f"docker-archive:{da}:app/web:legacy")
    with supd() as s:
        r = s.ctl_ok("load", oa)
        check("loaded example.com/app/web:3 sha256:" in r.stdout, f"oci: {r.stdout}")
        # from stdin (a pipe: supd never sees a path), renamed with --tag
        with open(da, "rb") as f:
            r = subprocess.run([os.environ.get("SUPCTL", "supctl"), "--socket", s.socket,
                                "load", "-", "--json"], stdin=f, capture_output=True,
                               timeout=120)
        check(r.returncode == 0, f"docker-archive: {r.stderr}")
        names = [i["name"] for i in json.loads(r.stdout)["images"]]
        check(names == ["docker.io/app/web:legacy"], f"docker save name: {names}")
        lst = json.loads(s.ctl_ok("images", "--json").stdout)["images"]
        check({i["ref"] for i in lst} == {"example.com/app/web:3", "docker.io/app/web:legacy"},
              f"images: {lst}")
        # the file is opened by supctl as its caller: one it cannot read is refused before supd
        secret = os.path.join(W.work, "secret.tar")
        shutil.copy(oa, secret)
        os.chmod(secret, 0o600)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            os.environ.get("SUPCTL", "supctl"), "--socket", s.socket, "load",
                            secret], capture_output=True, text=True, timeout=30)
        check(r.returncode == 1 and "Permission denied" in r.stderr, f"nobody: {r.stderr}")
        r = s.ctl("load", "/nonexistent.tar")
        check(r.returncode == 1 and "No such file" in r.stderr, r.stderr)
        # garbage is the helper's error, for that request only
        r = s.ctl("load", "-", input="not a tarball\n")
        check(r.returncode == 1 and r.stderr, f"garbage: {r.stderr}")
        check(s.ctl("version").returncode == 0, "supd is fine")


def test_unit_runs_image_env_workdir():
    with supd({"web": unit(W.ref("1"), None, "")}) as s:
        st = s.wait_state("web", "running", "failed", timeout=120)
        check(st["state"] == "running", f"status: {st} {logs(s, 'web')}")
        out = retry(lambda: "from-cmd" in logs(s, "web") and logs(s, "web"), timeout=10,
                    what="the image's Cmd output")
        # the image's Entrypoint+Cmd, Env and WorkingDir
        check("from-cmd greeting=hello cwd=/srv/data" in out, out)
        # pulled on first start: its progress in the unit's log
        check("image" in out and "pinned to " + W.digest("1") in out, out)
        img = st["image"]
        check(img["digest"] == W.digest("1") and img["ref"] == W.ref("1"), f"image: {img}")
        out = s.ctl_ok("status", "web").stdout
        check(f"Image: {W.ref('1')} {W.digest('1')}" in out, f"status: {out}")
        r = s.ctl_ok("exec", "web", "--", "/bin/cat", "/etc/app/config")
        check(r.stdout == "answer=42\n", f"root is the image: {r.stdout!r}")
        # Exec= replaces Entrypoint+Cmd; Environment= and WorkingDirectory= win over the image
        s.write_unit("over", unit(W.ref("1"), "/bin/sh -c 'echo over g=$GREETING cwd=$(pwd)'",
                                  "Type=oneshot\nEnvironment=GREETING=unit\n"
                                  "WorkingDirectory=/etc\n"))
        s.ctl_ok("reload")
        s.ctl_ok("start", "over", timeout=120)
        out = retry(lambda: "over g=" in logs(s, "over") and logs(s, "over"), timeout=10,
                    what="over's output")
        check("over g=unit cwd=/etc" in out, out)


def test_image_user_and_stop_signal():
    cmd = "/bin/sh -c 'echo uid=$(id -u) gid=$(id -g); exec sleep 1000'"
    with supd({"usr": unit(W.ref("user"), cmd),
               "own": unit(W.ref("user"), cmd, "User=1002\nStopSignal=SIGTERM\n")}) as s:
        for name in ("usr", "own"):
            s.wait_state(name, "running", timeout=120)
        out = retry(lambda: "uid=" in logs(s, "usr") and logs(s, "usr"), timeout=10, what="id")
        check("uid=1000 gid=1001" in out, f"the image's User: {out}")
        out = retry(lambda: "uid=" in logs(s, "own") and logs(s, "own"), timeout=10, what="id")
        check("uid=1002 gid=" in out and "gid=1001" not in out, f"User= wins, group too: {out}")
        s.ctl_ok("stop", "usr", "own", timeout=60)
        check("killed by SIGINT" in logs(s, "usr"), f"the image's StopSignal: {logs(s, 'usr')}")
        check("killed by SIGTERM" in logs(s, "own"), f"StopSignal= wins: {logs(s, 'own')}")


def test_image_with_user_namespace_is_pending():
    """overlayfs cannot be id-mapped: Image= in a user namespace is refused, never run half."""
    with supd({"uns": unit(W.ref("1"), "/bin/true", "") + "UserNamespace=auto\n"}) as s:
        st = s.wait_state("uns", "bad-unit", timeout=30)
        check("not yet supported: Image= in a user namespace" in st["error"], f"{st}")


def test_pull_failure_fails_start():
    with supd({"bad": unit(W.ref("nope"), "/bin/true")}) as s:
        st = s.wait_state("bad", "failed", timeout=60)
        check("MANIFEST_UNKNOWN" in (st["error"] or ""), f"error: {st}")
        r = s.ctl("start", "bad")
        check(r.returncode == 1 and "MANIFEST_UNKNOWN" in r.stderr, f"start: {r.stderr}")


def test_pinning_update_restart_pull():
    # the tag "moving" is image 1 now; it moves to image 2 while the unit runs
    W.reg.push(f"oci:{W.layout}:1", "test/bb:moving")
    d1, d2 = W.digest("1"), W.digest("2")
    with supd({"pin": unit(W.ref("moving"), "/bin/sh -c 'ls /etc; exec sleep 1000'")}) as s:
        st = s.wait_state("pin", "running", timeout=120)
        check(st["image"]["digest"] == d1, f"first start: {st['image']}")
        W.reg.push(f"oci:{W.layout}:2", "test/bb:moving")
        # a restart keeps the pinned digest
        s.ctl_ok("restart", "pin", timeout=60)
        st = s.status("pin")
        check(st["image"]["digest"] == d1, f"restart keeps the pin: {st['image']}")
        # update: pulled, pinned, restarted on it
        r = s.ctl_ok("update", "pin", timeout=120)
        check(f"pinned to {d2}" in r.stdout and "restarting" in r.stdout, r.stdout)
        st = s.wait_state("pin", "running", timeout=60)
        check(st["image"]["digest"] == d2 and st["image"]["pinned"] == d2, f"{st['image']}")
        retry(lambda: "two" in logs(s, "pin"), timeout=10, what="image 2's /etc/two listed")
        r = s.ctl_ok("update", "pin", timeout=120)
        check("up to date" in r.stdout, r.stdout)
        # back to image 1 under the same tag: restart --pull takes it
        W.reg.push(f"oci:{W.layout}:1", "test/bb:moving")
        s.ctl_ok("restart", "--pull", "pin", timeout=120)
        st = s.wait_state("pin", "running", timeout=60)
        check(st["image"]["digest"] == d1, f"restart --pull: {st['image']}")
        # the pin survives supd: a new supd on the same state dir keeps it, tag moved or not
        W.reg.push(f"oci:{W.layout}:2", "test/bb:moving")
        s.stop()
        s2 = Supd(units={"pin": unit(W.ref("moving"), "/bin/sh -c 'exec sleep 1000'")},
                  config="[Images]\nRetries=1\n",
                  args=["--image-helper", SUP_IMAGE, "--state-dir", s.state])
        with s2:
            st = s2.wait_state("pin", "running", timeout=120)
            check(st["image"]["digest"] == d1 and st["image"]["pinned"] == d1,
                  f"after supd's restart: {st['image']}")


def test_rmi_gc_keep_layers_in_use():
    with supd({"keep": unit(W.ref("2"), "/bin/sh -c 'exec sleep 1000'")}) as s:
        s.wait_state("keep", "running", timeout=120)
        in_use = store_layers(s)
        check(len(in_use) == 3, f"layers: {in_use}")
        r = s.ctl_ok("rmi", W.ref("2"))
        check(f"untagged {W.ref('2')}" in r.stdout, r.stdout)
        check(store_layers(s) == in_use, "the running unit's layers are kept")
        s.ctl_ok("gc")
        check(store_layers(s) == in_use, "gc keeps them too")
        # stopped, it is still pinned: a restart needs no registry
        s.ctl_ok("stop", "keep")
        s.ctl_ok("gc")
        check(store_layers(s) == in_use, "a stopped unit's pin keeps its layers")
        s.ctl_ok("start", "keep", timeout=60)
        check(s.status("keep")["state"] == "running", "restarted from the store")


def test_writable_layer_survives_restart():
    with supd({"rw": unit(W.ref("1"), "/bin/sh -c 'cat /srv/data/note 2>/dev/null; "
                                      "echo kept >> /srv/data/note; exec sleep 1000'")}) as s:
        st = s.wait_state("rw", "running", timeout=120)
        layer = st["image"]["writable_layer"]
        check(layer and layer.startswith(s.state), f"writable layer: {st['image']}")
        note = os.path.join(layer, "upper/srv/data/note")
        retry(lambda: os.path.exists(note), timeout=10, what="the first run's note")
        s.ctl_ok("restart", "rw", timeout=60)
        retry(lambda: "kept" in logs(s, "rw"), timeout=10, what="the file of the first run")
        retry(lambda: open(note).read() == "kept\nkept\n", timeout=10,
              what="the note written twice, in the upper directory")
        # the shared layer is untouched
        check(not any(os.path.exists(os.path.join(s.state, "images/layers", x, "root/srv/data/note"))
                      for x in store_layers(s)), "image layers untouched")
        r = s.ctl("drop-layer", "rw")
        check(r.returncode == 1 and "down" in r.stderr, f"while running: {r.stderr}")
        s.ctl_ok("stop", "rw")
        r = s.ctl_ok("drop-layer", "rw")
        check("writable layer dropped" in r.stdout, r.stdout)
        retry(lambda: not os.path.exists(layer), timeout=10, what="the layer removed")
        s.ctl_ok("start", "rw", timeout=60)
        retry(lambda: os.path.exists(note) and open(note).read() == "kept\n", timeout=10,
              what="a fresh writable layer")
        # ReadOnlyRoot=yes: no upper at all
        s.write_unit("ro", unit(W.ref("1"), "/bin/sh -c 'echo x > /srv/data/y; echo rc=$?'",
                                "Type=oneshot\nRemainAfterExit=yes\n")
                     + "ReadOnlyRoot=yes\n")
        s.ctl_ok("reload")
        s.ctl("start", "ro", timeout=60)
        out = retry(lambda: "rc=" in logs(s, "ro") and logs(s, "ro"), timeout=30, what="ro")
        check("rc=1" in out, f"read-only root: {out}")
        check(s.status("ro")["image"]["writable_layer"] is None, "no writable layer")


def test_helper_crash_hang_garbage():
    """A helper that crashes, hangs or talks garbage fails that request only."""
    fake = os.path.join(W.work, "fake-helper")
    with open(fake, "w") as f:
        f.write("""#!/bin/sh
for a; do last=$a; done
case "$last" in
  *crash*) echo '{"type":"status","message":"going"}'; kill -SEGV $$ ;;
  *hang*) exec sleep 1000 ;;
  *garbage*) echo 'this is not json'; exec sleep 1000 ;;
  *long*) head -c 2000000 /dev/zero | tr '\\0' x; echo ;;
esac
""")
    os.chmod(fake, 0o755)
    s = Supd(units={"u": unit("127.0.0.1:1/x/hang:1", "/bin/true")},
             config="[Images]\nHelperTimeoutSec=2s\n", args=["--image-helper", fake])
    with s:
        for ref, words in (("x/crash:1", "killed by SIGSEGV"), ("x/hang:1", "no word from it"),
                           ("x/garbage:1", "garbage on its output"),
                           ("x/long:1", "a line of more than")):
            r = s.ctl("pull", ref, timeout=60)
            check(r.returncode == 1 and words in r.stderr, f"{ref}: {r.returncode} {r.stderr}")
        check(s.ctl("version").returncode == 0, "supd goes on")
        # a unit whose image helper hangs: a failed start, with the reason
        s.ctl("start", "u", timeout=60)
        st = s.wait_state("u", "failed", timeout=30)
        check("no word from it" in (st["error"] or ""), f"unit: {st}")
        try:
            retry(lambda: not procs_matching(fake + " --state-dir"), timeout=10, what="the helpers gone")
        except Exception:
            left = [open(f"/proc/{p}/cmdline").read() for p in procs_matching(fake + " --state-dir")]
            raise Fail(f"helpers left: {left}")


def test_progress_on_a_terminal():
    with supd() as s:
        r = subprocess.run(["script", "-qec", " ".join([os.environ.get("SUPCTL", "supctl"),
                            "--socket", s.socket, "pull", W.ref("2")]), "/dev/null"],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"pull on a pty: {r.stdout} {r.stderr}")
        out = r.stdout
        # a small layer may be done before the first progress line (they come every 200 ms)
        check(any(w in out for w in ("downloading", "exists", "done")),
              f"layer states: {out!r}")
        check("\x1b[K" in out and "downloaded in" in out and "/s)" in out,
              f"bars, sizes, speed: {out!r}")


def main():
    global W
    need_tools()
    W = World()
    try:
        run_tests([test_pull_images_rmi, test_load_both_tarball_kinds,
                   test_unit_runs_image_env_workdir, test_image_user_and_stop_signal,
                   test_image_with_user_namespace_is_pending, test_pull_failure_fails_start,
                   test_pinning_update_restart_pull, test_rmi_gc_keep_layers_in_use,
                   test_writable_layer_survives_restart, test_helper_crash_hang_garbage,
                   test_progress_on_a_terminal])
    finally:
        W.stop()


if __name__ == "__main__":
    main()
