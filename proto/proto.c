/*
 * The control protocol (docs/protocol.md): length-prefixed JSON frames, request validation,
 * reply objects, and the two ways of moving frames over a socket: a non-blocking output
 * queue for supd and blocking send/receive for supctl.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/names.h"
#include "sup/proto.h"

#define UNIT_NAME_MAX 64

enum units_rule {
	UNITS_NONE, /* none allowed */
	UNITS_ANY,  /* optional: none means all */
	UNITS_SOME, /* one or more */
	UNITS_ONE,  /* exactly one */
};

static const struct {
	const char *name;
	bool privileged;
	enum units_rule units;
} commands[SUP_CMD__MAX] = {
    [SUP_CMD_STATUS] = {"status", false, UNITS_ANY},
    [SUP_CMD_START] = {"start", true, UNITS_SOME},
    [SUP_CMD_STOP] = {"stop", true, UNITS_SOME},
    [SUP_CMD_RESTART] = {"restart", true, UNITS_SOME},
    [SUP_CMD_RESET] = {"reset", true, UNITS_SOME},
    [SUP_CMD_RELOAD] = {"reload", true, UNITS_NONE},
    [SUP_CMD_LOGS] = {"logs", false, UNITS_ONE},
    [SUP_CMD_VERSION] = {"version", false, UNITS_NONE},
    [SUP_CMD_POWEROFF] = {"poweroff", true, UNITS_NONE},
    [SUP_CMD_REBOOT] = {"reboot", true, UNITS_NONE},
    [SUP_CMD_STATS] = {"stats", false, UNITS_ANY},
    [SUP_CMD_METRICS] = {"metrics", false, UNITS_NONE},
    [SUP_CMD_EXEC] = {"exec", true, UNITS_ONE},
    [SUP_CMD_PULL] = {"pull", true, UNITS_NONE},
    [SUP_CMD_IMAGES] = {"images", false, UNITS_NONE},
    [SUP_CMD_RMI] = {"rmi", true, UNITS_NONE},
    [SUP_CMD_LOAD] = {"load", true, UNITS_NONE},
    [SUP_CMD_GC] = {"gc", true, UNITS_NONE},
    [SUP_CMD_UPDATE] = {"update", true, UNITS_ONE},
    [SUP_CMD_DROP_LAYER] = {"drop-layer", true, UNITS_SOME},
};

const char *sup_cmd_name(enum sup_cmd c)
{
	return (unsigned)c < SUP_CMD__MAX ? commands[c].name : "unknown";
}

int sup_cmd_from_name(const char *s, enum sup_cmd *c)
{
	for (unsigned i = 0; s && i < SUP_CMD__MAX; i++)
		if (strcmp(s, commands[i].name) == 0) {
			*c = (enum sup_cmd)i;
			return 0;
		}
	return -1;
}

bool sup_cmd_privileged(enum sup_cmd c)
{
	return (unsigned)c < SUP_CMD__MAX && commands[c].privileged;
}

/* --- framing */

void sup_frame_reader_init(struct sup_frame_reader *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max && max <= SUP_PROTO_MAX_FRAME ? max : SUP_PROTO_MAX_FRAME;
}

