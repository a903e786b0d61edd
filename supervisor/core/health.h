/*
 * HealthCmd=: run every HealthIntervalSec while the unit is up; a check that exits non-zero,
 * cannot be executed, or outlives HealthTimeoutSec is a failure; HealthRetries consecutive
 * failures make the unit unhealthy, and Restart= decides whether it is killed and restarted.
 */
#ifndef SUP_CORE_HEALTH_H
#define SUP_CORE_HEALTH_H

#include "core/unit.h"

struct unit_change;
/* Observer: checks run while the unit is running or unhealthy, and stop otherwise. */
void unit_health_observe(struct unit *u, const struct unit_change *c);
/* UNIT_TIMER_HEALTH fired: start a check, or end one that timed out. */
void unit_health_timer(struct unit *u);
/* Stop checking (a running check is killed; its exit is ignored). */
void unit_health_disarm(struct unit *u);

#endif
