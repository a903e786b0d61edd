/*
 * What the state machine asks of the world: time, timers, processes, signals, the unit's
 * cgroup and its captured output. supd links the real ones (effects.c, exec.c, cgroups.c,
 * logs/); the unit tests link a fake (tests/unit/fake_effects.c) with a clock they move by
 * hand and processes that exist only as numbers, so that the state machine and the
 * dependency scheduler are tested without root, without fork and without waiting.
 */
#ifndef SUP_CORE_EFFECTS_H
#define SUP_CORE_EFFECTS_H

#include <stdbool.h>
#include <stdint.h>

#include "sup/error.h"
#include "core/unit.h"

/* The unit's watchers (timers, pipes), set up when it is made and torn down when freed. */
void unit_effects_init(struct unit *u);
void unit_effects_free(struct unit *u);

uint64_t now_mono(void); /* usec */
uint64_t now_real(void);

/* One-shot after usec, then every repeat_usec if not 0. unit_on_timer() is called when it
 * fires. Arming an armed timer re-arms it. */
void unit_timer_arm(struct unit *u, enum unit_timer_id t, uint64_t usec, uint64_t repeat_usec);
void unit_timer_stop(struct unit *u, enum unit_timer_id t);
/* A repeating timer starts its period again (WATCHDOG=1). */
void unit_timer_again(struct unit *u, enum unit_timer_id t);
bool unit_timer_active(const struct unit *u, enum unit_timer_id t);

/* Image=: the image of the next run, pulled if missing. 1 it is ready now; 0 the helper is
 * at work and unit_image_ready() comes later; -1 with *err. */
int unit_image_prepare(struct unit *u, struct sup_error **err);

/* Spawn the main process: u->main.pid and u->pgid set, the child registered. The outcome of
 * its set-up comes later: unit_main_execd() or unit_main_spawn_failed(). */
int unit_exec_main(struct unit *u, struct sup_error **err);
/* The main process is gone: read the last word of its set-up (a failure report) and close
 * the sync pipe. */
void unit_exec_finish(struct unit *u);
/* supctl exec: CMD in the unit's namespaces, root, cgroup, user and environment, with the
 * caller's fds (-1: /dev/null), or a pty sent over pty_sock. */
struct unit_exec_proc {
	pid_t pid;
	int pidfd, sync_fd;
};
int unit_exec_command(struct unit *u, char *const *argv, const int fds[3], int pty_sock,
		      struct unit_exec_proc *out, struct sup_error **err);
/* The main process was reaped with wstatus: the service's own, when a container init
 * reported it (an init cannot die of a signal itself). */
int unit_exec_wstatus(struct unit *u, int wstatus);
/* Spawn a control command (ExecStartPre= ...): u->control.pid set. Its output goes to the
 * unit's log; $MAINPID is the main process. */
int unit_exec_control(struct unit *u, const struct unit_command *cmd, struct sup_error **err);
/* The control command is gone: if it could not even be executed, why (true). buf may be NULL. */
bool unit_control_exec_error(struct unit *u, char *buf, size_t size);
/* Type=forking: the daemon the started process left (PIDFile=, believed only if that pid is
 * in the unit's cgroup; without one, the only process of the cgroup). u->pgid set. The pid,
 * with how it was found in why; or 0 and why not. */
pid_t unit_forking_main(struct unit *u, char *why, size_t size);
/* ConditionPathExists= and AssertPathExists=: 0 all hold, 1 a condition failed, -1 an
 * assertion failed (why says which). */
int unit_check_conditions(struct unit *u, char *why, size_t size);
/* Spawn the health check: u->health.pid set. */
int unit_exec_health(struct unit *u, struct sup_error **err);
/* The health check is gone: if it could not even be executed, why (into buf, true). Closes
 * its report pipe either way. buf may be NULL. */
#define SPAWN_WHY_MAX 600
bool unit_health_exec_error(struct unit *u, char *buf, size_t size);

enum unit_kill_who {
	KILL_MAIN,    /* the main process only */
	KILL_UNIT,    /* every process of the unit (its cgroup, else its process group) */
	KILL_HEALTH,  /* the health check: its process group; with SIGKILL its leaf cgroup too */
	KILL_CONTROL, /* the control command (its own process group) */
};
void unit_kill(struct unit *u, int sig, enum unit_kill_who who);

/* The main process ended: kill what is left of the run. true when the unit must wait for its
 * cgroup to empty: unit_drained() is called then. */
bool unit_drain_begin(struct unit *u);
/* Read what the output pipes hold now (the last words come before the exit note). */
void unit_output_flush(struct unit *u);
/* A line was added to the unit's log (followers are fed). */
void unit_log_added(struct unit *u);

#endif
