"""The optional HTTP /metrics listener: [Metrics] Listen=ADDR:PORT (docs/metrics.md).

supd runs in its own pid+mount namespace but the host's network namespace: each test picks a
free port on 127.0.0.1 by binding port 0 first.
"""

import os
import shutil
import socket
import subprocess
import time

from harness import IN_CI, Fail, Supd, check, retry, run_tests

SPEC_METRICS = [
    "sup_unit_state", "sup_unit_restarts_total", "sup_unit_cpu_usage_seconds_total",
    "sup_unit_memory_current_bytes", "sup_unit_memory_peak_bytes", "sup_unit_pids_current",
    "sup_unit_io_read_bytes_total", "sup_unit_io_write_bytes_total", "sup_unit_oom_kills_total",
]
BUSY = "[Service]\nExec=/bin/sh -c 'while :; do :; done'\n"
SLEEP = "[Service]\nExec=/bin/sleep 1000\n"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics_supd(units, port=None):
    port = port or free_port()
    s = Supd(units, config=f"[Metrics]\nListen=127.0.0.1:{port}\n")
    s.port = port
    return s


def request(port, raw, timeout=10):
    """Send raw bytes, read until the server closes; (status code, headers dict, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(raw)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    check(lines[0].startswith("HTTP/1."), f"status line: {lines[0]!r}")
    code = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        check(int(headers["content-length"]) == len(body) or raw.startswith(b"HEAD"),
              f"Content-Length {headers['content-length']} != {len(body)}")
    return code, headers, body


def scrape(port):
    code, headers, body = request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check(code == 200, f"GET /metrics: {code} {body[:200]!r}")
    return headers, body.decode()


def wait_wanted(s, names, *states, timeout=15):
    def ok():
        st = s.status()
        return all(st[n]["state"] in states for n in names)
    retry(ok, timeout=timeout, what=f"{names} in {states}")


def test_scrape_has_spec_metrics_and_promtool_accepts():
    with metrics_supd({"busy": BUSY}) as s:
        s.wait_state("busy", "running", timeout=10)

        def cpu_nonzero():
            _, text = scrape(s.port)
            for line in text.splitlines():
                if line.startswith('sup_unit_cpu_usage_seconds_total{unit="busy"}'):
                    return text if float(line.split()[-1]) > 0 else None
            return None
        text = retry(cpu_nonzero, timeout=10, what="non-zero CPU for the busy unit")
        headers, _ = scrape(s.port)
        check(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
              f"content type: {headers}")
        check(headers.get("connection") == "close", f"Connection: close: {headers}")
        for name in SPEC_METRICS:
            check(f"# HELP {name} " in text and f"# TYPE {name} " in text, f"{name} in {text}")
            check(f'{name}{{unit="busy"' in text, f"{name} sample for busy")
        check('sup_unit_state{unit="busy",state="running"} 1' in text, "state running = 1")
        # the same exposition as supctl metrics (figures move between the two reads)
        ctl = s.ctl_ok("metrics").stdout
        names = lambda t: [l.split("{")[0] for l in t.splitlines()]
        check(names(ctl) == names(text), "same series as `supctl metrics`")
        # HTTP/1.0 and HEAD
        code, h10, body = request(s.port, b"GET /metrics HTTP/1.0\r\n\r\n")
        check(code == 200 and b"sup_unit_state" in body, f"HTTP/1.0: {code}")
        code, hh, body = request(s.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        check(code == 200 and body == b"" and int(hh["content-length"]) > 0, f"HEAD: {code} {hh}")
        promtool = shutil.which("promtool")
        if not promtool:
            if IN_CI:
                raise Fail("promtool missing (scripts/deps.sh installs prometheus)")
            print("note: promtool not installed; metrics format not checked")
            return
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 0, f"promtool: {r.stdout}{r.stderr}")


def test_errors_404_405_400():
    with metrics_supd({"idle": SLEEP}) as s:
        cases = [
            (b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 404),
            (b"GET /metricsx HTTP/1.1\r\n\r\n", 404),
            (b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405),
            (b"DELETE /metrics HTTP/1.0\r\n\r\n", 405),
            (b"garbage\r\n\r\n", 400),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS ClientHello
            (b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", 400),
            (b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
            (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
            (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
        ]
        for raw, want in cases:
            code, headers, _ = request(s.port, raw)
            check(code == want, f"{raw[:40]!r}: {code}, want {want}")
            check(headers.get("connection") == "close", f"{raw[:40]!r}: Connection: close")
            if want == 405:
                check("GET" in headers.get("allow", ""), f"405 has Allow: {headers}")
        scrape(s.port)  # still serving


def test_landing_page_links_to_metrics():
    with metrics_supd({"idle": SLEEP}) as s:
        code, headers, body = request(s.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        check(code == 200 and headers.get("content-type", "").startswith("text/html"),
              f"GET /: {code} {headers}")
        check(b'href="/metrics"' in body, f"landing page links /metrics: {body!r}")


LIMITED = ("[Service]\nExec=/bin/sh -c 'while :; do :; done'\n"
           "MemoryMax=64M\nMemoryHigh=48M\nPidsMax=50\nCPUQuota=20%\n")


def sample(text, name, unit):
    for line in text.splitlines():
        if line.startswith(f'{name}{{unit="{unit}"'):
            return float(line.split()[-1])
    return None


def test_limits_throttling_and_exit_series():
    """What `stats` reads is exported too: limits, user/system CPU, throttling, start time,
    last exit code, build info."""
    units = {"lim": LIMITED, "quit": "[Service]\nExec=/bin/sh -c 'exit 3'\nRestart=no\n"}
    with metrics_supd(units) as s:
        s.wait_state("lim", "running", timeout=10)
        s.wait_state("quit", "failed", timeout=10)
        text = retry(lambda: (lambda t: t if (sample(t, "sup_unit_cpu_throttled_periods_total",
                                                      "lim") or 0) > 0 else None)(scrape(s.port)[1]),
                     timeout=20, what="throttled periods for a unit at CPUQuota=20%")
        want = {
            "sup_unit_memory_max_bytes": 64 << 20,
            "sup_unit_memory_high_bytes": 48 << 20,
            "sup_unit_pids_max": 50,
            "sup_unit_cpu_quota_cores": 0.2,
        }
        for name, value in want.items():
            got = sample(text, name, "lim")
            check(got is not None and abs(got - value) < 1e-6, f"{name}: {got}, want {value}")
        for name in ("sup_unit_cpu_user_seconds_total", "sup_unit_cpu_system_seconds_total",
                     "sup_unit_cpu_throttled_seconds_total", "sup_unit_io_read_ops_total",
                     "sup_unit_io_write_ops_total"):
            check(sample(text, name, "lim") is not None, f"{name} for lim")
        start = sample(text, "sup_unit_start_time_seconds", "lim")
        check(start is not None and abs(start - time.time()) < 300, f"start time {start}")
        check(sample(text, "sup_unit_last_exit_code", "quit") == 3, "last exit code 3")
        check(sample(text, "sup_unit_memory_max_bytes", "quit") is None,
              "no limit series where no limit is set")
        check(f'sup_build_info{{version="' in text, "sup_build_info")
        promtool = shutil.which("promtool")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=30)
            check(r.returncode == 0, f"promtool: {r.stdout}{r.stderr}")


def supd_fds(s):
    return len(os.listdir(f"/proc/{s.supd_pid()}/fd"))


def test_silent_and_stuck_clients_do_not_block():
    with metrics_supd({"idle": SLEEP}) as s:
        s.wait_state("idle", "running", timeout=10)
        base = supd_fds(s)
        # a client that connects and sends nothing, one that sends half a request
        silent = socket.create_connection(("127.0.0.1", s.port))
        half = socket.create_connection(("127.0.0.1", s.port))
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost:")
        t0 = time.monotonic()
        r = s.ctl_ok("status", timeout=5)
        check(time.monotonic() - t0 < 2, "supctl status answers at once")
        check("idle" in r.stdout, "status lists the unit")
        scrape(s.port)  # other scrapes are served meanwhile
        # the 5 s read timeout closes both (a 408 at most)
        for c in (silent, half):
            c.settimeout(10)
            data = b""
            t1 = time.monotonic()
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            check(time.monotonic() - t0 < 9, f"closed after the read timeout ({time.monotonic() - t1:.1f}s)")
            check(data == b"" or data.startswith(b"HTTP/1.1 408"), f"timeout reply {data!r}")
            c.close()
        retry(lambda: supd_fds(s) <= base, timeout=5, what="supd's fds back to the baseline")


def test_client_not_reading_reply_is_cut_off():
    # a reply of ~100 KiB (90 units) that the client never reads
    units = {f"u{i:02d}": SLEEP for i in range(90)}
    with metrics_supd(units) as s:
        wait_wanted(s, units, "running", timeout=30)
        scrape(s.port)  # supd keeps each unit's stat files open from the first read on
        base = supd_fds(s)
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", s.port))
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        t0 = time.monotonic()
        check(s.ctl("status", timeout=5).returncode == 0, "status while a reply is stuck")
        # the reply (~70 KB) is more than the capped socket buffers hold: supd cuts the
        # client off after the write stall timeout (5 s)
        retry(lambda: supd_fds(s) <= base, timeout=12, what="the stuck client to be dropped")
        check(time.monotonic() - t0 < 12, "dropped in time")
        retry(lambda: "the peer read nothing for 5 s; cut off" in s.log(), timeout=5,
              what="the cut-off in supd's log")
        full = len(scrape(s.port)[1])
        got, reset = 0, False
        c.settimeout(5)
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            reset = True
        c.close()
        check(reset and got < full, f"the stuck client got {got} of {full} bytes, then a reset")


def test_connection_limit():
    with metrics_supd({"idle": SLEEP}) as s:
        conns = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(64)]
        time.sleep(0.3)  # let supd accept them all
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        data = b""
        while True:
            chunk = extra.recv(4096)
            if not chunk:
                break
            data += chunk
        check(data.startswith(b"HTTP/1.1 503"), f"the 65th connection gets a 503: {data!r}")
        extra.close()
        check(s.ctl("status", timeout=5).returncode == 0, "status with 64 idle connections")
        for c in conns:
            c.close()
        retry(lambda: request(s.port, b"GET /metrics HTTP/1.0\r\n\r\n")[0] == 200, timeout=5,
              what="serving again once the idle connections are gone")


def test_100_sequential_scrapes():
    with metrics_supd({"busy": BUSY, "idle": SLEEP}) as s:
        s.wait_state("busy", "running", timeout=10)
        t0 = time.monotonic()
        for i in range(100):
            _, text = scrape(s.port)
            check('sup_unit_state{unit="busy",state="running"} 1' in text, f"scrape {i}")
        took = time.monotonic() - t0
        print(f"  100 scrapes in {took:.2f}s")
        check(took < 20, f"100 scrapes took {took:.1f}s")
        check(s.ctl("status", timeout=5).returncode == 0, "supd still answers")


def test_ipv6_listen():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as t:
            t.bind(("::1", 0))
            port = t.getsockname()[1]
    except OSError:
        print("note: no IPv6 loopback here; [::1] not tested")
        return
    with Supd({"idle": SLEEP}, config=f"[Metrics]\nListen=[::1]:{port}\n") as s:
        s.wait_state("idle", "running", timeout=10)
        with socket.create_connection(("::1", port), timeout=10) as c:
            c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        check(data.startswith(b"HTTP/1.0 200") and b'sup_unit_state{unit="idle"' in data,
              f"[::1] scrape: {data[:200]!r}")


def test_bad_listen_address_leaves_supd_running():
    with Supd({"idle": SLEEP}, config="[Metrics]\nListen=not-an-address\n") as s:
        s.wait_state("idle", "running", timeout=10)
        retry(lambda: "no metrics listener" in s.log(), timeout=5, what="the error in the log")


def test_off_by_default():
    port = free_port()
    with Supd({"idle": SLEEP}) as s:
        s.wait_state("idle", "running", timeout=10)
        with socket.socket() as c:
            try:
                c.connect(("127.0.0.1", port))
                raise Fail("something listens without [Metrics] Listen=")
            except ConnectionRefusedError:
                pass
        check("metrics: serving" not in s.log(), "no listener logged")


if __name__ == "__main__":
    run_tests([
        test_scrape_has_spec_metrics_and_promtool_accepts,
        test_errors_404_405_400,
        test_landing_page_links_to_metrics,
        test_limits_throttling_and_exit_series,
        test_silent_and_stuck_clients_do_not_block,
        test_client_not_reading_reply_is_cut_off,
        test_connection_limit,
        test_100_sequential_scrapes,
        test_ipv6_listen,
        test_bad_listen_address_leaves_supd_running,
        test_off_by_default,
    ])
