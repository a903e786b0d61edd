/*
 * core: the unit state machine with fake effects (fake_effects.c): a run, its end, Restart=
 * and its backoff, the start limit, readiness and its timeout, the watchdog, health checks,
 * requested stops, restarts and the stop timeout; and the table itself. Every test also
 * asserts that no transition outside the table happened.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/children.h"
#include "core/deps.h"
#include <sys/wait.h>
#include "core/service.h"
#include "core/state.h"
#include "fake_effects.h"
#include "supd.h"

#define MS (USEC_PER_MSEC)

START_TEST(test_simple_runs_once_execd)
{
	LOAD("web", "[Service]\nExec=/bin/web\n");
	fx_start("web");
	ck_assert_str_eq(fx_state("web"), "starting");
	ck_assert_int_eq(fx_unit("web")->sub, SUB_SPAWN);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "web"), 1);
	fx_execd("web");
	ck_assert_str_eq(fx_state("web"), "running");
	ck_assert_uint_eq(fx_unit("web")->job, JOB_NONE);
}
END_TEST

START_TEST(test_crash_restarts_with_backoff)
{
	struct unit *u;

	LOAD("w", "[Service]\nExec=/bin/w\nRestartSec=100ms\nRestartMaxSec=1s\n");
	fx_start("w");
	fx_execd("w");
	fx_exit("w", 1);
	u = fx_unit("w");
	ck_assert_str_eq(fx_state("w"), "restarting");
	ck_assert_str_eq(u->error, "exited with code 1");
	fx_advance(99 * MS);
	ck_assert_str_eq(fx_state("w"), "restarting");
	fx_advance(1 * MS);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "w"), 2);
	ck_assert_uint_eq(u->restarts, 1);
	ck_assert_ptr_null(u->error); /* a new start clears it */
	/* the next failure waits twice as long */
	fx_execd("w");
	fx_exit("w", 1);
	fx_advance(199 * MS);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "w"), 2);
	fx_advance(1 * MS);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "w"), 3);
	ck_assert_uint_eq(u->restarts, 2);
}
END_TEST

START_TEST(test_start_limit_fails_the_unit)
{
	LOAD("f", "[Service]\nExec=/bin/f\nRestartSec=0\nStartLimitBurst=3\n"
		  "StartLimitIntervalSec=10s\n");
	fx_start("f");
	for (int i = 0; i < 3; i++) {
		fx_exit("f", 2);
		fx_advance(1000); /* RestartSec=0: a microsecond, doubling (policy.c) */
	}
	ck_assert_str_eq(fx_state("f"), "failed");
	ck_assert_ptr_nonnull(strstr(fx_unit("f")->error, "start limit hit"));
	ck_assert_uint_eq(fx_count(FX_SPAWN, "f"), 3);
	ck_assert_uint_eq(fx_unit("f")->restarts, 2); /* the refused start is not a restart */
	/* a restart request clears the limit */
	unit_restart(fx_unit("f"));
	fx_pass();
	ck_assert_uint_eq(fx_count(FX_SPAWN, "f"), 4);
}
END_TEST

START_TEST(test_oneshot_exits)
{
	LOAD("o", "[Service]\nType=oneshot\nExec=/bin/o\n");
	fx_start("o");
	fx_execd("o");
	ck_assert_int_eq(fx_unit("o")->sub, SUB_START); /* starting until it ends */
	fx_exit("o", 0);
	ck_assert_str_eq(fx_state("o"), "exited");
	ck_assert(unit_is_up(fx_unit("o")));
}
END_TEST

START_TEST(test_notify_ready_and_timeout)
{
	LOAD("n", "[Service]\nType=notify\nExec=/bin/n\nReadyTimeoutSec=2s\nRestart=no\n");
	fx_start("n");
	fx_execd("n");
	ck_assert_str_eq(fx_state("n"), "starting");
	unit_notify_ready(fx_unit("n"));
	fx_pass();
	ck_assert_str_eq(fx_state("n"), "running");
	/* again, never ready: the timeout stops it, and it ends failed */
	unit_stop(fx_unit("n"));
	fx_pass();
	fx_killed("n", SIGTERM);
	ck_assert_str_eq(fx_state("n"), "inactive");
	fx_start("n");
	fx_execd("n");
	fx_advance(2000 * MS);
	ck_assert_str_eq(fx_state("n"), "stopping");
	ck_assert_int_ge(fx_find(FX_KILL, "n", SIGTERM, 1), 0);
	fx_killed("n", SIGTERM);
	ck_assert_str_eq(fx_state("n"), "failed");
	ck_assert_ptr_nonnull(strstr(fx_unit("n")->error, "ReadyTimeoutSec"));
}
END_TEST

