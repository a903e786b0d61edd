"""Coming from systemd: what each supported key does, as a user would see it (units written as
NAME.service, with systemd's spellings): the control commands and their order, $MAINPID,
Type=forking with PIDFile=, RemainAfterExit=, KillMode=, exit statuses, Restart= modes,
conditions, the process settings (Limit*=, UMask=, Nice=, OOMScoreAdjust=, IgnoreSIGPIPE=),
RuntimeDirectory=/StateDirectory=, $VAR expansion, and the extra dependency keys.
"""

import os
import shutil
import signal
import time

from harness import Supd, check, procs_matching, retry, run_tests


def service(s, name, text):
    with open(os.path.join(s.units, name + ".service"), "w") as f:
        f.write(text)


def lines(s, name):
    try:
        with open(os.path.join(s.dir, name)) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def start_with(units):
    s = Supd()
    for name, text in units.items():
        service(s, name, text)
    return s


def test_start_pre_post_stop_order():
    text = """[Service]
ExecStartPre=/bin/sh -c 'echo pre1 >> "$T/order"'
ExecStartPre=-/bin/false
ExecStartPre=/bin/sh -c 'echo pre2 >> "$T/order"'
ExecStart=/bin/sh -c 'echo main >> "$T/order"; exec sleep 1000'
ExecStartPost=/bin/sh -c 'echo post >> "$T/order"'
ExecStop=/bin/sh -c 'echo "stop $MAINPID" >> "$T/order"; kill $MAINPID'
ExecStopPost=/bin/sh -c 'echo stoppost >> "$T/order"'
"""
    with start_with({"a": text}) as s:
        st = s.wait_state("a", "running")
        order = retry(lambda: lines(s, "order")[:4] == ["pre1", "pre2", "main", "post"]
                      and lines(s, "order"), timeout=30, what="pre, main, post")
        s.ctl_ok("stop", "a", timeout=20)
        got = " ".join(lines(s, "order"))
        check(got == f"pre1 pre2 main post stop {st['pid']} stoppost",
              f"the commands ran in order, ExecStop= saw $MAINPID: {got} (main {st['pid']})")
        check(s.status("a")["state"] == "inactive", "stopped")


def test_start_pre_failure_fails_the_start():
    text = """[Service]
ExecStartPre=/bin/sh -c 'exit 3'
ExecStart=/bin/sleep 1000
Restart=no
"""
    with start_with({"p": text}) as s:
        st = s.wait_state("p", "failed")
        check(st["error"] == "ExecStartPre /bin/sh failed: exit code 3", f"error: {st['error']}")
        check(st["pid"] == 0, "the main process never ran")


def test_forking_with_pid_file():
    # a path of this test's own: several runs of the suite may share the machine's /run
    pid_file = f"/run/sup-test-forking-{os.getpid()}.pid"
    text = f"""[Service]
Type=forking
PIDFile={pid_file}
ExecStart=/bin/sh -c 'sleep 1000.{os.getpid()} & echo $! > {pid_file}'
"""
    with start_with({"daemon": text}) as s:
        st = s.wait_state("daemon", "running", timeout=30)
        pid = int(open(pid_file).read())
        # the pid in status is supd's namespace's; the daemon is the only sleep there
        check(st["pid"] > 1, f"a main process: {st}")
        check("main process" in s.ctl_ok("logs", "daemon").stdout, "adoption noted")
        os.kill(procs_matching(f"sleep 1000.{os.getpid()}")[0], signal.SIGKILL)
        st = s.wait_state("daemon", "restarting", "starting", "running", timeout=30)
        os.unlink(pid_file)
        check(pid > 0, "the pid file had a pid")


def test_remain_after_exit_and_exec_stop():
    text = """[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'touch "$T/loaded"'
ExecStop=/bin/sh -c 'touch "$T/flushed"'
"""
    with start_with({"fw": text}) as s:
        st = s.wait_state("fw", "exited")
        check(os.path.exists(os.path.join(s.dir, "loaded")), "ran")
        r = s.ctl("is-active", "fw")
        s.ctl_ok("stop", "fw", timeout=20)
        check(os.path.exists(os.path.join(s.dir, "flushed")), "ExecStop= ran at the stop")
        check(s.status("fw")["state"] == "inactive", "then inactive")
        check(st["state"] == "exited", f"exited while remaining: {st}; is-active {r.returncode}")


