/*
 * A unit's life: requests (start, stop, restart, reset), the scheduler's go-ahead, and the
 * events of its processes and timers, each turned into a change of sub-state.
 */
#ifndef SUP_CORE_SERVICE_H
#define SUP_CORE_SERVICE_H

#include "core/unit.h"

/* Requests (supctl, boot, reload). start: want it and what it requires; the scheduler
 * spawns when the requirements are up. */
int unit_start(struct unit *u, bool clear_limit, struct sup_error **err);
void unit_stop(struct unit *u);
void unit_restart(struct unit *u);
void unit_reset(struct unit *u);
/* `supctl reload UNIT`: ExecReload= (the unit must be running and have one). */
int unit_reload(struct unit *u, struct sup_error **err);

/* From the scheduler (deps.c): begin the run of a queued unit, or begin its stop. */
void unit_run(struct unit *u);
void unit_stop_now(struct unit *u);

/* Events. */
void unit_main_execd(struct unit *u);			      /* the main process exec'd */
void unit_main_spawn_failed(struct unit *u, const char *msg); /* its set-up failed */
void unit_drained(struct unit *u);			      /* its cgroup is empty */
void unit_notify_ready(struct unit *u);			      /* READY=1 */
/* Image=: the image of the run is ready (error NULL), or could not be had (a start failure:
 * Restart= applies, as to a failed exec). */
void unit_image_ready(struct unit *u, const char *error);
/* The stop signal: StopSignal=, else the image's, else SIGTERM. */
int unit_stop_signal(const struct unit *u);
void unit_on_timer(struct unit *u, enum unit_timer_id t);
/* Kill the unit for a reason that counts as a failure; its end applies Restart=. */
void unit_fail_stop(struct unit *u, enum exit_kind kind, int sig, const char *why);

/* A note in the unit's log and in supd's. */
void unit_note(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void unit_set_error(struct unit *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* supd stops: every unit is unwanted; status is supd's exit status. */
void sup_shutdown(int status);
/* Called once when the shutdown begins. */
void sup_on_shutdown(void (*fn)(void));

#endif