START_TEST(test_stop_then_sigkill_at_the_timeout)
{
	LOAD("s", "[Service]\nExec=/bin/s\nStopTimeoutSec=3s\n");
	fx_start("s");
	fx_execd("s");
	unit_stop(fx_unit("s"));
	fx_pass();
	ck_assert_str_eq(fx_state("s"), "stopping");
	ck_assert_int_ge(fx_find(FX_KILL, "s", SIGTERM, 0), 0);
	ck_assert_int_ge(fx_find(FX_KILL, "s", SIGCONT, 0), 0);
	fx_advance(3000 * MS);
	ck_assert_int_eq(fx_unit("s")->sub, SUB_STOP_KILL);
	ck_assert_int_ge(fx_find(FX_KILL, "s", SIGKILL, 0), 0);
	fx_killed("s", SIGKILL);
	ck_assert_str_eq(fx_state("s"), "inactive"); /* a stop by request: not a failure */
	ck_assert_ptr_null(fx_unit("s")->error);
}
END_TEST

START_TEST(test_restart_request)
{
	LOAD("r", "[Service]\nExec=/bin/r\n");
	fx_start("r");
	fx_execd("r");
	unit_restart(fx_unit("r"));
	fx_pass();
	ck_assert_uint_eq(fx_unit("r")->job, JOB_RESTART);
	ck_assert_str_eq(fx_state("r"), "stopping");
	fx_killed("r", SIGTERM);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "r"), 2);
	ck_assert_str_eq(fx_state("r"), "starting");
	fx_execd("r");
	ck_assert_str_eq(fx_state("r"), "running");
	ck_assert_uint_eq(fx_unit("r")->restarts, 0); /* asked for: not counted */
}
END_TEST

START_TEST(test_watchdog_aborts_the_main_process)
{
	LOAD("wd", "[Service]\nExec=/bin/wd\nWatchdogSec=1s\nRestart=no\n");
	fx_start("wd");
	fx_execd("wd");
	fx_advance(900 * MS);
	unit_timer_again(fx_unit("wd"), UNIT_TIMER_WATCHDOG); /* WATCHDOG=1 */
	fx_advance(900 * MS);
	ck_assert_int_eq(fx_find(FX_KILL, "wd", SIGABRT, 0), -1);
	fx_advance(200 * MS);
	ck_assert_int_ge(fx_find(FX_KILL, "wd", SIGABRT, 0), 0);
	ck_assert_int_eq(fx_events[fx_find(FX_KILL, "wd", SIGABRT, 0)].who, KILL_MAIN);
	fx_killed("wd", SIGABRT);
	ck_assert_str_eq(fx_state("wd"), "failed");
}
END_TEST

START_TEST(test_health_failures_restart)
{
	LOAD("h", "[Service]\nExec=/bin/h\nHealthCmd=/bin/check\nHealthIntervalSec=1s\n"
		  "HealthRetries=2\nRestartSec=1s\n");
	fx_start("h");
	fx_execd("h");
	fx_advance(1000 * MS);
	ck_assert_uint_eq(fx_count(FX_HEALTH, "h"), 1);
	fx_health_exit("h", 1);
	ck_assert_str_eq(fx_state("h"), "running"); /* one failure of two */
	fx_advance(1000 * MS);
	fx_health_exit("h", 0);
	ck_assert_uint_eq(fx_unit("h")->health_failures, 0);
	fx_advance(1000 * MS);
	fx_health_exit("h", 1);
	fx_advance(1000 * MS);
	fx_health_exit("h", 1);
	ck_assert_str_eq(fx_state("h"), "unhealthy");
	ck_assert_int_eq(fx_unit("h")->sub, SUB_UNHEALTHY_KILL);
	fx_killed("h", SIGTERM);
	ck_assert_str_eq(fx_state("h"), "restarting");
	fx_advance(1000 * MS);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "h"), 2);
}
END_TEST

START_TEST(test_spawn_failure_fails_the_unit)
{
	LOAD("x", "[Service]\nExec=/bin/x\nRestart=no\n");
	fx_spawn_fails = true;
	fx_start("x");
	ck_assert_str_eq(fx_state("x"), "failed");
	ck_assert_ptr_nonnull(strstr(fx_unit("x")->error, "fork"));
}
END_TEST

