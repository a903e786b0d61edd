/*
 * The control socket's clients (the listening side is listen.c). Every client is non-blocking
 * with its own watchers; a bad frame closes that client only; a client that sends nothing is
 * cut off after IDLE_SECS; a client that does not read its replies is cut off when its queue
 * passes OUTQ_MAX. A client that waits for its units or follows a log is still watched, so
 * that its hanging up is noticed at once; a follower that falls behind skips ahead (told how
 * many lines it missed) instead of being cut off.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "control/client.h"

static struct list clients = {&clients, &clients};
static struct list waiters = {&waiters, &waiters}; /* clients waiting for units or a reload */
static struct list many = {&many, &many};	   /* clients following several units' logs */

#define IDLE_SECS   30.
#define OUTQ_MAX    (8u << 20)
#define FOLLOW_HIGH (1u << 20) /* a follower with more queued than this skips ahead */

static void client_close(struct client *c)
{
	ev_io_stop(supd->loop, &c->rio);
	ev_io_stop(supd->loop, &c->wio);
	ev_timer_stop(supd->loop, &c->idle);
	if (c->follow)
		list_del(&c->follow_link);
	list_del(&c->many_link);
	strv_free(&c->follow_units);
	list_del(&c->wait_link);
	sup_exec_client_gone(c);
	sup_image_client_gone(c);
	close(c->fd);
	list_del(&c->link);
	sup_control_budget_put(c->uid);
	sup_frame_reader_free(&c->rd);
	sup_outq_free(&c->out);
	sup_request_free(&c->wait);
	free(c);
}

static bool busy(const struct client *c)
{
	return c->waiting || c->reloading || c->follow || c->follow_many || c->exec || c->img ||
	       c->img_unit;
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
	/* while busy the socket is still watched, for a hang-up (or a second request, refused:
	 * one request at a time) */
	if (c->closing || c->half_closed)
		ev_io_stop(supd->loop, &c->rio);
	else
		ev_io_start(supd->loop, &c->rio);
	if (busy(c))
		ev_timer_stop(supd->loop, &c->idle);
	else
		ev_timer_again(supd->loop, &c->idle);
}

static void catch_up(struct client *c);

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = sup_container_of(w, struct client, wio);

	if (sup_outq_flush(&c->out, c->fd) < 0) {
		client_close(c);
		return;
	}
	if (c->behind && sup_outq_empty(&c->out))
		catch_up(c);
	if (c->many_skipped && sup_outq_empty(&c->out)) {
		json_t *ev = json_pack("{s:s, s:I, s:i}", "event", "dropped", "lines",
				       (json_int_t)c->many_skipped, "v", SUP_PROTO_VERSION);
		c->many_skipped = 0;
		sup_client_send(c, ev);
	}
	update_watchers(c);
}

/* A reply that cannot be sent at all (not a slow reader: too large and not splittable): the
 * client is told why instead of seeing the connection close. */
static void send_failed(struct client *c, bool was_empty, const char *why)
{
	json_t *e = was_empty ? sup_reply_error(SUP_EXIT_FAILED, "%s", why) : NULL;

	if (!e || sup_outq_push(&c->out, e, NULL) < 0) {
		sup_outq_free(&c->out); /* nothing more goes to it */
		sup_outq_init(&c->out, OUTQ_MAX);
	}
	json_decref(e);
	c->closing = true;
	ev_io_start(supd->loop, &c->wio);
}

