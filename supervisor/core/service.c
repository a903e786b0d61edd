/*
 * A unit's life, event by event. Requests and the scheduler begin runs and stops; the main
 * process's exec, exit and readiness, and the unit's timers, move it on. Every change goes
 * through unit_set_sub() (state.c). How the current run ends is kept in u->result as soon as
 * it is known (a stop by request, a timeout, a watchdog, a spawn failure); otherwise the
 * exit status decides. Restart= is applied by policy.c's pure functions.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "core/children.h"
#include "core/deps.h"
#include "core/effects.h"
#include "core/health.h"
#include "core/phases.h"
#include "core/service.h"
#include "core/state.h"
#include "logs/logbuf.h"
#include "supd.h"

static double secs(uint64_t usec)
{
	return (double)usec / 1e6;
}

void unit_note(struct unit *u, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sup_info(u->name, "%s", buf);
	if (u->log) {
		logbuf_note(u->log, now_real(), "%s", buf);
		unit_log_added(u);
	}
}

void unit_set_error(struct unit *u, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(u->error);
	u->error = s;
}

static void main_reaped(struct sup_child *c, int wstatus);
static void ended(struct unit *u, enum exit_kind kind, const char *what);

/* The main process: spawned once the requirements are up and ExecStartPre= succeeded. */
static void spawn_main(struct unit *u)
{
	struct sup_error *err = NULL;

	if (unit_exec_main(u, &err) < 0) {
		unit_note(u, "cannot start: %s", err->msg);
		unit_set_error(u, "%s", err->msg);
		sup_error_free(err);
		/* as a failed exec: Restart= decides (out of fds or memory is often soon over) */
		ended(u, EXIT_KIND_SPAWN, u->error ? u->error : "cannot start");
		return;
	}
	sup_child_add(&u->main, u->main.pid, CHILD_MAIN, main_reaped);
	sup_debug(u->name, "spawned pid %d", (int)u->main.pid);
	unit_set_sub(u, SUB_SPAWN);
	if (u->cfg->watchdog_usec && u->cfg->watchdog_usec != USEC_INFINITY)
		unit_timer_arm(u, UNIT_TIMER_WATCHDOG, u->cfg->watchdog_usec,
			       u->cfg->watchdog_usec);
}

/* ConditionPathExists= / AssertPathExists=: false when the unit must not run now. */
static bool conditions_hold(struct unit *u)
{
	char why[512];

	switch (unit_check_conditions(u, why, sizeof(why))) {
	case 1: /* a condition: the unit is skipped, which is not a failure */
		unit_note(u, "not started: condition failed: %s", why);
		u->condition_failed = true;
		u->goal = GOAL_DOWN;
		u->job = JOB_NONE;
		unit_set_sub(u, SUB_DEAD);
		return false;
	case -1: /* an assertion: the start fails */
		unit_set_error(u, "assertion failed: %s", why);
		unit_note(u, "%s", u->error);
		u->goal = GOAL_DOWN;
		unit_set_sub(u, SUB_FAILED);
		return false;
	default:
		return true;
	}
}

int unit_stop_signal(const struct unit *u)
{
	if (u->img_stop_signal && !u->cfg->stop_signal_set)
		return u->img_stop_signal;
	return u->cfg->stop_signal;
}

/* The run proper: ExecStartPre=, then the main process. */
static void begin_run(struct unit *u)
{
	u->start_mono = now_mono();
	u->start_real = now_real();
	if (u->cfg->exec_start_pre.n)
		unit_phase_begin(u, SUB_PRE, &u->cfg->exec_start_pre);
	else
		spawn_main(u);
}

/* Image=: first the image (the helper may pull it); the run begins when it is ready. */
static void pull_image(struct unit *u)
{
	struct sup_error *err = NULL;
	int r;

	unit_set_sub(u, SUB_PULL);
	r = unit_image_prepare(u, &err);
	if (r > 0)
		begin_run(u);
	else if (r < 0)
		unit_image_ready(u, err->msg);
	sup_error_free(err);
}

