/*
 * supctl exec UNIT -- CMD: CMD runs in the running unit's namespaces, root, cgroup, user,
 * capabilities, seccomp and environment (a plain unit: its cgroup, user and environment).
 * Its stdio are the caller's own fds, taken from the caller with pidfd_getfd (the caller is
 * root or in the control group: the socket said so); on a terminal, a pty of the container
 * goes to the caller over a socket it passed the same way. The reply, once CMD ends, is its
 * exit status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "sup/spawn.h"
#include "control/client.h"
#include "core/children.h"
#include "core/effects.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

struct ctl_exec {
	struct sup_child child;
	struct client *c;
	int sync_fd;
};

/* A pidfd of the caller: SO_PEERPIDFD (no pid reuse race, works across pid namespaces),
 * else by its pid. */
static int caller_pidfd(struct client *c)
{
	socklen_t len = sizeof(int);
	int fd = -1;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0)
		return fd;
	return c->pid > 0 ? (int)syscall(SYS_pidfd_open, c->pid, 0) : -1;
}

static void reaped(struct sup_child *ch, int wstatus)
{
	struct ctl_exec *x = sup_container_of(ch, struct ctl_exec, child);
	struct spawn_failure f;
	char msg[SPAWN_MSG_MAX] = "";
	int r;

	/* a set-up or exec failure, and (after a pid namespace join) CMD's own status */
	while ((r = spawn_read_result(x->sync_fd, &f)) > 0) {
		if (r == 1) {
			snprintf(msg, sizeof(msg), "%s", f.msg);
			wstatus = (f.exit_code & 0xff) << 8;
		} else if (r == 3) {
			wstatus = f.errnum;
		}
	}
	if (x->c) {
		json_t *data = WIFEXITED(wstatus) ? json_pack("{s:i}", "exit", WEXITSTATUS(wstatus))
						  : json_pack("{s:s?, s:i}", "signal",
							      sup_signal_name(WTERMSIG(wstatus)),
							      "exit", 128 + WTERMSIG(wstatus));
		if (msg[0])
			json_object_set_new(data, "error", json_string(msg));
		x->c->exec = NULL;
		sup_client_send(x->c, sup_reply_ok(data));
	}
	close(x->sync_fd);
	free(x);
}

void sup_exec_client_gone(struct client *c)
{
	if (c->exec)
		c->exec->c = NULL; /* CMD goes on; its end is reaped and dropped */
	c->exec = NULL;
}

/* The caller's fds, as many as it named; -1 for the others. */
static int take_fds(struct client *c, const struct sup_request *req, int fds[3])
{
	_cleanup_close_ int pidfd = caller_pidfd(c);

	fds[0] = fds[1] = fds[2] = -1;
	if (pidfd < 0)
		return -1;
	for (int i = 0; i < req->n_fds; i++) {
		fds[i] = (int)syscall(SYS_pidfd_getfd, pidfd, req->fds[i], 0);
		if (fds[i] < 0)
			return -1;
	}
	return 0;
}

static void close_fds(int fds[3])
{
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

json_t *sup_exec_command(struct client *c, struct sup_request *req)
{
	struct unit *u = unit_find(req->units.v[0]);
	struct unit_exec_proc p = {0};
	struct sup_error *err = NULL;
	struct ctl_exec *x;
	int fds[3], r;

	if (!u)
		return sup_reply_error(SUP_EXIT_NO_UNIT, "%s: no such unit", req->units.v[0]);
	if (!u->main.pid || !u->cfg || u->state != UNIT_RUNNING)
		return sup_reply_error(SUP_EXIT_FAILED, "%s: not running", u->name);
	if (take_fds(c, req, fds) < 0) {
		r = errno;
		close_fds(fds);
		return sup_reply_error(SUP_EXIT_FAILED, "exec: take the caller's fds: %s",
				       strerror(r));
	}
	x = calloc(1, sizeof(*x));
	r = x ? unit_exec_command(u, req->argv.v, req->tty ? (int[3]){-1, -1, -1} : fds,
				  req->tty ? fds[0] : -1, &p, &err)
	      : sup_error_set(&err, ENOMEM, "exec");
	close_fds(fds);
	if (r < 0) {
		json_t *reply = sup_reply_error(SUP_EXIT_FAILED, "exec: %s", err->msg);
		sup_error_free(err);
		free(x);
		return reply;
	}
	x->c = c;
	x->sync_fd = p.sync_fd;
	sup_child_add(&x->child, p.pid, CHILD_OTHER, reaped);
	sup_child_set_pidfd(&x->child, p.pidfd);
	c->exec = x;
	sup_info(u->name, "exec %s (pid %d) for client pid %d", req->argv.v[0], (int)p.pid,
		 (int)c->pid);
	return NULL;
}
