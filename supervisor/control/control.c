/*
 * The control socket server. Every client is non-blocking with its own watchers; a bad
 * frame closes that client only; a client that sends nothing is cut off after IDLE_SECS;
 * a client that does not read its replies is cut off when its queue passes OUTQ_MAX.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "control/client.h"

static struct list clients = {&clients, &clients};
static struct list waiters = {&waiters, &waiters}; /* clients waiting for units or a reload */
static size_t n_clients;
static int control_fd = -1;
static ev_io control_io;

#define MAX_CLIENTS 1000 /* fds: supd raises RLIMIT_NOFILE to fit */
#define IDLE_SECS   30.
#define OUTQ_MAX    (8u << 20)

static void client_close(struct client *c)
{
	ev_io_stop(supd->loop, &c->rio);
	ev_io_stop(supd->loop, &c->wio);
	ev_timer_stop(supd->loop, &c->idle);
	if (c->follow)
		list_del(&c->follow_link);
	list_del(&c->wait_link);
	sup_exec_client_gone(c);
	sup_image_client_gone(c);
	close(c->fd);
	list_del(&c->link);
	n_clients--;
	sup_frame_reader_free(&c->rd);
	sup_outq_free(&c->out);
	sup_request_free(&c->wait);
	free(c);
}

static bool busy(const struct client *c)
{
	return c->waiting || c->reloading || c->follow || c->exec || c->img || c->img_unit;
}

static void update_watchers(struct client *c)
{
	if (sup_outq_empty(&c->out)) {
		ev_io_stop(supd->loop, &c->wio);
		if (c->closing) {
			client_close(c);
			return;
		}
	} else {
		ev_io_start(supd->loop, &c->wio);
	}
	/* while busy, nothing more is read: one request at a time */
	if (busy(c) || c->closing)
		ev_io_stop(supd->loop, &c->rio);
	else
		ev_io_start(supd->loop, &c->rio);
	if (busy(c))
		ev_timer_stop(supd->loop, &c->idle);
	else
		ev_timer_again(supd->loop, &c->idle);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = sup_container_of(w, struct client, wio);

	if (sup_outq_flush(&c->out, c->fd) < 0) {
		client_close(c);
		return;
	}
	update_watchers(c);
}

void sup_client_send(struct client *c, json_t *obj)
{
	struct sup_error *err = NULL;

	if (sup_outq_push(&c->out, obj, &err) < 0) {
		sup_debug(NULL, "control: dropping client pid %d: %s", (int)c->pid, err->msg);
		sup_error_free(err);
		json_decref(obj);
		c->closing = true;
		sup_outq_free(&c->out); /* nothing more goes to it */
		sup_outq_init(&c->out, OUTQ_MAX);
		ev_io_start(supd->loop, &c->wio);
		return;
	}
	json_decref(obj);
	/* try at once: most replies fit the socket buffer */
	if (sup_outq_flush(&c->out, c->fd) < 0)
		c->closing = true;
	ev_io_start(supd->loop, &c->wio);
}

static void handle_payload(struct client *c, const char *payload, uint32_t len)
{
	struct sup_request req = {0};
	struct sup_error *err = NULL;
	json_t *reply;
	int code = 0;
	int r = sup_request_parse(payload, len, &req, &code, &err);

	if (r < 0) {
		sup_client_send(c, sup_reply_error(code ? code : SUP_EXIT_USAGE, "%s", err->msg));
		sup_error_free(err);
		if (r == -2)
			c->closing = true; /* not even a JSON object: this peer does not speak it */
		return;
	}
	if (sup_cmd_privileged(req.cmd) && !c->privileged) {
		sup_client_send(c, sup_reply_error(SUP_EXIT_FAILED,
						   "%s: permission denied (uid %u is not allowed "
						   "to change state)",
						   sup_cmd_name(req.cmd), (unsigned)c->uid));
		sup_request_free(&req);
		return;
	}
	reply = sup_command(c, &req);
	if (reply)
		sup_client_send(c, reply);
	sup_request_free(&req);
}

/* read(), and an fd that came along (SCM_RIGHTS: supctl load's file) kept for the request;
 * an earlier one not taken is closed, and so is every fd past the first. */
static ssize_t receive(struct client *c, char *buf, size_t size)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} u;
	struct iovec iov = {buf, size};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	ssize_t n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC);

	for (struct cmsghdr *h = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h)) {
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[4];

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS || k > 4)
			continue;
		memcpy(fds, CMSG_DATA(h), k * sizeof(int));
		for (size_t i = 0; i < k; i++) {
			if (i == 0) {
				if (c->passed_fd >= 0)
					close(c->passed_fd);
				c->passed_fd = fds[i];
			} else {
				close(fds[i]);
			}
		}
	}
	return n;
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = sup_container_of(w, struct client, rio);
	char buf[4096];
	ssize_t n = receive(c, buf, sizeof(buf));
	size_t off = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	while (off < (size_t)n && !busy(c) && !c->closing) {
		struct sup_error *err = NULL;
		char *payload = NULL;
		uint32_t len = 0;
		size_t used = 0;
		int r = sup_frame_feed(&c->rd, buf + off, n - off, &used, &payload, &len, &err);

		off += used;
		if (r < 0) {
			sup_client_send(c, sup_reply_error(SUP_EXIT_USAGE, "%s", err->msg));
			sup_error_free(err);
			c->closing = true;
			break;
		}
		if (r == 0)
			break;
		handle_payload(c, payload, len);
		free(payload);
	}
	/* bytes after a request that made the client busy are a protocol violation */
	if (off < (size_t)n && busy(c) && !c->closing) {
		sup_client_send(c, sup_reply_error(SUP_EXIT_USAGE, "one request at a time"));
		c->closing = true;
	}
	update_watchers(c);
}

