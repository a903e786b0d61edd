/*
 * The control protocol (docs/protocol.md): length-prefixed JSON frames, request validation,
 * reply objects, and the two ways of moving frames over a socket: a non-blocking output
 * queue for supd and blocking send/receive for supctl.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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
    [SUP_CMD_LOGS] = {"logs", true, UNITS_ANY},
    [SUP_CMD_VERSION] = {"version", false, UNITS_NONE},
    [SUP_CMD_POWEROFF] = {"poweroff", true, UNITS_NONE},
    [SUP_CMD_REBOOT] = {"reboot", true, UNITS_NONE},
    [SUP_CMD_STATS] = {"stats", false, UNITS_ANY},
    [SUP_CMD_METRICS] = {"metrics", false, UNITS_NONE},
    [SUP_CMD_EXEC] = {"exec", true, UNITS_ONE},
    [SUP_CMD_KILL] = {"kill", true, UNITS_ONE},
    [SUP_CMD_CAT] = {"cat", false, UNITS_ONE},
    [SUP_CMD_RELOAD_UNITS] = {"reload-units", true, UNITS_SOME},
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

enum encode_fail {
	ENC_OK = 0,
	ENC_NOMEM = -1,
	ENC_TOO_BIG = -2,
	ENC_NOT_OBJECT = -3,
};

static enum encode_fail encode(const json_t *obj, char **out, size_t *len)
{
	struct dump d = {.buf = malloc(256), .len = 4, .cap = 256};

	if (!d.buf)
		return ENC_NOMEM;
	if (!json_is_object(obj)) {
		free(d.buf);
		return ENC_NOT_OBJECT;
	}
	if (json_dump_callback(obj, dump_cb, &d, JSON_COMPACT | SUP_JSON_REALS) < 0) {
		free(d.buf);
		return d.too_big ? ENC_TOO_BIG : ENC_NOMEM;
	}
	put_be32((unsigned char *)d.buf, (uint32_t)(d.len - 4));
	*out = d.buf;
	*len = d.len;
	return ENC_OK;
}

static int encode_error(enum encode_fail f, struct sup_error **err)
{
	switch (f) {
	case ENC_NOT_OBJECT:
		return sup_error_set(err, 0, "encode a frame: the payload must be a JSON object");
	case ENC_TOO_BIG:
		return sup_error_set(err, 0, "encode a frame: over the limit of %u bytes",
				     SUP_PROTO_MAX_FRAME);
	default:
		return sup_error_set(err, ENOMEM, "encode a frame");
	}
}

int sup_frame_encode(const json_t *obj, char **out, size_t *len, struct sup_error **err)
{
	enum encode_fail f = encode(obj, out, len);

	return f == ENC_OK ? 0 : encode_error(f, err);
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
	json_t *lines = json_object_get(root, "lines"), *sig = json_object_get(root, "signal");

	if (parse_bool(root, "wait", &req->wait, code, err) < 0 ||
	    parse_bool(root, "follow", &req->follow, code, err) < 0 ||
	    parse_bool(root, "detail", &req->detail, code, err) < 0 ||
	    parse_bool(root, "all", &req->all, code, err) < 0)
		return -1;
	if (sig &&
	    (!json_is_integer(sig) || json_integer_value(sig) < 1 || json_integer_value(sig) > 64))
		return bad(code, err, "\"signal\" must be a signal number (1 to 64)");
	if (sig)
		req->signal = (int)json_integer_value(sig);
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
	req->signal = SIGTERM;
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
	if (req->cmd == SUP_CMD_STATUS && req->detail)
		r |= json_object_set_new(o, "detail", json_true());
	if (req->cmd == SUP_CMD_KILL) {
		r |= json_object_set_new(o, "signal", json_integer(req->signal));
		r |= json_object_set_new(o, "all", json_boolean(req->all));
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

/* The length of the valid UTF-8 sequence at s (n bytes there), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	static const struct {
		unsigned char lo, hi;
		size_t len;
		uint32_t min;
	} leads[] = {{0x00, 0x7f, 1, 0},
		     {0xc2, 0xdf, 2, 0x80},
		     {0xe0, 0xef, 3, 0x800},
		     {0xf0, 0xf4, 4, 0x10000}};
	uint32_t cp;

	for (size_t k = 0; k < SUP_ARRAY_SIZE(leads); k++) {
		size_t len = leads[k].len;

		if (s[0] < leads[k].lo || s[0] > leads[k].hi)
			continue;
		if (n < len)
			return 0;
		cp = s[0] & (len == 1 ? 0x7f : 0x3f >> (len - 1));
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < leads[k].min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		return len;
	}
	return 0;
}

json_t *sup_json_textn(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);
	_cleanup_free_ char *copy = NULL;
	size_t o = 0;

	if (j)
		return j;
	copy = malloc(n * 3 + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);

		if (k) {
			memcpy(copy + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(copy + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
		}
	}
	return json_stringn(copy, o);
}

json_t *sup_json_text(const char *s)
{
	return sup_json_textn(s, strlen(s));
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
	    json_object_set_new(o, "error", sup_json_text(r < 0 ? "out of memory" : msg)) < 0) {
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

/* Append an encoded frame (owned by the queue from here, or freed). */
static int append(struct sup_outq *q, char *frame, size_t flen, struct sup_error **err)
{
	size_t pending = q->len - q->off;

	if (!pending && q->cap < flen) {
		/* nothing queued: the encoded frame becomes the buffer */
		free(q->buf);
		q->buf = frame;
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

		if (!p) {
			free(frame);
			return sup_error_set(err, ENOMEM, "queue a frame");
		}
		q->buf = p;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, frame, flen);
	q->len += flen;
	free(frame);
	return 0;
}

