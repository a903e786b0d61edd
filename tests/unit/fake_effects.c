/* The fake effects: see fake_effects.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <check.h>

#include "core/children.h"
#include "core/deps.h"
#include "core/effects.h"
#include "core/health.h"
#include "core/service.h"
#include "core/state.h"
#include "fake_effects.h"
#include "supd.h"

struct fx_event fx_events[FX_EVENTS_MAX];
size_t fx_n_events;
uint64_t fx_now;
bool fx_spawn_fails, fx_drain_waits, fx_health_fails;

static pid_t next_pid;

struct timer {
	struct unit *u;
	enum unit_timer_id t;
	uint64_t due, repeat;
	bool armed;
};

#define TIMERS_MAX 65536
static struct timer timers[TIMERS_MAX];
static size_t n_timers;

static struct timer *timer_of(const struct unit *u, enum unit_timer_id t, bool make)
{
	for (size_t i = 0; i < n_timers; i++)
		if (timers[i].u == u && timers[i].t == t)
			return &timers[i];
	if (!make)
		return NULL;
	ck_assert_uint_lt(n_timers, TIMERS_MAX);
	timers[n_timers] = (struct timer){.u = (struct unit *)u, .t = t};
	return &timers[n_timers++];
}

static void record(enum fx_kind kind, const struct unit *u, pid_t pid, int sig,
		   enum unit_kill_who who)
{
	struct fx_event *e;

	ck_assert_uint_lt(fx_n_events, FX_EVENTS_MAX);
	e = &fx_events[fx_n_events++];
	*e = (struct fx_event){.kind = kind, .pid = pid, .sig = sig, .who = who, .at = fx_now};
	snprintf(e->unit, sizeof(e->unit), "%s", u->name);
}

/* ---- effects.h */

void unit_effects_init(struct unit *u)
{
	u->health_fd = -1;
	u->control_fd = -1;
	u->notify_fd = -1;
}

void unit_effects_free(struct unit *u)
{
	for (int t = 0; t < UNIT_TIMER__MAX; t++)
		unit_timer_stop(u, (enum unit_timer_id)t);
}

uint64_t now_mono(void)
{
	return fx_now;
}

uint64_t now_real(void)
{
	return fx_now + 1700000000ULL * USEC_PER_SEC;
}

void unit_timer_arm(struct unit *u, enum unit_timer_id t, uint64_t usec, uint64_t repeat_usec)
{
	struct timer *tm = timer_of(u, t, true);

	tm->due = fx_now + usec;
	tm->repeat = repeat_usec;
	tm->armed = true;
}

void unit_timer_stop(struct unit *u, enum unit_timer_id t)
{
	struct timer *tm = timer_of(u, t, false);

	if (tm)
		tm->armed = false;
}

void unit_timer_again(struct unit *u, enum unit_timer_id t)
{
	struct timer *tm = timer_of(u, t, false);

	if (tm && tm->repeat)
		unit_timer_arm(u, t, tm->repeat, tm->repeat);
}

bool unit_timer_active(const struct unit *u, enum unit_timer_id t)
{
	struct timer *tm = timer_of(u, t, false);

	return tm && tm->armed;
}

int fx_image_prepare = 1;

int unit_image_prepare(struct unit *u, struct sup_error **err)
{
	record(FX_PULL, u, 0, 0, KILL_MAIN);
	if (fx_image_prepare < 0)
		return sup_error_set(err, ENOENT, "cannot run the image helper");
	return fx_image_prepare;
}

int unit_exec_main(struct unit *u, struct sup_error **err)
{
	if (fx_spawn_fails)
		return sup_error_set(err, EAGAIN, "fork");
	u->main.pid = u->pgid = next_pid++;
	record(FX_SPAWN, u, u->main.pid, 0, KILL_MAIN);
	return 0;
}

bool fx_exec_report_pending;

/* as the real one: the sync pipe read at the reaping; pending, it says "exec'd" */
void unit_exec_finish(struct unit *u)
{
	if (fx_exec_report_pending) {
		fx_exec_report_pending = false;
		unit_main_execd(u);
	}
}

int unit_exec_command(struct unit *u, char *const *argv, const int fds[3], int pty_sock,
		      struct unit_exec_proc *out, struct sup_error **err)
{
	return sup_error_set(err, ENOSYS, "exec");
}

int unit_exec_wstatus(struct unit *u, int wstatus)
{
	return wstatus;
}

int unit_exec_control(struct unit *u, const struct unit_command *cmd, struct sup_error **err)
{
	if (fx_spawn_fails)
		return sup_error_set(err, EAGAIN, "fork");
	u->control.pid = next_pid++;
	record(FX_CONTROL, u, u->control.pid, 0, KILL_CONTROL);
	snprintf(fx_events[fx_n_events - 1].cmd, sizeof(fx_events[0].cmd), "%s", cmd->argv.v[0]);
	return 0;
}

bool unit_control_exec_error(struct unit *u, char *buf, size_t size)
{
	return false;
}

pid_t fx_forking_pid;

pid_t unit_forking_main(struct unit *u, char *why, size_t size)
{
	snprintf(why, size, fx_forking_pid ? "from the test" : "no pid file");
	if (fx_forking_pid)
		u->pgid = fx_forking_pid;
	return fx_forking_pid;
}

int fx_condition = 0;

int unit_check_conditions(struct unit *u, char *why, size_t size)
{
	/* the units that have a condition say what the test wants */
	if (!u->cfg->condition_path_exists.n && !u->cfg->assert_path_exists.n)
		return 0;
	snprintf(why, size, "ConditionPathExists=/nope");
	return fx_condition;
}