START_TEST(test_image_pull_then_run)
{
	struct unit *u;

	LOAD("img", "[Service]\nExec=/bin/x\nRestartSec=100ms\n[Container]\nImage=busybox\n");
	u = fx_unit("img");
	fx_image_prepare = 0; /* the helper is at work */
	fx_start("img");
	ck_assert_int_eq(u->sub, SUB_PULL);
	ck_assert_str_eq(fx_state("img"), "starting");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "img"), 0);
	unit_image_ready(u, NULL);
	ck_assert_int_eq(u->sub, SUB_SPAWN);
	fx_execd("img");
	ck_assert_str_eq(fx_state("img"), "running");
	/* a crash: the restart asks for the image again (ready at once: the pin is cached) */
	fx_image_prepare = 1;
	fx_exit("img", 1);
	fx_advance(100 * MS);
	ck_assert_uint_eq(fx_count(FX_PULL, "img"), 2);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "img"), 2);
	/* the image's StopSignal stands in for an unset StopSignal= */
	u->img_stop_signal = SIGQUIT;
	fx_execd("img");
	unit_stop(u);
	fx_pass();
	ck_assert(fx_find(FX_KILL, "img", SIGQUIT, 0) >= 0);
}
END_TEST

START_TEST(test_image_pull_failure_restarts)
{
	struct unit *u;

	LOAD("img", "[Service]\nRestartSec=100ms\n[Container]\nImage=busybox:nope\n", "once",
	     "[Service]\nRestart=no\nStopSignal=SIGINT\n[Container]\nImage=busybox\n");
	u = fx_unit("img");
	fx_image_prepare = 0;
	fx_start("img");
	unit_image_ready(u, "pull docker.io/library/busybox:nope: HTTP 404: MANIFEST_UNKNOWN");
	/* a failed start: Restart=on-failure applies, with the registry's message */
	ck_assert_str_eq(fx_state("img"), "restarting");
	ck_assert_str_eq(u->error,
			 "pull docker.io/library/busybox:nope: HTTP 404: MANIFEST_UNKNOWN");
	fx_advance(100 * MS);
	ck_assert_int_eq(u->sub, SUB_PULL);
	ck_assert_uint_eq(fx_count(FX_PULL, "img"), 2);
	/* stopped while pulling: down at once; a late answer changes nothing */
	unit_stop(u);
	fx_pass();
	ck_assert_str_eq(fx_state("img"), "inactive");
	unit_image_ready(u, NULL);
	ck_assert_str_eq(fx_state("img"), "inactive");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "img"), 0);
	/* Restart=no: failed; the helper not even run: the same */
	fx_image_prepare = -1;
	fx_start("once");
	ck_assert_str_eq(fx_state("once"), "failed");
	ck_assert_str_eq(fx_unit("once")->error,
			 "cannot run the image helper: No such file or directory");
	ck_assert_int_eq(unit_stop_signal(fx_unit("once")), SIGINT);
}
END_TEST

/* supd could not spawn it (out of fds or memory): like a failed exec, Restart= decides, and
 * the unit runs once the shortage is over */
START_TEST(test_spawn_failure_is_retried_by_restart)
{
	LOAD("x", "[Service]\nExec=/bin/x\nRestartSec=1s\n");
	fx_spawn_fails = true;
	fx_start("x");
	ck_assert_str_eq(fx_state("x"), "restarting");
	ck_assert_ptr_nonnull(strstr(fx_unit("x")->error, "fork"));
	fx_spawn_fails = false;
	fx_advance(1000000);
	fx_execd("x");
	ck_assert_str_eq(fx_state("x"), "running");
	ck_assert_uint_eq(unit_bad_transitions, 0);
}
END_TEST

START_TEST(test_set_up_failure_then_exit)
{
	LOAD("y", "[Service]\nExec=/bin/y\nRestart=no\n");
	fx_start("y");
	unit_main_spawn_failed(fx_unit("y"), "exec /bin/y: No such file or directory");
	fx_exit("y", 127);
	ck_assert_str_eq(fx_state("y"), "failed");
	ck_assert_str_eq(fx_unit("y")->error, "exec /bin/y: No such file or directory");
}
END_TEST