void sup_frame_reader_free(struct sup_frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->hdr_got = 0;
	r->len = r->got = 0;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* The header is complete: check the length and make room for the payload. */
static int start_payload(struct sup_frame_reader *r, struct sup_error **err)
{
	uint32_t len = get_be32(r->hdr);

	/* after an error the stream is out of step: the caller closes it */
	r->hdr_got = 0;
	if (len == 0)
		return sup_error_set(err, 0, "protocol error: empty frame (length 0)");
	if (len > r->max)
		return sup_error_set(err, 0,
				     "protocol error: frame of %" PRIu32
				     " bytes exceeds the limit of %" PRIu32 " bytes",
				     len, r->max);
	r->buf = malloc((size_t)len + 1);
	if (!r->buf)
		return sup_error_set(err, ENOMEM, "frame of %" PRIu32 " bytes", len);
	r->hdr_got = sizeof(r->hdr);
	r->len = len;
	r->got = 0;
	return 0;
}

int sup_frame_feed(struct sup_frame_reader *r, const char *data, size_t n, size_t *used,
		   char **payload, uint32_t *len, struct sup_error **err)
{
	size_t off = 0, k;

	*used = 0;
	while (off < n) {
		if (r->hdr_got < sizeof(r->hdr)) {
			k = sizeof(r->hdr) - r->hdr_got;
			k = k < n - off ? k : n - off;
			memcpy(r->hdr + r->hdr_got, data + off, k);
			r->hdr_got += k;
			off += k;
			*used = off;
			if (r->hdr_got < sizeof(r->hdr))
				break;
			if (start_payload(r, err) < 0)
				return -1;
		}
		k = r->len - r->got;
		k = k < n - off ? k : n - off;
		memcpy(r->buf + r->got, data + off, k);
		r->got += k;
		off += k;
		*used = off;
		if (r->got == r->len) {
			r->buf[r->len] = '\0';
			*payload = r->buf;
			*len = r->len;
			r->buf = NULL;
			r->hdr_got = 0;
			r->len = r->got = 0;
			return 1;
		}
	}
	return 0;
}

/* Serialization target: the frame grows in place behind a reserved header. */
struct dump {
	char *buf;
	size_t len, cap;
	bool too_big;
};

static int dump_cb(const char *s, size_t n, void *data)
{
	struct dump *d = data;

	if (n > SUP_PROTO_MAX_FRAME + 4 - d->len) {
		d->too_big = true; /* stop early */
		return -1;
	}
	if (d->len + n > d->cap) {
		size_t cap = d->cap * 2 > d->len + n ? d->cap * 2 : d->len + n;
		char *p = realloc(d->buf, cap);

		if (!p)
			return -1;
		d->buf = p;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, s, n);
	d->len += n;
	return 0;
}

int sup_frame_encode(const json_t *obj, char **out, size_t *len, struct sup_error **err)
{
	struct dump d = {.buf = malloc(256), .len = 4, .cap = 256};

	if (!d.buf)
		return sup_error_set(err, ENOMEM, "encode a frame");
	if (!json_is_object(obj)) {
		free(d.buf);
		return sup_error_set(err, 0, "encode a frame: the payload must be a JSON object");
	}
	if (json_dump_callback(obj, dump_cb, &d, JSON_COMPACT) < 0) {
		free(d.buf);
		if (d.too_big)
			return sup_error_set(err, 0, "encode a frame: over the limit of %u bytes",
					     SUP_PROTO_MAX_FRAME);
		return sup_error_set(err, ENOMEM, "encode a frame");
	}
	put_be32((unsigned char *)d.buf, (uint32_t)(d.len - 4));
	*out = d.buf;
	*len = d.len;
	return 0;
}

/* --- requests */

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* A bounded, printable copy of client-supplied text for an error message. */
static const char *printable(const char *s, char *buf, size_t n)
{
	size_t i = 0;

	for (; *s && i + 4 < n; s++)
		buf[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s)
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static int bad(int *code, struct sup_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(int *code, struct sup_error **err, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	*code = SUP_EXIT_USAGE;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	return sup_error_set(err, 0, "invalid request: %s", r < 0 ? "(out of memory)" : msg);
}

static int parse_header(json_t *root, struct sup_request *req, int *code, struct sup_error **err)
{
	json_t *v = json_object_get(root, "v"), *cmd = json_object_get(root, "cmd");
	char buf[80];

	if (!v)
		return bad(code, err, "missing \"v\" (the protocol version, %d)",
			   SUP_PROTO_VERSION);
	if (!json_is_integer(v))
		return bad(code, err, "\"v\" must be an integer, not %s", type_name(v));
	if (json_integer_value(v) != SUP_PROTO_VERSION)
		return bad(code, err,
			   "protocol version %" JSON_INTEGER_FORMAT
			   " is not supported (this side speaks %d)",
			   json_integer_value(v), SUP_PROTO_VERSION);
	req->version = SUP_PROTO_VERSION;
	if (!cmd)
		return bad(code, err, "missing \"cmd\"");
	if (!json_is_string(cmd))
		return bad(code, err, "\"cmd\" must be a string, not %s", type_name(cmd));
	if (sup_cmd_from_name(json_string_value(cmd), &req->cmd) < 0)
		return bad(code, err, "unknown command \"%s\"",
			   printable(json_string_value(cmd), buf, sizeof(buf)));
	return 0;
}

static int parse_units(json_t *root, struct sup_request *req, int *code, struct sup_error **err)
{
	json_t *units = json_object_get(root, "units"), *u;
	const char *cmd = sup_cmd_name(req->cmd);
	enum units_rule rule = commands[req->cmd].units;
	char buf[80];
	size_t i;

	if (units && !json_is_array(units))
		return bad(code, err, "\"units\" must be an array of unit names, not %s",
			   type_name(units));
	json_array_foreach(units, i, u)
	{
		if (!json_is_string(u))
			return bad(code, err, "\"units\"[%zu] must be a string, not %s", i,
				   type_name(u));
		if (!unit_name_valid(json_string_value(u)))
			return bad(code, err,
				   "invalid unit name \"%s\" (allowed: 1 to %d of A-Z a-z 0-9 _ . "
				   "@ -, not . or ..)",
				   printable(json_string_value(u), buf, sizeof(buf)),
				   UNIT_NAME_MAX);
		if (strv_push(&req->units, json_string_value(u)) < 0)
			return sup_error_set(err, ENOMEM, "invalid request");
	}
	if (rule == UNITS_NONE && req->units.n)
		return bad(code, err, "%s takes no units", cmd);
	if (rule == UNITS_SOME && !req->units.n)
		return bad(code, err, "%s needs at least one unit in \"units\"", cmd);
	if (rule == UNITS_ONE && req->units.n != 1)
		return bad(code, err, "%s takes exactly one unit (got %zu)", cmd, req->units.n);
	return 0;
}

static int parse_bool(json_t *root, const char *key, bool *out, int *code, struct sup_error **err)
{
	json_t *j = json_object_get(root, key);

	if (!j)
		return 0;
	if (!json_is_boolean(j))
		return bad(code, err, "\"%s\" must be true or false, not %s", key, type_name(j));
	*out = json_is_true(j);
	return 0;
}

static int parse_options(json_t *root, struct sup_request *req, int *code, struct sup_error **err)
{
	json_t *lines = json_object_get(root, "lines");

	if (parse_bool(root, "wait", &req->wait, code, err) < 0 ||
	    parse_bool(root, "follow", &req->follow, code, err) < 0)
		return -1;
	if (!lines)
		return 0;
	if (!json_is_integer(lines))
		return bad(code, err, "\"lines\" must be an integer, not %s", type_name(lines));
	if (json_integer_value(lines) < 0 || json_integer_value(lines) > INT_MAX)
		return bad(
		    code, err,
		    "\"lines\" must be 0 (all) or a positive count, not %" JSON_INTEGER_FORMAT,
		    json_integer_value(lines));
	req->lines = (int)json_integer_value(lines);
	return 0;
}

/* exec: "argv" (strings, at least one), "tty", "fds" (up to 3 fd numbers of the caller) */
static int parse_exec(json_t *root, struct sup_request *req, int *code, struct sup_error **err)
{
	json_t *argv = json_object_get(root, "argv"), *fds = json_object_get(root, "fds"), *v;
	size_t i;

	if (req->cmd != SUP_CMD_EXEC)
		return 0;
	if (!json_is_array(argv) || json_array_size(argv) == 0 || json_array_size(argv) > 4096)
		return bad(code, err, "\"argv\" must be a list of 1 to 4096 strings");
	json_array_foreach(argv, i, v)
	{
		if (!json_is_string(v) || strv_push(&req->argv, json_string_value(v)) < 0)
			return bad(code, err, "\"argv\" must hold strings");
	}
	if (parse_bool(root, "tty", &req->tty, code, err) < 0)
		return -1;
	if (fds && (!json_is_array(fds) || json_array_size(fds) > 3))
		return bad(code, err, "\"fds\" must be a list of at most 3 fd numbers");
	json_array_foreach(fds, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 65535)
			return bad(code, err, "\"fds\" must hold fd numbers");
		req->fds[req->n_fds++] = (int)json_integer_value(v);
	}
	return 0;
}

/* A word of 1 to max bytes of printable ASCII, not starting with '-' (never an option). */
static bool word_ok(const json_t *j, size_t max)
{
	const char *s = json_string_value(j);

	if (!s || !*s || s[0] == '-' || json_string_length(j) > max || strlen(s) > max)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* A string field that must be a word (NULL: absent). */
static int parse_word(json_t *root, const char *key, size_t max, char **out, int *code,
		      struct sup_error **err)
{
	json_t *j = json_object_get(root, key);

	if (!j)
		return 0;
	if (!word_ok(j, max))
		return bad(code, err,
			   "\"%s\" must be 1 to %zu printable characters, no space, "
			   "not starting with '-'",
			   key, max);
	*out = strdup(json_string_value(j));
	return *out ? 0 : sup_error_set(err, ENOMEM, "invalid request");
}

/* pull, rmi: "images" (references); pull: "platform"; load: "tag"; restart: "pull" */
static int parse_images(json_t *root, struct sup_request *req, int *code, struct sup_error **err)
{
	json_t *images = json_object_get(root, "images"), *v;
	size_t i, n = json_array_size(images);

	if (parse_word(root, "platform", 64, &req->platform, code, err) < 0 ||
	    parse_word(root, "tag", 512, &req->tag, code, err) < 0 ||
	    parse_bool(root, "pull", &req->pull, code, err) < 0)
		return -1;
	if (images && (!json_is_array(images) || n > 256))
		return bad(code, err, "\"images\" must be a list of at most 256 image references");
	json_array_foreach(images, i, v)
	{
		if (!word_ok(v, 512))
			return bad(code, err, "\"images\"[%zu] must be an image reference", i);
		if (strv_push(&req->images, json_string_value(v)) < 0)
			return sup_error_set(err, ENOMEM, "invalid request");
	}
	if (req->cmd == SUP_CMD_PULL && n != 1)
		return bad(code, err, "pull takes exactly one image in \"images\"");
	if (req->cmd == SUP_CMD_RMI && n == 0)
		return bad(code, err, "rmi needs at least one image in \"images\"");
	return 0;
}

/*
 * Returns -2 when the payload is not a JSON object at all (a protocol error: the connection
 * is out of step and should be closed), -1 when it is an object but not a valid request.
 */
int sup_request_parse(const char *payload, size_t len, struct sup_request *req, int *code,
		      struct sup_error **err)
{
	json_error_t jerr;
	json_t *root;
	int r = 0;

	memset(req, 0, sizeof(*req));
	req->wait = true;
	req->lines = 50;
	*code = 0;
	root = json_loadb(payload, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		bad(code, err, "not valid JSON: %s (at byte %d)", jerr.text, jerr.position);
		return -2;
	}
	if (!json_is_object(root)) {
		bad(code, err, "the payload must be a JSON object, not %s", type_name(root));
		r = -2;
	}
	if (!r &&
	    (parse_header(root, req, code, err) < 0 || parse_units(root, req, code, err) < 0 ||
	     parse_options(root, req, code, err) < 0 || parse_exec(root, req, code, err) < 0 ||
	     parse_images(root, req, code, err) < 0))
		r = -1;
	json_decref(root);
	if (r < 0) {
		if (!*code)
			*code = SUP_EXIT_USAGE;
		sup_request_free(req);
	}
	return r;
}

void sup_request_free(struct sup_request *req)
{
	strv_free(&req->units);
	strv_free(&req->argv);
	strv_free(&req->images);
	free(req->platform);
	free(req->tag);
	req->platform = req->tag = NULL;
}

json_t *sup_request_to_json(const struct sup_request *req)
{
	json_t *o = json_object(), *units = NULL;
	int r = 0;

	if (!o)
		return NULL;
	r |= json_object_set_new(o, "v", json_integer(SUP_PROTO_VERSION));
	r |= json_object_set_new(o, "cmd", json_string(sup_cmd_name(req->cmd)));
	if (req->units.n) {
		units = json_array();
		for (size_t i = 0; units && i < req->units.n; i++)
			r |= json_array_append_new(units, json_string(req->units.v[i]));
		r |= json_object_set_new(o, "units", units);
	}
	if (req->cmd == SUP_CMD_START || req->cmd == SUP_CMD_STOP || req->cmd == SUP_CMD_RESTART)
		r |= json_object_set_new(o, "wait", json_boolean(req->wait));
	if (req->cmd == SUP_CMD_LOGS) {
		r |= json_object_set_new(o, "lines", json_integer(req->lines));
		r |= json_object_set_new(o, "follow", json_boolean(req->follow));
	}
	if (req->cmd == SUP_CMD_EXEC) {
		json_t *argv = json_array(), *fds = json_array();
		for (size_t i = 0; argv && i < req->argv.n; i++)
			r |= json_array_append_new(argv, json_string(req->argv.v[i]));
		for (int i = 0; fds && i < req->n_fds; i++)
			r |= json_array_append_new(fds, json_integer(req->fds[i]));
		r |= json_object_set_new(o, "argv", argv);
		r |= json_object_set_new(o, "fds", fds);
		r |= json_object_set_new(o, "tty", json_boolean(req->tty));
	}
	if (req->images.n) {
		json_t *images = json_array();
		for (size_t i = 0; images && i < req->images.n; i++)
			r |= json_array_append_new(images, json_string(req->images.v[i]));
		r |= json_object_set_new(o, "images", images);
	}
	if (req->platform)
		r |= json_object_set_new(o, "platform", json_string(req->platform));
	if (req->tag)
		r |= json_object_set_new(o, "tag", json_string(req->tag));
	if (req->pull)
		r |= json_object_set_new(o, "pull", json_true());
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* --- replies */

json_t *sup_reply_ok(json_t *data)
{
	json_t *o = json_object();

	if (!o) {
		json_decref(data);
		return NULL;
	}
	if (json_object_set_new(o, "v", json_integer(SUP_PROTO_VERSION)) < 0 ||
	    json_object_set_new(o, "ok", json_true()) < 0 ||
	    json_object_set_new(o, "data", data ? data : json_null()) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* JSON strings must be UTF-8; an error text may quote bytes that are not. */
static json_t *text_json(const char *s)
{
	json_t *j = json_string(s);
	_cleanup_free_ char *copy = NULL;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(copy);
}

json_t *sup_reply_error(int code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	json_t *o;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	o = json_object();
	if (!o)
		return NULL;
	if (json_object_set_new(o, "v", json_integer(SUP_PROTO_VERSION)) < 0 ||
	    json_object_set_new(o, "ok", json_false()) < 0 ||
	    json_object_set_new(o, "code", json_integer(code)) < 0 ||
	    json_object_set_new(o, "error", text_json(r < 0 ? "out of memory" : msg)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* --- output queue */

#define OUTQ_KEEP (64u << 10) /* an emptied queue keeps at most this much memory */

void sup_outq_init(struct sup_outq *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
}

void sup_outq_free(struct sup_outq *q)
{
	free(q->buf);
	q->buf = NULL;
	q->len = q->off = q->cap = 0;
}

int sup_outq_push(struct sup_outq *q, const json_t *obj, struct sup_error **err)
{
	_cleanup_free_ char *frame = NULL;
	size_t flen, pending = q->len - q->off;

	if (sup_frame_encode(obj, &frame, &flen, err) < 0)
		return -1;
	if (q->max && flen > q->max - (pending < q->max ? pending : q->max))
		return sup_error_set(err, 0,
				     "output queue full: %zu bytes pending, %zu more, limit %zu "
				     "(the peer is not reading)",
				     pending, flen, q->max);
	if (!pending && q->cap < flen) {
		/* nothing queued: the encoded frame becomes the buffer */
		free(q->buf);
		q->buf = sup_steal_ptr(frame);
		q->cap = q->len = flen;
		q->off = 0;
		return 0;
	}
	if (q->off) {
		memmove(q->buf, q->buf + q->off, pending);
		q->len = pending;
		q->off = 0;
	}
	if (q->len + flen > q->cap) {
		size_t cap = q->cap * 2 > q->len + flen ? q->cap * 2 : q->len + flen;
		char *p = realloc(q->buf, cap);

		if (!p)
			return sup_error_set(err, ENOMEM, "queue a frame");
		q->buf = p;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, frame, flen);
	q->len += flen;
	return 0;
}

/* send() without SIGPIPE on a socket, plain write() on anything else. */
static ssize_t send_some(int fd, const char *p, size_t n, int flags)
{
	ssize_t w = send(fd, p, n, MSG_NOSIGNAL | flags);

	if (w < 0 && errno == ENOTSOCK)
		w = write(fd, p, n);
	return w;
}

int sup_outq_flush(struct sup_outq *q, int fd)
{
	while (q->off < q->len) {
		ssize_t w = send_some(fd, q->buf + q->off, q->len - q->off, MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0)
			return -1;
		q->off += (size_t)w;
	}
	q->off = q->len = 0;
	if (q->cap > OUTQ_KEEP) /* a burst is over: give its memory back */
		sup_outq_free(q);
	return 1;
}

/* --- blocking I/O */

/* Wait until fd is ready, for a caller handed a non-blocking fd. */
static int wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR)
		;
	return r < 0 ? -1 : 0;
}

int sup_send_frame(int fd, const json_t *obj, struct sup_error **err)
{
	_cleanup_free_ char *frame = NULL;
	size_t len, off = 0;

	if (sup_frame_encode(obj, &frame, &len, err) < 0)
		return -1;
	while (off < len) {
		ssize_t w = send_some(fd, frame + off, len - off, 0);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLOUT) == 0)
			continue;
		if (w < 0)
			return sup_error_set(err, errno, "send a frame");
		off += (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes unless EOF comes first. Returns the bytes read, or -1 (errno). */
static ssize_t read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLIN) == 0)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int sup_recv_frame(int fd, json_t **obj, struct sup_error **err)
{
	unsigned char hdr[4];
	_cleanup_free_ char *buf = NULL;
	json_error_t jerr;
	ssize_t r;
	uint32_t len;

	*obj = NULL;
	r = read_full(fd, (char *)hdr, sizeof(hdr));
	if (r < 0)
		return sup_error_set(err, errno, "receive a frame");
	if (r == 0)
		return 0;
	if (r < (ssize_t)sizeof(hdr))
		return sup_error_set(err, 0, "receive a frame: connection closed inside a header");
	len = get_be32(hdr);
	if (len == 0 || len > SUP_PROTO_MAX_FRAME)
		return sup_error_set(err, 0, "receive a frame: bad length %" PRIu32 " (1 to %u)",
				     len, SUP_PROTO_MAX_FRAME);
	buf = malloc(len);
	if (!buf)
		return sup_error_set(err, ENOMEM, "receive a frame of %" PRIu32 " bytes", len);
	r = read_full(fd, buf, len);
	if (r < 0)
		return sup_error_set(err, errno, "receive a frame");
	if (r < (ssize_t)len)
		return sup_error_set(
		    err, 0, "receive a frame: connection closed after %zd of %" PRIu32 " bytes", r,
		    len);
	/* a unit's output may hold NUL bytes: log text is allowed to carry them */
	*obj = json_loadb(buf, len, JSON_ALLOW_NUL, &jerr);
	if (!*obj)
		return sup_error_set(err, 0, "receive a frame: not valid JSON: %s", jerr.text);
	if (!json_is_object(*obj)) {
		json_decref(*obj);
		*obj = NULL;
		return sup_error_set(err, 0, "receive a frame: not a JSON object");
	}
	return 1;
}
