/*
 * A container child, step by step: non-dumpable, every fd of supd's closed before any path
 * of the container is touched (CVE-2024-21626: a WorkingDirectory=/proc/self/fd/N must not
 * reach supd's directory fds), the namespaces and the root (or a running container's, for
 * exec), the init, then in the service: its user, capabilities, no_new_privs, seccomp, its
 * working directory, exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "../child.h"
#include "container.h"
#include "sys.h"

extern char **environ;

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd above 2 but the ones we still need (the id-mapped trees the parent sent are
 * closed as soon as they are mounted). */
static void close_others(int sync, const struct spawn_container *c)
{
	int keep[5 + CT_TREES_MAX], n = 0, next = 3;
	const int fixed[5] = {sync, c->pty_sock, c->join_pidfd, c->init_image, c->root_tree};

	for (int i = 0; i < 5 + CT_TREES_MAX; i++) {
		int fd = i < 5 ? fixed[i] : ct_trees[i - 5];
		if (fd > 2)
			keep[n++] = fd;
	}
	qsort(keep, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++) {
		if (keep[i] > next)
			sys_close_range((unsigned)next, (unsigned)keep[i] - 1, 0);
		next = keep[i] + 1;
	}
	sys_close_range((unsigned)next, ~0U, 0);
}

static void set_user_env(const struct ct_ids *ids)
{
	if (!ids->set || !ids->name[0])
		return;
	setenv("HOME", ids->home, 0);
	setenv("USER", ids->name, 0);
	setenv("LOGNAME", ids->name, 0);
	if (ids->shell[0])
		setenv("SHELL", ids->shell, 0);
}

void spawn_container_main(int sync, const struct spawn_request *req)
{
	const struct spawn_container *c = req->container;
	const char *cwd = req->cwd ? req->cwd : "/";
	struct ct_ids ids;

	spawn_child_prepare(sync, req);
	close_others(sync, c);
	if (c->join_pidfd >= 0) {
		ct_join(sync, c);
		close(c->join_pidfd);
	} else {
		int target = ct_root_target(sync, c);
		ct_enter_namespaces(sync, c);
		ct_rootfs(sync, c, target);
	}
	/* /proc/PID/exe of this process is supd's binary: no process of the container may open
	 * it (CVE-2019-5736). Not before: our own /proc/self files would be root's of the host,
	 * out of reach in a user namespace (timens_offsets, the mount targets). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* a pid namespace joined applies to children only: the exec helper forks too */
	if ((c->join_pidfd >= 0 && (c->ns & UNIT_NS_PID)) || (c->join_pidfd < 0 && c->init))
		if (ct_init_fork(sync, c->join_pidfd < 0 ? c->init_image : -1) == 0 && setsid() < 0)
			ct_fail(sync, errno, "setsid");
	if (c->pty_sock >= 0)
		ct_pty(sync, c);
	ct_resolve_user(sync, req->user, req->group, &ids);
	set_user_env(&ids);
	ct_security(sync, c, &ids);
	if (chdir(cwd) < 0)
		ct_fail(sync, errno, "chdir to %s", cwd);
	sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	execvp(req->argv[0], req->argv);
	ct_fail(sync, errno, "exec %s", req->argv[0]);
}
