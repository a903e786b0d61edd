/* EnvironmentFile=: KEY=value lines, applied to the environment of the spawned process. */
#ifndef SUP_ENVFILE_H
#define SUP_ENVFILE_H

#include "sup/error.h"
#include "sup/strv.h"

/* Parse one line; returns 1 with *key and *value (malloc'd) for an assignment, 0 for a blank
 * or comment line, -1 if malformed. Pure. */
int envfile_parse_line(const char *line, char **key, char **value);
/* setenv() every assignment of every file ("-path" = optional if missing). */
int envfile_apply(const struct strv *files, struct sup_error **err);

#endif
