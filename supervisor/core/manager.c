/* The set of units: creation, lookup, loading the directory, and reload. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "supd.h"

uint64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

struct unit *sup_unit_find(const char *name)
{
	struct unit *u;

	for_each_unit(u) if (!u->removed && strcmp(u->name, name) == 0) return u;
	return NULL;
}

struct unit *sup_unit_by_pid(pid_t pid)
{
	struct unit *u;

	for_each_unit(u) if (u->pid == pid) return u;
	return NULL;
}

static int open_log_file(struct unit *u)
{
	_cleanup_free_ char *path = NULL;

	if (!supd->conf.log_dir)
		return 0;
	if (asprintf(&path, "%s/%s.log", supd->conf.log_dir, u->name) < 0)
		return -1;
	if (logbuf_set_file(u->log, path, supd->conf.log_file_max, supd->conf.log_file_keep) < 0)
		sup_warn(u->name, "log file %s: %s", path, strerror(errno));
	return 0;
}

/* Takes ownership of cfg. */
struct unit *sup_unit_new(const char *name, struct unit_config *cfg, const char *error)
{
	struct unit *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->cfg = cfg;
	u->log = logbuf_new(supd->conf.log_ring_bytes);
	if (!u->log || start_limit_init(&u->limit, cfg ? cfg->start_limit_burst : 0) < 0) {
		logbuf_free(u->log);
		free(u);
		return NULL;
	}
	open_log_file(u);
	list_init(&u->followers);
	u->spawn_fd = -1;
	sup_unit_timers_init(u);
	u->state = cfg ? UNIT_INACTIVE : UNIT_BAD;
	u->state_mono = now_mono();
	if (error) {
		u->error = strdup(error);
		sup_err(name, "bad unit: %s", error);
	}
	list_add_tail(&supd->units, &u->link);
	supd->n_units++;
	return u;
}

static void free_config(struct unit_config *c)
{
	if (c) {
		unit_config_free(c);
		free(c);
	}
}

void sup_unit_free(struct unit *u)
{
	sup_control_unit_gone(u);
	sup_health_disarm(u);
	sup_output_detach(u);
	sup_spawn_sync_finish(u);
	sup_cg_unit_free(u);
	ev_timer_stop(supd->loop, &u->timer);
	ev_timer_stop(supd->loop, &u->watchdog);
	list_del(&u->link);
	supd->n_units--;
	free_config(u->cfg);
	free_config(u->next_cfg);
	start_limit_free(&u->limit);
	logbuf_free(u->log);
	free(u->error);
	free(u->dep_error);
	free(u->status_text);
	free(u);
}

static struct unit *add_entry(struct unit_entry *e)
{
	struct unit *u = sup_unit_new(e->name, e->config, e->error);

	if (u)
		e->config = NULL; /* the unit owns it now */
	else
		sup_err(e->name, "out of memory");
	return u;
}

int sup_units_load(struct sup_error **err)
{
	struct unit_set set = {0};
	struct unit *u;

	if (unit_set_load(supd->conf.units_dir, &set, err) < 0)
		return -1;
	unit_set_check_deps(&set);
	for (size_t i = 0; i < set.n; i++)
		add_entry(&set.v[i]);
	unit_set_free(&set);
	sup_info(NULL, "%zu units from %s", supd->n_units, supd->conf.units_dir);
	for_each_unit(u) if (u->cfg) sup_unit_start(u, false, NULL);
	return 0;
}

static bool same_unit(const struct unit *u, const struct unit_entry *e)
{
	const struct unit_config *cur = u->next_cfg ? u->next_cfg : u->cfg;

	if (!cur || !e->config)
		return !cur && !e->config && u->error && e->error && !strcmp(u->error, e->error);
	return unit_config_equal(cur, e->config);
}

/* A changed unit: new config; restarted if it was up, started if it was bad. */
static void change_unit(struct unit *u, struct unit_entry *e)
{
	if (!e->config) {
		sup_unit_stop(u);
		u->removed = true; /* replaced by a bad-unit entry once it is down */
		add_entry(e);
		return;
	}
	if (!u->cfg) {
		struct unit *n;

		u->removed = true; /* a bad unit is down: the next pass frees it */
		n = add_entry(e);
		if (n)
			sup_unit_start(n, true, NULL);
		return;
	}
	/* only [Resources] changed, and it runs: new limits in place, no restart */
	if (!u->next_cfg && u->cg && u->pid && unit_config_equal_but_resources(u->cfg, e->config)) {
		free_config(u->cfg);
		u->cfg = sup_steal_ptr(e->config);
		sup_info(u->name, "reload: new [Resources] limits applied without a restart");
		sup_cg_apply(u);
		return;
	}
	free_config(u->next_cfg);
	u->next_cfg = sup_steal_ptr(e->config);
	start_limit_free(&u->limit);
	start_limit_init(&u->limit, u->next_cfg->start_limit_burst);
	if (!unit_is_down(u) || u->wanted) {
		sup_unit_restart(u);
	} else {
		free_config(u->cfg);
		u->cfg = sup_steal_ptr(u->next_cfg);
	}
}

int sup_units_reload(json_t *added, json_t *removed, json_t *changed, struct sup_error **err)
{
	struct unit_set set = {0};
	struct unit *u;

	if (unit_set_load(supd->conf.units_dir, &set, err) < 0)
		return -1;
	unit_set_check_deps(&set);
	for_each_unit(u)
	{
		if (u->removed || unit_set_find(&set, u->name))
			continue;
		json_array_append_new(removed, json_string(u->name));
		sup_info(u->name, "removed by reload");
		sup_unit_stop(u);
		u->removed = true;
	}
	for (size_t i = 0; i < set.n; i++) {
		struct unit_entry *e = &set.v[i];
		struct unit *cur = sup_unit_find(e->name);

		if (!cur) {
			json_array_append_new(added, json_string(e->name));
			struct unit *n = add_entry(e);
			if (n && n->cfg)
				sup_unit_start(n, false, NULL);
		} else if (!same_unit(cur, e)) {
			json_array_append_new(changed, json_string(e->name));
			sup_info(e->name, "changed: %s",
				 cur->cfg && e->config ? "restarting" : "replacing");
			change_unit(cur, e);
		}
	}
	unit_set_free(&set);
	sup_schedule();
	return 0;
}
