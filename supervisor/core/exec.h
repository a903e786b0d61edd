/* A unit's processes from its config (exec.c): see effects.h for the spawns the state machine
 * asks for. Here: what the daemon wires itself. */
#ifndef SUP_CORE_EXEC_H
#define SUP_CORE_EXEC_H

#include "core/unit.h"

struct unit_change;
/* Observer: a unit down for good loses its RuntimeDirectory=. */
void sup_exec_observe(struct unit *u, const struct unit_change *c);

#endif
