/*
 * The unit state machine. unit_set_state() is the only writer of u->state and arms the
 * timer each state needs; everything else reacts to events (spawned, exited, timer).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "supd.h"

static const char *const state_names[UNIT_STATE__MAX] = {
    [UNIT_INACTIVE] = "inactive", [UNIT_STARTING] = "starting",	    [UNIT_RUNNING] = "running",
    [UNIT_STOPPING] = "stopping", [UNIT_RESTARTING] = "restarting", [UNIT_EXITED] = "exited",
    [UNIT_FAILED] = "failed",	  [UNIT_UNHEALTHY] = "unhealthy",   [UNIT_BAD] = "bad-unit",
};

const char *unit_state_name(enum unit_state s)
{
	return s < UNIT_STATE__MAX ? state_names[s] : "unknown";
}

static double secs(uint64_t usec)
{
	return (double)usec / 1e6;
}

void sup_unit_note(struct unit *u, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sup_info(u->name, "%s", buf);
	if (u->log) {
		logbuf_note(u->log, now_real(), "%s", buf);
		sup_control_log_added(u);
	}
}

static void set_error(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct unit *u, const char *fmt, ...)
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

/* Arm the state's own timer: ready timeout, stop timeout or restart delay. */
static void arm_state_timer(struct unit *u)
{
	uint64_t usec = 0;

	ev_timer_stop(supd->loop, &u->timer);
	switch (u->state) {
	case UNIT_STARTING:
		if (u->pid && u->cfg->type == UNIT_TYPE_NOTIFY)
			usec = u->cfg->ready_timeout_usec;
		break;
	case UNIT_STOPPING:
		usec = u->cfg->stop_timeout_usec;
		break;
	case UNIT_UNHEALTHY:
		if (u->killing)
			usec = u->cfg->stop_timeout_usec;
		break;
	case UNIT_RESTARTING:
		ev_timer_set(&u->timer, secs(u->restart_delay), 0.);
		ev_timer_start(supd->loop, &u->timer);
		return;
	default:
		return;
	}
	if (usec == 0 || usec == USEC_INFINITY)
		return;
	ev_timer_set(&u->timer, secs(usec), 0.);
	ev_timer_start(supd->loop, &u->timer);
}

/* A start or restart request is settled once the unit reaches one of these. */
static bool settles_job(const struct unit *u)
{
	switch (u->state) {
	case UNIT_RUNNING:
	case UNIT_EXITED:
	case UNIT_FAILED:
	case UNIT_BAD:
	case UNIT_RESTARTING:
	case UNIT_UNHEALTHY:
		return true;
	case UNIT_INACTIVE:
		return !u->wanted && !u->restart_after_stop;
	default:
		return false;
	}
}

/* ExitWithUnit=: the unit has ended and nothing will start it again by itself. */
static bool ends_for_good(const struct unit *u, enum unit_state old)
{
	if (!u->cfg || !u->cfg->exit_with_unit || supd->shutting_down)
		return false;
	return u->state == UNIT_EXITED || u->state == UNIT_FAILED ||
	       (u->state == UNIT_INACTIVE && old != UNIT_STARTING);
}

/* supd's exit status for an ExitWithUnit= unit: as tini, its code or 128+signal. */
static int exit_with_status(const struct unit *u)
{
	if (u->last_exit.valid)
		return policy_exit_status(u->last_exit.signaled, u->last_exit.code);
	return u->state == UNIT_FAILED ? 1 : 0;
}

void unit_set_state(struct unit *u, enum unit_state s)
{
	enum unit_state old = u->state;

	u->state = s;
	if (old != s) {
		u->state_mono = now_mono();
		sup_debug(u->name, "%s -> %s", unit_state_name(old), unit_state_name(s));
	}
	if (s == UNIT_RUNNING && old != UNIT_UNHEALTHY)
		sup_health_arm(u);
	else if (s != UNIT_RUNNING && s != UNIT_UNHEALTHY)
		sup_health_disarm(u);
	if (!u->pid)
		ev_timer_stop(supd->loop, &u->watchdog);
	/* The error explains failed, bad-unit, a pending restart or a failure kill. */
	if (s == UNIT_STARTING || s == UNIT_RUNNING || s == UNIT_INACTIVE || s == UNIT_EXITED) {
		free(u->error);
		u->error = NULL;
	}
	if (u->job_pending && settles_job(u))
		u->job_pending = false;
	if (s == UNIT_INACTIVE || s == UNIT_EXITED || s == UNIT_FAILED)
		sup_cg_release(u);
	if (old != s && ends_for_good(u, old))
		sup_shutdown(exit_with_status(u));
	arm_state_timer(u);
	sup_control_state_changed(u);
	sup_schedule();
}

