#!/usr/bin/env python3
"""Image pull + unpack: `sudo tests/bench/images_bench.py`.

Builds a multi-layer image of ~100 MiB uncompressed with umoci (busybox; a tree of many small
files copied from /usr/share; shared libraries from /usr/lib; incompressible random files),
pushes it to Debian's docker-registry on 127.0.0.1 (a free port, a temp storage dir), and in
the same run, RUNS times (default 3), alternating:

  a. `sup-image pull` into an empty store (download, verify, sandboxed unpack, one syncfs per
     layer), wall time and the helper's peak RSS (wait4 ru_maxrss: it and its unpacker child);
  b. `skopeo copy docker://... oci:DIR:tag` + `umoci unpack` into an empty directory, the pair
     that does the same job with the usual tools, wall time;
  c. unpack alone: sup-image pull again with the blobs already in the store but the unpacked
     layers removed (layers unpacked in parallel, the default, and one at a time with
     ConcurrentUnpacks=1), against `tar -xf` of the same layer blobs one after the other (GNU
     tar, --numeric-owner, same filesystem) followed by `sync -f`, since sup syncs too.

  d. supd's own memory during `supctl pull` of the same image into an empty store (supd runs
     the helper as a child and only relays its lines): supd's VmRSS sampled every 20 ms, and
     its VmHWM (peak RSS) before and after the pull, each run.

Prints a markdown table on stdout, progress on stderr. SUP_IMAGE points at the helper
(default: $BUILD_DIR, then build/ of this tree); supd and supctl are found beside it. Everything runs on 127.0.0.1 and is removed.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
from imgfix import Registry, busybox_layer, run, umoci_image  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def note(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def find_helper():
    if os.environ.get("SUP_IMAGE"):
        return os.path.abspath(os.environ["SUP_IMAGE"])
    for d in ([os.environ["BUILD_DIR"]] if os.environ.get("BUILD_DIR") else []) + \
            [os.path.join(ROOT, "build")]:
        p = os.path.join(d, "images/sup-image")
        if os.path.exists(p):
            return p
    sys.exit("sup-image not found: build first or set SUP_IMAGE")


def copy_tree_layer(src_dirs, limit):
    """Copy regular files from src_dirs until limit bytes: a layer of many small files."""
    def change(root):
        total = 0
        for src in src_dirs:
            for dirpath, _, files in os.walk(src):
                for f in files:
                    p = os.path.join(dirpath, f)
                    if not os.path.isfile(p) or os.path.islink(p):
                        continue
                    dst = os.path.join(root, os.path.relpath(p, "/"))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy2(p, dst)
                    total += os.path.getsize(p)
                    if total >= limit:
                        return
    return change


def random_files(n, size):
    def change(root):
        os.makedirs(os.path.join(root, "data"), exist_ok=True)
        for i in range(n):
            with open(os.path.join(root, f"data/blob{i}"), "wb") as f:
                f.write(os.urandom(size))
    return change


def timed(cmd, **kw):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out, err = p.communicate()
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {err.decode()[-2000:]} {out.decode()[-2000:]}")
    return wall, out


def peak_rss_kib(cmd):
    """Run cmd; its wall time and peak RSS (KiB, it and every descendant it waited for)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{cmd} failed: {p.stderr.read().decode()[-2000:]}")
    return wall, ru.ru_maxrss


def du(path):
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def build(work):
    layout = os.path.join(work, "oci")
    note("building the image (umoci)...")
    umoci_image(layout, "bench", [
        busybox_layer,
        copy_tree_layer(["/usr/share/doc", "/usr/share/man", "/usr/share/locale"], 35 << 20),
        copy_tree_layer(["/usr/lib/x86_64-linux-gnu"], 30 << 20),
        random_files(6, 5 << 20),
    ])
    return layout


