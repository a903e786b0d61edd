/*
 * The optional HTTP /metrics listener ([Metrics] Listen=ADDR:PORT, off by default): the same
 * Prometheus text as `supctl metrics`, built only when scraped.
 *
 * Like the control socket, it can never wedge supd: the listener and every connection are
 * non-blocking with their own watcher; a request has 8 KiB and 5 s to arrive whole (then the
 * connection is dropped); the reply is built at once, queued, and written as the peer reads it;
 * a peer that reads nothing of it for 5 s is cut off (RST; the socket's send buffer is capped at
 * 32 KiB so the rest stays queued in supd, bounded, until then). At most 64 connections: the next
 * one gets a 503 and is closed. One request per connection (`Connection: close`); after the
 * reply the write side is shut down and what the peer still sends is drained for a second at
 * most, so that a close never resets a reply the peer has not read yet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "metrics/metrics_http.h"
#include "metrics/stats.h"
#include "supd.h"

#define REQ_MAX	       8192
#define MAX_CONNS      64
#define READ_SECS      5.
#define WRITE_STALL    5. /* seconds without the peer reading anything of the reply */
#define LINGER_SECS    1.
#define ACCEPT_BACKOFF 1.	  /* out of fds: pause accepting */
#define SNDBUF	       (16 << 10) /* the kernel doubles it; bounds what a stuck peer pins there */

enum phase {
	PH_READ,   /* reading the request */
	PH_WRITE,  /* writing the reply */
	PH_LINGER, /* reply written, write side shut: draining until the peer closes */
};

struct hconn {
	struct list link;
	int fd;
	enum phase phase;
	ev_io io;
	ev_timer timer;
	char *out;
	size_t out_len, out_off;
	size_t len;
	char req[REQ_MAX];
};

static int listen_fd = -1;
static ev_io listen_io;
static ev_timer backoff;
static struct list conns = {&conns, &conns};
static unsigned n_conns;

static void conn_close(struct hconn *c, bool abort_it)
{
	if (abort_it) {
		/* RST: the kernel drops what is still queued instead of keeping it for the peer */
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	ev_io_stop(supd->loop, &c->io);
	ev_timer_stop(supd->loop, &c->timer);
	close(c->fd);
	list_del(&c->link);
	n_conns--;
	free(c->out);
	free(c);
	if (listen_fd >= 0 && !ev_is_active(&listen_io) && !ev_is_active(&backoff))
		ev_io_start(supd->loop, &listen_io); /* a slot is free again */
}

static void set_io(struct hconn *c, int events)
{
	ev_io_stop(supd->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(supd->loop, &c->io);
}

static void arm_timer(struct hconn *c, double secs)
{
	ev_timer_stop(supd->loop, &c->timer);
	ev_timer_set(&c->timer, secs, 0.);
	ev_timer_start(supd->loop, &c->timer);
}

static void linger(struct hconn *c)
{
	c->phase = PH_LINGER;
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	set_io(c, EV_READ);
	arm_timer(c, LINGER_SECS);
}

/* Write what the socket takes; false if the connection is gone. */
static bool flush(struct hconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0) {
			conn_close(c, true);
			return false;
		}
		c->out_off += (size_t)n;
		arm_timer(c, WRITE_STALL); /* progress: the peer reads */
	}
	linger(c);
	return true;
}

static const char *reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

/* The whole reply, headers and body, in one malloc'd buffer. */
static char *build_reply(int code, int minor, const char *ctype, const char *body, size_t body_len,
			 bool head, size_t *len)
{
	char *hdr = NULL, *out;
	int hlen = asprintf(&hdr,
			    "HTTP/1.%d %d %s\r\n"
			    "Content-Type: %s\r\n"
			    "Content-Length: %zu\r\n"
			    "%s"
			    "Cache-Control: no-store\r\n"
			    "Connection: close\r\n"
			    "\r\n",
			    minor, code, reason(code), ctype, body_len,
			    code == 405 ? "Allow: GET, HEAD\r\n" : "");

	if (hlen < 0)
		return NULL;
	if (head)
		body_len = 0;
	out = malloc((size_t)hlen + body_len);
	if (out) {
		memcpy(out, hdr, (size_t)hlen);
		if (body_len)
			memcpy(out + hlen, body, body_len);
		*len = (size_t)hlen + body_len;
	}
	free(hdr);
	return out;
}

