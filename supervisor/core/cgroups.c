/*
 * Each unit's cgroup: made before a spawn (limits applied, OOM events watched), signalled on
 * stop, killed whole and waited empty when the main process ends, then removed. Stats are
 * read only when asked. Without a usable cgroup hierarchy every call is a no-op and the
 * process-group behaviour of state.c stays.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "sup/log.h"
#include "sup/spawn.h"
#include "core/cgroups.h"
#include "core/container.h"
#include "core/effects.h"
#include "core/service.h"
#include "core/state.h"
#include "supd.h"

#define FREEZE_POLL_USEC 1000
#define FREEZE_POLLS_MAX 50
#define DRAIN_WARN_USEC	 (10 * USEC_PER_SEC)

static struct list draining = {&draining, &draining}; /* units in SUB_DRAIN */

static const struct cg_backend *cgb;

const char *sup_cg_backend_name(void)
{
	return cgb ? cgb->name : "none";
}

/* FNV-1a: a short stable tag for a run directory. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void set_oom_score(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "-1000", 5) != 5)
		sup_warn(NULL, "cannot set supd's oom_score_adj to -1000: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

void sup_cg_setup(void)
{
	struct sup_error *err = NULL;
	char leaf[32];
	const struct cg_backend *b;

	set_oom_score();
	b = cg_detect((enum cg_mode)supd->conf.cgroup_mode, &err);
	if (!b) {
		sup_warn(NULL, "no cgroups: %s; units run in process groups only", err->msg);
		sup_error_free(err);
		return;
	}
	/*
	 * The subtree: the root when supd is the machine's init; else a leaf under supd's own
	 * cgroup, "sup" for the default run directory and "sup-HASH" for another one, so that
	 * several supds started from one cgroup (tests) never share a unit's cgroup.
	 */
	if (strcmp(supd->conf.run_dir, "/run/sup") == 0)
		snprintf(leaf, sizeof(leaf), "sup");
	else
		snprintf(leaf, sizeof(leaf), "sup-%08x", fnv1a(supd->conf.run_dir));
	if (b->init(supd->is_pid1 ? NULL : leaf, &err) < 0) {
		sup_warn(NULL, "cgroup %s: %s; units run in process groups only", b->name,
			 err->msg);
		sup_error_free(err);
		return;
	}
	cgb = b;
	if (supd->conf.cgroup_favor == 1 || (supd->conf.cgroup_favor < 0 && supd->is_pid1)) {
		if (cg_favor_dynmods(&err) < 0) {
			sup_warn(NULL, "cgroup: %s; each spawn waits for an RCU grace period",
				 err->msg);
			sup_error_clear(&err);
		}
	}
	sup_info(NULL, "cgroup %s: each unit in its own cgroup under %s", b->name,
		 supd->is_pid1 ? "the root" : leaf);
}

static void warn_unit(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_unit(void *ctx, const char *fmt, ...)
{
	struct unit *u = ctx;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sup_warn(u->name, "%s", buf);
}

static void note_oom(struct unit *u, uint64_t total)
{
	if (total == CG_NA || total <= u->cg_oom_base)
		return;
	u->oom_kills += total - u->cg_oom_base;
	unit_note(u, "out of memory: the OOM killer killed %llu process(es) of the unit",
		  (unsigned long long)(total - u->cg_oom_base));
	u->cg_oom_base = total;
	u->oom_this_run = true;
}

/* SIGKILL everything in the unit's cgroup. A freeze that is not instant is polled from the
 * cgroup timer, 1 ms apart, and forced after 50 ms: PID 1's loop never waits for it. */
static void kill_all(struct unit *u)
{
	if (u->freezing)
		return; /* under way */
	if (cgb->kill_begin(u->cg) == 1)
		return;
	u->freezing = true;
	u->freeze_polls = 0;
	unit_timer_arm(u, UNIT_TIMER_CGROUP, FREEZE_POLL_USEC, 0);
}

static void arm_retry(struct unit *u)
{
	/* 5 ms, doubling to 1 s: only while a drain is in progress */
	uint64_t d = 5000ULL << (u->drain_tries < 8 ? u->drain_tries : 8);

	unit_timer_arm(u, UNIT_TIMER_CGROUP, d > USEC_PER_SEC ? USEC_PER_SEC : d, 0);
}

/* Empty yet? Then the unit's state machine goes on (the cgroup is kept for the next run,
 * and removed once the unit is down for good). */
static void drain_check(struct unit *u)
{
	if (list_empty(&u->drain_link) || u->freezing)
		return;
	if (cgb->is_empty(u->cg) == 0) {
		u->drain_tries++;
		if (u->drain_tries % 20 == 0)
			kill_all(u); /* something forked past the first kill */
		if (u->drain_since && now_mono() - u->drain_since > DRAIN_WARN_USEC) {
			sup_warn(u->name,
				 "cgroup still not empty %llus after SIGKILL (a process in "
				 "uninterruptible sleep?); still waiting",
				 (unsigned long long)(DRAIN_WARN_USEC / USEC_PER_SEC));
			u->drain_since = 0; /* once per drain */
		}
		if (!u->freezing)
			arm_retry(u);
		return;
	}
	list_del(&u->drain_link);
	unit_timer_stop(u, UNIT_TIMER_CGROUP);
	unit_drained(u);
}

void sup_cg_timer(struct unit *u)
{
	if (u->freezing) {
		bool force = ++u->freeze_polls >= FREEZE_POLLS_MAX;

		if (u->cg && cgb->kill_step(u->cg, force) == 0) {
			unit_timer_arm(u, UNIT_TIMER_CGROUP, FREEZE_POLL_USEC, 0);
			return;
		}
		u->freezing = false;
	}
	drain_check(u);
}

static void on_cg_event(struct ev_loop *loop, ev_io *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, cg_io);

	note_oom(u, cgb->event_read(u->cg));
	drain_check(u);
}

