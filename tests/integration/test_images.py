#!/usr/bin/env python3
"""Images: pull from a real registry (Debian's docker-registry on 127.0.0.1), verify, store as
an OCI layout, unpack safely, mount as an overlay; load tarballs; rmi and gc. Each test drives
the sup-image helper exactly as supd will (JSON lines out) and checks what a user would see:
its result or error, the store on disk, what skopeo reads from it, the mounted tree."""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, retry, run_tests  # noqa: E402
from imgfix import (Entry, FlakyProxy, Helper, Registry, TokenIssuer,  # noqa: E402
                    busybox_layer, files_layer, make_tar, need_tools, oci_layout, random_layer,
                    run, sha, tar_dir, tls_registry, umoci_image)

W = None  # the world: registry and images shared by the tests


class World:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="sup-images-")
        self.reg = Registry(self.work)
        self.layout = os.path.join(self.work, "oci")
        umoci_image(self.layout, "1", [busybox_layer, files_layer({
            "etc/app/config": b"answer=42\n", "srv/data/a": b"a", "srv/data/b": b"b"})],
            config=["--config.env", "PATH=/bin", "--config.env", "GREETING=hello",
                    "--config.workingdir", "/srv", "--config.cmd", "/bin/sh"])
        # a second image sharing the busybox layer
        umoci_image(self.layout, "2", [files_layer({"etc/two": b"2"})], base="1")
        self.reg.push(f"oci:{self.layout}:1", "test/busybox:1")
        self.reg.push(f"oci:{self.layout}:1", "test/busybox:1-docker", fmt="v2s2")
        self.reg.push(f"oci:{self.layout}:2", "test/busybox:2")
        self.addr = self.reg.addr

    def ref(self, tag="1", repo="test/busybox"):
        return f"{self.addr}/{repo}:{tag}"

    def stop(self):
        self.reg.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def skopeo_digest(ref):
    out = run("skopeo", "inspect", "--tls-verify=false", f"docker://{ref}")
    return json.loads(out)["Digest"]


def skopeo_layer_ids(ref):
    """The diff_ids (hex) of an image in the registry."""
    out = json.loads(run("skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{ref}"))
    return [d[7:] for d in out["rootfs"]["diff_ids"]]


def layer_root(h, result, i):
    return result["layers"][i]["path"]


# ---------------------------------------------------------------------------------------------

def test_pull_by_tag_oci():
    h = Helper(W.work)
    res, events = h.ok("pull", W.ref())
    check(res["digest"] == skopeo_digest(W.ref()), f"digest {res['digest']} != the registry's")
    check(res["env"] == ["PATH=/bin", "GREETING=hello"] and res["working_dir"] == "/srv",
          f"config: {res}")
    check(len(res["layers"]) == 2, f"layers: {res['layers']}")
    root0, root1 = layer_root(h, res, 0), layer_root(h, res, 1)
    check(os.path.islink(os.path.join(root0, "bin/sh")), "bin/sh symlink kept")
    with open(os.path.join(root1, "etc/app/config")) as f:
        check(f.read() == "answer=42\n", "file content")
    check(any(e.get("state") == "done" for e in events), "per-layer progress events")
    # the store is an OCI layout that skopeo reads
    name = f"{W.addr}/test/busybox:1"
    check(h.refs().get(name) == res["digest"], f"index.json: {h.refs()}")
    out = json.loads(run("skopeo", "inspect", f"oci:{h.store}:{name}"))
    check(out["Digest"] == res["digest"], f"skopeo reads the store: {out['Digest']}")
    dest = os.path.join(W.work, "copy-" + str(os.getpid()))
    run("skopeo", "--insecure-policy", "copy", "-q", f"oci:{h.store}:{name}", f"oci:{dest}:x")
    lst, _ = h.ok("images")
    check([i["ref"] for i in lst["images"]] == [name] and lst["images"][0]["tag"] == "1" and
          lst["images"][0]["size"] > 1000000 and lst["images"][0]["created"], f"images: {lst}")
    # a second pull downloads nothing
    res2, ev2 = h.ok("pull", W.ref())
    check(res2["digest"] == res["digest"], "same digest")
    check(all(e.get("state") != "downloading" for e in ev2), "nothing downloaded again")


