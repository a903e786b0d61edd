/*
 * The container init's loop (init_loop.c): in sup-init, the small static program the
 * container's PID 1 execs from a sealed memfd (sup-init.c), and in the spawner's own child
 * where that cannot be done (init.c) or for the exec helper. Nothing but libc.
 */
#ifndef SUP_SPAWNER_INIT_LOOP_H
#define SUP_SPAWNER_INIT_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* Read the service's failure pipe until it is closed: true when the service exec'd (EOF
 * alone: the pipe is O_CLOEXEC), false when it wrote that it failed. Closes fd. */
bool ct_init_execd(int fd);
/* Tell supd over sync that the service exec'd. */
void ct_init_report_execd(int sync);
/* Forward every signal of all to svc, reap every child; once svc is reaped, send its wait
 * status over sync and exit with it (128+N for a signal). */
void ct_init_serve(int sync, pid_t svc, const sigset_t *all) __attribute__((noreturn));

#endif