static void ended(struct unit *u, enum exit_kind kind, const char *what);

void unit_image_ready(struct unit *u, const char *error)
{
	if (u->sub != SUB_PULL)
		return; /* stopped meanwhile */
	if (!error) {
		begin_run(u);
		return;
	}
	unit_set_error(u, "%s", error);
	unit_note(u, "cannot start: %s", error);
	u->result = EXIT_KIND_SPAWN;
	u->start_mono = now_mono(); /* no run to count towards a backoff reset */
	ended(u, EXIT_KIND_SPAWN, error);
}

/* The run of a queued unit whose requirements are up: its image, ExecStartPre=, then the main
 * process. */
void unit_run(struct unit *u)
{
	bool auto_restart = u->job == JOB_AUTO_RESTART;

	/* the start limit stops the unit's own crash loops: coming back with a requirement that
	 * restarted is not one (that requirement's start is counted) */
	if (u->job != JOB_FOLLOW &&
	    !start_limit_allow(&u->limit, u->cfg->start_limit_interval_usec, now_mono())) {
		unit_set_error(u, "start limit hit: more than %u starts within %.0fs",
			       u->cfg->start_limit_burst, secs(u->cfg->start_limit_interval_usec));
		unit_note(u, "%s", u->error);
		u->goal = GOAL_DOWN;
		u->job = JOB_NONE;
		unit_set_sub(u, SUB_FAILED);
		return;
	}
	if (auto_restart) {
		u->restarts++;
		u->job = JOB_NONE;
	}
	if (u->next_cfg) {
		unit_free_config(u->cfg);
		u->cfg = sup_steal_ptr(u->next_cfg);
	}
	u->run_seq++;
	u->result = EXIT_KIND_SUCCESS;
	u->condition_failed = false;
	u->exit_to_note = false;
	free(u->status_text);
	u->status_text = NULL;
	if (!conditions_hold(u))
		return;
	if (u->cfg->ct.image)
		pull_image(u);
	else
		begin_run(u);
}

/* The main process is up: ExecStartPost=, then running. */
static void started(struct unit *u)
{
	if (u->cfg->exec_start_post.n)
		unit_phase_begin(u, SUB_POST, &u->cfg->exec_start_post);
	else
		unit_set_sub(u, SUB_RUNNING);
}

/* The sync pipe said the service exec'd. Also when its exit was reaped first (a quick
 * Type=forking parent on a busy machine: main_reaped() reads the pipe then, with main.pid
 * already forgotten): what the exit means depends on the exec having happened. */
void unit_main_execd(struct unit *u)
{
	if (u->sub != SUB_SPAWN)
		return;
	if (u->cfg->type == UNIT_TYPE_SIMPLE)
		started(u);
	else
		unit_set_sub(u, SUB_START);
}

/* The child failed before exec: keep the message; its exit comes next. */
void unit_main_spawn_failed(struct unit *u, const char *msg)
{
	if (u->result == EXIT_KIND_SUCCESS)
		u->result = EXIT_KIND_SPAWN;
	unit_set_error(u, "%s", msg);
	unit_note(u, "cannot start: %s", msg);
}

void unit_notify_ready(struct unit *u)
{
	if ((u->sub == SUB_SPAWN || u->sub == SUB_START) && u->cfg->type == UNIT_TYPE_NOTIFY)
		started(u);
}

/* KillMode=: control-group (every process of the unit), mixed (the stop signal to the main
 * process, the final SIGKILL to all), process (only ever the main process). */
static enum unit_kill_who stop_target(const struct unit *u, bool final)
{
	switch (u->cfg->kill_mode) {
	case UNIT_KILL_PROCESS:
		return KILL_MAIN;
	case UNIT_KILL_MIXED:
		return final ? KILL_UNIT : KILL_MAIN;
	default:
		return KILL_UNIT;
	}
}