bool unit_is_up(const struct unit *u)
{
	if (u->state == UNIT_RUNNING || u->state == UNIT_UNHEALTHY)
		return true;
	return u->state == UNIT_EXITED && u->cfg && u->cfg->type == UNIT_TYPE_ONESHOT;
}

bool unit_is_down(const struct unit *u)
{
	return u->pid == 0 && !u->draining && u->state != UNIT_STARTING &&
	       u->state != UNIT_RUNNING && u->state != UNIT_STOPPING &&
	       u->state != UNIT_UNHEALTHY && u->state != UNIT_RESTARTING;
}

/* Spawn now. Called by the scheduler once dependencies allow it, and on restart. */
void sup_unit_spawn(struct unit *u)
{
	struct sup_error *err = NULL;

	if (!start_limit_allow(&u->limit, u->cfg->start_limit_interval_usec, now_mono())) {
		set_error(u, "start limit hit: more than %u starts within %.0fs",
			  u->cfg->start_limit_burst, secs(u->cfg->start_limit_interval_usec));
		sup_unit_note(u, "%s", u->error);
		u->wanted = false;
		u->auto_restart = false;
		unit_set_state(u, UNIT_FAILED);
		return;
	}
	if (u->auto_restart)
		u->restarts++;
	u->auto_restart = false;
	if (u->next_cfg) {
		unit_config_free(u->cfg);
		free(u->cfg);
		u->cfg = sup_steal_ptr(u->next_cfg);
	}
	u->run_seq++;
	u->ready = false;
	u->exec_done = false;
	u->killing = false;
	u->spawn_failed = false;
	free(u->status_text);
	u->status_text = NULL;
	if (sup_spawn_unit(u, &err) < 0) {
		sup_unit_note(u, "cannot start: %s", err->msg);
		set_error(u, "%s", err->msg);
		sup_error_free(err);
		u->wanted = false;
		unit_set_state(u, UNIT_FAILED);
		return;
	}
	u->start_mono = now_mono();
	u->start_real = now_real();
	sup_debug(u->name, "spawned pid %d", (int)u->pid);
	unit_set_state(u, UNIT_STARTING);
	sup_watchdog_arm(u);
}

/* The sync pipe said the service exec'd. */
void sup_unit_spawned(struct unit *u)
{
	u->exec_done = true;
	if (u->state != UNIT_STARTING || u->pid == 0)
		return;
	if (u->cfg->type == UNIT_TYPE_SIMPLE || (u->cfg->type == UNIT_TYPE_NOTIFY && u->ready))
		unit_set_state(u, UNIT_RUNNING);
}

/* The child failed before exec: keep the message, its exit comes next. */
void sup_unit_spawn_failed(struct unit *u, const char *msg)
{
	u->spawn_failed = true;
	set_error(u, "%s", msg);
	sup_unit_note(u, "cannot start: %s", msg);
}

/* Signal the unit's process group (and the main pid, in case it left the group). */
static void kill_unit(struct unit *u, int sig)
{
	/* with a cgroup: every process of the unit, whatever its process group */
	if (sup_cg_signal(u, sig))
		return; /* the main process is in it too: each gets the signal once */
	if (u->pgid > 0 && kill(-u->pgid, sig) < 0 && errno != ESRCH)
		sup_warn(u->name, "kill process group %d: %s", (int)u->pgid, strerror(errno));
	/* once only: the main process is normally the group's leader */
	if (u->pid > 0 && getpgid(u->pid) != u->pgid)
		kill(u->pid, sig);
}

