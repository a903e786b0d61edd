/*
 * The state table and its one setter. Each sub-state names its public state, the sub-states
 * that may follow it and the timeout it arms; the setter writes the state, arms that timer,
 * does the state machine's own bookkeeping (error text, settled jobs, the watchdog) and then
 * calls the observers.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sup/log.h"
#include "core/effects.h"
#include "core/state.h"
#include "supd.h"

#define BIT(s) (1u << (s))

/* What a process-owning sub-state may end in when its main process is gone. */
#define ENDINGS                                                                                    \
	(BIT(SUB_DEAD) | BIT(SUB_QUEUED) | BIT(SUB_FAILED) | BIT(SUB_EXITED) | BIT(SUB_REMAIN) |   \
	 BIT(SUB_AUTO_RESTART) | BIT(SUB_DRAIN) | BIT(SUB_STOP_POST))
#define STOPS (BIT(SUB_STOP_CMD) | BIT(SUB_STOP_TERM))

enum sub_timeout {
	TIMEOUT_NONE,
	TIMEOUT_READY,	 /* Type=notify, oneshot, forking: ReadyTimeoutSec = TimeoutStartSec */
	TIMEOUT_START,	 /* ExecStartPre=, ExecStartPost=: TimeoutStartSec */
	TIMEOUT_STOP,	 /* StopTimeoutSec, then SIGKILL */
	TIMEOUT_RESTART, /* the restart delay */
};

struct sub_info {
	const char *name;
	enum unit_state state;
	uint32_t next; /* sub-states that may follow */
	enum sub_timeout timeout;
};

static const struct sub_info subs[SUB__MAX] = {
    [SUB_DEAD] = {"dead", UNIT_INACTIVE, BIT(SUB_QUEUED) | BIT(SUB_FAILED), TIMEOUT_NONE},
    [SUB_QUEUED] = {"queued", UNIT_STARTING,
		    BIT(SUB_PULL) | BIT(SUB_PRE) | BIT(SUB_SPAWN) | BIT(SUB_DEAD) |
			BIT(SUB_FAILED) |
			BIT(SUB_AUTO_RESTART), /* supd could not spawn it: Restart= applies */
		    TIMEOUT_NONE},
    [SUB_PULL] = {"pull", UNIT_STARTING,
		  BIT(SUB_PRE) | BIT(SUB_SPAWN) | BIT(SUB_DEAD) | BIT(SUB_FAILED) |
		      BIT(SUB_AUTO_RESTART),
		  TIMEOUT_NONE},
    [SUB_PRE] = {"start-pre", UNIT_STARTING, BIT(SUB_SPAWN) | BIT(SUB_STOP_TERM) | ENDINGS,
		 TIMEOUT_NONE},
    [SUB_SPAWN] = {"spawn", UNIT_STARTING,
		   BIT(SUB_START) | BIT(SUB_POST) | BIT(SUB_RUNNING) | STOPS | ENDINGS,
		   TIMEOUT_READY},
    [SUB_START] = {"start", UNIT_STARTING, BIT(SUB_POST) | BIT(SUB_RUNNING) | STOPS | ENDINGS,
		   TIMEOUT_READY},
    [SUB_POST] = {"start-post", UNIT_STARTING, BIT(SUB_RUNNING) | STOPS | ENDINGS, TIMEOUT_START},
    [SUB_RUNNING] = {"running", UNIT_RUNNING,
		     BIT(SUB_RELOAD) | BIT(SUB_UNHEALTHY) | BIT(SUB_UNHEALTHY_KILL) | STOPS |
			 ENDINGS,
		     TIMEOUT_NONE},
    [SUB_RELOAD] = {"reload", UNIT_RUNNING, BIT(SUB_RUNNING) | BIT(SUB_UNHEALTHY) | STOPS | ENDINGS,
		    TIMEOUT_NONE},
    [SUB_UNHEALTHY] = {"unhealthy", UNIT_UNHEALTHY,
		       BIT(SUB_RUNNING) | BIT(SUB_UNHEALTHY_KILL) | STOPS | ENDINGS, TIMEOUT_NONE},
    [SUB_UNHEALTHY_KILL] = {"unhealthy-kill", UNIT_UNHEALTHY,
			    BIT(SUB_STOP_TERM) | BIT(SUB_STOP_KILL) | ENDINGS, TIMEOUT_STOP},
    [SUB_STOP_CMD] = {"stop-cmd", UNIT_STOPPING, BIT(SUB_STOP_TERM) | BIT(SUB_STOP_KILL) | ENDINGS,
		      TIMEOUT_STOP},
    [SUB_STOP_TERM] = {"stop-sigterm", UNIT_STOPPING, BIT(SUB_STOP_KILL) | ENDINGS, TIMEOUT_STOP},
    [SUB_STOP_KILL] = {"stop-sigkill", UNIT_STOPPING, ENDINGS, TIMEOUT_NONE},
    [SUB_DRAIN] = {"drain", UNIT_STOPPING, ENDINGS & ~BIT(SUB_DRAIN), TIMEOUT_NONE},
    [SUB_STOP_POST] = {"stop-post", UNIT_STOPPING, ENDINGS & ~(BIT(SUB_DRAIN) | BIT(SUB_STOP_POST)),
		       TIMEOUT_STOP},
    [SUB_AUTO_RESTART] = {"auto-restart", UNIT_RESTARTING,
			  BIT(SUB_QUEUED) | BIT(SUB_DEAD) | BIT(SUB_FAILED), TIMEOUT_RESTART},
    [SUB_EXITED] = {"exited", UNIT_EXITED, BIT(SUB_QUEUED) | BIT(SUB_DEAD), TIMEOUT_NONE},
    [SUB_REMAIN] = {"remain", UNIT_EXITED,
		    BIT(SUB_QUEUED) | BIT(SUB_DEAD) | BIT(SUB_STOP_CMD) | BIT(SUB_FAILED),
		    TIMEOUT_NONE},
    [SUB_FAILED] = {"failed", UNIT_FAILED, BIT(SUB_QUEUED) | BIT(SUB_DEAD), TIMEOUT_NONE},
    [SUB_BAD] = {"bad", UNIT_BAD, 0, TIMEOUT_NONE},
};