void sup_client_send(struct client *c, json_t *obj)
{
	struct sup_error *err = NULL;
	bool was_empty = sup_outq_empty(&c->out);
	int r = sup_outq_push(&c->out, obj, &err);

	json_decref(obj);
	if (r < 0) {
		sup_debug(NULL, "control: dropping client pid %d: %s", (int)c->pid, err->msg);
		send_failed(c, was_empty, err->msg);
		sup_error_free(err);
		return;
	}
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
		sup_client_send(
		    c, sup_reply_error(SUP_EXIT_FAILED,
				       "%s: permission denied (uid %u may not %s: root "
				       "or the [Control] Group= only)",
				       sup_cmd_name(req.cmd), (unsigned)c->uid,
				       req.cmd == SUP_CMD_LOGS ? "read logs" : "change state"));
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

/*
 * EOF from a client that waits for a reply or follows a log: gone for good (POLLHUP: it
 * closed), or it only shut its writing side (a script's `socat`) and still reads its answer.
 */
static void peer_eof(struct client *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLOUT};

	if (!busy(c) || (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))) {
		client_close(c);
		return;
	}
	c->half_closed = true;
	update_watchers(c);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = sup_container_of(w, struct client, rio);
	char buf[4096];
	ssize_t n = receive(c, buf, sizeof(buf));
	size_t off = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		client_close(c);
		return;
	}
	if (n == 0) {
		peer_eof(c);
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

int sup_client_new(int fd, const struct ucred *cred)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->fd = fd;
	c->passed_fd = -1;
	c->uid = cred->uid;
	c->gid = cred->gid;
	c->pid = cred->pid;
	c->privileged = cred->uid == 0 || (supd->conf.control_gid != (gid_t)-1 &&
					   in_group(fd, cred->gid, supd->conf.control_gid));
	sup_frame_reader_init(&c->rd, SUP_PROTO_MAX_REQUEST);
	sup_outq_init(&c->out, OUTQ_MAX);
	list_init(&c->follow_link);
	list_init(&c->many_link);
	list_init(&c->wait_link);
	ev_io_init(&c->rio, on_readable, fd, EV_READ);
	ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
	ev_init(&c->idle, on_idle);
	c->idle.repeat = IDLE_SECS;
	ev_set_priority(&c->rio, EV_MAXPRI);
	list_add_tail(&clients, &c->link);
	update_watchers(c);
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

static void send_event(struct client *c, json_t *ev)
{
	json_object_set_new(ev, "v", json_integer(SUP_PROTO_VERSION));
	sup_client_send(c, ev);
}

json_t *sup_log_line_json(const struct unit *u, const struct log_line *l)
{
	static const char *const names[] = {"stdout", "stderr", "supd"};
	json_t *o = json_pack("{s:f, s:s, s:o}", "ts", (double)l->ts_usec / 1e6, "stream",
			      names[l->stream], "text", sup_json_textn(l->text, l->len));

	if (o && u) {
		json_object_set_new(o, "unit", json_string(u->name));
		if (u->cfg && u->cfg->syslog_identifier)
			json_object_set_new(o, "ident", sup_json_text(u->cfg->syslog_identifier));
	}
	return o;
}

static void send_line(const struct log_line *l, void *ctx)
{
	struct client *c = ctx;

	if (c->closing || c->behind)
		return;
	if (c->out.len - c->out.off > FOLLOW_HIGH) {
		c->behind = true; /* the rest when its queue is empty (catch_up) */
		return;
	}
	send_event(c, json_pack("{s:s, s:o}", "event", "log", "line", sup_log_line_json(NULL, l)));
	c->follow_seq = l->seq;
}

/* A new line of u for the followers of several units: one whose queue is full misses it (and
 * is told how many it missed once the queue has drained). */
static void send_many(struct unit *u, const struct log_line *l)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &many)
	{
		struct client *c = sup_container_of(p, struct client, many_link);

		if (c->closing || (c->follow_units.n && !strv_contains(&c->follow_units, u->name)))
			continue;
		if (c->many_skipped || c->out.len - c->out.off > FOLLOW_HIGH) {
			c->many_skipped++;
			continue;
		}
		send_event(
		    c, json_pack("{s:s, s:o}", "event", "log", "line", sup_log_line_json(u, l)));
	}
}

static void many_line(const struct log_line *l, void *ctx)
{
	send_many(ctx, l);
}

void sup_client_follow_many(struct client *c, const struct strv *units)
{
	struct unit *u;

	c->follow_many = true;
	for (size_t i = 0; i < units->n; i++)
		strv_push(&c->follow_units, units->v[i]);
	list_add_tail(&many, &c->many_link);
	for_each_unit(u) if (u->log) u->many_seq = logbuf_last_seq(u->log);
}

/* A follower that fell behind read everything queued: what the ring still has since its last
 * line is sent, and what it lost meanwhile (evicted from the ring) is counted for it. */
static void catch_up(struct client *c)
{
	uint64_t first = logbuf_first_seq(c->follow->log);

	c->behind = false;
	if (first > c->follow_seq + 1) {
		send_event(c, json_pack("{s:s, s:I}", "event", "dropped", "lines",
					(json_int_t)(first - c->follow_seq - 1)));
		c->follow_seq = first - 1;
	}
	logbuf_since(c->follow->log, c->follow_seq, send_line, c);
}

void sup_control_log_added(struct unit *u)
{
	struct list *p, *n;

	if (!list_empty(&many))
		logbuf_since(u->log, u->many_seq, many_line, u);
	u->many_seq = logbuf_last_seq(u->log);

	list_for_each_safe(p, n, &u->followers)
	{
		struct client *c = sup_container_of(p, struct client, follow_link);

		if (!c->behind)
			logbuf_since(u->log, c->follow_seq, send_line, c);
	}
}

void sup_client_follow(struct client *c, struct unit *u)
{
	c->follow = u;
	c->follow_seq = logbuf_last_seq(u->log);
	list_add_tail(&u->followers, &c->follow_link);
}

/* The stream ends: an "end" event says why, then the connection closes. */
static void end_follow(struct client *c, const char *why)
{
	list_del(&c->follow_link);
	c->follow = NULL;
	c->behind = false;
	send_event(c, json_pack("{s:s, s:s}", "event", "end", "reason", why));
	c->closing = true;
	update_watchers(c);
}

static void end_follow_many(struct client *c, const char *why)
{
	list_del(&c->many_link);
	c->follow_many = false;
	send_event(c, json_pack("{s:s, s:s}", "event", "end", "reason", why));
	c->closing = true;
	update_watchers(c);
}

/* A unit is about to be freed: its followers' streams end. */
void sup_control_unit_gone(struct unit *u)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &u->followers)
	{
		end_follow(sup_container_of(p, struct client, follow_link), "the unit was removed");
	}
}

void sup_control_shutdown(void)
{
	struct list *p, *n;

	list_for_each_safe(p, n, &clients)
	{
		struct client *c = sup_container_of(p, struct client, link);

		if (c->follow)
			end_follow(c, "supd is exiting");
		else if (c->follow_many)
			end_follow_many(c, "supd is exiting");
		else
			client_close(c);
	}
	sup_control_close();
}
