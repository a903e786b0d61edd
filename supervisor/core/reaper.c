/*
 * The one reaping path: every child and every orphan re-parented to supd is collected here
 * and handed to whoever registered its pid (children.c). Unknown pids are orphans: reaped
 * and dropped.
 */
#include <errno.h>
#include <sys/wait.h>

#include "sup/log.h"
#include "core/children.h"
#include "core/cgroups.h"
#include "machine/machine.h"

void sup_reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0) {
			if (pid < 0 && errno == EINTR)
				continue;
			sup_cg_reaped(); /* a unit's cgroup may have emptied */
			return; /* 0: none left to collect now; ECHILD: no children at all */
		}
		if (sup_child_exited(pid, status) || machine_reaped(pid, status))
			continue;
		sup_debug(NULL, "reaped orphan %d", (int)pid);
	}
}
