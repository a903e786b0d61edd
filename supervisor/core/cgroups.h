/*
 * Each unit's cgroup: made before a spawn (limits applied, OOM events watched), signalled on
 * stop, killed whole when the main process ends and waited empty (never by blocking: a
 * freeze and the emptying are polled from the unit's cgroup timer), removed once the unit is
 * down for good. Without a usable hierarchy every call is a no-op and units live in process
 * groups only.
 */
#ifndef SUP_CORE_CGROUPS_H
#define SUP_CORE_CGROUPS_H

#include <stdbool.h>

#include "core/unit.h"

struct spawn_request;
struct cg_stats;
struct unit_change;

void sup_cg_setup(void);
/* Before a spawn: the unit's cgroup, made and limited; fills req's cgroup fields. */
int sup_cg_prepare(struct unit *u, struct spawn_request *req, struct sup_error **err);
/* The spawn joins the unit's cgroup (no-op without one). */
void sup_cg_join(struct unit *u, struct spawn_request *req);
/* The spawn joins a leaf cgroup of the unit's, *leaf (made on first use as `name`; the
 * unit's own cgroup if it cannot be made): health checks, `supctl exec`. No-op without
 * cgroups. The leaf is freed and removed with the unit's cgroup. */
void sup_cg_join_leaf(struct unit *u, struct cgroup **leaf, const char *name,
		      struct spawn_request *req);
/* Whatever still runs in a leaf is killed (what ran there is over). */
void sup_cg_kill_leaf(struct cgroup *leaf);
/* Signal the whole cgroup (SIGKILL: cgroup.kill / freeze-kill). false: no cgroup. */
bool sup_cg_signal(struct unit *u, int sig);
void sup_cg_reaped(void);	   /* after a reaping batch: re-check draining units */
void sup_cg_timer(struct unit *u); /* UNIT_TIMER_CGROUP fired */
void sup_cg_apply(struct unit *u); /* new limits on a running unit (reload) */
/* Observer: a unit down for good (inactive, exited, failed) gives its empty cgroup back. */
void sup_cg_observe(struct unit *u, const struct unit_change *c);
/* The unit is down: its cgroup (with its leaves) is removed once nothing of it runs; also
 * after a health check that was still running when the unit went down is reaped. */
void sup_cg_settle(struct unit *u);
bool sup_cg_stats(struct unit *u, struct cg_stats *st); /* false: no cgroup */
/* Units have cgroups at all on this host. */
bool sup_cg_available(void);
/* The one process of the unit's cgroup, or 0 if it holds none or several. */
pid_t sup_cg_only_pid(struct unit *u);
/* Is pid one of the unit's processes (its cgroup, or a child cgroup of it)? */
bool sup_cg_has_pid(struct unit *u, pid_t pid);
void sup_cg_unit_free(struct unit *u);
void sup_cg_unit_free_final(struct unit *u, uint64_t deadline); /* at supd's exit */
void sup_cg_fini(void);		       /* supd exits (not as the machine's init) */
const char *sup_cg_backend_name(void); /* "v2", "v1", or "none" */

#endif