/* Send the stop signal (ExecStop= is done, or there is none). */
static void stop_signal(struct unit *u)
{
	enum unit_kill_who who = stop_target(u, false);

	unit_kill(u, unit_stop_signal(u), who);
	if (unit_stop_signal(u) != SIGKILL)
		unit_kill(u, SIGCONT, who); /* a stopped process must see its SIGTERM */
	unit_set_sub(u, SUB_STOP_TERM);
}

void unit_fail_stop(struct unit *u, enum exit_kind kind, int sig, const char *why)
{
	if (!u->main.pid || unit_is_stopping(u))
		return; /* nothing to kill, or a kill is under way already */
	unit_note(u, "%s", why);
	unit_set_error(u, "%s", why);
	u->result = kind;
	/* a watchdog kill lets the main process dump core; the rest follows at the stop timeout */
	unit_kill(u, sig, kind == EXIT_KIND_WATCHDOG ? KILL_MAIN : KILL_UNIT);
	unit_set_sub(u, kind == EXIT_KIND_UNHEALTHY ? SUB_UNHEALTHY_KILL : SUB_STOP_TERM);
}

/* A requested stop is complete, or a queued unit was stopped before it ran. */
static void stopped(struct unit *u)
{
	if (u->job == JOB_RESTART) {
		u->job = JOB_START;
		u->goal = GOAL_UP;
		start_limit_reset(&u->limit);
		u->restart_delay = 0;
		unit_set_sub(u, SUB_QUEUED);
		return;
	}
	if (u->dep_error) {
		unit_set_error(u, "%s", u->dep_error);
		unit_set_sub(u, SUB_FAILED);
		return;
	}
	unit_set_sub(u, SUB_DEAD);
}

static void run_over(struct unit *u);

void unit_stop_now(struct unit *u)
{
	switch (u->sub) {
	case SUB_DEAD:
	case SUB_QUEUED:
	case SUB_PULL:
	case SUB_AUTO_RESTART:
		stopped(u);
		return;
	case SUB_REMAIN: /* RemainAfterExit=: ExecStop= undoes what the run did */
		u->result = EXIT_KIND_STOPPED;
		if (u->cfg->exec_stop.n)
			unit_phase_begin(u, SUB_STOP_CMD, &u->cfg->exec_stop);
		else
			stopped(u);
		return;
	case SUB_STOP_CMD:
	case SUB_STOP_TERM:
	case SUB_STOP_KILL:
		u->result = EXIT_KIND_STOPPED; /* a request now, whatever began it */
		return;
	case SUB_UNHEALTHY_KILL:
		u->result = EXIT_KIND_STOPPED;
		unit_set_sub(u, SUB_STOP_TERM);
		return;
	case SUB_DRAIN:
	case SUB_STOP_POST:
	case SUB_EXITED:
	case SUB_FAILED:
	case SUB_BAD:
	case SUB__MAX:
		return;
	default:
		break;
	}
	if (u->sub == SUB_PRE || u->sub == SUB_POST || u->sub == SUB_RELOAD)
		unit_phase_abandon(u);
	u->result = EXIT_KIND_STOPPED;
	if (!u->main.pid) { /* ExecStartPre= was running: its process is killed */
		run_over(u);
		return;
	}
	if (u->cfg->exec_stop.n && u->sub != SUB_SPAWN)
		unit_phase_begin(u, SUB_STOP_CMD, &u->cfg->exec_stop);
	else
		stop_signal(u);
}