/* The container's device allow-list: a policy that cannot be enforced stops the start. */
static int devices(struct unit *u, struct sup_error **err)
{
	_cleanup_free_ struct cg_device *list = NULL;
	size_t n;

	if (sup_ct_devices(u->cfg, &list, &n, err) < 0)
		return -1;
	if (cgb->devices(u->cg, list, n, err) < 0)
		return sup_error_wrap(err, "devices");
	return 0;
}

int sup_cg_prepare(struct unit *u, struct spawn_request *req, struct sup_error **err)
{
	static bool warned;
	int fd;

	if (!cgb) {
		if (u->cfg->ct.enabled && !warned)
			sup_warn(u->name, "no cgroups: a container's device allow-list is not "
					  "enforced (only its /dev holds the default devices)");
		warned = warned || u->cfg->ct.enabled;
		return 0;
	}
	if (!u->cg) {
		u->cg = cgb->create(u->name, err);
		if (!u->cg)
			return -1;
		u->cg_oom_base = cgb->event_read(u->cg);
		fd = cgb->event_fd(u->cg);
		if (fd >= 0) {
			ev_io_init(&u->cg_io, on_cg_event, fd, EV_READ);
			ev_io_start(supd->loop, &u->cg_io);
		}
	}
	u->oom_this_run = false;
	u->drain_tries = 0;
	/* limits are written when the cgroup is made and when the config changes, not on
	 * every restart: the restart path stays a handful of syscalls */
	if (u->cg_cfg != u->cfg) {
		if (devices(u, err) < 0)
			return -1;
		cgb->apply(u->cg, &u->cfg->res, warn_unit, u);
		u->cg_cfg = u->cfg;
	}
	sup_cg_join(u, req);
	return 0;
}

static int place(pid_t pid, void *arg, struct sup_error **err)
{
	return cgb->place(arg, pid, err);
}

/* The spawn goes into cg: born there (clone3), or placed by the parent before it runs. */
static void join(struct cgroup *cg, struct spawn_request *req)
{
	req->cgroup_fd = cgb->clone_fd(cg);
	req->into_cgroup = req->cgroup_fd >= 0;
	req->place = place;
	req->place_arg = cg;
}

void sup_cg_join(struct unit *u, struct spawn_request *req)
{
	if (cgb && u->cg)
		join(u->cg, req);
}

void sup_cg_join_leaf(struct unit *u, struct cgroup **leaf, const char *name,
		      struct spawn_request *req)
{
	struct sup_error *err = NULL;

	if (!cgb || !u->cg)
		return;
	if (!*leaf && !(*leaf = cgb->create_leaf(u->cg, name, &err))) {
		/* the unit's own cgroup then: still inside the unit, just not killed apart */
		sup_warn(u->name, "%s; using the unit's cgroup", err->msg);
		sup_error_free(err);
		join(u->cg, req);
		return;
	}
	join(*leaf, req);
}

void sup_cg_kill_leaf(struct cgroup *leaf)
{
	if (cgb && leaf && cgb->is_empty(leaf) == 0 && cgb->kill_begin(leaf) == 0)
		cgb->kill_step(leaf, true);
}

bool sup_cg_signal(struct unit *u, int sig)
{
	if (!cgb || !u->cg)
		return false;
	if (sig == SIGKILL)
		kill_all(u);
	else
		cgb->signal(u->cg, sig);
	return true;
}

