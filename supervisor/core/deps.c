/*
 * Dependency ordering over resolved edges. Requires= and After= order a start (and, in
 * reverse, a stop); Wants= only pulls a unit up. A change of state or goal queues the unit and
 * its neighbours, and a pass handles what is queued, so the work of a pass is proportional
 * to what changed, not to the number of units.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/log.h"
#include "core/children.h"
#include "core/deps.h"
#include "core/effects.h"
#include "core/service.h"
#include "core/state.h"
#include "supd.h"

#define PASS_BUDGET_USEC 10000

static struct list dirty = {&dirty, &dirty};
unsigned long sup_sched_steps; /* units looked at by passes, ever (tests: the cost) */
static bool poked;
static size_t n_active; /* units not down */
static void (*on_all_down)(void);

/* ---- edges */

static void edges_free(struct unit_edges *e)
{
	free(e->v);
	free(e->names);
	*e = (struct unit_edges){0};
}

void deps_clear(struct unit *u)
{
	edges_free(&u->requires);
	edges_free(&u->wants);
	edges_free(&u->after);
	edges_free(&u->conflicts);
	edges_free(&u->parts);
	edges_free(&u->required_by);
	edges_free(&u->ordered_by);
}

/* names -> pointers, one slot per name of every list (NULL: no such live unit), the names
 * kept beside them for messages */
static void resolve(struct unit_edges *e, const struct strv *a, const struct strv *b)
{
	size_t n = a->n + (b ? b->n : 0);

	e->v = n ? calloc(n, sizeof(*e->v)) : NULL;
	e->names = n ? calloc(n, sizeof(*e->names)) : NULL;
	e->n = e->v && e->names ? n : 0;
	for (size_t i = 0; i < e->n; i++) {
		e->names[i] = i < a->n ? a->v[i] : b->v[i - a->n];
		e->v[i] = unit_find(e->names[i]);
	}
}

static void add_back(struct unit_edges *e, struct unit *u)
{
	struct unit **v;

	for (size_t i = 0; i < e->n; i++)
		if (e->v[i] == u)
			return;
	v = reallocarray(e->v, e->n + 1, sizeof(*v));
	if (!v)
		return; /* out of memory: this edge orders nothing */
	e->v = v;
	e->v[e->n++] = u;
}

/* Before=, Conflicts=, PartOf=: each also an edge of the unit named. */
static void resolve_others(struct unit *u)
{
	const struct unit_config *c = u->cfg;
	struct unit *v;

	for (size_t i = 0; i < c->before.n; i++) /* u Before= v: v starts after u */
		if ((v = unit_find(c->before.v[i])) && v->cfg) {
			add_back(&v->after, u);
			add_back(&u->ordered_by, v);
		}
	for (size_t i = 0; i < c->conflicts.n; i++)
		if ((v = unit_find(c->conflicts.v[i])) && v != u) {
			add_back(&u->conflicts, v);
			add_back(&v->conflicts, u);
		}
	for (size_t i = 0; i < c->part_of.n; i++)
		if ((v = unit_find(c->part_of.v[i])) && v != u)
			add_back(&v->parts, u);
}

void deps_resolve(void)
{
	struct unit *u;

	for_each_unit(u) deps_clear(u);
	for_each_unit(u)
	{
		if (u->removed || !u->cfg)
			continue;
		/* BindsTo= is a Requires= here: a requirement that goes down for any reason
		 * takes its dependants down already */
		resolve(&u->requires, &u->cfg->requires, &u->cfg->binds_to);
		resolve(&u->wants, &u->cfg->wants, NULL);
		resolve(&u->after, &u->cfg->after, NULL);
	}
	for_each_unit(u)
	{
		if (u->removed || !u->cfg)
			continue;
		for (size_t i = 0; i < u->requires.n; i++)
			if (u->requires.v[i]) {
				add_back(&u->requires.v[i]->required_by, u);
				add_back(&u->requires.v[i]->ordered_by, u);
			}
		for (size_t i = 0; i < u->after.n; i++)
			if (u->after.v[i])
				add_back(&u->after.v[i]->ordered_by, u);
		resolve_others(u);
	}
}

