/* Between spawn.c (the clone and the plain child) and the container child (container/). */
#ifndef SUP_SPAWNER_CHILD_H
#define SUP_SPAWNER_CHILD_H

#include "sup/spawn.h"

/* Send what failed (with strerror) and _exit(code). */
void child_fail(int fd, int errnum, int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));
/* Signals, OOM score, limits, session, stdio, environment: every child's first steps. */
void spawn_child_prepare(int fd, const struct spawn_request *req);
/* The ordered steps of a container (container/child.c). Never returns. */
void spawn_container_main(int sync, const struct spawn_request *req) __attribute__((noreturn));

#endif
