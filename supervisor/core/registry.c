/* The set of units: one list in load order, and live units by name in a hash table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/log.h"
#include "core/children.h"
#include "core/deps.h"
#include "core/effects.h"
#include "core/state.h"
#include "logs/logbuf.h"
#include "supd.h"

static struct supd the_supd = {.units = {&the_supd.units, &the_supd.units}};
struct supd *supd = &the_supd;

static struct sup_hash by_name;
static struct sup_hash removed_by_name; /* removed units not freed yet (still stopping) */

static struct unit *find_in(struct sup_hash *h, const char *name)
{
	uint64_t k = sup_hash_str(name);

	for (struct sup_hnode *n = sup_hash_first(h, k); n; n = sup_hash_next(n)) {
		struct unit *u = sup_container_of(n, struct unit, by_name);
		if (strcmp(u->name, name) == 0)
			return u;
	}
	return NULL;
}

struct unit *unit_find(const char *name)
{
	return find_in(&by_name, name);
}

struct unit *unit_find_removed(const char *name)
{
	return find_in(&removed_by_name, name);
}

void unit_free_config(struct unit_config *c)
{
	if (c) {
		unit_config_free(c);
		free(c);
	}
}

/* Takes ownership of cfg. */
struct unit *unit_new(const char *name, struct unit_config *cfg, const char *error)
{
	struct unit *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->log = logbuf_new(supd->conf.log_ring_bytes);
	if (!u->log || start_limit_init(&u->limit, cfg ? cfg->start_limit_burst : 0) < 0 ||
	    (error && !(u->error = strdup(error))) ||
	    sup_hash_add(&by_name, &u->by_name, sup_hash_str(u->name)) < 0) {
		logbuf_free(u->log);
		start_limit_free(&u->limit);
		free(u->error);
		free(u);
		return NULL;
	}
	u->cfg = cfg;
	list_init(&u->followers);
	list_init(&u->dirty_link);
	list_init(&u->drain_link);
	u->spawn_fd = -1;
	u->sub = cfg ? SUB_DEAD : SUB_BAD;
	u->state = unit_sub_state(u->sub);
	u->state_mono = now_mono();
	unit_effects_init(u);
	if (error)
		sup_err(name, "bad unit: %s", error);
	list_add_tail(&supd->units, &u->link);
	supd->n_units++;
	return u;
}

void unit_mark_removed(struct unit *u)
{
	if (u->removed)
		return;
	u->removed = true;
	sup_hash_del(&by_name, &u->by_name);
	/* out of memory: a unit of the same name added later may then start before this one
	 * is down (sharing its cgroup); nothing better to do */
	if (sup_hash_add(&removed_by_name, &u->by_name, sup_hash_str(u->name)) < 0)
		sup_err(u->name, "out of memory: removed unit not indexed");
	deps_touch(u); /* freed by the next pass once it is down */
}

void unit_free(struct unit *u)
{
	unit_effects_free(u);
	sup_child_forget(&u->main);
	sup_child_forget(&u->control);
	sup_child_forget(&u->health);
	deps_clear(u);
	if (u->dirty)
		list_del(&u->dirty_link);
	if (!u->removed) {
		sup_hash_del(&by_name, &u->by_name);
	} else {
		struct unit *next = unit_find(u->name);

		sup_hash_del(&removed_by_name, &u->by_name); /* a no-op if it is not there */
		if (next)
			deps_touch(next); /* it may have been waiting for this one to go */
	}
	list_del(&u->link);
	supd->n_units--;
	unit_free_config(u->cfg);
	unit_free_config(u->next_cfg);
	start_limit_free(&u->limit);
	logbuf_free(u->log);
	free(u->error);
	free(u->reload_error);
	free(u->dep_error);
	free(u->status_text);
	free(u);
}