static void state_timer(struct unit *u)
{
	char why[128];

	switch (u->sub) {
	case SUB_SPAWN:
	case SUB_START:
		snprintf(why, sizeof(why), "not %s after %.3gs (%s)",
			 u->cfg->type == UNIT_TYPE_NOTIFY ? "ready" : "up",
			 secs(u->cfg->ready_timeout_usec),
			 u->cfg->type == UNIT_TYPE_NOTIFY ? "ReadyTimeoutSec" : "TimeoutStartSec");
		unit_fail_stop(u, EXIT_KIND_TIMEOUT, unit_stop_signal(u), why);
		break;
	case SUB_PRE:
	case SUB_POST:
	case SUB_RELOAD:
	case SUB_STOP_CMD:
	case SUB_STOP_POST:
		unit_phase_timeout(u);
		break;
	case SUB_STOP_TERM:
	case SUB_UNHEALTHY_KILL:
		unit_note(u, "still running %.3gs after the stop signal: SIGKILL",
			  secs(u->cfg->stop_timeout_usec));
		unit_kill(u, SIGKILL, stop_target(u, true));
		unit_set_sub(u, SUB_STOP_KILL);
		break;
	case SUB_AUTO_RESTART:
		/* back through the scheduler: the requirements are checked again */
		u->job = JOB_AUTO_RESTART;
		unit_set_sub(u, SUB_QUEUED);
		break;
	default:
		break;
	}
}

static void watchdog_timer(struct unit *u)
{
	char why[128];

	unit_timer_stop(u, UNIT_TIMER_WATCHDOG);
	snprintf(why, sizeof(why), "watchdog timeout: no WATCHDOG=1 within %.3gs: SIGABRT",
		 secs(u->cfg->watchdog_usec));
	unit_fail_stop(u, EXIT_KIND_WATCHDOG, SIGABRT, why);
}

void unit_on_timer(struct unit *u, enum unit_timer_id t)
{
	switch (t) {
	case UNIT_TIMER_STATE:
		state_timer(u);
		break;
	case UNIT_TIMER_WATCHDOG:
		watchdog_timer(u);
		break;
	case UNIT_TIMER_HEALTH:
		unit_health_timer(u);
		break;
	default:
		break;
	}
}

/* SuccessExitStatus= counts as success; so does any end of a main command written with '-'. */
static enum exit_kind classify(const struct unit *u, int wstatus)
{
	enum exit_kind k = policy_classify(wstatus, &u->cfg->success_exit_status);

	if (k != EXIT_KIND_SUCCESS && (u->cfg->exec_flags & UNIT_CMD_IGNORE_FAILURE))
		return EXIT_KIND_SUCCESS;
	return k;
}

static void describe_exit(const struct unit *u, char *buf, size_t n)
{
	const char *sig;

	if (!u->last_exit.signaled) {
		snprintf(buf, n, "exited with code %d", u->last_exit.code);
		return;
	}
	sig = sup_signal_name(u->last_exit.code);
	if (sig)
		snprintf(buf, n, "killed by %s", sig);
	else
		snprintf(buf, n, "killed by signal %d", u->last_exit.code);
}

/* A run ended that nobody asked to end (or a failure kill): Restart= decides. */
static void ended(struct unit *u, enum exit_kind kind, const char *what)
{
	uint64_t run = now_mono() - u->start_mono;

	enum unit_sub done = u->cfg->remain_after_exit ? SUB_REMAIN : SUB_EXITED;

	if (kind == EXIT_KIND_SUCCESS && u->cfg->type == UNIT_TYPE_ONESHOT && !u->dep_error &&
	    u->cfg->restart != UNIT_RESTART_ALWAYS) {
		unit_set_sub(u, done);
		return;
	}
	if (u->goal == GOAL_UP && !supd->shutting_down &&
	    policy_should_restart(u->cfg->restart, kind) &&
	    !(u->last_exit.valid &&
	      policy_prevents_restart(u->exit_wstatus, &u->cfg->restart_prevent_exit_status))) {
		u->restart_delay = policy_restart_delay(u->cfg, u->restart_delay, run);
		if (kind != EXIT_KIND_SUCCESS && !u->error)
			unit_set_error(u, "%s", what);
		unit_note(u, "restarting in %.3gs", secs(u->restart_delay));
		unit_set_sub(u, SUB_AUTO_RESTART);
		return;
	}
	u->goal = GOAL_DOWN;
	if (policy_is_failure(kind)) {
		if (!u->error)
			unit_set_error(u, "%s", what);
		unit_set_sub(u, SUB_FAILED);
	} else {
		unit_set_sub(u, done);
	}
}