def main():
    if os.geteuid() != 0:
        sys.exit("run as root (umoci unpack and the unpacker keep ownership)")
    helper = find_helper()
    work = tempfile.mkdtemp(prefix="sup-images-bench-", dir=os.environ.get("BENCH_DIR"))
    reg = Registry(work)
    try:
        layout = build(work)
        reg.push(f"oci:{layout}:bench", "bench/image:1")
        ref = f"{reg.addr}/bench/image:1"
        manifest = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false",
                                  f"docker://{ref}"))
        layers = manifest["layers"]
        comp = sum(layer["size"] for layer in layers)
        rows = measure(helper, reg, ref, layers, work)
        rows.update(supd_rss(helper, ref, work))
        report(rows, len(layers), comp, work)
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


def measure(helper, reg, ref, layers, work):
    res = {k: [] for k in ("sup", "rss", "pair", "skopeo", "umoci", "unpack", "unpack1", "tar",
                           "tar_nosync")}
    for i in range(RUNS):
        st = os.path.join(work, f"state{i}")
        cmd = [helper, "--state-dir", st, "--config", "/dev/null", "pull", ref]
        wall, rss = peak_rss_kib(cmd)
        res["sup"].append(wall)
        res["rss"].append(rss)
        note(f"run {i}: sup-image pull {wall:.2f}s, peak RSS {rss} KiB")
        oci, bundle = os.path.join(work, f"sk{i}"), os.path.join(work, f"bundle{i}")
        t1, _ = timed(["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
                       f"docker://{ref}", f"oci:{oci}:x"])
        t2, _ = timed(["umoci", "unpack", "--image", f"{oci}:x", bundle])
        res["skopeo"].append(t1)
        res["umoci"].append(t2)
        res["pair"].append(t1 + t2)
        note(f"run {i}: skopeo copy {t1:.2f}s + umoci unpack {t2:.2f}s")
        # unpack alone: blobs present, layers gone
        store = os.path.join(st, "images")
        for d in ("layers", "l"):
            shutil.rmtree(os.path.join(store, d))
        t3, _ = timed(cmd)
        res["unpack"].append(t3)
        # and one layer at a time, as tar does below
        for d in ("layers", "l"):
            shutil.rmtree(os.path.join(store, d))
        t4, _ = timed(cmd[:1] + ["--set", "ConcurrentUnpacks=1"] + cmd[1:])
        res["unpack1"].append(t4)
        tdir = os.path.join(work, f"tar{i}")
        ts = []
        for j, layer in enumerate(layers):
            d = os.path.join(tdir, str(j))
            os.makedirs(d)
            blob = os.path.join(store, "blobs/sha256", layer["digest"][7:])
            t0 = time.monotonic()
            subprocess.run(["tar", "-xf", blob, "-C", d, "--numeric-owner"], check=True)
            ts.append(time.monotonic() - t0)
        t0 = time.monotonic()
        subprocess.run(["sync", "-f", tdir], check=True)
        res["tar_nosync"].append(sum(ts))
        res["tar"].append(sum(ts) + time.monotonic() - t0)
        note(f"run {i}: unpack only: sup {t3:.2f}s (one at a time {t4:.2f}s), "
             f"tar -x {sum(ts):.2f}s (+sync {res['tar'][-1]:.2f}s)")
        res["uncompressed"] = du(os.path.join(store, "layers"))
        for p in (st, oci, bundle, tdir):
            shutil.rmtree(p, ignore_errors=True)
    return res


