"""Fixtures for the image tests: a real registry (Debian's docker-registry) on 127.0.0.1, images
built with umoci from busybox-static and pushed with skopeo, a token issuer, hand-made OCI
layouts with chosen tar layers, and the sup-image helper run as supd will run it.

Everything is started here and stopped at the end; under CI=true a missing tool fails the
run (it never skips).
"""

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request

from harness import Fail, check, retry

SUP_IMAGE = os.environ.get("SUP_IMAGE", "sup-image")
TOOLS = ("docker-registry", "skopeo", "umoci", "htpasswd", "openssl", "busybox", "zstd")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def need_tools():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        # CI installs them (scripts/deps.sh test): missing there is a broken install step
        print(f"missing tools: {' '.join(missing)} (scripts/deps.sh test installs them)")
        sys.exit(1)
    if not os.path.exists(SUP_IMAGE) and not shutil.which(SUP_IMAGE):
        print(f"sup-image not found at {SUP_IMAGE} (set SUP_IMAGE)")
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)
    if r.returncode != 0:
        raise Fail(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-2000:]}")
    return r.stdout


def http_get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Registry:
    """docker-registry serve on 127.0.0.1:<free port> with a temp storage dir."""

    def __init__(self, work, auth_yaml="", extra_yaml="", probe_scheme="http", ca=None):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix="reg-", dir=work)
        self.storage = os.path.join(self.dir, "storage")
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {self.storage}
  delete:
    enabled: true
{extra_yaml}
http:
  addr: {self.addr}
  secret: sup-test-secret
{auth_yaml}
""")
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise Fail(f"registry exited: {open(self.log.name).read()[-2000:]}")
            try:
                if probe_scheme == "https":
                    import ssl
                    ctx = ssl.create_default_context(cafile=ca)
                    with urllib.request.urlopen(f"https://{self.addr}/v2/", timeout=5,
                                                context=ctx) as r:
                        code, hdrs = r.status, dict(r.headers)
                else:
                    code, hdrs, _ = http_get(f"http://{self.addr}/v2/")
            except OSError:
                return False
            # ours: the API answers, and the process we started is still the one alive
            return code in (200, 401) and "Docker-Distribution-Api-Version" in hdrs
        retry(up, timeout=15, what="registry on " + self.addr)

    def push(self, src, repo_tag, fmt=None, creds=None, all_=False):
        cmd = ["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false"]
        if fmt:
            cmd += ["--format", fmt]
        if creds:
            cmd += ["--dest-creds", creds]
        if all_:
            cmd += ["--all"]
        run(*cmd, src, f"docker://{self.addr}/{repo_tag}")

    def blob_path(self, digest):
        h = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", h[:2], h, "data")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---- images with umoci

def umoci_image(layout, tag, layers, arch="amd64", config=(), base=None):
    """layers: list of callables f(rootfs) that change the tree; each repack is one layer.
    base: a tag of the same layout to build on (its layers are shared)."""
    if not os.path.exists(os.path.join(layout, "oci-layout")):
        run("umoci", "init", "--layout", layout)
    if base:
        run("umoci", "tag", "--image", f"{layout}:{base}", tag)
    else:
        run("umoci", "new", "--image", f"{layout}:{tag}")
    bundle = tempfile.mkdtemp(prefix="bundle-", dir=os.path.dirname(layout))
    shutil.rmtree(bundle)
    run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    for change in layers:
        change(os.path.join(bundle, "rootfs"))
        run("umoci", "repack", "--refresh-bundle", "--image", f"{layout}:{tag}", bundle)
    run("umoci", "config", "--image", f"{layout}:{tag}", "--os", "linux", "--architecture", arch,
        *config)
    shutil.rmtree(bundle)


def busybox_layer(root):
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(root, "bin/busybox"))
    for a in ("sh", "ls", "cat", "echo"):
        os.symlink("busybox", os.path.join(root, "bin", a))


def files_layer(files):
    def change(root):
        for path, content in files.items():
            p = os.path.join(root, path)
            if content is None:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
                continue
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(content)
    return change


def random_layer(path, size):
    def change(root):
        p = os.path.join(root, path)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(os.urandom(size))
    return change


# ---- hand-made OCI layouts (exact tar entries, for whiteouts and hostile layers)

class Entry:
    def __init__(self, name, type="file", data=b"", target=None, mode=0o644, uid=0, gid=0,
                 size=None, xattrs=None, devmajor=0, devminor=0):
        self.name, self.type, self.data, self.target = name, type, data, target
        self.mode, self.uid, self.gid, self.size, self.xattrs = mode, uid, gid, size, xattrs
        self.devmajor, self.devminor = devmajor, devminor


def make_tar(entries):
    buf = io.BytesIO()
    types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.type = types[e.type]
            ti.mode, ti.uid, ti.gid, ti.mtime = e.mode, e.uid, e.gid, 1_700_000_000
            if e.target is not None:
                ti.linkname = e.target
            if e.xattrs:
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e.xattrs.items()}
            ti.devmajor, ti.devminor = e.devmajor, e.devminor
            if e.type == "file":
                ti.size = len(e.data) if e.size is None else e.size
                t.addfile(ti, io.BytesIO(e.data) if e.size is None else ZeroReader(e.size))
            else:
                t.addfile(ti)
    return buf.getvalue()


class ZeroReader:
    def __init__(self, n):
        self.n = n

    def read(self, k=-1):
        k = self.n if k < 0 else min(k, self.n)
        self.n -= k
        return b"\0" * k


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def oci_layout(path, layer_tars, ref="1", arch="amd64", env=("PATH=/bin",), compress=True):
    """Write an OCI layout holding one image made of the given tar layers."""
    blobs = os.path.join(path, "blobs/sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(b):
        with open(os.path.join(blobs, sha(b)[7:]), "wb") as f:
            f.write(b)
        return {"digest": sha(b), "size": len(b)}

    layers = []
    for i, t in enumerate(layer_tars):
        how = compress[i] if isinstance(compress, (list, tuple)) else ("gzip" if compress else "")
        if how == "gzip":
            b = gzip.compress(t, mtime=0)
        elif how == "zstd":
            b = subprocess.run(["zstd", "-q", "-c"], input=t, capture_output=True,
                               check=True).stdout
        else:
            b = t
        mt = "application/vnd.oci.image.layer.v1.tar" + (f"+{how}" if how else "")
        layers.append(dict(mediaType=mt, **put(b)))
    config = json.dumps({"architecture": arch, "os": "linux",
                         "config": {"Env": list(env), "Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layer_tars]}}
                        ).encode()
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": dict(mediaType="application/vnd.oci.image.config.v1+json",
                                          **put(config)),
                           "layers": layers}).encode()
    md = put(manifest)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            dict(mediaType="application/vnd.oci.image.manifest.v1+json",
                 annotations={"org.opencontainers.image.ref.name": ref}, **md)]}, f)
    return md["digest"]


def tar_dir(src):
    """A tarball of a directory's content (an OCI layout as oci-archive would carry it)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name in sorted(os.listdir(src)):
            t.add(os.path.join(src, name), arcname=name)
    return buf.getvalue()


