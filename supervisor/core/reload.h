/*
 * Loading the units directory: at boot at once (nothing else is running yet), on reload in
 * bounded steps from an idle watcher, so that a directory of thousands of units never holds
 * up reaping or the control socket.
 */
#ifndef SUP_CORE_RELOAD_H
#define SUP_CORE_RELOAD_H

#include <jansson.h>

/* Load the units and want them all. A units directory that cannot be read, or holds nothing
 * but bad units, leaves supd up (reaping, answering) with the reason in supd->load_error. */
void sup_boot_units(void);

/* Begin a reload (SIGHUP, `supctl reload`); a request during one runs another after it.
 * When it is done, sup_reload_done() is called with {added, removed, changed} or an error.
 * -1 (and nothing done) while shutting down. */
int sup_reload_request(void);
/* Set by the daemon: told when a reload has finished (result NULL: error says why). */
void sup_reload_on_done(void (*fn)(json_t *result, const char *error));
/* Finish a reload in progress at once (tests, and supd's exit). */
void sup_reload_flush(void);

#endif
