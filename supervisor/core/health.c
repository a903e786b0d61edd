/*
 * HealthCmd=: run every HealthIntervalSec while the unit is up; a check that exits non-zero
 * or outlives HealthTimeoutSec is a failure; HealthRetries consecutive failures make the
 * unit unhealthy, and Restart= decides whether it is killed and restarted. One timer per
 * unit serves both the interval and the timeout.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "supd.h"

static void arm(struct unit *u, uint64_t usec)
{
	ev_timer_stop(supd->loop, &u->health_timer);
	ev_timer_set(&u->health_timer, (double)usec / 1e6, 0.);
	ev_timer_start(supd->loop, &u->health_timer);
}

static void check_failed(struct unit *u, const char *why)
{
	char msg[160];

	u->health_failures++;
	sup_unit_note(u, "health check failed (%u/%u): %s", u->health_failures,
		      u->cfg->health_retries, why);
	if (u->health_failures < u->cfg->health_retries || u->state != UNIT_RUNNING)
		return;
	snprintf(msg, sizeof(msg), "unhealthy: %u consecutive health checks failed",
		 u->health_failures);
	if (policy_should_restart(u->cfg->restart, EXIT_KIND_UNHEALTHY) && !supd->shutting_down) {
		sup_unit_fail_stop(u, EXIT_KIND_UNHEALTHY, u->cfg->stop_signal, msg);
	} else {
		sup_unit_note(u, "%s", msg);
		unit_set_state(u, UNIT_UNHEALTHY);
	}
}

static void on_health_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, health_timer);
	struct sup_error *err = NULL;
	pid_t pid;

	if (u->health_pid) {
		/* still running at HealthTimeoutSec */
		kill(-u->health_pid, SIGKILL);
		return; /* the reaper reports it as a failure */
	}
	pid = sup_spawn_health(u, &err);
	if (pid < 0) {
		check_failed(u, err->msg);
		sup_error_free(err);
		arm(u, u->cfg->health_interval_usec);
		return;
	}
	u->health_pid = pid;
	u->health_started = now_mono();
	arm(u, u->cfg->health_timeout_usec);
}

void sup_health_arm(struct unit *u)
{
	if (!u->cfg || u->cfg->health_cmd.n == 0 || ev_is_active(&u->health_timer) || u->health_pid)
		return;
	ev_init(&u->health_timer, on_health_timer);
	u->health_failures = 0;
	arm(u, u->cfg->health_interval_usec);
}

void sup_health_disarm(struct unit *u)
{
	ev_timer_stop(supd->loop, &u->health_timer);
	if (u->health_pid)
		kill(-u->health_pid, SIGKILL); /* reaped later; the result is ignored */
}

static struct unit *unit_of_check(pid_t pid)
{
	struct unit *u;

	for_each_unit(u) if (u->health_pid == pid) return u;
	return NULL;
}

bool sup_health_reaped(pid_t pid, int wstatus)
{
	struct unit *u = unit_of_check(pid);
	char why[96];

	if (!u)
		return false;
	u->health_pid = 0;
	if (u->state != UNIT_RUNNING && u->state != UNIT_UNHEALTHY) {
		sup_schedule(); /* a shutdown may be waiting for this check */
		return true;
	}
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
		if (u->health_failures || u->state == UNIT_UNHEALTHY)
			sup_unit_note(u, "health check passed");
		u->health_failures = 0;
		if (u->state == UNIT_UNHEALTHY && !u->killing)
			unit_set_state(u, UNIT_RUNNING);
	} else {
		if (WIFEXITED(wstatus))
			snprintf(why, sizeof(why), "exit code %d", WEXITSTATUS(wstatus));
		else if (WTERMSIG(wstatus) == SIGKILL)
			snprintf(why, sizeof(why), "timed out");
		else
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(wstatus));
		check_failed(u, why);
	}
	if (u->state == UNIT_RUNNING || (u->state == UNIT_UNHEALTHY && !u->killing))
		arm(u, u->cfg->health_interval_usec);
	return true;
}
