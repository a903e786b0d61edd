/*
 * sd_notify: one datagram socket per unit that asks for one (Type=notify, WatchdogSec=,
 * NotifyAccess=), at RUN-DIR/unit/NAME/notify, given to it as $NOTIFY_SOCKET. A message is
 * the unit's because it arrived on the unit's socket, and counts only if the kernel-supplied
 * credentials (SCM_CREDENTIALS) put its sender inside the unit: the main process, its process
 * group or session, or its cgroup (checked by pid, not by the cgroup's name). A sender outside
 * supd's pid namespace arrives with pid 0 and counts for nobody.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "core/cgroups.h"
#include "core/effects.h"
#include "core/notify.h"
#include "core/service.h"
#include "supd.h"

#define NOTIFY_MAX 4096

/* Does the sender belong to u? */
static bool sender_in_unit(const struct unit *u, pid_t pid)
{
	pid_t pgid, sid;

	if (pid <= 0)
		return false;
	if (pid == u->main.pid)
		return true;
	if (u->cfg && u->cfg->notify_access == UNIT_NOTIFY_EXEC)
		return pid == u->control.pid; /* the main process or a control command */
	if (u->cfg && u->cfg->notify_access == UNIT_NOTIFY_MAIN)
		return false;
	if (u->cfg && u->cfg->notify_access == UNIT_NOTIFY_NONE)
		return false;
	pgid = getpgid(pid);
	sid = getsid(pid);
	if (u->pgid > 0 && (pgid == u->pgid || sid == u->pgid))
		return true;
	/* a daemon that setsid()s or a double fork is still in the unit's cgroup */
	return sup_cg_has_pid((struct unit *)u, pid);
}

/* One assignment of the message: the fields supd acts on. */
static void parse_line(const char *line, size_t n, struct sup_notify_msg *m)
{
	static const struct {
		const char *text;
		size_t offset;
	} flags[] = {
	    {"READY=1", offsetof(struct sup_notify_msg, ready)},
	    {"WATCHDOG=1", offsetof(struct sup_notify_msg, watchdog)},
	    {"WATCHDOG=trigger", offsetof(struct sup_notify_msg, watchdog_trigger)},
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(flags); i++)
		if (n == strlen(flags[i].text) && memcmp(line, flags[i].text, n) == 0)
			*(bool *)((char *)m + flags[i].offset) = true;
	if (n >= 7 && memcmp(line, "STATUS=", 7) == 0) {
		m->status = line + 7; /* the last one wins, as in systemd */
		m->status_len = n - 7;
	}
	/* STOPPING=1, RELOADING=1, MAINPID=, ERRNO=, BARRIER=1: accepted. MAINPID= is ignored:
	 * the main process is the one supd spawned; BARRIER=1 is answered by closing the fd it
	 * carried (close_passed_fds) */
}

void sup_notify_parse(const char *buf, size_t n, struct sup_notify_msg *m)
{
	*m = (struct sup_notify_msg){0};
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (buf + i)) : n - i;

		/* a line with a NUL in it is no assignment of the protocol */
		if (len && !memchr(buf + i, '\0', len))
			parse_line(buf + i, len, m);
		i += len + 1;
	}
}

static void handle_message(struct unit *u, const char *buf, size_t n)
{
	struct sup_notify_msg m;

	sup_notify_parse(buf, n, &m);
	if (m.status) {
		free(u->status_text);
		u->status_text = strndup(m.status, m.status_len);
	}
	if (m.ready) {
		sup_debug(u->name, "READY=1");
		unit_notify_ready(u);
	}
	if (m.watchdog && unit_timer_active(u, UNIT_TIMER_WATCHDOG))
		unit_timer_again(u, UNIT_TIMER_WATCHDOG);
	if (m.watchdog_trigger)
		unit_fail_stop(u, EXIT_KIND_WATCHDOG, SIGABRT, "watchdog triggered by the service");
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
	struct unit *u = sup_container_of(w, struct unit, notify_io);
	static char buf[NOTIFY_MAX];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
	} control;

	for (int i = 0; i < 64 && u->notify_fd >= 0; i++) {
		struct iovec iov = {.iov_base = buf, .iov_len = NOTIFY_MAX};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = &control,
				    .msg_controllen = sizeof(control)};
		ssize_t n = recvmsg(u->notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
		struct ucred *cred;

		if (n < 0)
			return;
		close_passed_fds(&mh);
		cred = find_creds(&mh);
		if (!cred || n > NOTIFY_MAX || (mh.msg_flags & MSG_CTRUNC)) {
			sup_debug(u->name,
				  "notify: dropped a message without credentials or too long");
			continue;
		}
		if (!sender_in_unit(u, cred->pid)) {
			sup_debug(u->name,
				  "notify: a message from pid %d, not of the unit: ignored",
				  (int)cred->pid);
			continue;
		}
		handle_message(u, buf, (size_t)n);
	}
}