static int push_encoded(struct sup_outq *q, const json_t *obj, struct sup_error **err)
{
	char *frame = NULL;
	size_t flen;
	enum encode_fail f = encode(obj, &frame, &flen);

	return f == ENC_OK ? append(q, frame, flen, err) : encode_error(f, err);
}

/* The bulk of a reply (see SUP_PROTO_PART_BYTES): *key is NULL for data itself. */
static json_t *reply_bulk(const json_t *reply, const char **key)
{
	json_t *data = json_object_get(reply, "data"), *b;

	*key = NULL;
	if (json_is_array(data))
		return data;
	*key = "lines";
	if (json_is_array(b = json_object_get(data, "lines")))
		return b;
	*key = "text";
	if (json_is_string(b = json_object_get(data, "text")))
		return b;
	return NULL;
}

/* Splitting a reply: each part becomes a frame once the next one shows it is not the last. */
struct splitter {
	struct sup_outq *q;
	const json_t *reply;
	const char *key;
	json_t *held; /* the part not queued yet */
	size_t parts;
};

/* The reply with its bulk replaced by part: a shallow copy, the rest shared. */
static json_t *first_frame(const struct splitter *sp, json_t *part)
{
	json_t *f = json_copy((json_t *)sp->reply), *data;

	if (!f)
		return NULL;
	if (!sp->key) {
		json_object_set(f, "data", part);
	} else {
		data = json_copy(json_object_get(sp->reply, "data"));
		json_object_set(data, sp->key, part);
		json_object_set_new(f, "data", data);
	}
	json_object_set_new(f, "more", json_true());
	return f;
}

static int flush_held(struct splitter *sp, bool more, struct sup_error **err)
{
	json_t *f;
	int r;

	if (!sp->held)
		return 0;
	if (sp->parts++ == 0)
		f = first_frame(sp, sp->held);
	else
		f = json_pack("{s:i, s:b, s:O}", "v", SUP_PROTO_VERSION, "more", more, "part",
			      sp->held);
	json_decref(sp->held);
	sp->held = NULL;
	r = f ? push_encoded(sp->q, f, err) : sup_error_set(err, ENOMEM, "split a reply");
	json_decref(f);
	return r;
}