def test_pull_by_digest_and_docker_schema2():
    h = Helper(W.work)
    d = skopeo_digest(W.ref("1-docker"))
    res, _ = h.ok("pull", f"{W.addr}/test/busybox@{d}")
    # stored as OCI (as skopeo copy to a layout does); the registry's digest is recorded
    check(res["source_digest"] == d, f"pinned digest honoured: {res}")
    with open(os.path.join(h.store, "blobs/sha256", res["digest"][7:])) as f:
        m = json.load(f)
    check(m["mediaType"] == "application/vnd.oci.image.manifest.v1+json", f"{m['mediaType']}")
    name = f"{W.addr}/test/busybox@{d}"
    check(h.refs() == {name: res["digest"]}, f"refs: {h.refs()}")
    with open(os.path.join(h.store, "index.json")) as f:
        ann = json.load(f)["manifests"][0]["annotations"]
    check(ann["io.sup.image.source-digest"] == d, f"annotations: {ann}")
    out = json.loads(run("skopeo", "inspect", f"oci:{h.store}:{name}"))
    check(out["Digest"] == res["digest"], "skopeo reads the converted manifest")
    # tag and digest: the digest decides, as with docker pull
    other = skopeo_digest(W.ref("2"))
    res, _ = h.ok("pull", f"{W.addr}/test/busybox:1-docker@{other}")
    check(res["digest"] == other, "the pinned digest wins over the tag")
    msg = h.fails("pull", f"{W.addr}/test/busybox@sha256:{'0' * 64}")
    check("MANIFEST_UNKNOWN" in msg, msg)


def test_multiarch_index():
    h = Helper(W.work)
    lay = os.path.join(W.work, "multi")
    umoci_image(lay, "amd", [busybox_layer], arch="amd64")
    umoci_image(lay, "arm", [files_layer({"arch": b"arm64"})], arch="arm64")
    with open(os.path.join(lay, "index.json")) as f:
        idx = json.load(f)
    by = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in idx["manifests"]}

    def entry(m, plat, **extra):
        return dict(mediaType=m["mediaType"], digest=m["digest"], size=m["size"],
                    platform=plat, **extra)
    multi = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [
                            # an attestation listed first: never chosen
                            entry(by["arm"], {"os": "unknown", "architecture": "unknown"},
                                  annotations={"vnd.docker.reference.type":
                                               "attestation-manifest"}),
                            entry(by["amd"], {"os": "linux", "architecture": "amd64"}),
                            entry(by["arm"], {"os": "linux", "architecture": "arm64",
                                              "variant": "v8"})]}).encode()
    with open(os.path.join(lay, "blobs/sha256", sha(multi)[7:]), "wb") as f:
        f.write(multi)
    idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                             "digest": sha(multi), "size": len(multi),
                             "annotations": {"org.opencontainers.image.ref.name": "multi"}})
    with open(os.path.join(lay, "index.json"), "w") as f:
        json.dump(idx, f)
    W.reg.push(f"oci:{lay}:multi", "test/multi:1", all_=True)
    res, _ = h.ok("pull", W.ref(repo="test/multi"))
    check(res["digest"] == by["amd"]["digest"] and res["platform"] == "linux/amd64",
          f"amd64 chosen: {res['digest']} {res['platform']}")
    res, _ = h.ok("--platform", "linux/arm64", "pull", W.ref(repo="test/multi"))
    check(res["digest"] == by["arm"]["digest"] and res["platform"] == "linux/arm64",
          f"arm64 chosen: {res['platform']}")
    msg = h.fails("--platform", "linux/arm/v7", "pull", W.ref(repo="test/multi"))
    check("no manifest for platform linux/arm/v7" in msg, msg)
    # the same as a Docker manifest list, through the JSON request interface
    W.reg.push(f"oci:{lay}:multi", "test/multi:docker", fmt="v2s2", all_=True)
    req = json.dumps({"op": "pull", "ref": W.ref("docker", "test/multi"),
                      "platform": "linux/arm64"})
    res, _ = h.ok("request", input=req.encode())
    check(res["platform"] == "linux/arm64", f"manifest list: {res['platform']}")


def auth_file(work, host, user, pw, key=None):
    p = os.path.join(tempfile.mkdtemp(dir=work), "config.json")
    tok = base64.b64encode(f"{user}:{pw}".encode()).decode()
    with open(p, "w") as f:
        json.dump({"auths": {key or f"http://{host}": {"auth": tok}}}, f)
    return p


def test_basic_auth():
    d = tempfile.mkdtemp(dir=W.work)
    pw = os.path.join(d, "htpasswd")
    with open(pw, "w") as f:
        f.write(run("htpasswd", "-Bbn", "tester", "s3cret"))
    reg = Registry(W.work, auth_yaml=f"""auth:
  htpasswd:
    realm: sup-test
    path: {pw}
""")
    try:
        reg.push(f"oci:{W.layout}:1", "test/auth:1", creds="tester:s3cret")
        ref = f"{reg.addr}/test/auth:1"
        h = Helper(W.work, auth=auth_file(W.work, reg.addr, "tester", "s3cret"))
        res, _ = h.ok("pull", ref)
        check(res["digest"].startswith("sha256:"), "pulled with basic auth")
        bad = Helper(W.work, auth=auth_file(W.work, reg.addr, "tester", "wrong"))
        msg = bad.fails("pull", ref)
        check("credentials rejected" in msg or "401" in msg, f"wrong password: {msg}")
        anon = Helper(W.work, auth=os.path.join(W.work, "no-such-auth.json"))
        msg = anon.fails("pull", ref)
        check("wants a user name and password" in msg, f"no credentials: {msg}")
        check(not bad.refs() and not anon.refs(), "nothing named after a failed pull")
    finally:
        reg.stop()