/* ---- the queue */

static void queue(struct unit *u)
{
	if (u && !u->dirty) {
		u->dirty = true;
		list_add_tail(&dirty, &u->dirty_link);
	}
}

static void queue_all(const struct unit_edges *e)
{
	for (size_t i = 0; i < e->n; i++)
		queue(e->v[i]);
}

void deps_touch(struct unit *u)
{
	queue(u);
	queue_all(&u->requires);
	queue_all(&u->wants);
	queue_all(&u->after);
	queue_all(&u->conflicts);
	queue_all(&u->required_by);
	queue_all(&u->ordered_by);
}

void sup_sched_poke(void)
{
	poked = true;
}

bool sup_sched_pending(void)
{
	return poked || !list_empty(&dirty);
}

void sup_sched_on_all_down(void (*fn)(void))
{
	on_all_down = fn;
}

static bool sub_down(enum unit_sub s)
{
	return s == SUB_DEAD || s == SUB_EXITED || s == SUB_FAILED || s == SUB_BAD;
}

void deps_observe(struct unit *u, const struct unit_change *c)
{
	bool was = sub_down(c->old_sub), is = sub_down(c->new_sub);

	if (was && !is)
		n_active++;
	else if (!was && is && n_active > 0)
		n_active--;
	deps_touch(u);
}

size_t deps_active_units(void)
{
	return n_active;
}

/* ---- goals */

void deps_want(struct unit *u)
{
	if (u->goal == GOAL_UP || !u->cfg)
		return;
	u->goal = GOAL_UP;
	deps_touch(u);
	for (size_t i = 0; i < u->requires.n; i++)
		if (u->requires.v[i])
			deps_want(u->requires.v[i]);
	for (size_t i = 0; i < u->wants.n; i++) {
		struct unit *w = u->wants.v[i];
		if (w && unit_is_down(w) && w->sub != SUB_FAILED)
			deps_want(w);
	}
}

void deps_unwant(struct unit *u)
{
	if (u->goal == GOAL_DOWN && u->job != JOB_RESTART)
		return;
	u->goal = GOAL_DOWN;
	if (u->job == JOB_RESTART)
		u->job = JOB_NONE;
	deps_touch(u);
	for (size_t i = 0; i < u->required_by.n; i++)
		deps_unwant(u->required_by.v[i]);
}

/* ---- the pass */

/* A requirement that is gone for good: the text of why, or NULL. */
static const char *requirement_lost(const char *name, const struct unit *r, char *buf, size_t n)
{
	if (!r)
		snprintf(buf, n, "required unit '%s' does not exist", name);
	else if (r->sub == SUB_FAILED || r->sub == SUB_BAD)
		snprintf(buf, n, "required unit '%s' %s", r->name,
			 r->sub == SUB_BAD ? "is a bad unit" : "failed");
	else if (r->sub == SUB_EXITED && !unit_is_up(r))
		snprintf(buf, n, "required unit '%s' exited", r->name);
	else if (r->sub == SUB_DEAD && r->goal == GOAL_DOWN && !r->condition_failed)
		snprintf(buf, n, "required unit '%s' was stopped", r->name);
	else
		return NULL;
	return buf;
}

/* The first requirement of u that is not up, or NULL. When one is lost for good,
 * u->dep_error says why and *lost is set. */
static struct unit *requirement_not_up(struct unit *u, bool *lost)
{
	char buf[256];