START_TEST(test_drain_waits_for_the_cgroup)
{
	LOAD("d", "[Service]\nExec=/bin/d\nRestart=no\n");
	fx_start("d");
	fx_execd("d");
	fx_drain_waits = true;
	fx_exit("d", 3);
	ck_assert_int_eq(fx_unit("d")->sub, SUB_DRAIN);
	ck_assert_str_eq(fx_state("d"), "stopping");
	unit_drained(fx_unit("d"));
	fx_pass();
	ck_assert_str_eq(fx_state("d"), "failed");
}
END_TEST

static const char *cmd_of(unsigned nth)
{
	long i = fx_find(FX_CONTROL, NULL, 0, nth);

	return i < 0 ? "" : fx_events[i].cmd;
}

START_TEST(test_start_pre_and_post)
{
	LOAD("p", "[Service]\nExecStartPre=/bin/one\nExecStartPre=-/bin/two\n"
		  "ExecStartPre=/bin/three\nExecStart=/bin/p\nExecStartPost=/bin/post\n");
	fx_start("p");
	ck_assert_int_eq(fx_unit("p")->sub, SUB_PRE);
	ck_assert_str_eq(cmd_of(0), "/bin/one");
	fx_control_exit("p", 0);
	ck_assert_str_eq(cmd_of(1), "/bin/two");
	fx_control_exit("p", 1); /* '-': the failure is ignored */
	ck_assert_str_eq(cmd_of(2), "/bin/three");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "p"), 0);
	fx_control_exit("p", 0);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "p"), 1); /* then the main process */
	fx_execd("p");
	ck_assert_int_eq(fx_unit("p")->sub, SUB_POST);
	ck_assert_str_eq(fx_state("p"), "starting");
	fx_control_exit("p", 0);
	ck_assert_str_eq(fx_state("p"), "running");
}
END_TEST

START_TEST(test_start_pre_failure)
{
	LOAD("f", "[Service]\nExecStartPre=/bin/check\nExecStart=/bin/f\nRestart=no\n");
	fx_start("f");
	fx_control_exit("f", 2);
	ck_assert_str_eq(fx_state("f"), "failed");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "f"), 0);
	ck_assert_str_eq(fx_unit("f")->error, "ExecStartPre /bin/check failed: exit code 2");
}
END_TEST

START_TEST(test_stop_commands_and_reload)
{
	LOAD("s", "[Service]\nExecStart=/bin/s\nExecReload=/bin/reload\nExecStop=/bin/stop\n"
		  "ExecStopPost=/bin/cleanup\n");
	fx_start("s");
	fx_execd("s");
	ck_assert_int_eq(unit_reload(fx_unit("s"), NULL), 0);
	ck_assert_int_eq(fx_unit("s")->sub, SUB_RELOAD);
	ck_assert_str_eq(fx_state("s"), "running");
	fx_control_exit("s", 0);
	ck_assert_int_eq(fx_unit("s")->sub, SUB_RUNNING);
	unit_stop(fx_unit("s"));
	fx_pass();
	ck_assert_int_eq(fx_unit("s")->sub, SUB_STOP_CMD);
	ck_assert_str_eq(cmd_of(1), "/bin/stop");
	ck_assert_int_eq(fx_find(FX_KILL, "s", SIGTERM, 0), -1); /* ExecStop= first */
	fx_control_exit("s", 0);
	ck_assert_int_ge(fx_find(FX_KILL, "s", SIGTERM, 0), 0); /* then what is left */
	fx_killed("s", SIGTERM);
	ck_assert_int_eq(fx_unit("s")->sub, SUB_STOP_POST);
	ck_assert_str_eq(cmd_of(2), "/bin/cleanup");
	fx_control_exit("s", 0);
	ck_assert_str_eq(fx_state("s"), "inactive");
}
END_TEST

START_TEST(test_remain_after_exit)
{
	LOAD("fw", "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/load\n"
		   "ExecStop=/bin/flush\n");
	fx_start("fw");
	fx_execd("fw");
	fx_exit("fw", 0);
	ck_assert_int_eq(fx_unit("fw")->sub, SUB_REMAIN);
	ck_assert_str_eq(fx_state("fw"), "exited");
	ck_assert(unit_is_up(fx_unit("fw")));
	unit_stop(fx_unit("fw"));
	fx_pass();
	ck_assert_str_eq(cmd_of(0), "/bin/flush"); /* ExecStop= undoes it */
	fx_control_exit("fw", 0);
	ck_assert_str_eq(fx_state("fw"), "inactive");
}
END_TEST

