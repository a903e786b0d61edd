/* sd_notify: a datagram socket per unit that asks for one (notify.c). */
#ifndef SUP_CORE_NOTIFY_H
#define SUP_CORE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "sup/error.h"
#include "core/unit.h"

/* What a datagram says, as far as supd acts on it (the lines of KEY=VALUE): pure, fuzzed. */
struct sup_notify_msg {
	bool ready, watchdog, watchdog_trigger;
	const char *status; /* STATUS=: points into the buffer, status_len bytes; NULL if none */
	size_t status_len;
};
void sup_notify_parse(const char *buf, size_t n, struct sup_notify_msg *m);

/* Type=notify, WatchdogSec= or NotifyAccess=main|exec: the unit gets $NOTIFY_SOCKET. */
bool sup_notify_wanted(const struct unit *u);
/* RUN-DIR/unit/NAME/notify. -1 if it does not fit. */
int sup_notify_path(const struct unit *u, char *buf, size_t size);
/* Before a spawn: the unit's socket, made (again, if its file was deleted) or closed when the
 * unit no longer asks for one. */
int sup_notify_prepare(struct unit *u, struct sup_error **err);
void sup_notify_close(struct unit *u);
/* A running unit's socket file was deleted or replaced: made again at the same path (SIGHUP,
 * reload). */
void sup_notify_recover(struct unit *u);

#endif
