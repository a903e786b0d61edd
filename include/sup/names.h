/* Unit names: one validator for unit files, the control protocol and every path built from a
 * name (cgroups, state directories, sockets). */
#ifndef SUP_NAMES_H
#define SUP_NAMES_H

#include <stdbool.h>

#define UNIT_NAME_MAX 64

/* [A-Za-z0-9_.@-]{1,64}, not "." or ".." (they would walk out of a directory named after the
 * unit). */
bool unit_name_valid(const char *name);

#endif