/* Kill the unit for a reason that counts as a failure; its exit applies Restart=. */
void sup_unit_fail_stop(struct unit *u, enum exit_kind kind, int sig, const char *why)
{
	if (!u->pid)
		return;
	sup_unit_note(u, "%s", why);
	set_error(u, "%s", why);
	u->killing = true;
	u->stop_kind = kind;
	if (kind == EXIT_KIND_WATCHDOG)
		kill(u->pid, sig); /* the main process dumps core; the group follows at timeout */
	else
		kill_unit(u, sig);
	unit_set_state(u, kind == EXIT_KIND_UNHEALTHY ? UNIT_UNHEALTHY : UNIT_STOPPING);
}

/* Begin stopping a unit that the scheduler says may stop now. */
void sup_unit_stop_now(struct unit *u)
{
	switch (u->state) {
	case UNIT_INACTIVE:
	case UNIT_RESTARTING:
	case UNIT_STARTING:
		if (u->pid == 0) {
			if (u->dep_error) {
				set_error(u, "%s", u->dep_error);
				unit_set_state(u, UNIT_FAILED);
			} else {
				unit_set_state(u, UNIT_INACTIVE);
			}
			return;
		}
		break;
	case UNIT_STOPPING:
		u->stop_kind = EXIT_KIND_SUCCESS; /* a request now, whatever began it */
		return;
	default:
		break;
	}
	if (!u->pid)
		return;
	u->killing = true;
	u->stop_kind = EXIT_KIND_SUCCESS;
	kill_unit(u, u->cfg->stop_signal);
	if (u->cfg->stop_signal != SIGKILL)
		kill_unit(u, SIGCONT); /* a stopped process must see its SIGTERM */
	unit_set_state(u, UNIT_STOPPING);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, timer);
	char why[128];

	switch (u->state) {
	case UNIT_STARTING:
		snprintf(why, sizeof(why), "not ready after %.3gs (ReadyTimeoutSec)",
			 secs(u->cfg->ready_timeout_usec));
		sup_unit_fail_stop(u, EXIT_KIND_TIMEOUT, u->cfg->stop_signal, why);
		break;
	case UNIT_STOPPING:
	case UNIT_UNHEALTHY:
		sup_unit_note(u, "still running %.3gs after the stop signal: SIGKILL",
			      secs(u->cfg->stop_timeout_usec));
		kill_unit(u, SIGKILL);
		break;
	case UNIT_RESTARTING:
		/* back through the scheduler: requirements are checked again */
		u->auto_restart = true;
		unit_set_state(u, UNIT_STARTING);
		break;
	default:
		break;
	}
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, watchdog);
	char why[128];

	ev_timer_stop(loop, w);
	snprintf(why, sizeof(why), "watchdog timeout: no WATCHDOG=1 within %.3gs: SIGABRT",
		 secs(u->cfg->watchdog_usec));
	sup_unit_fail_stop(u, EXIT_KIND_WATCHDOG, SIGABRT, why);
}

void sup_unit_timers_init(struct unit *u)
{
	ev_init(&u->timer, on_timer);
	ev_init(&u->watchdog, on_watchdog);
}

static enum exit_kind classify(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus) == 0 ? EXIT_KIND_SUCCESS : EXIT_KIND_CODE;
	return EXIT_KIND_SIGNAL;
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

/* The end of a run that nobody asked for (or a failure kill): Restart= decides. */
static void ended(struct unit *u, enum exit_kind kind, const char *what)
{
	uint64_t run = now_mono() - u->start_mono;

	if (kind == EXIT_KIND_SUCCESS && u->cfg->type == UNIT_TYPE_ONESHOT && !u->dep_error &&
	    u->cfg->restart != UNIT_RESTART_ALWAYS) {
		unit_set_state(u, UNIT_EXITED);
		return;
	}
	if (u->wanted && !supd->shutting_down && policy_should_restart(u->cfg->restart, kind)) {
		u->restart_delay = policy_restart_delay(u->cfg, u->restart_delay, run);
		if (kind != EXIT_KIND_SUCCESS && !u->error)
			set_error(u, "%s", what);
		sup_unit_note(u, "restarting in %.3gs", secs(u->restart_delay));
		unit_set_state(u, UNIT_RESTARTING);
		return;
	}
	u->wanted = false;
	if (policy_is_failure(kind)) {
		if (!u->error)
			set_error(u, "%s", what);
		unit_set_state(u, UNIT_FAILED);
	} else {
		unit_set_state(u, UNIT_EXITED);
	}
}