static const char *const state_names[UNIT_STATE__MAX] = {
    [UNIT_INACTIVE] = "inactive", [UNIT_STARTING] = "starting",	    [UNIT_RUNNING] = "running",
    [UNIT_STOPPING] = "stopping", [UNIT_RESTARTING] = "restarting", [UNIT_EXITED] = "exited",
    [UNIT_FAILED] = "failed",	  [UNIT_UNHEALTHY] = "unhealthy",   [UNIT_BAD] = "bad-unit",
};

#define OBSERVERS_MAX 16
static unit_observer_fn observers[OBSERVERS_MAX];
static size_t n_observers;
unsigned long unit_bad_transitions;

const char *unit_state_name(enum unit_state s)
{
	return s < UNIT_STATE__MAX ? state_names[s] : "unknown";
}

const char *unit_sub_name(enum unit_sub s)
{
	return s < SUB__MAX ? subs[s].name : "unknown";
}

enum unit_state unit_sub_state(enum unit_sub s)
{
	return s < SUB__MAX ? subs[s].state : UNIT_BAD;
}

bool unit_sub_allowed(enum unit_sub from, enum unit_sub to)
{
	return from == to || (subs[from].next & BIT(to)) != 0;
}

void unit_observe(unit_observer_fn fn)
{
	if (n_observers < OBSERVERS_MAX)
		observers[n_observers++] = fn;
}

void unit_observers_clear(void)
{
	n_observers = 0;
}