	*lost = false;
	for (size_t i = 0; i < u->requires.n; i++) {
		struct unit *r = u->requires.v[i];
		const char *why = requirement_lost(u->requires.names[i], r, buf, sizeof(buf));

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

static bool may_start(struct unit *u)
{
	bool lost;

	/* a unit removed and added again: its old instance is still stopping, in the cgroup
	 * (and at the notify socket) the new one would take; it starts once that one is gone */
	if (unit_find_removed(u->name))
		return false;
	if (requirement_not_up(u, &lost))
		return false;
	for (size_t i = 0; i < u->conflicts.n; i++)
		if (!unit_is_down(u->conflicts.v[i]))
			return false; /* Conflicts=: the other one stops first */
	for (size_t i = 0; i < u->after.n; i++) {
		struct unit *a = u->after.v[i];
		/* ordering only: wait while it is on its way up */
		if (a && a->goal == GOAL_UP && !unit_is_up(a) && a->sub != SUB_FAILED &&
		    a->sub != SUB_EXITED && a->sub != SUB_BAD)
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
		u->goal = GOAL_DOWN;
		unit_note(u, "stopping: %s", u->dep_error);
		return true;
	}
	if (r && r->state != UNIT_STARTING) {
		unit_note(u, "stopping until required unit '%s' is back", r->name);
		u->job = JOB_FOLLOW;
		return true;
	}
	return false;
}

/* Nothing ordered after u that is being stopped too is still active (a unit that stays
 * wanted does not hold u up: ordering binds only units stopping together). */
static bool dependants_down(const struct unit *u)
{
	for (size_t i = 0; i < u->ordered_by.n; i++) {
		const struct unit *v = u->ordered_by.v[i];
		if (v != u && v->goal == GOAL_DOWN && !unit_is_down(v))
			return false;
	}
	return true;
}

static void pass_wanted(struct unit *u)
{
	if (u->sub == SUB_DEAD) {
		if (supd->shutting_down)
			return;
		unit_set_sub(u, SUB_QUEUED); /* visible as starting while it waits */
	}
	if (u->sub == SUB_QUEUED) {
		if (may_start(u)) {
			unit_run(u);
		} else if (u->dep_error) {
			u->goal = GOAL_DOWN;
			unit_stop_now(u);
		}
		return;
	}
	if (!unit_is_down(u) && !unit_is_stopping(u) && u->main.pid && requirement_down(u))
		unit_stop_now(u);
}

static void pass_one(struct unit *u)
{
	if (!u->cfg)
		return;
	if (u->goal == GOAL_UP && !supd->shutting_down) /* nothing starts once shutdown began */
		pass_wanted(u);
	else if (!unit_is_down(u) && dependants_down(u))
		unit_stop_now(u);
}

static bool unit_has_children(const struct unit *u)
{
	return u->main.pid || u->control.pid || u->health.pid;
}

void sup_sched_pass(void)
{
	/* each step may queue more; a bound keeps a bug from looping PID 1 forever */
	size_t limit = 64 * (supd->n_units + 16), steps = 0;
	/* and a pass gives the loop back after PASS_BUDGET_USEC: a thousand units due to start at
	 * once (a crash loop of many, a boot) are spawned over several turns of the loop, with
	 * reaping and the control socket served in between */
	uint64_t end = now_mono() + PASS_BUDGET_USEC;

	poked = false;
	while (!list_empty(&dirty) && steps++ < limit) {
		struct unit *u = sup_container_of(dirty.next, struct unit, dirty_link);

		if (now_mono() > end)
			return; /* the rest next turn (sup_sched_pending) */
		list_del(&u->dirty_link);
		u->dirty = false;
		sup_sched_steps++;
		if (u->removed && unit_is_down(u) && !unit_has_children(u)) {
			unit_free(u);
			continue;
		}
		pass_one(u);
	}
	if (!list_empty(&dirty))
		sup_err(NULL, "internal: the scheduler did not settle after %zu steps", steps);
	if (supd->shutting_down && n_active == 0 && !sup_children_of_units() && on_all_down)
		on_all_down();
}