def proc_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def supd_rss(helper, ref, work):
    """supd's RSS before, during (sampled) and after `supctl pull` into an empty store."""
    build = os.path.dirname(os.path.dirname(helper))
    supd, supctl = os.path.join(build, "supd"), os.path.join(build, "supctl")
    res = {"supd_before": [], "supd_during": [], "supd_after": [], "supd_hwm": [],
           "supd_hwm_before": []}
    for i in range(RUNS):
        d = tempfile.mkdtemp(prefix="supd-", dir=work)
        units, sock = os.path.join(d, "units"), os.path.join(d, "supd.sock")
        os.makedirs(units)
        log = open(os.path.join(d, "supd.log"), "wb")
        p = subprocess.Popen([supd, "--units", units, "--state-dir", os.path.join(d, "state"),
                              "--run-dir", os.path.join(d, "run"), "--socket", sock,
                              "--config", "/dev/null", "--image-helper", helper],
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while subprocess.run([supctl, "--socket", sock, "version"],
                                 capture_output=True).returncode != 0:
                if time.monotonic() > deadline or p.poll() is not None:
                    raise SystemExit("supd did not come up")
                time.sleep(0.05)
            before, hwm0 = proc_kib(p.pid, "VmRSS"), proc_kib(p.pid, "VmHWM")
            peak, done = [before], threading.Event()

            def sample():
                while not done.is_set():
                    peak.append(proc_kib(p.pid, "VmRSS"))
                    time.sleep(0.02)
            t = threading.Thread(target=sample)
            t.start()
            timed([supctl, "--socket", sock, "pull", ref])
            done.set()
            t.join()
            after, hwm = proc_kib(p.pid, "VmRSS"), proc_kib(p.pid, "VmHWM")
            note(f"run {i}: supd RSS {before} KiB before, {max(peak)} KiB at most during the "
                 f"pull ({len(peak)} samples), {after} KiB after; VmHWM {hwm0} -> {hwm} KiB")
            for k, v in (("supd_before", before), ("supd_during", max(peak)),
                         ("supd_after", after), ("supd_hwm", hwm), ("supd_hwm_before", hwm0)):
                res[k].append(v)
        finally:
            p.terminate()
            p.wait(30)
            log.close()
            shutil.rmtree(d, ignore_errors=True)
    return res


def report(r, n_layers, comp, work):
    med = {k: statistics.median(v) for k, v in r.items() if isinstance(v, list)}
    mib = r["uncompressed"] / (1 << 20)
    print(f"Image: {n_layers} layers, {comp / (1 << 20):.1f} MiB compressed (gzip), "
          f"{mib:.1f} MiB unpacked; registry on 127.0.0.1; median of {RUNS} runs.\n")
    print("| measurement | sup | peer | ratio |")
    print("|---|---|---|---|")
    print(f"| pull + unpack into an empty store | {med['sup']:.2f} s | skopeo copy + umoci "
          f"unpack: {med['pair']:.2f} s ({med['skopeo']:.2f} + {med['umoci']:.2f}) | "
          f"{med['pair'] / med['sup']:.2f}x faster |")
    print(f"| unpack only (same layer blobs) | {med['unpack']:.2f} s = "
          f"{mib / med['unpack']:.0f} MiB/s | tar -x + sync -f: {med['tar']:.2f} s = "
          f"{mib / med['tar']:.0f} MiB/s (without sync {med['tar_nosync']:.2f} s) | "
          f"{med['unpack'] / med['tar']:.2f}x tar's time |")
    print(f"| unpack only, one layer at a time (ConcurrentUnpacks=1) | {med['unpack1']:.2f} s = "
          f"{mib / med['unpack1']:.0f} MiB/s | (tar as above) | "
          f"{med['unpack1'] / med['tar']:.2f}x tar's time |")
    print(f"| helper peak RSS during the pull | {max(r['rss']) / 1024:.1f} MiB | | |")
    print(f"| supd RSS during `supctl pull` (max of {RUNS} runs) | before "
          f"{max(r['supd_before']) / 1024:.1f} MiB, at most {max(r['supd_during']) / 1024:.1f} "
          f"MiB during, {max(r['supd_after']) / 1024:.1f} MiB after; peak (VmHWM) "
          f"{max(r['supd_hwm_before']) / 1024:.1f} -> {max(r['supd_hwm']) / 1024:.1f} MiB | | "
          f"+{(max(r['supd_hwm']) - max(r['supd_hwm_before'])) / 1024:.2f} MiB |")


if __name__ == "__main__":
    main()