bool unit_is_up(const struct unit *u)
{
	switch (u->sub) {
	case SUB_RUNNING:
	case SUB_RELOAD:
	case SUB_UNHEALTHY:
	case SUB_UNHEALTHY_KILL:
	case SUB_REMAIN:
		return true;
	case SUB_EXITED:
		return u->cfg && u->cfg->type == UNIT_TYPE_ONESHOT;
	case SUB_DEAD:
		return u->condition_failed; /* skipped by a condition: counts as done */
	default:
		return false;
	}
}

bool unit_is_down(const struct unit *u)
{
	return u->sub == SUB_DEAD || u->sub == SUB_EXITED || u->sub == SUB_FAILED ||
	       u->sub == SUB_BAD;
}

bool unit_is_stopping(const struct unit *u)
{
	return u->sub == SUB_STOP_CMD || u->sub == SUB_STOP_TERM || u->sub == SUB_STOP_KILL ||
	       u->sub == SUB_UNHEALTHY_KILL || u->sub == SUB_DRAIN || u->sub == SUB_STOP_POST;
}

static uint64_t timeout_of(const struct unit *u, enum sub_timeout t)
{
	switch (t) {
	case TIMEOUT_READY:
		return u->cfg->type == UNIT_TYPE_SIMPLE ? 0 : u->cfg->ready_timeout_usec;
	case TIMEOUT_START:
		return u->cfg->ready_timeout_usec;
	case TIMEOUT_STOP:
		return u->cfg->stop_timeout_usec;
	case TIMEOUT_RESTART:
		return u->restart_delay;
	case TIMEOUT_NONE:
		break;
	}
	return 0;
}

/* The state timer belongs to the sub-state: re-armed on every change of sub-state. */
static void arm_state_timer(struct unit *u)
{
	enum sub_timeout t = subs[u->sub].timeout;
	uint64_t usec = u->cfg ? timeout_of(u, t) : 0;

	unit_timer_stop(u, UNIT_TIMER_STATE);
	/* 0 and infinity mean no timeout, as in systemd; a restart delay of 0 fires at once */
	if (t == TIMEOUT_NONE || usec == USEC_INFINITY || (usec == 0 && t != TIMEOUT_RESTART))
		return;
	unit_timer_arm(u, UNIT_TIMER_STATE, usec, 0);
}

/* A start/restart request is settled once the unit is up, failed, or restarting by policy. */
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
		return u->goal == GOAL_DOWN && u->job != JOB_RESTART;
	default:
		return false;
	}
}

/* The state machine's own bookkeeping on a change of public state. */
static void bookkeeping(struct unit *u, const struct unit_change *c)
{
	/* the error explains failed, bad-unit, a pending restart or a failure kill: a start,
	 * a run, a stop by request or a success clears it */
	if (c->new_state == UNIT_STARTING || c->new_state == UNIT_RUNNING ||
	    c->new_state == UNIT_INACTIVE || c->new_state == UNIT_EXITED) {
		free(u->error);
		u->error = NULL;
	}
}

void unit_set_sub(struct unit *u, enum unit_sub s)
{
	struct unit_change c = {u->sub, s, u->state, unit_sub_state(s)};

	if (!unit_sub_allowed(u->sub, s)) {
		unit_bad_transitions++;
		sup_err(u->name, "internal: %s -> %s is not an allowed transition",
			subs[u->sub].name, subs[s].name);
	}
	u->sub = s;
	u->state = c.new_state;
	if (c.old_state != c.new_state) {
		u->state_mono = now_mono();
		sup_debug(u->name, "%s -> %s (%s)", unit_state_name(c.old_state),
			  unit_state_name(c.new_state), subs[s].name);
		bookkeeping(u, &c);
	}
	if (u->job != JOB_NONE && settles_job(u))
		u->job = JOB_NONE;
	if (c.old_sub != s)
		arm_state_timer(u);
	if (!u->main.pid)
		unit_timer_stop(u, UNIT_TIMER_WATCHDOG);
	for (size_t i = 0; i < n_observers; i++)
		observers[i](u, &c);
}