/* How the run ended: Restart= (ended) or a requested stop (stopped). */
static void decide(struct unit *u)
{
	char what[96];

	describe_exit(u, what, sizeof(what));
	if (u->result == EXIT_KIND_STOPPED)
		stopped(u);
	else
		ended(u, u->result, what);
}

/* The main process is gone and nothing of its run is left: its end noted, ExecStopPost=,
 * then what comes next. */
static void finish(struct unit *u)
{
	char what[96];

	if (u->exit_to_note) {
		u->exit_to_note = false;
		unit_output_flush(u); /* its last words come before the note of its end */
		describe_exit(u, what, sizeof(what));
		if (u->oom_this_run && u->last_exit.signaled && u->last_exit.code == SIGKILL) {
			snprintf(what, sizeof(what), "killed by SIGKILL: out of memory (OOM kill)");
			if (u->result != EXIT_KIND_STOPPED)
				unit_set_error(u, "%s", what);
		}
		unit_note(u, "%s", what);
	}
	if (u->cfg->exec_stop_post.n && u->sub != SUB_STOP_POST) {
		unit_phase_begin(u, SUB_STOP_POST, &u->cfg->exec_stop_post);
		return;
	}
	decide(u);
}

/* The run is over (no main process any more): what is left of it in the cgroup is killed
 * first (KillMode=process: left alone), then finish(). */
static void run_over(struct unit *u)
{
	if (u->cfg->kill_mode != UNIT_KILL_PROCESS && unit_drain_begin(u)) {
		unit_set_sub(u, SUB_DRAIN);
		return;
	}
	finish(u);
}

/* Type=forking: the started process exited 0; the daemon it left is the main process now. */
static void adopt(struct unit *u)
{
	char why[512];
	pid_t pid = unit_forking_main(u, why, sizeof(why));

	if (pid <= 0) {
		unit_set_error(u, "Type=forking: %s", why);
		u->result = EXIT_KIND_CODE;
		run_over(u);
		return;
	}
	sup_child_add(&u->main, pid, CHILD_MAIN, main_reaped);
	unit_note(u, "main process %d (%s)", (int)pid, why);
	started(u);
}

static void main_reaped(struct sup_child *c, int wstatus)
{
	struct unit *u = sup_container_of(c, struct unit, main);

	unit_exec_finish(u); /* a failed set-up's last word is in the sync pipe */
	/* a container init reported the service's own wait status */
	wstatus = unit_exec_wstatus(u, wstatus);
	u->last_exit.valid = true;
	u->last_exit.signaled = !WIFEXITED(wstatus);
	u->last_exit.code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus);
	u->last_exit.stopped = u->result == EXIT_KIND_STOPPED;
	u->exit_wstatus = wstatus;
	if (u->result == EXIT_KIND_SUCCESS)
		u->result = classify(u, wstatus);
	if (u->sub == SUB_START && u->cfg->type == UNIT_TYPE_FORKING &&
	    u->result == EXIT_KIND_SUCCESS) {
		adopt(u);
		return;
	}
	u->exit_to_note = true;
	if (u->sub == SUB_STOP_CMD)
		return; /* ExecStop= made it go: the rest of the phase first */
	if (u->sub == SUB_POST || u->sub == SUB_RELOAD)
		unit_phase_abandon(u);
	/* a oneshot done: ExecStartPost= now */
	if (u->sub == SUB_START && u->cfg->type == UNIT_TYPE_ONESHOT &&
	    u->result == EXIT_KIND_SUCCESS && u->cfg->exec_start_post.n) {
		unit_phase_begin(u, SUB_POST, &u->cfg->exec_start_post);
		return;
	}
	/* Nothing of a run outlives its main process: the unit settles once its cgroup is
	 * empty (unit_drained()). */
	run_over(u);
}

void unit_drained(struct unit *u)
{
	if (u->sub == SUB_DRAIN)
		finish(u);
}