/* The landing page at /: where the metrics are, for a person who opens the port in a browser. */
static const char landing[] =
    "<!DOCTYPE html>\n"
    "<html><head><meta charset=\"utf-8\"><title>supd metrics</title></head>\n"
    "<body><h1>supd</h1>\n"
    "<p>Prometheus metrics of this supervisor and its units: "
    "<a href=\"/metrics\">/metrics</a></p>\n"
    "<p>Version " SUP_VERSION "</p>\n"
    "</body></html>\n";

static void reply(struct hconn *c, int code, int minor, bool head, bool index)
{
	const char *ctype = "text/plain; charset=utf-8";
	json_t *text = NULL;
	const char *body;
	size_t body_len;
	char msg[64];

	if (code == 200 && index) {
		body = landing;
		body_len = sizeof(landing) - 1;
		ctype = "text/html; charset=utf-8";
	} else if (code == 200) {
		ctype = "text/plain; version=0.0.4; charset=utf-8";
		text = sup_metrics_text();
		body = json_string_value(text);
		body_len = json_string_length(text);
	} else {
		body_len = (size_t)snprintf(msg, sizeof(msg), "%d %s\n", code, reason(code));
		body = msg;
	}
	c->out = build_reply(code, minor, ctype, body, body_len, head, &c->out_len);
	json_decref(text);
	sup_debug(NULL, "metrics: %d for a request from fd %d", code, c->fd);
	if (!c->out) {
		conn_close(c, true);
		return;
	}
	c->phase = PH_WRITE;
	c->out_off = 0;
	arm_timer(c, WRITE_STALL);
	if (flush(c) && c->phase == PH_WRITE)
		set_io(c, EV_WRITE);
}

static bool tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A header value: no control characters but HTAB (obs-text, 0x80-0xff, is allowed). */
static bool field_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return false;
	return true;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

struct reqline {
	const char *method, *target;
	size_t mlen, tlen;
	int minor;
};

/* "METHOD SP TARGET SP HTTP/1.x" of line_len bytes: 0, or the status that refuses it. */
static int request_line(const char *buf, size_t line_len, struct reqline *r)
{
	const char *sp1 = memchr(buf, ' ', line_len), *sp2, *version;

	if (!printable(buf, line_len) || !sp1)
		return 400;
	r->method = buf;
	r->mlen = (size_t)(sp1 - buf);
	r->target = sp1 + 1;
	sp2 = memchr(r->target, ' ', line_len - r->mlen - 1);
	if (!sp2)
		return 400;
	r->tlen = (size_t)(sp2 - r->target);
	version = sp2 + 1;
	if (!r->mlen || !r->tlen || buf + line_len - version != 8 || memchr(version, ' ', 8))
		return 400;
	for (size_t i = 0; i < r->mlen; i++)
		if (!tchar(buf[i]))
			return 400;
	if (strncmp(version, "HTTP/", 5) || version[5] < '0' || version[5] > '9' ||
	    version[6] != '.' || version[7] < '0' || version[7] > '9')
		return 400;
	if (version[5] != '1')
		return 505;
	r->minor = version[7] == '0' ? 0 : 1;
	return 0;
}

/* The empty line that ends the header section, from nl on; NULL while incomplete. */
static const char *headers_end(const char *buf, size_t len, const char *nl)
{
	size_t rest = len - (size_t)(nl - buf);
	const char *e1 = memmem(nl, rest, "\n\n", 2), *e2 = memmem(nl, rest, "\n\r\n", 3);

	return !e1 ? e2 : !e2 ? e1 : e1 < e2 ? e1 : e2;
}

