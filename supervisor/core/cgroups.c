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

#include "sup/cgroup.h"
#include "sup/cleanup.h"
#include "sup/log.h"
#include "sup/spawn.h"
#include "supd.h"

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
	sup_unit_note(u, "out of memory: the OOM killer killed %llu process(es) of the unit",
		      (unsigned long long)(total - u->cg_oom_base));
	u->cg_oom_base = total;
	u->oom_this_run = true;
}

static void drain_check(struct unit *u);

static void on_cg_event(struct ev_loop *loop, ev_io *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, cg_io);

	note_oom(u, cgb->event_read(u->cg));
	if (u->draining)
		drain_check(u);
}

static void release(struct unit *u)
{
	ev_io_stop(supd->loop, &u->cg_io);
	ev_timer_stop(supd->loop, &u->cg_timer);
	if (u->cg)
		cgb->free(u->cg);
	u->cg = NULL;
}

static void on_cg_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, cg_timer);

	drain_check(u);
}

static void arm_retry(struct unit *u)
{
	/* 5 ms, doubling to 1 s: only while a drain is in progress */
	double d = 0.005 * (double)(1u << (u->drain_tries < 8 ? u->drain_tries : 8));

	u->drain_tries++;
	ev_timer_stop(supd->loop, &u->cg_timer);
	ev_timer_set(&u->cg_timer, d > 1.0 ? 1.0 : d, 0.);
	ev_timer_start(supd->loop, &u->cg_timer);
}

/* Empty yet? Then remove it and let the state machine go on. */
static bool drain_step(struct unit *u)
{
	int empty = cgb->is_empty(u->cg);

	if (empty == 0) {
		if (u->drain_tries > 0 && u->drain_tries % 20 == 0)
			cgb->kill_all(u->cg); /* something forked past the first kill */
		if (u->drain_tries == 100)
			sup_warn(u->name, "cgroup still not empty after SIGKILL (a process in "
					  "uninterruptible sleep?); still waiting");
		return false;
	}
	/* Empty: kept for the next run (a restart reuses it as it is); removed once the unit
	 * is down for good (sup_cg_release). */
	return true;
}

static void drain_check(struct unit *u)
{
	if (!u->draining || !u->cg)
		return;
	if (!drain_step(u)) {
		arm_retry(u);
		return;
	}
	u->draining = false;
	sup_unit_exit_finish(u);
}

int sup_cg_prepare(struct unit *u, struct spawn_request *req, struct sup_error **err)
{
	int fd;

	if (!cgb)
		return 0;
	if (!u->cg) {
		u->cg = cgb->create(u->name, err);
		if (!u->cg)
			return -1;
		u->cg_oom_base = cgb->event_read(u->cg);
		ev_init(&u->cg_timer, on_cg_timer);
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
		cgb->apply(u->cg, &u->cfg->res, warn_unit, u);
		u->cg_cfg = u->cfg;
	}
	sup_cg_join(u, req);
	return 0;
}

static int place(pid_t pid, void *arg, struct sup_error **err)
{
	struct unit *u = arg;

	return u->cg ? cgb->place(u->cg, pid, err) : 0;
}

void sup_cg_join(struct unit *u, struct spawn_request *req)
{
	if (!cgb || !u->cg)
		return;
	req->cgroup_fd = cgb->clone_fd(u->cg);
	req->into_cgroup = req->cgroup_fd >= 0;
	req->place = place;
	req->place_arg = u;
}

bool sup_cg_signal(struct unit *u, int sig)
{
	if (!cgb || !u->cg)
		return false;
	if (sig == SIGKILL)
		cgb->kill_all(u->cg);
	else
		cgb->signal(u->cg, sig);
	return true;
}

bool sup_cg_drain(struct unit *u)
{
	if (!cgb || !u->cg)
		return false;
	note_oom(u, cgb->event_read(u->cg));
	/* the common case, a lone main process that died: nothing to kill, no freeze */
	if (cgb->is_empty(u->cg) != 0)
		return false;
	cgb->kill_all(u->cg);
	u->drain_tries = 0;
	if (drain_step(u))
		return false;
	u->draining = true;
	arm_retry(u);
	return true;
}

void sup_cg_reaped(void)
{
	struct unit *u;

	if (!cgb)
		return;
	for_each_unit(u) if (u->draining) drain_check(u);
}

void sup_cg_apply(struct unit *u)
{
	if (cgb && u->cg && u->cfg) {
		cgb->apply(u->cg, &u->cfg->res, warn_unit, u);
		u->cg_cfg = u->cfg;
	}
}

/* The unit is down for good (inactive, exited, failed): its empty cgroup goes. */
void sup_cg_release(struct unit *u)
{
	if (!cgb || !u->cg || u->draining || u->pid || u->health_pid)
		return;
	if (cgb->is_empty(u->cg) == 0)
		return; /* something is left: the next stop or free takes care of it */
	ev_io_stop(supd->loop, &u->cg_io);
	if (cgb->remove(u->cg) < 0)
		sup_warn(u->name, "remove cgroup: %s; left behind", strerror(errno));
	release(u);
	u->cg_cfg = NULL;
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

void sup_cg_unit_free(struct unit *u)
{
	if (!u->cg)
		return;
	cgb->kill_all(u->cg);
	ev_io_stop(supd->loop, &u->cg_io);
	cgb->remove(u->cg);
	release(u);
}