void unit_phase_done(struct unit *u, enum unit_sub phase, bool ok, enum exit_kind kind)
{
	switch (phase) {
	case SUB_PRE:
		if (ok) {
			spawn_main(u);
			return;
		}
		u->result = kind;
		run_over(u);
		return;
	case SUB_POST:
		if (!ok && u->main.pid) {
			unit_fail_stop(u, kind, unit_stop_signal(u), u->error);
			return;
		}
		if (!ok)
			u->result = kind;
		if (u->main.pid)
			unit_set_sub(u, SUB_RUNNING);
		else
			run_over(u); /* a oneshot's ExecStartPost= */
		return;
	case SUB_RELOAD:
		if (u->main.pid)
			unit_set_sub(u, SUB_RUNNING);
		return;
	case SUB_STOP_CMD:
		if (u->main.pid)
			stop_signal(u); /* what ExecStop= left running */
		else
			run_over(u);
		return;
	case SUB_STOP_POST:
		decide(u);
		return;
	default:
		return;
	}
}

int unit_reload(struct unit *u, struct sup_error **err)
{
	if (u->sub != SUB_RUNNING && u->sub != SUB_UNHEALTHY)
		return sup_error_set(err, 0, "%s: not running (%s)", u->name,
				     unit_state_name(u->state));
	if (!u->cfg->exec_reload.n)
		return sup_error_set(err, 0, "%s: no ExecReload= to reload it with", u->name);
	unit_phase_begin(u, SUB_RELOAD, &u->cfg->exec_reload);
	return 0;
}

int unit_start(struct unit *u, bool clear_limit, struct sup_error **err)
{
	if (u->sub == SUB_BAD)
		return sup_error_set(err, 0, "%s: bad unit: %s", u->name, u->error);
	if (clear_limit)
		start_limit_reset(&u->limit);
	free(u->dep_error);
	u->dep_error = NULL;
	for (size_t i = 0; i < u->conflicts.n; i++)
		unit_stop(u->conflicts.v[i]); /* Conflicts=: the other one goes first */
	if (unit_is_down(u)) {
		u->job = JOB_START;
		u->restart_delay = 0;
		deps_want(u);
		unit_set_sub(u, SUB_QUEUED);
		return 0;
	}
	deps_want(u);
	return 0;
}

void unit_stop(struct unit *u)
{
	deps_unwant(u);
	for (size_t i = 0; i < u->parts.n; i++) /* PartOf=: its parts stop with it */
		if (u->parts.v[i]->goal == GOAL_UP)
			unit_stop(u->parts.v[i]);
}

void unit_restart(struct unit *u)
{
	free(u->dep_error);
	u->dep_error = NULL;
	start_limit_reset(&u->limit);
	if (unit_is_down(u)) {
		unit_start(u, true, NULL);
		return;
	}
	deps_want(u);
	u->job = JOB_RESTART;
	unit_stop_now(u);
	for (size_t i = 0; i < u->parts.n; i++) /* PartOf=: and restart with it */
		if (!unit_is_down(u->parts.v[i]))
			unit_restart(u->parts.v[i]);
}

void unit_reset(struct unit *u)
{
	start_limit_reset(&u->limit);
	u->restart_delay = 0;
	free(u->dep_error);
	u->dep_error = NULL;
	if (u->sub == SUB_FAILED)
		unit_set_sub(u, SUB_DEAD);
}

static void (*shutdown_hook)(void);

void sup_on_shutdown(void (*fn)(void))
{
	shutdown_hook = fn;
}

void sup_shutdown(int status)
{
	struct unit *u;

	if (supd->shutting_down)
		return;
	sup_info(NULL, "shutting down (exit status %d)", status);
	supd->shutting_down = true;
	supd->exit_status = status;
	if (shutdown_hook)
		shutdown_hook(); /* the machine's init arms its deadline */
	for_each_unit(u) deps_unwant(u);
	sup_sched_poke();
}