static void on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = sup_container_of(w, struct client, idle);

	sup_debug(NULL, "control: closing idle client pid %d", (int)c->pid);
	client_close(c);
}

/* The peer's primary or supplementary groups (SO_PEERGROUPS: no /proc, works across pid
 * namespaces) include want. */
static bool in_group(int fd, gid_t gid, gid_t want)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (gid == want)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false; /* ERANGE: more than 256 groups; refuse rather than guess */
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == want)
			return true;
	return false;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	for (int i = 0; i < 16; i++) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct client *c;
		int fd = accept4(control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (n_clients >= MAX_CLIENTS ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->passed_fd = -1;
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		c->privileged = cred.uid == 0 || (supd->conf.control_gid != (gid_t)-1 &&
						  in_group(fd, cred.gid, supd->conf.control_gid));
		sup_frame_reader_init(&c->rd, SUP_PROTO_MAX_REQUEST);
		sup_outq_init(&c->out, OUTQ_MAX);
		list_init(&c->follow_link);
		list_init(&c->wait_link);
		ev_io_init(&c->rio, on_readable, fd, EV_READ);
		ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
		ev_init(&c->idle, on_idle);
		c->idle.repeat = IDLE_SECS;
		ev_set_priority(&c->rio, EV_MAXPRI);
		list_add_tail(&clients, &c->link);
		n_clients++;
		update_watchers(c);
	}
}

int sup_control_init(struct sup_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = supd->conf.socket_path;
	mode_t mode = supd->conf.control_gid != (gid_t)-1 ? 0660 : 0600;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return sup_error_set(err, ENAMETOOLONG, "control socket %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sup_error_set(err, errno, "create control socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		return sup_error_set(err, e, "bind control socket %s", path);
	}
	if (chmod(path, mode) < 0 ||
	    (supd->conf.control_gid != (gid_t)-1 && chown(path, 0, supd->conf.control_gid) < 0))
		sup_warn(NULL, "set the mode of %s: %s", path, strerror(errno));
	control_fd = fd;
	ev_io_init(&control_io, on_accept, fd, EV_READ);
	ev_set_priority(&control_io, EV_MAXPRI);
	ev_io_start(supd->loop, &control_io);
	return 0;
}

void sup_client_wait(struct client *c)
{
	c->waiting = true;
	list_del(&c->wait_link);
	list_add_tail(&waiters, &c->wait_link);
}

void sup_client_wait_reload(struct client *c)
{
	c->reloading = true;
	list_del(&c->wait_link);
	list_add_tail(&waiters, &c->wait_link);
}

/* Only the clients that wait are looked at: a state change costs nothing with none. */
void sup_control_observe(struct unit *u, const struct unit_change *chg)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &waiters)
	{
		struct client *c = sup_container_of(p, struct client, wait_link);
		json_t *reply;

		if (!c->waiting || !(reply = sup_wait_result(c)))
			continue;
		c->waiting = false;
		list_del(&c->wait_link);
		sup_request_free(&c->wait);
		sup_client_send(c, reply);
		update_watchers(c);
	}
}

void sup_control_reload_done(json_t *result, const char *error)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &waiters)
	{
		struct client *c = sup_container_of(p, struct client, wait_link);

		if (!c->reloading)
			continue;
		c->reloading = false;
		list_del(&c->wait_link);
		if (result)
			sup_client_send(c, sup_reply_ok(json_incref(result)));
		else
			sup_client_send(c, sup_reply_error(SUP_EXIT_FAILED, "reload: %s", error));
		update_watchers(c);
	}
}

static void send_line(const struct log_line *l, void *ctx)
{
	struct client *c = ctx;
	static const char *const names[] = {"stdout", "stderr", "supd"};

	if (c->closing)
		return;
	sup_client_send(c,
			json_pack("{s:i, s:s, s:{s:f, s:s, s:o}}", "v", SUP_PROTO_VERSION, "event",
				  "log", "line", "ts", (double)l->ts_usec / 1e6, "stream",
				  names[l->stream], "text", sup_json_text(l->text, l->len)));
	c->follow_seq = l->seq;
}

void sup_control_log_added(struct unit *u)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &u->followers)
	{
		struct client *c = sup_container_of(p, struct client, follow_link);

		logbuf_since(u->log, c->follow_seq, send_line, c);
	}
}

void sup_client_follow(struct client *c, struct unit *u)
{
	c->follow = u;
	c->follow_seq = logbuf_last_seq(u->log);
	list_add_tail(&u->followers, &c->follow_link);
}

/* A unit is about to be freed: its followers' streams end. */
void sup_control_unit_gone(struct unit *u)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &u->followers)
	{
		struct client *c = sup_container_of(p, struct client, follow_link);

		list_del(&c->follow_link);
		c->follow = NULL;
		c->closing = true;
		update_watchers(c);
	}
}
