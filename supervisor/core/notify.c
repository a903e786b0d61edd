/*
 * The sd_notify socket: one datagram socket for all units. A message counts only if the
 * kernel-supplied credentials (SCM_CREDENTIALS) put the sender in a unit's process group
 * or session: a process cannot speak for a unit it does not belong to.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "core/children.h"
#include "core/effects.h"
#include "core/notify.h"
#include "core/service.h"
#include "supd.h"

static int notify_fd = -1;
static ev_io notify_io;

#define NOTIFY_MAX 4096

static struct unit *unit_of_pid(pid_t pid)
{
	struct sup_child *c = pid > 0 ? sup_child_find(pid) : NULL;

	return c && c->kind == CHILD_MAIN ? sup_container_of(c, struct unit, main) : NULL;
}

/* A sender that left the unit's session (a daemon that setsid()s) is still in its cgroup:
 * SUBTREE/UNIT, the last component of its path in /proc/PID/cgroup. */
static struct unit *unit_of_cgroup(pid_t pid)
{
	char path[64], line[1024];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *slash = strrchr(line, '/');
		struct unit *u;

		if (!slash)
			continue;
		slash[strcspn(slash, "\n")] = '\0';
		u = unit_find(slash + 1);
		if (u && u->cg && u->main.pid)
			return u;
	}
	return NULL;
}

/* The unit a sender belongs to: its main process, or in its process group or session (both
 * named after the main pid: setsid at spawn), or in its cgroup. */
static struct unit *unit_of_sender(pid_t pid)
{
	struct unit *u;
	pid_t pgid, sid;

	if (pid <= 0)
		return NULL; /* from outside supd's pid namespace: nobody's */
	if ((u = unit_of_pid(pid)))
		return u;
	pgid = getpgid(pid);
	sid = getsid(pid);
	if ((u = unit_of_pid(pgid)) || (u = unit_of_pid(sid)))
		return u;
	u = unit_of_cgroup(pid);
	if (!u)
		sup_debug(NULL, "notify: pid %d: process group %d, session %d, in no unit's cgroup",
			  (int)pid, (int)pgid, (int)sid);
	return u;
}

static void handle_line(struct unit *u, const char *line)
{
	if (strcmp(line, "READY=1") == 0) {
		sup_debug(u->name, "READY=1");
		unit_notify_ready(u);
	} else if (strncmp(line, "STATUS=", 7) == 0) {
		free(u->status_text);
		u->status_text = strdup(line + 7);
	} else if (strcmp(line, "WATCHDOG=1") == 0) {
		if (unit_timer_active(u, UNIT_TIMER_WATCHDOG))
			unit_timer_again(u, UNIT_TIMER_WATCHDOG);
	} else if (strcmp(line, "WATCHDOG=trigger") == 0) {
		unit_fail_stop(u, EXIT_KIND_WATCHDOG, SIGABRT, "watchdog triggered by the service");
	}
	/* STOPPING=1, RELOADING=1, MAINPID=, ERRNO=, BARRIER=1: accepted. MAINPID= is ignored:
	 * the main process is the one supd spawned; BARRIER=1 is answered by closing the fd it
	 * carried (close_passed_fds) */
}

static void handle_message(struct unit *u, char *msg)
{
	char *save = NULL;

	for (char *line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		handle_line(u, line);
}

static void close_passed_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(c);
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
	}
}

static struct ucred *find_creds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
			return (struct ucred *)CMSG_DATA(c);
	return NULL;
}

static void on_notify(struct ev_loop *loop, ev_io *w, int revents)
{
	static char buf[NOTIFY_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
	} control;

	for (int i = 0; i < 64; i++) {
		struct iovec iov = {.iov_base = buf, .iov_len = NOTIFY_MAX};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = &control,
				    .msg_controllen = sizeof(control)};
		ssize_t n = recvmsg(notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
		struct ucred *cred;
		struct unit *u;

		if (n < 0)
			return;
		close_passed_fds(&mh);
		cred = find_creds(&mh);
		if (!cred || n > NOTIFY_MAX || (mh.msg_flags & MSG_CTRUNC)) {
			sup_debug(NULL,
				  "notify: dropped a message without credentials or too long");
			continue;
		}
		u = unit_of_sender(cred->pid);
		if (!u) {
			sup_debug(NULL, "notify: message from pid %d, which belongs to no unit",
				  (int)cred->pid);
			continue;
		}
		buf[n] = '\0';
		handle_message(u, buf);
	}
}

int sup_notify_init(struct sup_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int one = 1;
	int fd;

	if (strlen(supd->conf.notify_path) >= sizeof(sa.sun_path))
		return sup_error_set(err, ENAMETOOLONG, "notify socket %s", supd->conf.notify_path);
	strcpy(sa.sun_path, supd->conf.notify_path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sup_error_set(err, errno, "create notify socket");
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		int e = errno;
		close(fd);
		return sup_error_set(err, e, "bind notify socket %s", sa.sun_path);
	}
	/* services may run as any user: anyone may send, credentials decide */
	chmod(sa.sun_path, 0666);
	notify_fd = fd;
	ev_io_init(&notify_io, on_notify, fd, EV_READ);
	ev_io_start(supd->loop, &notify_io);
	return 0;
}