def test_bearer_token_auth():
    tok = TokenIssuer(W.work, "sup-test-registry", "sup-test-issuer", {"alice": "wonderland"})
    reg = Registry(W.work, auth_yaml=tok.registry_yaml())
    try:
        reg.push(f"oci:{W.layout}:1", "private/app:1", creds="alice:wonderland")
        reg.push(f"oci:{W.layout}:1", "public/app:1", creds="alice:wonderland")
        tok.requests.clear()
        # anonymous token for a public repository
        anon = Helper(W.work, auth=os.path.join(W.work, "no-such-auth.json"))
        res, _ = anon.ok("pull", f"{reg.addr}/public/app:1")
        scopes = [s for u, s in tok.requests]
        check(tok.requests and all(u == "anonymous" for u, _ in tok.requests), f"{tok.requests}")
        # one token for the scope, reused for the manifest, the config and both layers
        check(scopes.count("repository:public/app:pull") == 1, f"token cached: {scopes}")
        msg = anon.fails("pull", f"{reg.addr}/private/app:1")
        check("401" in msg or "denied" in msg.lower() or "UNAUTHORIZED" in msg, msg)
        # with credentials from config.json
        h = Helper(W.work, auth=auth_file(W.work, reg.addr, "alice", "wonderland"))
        tok.requests.clear()
        res, _ = h.ok("pull", f"{reg.addr}/private/app:1")
        check(("alice", "repository:private/app:pull") in tok.requests, f"{tok.requests}")
        bad = Helper(W.work, auth=auth_file(W.work, reg.addr, "alice", "nope"))
        msg = bad.fails("pull", f"{reg.addr}/private/app:1")
        check("credentials rejected" in msg, msg)
    finally:
        reg.stop()
        tok.stop()