void sup_unit_exited(struct unit *u, int wstatus)
{
	u->pid = 0;
	u->last_exit.valid = true;
	u->last_exit.signaled = !WIFEXITED(wstatus);
	u->last_exit.code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus);
	sup_spawn_sync_finish(u);
	u->exit_wstatus = wstatus;
	/* Nothing of a run outlives its main process: with a cgroup, the unit is down only
	 * once the cgroup is empty (sup_unit_exit_finish() is called then). */
	if (sup_cg_drain(u))
		return;
	if (!u->cg && u->pgid > 0)
		kill(-u->pgid, SIGKILL);
	sup_unit_exit_finish(u);
}

void sup_unit_exit_finish(struct unit *u)
{
	int wstatus = u->exit_wstatus;
	enum exit_kind kind = classify(wstatus);
	char what[96];

	sup_output_drain(u); /* its last words come before the note of its end */
	describe_exit(u, what, sizeof(what));
	if (u->oom_this_run && u->last_exit.signaled && u->last_exit.code == SIGKILL) {
		snprintf(what, sizeof(what), "killed by SIGKILL: out of memory (OOM kill)");
		if (!u->killing || u->stop_kind != EXIT_KIND_SUCCESS)
			set_error(u, "%s", what);
	}
	sup_unit_note(u, "%s", what);
	if (u->spawn_failed)
		kind = EXIT_KIND_SPAWN;
	if (u->killing) {
		u->killing = false;
		if (u->stop_kind != EXIT_KIND_SUCCESS)
			kind = u->stop_kind;
		else {
			sup_unit_stopped(u);
			return;
		}
	}
	ended(u, kind, what);
}

/* A requested stop completed. */
void sup_unit_stopped(struct unit *u)
{
	if (u->restart_after_stop) {
		u->restart_after_stop = false;
		u->wanted = true;
		start_limit_reset(&u->limit);
		u->restart_delay = 0;
		unit_set_state(u, UNIT_STARTING);
		return;
	}
	if (u->dep_error) {
		set_error(u, "%s", u->dep_error);
		unit_set_state(u, UNIT_FAILED);
		return;
	}
	unit_set_state(u, UNIT_INACTIVE);
}

/* `start`: want it (and what it needs); the scheduler spawns when dependencies allow. */
int sup_unit_start(struct unit *u, bool clear_limit, struct sup_error **err)
{
	if (u->state == UNIT_BAD)
		return sup_error_set(err, 0, "%s: bad unit: %s", u->name, u->error);
	if (clear_limit)
		start_limit_reset(&u->limit);
	free(u->dep_error);
	u->dep_error = NULL;
	sup_want(u);
	if (unit_is_down(u)) {
		u->job_pending = true;
		u->restart_delay = 0;
		unit_set_state(u, UNIT_STARTING); /* pid 0: waiting for the scheduler */
	}
	return 0;
}

void sup_unit_stop(struct unit *u)
{
	u->restart_after_stop = false;
	sup_unwant(u);
	sup_schedule();
}

void sup_unit_restart(struct unit *u)
{
	free(u->dep_error);
	u->dep_error = NULL;
	start_limit_reset(&u->limit);
	if (unit_is_down(u)) {
		sup_unit_start(u, true, NULL);
		return;
	}
	sup_want(u);
	u->job_pending = true;
	u->restart_after_stop = true;
	sup_unit_stop_now(u);
}

void sup_unit_reset(struct unit *u)
{
	start_limit_reset(&u->limit);
	u->restart_delay = 0;
	free(u->dep_error);
	u->dep_error = NULL;
	if (u->state == UNIT_FAILED)
		unit_set_state(u, UNIT_INACTIVE);
}
