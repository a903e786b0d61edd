/*
 * A fake of supervisor/core/effects.h for the state machine and scheduler tests: a clock moved
 * by hand, timers fired in deadline order by fx_advance(), processes that are only numbers
 * (their exec and exit are told by the test), and a log of every spawn and signal.
 */
#ifndef SUP_TEST_FAKE_EFFECTS_H
#define SUP_TEST_FAKE_EFFECTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/effects.h"
#include "core/unit.h"

enum fx_kind {
	FX_SPAWN,   /* the main process of unit */
	FX_HEALTH,  /* a health check */
	FX_KILL,    /* a signal sig to who */
	FX_CONTROL, /* a control command (cmd) */
	FX_PULL,    /* the image of a unit asked for */
};

struct fx_event {
	enum fx_kind kind;
	char unit[UNIT_NAME_MAX + 1];
	pid_t pid;
	int sig;
	enum unit_kill_who who;
	uint64_t at;  /* the fake clock */
	char cmd[64]; /* FX_CONTROL: argv[0] */
};

#define FX_EVENTS_MAX 65536
extern struct fx_event fx_events[FX_EVENTS_MAX];
extern size_t fx_n_events;
extern uint64_t fx_now;	     /* usec */
extern bool fx_spawn_fails;  /* unit_exec_main() fails (EAGAIN) */
extern bool fx_drain_waits;  /* unit_drain_begin() says the cgroup must empty first */
extern bool fx_health_fails; /* unit_exec_health() fails */
extern pid_t fx_forking_pid; /* what unit_forking_main() finds (0: nothing) */
/* the next reaping finds the exec report still in the sync pipe (reaped before it was read) */
extern bool fx_exec_report_pending;
extern int fx_condition; /* what unit_check_conditions() says */
/* what unit_image_prepare() says: 1 ready at once, 0 the test calls unit_image_ready() */
extern int fx_image_prepare;

/* Start from nothing: no units, no timers, time 1 s, the event log empty, the state machine's
 * observers set as supd sets them (minus those of the daemon: control, cgroups). */
void fx_reset(void);
/* Load units from (name, text) pairs, resolve their edges; the unit parser is the real one. */
void fx_load(const char *const *pairs, size_t n);
struct unit *fx_unit(const char *name);
/* Move the clock, firing every timer that falls due, in order; a pass after each. */
void fx_advance(uint64_t usec);
/* The main process of u exec'd / exited with code / was killed by sig; then a pass. */
void fx_execd(const char *name);
void fx_exit(const char *name, int code);
void fx_killed(const char *name, int sig);
/* The control command of u exited with code. */
void fx_control_exit(const char *name, int code);
/* The health check of u exited with code. */
void fx_health_exit(const char *name, int code);
void fx_pass(void);
/* The index of the n-th (0-based) event of kind for unit (NULL: any unit), or -1. */
long fx_find(enum fx_kind kind, const char *unit, int sig, unsigned nth);
size_t fx_count(enum fx_kind kind, const char *unit);
const char *fx_state(const char *name); /* public state name */

/* The suites' fixture: fx_reset() before a test; after it, no transition outside the table. */
void fx_setup(void);
void fx_teardown(void);
/* Start the unit (a client's start) and run the scheduler. */
void fx_start(const char *name);
#define LOAD(...)                                                                                  \
	do {                                                                                       \
		static const char *const _p[] = {__VA_ARGS__};                                     \
		fx_load(_p, sizeof(_p) / sizeof(_p[0]));                                           \
	} while (0)

#endif
