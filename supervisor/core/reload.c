/*
 * The units directory into units: the boot load, and reloads that add new units, stop
 * removed ones, restart changed ones and leave the rest alone. A reload scans the names, then
 * parses files from an idle watcher for at most STEP_USEC per turn of the loop, then checks
 * the dependencies and applies the differences in one go (hash lookups: linear in units).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "core/cgroups.h"
#include "core/container.h"
#include "core/deps.h"
#include "core/effects.h"
#include "core/notify.h"
#include "core/reload.h"
#include "core/service.h"
#include "core/state.h"
#include "supd.h"

#define STEP_USEC    2000      /* parsing per turn of the loop */
#define GAP_MIN_USEC 200000ULL /* between the end of a reload and the start of the next */

static struct {
	bool running, again;
	struct unit_set set;
	ev_idle idle;
	ev_timer gap; /* a request that came too soon waits here */
	uint64_t began, ended, took;
	void (*done)(json_t *result, const char *error);
} rl;

/* Group the units the reload touches, so that edges are resolved before any is started. */
struct actions {
	struct unit **start, **restart;
	size_t n_start, n_restart;
	json_t *added, *removed, *changed;
	json_t *errors; /* units whose file has an error: their config in force stays */
};

/* Warnings of the directory (systemd files sup ignores) and of each unit: logged, once per
 * load; errors are logged by unit_new() as the bad-unit reason. */
static void log_warnings(const struct unit_set *set)
{
	for (size_t i = 0; i < set->problems.n; i++)
		sup_warn(NULL, "%s", set->problems.v[i].text);
	for (size_t i = 0; i < set->n; i++) {
		const struct unit_problems *pl = &set->v[i].problems;
		for (size_t j = 0; j < pl->n; j++)
			if (pl->v[j].severity == UNIT_WARNING)
				sup_warn(set->v[i].name, "%s", pl->v[j].text);
	}
}

static struct unit *add_entry(struct unit_entry *e)
{
	struct unit *u = unit_new(e->name, e->config, e->error);

	if (u)
		e->config = NULL; /* the unit owns it now */
	else
		sup_err(e->name, "out of memory");
	return u;
}

static void push(struct unit ***v, size_t *n, struct unit *u)
{
	struct unit **nv;

	if (!u)
		return;
	nv = reallocarray(*v, *n + 1, sizeof(*nv));
	if (!nv) {
		sup_err(u->name, "reload: out of memory; not started");
		return;
	}
	*v = nv;
	nv[(*n)++] = u;
}

static void actions_free(struct actions *a)
{
	free(a->start);
	free(a->restart);
}

/* After the structure changed: edges, then the starts and restarts. */
static void actions_run(struct actions *a)
{
	deps_resolve();
	for (size_t i = 0; i < a->n_restart; i++)
		unit_restart(a->restart[i]);
	for (size_t i = 0; i < a->n_start; i++)
		if (a->start[i]->cfg)
			unit_start(a->start[i], true, NULL);
}

void sup_boot_units(void)
{
	struct unit_set set = {0};
	struct sup_error *err = NULL;
	struct actions a = {0};
	size_t bad = 0;

	if (unit_set_load(supd->conf.units_dir, &set, &err) < 0) {
		sup_err(NULL, "%s", err->msg);
		free(supd->load_error);
		supd->load_error = strdup(err->msg);
		sup_error_free(err);
		return;
	}
	sup_ct_check_set(&set); /* a Seccomp= profile file that does not compile */
	unit_set_check_deps(&set);
	log_warnings(&set);
	for (size_t i = 0; i < set.n; i++) {
		struct unit *u = add_entry(&set.v[i]);
		bad += u && !u->cfg;
		push(&a.start, &a.n_start, u);
	}
	unit_set_free(&set);
	sup_info(NULL, "%zu units from %s", supd->n_units, supd->conf.units_dir);
	if (bad && bad == supd->n_units) {
		sup_err(NULL, "every unit in %s is bad", supd->conf.units_dir);
		if (asprintf(&supd->load_error, "every unit in %s is bad", supd->conf.units_dir) <
		    0)
			supd->load_error = NULL;
	}
	actions_run(&a);
	actions_free(&a);
}

