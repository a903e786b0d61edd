/*
 * The control socket's listening side: binding it (again, if its file was deleted), who may
 * connect, and never spinning when out of file descriptors.
 *
 * Connections are budgeted per uid: any one user other than root holds at most PER_UID_MAX,
 * and all of them together leave ROOT_RESERVE of the MAX_CLIENTS slots free, so that no user
 * (read-only commands may be open to every local user) can lock root out. A connection
 * refused gets one error frame saying why before it is closed.
 *
 * Out of fds, accept() fails and the listening socket stays readable: a level-triggered
 * watcher would spin. A spare fd is kept: it is given up to accept the client and tell it why
 * it cannot be served, and the watcher pauses for ACCEPT_PAUSE.
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

#include "sup/log.h"
#include "control/client.h"

#define MAX_CLIENTS  1000 /* fds: supd raises RLIMIT_NOFILE to fit */
#define ROOT_RESERVE 64	  /* slots only root may take */
#define PER_UID_MAX  32	  /* connections of one uid other than root */
#define ACCEPT_PAUSE 0.1  /* seconds, out of fds */

static int control_fd = -1;
static ino_t control_ino; /* of the socket file: a deleted one is made again (SIGHUP) */
static ev_io control_io;
static ev_timer pause_timer;
static int spare_fd = -1;
static size_t n_clients;

/* Connections per uid other than root: a short list, looked through (few users connect). */
static struct uid_count {
	uid_t uid;
	unsigned n;
} * uids;
static size_t n_uids;

static struct uid_count *uid_slot(uid_t uid, bool add)
{
	struct uid_count *v;

	for (size_t i = 0; i < n_uids; i++)
		if (uids[i].uid == uid)
			return &uids[i];
	if (!add || !(v = reallocarray(uids, n_uids + 1, sizeof(*v))))
		return NULL;
	uids = v;
	uids[n_uids] = (struct uid_count){uid, 0};
	return &uids[n_uids++];
}

/* Why uid may not have one more connection, or NULL. */
static const char *over_budget(uid_t uid, char *buf, size_t n)
{
	struct uid_count *u;

	if (n_clients >= MAX_CLIENTS) {
		snprintf(buf, n, "too many connections (%d)", MAX_CLIENTS);
		return buf;
	}
	if (uid == 0)
		return NULL;
	if (n_clients >= MAX_CLIENTS - ROOT_RESERVE) {
		snprintf(buf, n, "too many connections (%zu; the last %d are kept for root)",
			 n_clients, ROOT_RESERVE);
		return buf;
	}
	u = uid_slot(uid, false);
	if (u && u->n >= PER_UID_MAX) {
		snprintf(buf, n, "too many connections from uid %u (at most %d)", (unsigned)uid,
			 PER_UID_MAX);
		return buf;
	}
	return NULL;
}

static bool budget_take(uid_t uid)
{
	struct uid_count *u = uid ? uid_slot(uid, true) : NULL;

	if (uid && !u)
		return false;
	if (u)
		u->n++;
	n_clients++;
	return true;
}

void sup_control_budget_put(uid_t uid)
{
	struct uid_count *u = uid ? uid_slot(uid, false) : NULL;

	if (n_clients > 0)
		n_clients--;
	if (u && --u->n == 0)
		*u = uids[--n_uids];
}

/* One error frame, best effort (the socket buffer of a new connection takes it), then close. */
static void refuse(int fd, const char *why)
{
	json_t *reply = sup_reply_error(SUP_EXIT_FAILED, "supd: %s; try again later", why);
	struct sup_outq q;
	struct sup_error *err = NULL;

	sup_outq_init(&q, 0);
	if (reply && sup_outq_push(&q, reply, &err) == 0)
		sup_outq_flush(&q, fd);
	sup_error_free(err);
	sup_outq_free(&q);
	json_decref(reply);
	close(fd);
}

static void on_pause_end(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (spare_fd < 0)
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_io_start(loop, &control_io);
}

/* accept() failed for want of fds: tell one waiting client why, then pause. */
static void out_of_fds(int e)
{
	static uint64_t warned;
	uint64_t now = (uint64_t)ev_now(supd->loop);
	int fd;

	if (spare_fd >= 0) {
		close(spare_fd);
		spare_fd = -1;
		fd = accept4(control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			refuse(fd, "out of file descriptors");
		spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (!warned || now - warned >= 10) {
		sup_warn(NULL, "control: accept: %s; refusing connections for now", strerror(e));
		warned = now ? now : 1;
	}
	ev_io_stop(supd->loop, &control_io);
	ev_timer_set(&pause_timer, ACCEPT_PAUSE, 0);
	ev_timer_start(supd->loop, &pause_timer);
}

static void accept_one(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char why[128];
	const char *no;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	no = over_budget(cred.uid, why, sizeof(why));
	if (no) {
		sup_debug(NULL, "control: refused pid %d (uid %u): %s", (int)cred.pid,
			  (unsigned)cred.uid, no);
		refuse(fd, no);
		return;
	}
	if (!budget_take(cred.uid)) {
		refuse(fd, "out of memory");
		return;
	}
	if (sup_client_new(fd, &cred) < 0) {
		sup_control_budget_put(cred.uid);
		refuse(fd, "out of memory");
	}
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	for (int i = 0; i < 16; i++) {
		int fd = accept4(control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accept_one(fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			out_of_fds(errno);
		return;
	}
}

/* A listening socket at the control path (whatever was there is replaced). */
static int bind_control(struct sup_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = supd->conf.socket_path;
	mode_t mode = supd->conf.control_gid != (gid_t)-1 ? 0660 : 0600;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return sup_error_set(err, ENAMETOOLONG, "control socket %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sup_error_set(err, errno, "create control socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    stat(path, &st) < 0) {
		int e = errno;
		close(fd);
		return sup_error_set(err, e, "bind control socket %s", path);
	}
	if (chmod(path, mode) < 0 ||
	    (supd->conf.control_gid != (gid_t)-1 && chown(path, 0, supd->conf.control_gid) < 0))
		sup_warn(NULL, "set the mode of %s: %s", path, strerror(errno));
	control_fd = fd;
	control_ino = st.st_ino;
	ev_io_init(&control_io, on_accept, fd, EV_READ);
	ev_set_priority(&control_io, EV_MAXPRI);
	ev_io_start(supd->loop, &control_io);
	return 0;
}

int sup_control_init(struct sup_error **err)
{
	ev_init(&pause_timer, on_pause_end);
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return bind_control(err);
}

void sup_control_recover(void)
{
	struct sup_error *err = NULL;
	int old = control_fd;
	struct stat st;

	if (stat(supd->conf.socket_path, &st) == 0 && st.st_ino == control_ino)
		return;
	on_accept(supd->loop, &control_io, EV_READ); /* who is already waiting is served */
	ev_io_stop(supd->loop, &control_io);
	ev_timer_stop(supd->loop, &pause_timer);
	if (bind_control(&err) < 0) {
		sup_err(NULL, "control socket deleted or replaced; making it again: %s", err->msg);
		sup_error_free(err);
		ev_io_start(supd->loop, &control_io); /* the old one, still good for its backlog */
		return;
	}
	close(old);
	sup_info(NULL, "control socket %s was deleted or replaced: made again",
		 supd->conf.socket_path);
}

void sup_control_close(void)
{
	ev_io_stop(supd->loop, &control_io);
	ev_timer_stop(supd->loop, &pause_timer);
	if (control_fd >= 0)
		close(control_fd);
	control_fd = -1;
	unlink(supd->conf.socket_path);
}