bool sup_notify_wanted(const struct unit *u)
{
	return u->cfg && (u->cfg->type == UNIT_TYPE_NOTIFY || u->cfg->watchdog_usec ||
			  u->cfg->notify_access == UNIT_NOTIFY_MAIN ||
			  u->cfg->notify_access == UNIT_NOTIFY_EXEC);
}

int sup_notify_path(const struct unit *u, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/unit/%s/notify", supd->conf.run_dir, u->name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The socket is there and still ours (a deleted or replaced file is made again). */
static bool socket_intact(const struct unit *u, const char *path)
{
	struct stat st;

	return u->notify_fd >= 0 && stat(path, &st) == 0 && st.st_ino == u->notify_ino;
}

static int bind_socket(struct unit *u, const char *path, struct sup_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int one = 1, fd;
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path))
		return sup_error_set(err, ENAMETOOLONG, "notify socket %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return sup_error_set(err, errno, "create notify socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 || stat(path, &st) < 0) {
		int e = errno;
		close(fd);
		return sup_error_set(err, e, "bind notify socket %s", path);
	}
	/* services run as any user: anyone may send, the sender's credentials decide */
	chmod(path, 0666);
	sup_notify_close(u);
	u->notify_fd = fd;
	u->notify_ino = st.st_ino;
	ev_io_init(&u->notify_io, on_notify, fd, EV_READ);
	ev_io_start(supd->loop, &u->notify_io);
	return 0;
}

/* RUN-DIR/unit/NAME, made if missing. */
static int prepare_dir(struct unit *u, struct sup_error **err)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/unit", supd->conf.run_dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return sup_error_set(err, errno, "create %s", dir);
	snprintf(dir, sizeof(dir), "%s/unit/%s", supd->conf.run_dir, u->name);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return sup_error_set(err, errno, "create %s", dir);
	return 0;
}

int sup_notify_prepare(struct unit *u, struct sup_error **err)
{
	char path[PATH_MAX];

	if (!sup_notify_wanted(u)) {
		sup_notify_close(u);
		return 0;
	}
	if (sup_notify_path(u, path, sizeof(path)) < 0)
		return sup_error_set(err, ENAMETOOLONG, "notify socket of %s", u->name);
	if (socket_intact(u, path))
		return 0;
	if (prepare_dir(u, err) < 0)
		return -1;
	return bind_socket(u, path, err);
}

void sup_notify_recover(struct unit *u)
{
	struct sup_error *err = NULL;
	char path[PATH_MAX];

	if (u->notify_fd < 0 || sup_notify_path(u, path, sizeof(path)) < 0 ||
	    socket_intact(u, path))
		return;
	/* the unit keeps its $NOTIFY_SOCKET: the path is the same, the socket behind it new */
	if (prepare_dir(u, &err) < 0 || bind_socket(u, path, &err) < 0) {
		sup_warn(u->name, "notify socket deleted; making it again: %s", err->msg);
		sup_error_free(err);
		return;
	}
	sup_info(u->name, "notify socket %s was deleted or replaced: made again", path);
}

void sup_notify_close(struct unit *u)
{
	char path[PATH_MAX];

	if (u->notify_fd < 0)
		return;
	ev_io_stop(supd->loop, &u->notify_io);
	close(u->notify_fd);
	u->notify_fd = -1;
	if (sup_notify_path(u, path, sizeof(path)) == 0) {
		struct stat st;
		if (stat(path, &st) == 0 && st.st_ino == u->notify_ino)
			unlink(path);
		*strrchr(path, '/') = '\0';
		rmdir(path);
	}
}
