/*
 * The spawner: a spawn request in, a running process out. The child does its setup in a
 * fixed order and reports the first failure (errno + what it was doing) over a sync pipe
 * before _exit; a successful exec closes the pipe (O_CLOEXEC), so EOF means "exec'd".
 */
#ifndef SUP_SPAWN_H
#define SUP_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "sup/error.h"
#include "sup/strv.h"

struct spawn_request {
	const char *unit;	      /* for messages */
	char *const *argv;	      /* argv[0] absolute, or looked up in the env's PATH */
	char *const *envp;	      /* the environment before EnvironmentFile= */
	const struct strv *env_files; /* read in the child; "-path" = optional; may be NULL */
	const char *cwd;	      /* NULL = "/" */
	const char *user;	      /* NULL = keep root; name or number */
	const char *group;	      /* NULL = the user's primary group */
	int stdin_fd;		      /* -1 = /dev/null */
	int stdout_fd;		      /* -1 = /dev/null, -2 = inherit supd's */
	int stderr_fd;
	bool new_session;	   /* setsid(): the unit gets its own process group */
	bool controlling_tty;	   /* with new_session: stdin (a tty) becomes the session's
				    * controlling terminal, taken from any other (a console shell) */
	unsigned long nofile_soft; /* RLIMIT_NOFILE to restore (0 = keep): supd's is raised */
	unsigned long nofile_hard;
	/*
	 * The unit's cgroup: the process is in it before it runs an instruction of the service.
	 * into_cgroup: clone3(CLONE_INTO_CGROUP) with cgroup_fd (cgroup v2, kernel >= 5.7);
	 * otherwise, or if the kernel refuses, place(pid) is called by the parent after fork
	 * while the child waits on a pipe, and only then is the child released.
	 */
	bool into_cgroup;
	int cgroup_fd;
	int (*place)(pid_t pid, void *arg, struct sup_error **err); /* NULL: no cgroup */
	void *place_arg;
	/* out (may be NULL), set when into_cgroup: 0 if clone3 placed the child, else the errno
	 * it was refused with (the fork-then-place fallback ran) */
	int *clone3_errno;
};

#define SPAWN_MSG_MAX 512

/* What a failed child sends back. */
struct spawn_failure {
	int errnum;
	int exit_code; /* 126/127, as tini and shells do */
	char msg[SPAWN_MSG_MAX];
};

/*
 * Fork and set up the child. Returns the pid (> 0) and *sync_fd (the read end, O_CLOEXEC,
 * O_NONBLOCK), or -1 with *err if the fork itself failed.
 */
pid_t spawn_process(const struct spawn_request *req, int *sync_fd, struct sup_error **err);

/*
 * Read the outcome from a sync fd that polled readable: 0 = exec'd (EOF), 1 = the child
 * failed (*f filled), -1 = nothing yet (EAGAIN).
 */
int spawn_read_result(int sync_fd, struct spawn_failure *f);

/* Exit status a shell uses when exec fails with errnum. */
int spawn_exec_exit_code(int errnum);

#endif