def test_kill_mode_process_leaves_the_rest():
    text = """[Service]
KillMode=process
ExecStart=/bin/sh -c 'sleep 1001 & exec sleep 1002'
"""
    with start_with({"ssh": text}) as s:
        s.wait_state("ssh", "running")
        retry(lambda: procs_matching("sleep 1001"), what="the session")
        s.ctl_ok("stop", "ssh", timeout=20)
        check(procs_matching("sleep 1001"), "the session survives a stop (KillMode=process)")
        check(not procs_matching("sleep 1002"), "the main process was stopped")
        for p in procs_matching("sleep 1001"):
            os.kill(p, signal.SIGKILL)


def test_exit_statuses_and_restart_modes():
    units = {
        "ok42": "[Service]\nExecStart=/bin/sh -c 'exit 42'\nSuccessExitStatus=42\n",
        "stop3": "[Service]\nExecStart=/bin/sh -c 'exit 3'\nRestartPreventExitStatus=3\n"
                 "Restart=always\n",
        "again": "[Service]\nExecStart=/bin/sh -c 'echo x >> \"$T/again\"'\nRestart=on-success\n"
                 "RestartSec=100ms\n",
        "dash": "[Service]\nExecStart=-/bin/sh -c 'exit 7'\n",
    }
    with start_with(units) as s:
        check(s.wait_state("ok42", "exited")["last_exit"] == {"code": 42}, "42 is a success")
        st = s.wait_state("stop3", "failed")
        check(st["restarts"] == 0, f"RestartPreventExitStatus=3: not restarted: {st}")
        retry(lambda: len(lines(s, "again")) >= 3, what="on-success restarts a clean exit")
        s.wait_state("dash", "exited")


def test_conditions():
    units = {
        "skip": "[Unit]\nConditionPathExists=/nonexistent/x\n[Service]\nExecStart=/bin/sleep 1000\n",
        "run": "[Unit]\nConditionPathExists=!/nonexistent/x\n[Service]\nExecStart=/bin/sleep 1000\n",
        "assert": "[Unit]\nAssertPathExists=/nonexistent/x\n[Service]\nExecStart=/bin/sleep 1000\n",
        "after-skip": "[Unit]\nRequires=skip\nAfter=skip\n[Service]\nExecStart=/bin/sleep 1000\n",
    }
    with start_with(units) as s:
        s.wait_state("run", "running")
        s.wait_state("after-skip", "running")
        st = s.status("skip")
        check(st["state"] == "inactive" and st["error"] is None, f"skipped, not failed: {st}")
        check("condition failed: ConditionPathExists=/nonexistent/x" in s.ctl_ok("logs", "skip").stdout,
              "the log says why")
        st = s.wait_state("assert", "failed")
        check("AssertPathExists=/nonexistent/x" in st["error"], st["error"])


def test_process_settings():
    text = """[Service]
Type=oneshot
LimitNOFILE=123:456
LimitCORE=0
UMask=0027
Nice=7
OOMScoreAdjust=321
IgnoreSIGPIPE=yes
ExecStart=/bin/sh -c 'cat /proc/self/limits > "$T/limits"; umask > "$T/umask"; cut -d" " -f19 /proc/self/stat > "$T/nice"; cat /proc/self/oom_score_adj > "$T/oom"; grep SigIgn /proc/self/status > "$T/sigign"'
"""
    with start_with({"set": text}) as s:
        s.wait_state("set", "exited")
        limits = open(os.path.join(s.dir, "limits")).read()
        check(any(l.startswith("Max open files") and l.split()[3:5] == ["123", "456"]
                  for l in limits.splitlines()), f"LimitNOFILE: {limits}")
        check(any(l.startswith("Max core file size") and l.split()[4:6] == ["0", "0"]
                  for l in limits.splitlines()), "LimitCORE=0")
        check(lines(s, "umask") == ["0027"], f"umask {lines(s, 'umask')}")
        check(lines(s, "nice") == ["7"], f"nice {lines(s, 'nice')}")
        check(lines(s, "oom") == ["321"], f"oom_score_adj {lines(s, 'oom')}")
        ign = int(lines(s, "sigign")[1], 16)
        check(ign & (1 << (signal.SIGPIPE - 1)), f"SIGPIPE ignored: {ign:x}")