START_TEST(test_forking_adopts_the_daemon)
{
	LOAD("d", "[Service]\nType=forking\nPIDFile=/run/d.pid\nExecStart=/bin/d\n"
		  "RestartSec=1s\n");
	fx_start("d");
	fx_execd("d");
	ck_assert_str_eq(fx_state("d"), "starting");
	fx_forking_pid = 4242;
	fx_exit("d", 0); /* the parent is done */
	ck_assert_str_eq(fx_state("d"), "running");
	ck_assert_int_eq(fx_unit("d")->main.pid, 4242);
	ck_assert(sup_child_exited(4242, W_EXITCODE(1, 0))); /* the daemon dies */
	fx_pass();
	ck_assert_str_eq(fx_state("d"), "restarting");
	/* without a daemon to adopt, the start fails */
	fx_forking_pid = 0;
	fx_advance(USEC_PER_SEC);
	fx_execd("d");
	fx_exit("d", 0);
	ck_assert_ptr_nonnull(strstr(fx_unit("d")->error, "Type=forking"));
}
END_TEST

/* A quick parent reaped before its exec report was read (a busy machine): the exec counts,
 * and its exit 0 hands over to the daemon as usual */
START_TEST(test_forking_parent_reaped_before_its_exec_report)
{
	LOAD("d", "[Service]\nType=forking\nPIDFile=/run/d.pid\nExecStart=/bin/d\n");
	fx_start("d");
	fx_forking_pid = 4242;
	fx_exec_report_pending = true;
	fx_exit("d", 0);
	ck_assert_str_eq(fx_state("d"), "running");
	ck_assert_int_eq(fx_unit("d")->main.pid, 4242);
	fx_forking_pid = 0;
}
END_TEST

START_TEST(test_kill_modes)
{
	LOAD("kp", "[Service]\nExecStart=/bin/k\nKillMode=process\nStopTimeoutSec=1s\n", "km",
	     "[Service]\nExecStart=/bin/k\nKillMode=mixed\nStopTimeoutSec=1s\n");
	fx_start("kp");
	fx_start("km");
	fx_execd("kp");
	fx_execd("km");
	unit_stop(fx_unit("kp"));
	unit_stop(fx_unit("km"));
	fx_pass();
	ck_assert_int_eq(fx_events[fx_find(FX_KILL, "kp", SIGTERM, 0)].who, KILL_MAIN);
	ck_assert_int_eq(fx_events[fx_find(FX_KILL, "km", SIGTERM, 0)].who, KILL_MAIN);
	fx_advance(USEC_PER_SEC);
	ck_assert_int_eq(fx_events[fx_find(FX_KILL, "kp", SIGKILL, 0)].who, KILL_MAIN);
	ck_assert_int_eq(fx_events[fx_find(FX_KILL, "km", SIGKILL, 0)].who, KILL_UNIT);
}
END_TEST

START_TEST(test_exit_statuses)
{
	LOAD("ok3", "[Service]\nExecStart=/bin/x\nSuccessExitStatus=3\n", "no4",
	     "[Service]\nExecStart=/bin/x\nRestartPreventExitStatus=4\n", "dash",
	     "[Service]\nExecStart=-/bin/x\n");
	fx_start("ok3");
	fx_start("no4");
	fx_start("dash");
	fx_exit("ok3", 3);
	ck_assert_str_eq(fx_state("ok3"), "exited");
	fx_exit("no4", 4);
	ck_assert_str_eq(fx_state("no4"), "failed"); /* not restarted */
	fx_exit("dash", 9);
	ck_assert_str_eq(fx_state("dash"), "exited");
}
END_TEST

START_TEST(test_condition_skips)
{
	LOAD("c", "[Unit]\nConditionPathExists=/nope\n[Service]\nExecStart=/bin/c\n", "after",
	     "[Unit]\nRequires=c\n[Service]\nExecStart=/bin/a\n");
	fx_condition = 1;
	fx_start("after");
	ck_assert_str_eq(fx_state("c"), "inactive");
	ck_assert_uint_eq(fx_count(FX_SPAWN, "c"), 0);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "after"), 1); /* a skipped unit counts as done */
	ck_assert_ptr_null(fx_unit("c")->error);
	fx_condition = -1; /* an assertion fails the start */
	fx_start("c");
	ck_assert_str_eq(fx_state("c"), "failed");
}
END_TEST