static int hold(struct splitter *sp, json_t *part, struct sup_error **err)
{
	int r = flush_held(sp, true, err);

	sp->held = part;
	return part ? r : sup_error_set(err, ENOMEM, "split a reply");
}

static int split_array(struct splitter *sp, const json_t *bulk, struct sup_error **err)
{
	json_t *part = json_array(), *e;
	size_t size = 2, i;

	json_array_foreach(bulk, i, e)
	{
		size_t es =
		    json_dumpb(e, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY | SUP_JSON_REALS) + 1;

		if (json_array_size(part) && size + es > SUP_PROTO_PART_BYTES) {
			if (hold(sp, part, err) < 0)
				return -1;
			part = json_array();
			size = 2;
		}
		if (json_array_append(part, e) < 0)
			return sup_error_set(err, ENOMEM, "split a reply");
		size += es;
	}
	return hold(sp, part, err);
}

/* Text is cut in pieces of half a part (escaping may make them grow), never in a character. */
static int split_text(struct splitter *sp, const json_t *bulk, struct sup_error **err)
{
	const char *t = json_string_value(bulk);
	size_t len = json_string_length(bulk), pos = 0;

	while (pos < len) {
		size_t take =
		    len - pos < SUP_PROTO_PART_BYTES / 2 ? len - pos : SUP_PROTO_PART_BYTES / 2;

		while (take < len - pos && take > 1 &&
		       ((unsigned char)t[pos + take] & 0xc0) == 0x80)
			take--;
		if (hold(sp, json_stringn(t + pos, take), err) < 0)
			return -1;
		pos += take;
	}
	return 0;
}

static int push_parts(struct sup_outq *q, const json_t *reply, struct sup_error **err)
{
	struct splitter sp = {.q = q, .reply = reply};
	json_t *bulk = reply_bulk(reply, &sp.key);
	int r;

	if (!bulk || !json_is_object(reply) || !json_object_get(reply, "ok"))
		return encode_error(ENC_TOO_BIG, err);
	r = json_is_array(bulk) ? split_array(&sp, bulk, err) : split_text(&sp, bulk, err);
	if (r == 0)
		r = flush_held(&sp, false, err);
	json_decref(sp.held);
	return r;
}

int sup_outq_push(struct sup_outq *q, const json_t *obj, struct sup_error **err)
{
	char *frame = NULL;
	size_t flen, pending = q->len - q->off;
	enum encode_fail f = encode(obj, &frame, &flen);

	/* a reply too large for a frame goes in parts, into an empty queue only */
	if (f == ENC_TOO_BIG && !pending)
		return push_parts(q, obj, err);
	if (f != ENC_OK)
		return encode_error(f, err);
	if (pending && q->max && flen > q->max - (pending < q->max ? pending : q->max)) {
		free(frame);
		return sup_error_set(err, 0,
				     "output queue full: %zu bytes pending, %zu more, limit %zu "
				     "(the peer is not reading)",
				     pending, flen, q->max);
	}
	return append(q, frame, flen, err);
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

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
}

