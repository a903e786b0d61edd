/*
 * Dependency ordering. Units carry a `wanted` flag; one scheduling pass, run before the
 * loop sleeps whenever something changed, starts what is wanted once its Requires=/After=
 * units are up, and stops what is unwanted once nothing ordered after it is still up
 * (so stops run in reverse order). Ordering edges are Requires= plus After=.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/log.h"
#include "supd.h"

void sup_schedule(void)
{
	supd->sched_pending = true;
}

void sup_want(struct unit *u)
{
	if (u->wanted || !u->cfg)
		return;
	u->wanted = true;
	for (size_t i = 0; i < u->cfg->requires.n; i++) {
		struct unit *r = sup_unit_find(u->cfg->requires.v[i]);
		if (r)
			sup_want(r);
	}
	for (size_t i = 0; i < u->cfg->wants.n; i++) {
		struct unit *w = sup_unit_find(u->cfg->wants.v[i]);
		if (w && unit_is_down(w) && w->state != UNIT_FAILED)
			sup_want(w);
	}
	sup_schedule();
}

static bool requires(const struct unit *u, const char *name)
{
	return u->cfg && strv_contains(&u->cfg->requires, name);
}

/* u must start after (and stop before) `name`. */
static bool ordered_after(const struct unit *u, const char *name)
{
	return u->cfg &&
	       (strv_contains(&u->cfg->requires, name) || strv_contains(&u->cfg->after, name));
}

void sup_unwant(struct unit *u)
{
	struct unit *v;

	if (!u->wanted && !u->restart_after_stop)
		return;
	u->wanted = false;
	u->restart_after_stop = false;
	for_each_unit(v) if (requires(v, u->name)) sup_unwant(v);
	sup_schedule();
}

static bool is_active(const struct unit *u)
{
	return !unit_is_down(u);
}

/* A requirement that is gone for good: the text of why, or NULL. */
static const char *requirement_lost(const char *name, const struct unit *r, char *buf, size_t n)
{
	if (!r) {
		snprintf(buf, n, "required unit '%s' does not exist", name);
		return buf;
	}
	if (r->state == UNIT_FAILED || r->state == UNIT_BAD) {
		snprintf(buf, n, "required unit '%s' %s", r->name,
			 r->state == UNIT_BAD ? "is a bad unit" : "failed");
		return buf;
	}
	if (r->state == UNIT_EXITED && !unit_is_up(r)) {
		snprintf(buf, n, "required unit '%s' exited", r->name);
		return buf;
	}
	if (r->state == UNIT_INACTIVE && !r->wanted) {
		snprintf(buf, n, "required unit '%s' was stopped", r->name);
		return buf;
	}
	return NULL;
}

/*
 * The first requirement of u that is not up: NULL if all are. When one is lost for good,
 * u->dep_error says why.
 */
static struct unit *requirement_not_up(struct unit *u, bool *lost)
{
	char buf[256];

	*lost = false;
	for (size_t i = 0; i < u->cfg->requires.n; i++) {
		struct unit *r = sup_unit_find(u->cfg->requires.v[i]);
		const char *why = requirement_lost(u->cfg->requires.v[i], r, buf, sizeof(buf));

		if (why) {
			free(u->dep_error);
			u->dep_error = strdup(why);
			*lost = true;
			return r ? r : u;
		}
		if (!unit_is_up(r))
			return r;
	}
	return NULL;
}

/* May a wanted unit start now? */
static bool may_start(struct unit *u)
{
	bool lost;

	if (requirement_not_up(u, &lost))
		return false;
	for (size_t i = 0; i < u->cfg->after.n; i++) {
		struct unit *a = sup_unit_find(u->cfg->after.v[i]);
		/* ordering only: wait while it is on its way up */
		if (a && a->wanted && !unit_is_up(a) && a->state != UNIT_FAILED &&
		    a->state != UNIT_EXITED && a->state != UNIT_BAD)
			return false;
	}
	return true;
}

/* For a wanted, active unit: must it stop because a requirement went down? */
static bool requirement_down(struct unit *u)
{
	bool lost;
	struct unit *r = requirement_not_up(u, &lost);

	if (r && lost) {
		u->wanted = false;
		sup_unit_note(u, "stopping: %s", u->dep_error);
		return true;
	}
	if (r && r->state != UNIT_STARTING) {
		sup_unit_note(u, "stopping until required unit '%s' is back", r->name);
		return true;
	}
	return false;
}

/* No unit that is being stopped too, and is ordered after u, is still active. (Ordering
 * binds only units stopping together: a unit that stays wanted does not hold u up.) */
static bool dependants_down(const struct unit *u)
{
	struct unit *v;

	for_each_unit(v)
	{
		if (v != u && !v->wanted && is_active(v) && ordered_after(v, u->name))
			return false;
	}
	return true;
}

static void pass_one(struct unit *u)
{
	if (!u->cfg)
		return;
	if (u->wanted && !supd->shutting_down) { /* nothing starts once shutdown has begun */
		bool waiting =
		    u->state == UNIT_INACTIVE || (u->state == UNIT_STARTING && u->pid == 0);
		if (waiting && may_start(u)) {
			sup_unit_spawn(u);
		} else if (waiting && u->dep_error) {
			u->wanted = false;
			sup_unit_stop_now(u);
		} else if (is_active(u) && u->state != UNIT_STOPPING && u->pid &&
			   requirement_down(u)) {
			sup_unit_stop_now(u);
		}
		return;
	}
	if (is_active(u) && dependants_down(u))
		sup_unit_stop_now(u);
}

static bool all_down(void)
{
	struct unit *u;

	for_each_unit(u) if (!unit_is_down(u) || u->health_pid) return false;
	return true;
}

void sup_sched_pass(void)
{
	struct unit *u;

	/* Each pass may change states, which asks for another pass: run until stable. */
	for (int rounds = 0; supd->sched_pending && rounds < 1000; rounds++) {
		supd->sched_pending = false;
		for_each_unit(u)
		{
			if (u->removed && unit_is_down(u) && !u->health_pid) {
				sup_unit_free(u);
				continue;
			}
			pass_one(u);
		}
	}
	if (supd->shutting_down && all_down())
		ev_break(supd->loop, EVBREAK_ALL);
}