static bool same_unit(const struct unit *u, const struct unit_entry *e)
{
	const struct unit_config *cur = u->next_cfg ? u->next_cfg : u->cfg;

	if (!cur || !e->config)
		return !cur && !e->config && u->error && e->error && !strcmp(u->error, e->error);
	return unit_config_equal(cur, e->config);
}

/* The unit's file no longer loads: the configuration in force stays (a typo must not stop a
 * running service and what requires it); the error is reported apart from `error`, which
 * belongs to bad-unit and failed. */
static void keep_config(struct unit *u, const struct unit_entry *e, struct actions *a)
{
	const char *why = e->error ? e->error : "bad unit";

	if (!u->reload_error || strcmp(u->reload_error, why) != 0)
		sup_err(u->name, "reload: %s; the configuration in force stays", why);
	free(u->reload_error);
	u->reload_error = strdup(why);
	json_object_set_new(a->errors, u->name, json_string(why));
}

/* Units whose file no longer loads but which have a good config in force keep it: their
 * dependants are not bad for them either. */
static void mark_kept(struct unit_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct unit *u = set->v[i].config ? NULL : unit_find(set->v[i].name);

		set->v[i].kept = u && u->cfg;
	}
}

static void clear_reload_error(struct unit *u)
{
	if (!u->reload_error)
		return;
	sup_info(u->name, "reload: the unit file loads again");
	free(u->reload_error);
	u->reload_error = NULL;
}

/* A changed unit: new config; restarted if it was up, started if it was bad. */
static void change_unit(struct unit *u, struct unit_entry *e, struct actions *a)
{
	if (!e->config || !u->cfg) {
		/* to or from a bad unit: the old one goes (once down), a new one takes its name */
		unit_stop(u);
		unit_mark_removed(u);
		push(&a->start, &a->n_start, add_entry(e));
		return;
	}
	/* only [Resources] changed, and it runs: new limits in place, no restart */
	if (!u->next_cfg && u->cg && u->main.pid &&
	    unit_config_equal_but_resources(u->cfg, e->config)) {
		unit_free_config(u->cfg);
		u->cfg = sup_steal_ptr(e->config);
		sup_info(u->name, "reload: new [Resources] limits applied without a restart");
		sup_cg_apply(u);
		return;
	}
	unit_free_config(u->next_cfg);
	u->next_cfg = sup_steal_ptr(e->config);
	start_limit_free(&u->limit);
	start_limit_init(&u->limit, u->next_cfg->start_limit_burst);
	/* wanted: restarted with it; down: in force at once; being stopped by request: it stays
	 * down, and the new config is for its next start (unit_run) */
	if (u->goal == GOAL_UP) {
		push(&a->restart, &a->n_restart, u);
	} else if (unit_is_down(u)) {
		unit_free_config(u->cfg);
		u->cfg = sup_steal_ptr(u->next_cfg);
	}
}

static void apply(struct unit_set *set, struct actions *a)
{
	struct unit *u;

	for_each_unit(u)
	{
		if (u->removed || unit_set_find(set, u->name))
			continue;
		json_array_append_new(a->removed, json_string(u->name));
		sup_info(u->name, "removed by reload");
		unit_stop(u);
		unit_mark_removed(u);
	}
	for (size_t i = 0; i < set->n; i++) {
		struct unit_entry *e = &set->v[i];
		struct unit *cur = unit_find(e->name);

		if (!cur) {
			json_array_append_new(a->added, json_string(e->name));
			push(&a->start, &a->n_start, add_entry(e));
			continue;
		}
		if (e->kept) {
			keep_config(cur, e, a);
			continue;
		}
		clear_reload_error(cur);
		if (!same_unit(cur, e)) {
			json_array_append_new(a->changed, json_string(e->name));
			sup_info(e->name, "changed: %s",
				 cur->cfg && e->config ? "restarting" : "replacing");
			change_unit(cur, e, a);
		}
	}
}

