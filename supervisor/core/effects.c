/* The real effects: libev timers, clocks, signals. (exec.c spawns, cgroups.c drains.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "control/control.h"
#include "core/cgroups.h"
#include "core/children.h"
#include "core/container.h"
#include "core/effects.h"
#include "core/health.h"
#include "core/notify.h"
#include "core/service.h"
#include "core/state.h"
#include "images/unit_image.h"
#include "logs/output.h"
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

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct unit *u = w->data;
	enum unit_timer_id t = (enum unit_timer_id)(w - u->timers);

	if (t == UNIT_TIMER_CGROUP)
		sup_cg_timer(u);
	else
		unit_on_timer(u, t);
}

void unit_timer_arm(struct unit *u, enum unit_timer_id t, uint64_t usec, uint64_t repeat_usec)
{
	ev_timer *w = &u->timers[t];

	ev_timer_stop(supd->loop, w);
	ev_timer_set(w, (double)usec / 1e6, (double)repeat_usec / 1e6);
	ev_timer_start(supd->loop, w);
}

void unit_timer_stop(struct unit *u, enum unit_timer_id t)
{
	ev_timer_stop(supd->loop, &u->timers[t]);
}

void unit_timer_again(struct unit *u, enum unit_timer_id t)
{
	ev_timer_again(supd->loop, &u->timers[t]);
}

bool unit_timer_active(const struct unit *u, enum unit_timer_id t)
{
	return ev_is_active(&u->timers[t]);
}

static void open_log_file(struct unit *u)
{
	_cleanup_free_ char *path = NULL;

	if (!supd->conf.log_dir || !u->log)
		return;
	if (asprintf(&path, "%s/%s.log", supd->conf.log_dir, u->name) < 0)
		return;
	if (logbuf_set_file(u->log, path, supd->conf.log_file_max, supd->conf.log_file_keep) < 0)
		sup_warn(u->name, "log file %s: %s", path, strerror(errno));
}

void unit_effects_init(struct unit *u)
{
	open_log_file(u);
	u->health_fd = -1;
	u->control_fd = -1;
	u->notify_fd = -1;
	for (int t = 0; t < UNIT_TIMER__MAX; t++) {
		ev_init(&u->timers[t], on_timer);
		u->timers[t].data = u;
	}
}

void unit_effects_free(struct unit *u)
{
	sup_control_unit_gone(u);
	unit_health_disarm(u);
	unit_health_exec_error(u, NULL, 0);
	unit_control_exec_error(u, NULL, 0);
	sup_output_detach(u);
	unit_exec_finish(u);
	sup_ct_free(u);
	sup_img_free(u);
	sup_cg_unit_free(u);
	sup_notify_close(u);
	for (int t = 0; t < UNIT_TIMER__MAX; t++)
		ev_timer_stop(supd->loop, &u->timers[t]);
}

/* Signal the unit's process group (and the main pid, in case it left the group). */
static void kill_group(struct unit *u, int sig)
{
	if (u->pgid > 0 && kill(-u->pgid, sig) < 0 && errno != ESRCH)
		sup_warn(u->name, "kill process group %d: %s", (int)u->pgid, strerror(errno));
	/* once only: the main process is normally the group's leader */
	if (u->main.pid > 0 && getpgid(u->main.pid) != u->pgid)
		kill(u->main.pid, sig);
}

void unit_kill(struct unit *u, int sig, enum unit_kill_who who)
{
	switch (who) {
	case KILL_MAIN:
		if (u->main.pid > 0)
			sup_child_signal(&u->main, sig);
		break;
	case KILL_HEALTH:
		if (u->health_pgid > 0)
			kill(-u->health_pgid, sig);
		if (sig == SIGKILL)
			sup_cg_kill_leaf(u->health_cg);
		/* the check was reaped after its unit went down: the cgroup can go now */
		if (sig == SIGKILL && !u->health.pid && (unit_is_down(u) || u->sub == SUB_REMAIN))
			sup_cg_settle(u);
		break;
	case KILL_CONTROL: /* its own process group (setsid) */
		if (u->control.pid > 0)
			kill(-u->control.pid, sig);
		break;
	case KILL_UNIT:
		/* a container's init forwards the signal to the service, as Docker's stop; the
		 * rest of the pid namespace dies with the init */
		if (u->ct && u->ct->init && sig != SIGKILL && u->main.pid > 0) {
			sup_child_signal(&u->main, sig);
			break;
		}
		/* with a cgroup: every process of the unit, whatever its process group, once; and
		 * the main process if it left the cgroup (as systemd signals the main pid too) */
		if (!sup_cg_signal(u, sig))
			kill_group(u, sig);
		else if (u->main.pid > 0 && !sup_cg_has_pid(u, u->main.pid))
			sup_child_signal(&u->main, sig);
		break;
	}
}

void unit_output_flush(struct unit *u)
{
	sup_output_drain(u);
}

void unit_log_added(struct unit *u)
{
	sup_control_log_added(u);
}