START_TEST(test_conflicts_and_part_of)
{
	LOAD("a", "[Unit]\nConflicts=b\n[Service]\nExecStart=/bin/a\n", "b",
	     "[Service]\nExecStart=/bin/b\n", "part",
	     "[Unit]\nPartOf=b\n[Service]\nExecStart=/p\n");
	fx_start("b");
	fx_start("part");
	fx_execd("b");
	fx_execd("part");
	fx_start("a"); /* b must go first */
	ck_assert_uint_eq(fx_count(FX_SPAWN, "a"), 0);
	ck_assert_str_eq(fx_state("b"), "stopping");
	ck_assert_str_eq(fx_state("part"), "stopping"); /* PartOf=b: stopped with it */
	fx_killed("b", SIGTERM);
	fx_killed("part", SIGTERM);
	ck_assert_uint_eq(fx_count(FX_SPAWN, "a"), 1);
}
END_TEST

START_TEST(test_the_table)
{
	/* every sub-state maps onto a public state; the ends of a run are allowed from every
	 * sub-state that owns a process */
	static const enum unit_sub with_process[] = {
	    SUB_SPAWN,	   SUB_START,	       SUB_POST,     SUB_RUNNING,   SUB_RELOAD,
	    SUB_UNHEALTHY, SUB_UNHEALTHY_KILL, SUB_STOP_CMD, SUB_STOP_TERM, SUB_STOP_KILL,
	};
	static const enum unit_sub ends[] = {SUB_DEAD,	 SUB_QUEUED,	   SUB_FAILED, SUB_EXITED,
					     SUB_REMAIN, SUB_AUTO_RESTART, SUB_DRAIN};

	for (int s = 0; s < SUB__MAX; s++) {
		ck_assert_int_lt(unit_sub_state(s), UNIT_STATE__MAX);
		ck_assert_str_ne(unit_sub_name(s), "unknown");
		ck_assert(unit_sub_allowed(s, s));
	}
	for (size_t i = 0; i < SUP_ARRAY_SIZE(with_process); i++)
		for (size_t j = 0; j < SUP_ARRAY_SIZE(ends); j++)
			ck_assert_msg(unit_sub_allowed(with_process[i], ends[j]), "%s -> %s",
				      unit_sub_name(with_process[i]), unit_sub_name(ends[j]));
	ck_assert(!unit_sub_allowed(SUB_BAD, SUB_QUEUED));
	ck_assert(!unit_sub_allowed(SUB_DEAD, SUB_RUNNING));
	ck_assert(!unit_sub_allowed(SUB_STOP_KILL, SUB_STOP_TERM));
	/* and a forbidden transition is counted, not fatal */
	LOAD("t", "[Service]\nExec=/bin/t\n");
	unit_set_sub(fx_unit("t"), SUB_RUNNING);
	ck_assert_uint_eq(unit_bad_transitions, 1);
	unit_bad_transitions = 0;
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("core_state");
	TCase *tc = tcase_create("runs");

	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_add_test(tc, test_simple_runs_once_execd);
	tcase_add_test(tc, test_crash_restarts_with_backoff);
	tcase_add_test(tc, test_start_limit_fails_the_unit);
	tcase_add_test(tc, test_oneshot_exits);
	tcase_add_test(tc, test_notify_ready_and_timeout);
	tcase_add_test(tc, test_stop_then_sigkill_at_the_timeout);
	tcase_add_test(tc, test_restart_request);
	tcase_add_test(tc, test_watchdog_aborts_the_main_process);
	tcase_add_test(tc, test_health_failures_restart);
	tcase_add_test(tc, test_spawn_failure_fails_the_unit);
	tcase_add_test(tc, test_spawn_failure_is_retried_by_restart);
	tcase_add_test(tc, test_set_up_failure_then_exit);
	tcase_add_test(tc, test_image_pull_then_run);
	tcase_add_test(tc, test_image_pull_failure_restarts);
	tcase_add_test(tc, test_drain_waits_for_the_cgroup);
	tcase_add_test(tc, test_start_pre_and_post);
	tcase_add_test(tc, test_start_pre_failure);
	tcase_add_test(tc, test_stop_commands_and_reload);
	tcase_add_test(tc, test_remain_after_exit);
	tcase_add_test(tc, test_forking_adopts_the_daemon);
	tcase_add_test(tc, test_forking_parent_reaped_before_its_exec_report);
	tcase_add_test(tc, test_kill_modes);
	tcase_add_test(tc, test_exit_statuses);
	tcase_add_test(tc, test_condition_skips);
	tcase_add_test(tc, test_conflicts_and_part_of);
	tcase_add_test(tc, test_the_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
