/*
 * Every process supd waits for, by pid: a unit's main process, its control command, its
 * health check, the console shell, an image helper. The reaper (reaper.c) collects each exit
 * once and hands it to the owner's callback; a pid nobody registered is an orphan.
 */
#ifndef SUP_CORE_CHILDREN_H
#define SUP_CORE_CHILDREN_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/unit.h"

/* Register c under pid; c->pid is set, and cleared again before c->reaped() is called. */
void sup_child_add(struct sup_child *c, pid_t pid, enum child_kind kind,
		   void (*reaped)(struct sup_child *c, int wstatus));
/* Keep c's pidfd (closed when c is forgotten or reaped); -1 closes the one it had. */
void sup_child_set_pidfd(struct sup_child *c, int pidfd);
/* Signal c through its pidfd, else by pid. */
int sup_child_signal(struct sup_child *c, int sig);
/* Forget c without waiting for it (its exit will be reaped as an orphan). */
void sup_child_forget(struct sup_child *c);
struct sup_child *sup_child_find(pid_t pid);
/* pid exited with wstatus: its owner is told. false if nobody registered pid. */
bool sup_child_exited(pid_t pid, int wstatus);
/* Processes of units (not CHILD_OTHER) still registered: a shutdown waits for them. */
size_t sup_children_of_units(void);

/* reaper.c (supd only): collect every exit that is ready, without blocking. */
void sup_reap(void);

#endif