# ---- the helper

def tls_registry(work):
    """A registry on 127.0.0.1 over TLS with a certificate from a CA of its own: (registry,
    ca.pem). Loopback means plain http to sup unless a mirror URL says https."""
    d = tempfile.mkdtemp(prefix="tls-", dir=work)
    ca, cakey = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    crt, key, csr = (os.path.join(d, n) for n in ("srv.pem", "srv.key", "srv.csr"))
    ext = os.path.join(d, "ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=sup test CA", "-keyout", cakey, "-out", ca)
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", key, "-out", csr)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial",
        "-days", "2", "-extfile", ext, "-out", crt)
    reg = Registry(work, auth_yaml=f"  tls:\n    certificate: {crt}\n    key: {key}\n",
                   probe_scheme="https", ca=ca)
    return reg, ca


class Helper:
    """sup-image with a state dir of its own, run as supd runs it: JSON lines out."""

    def __init__(self, work, conf="", auth=None):
        self.state = tempfile.mkdtemp(prefix="state-", dir=work)
        self.conf = os.path.join(self.state, "supd.conf")
        with open(self.conf, "w") as f:
            f.write("[Images]\nRetryDelaySec=50ms\n" + conf)
        self.auth = auth

    @property
    def store(self):
        return os.path.join(self.state, "images")

    def cmd(self, *args):
        c = [SUP_IMAGE, "--state-dir", self.state, "--config", self.conf]
        if self.auth:
            c += ["--auth-file", self.auth]
        return c + list(args)

    def run(self, *args, stdin=None, timeout=120, **kw):
        r = subprocess.run(self.cmd(*args), capture_output=True, timeout=timeout, stdin=stdin,
                           **kw)
        events = [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
        check(events, f"sup-image {args}: no output; stderr: {r.stderr.decode()[-2000:]}")
        last = events[-1]
        check(last["type"] in ("result", "error"), f"last line is not a result: {last}")
        check((r.returncode == 0) == (last["type"] == "result"),
              f"exit {r.returncode} but {last}")
        return last, events

    def ok(self, *args, **kw):
        last, events = self.run(*args, **kw)
        check(last["type"] == "result", f"sup-image {args} failed: {last.get('message')}")
        return last, events

    def fails(self, *args, **kw):
        last, events = self.run(*args, **kw)
        check(last["type"] == "error", f"sup-image {args} should have failed: {last}")
        return last["message"]

    def refs(self):
        with open(os.path.join(self.store, "index.json")) as f:
            idx = json.load(f)
        return {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
                for m in idx["manifests"]}

    def blobs(self):
        return set(os.listdir(os.path.join(self.store, "blobs/sha256")))

    def layers(self):
        return {d for d in os.listdir(os.path.join(self.store, "layers"))
                if not d.startswith(".")}

    def partials(self):
        tmp = os.path.join(self.store, "tmp")
        return [f for f in os.listdir(tmp) if f.endswith(".partial")] if os.path.isdir(tmp) else []


class TokenIssuer:
    """A registry token issuer (the Docker Hub flow): RS256 JWTs with the certificate in x5c,
    signed by openssl. Users in `users` get pull+push; anonymous callers get pull on
    repositories not under private/."""

    def __init__(self, work, service, issuer, users):
        self.dir = tempfile.mkdtemp(prefix="tok-", dir=work)
        self.key = os.path.join(self.dir, "token.key")
        self.cert = os.path.join(self.dir, "token.crt")
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-subj", f"/CN={issuer}", "-keyout", self.key, "-out", self.cert)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.service, self.issuer, self.users = service, issuer, users
        self.requests = []
        self.port = free_port()
        issuer_self = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                issuer_self.handle(self)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.realm = f"http://127.0.0.1:{self.port}/token"

    def b64url(self, b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    def mint(self, sub, access):
        now = int(time.time())
        hdr = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": sub, "aud": self.service, "exp": now + 300,
                  "nbf": now - 5, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        si = self.b64url(json.dumps(hdr).encode()) + "." + self.b64url(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=si.encode(), capture_output=True, check=True).stdout
        return si + "." + self.b64url(sig)

    def handle(self, h):
        from urllib.parse import parse_qs, urlsplit
        q = parse_qs(urlsplit(h.path).query)
        user = None
        auth = h.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if self.users.get(u) != p:
                self.requests.append(("denied", q.get("scope", [""])[0]))
                return self.reply(h, 401, {"details": "wrong credentials"})
            user = u
        access = []
        for sc in q.get("scope", []):
            typ, _, rest = sc.partition(":")
            name, _, actions = rest.rpartition(":")
            if typ == "repository" and (user or not name.startswith("private/")):
                acts = actions.split(",")
                if not user:
                    acts = [a for a in acts if a == "pull"]
                access.append({"type": "repository", "name": name, "actions": acts})
        self.requests.append((user or "anonymous", ",".join(q.get("scope", []))))
        tok = self.mint(user or "", access)
        self.reply(h, 200, {"token": tok, "access_token": tok, "expires_in": 300})

    def reply(self, h, code, obj):
        body = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def registry_yaml(self):
        return f"""auth:
  token:
    realm: {self.realm}
    service: {self.service}
    issuer: {self.issuer}
    rootcertbundle: {self.cert}
"""

    def stop(self):
        self.srv.shutdown()


class FlakyProxy:
    """An HTTP proxy in front of a registry that misbehaves on purpose, to test the client's
    manners: `mode` per blob path on the first request ("429": Retry-After; "cut": half the
    body then a closed connection; "redirect": 307 to a second host); `ignore_range` answers
    Range requests with the whole blob (200). Records what every request carried."""

    def __init__(self, upstream, mode=None, ignore_range=False, storage=None):
        self.upstream, self.mode, self.ignore_range = upstream, mode, ignore_range
        self.storage = storage
        self.seen = set()
        self.forwarded = []  # requests that came as to a forward proxy
        self.log = []  # (host, method, path, range, authorization)
        self.srv = self._serve("127.0.0.1")
        self.port = self.srv.server_address[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.blob_srv = self._serve("127.0.0.2")  # "another host": blob storage
        self.blob_addr = f"127.0.0.2:{self.blob_srv.server_address[1]}"

    def _serve(self, host):
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                proxy.handle(self, host)

            def do_HEAD(self):
                proxy.handle(self, host)

        srv = http.server.ThreadingHTTPServer((host, 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    def handle(self, h, host):
        rng, auth = h.headers.get("Range"), h.headers.get("Authorization")
        self.log.append((host, h.command, h.path, rng, auth))
        if h.path.startswith("http://"):  # used as a forward proxy: the URL names the server
            rest = h.path[len("http://"):]
            self.forwarded.append(rest)
            h.path = "/" + rest.split("/", 1)[1]
        if host == "127.0.0.2":
            return self.serve_storage(h)
        first = "/blobs/" in h.path and h.path not in self.seen
        self.seen.add(h.path)
        if first and self.mode == "429":
            return self.reply(h, 429, b"slow down", {"Retry-After": "1"})
        if first and self.mode == "redirect":
            return self.reply(h, 307, b"", {"Location": f"http://{self.blob_addr}{h.path}"})
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() in ("accept", "authorization", "range")}
        if self.ignore_range:
            headers.pop("Range", None)
            headers.pop("range", None)
        req = urllib.request.Request(f"http://{self.upstream}{h.path}", headers=headers,
                                     method=h.command)
        try:
            r = urllib.request.urlopen(req, timeout=10)
            code, rh, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            code, rh, body = e.code, e.headers, e.read()
        keep = {k: v for k, v in rh.items() if k.lower() in (
            "content-type", "docker-content-digest", "www-authenticate", "content-range",
            "location", "docker-distribution-api-version")}
        if first and self.mode == "cut" and code == 200 and len(body) > 1000:
            h.send_response(code)
            for k, v in keep.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        self.reply(h, code, body if h.command != "HEAD" else b"", keep, len(body))

    def serve_storage(self, h):
        digest = h.path.rsplit("/", 1)[-1]
        hx = digest.split(":", 1)[1]
        p = os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hx[:2], hx, "data")
        with open(p, "rb") as f:
            self.reply(h, 200, f.read(), {"Content-Type": "application/octet-stream"})

    def reply(self, h, code, body, headers, length=None):
        h.send_response(code)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(length if length is not None else len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def stop(self):
        self.srv.shutdown()
        self.blob_srv.shutdown()