/* Every header line between from and end is NAME: value. */
static bool headers_ok(const char *from, const char *end)
{
	for (const char *p = from; p <= end;) {
		const char *eol = memchr(p, '\n', (size_t)(end + 1 - p));
		size_t ll = (size_t)(eol - p);
		const char *colon;

		if (ll && p[ll - 1] == '\r')
			ll--;
		colon = memchr(p, ':', ll);
		if (!colon || colon == p || !field_ok(colon, (size_t)(p + ll - colon)))
			return false;
		for (const char *q = p; q < colon; q++)
			if (!tchar(*q))
				return false;
		p = eol + 1;
	}
	return true;
}

static bool target_is(const struct reqline *r, const char *path)
{
	size_t n = strlen(path);

	return r->tlen >= n && !memcmp(r->target, path, n) && (r->tlen == n || r->target[n] == '?');
}

/* What the request asks for: 200 (head set for HEAD, index for the landing page), or the
 * status that refuses it. */
static int route(const struct reqline *r, bool *head, bool *index)
{
	*index = target_is(r, "/");
	if (!*index && !target_is(r, "/metrics"))
		return 404;
	*head = r->mlen == 4 && !memcmp(r->method, "HEAD", 4);
	if (!(r->mlen == 3 && !memcmp(r->method, "GET", 3)) && !*head)
		return 405;
	return 200;
}

/* The request so far (buf, len): 0 while incomplete, else the status of the reply (minor,
 * head and index filled). Pure: the fuzz target calls it too. */
int sup_metrics_http_parse(const char *buf, size_t len, int *minor, bool *head, bool *index)
{
	const char *nl = memchr(buf, '\n', len), *end;
	struct reqline r;
	size_t line_len;
	int code;

	if (!nl) {
		/* garbage (TLS, binary) is refused at once, not after the timeout */
		size_t n = len && buf[len - 1] == '\r' ? len - 1 : len;
		if (!printable(buf, n))
			return 400;
		return len >= REQ_MAX ? 400 : 0;
	}
	line_len = (size_t)(nl - buf);
	if (line_len && buf[line_len - 1] == '\r')
		line_len--;
	if ((code = request_line(buf, line_len, &r)))
		return code;
	*minor = r.minor;
	end = headers_end(buf, len, nl);
	if (!end)
		return len >= REQ_MAX ? 431 : 0;
	if (!headers_ok(nl + 1, end))
		return 400;
	return route(&r, head, index);
}