static void finish(void)
{
	struct actions a = {.added = json_array(),
			    .removed = json_array(),
			    .changed = json_array(),
			    .errors = json_object()};
	json_t *result;

	ev_idle_stop(supd->loop, &rl.idle);
	sup_ct_check_set(&rl.set);
	mark_kept(&rl.set);
	unit_set_check_deps(&rl.set);
	log_warnings(&rl.set);
	apply(&rl.set, &a);
	unit_set_free(&rl.set);
	actions_run(&a);
	actions_free(&a);
	free(supd->load_error);
	supd->load_error = NULL;
	sup_info(NULL,
		 "reload: %zu added, %zu removed, %zu changed, %zu with errors (kept as they were)",
		 json_array_size(a.added), json_array_size(a.removed), json_array_size(a.changed),
		 json_object_size(a.errors));
	result = json_pack("{s:o, s:o, s:o, s:o}", "added", a.added, "removed", a.removed,
			   "changed", a.changed, "errors", a.errors);
	rl.running = false;
	rl.ended = now_mono();
	rl.took = rl.ended - rl.began;
	if (rl.done)
		rl.done(result, NULL);
	json_decref(result);
	if (rl.again) {
		rl.again = false;
		sup_reload_request();
	}
}

static void fail(const char *msg)
{
	sup_err(NULL, "reload: %s", msg);
	ev_idle_stop(supd->loop, &rl.idle);
	unit_set_free(&rl.set);
	rl.running = false;
	rl.ended = now_mono();
	if (rl.done)
		rl.done(NULL, msg);
}

/* Parse files for at most STEP_USEC; the last step applies the result. */
static void step(struct ev_loop *loop, ev_idle *w, int revents)
{
	uint64_t end = now_mono() + STEP_USEC;
	struct sup_error *err = NULL;
	int r;

	while ((r = unit_set_parse_next(supd->conf.units_dir, &rl.set, &err)) > 0)
		if (now_mono() >= end)
			return; /* more next turn */
	if (r < 0 || unit_set_finish(supd->conf.units_dir, &rl.set, &err) < 0) {
		fail(err->msg);
		sup_error_free(err);
		return;
	}
	finish();
}

static int begin(void);

static void on_gap(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (!supd->shutting_down)
		begin();
	else if (rl.done)
		rl.done(NULL, "supd is shutting down");
}

/*
 * Requests that come faster than reloads (a SIGHUP flood from a unit) are merged: the next
 * reload begins at least twice the last one's duration, and GAP_MIN_USEC, after it ended,
 * so reloading takes at most a third of supd's time, whatever the rate of requests.
 */
static bool too_soon(void)
{
	uint64_t gap = rl.took * 2 > GAP_MIN_USEC ? rl.took * 2 : GAP_MIN_USEC;
	uint64_t now = now_mono();

	if (ev_is_active(&rl.gap))
		return true; /* merged with the one already waiting */
	if (!rl.ended || now - rl.ended >= gap)
		return false;
	sup_debug(NULL, "reload: requested %.3fs after the last one; begins in %.3fs",
		  (double)(now - rl.ended) / 1e6, (double)(gap - (now - rl.ended)) / 1e6);
	ev_timer_init(&rl.gap, on_gap, (double)(gap - (now - rl.ended)) / 1e6, 0);
	ev_timer_start(supd->loop, &rl.gap);
	return true;
}

int sup_reload_request(void)
{
	if (supd->shutting_down)
		return -1;
	if (rl.running) {
		rl.again = true; /* files may have changed after this one scanned them */
		return 0;
	}
	if (too_soon())
		return 0;
	return begin();
}

static int begin(void)
{
	struct sup_error *err = NULL;
	struct unit *u;

	rl.began = now_mono();
	for_each_unit(u) sup_notify_recover(u); /* a deleted notify socket is made again */
	if (unit_set_scan(supd->conf.units_dir, &rl.set, &err) < 0) {
		fail(err->msg);
		sup_error_free(err);
		return 0;
	}
	rl.running = true;
	ev_idle_init(&rl.idle, step);
	ev_idle_start(supd->loop, &rl.idle);
	return 0;
}

void sup_reload_on_done(void (*fn)(json_t *result, const char *error))
{
	rl.done = fn;
}

void sup_reload_flush(void)
{
	while (rl.running)
		step(supd->loop, &rl.idle, 0);
}