def test_runtime_and_state_directories():
    name = f"sup-test-{os.getpid()}"
    text = f"""[Service]
User=nobody
RuntimeDirectory={name}
RuntimeDirectoryMode=0750
StateDirectory={name}
ExecStart=/bin/sh -c 'touch /run/{name}/sock /var/lib/{name}/db; exec sleep 1000'
"""
    try:
        with start_with({"d": text}) as s:
            s.wait_state("d", "running")
            st = retry(lambda: os.path.exists(f"/run/{name}/sock") and os.stat(f"/run/{name}"),
                       what="the runtime directory, written by the unit's user")
            check(st.st_mode & 0o777 == 0o750, f"mode {oct(st.st_mode)}")
            check(os.stat(f"/var/lib/{name}/db").st_uid == st.st_uid != 0, "owned by nobody")
            s.ctl_ok("stop", "d", timeout=20)
            check(not os.path.exists(f"/run/{name}"), "RuntimeDirectory= removed at the stop")
            check(os.path.exists(f"/var/lib/{name}/db"), "StateDirectory= stays")
    finally:
        shutil.rmtree(f"/run/{name}", ignore_errors=True)
        shutil.rmtree(f"/var/lib/{name}", ignore_errors=True)


def test_variables_are_expanded():
    text = """[Service]
Type=oneshot
Environment="ARGS=one two" "ONE=a b"
ExecStart=/bin/sh -c 'echo "$#:$1:$2" > "$T/split"' sh $ARGS
ExecStartPost=/bin/sh -c 'echo "$#:$1" > "$T/word"' sh ${ONE}
"""
    with start_with({"v": text}) as s:
        s.wait_state("v", "exited")
        check(open(os.path.join(s.dir, "split")).read() == "2:one:two\n", "$VAR splits into words")
        check(open(os.path.join(s.dir, "word")).read() == "1:a b\n", "${VAR} is one word")


def test_start_timeout_of_a_oneshot():
    text = "[Service]\nType=oneshot\nExecStart=/bin/sleep 100\nTimeoutStartSec=1\nRestart=no\n"
    with start_with({"slow": text}) as s:
        st = s.wait_state("slow", "failed", timeout=15)
        check("TimeoutStartSec" in st["error"], st["error"])


def test_dependency_keys():
    units = {
        "first": "[Unit]\nBefore=second\n[Service]\nType=notify\n"
                 "ExecStart=/bin/sh -c 'sleep 0.3; date +%%s.%%N > \"$T/first\"; "
                 "sup-notify READY=1; exec sleep 1000'\n",
        "second": "[Unit]\nWants=first\n[Service]\n"
                  "ExecStart=/bin/sh -c 'date +%%s.%%N > \"$T/second\"; exec sleep 1000'\n",
        "whole": "[Service]\nExecStart=/bin/sleep 1000\n",
        "part": "[Unit]\nPartOf=whole\n[Service]\nExecStart=/bin/sleep 1000\n",
        "rival": "[Unit]\nConflicts=whole\n[Service]\nExecStart=/bin/sleep 1000\n",
    }
    s = start_with(units)
    with open(os.path.join(s.units, "rival.service")) as f:
        rival = f.read()
    os.unlink(os.path.join(s.units, "rival.service"))
    with s:
        s.wait_state("second", "running")
        t1 = float(retry(lambda: lines(s, "first"), what="first")[0])
        t2 = float(retry(lambda: lines(s, "second"), what="second")[0])
        check(t1 < t2, "Before=: first is up before second starts")
        s.wait_state("part", "running")
        s.ctl_ok("stop", "whole", timeout=20)
        s.wait_state("part", "inactive")  # PartOf=: stopped with it
        s.ctl_ok("start", "whole", "part", timeout=20)
        service(s, "rival", rival)
        s.ctl_ok("reload")
        s.ctl_ok("start", "rival", timeout=20)
        check(s.status("whole")["state"] == "inactive", "Conflicts=: whole stopped for rival")


def test_notify_access_main():
    text = """[Service]
Type=notify
NotifyAccess=main
ReadyTimeoutSec=3
Restart=no
ExecStart=/bin/sh -c 'sup-notify READY=1; exec sleep 1000'
"""
    with start_with({"n": text}) as s:
        st = s.wait_state("n", "failed", timeout=15)
        check("ReadyTimeoutSec" in st["error"], f"a child's READY=1 does not count: {st}")


if __name__ == "__main__":
    run_tests([
        test_start_pre_post_stop_order,
        test_start_pre_failure_fails_the_start,
        test_forking_with_pid_file,
        test_remain_after_exit_and_exec_stop,
        test_kill_mode_process_leaves_the_rest,
        test_exit_statuses_and_restart_modes,
        test_conditions,
        test_process_settings,
        test_runtime_and_state_directories,
        test_variables_are_expanded,
        test_start_timeout_of_a_oneshot,
        test_dependency_keys,
        test_notify_access_main,
    ])