static void on_read(struct hconn *c)
{
	/* bounded bites: a peer that floods cannot keep supd in here (level-triggered: the rest
	 * comes at the next loop iteration) */
	for (int bites = 0; bites < 4; bites++) {
		char scratch[4096];
		char *dst = c->phase == PH_READ ? c->req + c->len : scratch;
		size_t room = c->phase == PH_READ ? REQ_MAX - c->len : sizeof(scratch);
		ssize_t n = recv(c->fd, dst, room, MSG_DONTWAIT);
		int code, minor = 1;
		bool head = false, index = false;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* EOF or error: before a whole request, or after the reply */
			conn_close(c, false);
			return;
		}
		if (c->phase != PH_READ)
			continue; /* lingering: discard */
		c->len += (size_t)n;
		code = sup_metrics_http_parse(c->req, c->len, &minor, &head, &index);
		if (code) {
			reply(c, code, minor, head, index);
			return;
		}
	}
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct hconn *c = sup_container_of(w, struct hconn, io);

	if (c->phase == PH_WRITE)
		flush(c); /* progress re-arms the stall timer; done: lingers */
	else
		on_read(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hconn *c = sup_container_of(w, struct hconn, timer);
	static const char timeout_reply[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
					    "Connection: close\r\n\r\n";

	switch (c->phase) {
	case PH_READ: /* best effort: one try, never waited for */
		sup_debug(NULL, "metrics: fd %d: no whole request in %.0f s; closing", c->fd,
			  READ_SECS);
		if (send(c->fd, timeout_reply, sizeof(timeout_reply) - 1,
			 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* nothing to do: it is closed either way */
		}
		conn_close(c, false);
		break;
	case PH_WRITE:
		sup_debug(NULL, "metrics: fd %d: the peer read nothing for %.0f s; cut off", c->fd,
			  WRITE_STALL);
		conn_close(c, true);
		break;
	case PH_LINGER:
		conn_close(c, false);
		break;
	}
}

static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (n_conns < MAX_CONNS)
		ev_io_start(supd->loop, &listen_io);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	for (int i = 0; i < 16; i++) {
		static const char busy[] =
		    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
		    "Retry-After: 1\r\nConnection: close\r\n\r\n";
		struct hconn *c;
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* level-triggered: pause rather than spin on a backlog we cannot
				 * take */
				sup_warn(NULL, "metrics: accept: %s; pausing for %.0f s",
					 strerror(errno), ACCEPT_BACKOFF);
				ev_io_stop(supd->loop, &listen_io);
				ev_timer_set(&backoff, ACCEPT_BACKOFF, 0.);
				ev_timer_start(supd->loop, &backoff);
			}
			return;
		}
		if (n_conns >= MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* best effort */
			}
			close(fd);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){SNDBUF}, sizeof(int));
		c->fd = fd;
		c->phase = PH_READ;
		ev_io_init(&c->io, on_io, fd, EV_READ);
		ev_init(&c->timer, on_timer);
		list_add_tail(&conns, &c->link);
		n_conns++;
		ev_io_start(supd->loop, &c->io);
		arm_timer(c, READ_SECS); /* for the whole request, not reset by each byte */
	}
}

int sup_metrics_parse_listen(const char *s, struct sockaddr_storage *sa, socklen_t *salen,
			     struct sup_error **err)
{
	char host[64];
	const char *port, *colon;
	size_t hlen;
	char *end;
	unsigned long p;

	memset(sa, 0, sizeof(*sa));
	if (s[0] == '[') {
		const char *close_br = strchr(s, ']');
		if (!close_br || close_br[1] != ':')
			goto bad;
		hlen = (size_t)(close_br - s - 1);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, hlen);
		host[hlen] = 0;
		port = close_br + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			goto bad; /* no port, or an IPv6 address without brackets */
		hlen = (size_t)(colon - s);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, s, hlen);
		host[hlen] = 0;
		port = colon + 1;
	}
	if (*port < '0' || *port > '9')
		goto bad;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (*end || errno || p == 0 || p > 65535)
		goto bad;
	if (!*host || !strcmp(host, "*"))
		strcpy(host, "0.0.0.0");
	else if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			goto bad;
		*salen = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			goto bad;
		*salen = sizeof(*a4);
	}
	return 0;
bad:
	return sup_error_set(err, 0,
			     "[Metrics] Listen=%s: not IPV4:PORT or [IPV6]:PORT (numeric, port "
			     "1-65535)",
			     s);
}

void sup_metrics_http_init(void)
{
	const char *spec = supd->conf.metrics_listen;
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	struct sup_error *err = NULL;
	int one = 1, fd;

	if (!spec)
		return;
	if (sup_metrics_parse_listen(spec, &sa, &salen, &err) < 0) {
		sup_err(NULL, "%s; no metrics listener", err->msg);
		sup_error_free(err);
		return;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sup_err(NULL, "[Metrics] Listen=%s: socket: %s; no metrics listener", spec,
			strerror(errno));
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* as the machine's init, lo is brought up after this: bind to its address anyway */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 64) < 0) {
		sup_err(NULL, "[Metrics] Listen=%s: %s; no metrics listener", spec,
			strerror(errno));
		close(fd);
		return;
	}
	listen_fd = fd;
	ev_io_init(&listen_io, on_accept, fd, EV_READ);
	ev_init(&backoff, on_backoff);
	ev_io_start(supd->loop, &listen_io);
	sup_info(NULL, "metrics: serving http://%s/metrics", spec);
}