bool unit_drain_begin(struct unit *u)
{
	if (!cgb || !u->cg) {
		if (u->pgid > 0)
			kill(-u->pgid, SIGKILL); /* no cgroup: the process group is the run */
		return false;
	}
	note_oom(u, cgb->event_read(u->cg));
	/* the common case, a lone main process that died: nothing to kill, no freeze */
	if (cgb->is_empty(u->cg) != 0)
		return false;
	kill_all(u);
	u->drain_tries = 0;
	u->drain_since = now_mono();
	list_add_tail(&draining, &u->drain_link);
	if (!u->freezing)
		arm_retry(u);
	return true;
}

void sup_cg_reaped(void)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &draining)
	{
		drain_check(sup_container_of(p, struct unit, drain_link));
	}
}

void sup_cg_apply(struct unit *u)
{
	if (cgb && u->cg && u->cfg) {
		cgb->apply(u->cg, &u->cfg->res, warn_unit, u);
		u->cg_cfg = u->cfg;
	}
}

static void release(struct unit *u)
{
	ev_io_stop(supd->loop, &u->cg_io);
	unit_timer_stop(u, UNIT_TIMER_CGROUP);
	list_del(&u->drain_link);
	u->freezing = false;
	/* the leaves' directories go with the unit's */
	if (u->health_cg)
		cgb->free(u->health_cg);
	if (u->exec_cg)
		cgb->free(u->exec_cg);
	u->health_cg = u->exec_cg = NULL;
	if (u->cg)
		cgb->free(u->cg);
	u->cg = NULL;
	u->cg_cfg = NULL;
}

void sup_cg_observe(struct unit *u, const struct unit_change *c)
{
	if (c->new_sub != SUB_DEAD && c->new_sub != SUB_EXITED && c->new_sub != SUB_FAILED &&
	    c->new_sub != SUB_REMAIN)
		return;
	sup_cg_settle(u);
}

void sup_cg_settle(struct unit *u)
{
	if (!cgb || !u->cg || !list_empty(&u->drain_link) || u->main.pid || u->health.pid)
		return;
	sup_cg_kill_leaf(u->health_cg); /* a health check's leftovers do not hold the unit up */
	if (cgb->is_empty(u->cg) == 0)
		return; /* something is left: the next stop or free takes care of it */
	ev_io_stop(supd->loop, &u->cg_io);
	if (cgb->remove(u->cg) < 0)
		sup_warn(u->name, "remove cgroup: %s; left behind", strerror(errno));
	release(u);
}

bool sup_cg_available(void)
{
	return cgb != NULL;
}

pid_t sup_cg_only_pid(struct unit *u)
{
	return cgb && u->cg ? cgb->only_pid(u->cg) : 0;
}

bool sup_cg_has_pid(struct unit *u, pid_t pid)
{
	return cgb && u->cg && cgb->has_pid(u->cg, pid);
}

bool sup_cg_stats(struct unit *u, struct cg_stats *st)
{
	if (!cgb || !u->cg)
		return false;
	cgb->stats(u->cg, st);
	note_oom(u, st->oom_kills);
	st->oom_kills = u->oom_kills;
	return true;
}

void sup_cg_fini(void)
{
	if (cgb && cgb->fini)
		cgb->fini();
}

/* The unit goes away (reload removed it, or supd exits): nothing of it may stay behind. */
/*
 * supd's exit: what a unit left (a health check's `sleep &` just killed, say) is killed, and
 * its cgroup removed once those processes are gone; they are supd's children or orphans, so
 * they are reaped here, waiting in 10 ms steps until the deadline (now_mono() usec).
 */
void sup_cg_unit_free_final(struct unit *u, uint64_t deadline)
{
	int r;

	if (!cgb || !u->cg)
		return;
	ev_io_stop(supd->loop, &u->cg_io);
	for (;;) {
		sup_cg_kill_leaf(u->health_cg);
		sup_cg_kill_leaf(u->exec_cg);
		if (cgb->kill_begin(u->cg) == 0)
			cgb->kill_step(u->cg, true);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		r = cgb->remove(u->cg);
		if (r == 0 || now_mono() >= deadline)
			break;
		usleep(10000);
	}
	if (r < 0)
		sup_warn(u->name, "remove cgroup: %s; left behind", strerror(errno));
	release(u);
}

void sup_cg_unit_free(struct unit *u)
{
	if (!u->cg)
		return;
	if (cgb->kill_begin(u->cg) == 0)
		cgb->kill_step(u->cg, true);
	ev_io_stop(supd->loop, &u->cg_io);
	cgb->remove(u->cg);
	release(u);
}
