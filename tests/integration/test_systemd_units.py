"""Coming from systemd: the seven real units of issue 10 (tests/units-systemd/, as Debian ships
them) under `supd --check`.

As they are, each unit's errors must be exactly those that the edits below address; with the
edits, every unit loads (warnings only). Each edit is one of the kinds docs/units.md lists under
"Edits a real unit may need", and the key it touches is in docs/units.md's table. When the
runtime of a pending key lands (units/unit_pending.c), its "pending" edits go away here.
"""

import os
import re
import shutil
import subprocess
import tempfile

from harness import SUPD, Supd, check, retry, run_tests

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.environ.get("SUP_TESTS", os.path.dirname(HERE))
UNITS = os.path.join(TESTS, "units-systemd")
DOCS = os.path.join(os.path.dirname(TESTS), "docs", "units.md")

# The kinds of edit docs/units.md documents (section "Edits a real unit may need").
KINDS = {
    "pending": "a key sup parses but does not act on yet: drop it until the runtime lands",
    "sandboxing": "a sandboxing key: drop it until [Container] maps it, or move to [Container]",
    "refused": "a key whose behaviour sup does not have: drop it, knowing what changes",
    "socket": "socket activation: let the daemon listen itself",
    "shell": "$VAR expansion: run it through a shell until the spawner expands it",
    "foreground": "Type=forking: start the daemon in the foreground (Type=simple)",
}

SANDBOX_PROMETHEUS = [
    "CapabilityBoundingSet", "DeviceAllow", "DevicePolicy", "LockPersonality",
    "MemoryDenyWriteExecute", "NoNewPrivileges", "PrivateDevices", "PrivateTmp", "PrivateUsers",
    "ProtectControlGroups", "ProtectHome", "ProtectKernelModules", "ProtectKernelTunables",
    "ProtectSystem", "RemoveIPC", "RestrictNamespaces", "RestrictRealtime",
    "SystemCallArchitectures",
]
SANDBOX_REDIS = [
    "PrivateTmp", "PrivateDevices", "ProtectHome", "ProtectSystem", "ReadWritePaths",
    "CapabilityBoundingSet", "LockPersonality", "MemoryDenyWriteExecute", "NoNewPrivileges",
    "PrivateUsers", "ProtectClock", "ProtectControlGroups", "ProtectHostname", "ProtectKernelLogs",
    "ProtectKernelModules", "ProtectKernelTunables", "ProtectProc", "RemoveIPC",
    "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
    "SystemCallArchitectures", "SystemCallFilter", "ReadWriteDirectories", "NoExecPaths",
    "ExecPaths",
]

# file -> edits: ("drop", KEY, kind) drops every KEY= line; ("sub", KEY, OLD, NEW, kind) replaces
# OLD by NEW in the KEY= line(s).
EDITS = {
    "docker-registry.service": [],
    "prometheus.service": [
        ("drop", "SendSIGKILL", "refused"),
    ] + [("drop", k, "sandboxing") for k in SANDBOX_PROMETHEUS],
    "postgresql@.service": [
        ("drop", "ReloadPropagatedFrom", "refused"),
        ("drop", "SyslogIdentifier", "pending"),
    ],
    "dbus.service": [
        ("drop", "Requires", "socket"),
        ("sub", "ExecStart", "--address=systemd: ", "--address=unix:path=/run/dbus/system_bus_socket ",
         "socket"),
        ("sub", "ExecStart", " --systemd-activation", "", "socket"),
    ],
    "nftables.service": [
        ("drop", "ProtectSystem", "sandboxing"),
        ("drop", "ProtectHome", "sandboxing"),
    ],
    "nginx.service": [],
    "redis-server.service": [] + [("drop", k, "sandboxing") for k in SANDBOX_REDIS],
}


def edit(text, edits):
    lines = text.splitlines(keepends=True)
    for e in edits:
        key = e[1]
        touched = [i for i, l in enumerate(lines) if l.startswith(key + "=")]
        check(touched, f"edit of {key}=: no such line")
        for i in touched:
            if e[0] == "drop":
                lines[i] = ""
            else:
                check(e[2] in lines[i], f"edit of {key}=: '{e[2]}' not in {lines[i]!r}")
                lines[i] = lines[i].replace(e[2], e[3])
    return "".join(lines)


def supd_check(d):
    return subprocess.run([SUPD, "--check", d], capture_output=True, text=True, timeout=30)


# "PATH:LINE: error: KEY: what" (gcc's shape)
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<sev>error|warning): (?P<key>[^:]+): ")


def problems(out):
    found = []
    for l in out.splitlines()[:-1]:
        m = LINE.match(l)
        check(m, f"not PATH:LINE: SEVERITY: KEY: ...: {l!r}")
        found.append((os.path.basename(m["path"]), m["sev"], m["key"], l))
    return found


def copy_units(dst):
    for f in EDITS:
        shutil.copy(os.path.join(UNITS, f), dst)