def test_corrupt_blob_refused():
    reg = Registry(W.work)
    try:
        reg.push(f"oci:{W.layout}:1", "test/corrupt:1")
        m = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{reg.addr}/test/corrupt:1"))
        layer = m["layers"][-1]["digest"]
        p = reg.blob_path(layer)
        data = bytearray(open(p, "rb").read())
        data[len(data) // 2] ^= 0xFF
        with open(p, "wb") as f:
            f.write(data)
        h = Helper(W.work)
        msg = h.fails("pull", f"{reg.addr}/test/corrupt:1")
        check("digest mismatch" in msg and layer in msg, msg)
        check(layer[7:] not in h.blobs(), "the corrupt blob is not kept")
        # other layers interrupted by the failure may stay partial, for the next pull to resume
        check(layer[7:] + ".partial" not in h.partials() and not h.refs(),
              f"nothing kept: {h.partials()} {h.refs()}")
    finally:
        reg.stop()


def test_killed_pull_resumes():
    lay = os.path.join(W.work, "big")
    umoci_image(lay, "1", [random_layer("big/blob", 12 << 20)])
    W.reg.push(f"oci:{lay}:1", "test/big:1")
    h = Helper(W.work, conf="MaxDownloadRate=2M\n")
    proc = subprocess.Popen(h.cmd("pull", W.ref(repo="test/big")), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    tmp = os.path.join(h.store, "tmp")

    def partial_big():
        for f in h.partials():
            if os.path.getsize(os.path.join(tmp, f)) > (3 << 20):
                return f
    part = retry(partial_big, timeout=30, what="a partial download over 3 MiB")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    size = os.path.getsize(os.path.join(tmp, part))
    check(not h.refs(), "a killed pull names nothing")
    # the next pull, without the rate limit, picks up where the first stopped
    with open(h.conf, "w") as f:
        f.write("[Images]\n")
    # and an unpack killed half-way leaves a .tmp- tree that the next pull throws away
    junk = os.path.join(h.store, "layers", ".tmp-" + skopeo_layer_ids(W.ref(repo="test/big"))[0])
    os.makedirs(os.path.join(junk, "root/half"))
    res, events = h.ok("pull", W.ref(repo="test/big"))
    check(not os.path.exists(junk), "the half-unpacked tree is gone")
    resumed = [e for e in events if e.get("state") == "resuming"]
    check(resumed and resumed[0]["done"] >= size - (1 << 20),
          f"resumed from the partial ({size} bytes): {resumed}")
    check(not h.partials(), "no partial left")
    check(res["digest"] == skopeo_digest(W.ref(repo="test/big")), "verified whole image")


def store_consistent(h):
    """What a store must look like whatever was killed when: index.json whole, every blob
    hashing to its name, every named image complete, every layer directory committed whole."""
    with open(os.path.join(h.store, "index.json")) as f:
        idx = json.load(f)
    blobs = os.path.join(h.store, "blobs/sha256")
    for name in os.listdir(blobs):
        check(sha(open(os.path.join(blobs, name), "rb").read()) == "sha256:" + name,
              f"blob {name} does not hash to its name")
    for hx in h.layers():
        d = os.path.join(h.store, "layers", hx)
        check(os.path.isdir(os.path.join(d, "root")) and
              os.path.isfile(os.path.join(d, "implicit")), f"layer {hx} incomplete")
    for m in idx["manifests"]:
        ref = m["annotations"]["org.opencontainers.image.ref.name"]
        out = json.loads(run("skopeo", "inspect", f"oci:{h.store}:{ref}"))
        for layer in out["Layers"]:
            check(layer[7:] in h.blobs(), f"{ref}: layer {layer} missing")


def test_killed_at_every_step():
    """kill -9 of the helper after its 1st, 2nd, ... event line: the store stays consistent
    each time, and the next pull completes."""
    h = Helper(W.work, conf="ConcurrentDownloads=1\n")
    for k in range(1, 60):
        p = subprocess.Popen(h.cmd("pull", W.ref("2")), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        lines = [p.stdout.readline() for _ in range(k)]
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stdout.close()
        store_consistent(h)
        if any(b'"type":"result"' in x for x in lines):
            break
    check(k > 5, f"the pull finished after {k} events: too few kill points")
    print(f"  killed at {k - 1} points", flush=True)
    res, _ = h.ok("pull", W.ref("2"))
    store_consistent(h)
    check(W.ref("2") in h.refs(), "named at the end")


def load_layers(h, tars, **kw):
    d = tempfile.mkdtemp(dir=W.work)
    oci_layout(d, tars, **kw)
    tb = os.path.join(W.work, os.path.basename(d) + ".tar")
    with open(tb, "wb") as f:
        f.write(tar_dir(d))
    return _load_fd(h, tb)


def _load_fd(h, path):
    """supctl opens the file as the user and hands the fd over: the helper never opens it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return h.run("load", "--fd", str(fd), pass_fds=(fd,))
    finally:
        os.close(fd)


def test_hostile_layers_refused():
    outside = tempfile.mkdtemp(prefix="outside-", dir=W.work)
    tricks = {
        "dotdot": [Entry("../../../../" + outside.lstrip("/") + "/pwned", data=b"x")],
        "absolute": [Entry(outside + "/pwned", data=b"x")],
        "symlink then write": [Entry("link", "symlink", target=outside),
                               Entry("link/pwned", data=b"x")],
        "hardlink outside": [Entry("hl", "hardlink", target="../../../etc/passwd")],
        "dotdot after symlink": [Entry("s", "symlink", target=outside + "/a/b"),
                                 Entry("s/../pwned", data=b"x")],
        "symlinked dir, nested": [Entry("d", "dir", mode=0o755),
                                  Entry("d/up", "symlink", target="/"),
                                  Entry("d/up" + outside + "/pwned", data=b"x")],
    }
    h = Helper(W.work)
    for name, entries in tricks.items():
        last, _ = load_layers(h, [make_tar(entries)])
        check(last["type"] == "error", f"{name}: not refused: {last}")
        msg = last["message"]
        check(any(w in msg for w in ("refused", "not inside", "..", "absolute")),
              f"{name}: unclear error: {msg}")
        check(os.listdir(outside) == [], f"{name}: wrote outside: {os.listdir(outside)}")
    check(not h.refs(), f"nothing named: {h.refs()}")
    check(not any(n for n in os.listdir(os.path.join(h.store, "layers"))
                  if not n.startswith(".lock-")), "no layer directory kept")
    # across layers: a symlink in layer 1, a write under it in layer 2
    last, _ = load_layers(h, [make_tar([Entry("evil", "symlink", target=outside)]),
                              make_tar([Entry("evil/pwned", data=b"x")])])
    check(last["type"] == "error" and "symlink" in last["message"], f"cross-layer: {last}")
    check(os.listdir(outside) == [], "cross-layer: nothing outside")
    # a full filesystem: MinFreeSpace= more than there is
    full = Helper(W.work, conf="MinFreeSpace=1000000G\n")
    last, _ = load_layers(full, [make_tar([Entry("f", data=b"x")])])
    check(last["type"] == "error" and "left free" in last["message"], f"free space: {last}")
    # absurd sizes: over MaxLayerSize
    small = Helper(W.work, conf="MaxLayerSize=1M\n")
    last, _ = load_layers(small, [make_tar([Entry("big", size=3 << 20)])])
    check(last["type"] == "error" and "MaxLayerSize" in last["message"], f"size cap: {last}")
    # no device nodes, no trusted.* xattrs; user.* and security.capability kept
    ok = make_tar([Entry("dev/sda", "chr", devmajor=8, devminor=0),
                   Entry("dev/zero0", "chr", devmajor=0, devminor=0),
                   Entry("f", data=b"x", xattrs={"trusted.overlay.opaque": "y",
                                                 "user.note": "kept",
                                                 "security.selinux": "nope"})])
    last, _ = load_layers(h, [ok], ref="devices")
    check(last["type"] == "result", f"benign parts load: {last}")
    root = last["images"][0]["layers"][0]["path"]
    check(not os.path.exists(os.path.join(root, "dev/sda")) and
          not os.path.exists(os.path.join(root, "dev/zero0")), "device nodes skipped")
    xs = os.listxattr(os.path.join(root, "f"))
    check("user.note" in xs and "trusted.overlay.opaque" not in xs and
          "security.selinux" not in xs, f"xattrs: {xs}")


def mount(h, ref, target, *extra):
    os.makedirs(target, exist_ok=True)
    res, _ = h.ok("mount", ref, target, *extra)
    return res


def umount(target):
    subprocess.run(["umount", target], check=False)


def test_whiteouts_in_overlay():
    h = Helper(W.work)
    l1 = make_tar([Entry("a", "dir", mode=0o755), Entry("a/x", data=b"x"), Entry("a/y", data=b"y"),
                   Entry("d", "dir", mode=0o755), Entry("d/1", data=b"1"),
                   Entry("o", "dir", mode=0o755), Entry("o/old", data=b"old"),
                   Entry("bin", "dir", mode=0o755), Entry("keep", data=b"k", mode=0o4755)])
    l2 = make_tar([Entry("a/.wh.x"), Entry(".wh.d"), Entry("o", "dir", mode=0o755),
                   Entry("o/.wh..wh..opq"), Entry("o/new", data=b"new")])
    last, _ = load_layers(h, [l1, l2], ref="wh")
    check(last["type"] == "result", f"load: {last}")
    name = last["images"][0]["name"]
    top = last["images"][0]["layers"][1]["path"]
    st = os.lstat(os.path.join(top, "a/x"))
    check(os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0 and
          (st.st_mode & 0o170000) == 0o020000, "a/x is a 0/0 char device")
    check(os.getxattr(os.path.join(top, "o"), "trusted.overlay.opaque") == b"y", "opaque xattr")
    target = os.path.join(W.work, "mnt-wh")
    mount(h, name, target, "--read-only")
    try:
        with open("/proc/self/mountinfo") as f:
            line = [x for x in f if f" {target} " in x][0]
        # "off" reads as "on" on a lower-only mount where redirect_always_follow=Y
        check("redirect_dir=nofollow" in line and "metacopy=on" not in line, f"opts: {line}")
        have = set(os.listdir(target))
        check("d" not in have and "a" in have and "o" in have, f"root: {have}")
        check(os.listdir(os.path.join(target, "a")) == ["y"], "a/x whited out")
        check(os.listdir(os.path.join(target, "o")) == ["new"], "o is opaque")
        check(os.stat(os.path.join(target, "keep")).st_mode & 0o4000, "setuid kept")
    finally:
        umount(target)
    # a writable root: upper and work dirs of a unit
    up, wk = (os.path.join(W.work, n) for n in ("upper", "work"))
    os.makedirs(up)
    os.makedirs(wk)
    mount(h, name, target, "--upper", up, "--work", wk)
    try:
        with open(os.path.join(target, "a/y"), "w") as f:
            f.write("changed")
        os.unlink(os.path.join(target, "o/new"))
    finally:
        umount(target)
    check(open(os.path.join(up, "a/y")).read() == "changed", "copy-up went to the upper dir")
    # a unit's writable layer, kept across restarts (mounted twice)
    unit = os.path.join(W.work, "unit-web")
    mount(h, name, target, "--unit-dir", unit)
    try:
        with open(os.path.join(target, "a/state"), "w") as f:
            f.write("1")
    finally:
        umount(target)
    mount(h, name, target, "--unit-dir", unit)
    try:
        check(open(os.path.join(target, "a/state")).read() == "1", "changes kept")
        check(sorted(os.listdir(unit)) == ["upper", "work"], f"unit dir: {os.listdir(unit)}")
    finally:
        umount(target)
    check(open(os.path.join(top, "../../" + os.path.basename(os.path.dirname(top)) +
                            "/root/o/new")).read() == "new", "the shared layer is untouched")


def test_layer_compressions():
    """gzip, zstd and plain tar layers, each through the sandboxed unpacker."""
    h = Helper(W.work)
    tars = [make_tar([Entry(f"{n}/file", data=n.encode() * 1000)]) for n in ("g", "z", "p")]
    last, _ = load_layers(h, tars, ref="comp", compress=["gzip", "zstd", ""])
    check(last["type"] == "result", f"load: {last}")
    kinds = [layer["media_type"].rsplit(".", 1)[-1] for layer in last["images"][0]["layers"]]
    check(kinds == ["tar+gzip", "tar+zstd", "tar"], f"media types: {kinds}")
    for n, layer in zip("gzp", last["images"][0]["layers"]):
        with open(os.path.join(layer["path"], n, "file")) as f:
            check(f.read() == n * 1000, f"{n}: content")


def test_repeated_layers():
    """The same layer twice in one image (repeated empty layers are common), pulled."""
    d = tempfile.mkdtemp(dir=W.work)
    t1, t2 = make_tar([Entry("one", data=b"1")]), make_tar([Entry("two", data=b"2")])
    oci_layout(d, [t1, t2, t1], ref="rep")
    W.reg.push(f"oci:{d}:rep", "test/repeated:1")
    h = Helper(W.work)
    res, _ = h.ok("pull", W.ref(repo="test/repeated"))
    check(len(res["layers"]) == 3 and res["layers"][0]["path"] == res["layers"][2]["path"],
          f"layers: {res['layers']}")
    check(len(h.layers()) == 2, f"unpacked once each: {h.layers()}")


def test_many_layers_mount():
    h = Helper(W.work)
    tars = [make_tar([Entry(f"f{i:03}", data=str(i).encode())]) for i in range(120)]
    last, _ = load_layers(h, tars, ref="many", compress=False)
    check(last["type"] == "result", f"load of 120 layers: {last}")
    target = os.path.join(W.work, "mnt-many")
    mount(h, last["images"][0]["name"], target, "--read-only")
    try:
        check(len(os.listdir(target)) == 120, "all 120 layers visible")
    finally:
        umount(target)
    # kernels before 6.8 (no lowerdir+): mount(2) with the store's short links in one page
    mount(h, last["images"][0]["name"], target, "--read-only", "--legacy-mount")
    try:
        check(len(os.listdir(target)) == 120, "all 120 layers visible through mount(2)")
        with open("/proc/self/mountinfo") as f:
            line = [x for x in f if f" {target} " in x][0]
        check("lowerdir=l/" in line and "redirect_dir=nofollow" in line,
              f"options: {line[-300:]}")
    finally:
        umount(target)


def test_load_both_tarball_kinds():
    h = Helper(W.work)
    oa = os.path.join(W.work, "img-oci.tar")
    da = os.path.join(W.work, "img-docker.tar")
    run("skopeo", "--insecure-policy", "copy", "-q", f"oci:{W.layout}:1",
        f"oci-archive:{oa}:example.com/app/web:3")
    run("skopeo", "--insecure-policy", "copy", "-q", f"oci:{W.layout}:1",
        f"docker-archive:{da}:app/web:legacy")
    last, _ = _load_fd(h, oa)
    check(last["type"] == "result", f"oci-archive: {last}")
    last, _ = _load_fd(h, da)
    check(last["type"] == "result", f"docker-archive: {last}")
    refs = h.refs()
    check("docker.io/app/web:legacy" in refs, f"docker save name: {refs}")
    check(any(r.endswith(":3") for r in refs), f"oci-archive name: {refs}")
    lst, _ = h.ok("images")
    check(len(lst["images"]) == 2, f"images: {lst}")
    ins, _ = h.ok("inspect", "docker.io/app/web:legacy")
    check(ins["working_dir"] == "/srv" and "GREETING=hello" in ins["env"], f"inspect: {ins}")
    # a tarball whose blob does not hash to its name is refused
    d = tempfile.mkdtemp(dir=W.work)
    oci_layout(d, [make_tar([Entry("x", data=b"x")])])
    blobs = os.path.join(d, "blobs/sha256")
    victim = max(os.listdir(blobs), key=lambda n: os.path.getsize(os.path.join(blobs, n)))
    with open(os.path.join(blobs, victim), "ab") as f:
        f.write(b"tampered")
    bad = os.path.join(W.work, "bad.tar")
    with open(bad, "wb") as f:
        f.write(tar_dir(d))
    last, _ = _load_fd(h, bad)
    check(last["type"] == "error" and "hashes to" in last["message"], f"tampered: {last}")


def test_rmi_and_gc_keep_layers_in_use():
    h = Helper(W.work)
    one, _ = h.ok("pull", W.ref("1"))
    two, _ = h.ok("pull", W.ref("2"))
    ids = [layer["diff_id"][7:] for layer in two["layers"]]
    check(len(ids) == 3 and [x["diff_id"][7:] for x in one["layers"]] == ids[:2],
          "image 2 builds on image 1: two shared layers")
    # rmi 2 while a unit still runs it: its own layer is kept (the keep list comes from supd)
    res, _ = h.ok("rmi", W.ref("2"), "--keep", two["layers"][2]["diff_id"])
    check(res["untagged"] == [W.ref("2")], f"untagged: {res}")
    check(set(ids) <= h.layers(), f"layers in use kept: {h.layers()}")
    check(two["digest"][7:] not in h.blobs(), "image 2's manifest is collected")
    # the unit is gone: gc removes that layer; image 1 still holds the shared ones
    res, _ = h.ok("gc")
    check(h.layers() == set(ids[:2]), f"after gc: {h.layers()}")
    check(res["removed"]["layers"] == 1, f"gc stats: {res}")
    out = json.loads(run("skopeo", "inspect", f"oci:{h.store}:{W.ref('1')}"))
    check(out["Digest"] == one["digest"], "image 1 intact after gc")
    # short names are resolved as pull resolves them; a second rmi has nothing to remove
    msg = h.fails("rmi", W.ref("2"))
    check("no image" in msg, msg)
    res, _ = h.ok("rmi", W.ref("1"))
    check(h.layers() == set() and h.blobs() == set(), f"empty: {h.layers()} {h.blobs()}")


def test_concurrent_pulls_share_layers():
    h = Helper(W.work)
    procs = [subprocess.Popen(h.cmd("pull", W.ref(t)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for t in ("1", "2", "1-docker", "1")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        last = json.loads(out.decode().splitlines()[-1])
        check(p.returncode == 0 and last["type"] == "result", f"concurrent pull: {last} {err}")
    check(len(h.refs()) == 3, f"refs: {h.refs()}")
    check(not h.partials(), "no partials")
    for ref in h.refs():
        json.loads(run("skopeo", "inspect", f"oci:{h.store}:{ref}"))
    # the same two layers in opposite orders, downloads slowed down so that they overlap:
    # each pull holds one partial while the other wants it (no waiting while holding)
    d = tempfile.mkdtemp(dir=W.work)
    a, b = (make_tar([Entry(n, data=os.urandom(2 << 20))]) for n in ("a", "b"))
    oci_layout(d, [a, b], ref="ab")
    W.reg.push(f"oci:{d}:ab", "test/order:ab")
    d2 = tempfile.mkdtemp(dir=W.work)
    oci_layout(d2, [b, a], ref="ba")
    W.reg.push(f"oci:{d2}:ba", "test/order:ba")
    h = Helper(W.work, conf="MaxDownloadRate=3M\n")
    procs = [subprocess.Popen(h.cmd("pull", W.ref(t, "test/order")), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for t in ("ab", "ba", "ab", "ba")]
    for p in procs:
        out, err = p.communicate(timeout=60)
        last = json.loads(out.decode().splitlines()[-1])
        check(p.returncode == 0 and last["type"] == "result", f"opposite orders: {last}")
    check(len(h.layers()) == 2 and not h.partials(), f"{h.layers()} {h.partials()}")


def test_registry_manners():
    """Retry-After honoured, a cut connection resumed with Range, a 200 answer to a Range
    request restarting the blob, and no Authorization header sent to another host."""
    # 429 + Retry-After: 1 on the first request for each blob
    px = FlakyProxy(W.addr, mode="429")
    try:
        h = Helper(W.work)
        t0 = time.monotonic()
        res, _ = h.ok("pull", f"{px.addr}/test/busybox:1")
        check(time.monotonic() - t0 >= 1.0 and res["retries"] >= 3,
              f"Retry-After honoured: {res['retries']} retries")
    finally:
        px.stop()
    # a connection cut halfway: the retry asks for the rest only
    px = FlakyProxy(W.addr, mode="cut")
    try:
        h = Helper(W.work)
        res, _ = h.ok("pull", f"{px.addr}/test/busybox:1")
        ranged = [r for (_, _, path, r, _) in px.log if r]
        check(ranged and all(r.startswith("bytes=") and r != "bytes=0-" for r in ranged),
              f"resumed with Range: {ranged}")
    finally:
        px.stop()
    # the same, but the server ignores Range and sends everything again: start over
    px = FlakyProxy(W.addr, mode="cut", ignore_range=True)
    try:
        h = Helper(W.work)
        res, _ = h.ok("pull", f"{px.addr}/test/busybox:1")
        check(res["digest"] == skopeo_digest(W.ref()), "verified after a restart")
    finally:
        px.stop()
    # blobs redirected to another host (as to a CDN): credentials stay with the registry
    d = tempfile.mkdtemp(dir=W.work)
    with open(os.path.join(d, "htpasswd"), "w") as f:
        f.write(run("htpasswd", "-Bbn", "tester", "s3cret"))
    reg = Registry(W.work, auth_yaml=f"""auth:
  htpasswd:
    realm: sup-test
    path: {d}/htpasswd
""")
    px = FlakyProxy(reg.addr, mode="redirect", storage=reg.storage)
    try:
        reg.push(f"oci:{W.layout}:1", "test/redir:1", creds="tester:s3cret")
        h = Helper(W.work, auth=auth_file(W.work, px.addr, "tester", "s3cret"))
        h.ok("pull", f"{px.addr}/test/redir:1")
        other = [x for x in px.log if x[0] == "127.0.0.2"]
        check(other and all(a is None for (*_, a) in other),
              f"no Authorization to the blob host: {other}")
        check(any(a for (host, *_, a) in px.log if host == "127.0.0.1"),
              "the registry itself got credentials")
    finally:
        px.stop()
        reg.stop()


def test_mirrors():
    h = Helper(W.work, conf=f"Mirror=127.0.0.1:1 http://127.0.0.1:1\n"
                            f"Mirror=127.0.0.1:1 http://{W.addr}/\n")
    res, events = h.ok("pull", "127.0.0.1:1/test/busybox:1")
    check(res["digest"] == skopeo_digest(W.ref()), "pulled through the second mirror")
    msgs = [e["message"] for e in events if e["type"] == "status"]
    check(any("mirror failed" in m for m in msgs), f"first mirror tried: {msgs}")
    check("127.0.0.1:1/test/busybox:1" in h.refs(), f"named as asked: {h.refs()}")


def test_tls_extra_ca_and_proxy():
    reg, ca = tls_registry(W.work)
    try:
        reg.push(f"oci:{W.layout}:1", "test/tls:1")
        mirror = f"Mirror=127.0.0.1:1 https://{reg.addr}\n"
        # the registry's CA is not in the system bundle: refused, then added: pulled
        h = Helper(W.work, conf=mirror + "Retries=0\n")
        last, events = h.run("pull", "127.0.0.1:1/test/tls:1")
        fails = [e["message"] for e in events
                 if e["type"] == "status" and "mirror failed" in e["message"]]
        check(fails and ("certificate" in fails[0].lower() or "SSL" in fails[0]),
              f"unknown CA refused: {fails}")
        h = Helper(W.work, conf=mirror + f"CACertificates={ca}\n")
        res, _ = h.ok("pull", "127.0.0.1:1/test/tls:1")
        check(res["digest"] == skopeo_digest(W.ref()), "pulled over TLS with the extra CA")
    finally:
        reg.stop()
    # a forward proxy, from supd.conf and from the environment
    px = FlakyProxy(W.addr)
    try:
        h = Helper(W.work, conf=f"Proxy=http://{px.addr}\n")
        h.ok("pull", W.ref())
        check(any(f.startswith(W.addr + "/v2/") for f in px.forwarded),
              f"Proxy= used: {px.forwarded[:3]}")
        px.forwarded.clear()
        h = Helper(W.work)
        h.ok("pull", W.ref(), env=dict(os.environ, http_proxy=f"http://{px.addr}"))
        check(px.forwarded, "http_proxy from the environment used")
    finally:
        px.stop()


def test_bad_references():
    h = Helper(W.work)
    for ref, words in (("UPPER/case", "invalid repository"), ("a:b:c", "invalid"),
                       ("x@sha256:abc", "64"), ("127.0.0.1:1/none:1", "127.0.0.1:1")):
        msg = h.fails("pull", ref)
        check(words in msg, f"{ref}: {msg}")


def main():
    global W
    need_tools()
    W = World()
    try:
        run_tests([test_pull_by_tag_oci, test_pull_by_digest_and_docker_schema2,
                   test_multiarch_index, test_basic_auth, test_bearer_token_auth,
                   test_corrupt_blob_refused, test_killed_pull_resumes, test_killed_at_every_step,
                   test_hostile_layers_refused, test_whiteouts_in_overlay,
                   test_layer_compressions, test_repeated_layers, test_many_layers_mount,
                   test_load_both_tarball_kinds,
                   test_rmi_and_gc_keep_layers_in_use, test_concurrent_pulls_share_layers,
                   test_registry_manners, test_mirrors, test_tls_extra_ca_and_proxy,
                   test_bad_references])
    finally:
        W.stop()


if __name__ == "__main__":
    main()