int unit_exec_health(struct unit *u, struct sup_error **err)
{
	if (fx_health_fails)
		return sup_error_set(err, ENOENT, "exec /nonexistent");
	u->health.pid = next_pid++;
	record(FX_HEALTH, u, u->health.pid, 0, KILL_HEALTH);
	return 0;
}

bool unit_health_exec_error(struct unit *u, char *buf, size_t size)
{
	return false;
}

void unit_kill(struct unit *u, int sig, enum unit_kill_who who)
{
	record(FX_KILL, u,
	       who == KILL_HEALTH    ? u->health.pid
	       : who == KILL_CONTROL ? u->control.pid
				     : u->main.pid,
	       sig, who);
}

bool unit_drain_begin(struct unit *u)
{
	return fx_drain_waits;
}

void unit_output_flush(struct unit *u)
{
}

void unit_log_added(struct unit *u)
{
}

/* ---- the test's side */

void fx_pass(void)
{
	while (sup_sched_pending())
		sup_sched_pass();
}

static void all_down(void)
{
}

void fx_reset(void)
{
	struct unit *u;

	for_each_unit(u) unit_free(u);
	supd->shutting_down = false;
	supd->exit_status = 0;
	if (!supd->conf.log_ring_bytes)
		supd->conf.log_ring_bytes = 64 << 10;
	n_timers = 0;
	fx_n_events = 0;
	fx_now = USEC_PER_SEC;
	next_pid = 1000;
	fx_spawn_fails = fx_drain_waits = fx_health_fails = false;
	fx_forking_pid = 0;
	fx_condition = 0;
	fx_image_prepare = 1;
	unit_bad_transitions = 0;
	unit_observers_clear();
	unit_observe(deps_observe);
	unit_observe(unit_health_observe);
	sup_sched_on_all_down(all_down);
	fx_pass();
}

void fx_load(const char *const *pairs, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		struct unit_problems pl = {0};
		struct unit_config *c = NULL;
		char path[128];

		snprintf(path, sizeof(path), "/test/%s.unit", pairs[i]);
		if (unit_parse_string(pairs[i], path, pairs[i + 1], strlen(pairs[i + 1]), &c, &pl) <
		    0) {
			char *e = unit_problems_join(&pl, UNIT_ERROR);
			ck_abort_msg("unit %s does not parse: %s", pairs[i], e ? e : "?");
		}
		unit_problems_free(&pl);
		ck_assert_ptr_nonnull(unit_new(pairs[i], c, NULL));
	}
	deps_resolve();
}

struct unit *fx_unit(const char *name)
{
	struct unit *u = unit_find(name);

	ck_assert_msg(u != NULL, "no unit %s", name);
	return u;
}

const char *fx_state(const char *name)
{
	return unit_state_name(fx_unit(name)->state);
}

static struct timer *next_due(uint64_t until)
{
	struct timer *best = NULL;

	for (size_t i = 0; i < n_timers; i++)
		if (timers[i].armed && timers[i].due <= until &&
		    (!best || timers[i].due < best->due))
			best = &timers[i];
	return best;
}

void fx_advance(uint64_t usec)
{
	uint64_t until = fx_now + usec;
	struct timer *tm;

	while ((tm = next_due(until))) {
		fx_now = tm->due;
		if (tm->repeat)
			tm->due += tm->repeat;
		else
			tm->armed = false;
		unit_on_timer(tm->u, tm->t);
		fx_pass();
	}
	fx_now = until;
}

void fx_execd(const char *name)
{
	unit_main_execd(fx_unit(name));
	fx_pass();
}

static void reaped(pid_t pid, int wstatus)
{
	ck_assert_msg(pid > 0, "no such process");
	ck_assert_msg(sup_child_exited(pid, wstatus), "pid %d was not a child", (int)pid);
	fx_pass();
}

void fx_exit(const char *name, int code)
{
	reaped(fx_unit(name)->main.pid, W_EXITCODE(code, 0));
}

void fx_killed(const char *name, int sig)
{
	reaped(fx_unit(name)->main.pid, sig & 0x7f); /* a wait status for "killed by sig" */
}

void fx_control_exit(const char *name, int code)
{
	reaped(fx_unit(name)->control.pid, W_EXITCODE(code, 0));
}

void fx_health_exit(const char *name, int code)
{
	reaped(fx_unit(name)->health.pid, W_EXITCODE(code, 0));
}

long fx_find(enum fx_kind kind, const char *unit, int sig, unsigned nth)
{
	for (size_t i = 0; i < fx_n_events; i++)
		if (fx_events[i].kind == kind && (!unit || !strcmp(fx_events[i].unit, unit)) &&
		    (!sig || fx_events[i].sig == sig) && nth-- == 0)
			return (long)i;
	return -1;
}

size_t fx_count(enum fx_kind kind, const char *unit)
{
	size_t n = 0;

	for (size_t i = 0; i < fx_n_events; i++)
		n += fx_events[i].kind == kind && (!unit || !strcmp(fx_events[i].unit, unit));
	return n;
}

void fx_setup(void)
{
	fx_reset();
}

void fx_teardown(void)
{
	ck_assert_uint_eq(unit_bad_transitions, 0);
	fx_reset();
}

void fx_start(const char *name)
{
	ck_assert_int_eq(unit_start(fx_unit(name), false, NULL), 0);
	fx_pass();
}