def test_every_file_is_covered():
    """The seven files are there, and the edits only name documented kinds and keys."""
    present = sorted(f for f in os.listdir(UNITS) if f.endswith(".service"))
    check(present == sorted(EDITS), f"units-systemd holds {present}")
    docs = open(DOCS).read()
    for f, edits in EDITS.items():
        for e in edits:
            check(e[-1] in KINDS, f"{f}: {e}: undocumented kind of edit")
            check(f"`{e[1]}=`" in docs, f"{f}: {e[1]}= is not in docs/units.md's table")
    for kind in KINDS:
        check(f"({kind})" in docs, f"docs/units.md does not explain the edit kind '{kind}'")


def test_as_shipped():
    """Unedited: errors, each addressed by one of the file's edits; one problem a line."""
    d = tempfile.mkdtemp(prefix="sup-units-systemd-")
    try:
        copy_units(d)
        r = supd_check(d)
        check(r.returncode == 1, f"exit {r.returncode}: {r.stdout}{r.stderr}")
        check(r.stdout.splitlines()[-1] ==
              f"{d}: 6 units and 1 template checked: 4 bad; 45 errors, 27 warnings",
              f"summary: {r.stdout.splitlines()[-1]}")
        found = problems(r.stdout)
        for f, edits in EDITS.items():
            keys = {e[1] for e in edits}
            errors = {p[2] for p in found if p[0] == f and p[1] == "error"}
            check(errors <= keys, f"{f}: errors no edit addresses: {errors - keys}")
            check(bool(errors) == bool(edits), f"{f}: edits without errors: {keys}")
        for _, sev, key, l in found:
            if sev == "error":
                check(re.search(r"not (yet )?supported|no socket units", l),
                      f"an error that does not say why: {l}")
    finally:
        shutil.rmtree(d)


def test_with_documented_edits():
    """With the edits: every unit (and the template) loads; what is left are warnings."""
    d = tempfile.mkdtemp(prefix="sup-units-systemd-")
    try:
        for f, edits in EDITS.items():
            with open(os.path.join(UNITS, f)) as src, open(os.path.join(d, f), "w") as dst:
                dst.write(edit(src.read(), edits))
        r = supd_check(d)
        check(r.returncode == 0, f"exit {r.returncode}:\n{r.stdout}{r.stderr}")
        last = r.stdout.splitlines()[-1]
        check(re.fullmatch(rf"{re.escape(d)}: 6 units and 1 template checked: 0 bad; 0 errors, "
                           r"\d+ warnings", last), f"summary: {last}")
        warned = {(p[0], p[2]) for p in problems(r.stdout)}
        for want in [("prometheus.service", "Documentation"), ("nginx.service", "After"),
                     ("docker-registry.service", "WantedBy"), ("nftables.service", "Conflicts"),
                     ("postgresql@.service", "RequiresMountsFor"),
                     ("redis-server.service", "PIDFile")]:
            check(want in warned, f"no warning {want}: {warned}")
    finally:
        shutil.rmtree(d)


def test_service_files_run():
    """NAME.service files run as unit NAME under supd, and an instance named by a unit is made
    from its template: what --check accepts, supd runs."""
    s = Supd()
    files = {
        "web.service": "[Unit]\nDescription=web\nDocumentation=man:web(8)\n"
                       "After=network.target\n[Service]\nExecStart=/bin/sleep 1000\n"
                       "KillSignal=SIGTERM\nTimeoutStopSec=5\n[Install]\nWantedBy=multi-user.target\n",
        "greeter@.service": "[Unit]\nDescription=greets %I\n[Service]\nType=oneshot\n"
                            "ExecStart=/bin/sh -c 'echo hello %i > \"$T/%i\"'\n",
        "app.unit": "[Unit]\nRequires=greeter@world.service web.service\n"
                    "After=greeter@world.service web.service\n[Service]\nExec=/bin/sleep 1001\n",
    }
    for name, text in files.items():
        with open(os.path.join(s.units, name), "w") as f:
            f.write(text)
    r = supd_check(s.units)
    check(r.returncode == 0, f"--check: {r.stdout}")
    with s:
        s.wait_state("app", "running")
        st = s.status()
        check(sorted(st) == ["app", "greeter@world", "web"], f"units: {sorted(st)}")
        check(st["web"]["state"] == "running", f"web: {st['web']}")
        check(st["greeter@world"]["state"] == "exited", f"instance: {st['greeter@world']}")
        got = retry(lambda: open(os.path.join(s.dir, "world")).read(), what="the greeting")
        check(got == "hello world\n", repr(got))


def test_check_usage():
    """--check of a directory that is not there: exit 2, one line saying so."""
    r = supd_check("/nonexistent/units")
    check(r.returncode == 2, f"exit {r.returncode}")
    check(r.stdout == "open units directory /nonexistent/units: No such file or directory\n",
          repr(r.stdout))


if __name__ == "__main__":
    run_tests([test_every_file_is_covered, test_as_shipped, test_with_documented_edits,
               test_service_files_run, test_check_usage])
