/* Health checks: one timer per unit serves both the interval and the timeout. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "sup/log.h"
#include "core/children.h"
#include "core/deps.h"
#include "core/effects.h"
#include "core/health.h"
#include "core/service.h"
#include "core/state.h"
#include "supd.h"

/* HealthIntervalSec=, with its floor (a warning at load time says so) */
static uint64_t interval(const struct unit *u)
{
	return u->cfg->health_interval_usec < UNIT_HEALTH_INTERVAL_MIN
		   ? UNIT_HEALTH_INTERVAL_MIN
		   : u->cfg->health_interval_usec;
}

static void check_failed(struct unit *u, const char *why)
{
	char msg[160];

	u->health_failures++;
	unit_note(u, "health check failed (%u/%u): %s", u->health_failures, u->cfg->health_retries,
		  why);
	if (u->health_failures < u->cfg->health_retries || u->sub != SUB_RUNNING)
		return;
	snprintf(msg, sizeof(msg), "unhealthy: %u consecutive health checks failed",
		 u->health_failures);
	if (policy_should_restart(u->cfg->restart, EXIT_KIND_UNHEALTHY) && !supd->shutting_down) {
		unit_fail_stop(u, EXIT_KIND_UNHEALTHY, unit_stop_signal(u), msg);
	} else {
		unit_note(u, "%s", msg);
		unit_set_sub(u, SUB_UNHEALTHY);
	}
}

static bool checking(const struct unit *u)
{
	return u->sub == SUB_RUNNING || u->sub == SUB_RELOAD || u->sub == SUB_UNHEALTHY;
}

static void health_reaped(struct sup_child *c, int wstatus)
{
	struct unit *u = sup_container_of(c, struct unit, health);
	char why[SPAWN_WHY_MAX];

	/* a check that passed or failed is over: nothing it started may stay (`sleep &`) */
	unit_kill(u, SIGKILL, KILL_HEALTH);
	u->health_pgid = 0;
	if (!checking(u)) {
		sup_sched_poke(); /* a shutdown may be waiting for this check */
		unit_health_exec_error(u, NULL, 0);
		return;
	}
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
		unit_health_exec_error(u, NULL, 0);
		if (u->health_failures || u->sub == SUB_UNHEALTHY)
			unit_note(u, "health check passed");
		u->health_failures = 0;
		if (u->sub == SUB_UNHEALTHY)
			unit_set_sub(u, SUB_RUNNING);
	} else {
		if (unit_health_exec_error(u, why, sizeof(why)))
			; /* the check could not run: its set-up or exec said why */
		else if (WIFEXITED(wstatus))
			snprintf(why, sizeof(why), "exit code %d", WEXITSTATUS(wstatus));
		else if (WTERMSIG(wstatus) == SIGKILL)
			snprintf(why, sizeof(why), "timed out");
		else
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(wstatus));
		check_failed(u, why);
	}
	if (checking(u))
		unit_timer_arm(u, UNIT_TIMER_HEALTH, interval(u), 0);
}

void unit_health_timer(struct unit *u)
{
	struct sup_error *err = NULL;

	if (u->health.pid) {
		/* still running at HealthTimeoutSec: its exit is reported as a failure */
		unit_kill(u, SIGKILL, KILL_HEALTH);
		return;
	}
	if (unit_exec_health(u, &err) < 0) {
		check_failed(u, err->msg);
		sup_error_free(err);
		if (checking(u))
			unit_timer_arm(u, UNIT_TIMER_HEALTH, interval(u), 0);
		return;
	}
	sup_child_add(&u->health, u->health.pid, CHILD_HEALTH, health_reaped);
	u->health_started = now_mono();
	unit_timer_arm(u, UNIT_TIMER_HEALTH, u->cfg->health_timeout_usec, 0);
}

static void arm(struct unit *u)
{
	if (!u->cfg || u->cfg->health_cmd.n == 0 || unit_timer_active(u, UNIT_TIMER_HEALTH) ||
	    u->health.pid)
		return;
	u->health_failures = 0;
	unit_timer_arm(u, UNIT_TIMER_HEALTH, interval(u), 0);
}

void unit_health_disarm(struct unit *u)
{
	unit_timer_stop(u, UNIT_TIMER_HEALTH);
	if (u->health.pid)
		unit_kill(u, SIGKILL, KILL_HEALTH); /* reaped later; the result is ignored */
}

void unit_health_observe(struct unit *u, const struct unit_change *c)
{
	if (c->new_sub == SUB_RUNNING && c->old_sub != SUB_UNHEALTHY && c->old_sub != SUB_RELOAD)
		arm(u);
	else if (!checking(u))
		unit_health_disarm(u);
}
