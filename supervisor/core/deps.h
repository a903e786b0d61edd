/*
 * Dependency scheduling. Each unit has a goal (up or down). A unit whose state or goal
 * changed is queued, with its neighbours in the dependency graph; a pass, run before the
 * loop sleeps, looks only at queued units: it starts a wanted unit once its Requires= units
 * are up and no After= unit is still on its way up, stops a unit whose requirement is lost,
 * and stops an unwanted unit once nothing that is ordered after it and stopping too is still
 * active (so stops run in reverse order). Edges are pointers, resolved once per load.
 */
#ifndef SUP_CORE_DEPS_H
#define SUP_CORE_DEPS_H

#include "core/unit.h"

/* Rebuild every unit's edges from its config (after a load or a reload). */
void deps_resolve(void);
/* Drop u's edges (before it is freed). */
void deps_clear(struct unit *u);

/* Goal up, with its Requires= (and Wants= that are down), recursively. */
void deps_want(struct unit *u);
/* Goal down, and of everything that Requires= it, recursively; a pending restart is off. */
void deps_unwant(struct unit *u);

/* Queue u and its neighbours for the next pass. */
void deps_touch(struct unit *u);
/* Ask for a pass even with nothing queued (a shutdown checks whether all is down). */
void sup_sched_poke(void);
bool sup_sched_pending(void);
/* Handle what is queued, for a bounded time: when it returns with work left,
 * sup_sched_pending() is still true and the loop must come back without blocking. */
void sup_sched_pass(void);
/* Called by the pass once a shutdown has brought every unit down. */
void sup_sched_on_all_down(void (*fn)(void));

/* The observer that queues a unit that changed state (registered at start-up). */
struct unit_change;
void deps_observe(struct unit *u, const struct unit_change *c);
/* Units looked at by passes since supd started: the scheduler's cost (tests). */
extern unsigned long sup_sched_steps;
/* Units that are not down (for the shutdown's end; tests). */
size_t deps_active_units(void);

#endif
