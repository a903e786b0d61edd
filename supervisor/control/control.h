/*
 * The control socket: supctl's requests (docs/protocol.md). Non-blocking clients with their
 * own watchers; a start/stop/restart waits for its units to settle, `logs -f` follows a
 * unit's log, `reload` waits for the reload to finish.
 */
#ifndef SUP_CONTROL_CONTROL_H
#define SUP_CONTROL_CONTROL_H

#include <jansson.h>

#include "sup/error.h"
#include "core/unit.h"

int sup_control_init(struct sup_error **err);
/* The socket file was deleted or replaced: bind a new one at the same path (SIGHUP). */
void sup_control_recover(void);
struct unit_change;
/* Observer: waiting clients whose units settled get their reply. */
void sup_control_observe(struct unit *u, const struct unit_change *c);
/* A line was added to u's log: its followers get it. */
void sup_control_log_added(struct unit *u);
/* u is about to be freed: its followers' streams end. */
void sup_control_unit_gone(struct unit *u);
/* A reload finished: the clients waiting for it get the result (or the error). */
void sup_control_reload_done(json_t *result, const char *error);
/* supd exits: followers get an "end" event, the rest is closed, the socket file removed. */
void sup_control_shutdown(void);
/* The status object of one unit (also for the metrics listener). */
json_t *sup_unit_status_json(struct unit *u);

#endif