/* Wait until fd is ready, or the deadline (-1: none) passes: -1 with errno ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	do {
		int left =
		    deadline < 0 ? -1 : (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);

		r = poll(&p, 1, left);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static int send_all(int fd, const char *p, size_t len, int64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w;

		if (deadline >= 0 && wait_fd(fd, POLLOUT, deadline) < 0)
			return -1;
		w = send_some(fd, p + off, len - off, deadline >= 0 ? MSG_DONTWAIT : 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(fd, POLLOUT, deadline) == 0)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

int sup_send_frame_timed(int fd, const json_t *obj, int timeout_ms, struct sup_error **err)
{
	_cleanup_free_ char *frame = NULL;
	size_t len;

	if (sup_frame_encode(obj, &frame, &len, err) < 0)
		return -1;
	if (send_all(fd, frame, len, deadline_of(timeout_ms)) < 0)
		return sup_error_set(err, errno, "send a frame");
	return 0;
}

int sup_send_frame(int fd, const json_t *obj, struct sup_error **err)
{
	return sup_send_frame_timed(fd, obj, -1, err);
}

/* Read exactly n bytes unless EOF comes first. Returns the bytes read, or -1 (errno). */
static ssize_t read_full(int fd, char *buf, size_t n, int64_t deadline)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (deadline >= 0 && wait_fd(fd, POLLIN, deadline) < 0)
			return -1;
		r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(fd, POLLIN, deadline) == 0)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int recv_frame(int fd, json_t **obj, int64_t deadline, struct sup_error **err)
{
	unsigned char hdr[4];
	_cleanup_free_ char *buf = NULL;
	json_error_t jerr;
	ssize_t r;
	uint32_t len;

	*obj = NULL;
	r = read_full(fd, (char *)hdr, sizeof(hdr), deadline);
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
	r = read_full(fd, buf, len, deadline);
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

int sup_recv_frame_timed(int fd, json_t **obj, int timeout_ms, struct sup_error **err)
{
	return recv_frame(fd, obj, deadline_of(timeout_ms), err);
}

int sup_recv_frame(int fd, json_t **obj, struct sup_error **err)
{
	return recv_frame(fd, obj, -1, err);
}

/* The parts of a split reply, gathered: array elements appended at once, text kept in a
 * buffer and set once (concatenating strings part by part would copy it over and over). */
struct joiner {
	json_t *bulk;
	char *text;
	size_t len, cap;
};

static int join_part(struct joiner *j, const json_t *part)
{
	size_t n = json_string_length(part);

	if (json_is_array(j->bulk))
		return json_is_array(part) ? json_array_extend(j->bulk, (json_t *)part) : -1;
	if (!json_is_string(part))
		return -1;
	if (j->len + n > j->cap) {
		size_t cap = (j->len + n) * 2;
		char *p = realloc(j->text, cap);

		if (!p)
			return -1;
		j->text = p;
		j->cap = cap;
	}
	memcpy(j->text + j->len, json_string_value(part), n);
	j->len += n;
	return 0;
}

static int join_rest(int fd, struct joiner *j, int64_t deadline, struct sup_error **err)
{
	bool more = true;

	while (more) {
		json_t *f = NULL;
		int r = recv_frame(fd, &f, deadline, err);

		if (r <= 0)
			return r < 0
				   ? -1
				   : sup_error_set(err, 0, "receive a reply: closed in its parts");
		more = json_is_true(json_object_get(f, "more"));
		r = join_part(j, json_object_get(f, "part"));
		json_decref(f);
		if (r < 0)
			return sup_error_set(err, 0, "receive a reply: a part that does not fit");
	}
	return 0;
}

int sup_recv_reply(int fd, json_t **obj, int timeout_ms, struct sup_error **err)
{
	int64_t deadline = deadline_of(timeout_ms);
	int r = recv_frame(fd, obj, deadline, err);
	struct joiner j = {0};
	const char *key;

	if (r <= 0 || !json_is_true(json_object_get(*obj, "more")))
		return r;
	j.bulk = reply_bulk(*obj, &key);
	if (!j.bulk)
		r = sup_error_set(err, 0, "receive a reply: parts of nothing");
	else if (json_is_string(j.bulk) && join_part(&j, j.bulk) < 0)
		r = sup_error_set(err, ENOMEM, "receive a reply");
	else
		r = join_rest(fd, &j, deadline, err) < 0 ? -1 : 1;
	if (r > 0 && json_is_string(j.bulk))
		json_object_set_new(json_object_get(*obj, "data"), key,
				    json_stringn(j.text, j.len));
	free(j.text);
	json_object_del(*obj, "more");
	if (r < 0) {
		json_decref(*obj);
		*obj = NULL;
	}
	return r;
}
