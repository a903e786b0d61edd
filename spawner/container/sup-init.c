/*
 * sup-init: a container's PID 1 (docs/containers.md, "The container init"). Built static and
 * carried in supd's image (init_image.S); supd copies it once into a sealed memfd and the
 * container's first process execs it from there once it forked the service: the init then
 * holds a few pages of its own instead of a copy-on-write snapshot of supd's memory, needs
 * nothing from the root, and /proc/1/exe is a sealed memfd nobody can write
 * (CVE-2019-5736).
 *
 *   sup-init SYNC_FD SERVICE_PID FAIL_PIPE_FD      (every signal blocked, as inherited)
 */
#include <stdlib.h>
#include <sys/prctl.h>

#include "init_loop.h"

int main(int argc, char **argv)
{
	sigset_t all;
	int sync;

	/* first: no process of the container may ptrace us or open our /proc files */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_NAME, "sup-init", 0, 0, 0);
	if (argc != 4)
		return 126;
	sync = atoi(argv[1]);
	sigfillset(&all);
	if (ct_init_execd(atoi(argv[3])))
		ct_init_report_execd(sync);
	ct_init_serve(sync, (pid_t)atoi(argv[2]), &all);
}
