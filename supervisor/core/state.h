/*
 * The unit state machine: one table of sub-states (the public state each maps to, the
 * sub-states it may go to, the timer it arms) and one setter. What a state change causes
 * elsewhere (health checks, waiting clients, cgroup release, exit-with-unit, scheduling)
 * subscribes as an observer instead of being called from here.
 */
#ifndef SUP_CORE_STATE_H
#define SUP_CORE_STATE_H

#include <stdbool.h>

#include "core/unit.h"

struct unit_change {
	enum unit_sub old_sub, new_sub;
	enum unit_state old_state, new_state;
};

typedef void (*unit_observer_fn)(struct unit *u, const struct unit_change *c);

/* The only writer of u->sub and u->state. A change the table does not allow is logged and
 * counted (unit_bad_transitions; the unit tests assert none), never fatal: PID 1 goes on. */
void unit_set_sub(struct unit *u, enum unit_sub s);
/* Observers are called in the order they were added, after every unit_set_sub(). */
void unit_observe(unit_observer_fn fn);
void unit_observers_clear(void); /* tests */
extern unsigned long unit_bad_transitions;

const char *unit_state_name(enum unit_state s);
const char *unit_sub_name(enum unit_sub s);
enum unit_state unit_sub_state(enum unit_sub s);
/* Is the sub-state allowed to follow from? (tests walk the table) */
bool unit_sub_allowed(enum unit_sub from, enum unit_sub to);

/* Up for its dependants: running (ready), unhealthy, RemainAfterExit, or a oneshot done. */
bool unit_is_up(const struct unit *u);
/* Nothing of it runs and nothing is pending: inactive, exited (not remaining), failed, bad. */
bool unit_is_down(const struct unit *u);
/* A stop is under way (ExecStop=, stop signal, SIGKILL, drain). */
bool unit_is_stopping(const struct unit *u);

#endif
