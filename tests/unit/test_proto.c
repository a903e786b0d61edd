/*
 * proto: the frame reader and encoder, request validation, reply objects, the output queue
 * and the blocking helpers; and supctl's formatting (supctl_fmt.c, compiled in here).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sup/proto.h"
#include "supctl_fmt.c"

/* header + payload into buf; returns the frame length */
static size_t make_frame(char *buf, const char *payload, size_t n)
{
	buf[0] = (char)(n >> 24);
	buf[1] = (char)(n >> 16);
	buf[2] = (char)(n >> 8);
	buf[3] = (char)n;
	memcpy(buf + 4, payload, n);
	return n + 4;
}

/* --- command names */

START_TEST(test_cmd_names)
{
	enum sup_cmd c;

	for (int i = 0; i < SUP_CMD__MAX; i++) {
		ck_assert_int_eq(sup_cmd_from_name(sup_cmd_name(i), &c), 0);
		ck_assert_int_eq(c, i);
	}
	ck_assert_str_eq(sup_cmd_name(SUP_CMD_LOGS), "logs");
	ck_assert_str_eq(sup_cmd_name(SUP_CMD__MAX), "unknown");
	ck_assert_str_eq(sup_cmd_name((enum sup_cmd) - 1), "unknown");
	ck_assert_int_eq(sup_cmd_from_name("frobnicate", &c), -1);
	ck_assert_int_eq(sup_cmd_from_name("", &c), -1);
	ck_assert_int_eq(sup_cmd_from_name("STATUS", &c), -1);
	ck_assert_int_eq(sup_cmd_from_name(NULL, &c), -1);
	ck_assert(!sup_cmd_privileged(SUP_CMD_STATUS));
	ck_assert(sup_cmd_privileged(SUP_CMD_LOGS)); /* root and the [Control] Group= */
	ck_assert(!sup_cmd_privileged(SUP_CMD_CAT));
	ck_assert(!sup_cmd_privileged(SUP_CMD_STATS));
	ck_assert(!sup_cmd_privileged(SUP_CMD_METRICS));
	ck_assert(sup_cmd_privileged(SUP_CMD_KILL));
	ck_assert(sup_cmd_privileged(SUP_CMD_RELOAD_UNITS));
	ck_assert(!sup_cmd_privileged(SUP_CMD_VERSION));
	ck_assert(sup_cmd_privileged(SUP_CMD_START));
	ck_assert(sup_cmd_privileged(SUP_CMD_STOP));
	ck_assert(sup_cmd_privileged(SUP_CMD_RESTART));
	ck_assert(sup_cmd_privileged(SUP_CMD_RESET));
	ck_assert(sup_cmd_privileged(SUP_CMD_RELOAD));
	ck_assert(sup_cmd_privileged(SUP_CMD_POWEROFF));
	ck_assert(sup_cmd_privileged(SUP_CMD_REBOOT));
	ck_assert(!sup_cmd_privileged(SUP_CMD__MAX));
}
END_TEST

/* --- the frame reader */

START_TEST(test_reader_one_byte_feeds)
{
	struct sup_frame_reader r;
	const char *body = "{\"v\":1,\"cmd\":\"status\"}";
	char buf[64], *payload = NULL;
	size_t n = make_frame(buf, body, strlen(body)), used;
	uint32_t len = 0;
	int got = 0;

	sup_frame_reader_init(&r, SUP_PROTO_MAX_REQUEST);
	for (size_t i = 0; i < n; i++) {
		int ret = sup_frame_feed(&r, buf + i, 1, &used, &payload, &len, NULL);

		ck_assert_uint_eq(used, 1);
		ck_assert_int_eq(ret, i + 1 == n ? 1 : 0);
		got += ret;
	}
	ck_assert_int_eq(got, 1);
	ck_assert_uint_eq(len, strlen(body));
	ck_assert_str_eq(payload, body);
	free(payload);
	/* nothing in flight: an empty feed needs more */
	ck_assert_int_eq(sup_frame_feed(&r, buf, 0, &used, &payload, &len, NULL), 0);
	ck_assert_uint_eq(used, 0);
	sup_frame_reader_free(&r);
}
END_TEST

START_TEST(test_reader_two_frames_one_feed)
{
	struct sup_frame_reader r;
	char buf[128], *payload;
	size_t n = make_frame(buf, "{\"a\":1}", 7), used;
	uint32_t len;

	n += make_frame(buf + n, "{\"b\":2}", 7);
	n += make_frame(buf + n, "{\"c\":3}", 7) - 3; /* and the start of a third */
	sup_frame_reader_init(&r, 0);
	ck_assert_uint_eq(r.max, SUP_PROTO_MAX_FRAME);
	ck_assert_int_eq(sup_frame_feed(&r, buf, n, &used, &payload, &len, NULL), 1);
	ck_assert_uint_eq(used, 11);
	ck_assert_str_eq(payload, "{\"a\":1}");
	free(payload);
	ck_assert_int_eq(sup_frame_feed(&r, buf + 11, n - 11, &used, &payload, &len, NULL), 1);
	ck_assert_uint_eq(used, 11);
	ck_assert_str_eq(payload, "{\"b\":2}");
	free(payload);
	ck_assert_int_eq(sup_frame_feed(&r, buf + 22, n - 22, &used, &payload, &len, NULL), 0);
	ck_assert_uint_eq(used, n - 22);
	ck_assert_int_eq(sup_frame_feed(&r, ":3}", 3, &used, &payload, &len, NULL), 1);
	ck_assert_str_eq(payload, "{\"c\":3}");
	free(payload);
	sup_frame_reader_free(&r);
}
END_TEST

START_TEST(test_reader_split_header)
{
	struct sup_frame_reader r;
	char buf[32], *payload;
	size_t n = make_frame(buf, "{}", 2), used;
	uint32_t len;

	sup_frame_reader_init(&r, 100);
	ck_assert_int_eq(sup_frame_feed(&r, buf, 3, &used, &payload, &len, NULL), 0);
	ck_assert_int_eq(sup_frame_feed(&r, buf + 3, 2, &used, &payload, &len, NULL), 0);
	ck_assert_int_eq(sup_frame_feed(&r, buf + 5, n - 5, &used, &payload, &len, NULL), 1);
	ck_assert_str_eq(payload, "{}");
	free(payload);
	sup_frame_reader_free(&r);
}
END_TEST

START_TEST(test_reader_zero_length)
{
	struct sup_frame_reader r;
	struct sup_error *err = NULL;
	char *payload = NULL;
	size_t used;
	uint32_t len;

	sup_frame_reader_init(&r, 100);
	ck_assert_int_eq(sup_frame_feed(&r, "\0\0\0\0{}", 6, &used, &payload, &len, &err), -1);
	ck_assert_uint_eq(used, 4);
	ck_assert_ptr_null(payload);
	ck_assert_ptr_nonnull(strstr(err->msg, "empty frame"));
	sup_error_free(err);
	sup_frame_reader_free(&r);
}
END_TEST

START_TEST(test_reader_oversized)
{
	struct sup_frame_reader r;
	struct sup_error *err = NULL;
	char *payload = NULL;
	size_t used;
	uint32_t len;

	/* exactly the limit is fine; one more is not */
	sup_frame_reader_init(&r, 10);
	ck_assert_int_eq(sup_frame_feed(&r, "\0\0\0\x0a", 4, &used, &payload, &len, &err), 0);
	ck_assert_int_eq(sup_frame_feed(&r, "0123456789", 10, &used, &payload, &len, &err), 1);
	ck_assert_uint_eq(len, 10);
	free(payload);
	payload = NULL;
	ck_assert_int_eq(sup_frame_feed(&r, "\0\0\0\x0b", 4, &used, &payload, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "11 bytes exceeds the limit of 10"));
	sup_error_clear(&err);
	ck_assert_ptr_null(payload);
	sup_frame_reader_free(&r);

	/* 4 GiB: no allocation is attempted */
	sup_frame_reader_init(&r, SUP_PROTO_MAX_REQUEST);
	ck_assert_int_eq(sup_frame_feed(&r, "\xff\xff\xff\xff", 4, &used, &payload, &len, &err),
			 -1);
	sup_error_clear(&err);
	sup_frame_reader_free(&r);
	/* a max above the protocol's is clamped */
	sup_frame_reader_init(&r, 0xffffffffu);
	ck_assert_uint_eq(r.max, SUP_PROTO_MAX_FRAME);
}
END_TEST

START_TEST(test_reader_embedded_nul)
{
	struct sup_frame_reader r;
	char buf[64], *payload;
	static const char body[] = "{\"v\":1}\0garbage";
	size_t n = make_frame(buf, body, sizeof(body) - 1), used;
	uint32_t len;

	sup_frame_reader_init(&r, 100);
	ck_assert_int_eq(sup_frame_feed(&r, buf, n, &used, &payload, &len, NULL), 1);
	ck_assert_uint_eq(len, sizeof(body) - 1);
	ck_assert_mem_eq(payload, body, len);
	ck_assert_int_eq(payload[len], '\0');
	free(payload);
	sup_frame_reader_free(&r);
}
END_TEST

/* Random bytes in random pieces: never a crash, and every outcome is one of the three. */
START_TEST(test_reader_garbage)
{
	unsigned seed = 12345;

	for (int round = 0; round < 200; round++) {
		struct sup_frame_reader r;
		char data[2048];
		size_t n = (size_t)rand_r(&seed) % sizeof(data), off = 0;

		for (size_t i = 0; i < n; i++)
			data[i] = (char)rand_r(&seed);
		if (round % 2) /* a plausible small length, so payloads do complete */
			data[0] = data[1] = data[2] = 0;
		sup_frame_reader_init(&r, 1000);
		while (off < n) {
			struct sup_error *err = NULL;
			size_t chunk = 1 + (size_t)rand_r(&seed) % 64, used = 0;
			char *payload = NULL;
			uint32_t len = 0;
			int ret;

			chunk = chunk < n - off ? chunk : n - off;
			ret = sup_frame_feed(&r, data + off, chunk, &used, &payload, &len, &err);
			ck_assert_uint_le(used, chunk);
			off += used;
			if (ret < 0) {
				ck_assert_ptr_nonnull(err);
				sup_error_free(err);
				break;
			}
			if (ret == 1) {
				ck_assert(len >= 1 && len <= 1000);
				free(payload);
			} else {
				ck_assert_uint_eq(used, chunk);
			}
		}
		sup_frame_reader_free(&r);
	}
}
END_TEST

/* --- encoding */

START_TEST(test_encode)
{
	json_t *o = json_pack("{s:i, s:s}", "v", 1, "cmd", "status");
	struct sup_error *err = NULL;
	char *out = NULL;
	size_t len;

	ck_assert_int_eq(sup_frame_encode(o, &out, &len, &err), 0);
	ck_assert_uint_eq(len, 4 + strlen("{\"v\":1,\"cmd\":\"status\"}"));
	ck_assert_mem_eq(out, "\0\0\0\x16{\"v\":1,\"cmd\":\"status\"}", len);
	free(out);
	json_decref(o);

	o = json_pack("[i]", 1);
	ck_assert_int_eq(sup_frame_encode(o, &out, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "object"));
	sup_error_clear(&err);
	json_decref(o);
}
END_TEST

START_TEST(test_encode_too_large)
{
	size_t big = SUP_PROTO_MAX_FRAME;
	char *s = malloc(big);
	json_t *o;
	struct sup_error *err = NULL;
	char *out = NULL;
	size_t len;

	memset(s, 'x', big);
	o = json_pack("{s:s%}", "text", s, big - 20); /* fits, with the key and quotes */
	ck_assert_int_eq(sup_frame_encode(o, &out, &len, &err), 0);
	ck_assert_uint_le(len, SUP_PROTO_MAX_FRAME + 4);
	free(out);
	json_decref(o);
	o = json_pack("{s:s%}", "text", s, big);
	ck_assert_int_eq(sup_frame_encode(o, &out, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "limit"));
	sup_error_clear(&err);
	json_decref(o);
	free(s);
}
END_TEST

/* --- requests */

static int parse(const char *json, struct sup_request *req, int *code, struct sup_error **err)
{
	return sup_request_parse(json, strlen(json), req, code, err);
}

START_TEST(test_request_defaults)
{
	struct sup_request req;
	struct sup_error *err = NULL;
	int code = -1;

	ck_assert_int_eq(parse("{\"v\":1,\"cmd\":\"status\"}", &req, &code, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(code, 0);
	ck_assert_int_eq(req.version, 1);
	ck_assert_int_eq(req.cmd, SUP_CMD_STATUS);
	ck_assert_uint_eq(req.units.n, 0);
	ck_assert(req.wait);
	ck_assert_int_eq(req.lines, 50);
	ck_assert(!req.follow);
	sup_request_free(&req);
}
END_TEST

START_TEST(test_request_all_fields)
{
	struct sup_request req;
	struct sup_error *err = NULL;
	int code;

	ck_assert_int_eq(parse("{\"v\":1,\"cmd\":\"logs\",\"units\":[\"web@1.x-y_z\"],\"lines\":0,"
			       "\"follow\":true,\"wait\":false,\"future\":{\"x\":[1]}}",
			       &req, &code, &err),
			 0);
	ck_assert_int_eq(req.cmd, SUP_CMD_LOGS);
	ck_assert_uint_eq(req.units.n, 1);
	ck_assert_str_eq(req.units.v[0], "web@1.x-y_z");
	ck_assert_int_eq(req.lines, 0);
	ck_assert(req.follow);
	ck_assert(!req.wait);
	sup_request_free(&req);
	ck_assert_int_eq(
	    parse("{\"cmd\":\"stop\",\"units\":[\"a\",\"b\",\"a\"],\"v\":1}", &req, &code, &err),
	    0);
	ck_assert_uint_eq(req.units.n, 3);
	ck_assert_str_eq(req.units.v[2], "a");
	sup_request_free(&req);
}
END_TEST

/* Which commands take which units. */
START_TEST(test_request_units_per_command)
{
	static const struct {
		const char *cmd;
		bool none, one, two;
	} t[] = {
	    {"status", true, true, true},	 {"start", false, true, true},
	    {"stop", false, true, true},	 {"restart", false, true, true},
	    {"reset", false, true, true},	 {"reload", true, false, false},
	    {"logs", true, true, true},		 {"version", true, false, false},
	    {"kill", false, true, false},	 {"cat", false, true, false},
	    {"reload-units", false, true, true}, {"poweroff", true, false, false},
	    {"reboot", true, false, false},
	};
	static const char *const units[] = {"", ",\"units\":[]", ",\"units\":[\"a\"]",
					    ",\"units\":[\"a\",\"b\"]"};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(t); i++)
		for (size_t u = 0; u < SUP_ARRAY_SIZE(units); u++) {
			bool want = u < 2 ? t[i].none : u == 2 ? t[i].one : t[i].two;
			struct sup_request req;
			struct sup_error *err = NULL;
			char json[128];
			int code = 0, r;

			snprintf(json, sizeof(json), "{\"v\":1,\"cmd\":\"%s\"%s}", t[i].cmd,
				 units[u]);
			r = parse(json, &req, &code, &err);
			ck_assert_msg(want ? r == 0 : r == -1, "%s: got %d", json, r);
			if (r == 0) {
				ck_assert_str_eq(sup_cmd_name(req.cmd), t[i].cmd);
				sup_request_free(&req);
			} else {
				ck_assert_int_eq(code, SUP_EXIT_USAGE);
				ck_assert_ptr_nonnull(strstr(err->msg, t[i].cmd));
				sup_error_free(err);
			}
		}
}
END_TEST

/* Every field of the wrong type or value: -1, code 2, and a message naming the problem. */
START_TEST(test_request_invalid)
{
	static const struct {
		const char *json, *needle;
	} t[] = {
	    {"{}", "missing \"v\""},
	    {"{\"cmd\":\"status\"}", "missing \"v\""},
	    {"{\"v\":\"1\",\"cmd\":\"status\"}", "\"v\" must be an integer, not a string"},
	    {"{\"v\":1.0,\"cmd\":\"status\"}", "\"v\" must be an integer, not a number"},
	    {"{\"v\":null,\"cmd\":\"status\"}", "not null"},
	    {"{\"v\":2,\"cmd\":\"status\"}", "protocol version 2 is not supported"},
	    {"{\"v\":0,\"cmd\":\"status\"}", "protocol version 0"},
	    {"{\"v\":1}", "missing \"cmd\""},
	    {"{\"v\":1,\"cmd\":42}", "\"cmd\" must be a string, not an integer"},
	    {"{\"v\":1,\"cmd\":[\"status\"]}", "not an array"},
	    {"{\"v\":1,\"cmd\":\"frobnicate\"}", "unknown command \"frobnicate\""},
	    {"{\"v\":1,\"cmd\":\"\"}", "unknown command"},
	    {"{\"v\":1,\"cmd\":\"st\\u0001atus\"}", "unknown command \"st?atus\""},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":\"svc\"}", "\"units\" must be an array"},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":{}}", "not an object"},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":[1,2]}", "\"units\"[0] must be a string"},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":[\"a\",null]}",
	     "\"units\"[1] must be a string"},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":[\"../../etc\"]}",
	     "invalid unit name \"../../etc\""},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":[\"\"]}", "invalid unit name \"\""},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":[\"a b\"]}", "invalid unit name"},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":[\"caf\\u00e9\"]}",
	     "invalid unit name \"caf??\""},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":[\"a\\nb\"]}", "invalid unit name \"a?b\""},
	    {"{\"v\":1,\"cmd\":\"status\",\"units\":["
	     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
	     "invalid unit name \"aaaa"},
	    {"{\"v\":1,\"cmd\":\"stop\",\"units\":[\"svc\"],\"wait\":\"yes\"}",
	     "\"wait\" must be true or false, not a string"},
	    {"{\"v\":1,\"cmd\":\"stop\",\"units\":[\"svc\"],\"wait\":1}",
	     "\"wait\" must be true or false"},
	    {"{\"v\":1,\"cmd\":\"logs\",\"units\":[\"svc\"],\"lines\":\"ten\"}",
	     "\"lines\" must be an integer, not a string"},
	    {"{\"v\":1,\"cmd\":\"logs\",\"units\":[\"svc\"],\"lines\":1.5}",
	     "\"lines\" must be an integer"},
	    {"{\"v\":1,\"cmd\":\"logs\",\"units\":[\"svc\"],\"lines\":-1}", "not -1"},
	    {"{\"v\":1,\"cmd\":\"logs\",\"units\":[\"svc\"],\"lines\":4294967296}",
	     "not 4294967296"},
	    {"{\"v\":1,\"cmd\":\"logs\",\"units\":[\"svc\"],\"follow\":1}",
	     "\"follow\" must be true or false, not an integer"},
	    {"{\"v\":1,\"cmd\":\"logs\",\"units\":[\"svc\"],\"follow\":null}", "\"follow\""},
	    {"{\"v\":1,\"cmd\":\"stop\"}", "stop needs at least one unit"},
	    {"{\"v\":1,\"cmd\":\"cat\",\"units\":[\"svc\",\"svc\"]}",
	     "cat takes exactly one unit (got 2)"},
	    {"{\"v\":1,\"cmd\":\"kill\",\"units\":[\"svc\"],\"signal\":\"TERM\"}",
	     "\"signal\" must be a signal number"},
	    {"{\"v\":1,\"cmd\":\"kill\",\"units\":[\"svc\"],\"signal\":0}",
	     "\"signal\" must be a signal number (1 to 64)"},
	    {"{\"v\":1,\"cmd\":\"kill\",\"units\":[\"svc\"],\"all\":1}",
	     "\"all\" must be true or false"},
	    {"{\"v\":1,\"cmd\":\"reload-units\"}", "reload-units needs at least one unit"},
	    {"{\"v\":1,\"cmd\":\"reload\",\"units\":[\"svc\"]}", "reload takes no units"},
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(t); i++) {
		struct sup_request req;
		struct sup_error *err = NULL;
		int code = 0;

		ck_assert_msg(parse(t[i].json, &req, &code, &err) == -1, "%s: accepted", t[i].json);
		ck_assert_int_eq(code, SUP_EXIT_USAGE);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err->msg, t[i].needle), "%s: message \"%s\" lacks \"%s\"",
			      t[i].json, err->msg, t[i].needle);
		ck_assert_ptr_null(req.units.v);
		sup_error_free(err);
	}
}
END_TEST

/* Not a JSON object at all: -2, so the server closes the connection. */
START_TEST(test_request_not_an_object)
{
	static const struct {
		const char *json;
		size_t len;
		const char *needle;
	} t[] = {
#define L(s) s, sizeof(s) - 1
	    {L("[1, 2, 3]"), "not an array"},
	    {L("\"status\""), "not a string"},
	    {L("42"), "not an integer"},
	    {L("null"), "not null"},
	    {L("true"), "not a boolean"},
	    {L("{\"v\": 1, \"cmd\": \"status\""), "not valid JSON"},
	    {L("not json at all"), "not valid JSON"},
	    {L("{\"v\":1,\"cmd\":\"status\"}\0garbage"), "not valid JSON"},
	    {L("{\"v\":1,\"cmd\":\"st\\u0000atus\"}"), "not valid JSON"},
	    {L("{\"v\":1,\"v\":1,\"cmd\":\"status\"}"), "duplicate"},
	    {L("\xff\xfe{}"), "not valid JSON"},
	    {L(""), "not valid JSON"},
#undef L
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(t); i++) {
		struct sup_request req;
		struct sup_error *err = NULL;
		int code = 0;

		ck_assert_int_eq(sup_request_parse(t[i].json, t[i].len, &req, &code, &err), -2);
		ck_assert_int_eq(code, SUP_EXIT_USAGE);
		ck_assert_msg(strstr(err->msg, t[i].needle), "%zu: \"%s\" lacks \"%s\"", i,
			      err->msg, t[i].needle);
		sup_error_free(err);
	}
}
END_TEST

START_TEST(test_request_to_json_round_trip)
{
	for (int c = 0; c < SUP_CMD__MAX; c++) {
		struct sup_request req = {.cmd = c, .wait = false, .lines = 7, .follow = true},
				   back;
		struct sup_error *err = NULL;
		json_t *j;
		char *s;
		int code;

		if (c == SUP_CMD_LOGS || c == SUP_CMD_START || c == SUP_CMD_STOP ||
		    c == SUP_CMD_RESTART || c == SUP_CMD_RESET || c == SUP_CMD_KILL ||
		    c == SUP_CMD_CAT || c == SUP_CMD_RELOAD_UNITS || c == SUP_CMD_UPDATE ||
		    c == SUP_CMD_DROP_LAYER)
			strv_push(&req.units, "web");
		if (c != SUP_CMD_LOGS && c != SUP_CMD_KILL && c != SUP_CMD_CAT &&
		    c != SUP_CMD_UPDATE && req.units.n)
			strv_push(&req.units, "db");
		req.signal = SIGHUP;
		req.all = true;
		req.detail = c == SUP_CMD_STATUS;
		if (c == SUP_CMD_PULL || c == SUP_CMD_RMI)
			strv_push(&req.images, "127.0.0.1:5000/app:1");
		if (c == SUP_CMD_PULL)
			req.platform = strdup("linux/arm64");
		if (c == SUP_CMD_LOAD)
			req.tag = strdup("app:2");
		if (c == SUP_CMD_RESTART)
			req.pull = true;
		if (c == SUP_CMD_EXEC) {
			strv_push(&req.units, "web");
			strv_push(&req.argv, "/bin/sh");
			strv_push(&req.argv, "-c");
			req.fds[0] = 4;
			req.n_fds = 1;
			req.tty = true;
		}
		j = sup_request_to_json(&req);
		ck_assert_ptr_nonnull(j);
		s = json_dumps(j, JSON_COMPACT);
		ck_assert_int_eq(sup_request_parse(s, strlen(s), &back, &code, &err), 0);
		ck_assert_int_eq(back.cmd, c);
		ck_assert_uint_eq(back.units.n, req.units.n);
		if (c == SUP_CMD_KILL)
			ck_assert(back.signal == SIGHUP && back.all);
		if (c == SUP_CMD_STATUS)
			ck_assert(back.detail);
		if (c == SUP_CMD_EXEC)
			ck_assert(back.argv.n == 2 && back.tty && back.n_fds == 1 &&
				  back.fds[0] == 4 && !strcmp(back.argv.v[1], "-c"));
		ck_assert_uint_eq(back.images.n, req.images.n);
		if (c == SUP_CMD_PULL)
			ck_assert(!strcmp(back.images.v[0], "127.0.0.1:5000/app:1") &&
				  !strcmp(back.platform, "linux/arm64"));
		if (c == SUP_CMD_LOAD)
			ck_assert_str_eq(back.tag, "app:2");
		ck_assert(back.pull == (c == SUP_CMD_RESTART));
		for (size_t i = 0; i < req.units.n; i++)
			ck_assert_str_eq(back.units.v[i], req.units.v[i]);
		if (c == SUP_CMD_START || c == SUP_CMD_STOP || c == SUP_CMD_RESTART)
			ck_assert(!back.wait);
		if (c == SUP_CMD_LOGS) {
			ck_assert_int_eq(back.lines, 7);
			ck_assert(back.follow);
		} else {
			ck_assert_ptr_null(json_object_get(j, "lines"));
			ck_assert_ptr_null(json_object_get(j, "follow"));
		}
		free(s);
		json_decref(j);
		sup_request_free(&req);
		sup_request_free(&back);
	}
}
END_TEST

/* --- replies */

START_TEST(test_replies)
{
	json_t *r = sup_reply_ok(json_pack("[i]", 5));
	char *s = json_dumps(r, JSON_COMPACT);

	ck_assert_str_eq(s, "{\"v\":1,\"ok\":true,\"data\":[5]}");
	free(s);
	json_decref(r);
	r = sup_reply_ok(NULL);
	s = json_dumps(r, JSON_COMPACT);
	ck_assert_str_eq(s, "{\"v\":1,\"ok\":true,\"data\":null}");
	free(s);
	json_decref(r);
	r = sup_reply_error(SUP_EXIT_NO_UNIT, "no such unit: %s", "web");
	s = json_dumps(r, JSON_COMPACT);
	ck_assert_str_eq(s, "{\"v\":1,\"ok\":false,\"code\":4,\"error\":\"no such unit: web\"}");
	free(s);
	json_decref(r);
	/* bytes that are not UTF-8 do not lose the reply */
	r = sup_reply_error(SUP_EXIT_FAILED, "bad \xff\xfe byte");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(json_string_value(json_object_get(r, "error")),
			 "bad \xef\xbf\xbd\xef\xbf\xbd byte"); /* U+FFFD each */
	json_decref(r);
}

START_TEST(test_json_text)
{
	static const struct {
		const char *in, *out;
		size_t n;
	} cases[] = {
	    {"plain", "plain", 5},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14},
	    /* a lone continuation byte, a truncated sequence, an overlong NUL, a surrogate, too
	     * high a code point, a lead byte at the end */
	    {"a\x80"
	     "b",
	     "a\xef\xbf\xbd"
	     "b",
	     3},
	    {"a\xe2\x82"
	     "b",
	     "a\xef\xbf\xbd\xef\xbf\xbd"
	     "b",
	     4},
	    {"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd", 2},
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3},
	    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4},
	    {"x\xf0", "x\xef\xbf\xbd", 2},
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(cases); i++) {
		json_t *j = sup_json_textn(cases[i].in, cases[i].n);

		ck_assert_ptr_nonnull(j);
		ck_assert_msg(strcmp(json_string_value(j), cases[i].out) == 0, "case %zu: %s", i,
			      json_string_value(j));
		json_decref(j);
	}
	/* NUL stays, as \u0000 */
	json_t *j = sup_json_textn("a\0b\xff", 4);
	ck_assert_uint_eq(json_string_length(j), 6);
	ck_assert_mem_eq(json_string_value(j), "a\0b\xef\xbf\xbd", 6);
	json_decref(j);
}
END_TEST

/* A reply larger than a frame goes in parts and comes back whole. */
static void roundtrip_big(json_t *reply)
{
	struct sup_outq q;
	struct sup_error *err = NULL;
	json_t *back = NULL;
	int sv[2];
	pid_t pid;
	int status;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	sup_outq_init(&q, 1u << 20);
	ck_assert_int_eq(sup_outq_push(&q, reply, &err), 0);
	ck_assert_uint_gt(q.len, SUP_PROTO_MAX_FRAME); /* more than one frame's worth */
	pid = fork();
	if (pid == 0) {
		close(sv[1]);
		while (!sup_outq_empty(&q))
			if (sup_outq_flush(&q, sv[0]) < 0)
				_exit(1);
		_exit(0);
	}
	close(sv[0]);
	ck_assert_int_eq(sup_recv_reply(sv[1], &back, 10000, &err), 1);
	ck_assert_msg(json_equal(back, reply), "the reply comes back whole");
	ck_assert_ptr_null(json_object_get(back, "more"));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	json_decref(back);
	json_decref(reply);
	sup_outq_free(&q);
	close(sv[1]);
}

START_TEST(test_reply_in_parts)
{
	json_t *lines = json_array(), *units = json_array();
	struct sup_outq q;
	struct sup_error *err = NULL;
	char *text = malloc(3u << 20);

	for (int i = 0; i < 50000; i++)
		json_array_append_new(lines,
				      json_pack("{s:f, s:s, s:s}", "ts", 1.5, "stream", "stdout",
						"text", "a log line of some length, \u00e9 \x01"));
	roundtrip_big(sup_reply_ok(json_pack("{s:o, s:i}", "lines", lines, "dropped", 7)));
	for (int i = 0; i < 40000; i++)
		json_array_append_new(units, json_pack("{s:s, s:s, s:i}", "name", "unit-name",
						       "state", "running", "pid", i));
	roundtrip_big(sup_reply_ok(units));
	for (size_t i = 0; i < (3u << 20); i++)
		text[i] = (char)('a' + i % 26);
	memcpy(text + (1u << 17) - 1, "\xc3\xa9", 2); /* a character across a part's edge */
	roundtrip_big(sup_reply_ok(json_pack("{s:s%}", "text", text, (size_t)(3u << 20))));
	free(text);
	/* no bulk to split: an error, and the queue is as it was */
	sup_outq_init(&q, 1u << 20);
	text = calloc(1, (2u << 20) + 1);
	memset(text, 'x', 2u << 20);
	json_t *odd = sup_reply_ok(json_pack("{s:s}", "blob", text));
	ck_assert_int_eq(sup_outq_push(&q, odd, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "limit"));
	sup_error_clear(&err);
	ck_assert(sup_outq_empty(&q));
	json_decref(odd);
	free(text);
	sup_outq_free(&q);
}
END_TEST

START_TEST(test_recv_timeout)
{
	struct sup_error *err = NULL;
	json_t *back = NULL;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], "\0\0", 2), 2); /* half a header, then nothing */
	ck_assert_int_eq(sup_recv_reply(sv[1], &back, 100, &err), -1);
	ck_assert_int_eq(err->errnum, ETIMEDOUT);
	sup_error_clear(&err);
	close(sv[0]);
	close(sv[1]);
}
END_TEST
END_TEST

/* --- the output queue */

static void socketpair_nb(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static json_t *numbered(int i, size_t size)
{
	char *s = malloc(size + 1);
	json_t *o;

	memset(s, 'a' + i % 26, size);
	s[size] = '\0';
	o = json_pack("{s:i, s:s}", "i", i, "text", s);
	free(s);
	return o;
}

/* Drain the peer through a frame reader, checking the frames' order; returns frames read. */
static int drain(int fd, struct sup_frame_reader *r, int *next)
{
	char buf[8192];
	ssize_t n;
	int frames = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t off = 0;

		while (off < (size_t)n) {
			char *payload;
			uint32_t len;
			size_t used;
			int ret = sup_frame_feed(r, buf + off, (size_t)n - off, &used, &payload,
						 &len, NULL);

			ck_assert_int_ge(ret, 0);
			off += used;
			if (ret == 1) {
				json_t *o = json_loads(payload, 0, NULL);

				ck_assert_int_eq(json_integer_value(json_object_get(o, "i")),
						 *next);
				(*next)++;
				frames++;
				json_decref(o);
				free(payload);
			}
		}
	}
	return frames;
}

START_TEST(test_outq_partial_writes)
{
	struct sup_frame_reader r;
	struct sup_outq q;
	int sv[2], sndbuf = 4096, next = 0, pushed = 0, got = 0, ret;
	struct sup_error *err = NULL;

	socketpair_nb(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	sup_outq_init(&q, 4u << 20);
	sup_frame_reader_init(&r, SUP_PROTO_MAX_FRAME);
	ck_assert(sup_outq_empty(&q));
	/* a frame much larger than the socket buffer cannot go out at once */
	for (; pushed < 3; pushed++) {
		json_t *o = numbered(pushed, 200000);

		ck_assert_int_eq(sup_outq_push(&q, o, &err), 0);
		json_decref(o);
	}
	ck_assert_int_eq(sup_outq_flush(&q, sv[0]), 0);
	ck_assert(!sup_outq_empty(&q));
	/* interleave: read some, push more, flush, until all is through */
	for (int round = 0; round < 100000; round++) {
		got += drain(sv[1], &r, &next);
		if (pushed < 10 && round % 3 == 0) {
			json_t *o = numbered(pushed++, 1000 * (size_t)round % 70000);

			ck_assert_int_eq(sup_outq_push(&q, o, &err), 0);
			json_decref(o);
		}
		ret = sup_outq_flush(&q, sv[0]);
		ck_assert_int_ge(ret, 0);
		if (ret == 1 && pushed == 10)
			break;
	}
	ck_assert(sup_outq_empty(&q));
	got += drain(sv[1], &r, &next);
	ck_assert_int_eq(got, 10);
	ck_assert_int_eq(next, 10);
	sup_frame_reader_free(&r);
	sup_outq_free(&q);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_outq_cap)
{
	struct sup_outq q;
	struct sup_error *err = NULL;
	json_t *o = numbered(0, 500); /* about 530 bytes framed */
	int sv[2];
	size_t len;

	socketpair_nb(sv);
	sup_outq_init(&q, 1200);
	ck_assert_int_eq(sup_outq_push(&q, o, &err), 0);
	ck_assert_int_eq(sup_outq_push(&q, o, &err), 0);
	len = q.len - q.off;
	ck_assert_int_eq(sup_outq_push(&q, o, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "output queue full"));
	sup_error_clear(&err);
	ck_assert_uint_eq(q.len - q.off, len); /* the queue is as it was */
	ck_assert_int_eq(sup_outq_flush(&q, sv[0]), 1);
	ck_assert(sup_outq_empty(&q));
	ck_assert_int_eq(sup_outq_push(&q, o, &err), 0); /* room again */
	/* a frame larger than the cap on its own */
	json_decref(o);
	o = numbered(1, 2000);
	ck_assert_int_eq(sup_outq_push(&q, o, &err), -1);
	sup_error_clear(&err);
	json_decref(o);
	sup_outq_free(&q);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_outq_errors)
{
	struct sup_outq q;
	struct sup_error *err = NULL;
	json_t *o = numbered(0, 10), *arr = json_array();
	int sv[2], p[2];
	char buf[64];

	socketpair_nb(sv);
	sup_outq_init(&q, 0);				    /* no cap */
	ck_assert_int_eq(sup_outq_push(&q, arr, &err), -1); /* not an object */
	sup_error_clear(&err);
	ck_assert(sup_outq_empty(&q));
	ck_assert_int_eq(sup_outq_flush(&q, sv[0]), 1); /* nothing to do */
	ck_assert_int_eq(sup_outq_push(&q, o, &err), 0);
	close(sv[1]);
	/* the peer is gone: an error, not a SIGPIPE */
	ck_assert_int_eq(sup_outq_flush(&q, sv[0]), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
	/* a pipe is not a socket: plain write() */
	ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(sup_outq_flush(&q, p[1]), 1);
	ck_assert_int_gt(read(p[0], buf, sizeof(buf)), 4);
	ck_assert_int_eq(sup_outq_flush(&q, -1), 1);
	ck_assert_int_eq(sup_outq_push(&q, o, &err), 0);
	ck_assert_int_eq(sup_outq_flush(&q, -1), -1);
	ck_assert_int_eq(errno, EBADF);
	close(p[0]);
	close(p[1]);
	sup_outq_free(&q);
	json_decref(o);
	json_decref(arr);
}
END_TEST

/* --- blocking send and receive */

START_TEST(test_send_recv_round_trip)
{
	int sv[2];
	struct sup_error *err = NULL;
	json_t *o = sup_reply_ok(json_pack("{s:s%}", "text", "a\0b", (size_t)3)), *back = NULL;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(sup_send_frame(sv[0], o, &err), 0);
	ck_assert_int_eq(sup_send_frame(sv[0], o, &err), 0);
	ck_assert_int_eq(sup_recv_frame(sv[1], &back, &err), 1);
	ck_assert(json_equal(o, back));
	/* log text may carry NUL bytes */
	ck_assert_uint_eq(
	    json_string_length(json_object_get(json_object_get(back, "data"), "text")), 3);
	json_decref(back);
	ck_assert_int_eq(sup_recv_frame(sv[1], &back, &err), 1);
	json_decref(back);
	shutdown(sv[0], SHUT_WR);
	ck_assert_int_eq(sup_recv_frame(sv[1], &back, &err), 0); /* clean EOF */
	ck_assert_ptr_null(back);
	ck_assert_ptr_null(err);
	json_decref(o);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A large frame over non-blocking sockets: both sides wait instead of failing. */
START_TEST(test_send_recv_large_nonblocking)
{
	int sv[2];
	struct sup_error *err = NULL;
	json_t *o = numbered(7, 900000), *back = NULL;
	pid_t pid;
	int status;

	socketpair_nb(sv);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[1]);
		_exit(sup_send_frame(sv[0], o, NULL) == 0 ? 0 : 1);
	}
	close(sv[0]);
	ck_assert_int_eq(sup_recv_frame(sv[1], &back, &err), 1);
	ck_assert(json_equal(o, back));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	json_decref(back);
	json_decref(o);
	close(sv[1]);
}
END_TEST

static int recv_raw(const char *data, size_t n, json_t **obj, struct sup_error **err)
{
	int sv[2], r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(write(sv[0], data, n), (ssize_t)n);
	close(sv[0]);
	r = sup_recv_frame(sv[1], obj, err);
	close(sv[1]);
	return r;
}

START_TEST(test_recv_errors)
{
	static const struct {
		const char *data;
		size_t n;
		const char *needle;
	} t[] = {
	    {"\0\0", 2, "inside a header"},
	    {"\0\0\0\0", 4, "bad length 0"},
	    {"\xff\xff\xff\xff", 4, "bad length 4294967295"},
	    {"\0\0\0\x0a{\"a\":", 9, "after 5 of 10 bytes"},
	    {"\0\0\0\x03[1]", 7, "not a JSON object"},
	    {"\0\0\0\x03{{}", 7, "not valid JSON"},
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(t); i++) {
		struct sup_error *err = NULL;
		json_t *o = NULL;

		ck_assert_int_eq(recv_raw(t[i].data, t[i].n, &o, &err), -1);
		ck_assert_ptr_null(o);
		ck_assert_msg(strstr(err->msg, t[i].needle), "\"%s\" lacks \"%s\"", err->msg,
			      t[i].needle);
		sup_error_free(err);
	}
}
END_TEST

START_TEST(test_send_to_closed_peer)
{
	int sv[2];
	struct sup_error *err = NULL;
	json_t *o = numbered(0, 10);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	ck_assert_int_eq(sup_send_frame(sv[0], o, &err), -1); /* and no SIGPIPE */
	ck_assert_int_eq(err->errnum, EPIPE);
	sup_error_free(err);
	json_decref(o);
	close(sv[0]);
}
END_TEST

/* --- supctl's formatting */

START_TEST(test_fmt_duration)
{
	static const struct {
		uint64_t secs;
		const char *want;
	} t[] = {
	    {0, "0s"},	       {45, "45s"},	 {59, "59s"},	    {60, "1m00s"},
	    {192, "3m12s"},    {3599, "59m59s"}, {3600, "1h00m"},   {7380, "2h03m"},
	    {86399, "23h59m"}, {86400, "1d00h"}, {352800, "4d02h"}, {8640000, "100d00h"},
	};
	char buf[32];

	for (size_t i = 0; i < SUP_ARRAY_SIZE(t); i++)
		ck_assert_str_eq(supctl_fmt_duration(t[i].secs, buf, sizeof(buf)), t[i].want);
}
END_TEST

START_TEST(test_fmt_cpu_bytes)
{
	char buf[32];

	ck_assert_str_eq(supctl_fmt_cpu(-1, buf, sizeof(buf)), "-");
	ck_assert_str_eq(supctl_fmt_cpu(0, buf, sizeof(buf)), "0ms");
	ck_assert_str_eq(supctl_fmt_cpu(4999, buf, sizeof(buf)), "4ms");
	ck_assert_str_eq(supctl_fmt_cpu(999999, buf, sizeof(buf)), "999ms");
	ck_assert_str_eq(supctl_fmt_cpu(1250000, buf, sizeof(buf)), "1.25s");
	ck_assert_str_eq(supctl_fmt_cpu(59994000, buf, sizeof(buf)), "59.99s");
	ck_assert_str_eq(supctl_fmt_cpu(59999000, buf, sizeof(buf)), "1m00s");
	ck_assert_str_eq(supctl_fmt_cpu(192000000, buf, sizeof(buf)), "3m12s");
	ck_assert_str_eq(supctl_fmt_bytes(-1, buf, sizeof(buf)), "-");
	ck_assert_str_eq(supctl_fmt_bytes(0, buf, sizeof(buf)), "0B");
	ck_assert_str_eq(supctl_fmt_bytes(1023, buf, sizeof(buf)), "1023B");
	ck_assert_str_eq(supctl_fmt_bytes(1024, buf, sizeof(buf)), "1.0K");
	ck_assert_str_eq(supctl_fmt_bytes(1536, buf, sizeof(buf)), "1.5K");
	ck_assert_str_eq(supctl_fmt_bytes(12897484, buf, sizeof(buf)), "12.3M");
	ck_assert_str_eq(supctl_fmt_bytes(123 << 20, buf, sizeof(buf)), "123M");
	ck_assert_str_eq(supctl_fmt_bytes((1 << 20) - 1, buf, sizeof(buf)), "1.0M");
	ck_assert_str_eq(supctl_fmt_bytes(3LL << 30, buf, sizeof(buf)), "3.0G");
	ck_assert_str_eq(supctl_fmt_bytes(INT64_MAX, buf, sizeof(buf)), "8.0E");
}
END_TEST

START_TEST(test_fmt_exit_time_names)
{
	json_t *code = json_pack("{s:i}", "code", 1),
	       *sig = json_pack("{s:s}", "signal", "SIGKILL");
	char buf[64];

	ck_assert_str_eq(supctl_fmt_exit(code, buf, sizeof(buf)), "code 1");
	ck_assert_str_eq(supctl_fmt_exit(sig, buf, sizeof(buf)), "SIGKILL");
	ck_assert_str_eq(supctl_fmt_exit(NULL, buf, sizeof(buf)), "-");
	ck_assert_str_eq(supctl_fmt_exit(json_null(), buf, sizeof(buf)), "-");
	json_decref(code);
	json_decref(sig);

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_str_eq(supctl_fmt_time(1e9 + 0.25, buf, sizeof(buf)), "2001-09-09T01:46:40.250Z");
	setenv("TZ", "EST5", 1);
	tzset();
	ck_assert_str_eq(supctl_fmt_time(1e9, buf, sizeof(buf)), "2001-09-08T20:46:40.000-05:00");
	setenv("TZ", "IST-5:30", 1);
	tzset();
	ck_assert_str_eq(supctl_fmt_time(1e9, buf, sizeof(buf)), "2001-09-09T07:16:40.000+05:30");

	ck_assert(supctl_valid_unit_name("web"));
	ck_assert(supctl_valid_unit_name("a-b_c.d@e9"));
	ck_assert(!supctl_valid_unit_name(""));
	ck_assert(!supctl_valid_unit_name("bad/name"));
	ck_assert(!supctl_valid_unit_name("a b"));
	ck_assert(supctl_valid_unit_name(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	ck_assert(!supctl_valid_unit_name(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

static char *print_status(const char *json, bool color)
{
	json_t *units = json_loads(json, 0, NULL);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(units);
	supctl_print_status(f, units, color);
	fclose(f);
	json_decref(units);
	return out;
}

static const char status_json[] =
    "[{\"name\":\"web\",\"state\":\"running\",\"pid\":1234,\"restarts\":2,\"uptime_s\":192,"
    "\"last_exit\":{\"code\":1},\"cpu_usage_usec\":1250000,\"memory_current_bytes\":12897484,"
    "\"error\":null,\"description\":\"ignored\",\"health\":\"healthy\"},"
    "{\"name\":\"database-primary\",\"state\":\"bad-unit\",\"pid\":0,\"restarts\":0,"
    "\"uptime_s\":0,\"last_exit\":null,\"cpu_usage_usec\":null,\"memory_current_bytes\":null,"
    "\"error\":\"/etc/sup/units/database-primary.unit:3: Restart: bad\"},"
    "{\"name\":\"job\",\"state\":\"failed\",\"pid\":0,\"restarts\":5,\"last_exit\":"
    "{\"signal\":\"SIGKILL\"},\"error\":\"start limit hit\"},"
    "{\"name\":\"idle\",\"state\":\"inactive\",\"pid\":0,\"restarts\":0,\"error\":\"stale\"}]";

START_TEST(test_status_table)
{
	char *out = print_status(status_json, false), *line[8] = {0}, *save = NULL;
	size_t state_col, n = 0;

	ck_assert_ptr_null(strchr(out, '\033'));
	for (char *l = strtok_r(out, "\n", &save); l && n < 8; l = strtok_r(NULL, "\n", &save))
		line[n++] = l;
	ck_assert_uint_eq(n, 7); /* header, 4 units, 2 errors (blank line skipped) */
	ck_assert_str_eq(line[0], "UNIT              STATE     PID   UPTIME  RESTARTS  CPU    "
				  "MEMORY  LAST EXIT");
	ck_assert_str_eq(line[1], "web               running   1234  3m12s   2         1.25s  "
				  "12.3M   code 1");
	ck_assert_str_eq(line[2], "database-primary  bad-unit  -     -       0         -      "
				  "-       -");
	ck_assert_str_eq(line[3], "job               failed    -     -       5         -      "
				  "-       SIGKILL");
	ck_assert_str_eq(line[4], "idle              inactive  -     -       0         -      "
				  "-       -");
	ck_assert_str_eq(line[5], "database-primary: /etc/sup/units/database-primary.unit:3: "
				  "Restart: bad");
	ck_assert_str_eq(line[6], "job: start limit hit");
	state_col = strstr(line[0], "STATE") - line[0];
	for (size_t i = 1; i < 5; i++)
		ck_assert_msg(line[i][state_col - 1] == ' ' && line[i][state_col] != ' ',
			      "aligned: %s", line[i]);
	free(out);
}
END_TEST

START_TEST(test_status_table_color_and_empty)
{
	char *out = print_status(status_json, true);

	ck_assert_ptr_nonnull(strstr(out, "\033[32mrunning\033[0m   1234"));
	ck_assert_ptr_nonnull(strstr(out, "\033[31mbad-unit\033[0m  -"));
	ck_assert_ptr_nonnull(strstr(out, "\033[31mfailed\033[0m"));
	ck_assert_ptr_nonnull(strstr(out, "  inactive  ")); /* no colour for inactive */
	free(out);
	out = print_status("[]", true);
	ck_assert_str_eq(out, "UNIT  STATE  PID  UPTIME  RESTARTS  CPU  MEMORY  LAST EXIT\n");
	free(out);
	/* missing fields and hostile text do not break the table */
	out = print_status("[{\"state\":\"weird\\u001b[2J\"}, 5]", false);
	ck_assert_ptr_null(strchr(out, '\033'));
	ck_assert_ptr_nonnull(strstr(out, "?     weird?[2J"));
	free(out);
}
END_TEST

static char *print_with(void (*fn)(FILE *, const json_t *), const char *json)
{
	json_t *j = json_loads(json, JSON_ALLOW_NUL, NULL);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fn(f, j);
	fclose(f);
	json_decref(j);
	return out;
}

static void log_plain(FILE *f, const json_t *j)
{
	supctl_print_log_line(f, j, SUPCTL_TS_NONE, NULL);
}

static void log_ts(FILE *f, const json_t *j)
{
	supctl_print_log_line(f, j, SUPCTL_TS_ISO_PRECISE, NULL);
}

static void log_short_labelled(FILE *f, const json_t *j)
{
	supctl_print_log_line(f, j, SUPCTL_TS_SHORT, supctl_line_label(j));
}

static void log_iso(FILE *f, const json_t *j)
{
	supctl_print_log_line(f, j, SUPCTL_TS_ISO, NULL);
}

static void log_precise(FILE *f, const json_t *j)
{
	supctl_print_log_line(f, j, SUPCTL_TS_PRECISE, NULL);
}

START_TEST(test_log_lines_and_reload)
{
	char *out;

	setenv("TZ", "UTC", 1);
	tzset();
	out = print_with(log_plain, "{\"ts\":1e9,\"stream\":\"stdout\",\"text\":\"hello\"}");
	ck_assert_str_eq(out, "hello\n");
	free(out);
	out = print_with(log_ts, "{\"ts\":1000000000.5,\"stream\":\"stderr\",\"text\":\"oops\"}");
	ck_assert_str_eq(out, "2001-09-09T01:46:40.500Z oops\n");
	free(out);
	/* the default of logs: systemd's short time; several units: each line's unit, or its
	 * SyslogIdentifier= */
	out = print_with(
	    log_short_labelled,
	    "{\"ts\":1000000000.5,\"stream\":\"stdout\",\"text\":\"hi\",\"unit\":\"web\"}");
	ck_assert_str_eq(out, "Sep 09 01:46:40 web: hi\n");
	free(out);
	out = print_with(log_short_labelled, "{\"ts\":1000000000.5,\"stream\":\"supd\",\"text\":"
					     "\"up\",\"unit\":\"web\",\"ident\":\"nginx\"}");
	ck_assert_str_eq(out, "Sep 09 01:46:40 nginx: supd: up\n");
	free(out);
	out = print_with(log_iso, "{\"ts\":1000000000.5,\"stream\":\"stdout\",\"text\":\"x\"}");
	ck_assert_str_eq(out, "2001-09-09T01:46:40Z x\n");
	free(out);
	out =
	    print_with(log_precise, "{\"ts\":1000000000.25,\"stream\":\"stdout\",\"text\":\"x\"}");
	ck_assert_str_eq(out, "Sep 09 01:46:40.250 x\n");
	free(out);
	out = print_with(log_plain, "{\"ts\":1,\"stream\":\"supd\",\"text\":\"started\"}");
	ck_assert_str_eq(out, "supd: started\n");
	free(out);
	/* what a unit prints reaches the terminal escaped: NUL, escape sequences, a carriage
	 * return, C1 controls (U+009B is CSI on many terminals); tabs and UTF-8 stay */
	out = print_with(log_plain, "{\"ts\":1,\"stream\":\"stdout\",\"text\":\"a\\u0000b\"}");
	ck_assert_str_eq(out, "a\\x00b\n");
	free(out);
	out = print_with(
	    log_plain, "{\"ts\":1,\"stream\":\"stdout\",\"text\":"
		       "\"\\u001b]0;pwned\\u0007\\u001b[2Jx\\ry\\u009b31m\\tcaf\\u00e9\\u007f\"}");
	ck_assert_str_eq(out, "\\x1b]0;pwned\\x07\\x1b[2Jx\\x0dy\\u009b31m\tcaf\xc3\xa9\\x7f\n");
	free(out);
	/* a unit cannot print a line that reads like supd's own note */
	out = print_with(log_plain, "{\"ts\":1,\"stream\":\"stdout\",\"text\":\"supd: started\"}");
	ck_assert_str_eq(out, "\\supd: started\n");
	free(out);
	out = print_with(log_plain, "{\"ts\":1,\"stream\":\"stderr\",\"text\":\"\\\\supd: x\"}");
	ck_assert_str_eq(out, "\\\\supd: x\n");
	free(out);
	out = print_with(log_plain,
			 "{\"ts\":1,\"stream\":\"stdout\",\"text\":\"supdx: and a \\\\ inside\"}");
	ck_assert_str_eq(out, "supdx: and a \\ inside\n");
	free(out);

	out = print_with(supctl_print_reload, "{\"added\":[],\"removed\":[],\"changed\":[]}");
	ck_assert_str_eq(out, "no changes\n");
	free(out);
	out = print_with(supctl_print_reload,
			 "{\"added\":[\"new\"],\"removed\":[\"gone\"],\"changed\":[\"a\",\"b\"]}");
	ck_assert_str_eq(out, "added new\nremoved gone\nchanged a\nchanged b\n");
	free(out);
	out = print_with(supctl_print_reload, "{\"added\":[],\"removed\":[],\"changed\":[],"
					      "\"errors\":{\"web\":\"web.unit:3: bad\"}}");
	ck_assert_str_eq(out, "not reloaded web: web.unit:3: bad (the previous configuration "
			      "stays in force)\n");
	free(out);
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("frames");

	tcase_add_test(tc, test_cmd_names);
	tcase_add_test(tc, test_reader_one_byte_feeds);
	tcase_add_test(tc, test_reader_two_frames_one_feed);
	tcase_add_test(tc, test_reader_split_header);
	tcase_add_test(tc, test_reader_zero_length);
	tcase_add_test(tc, test_reader_oversized);
	tcase_add_test(tc, test_reader_embedded_nul);
	tcase_add_test(tc, test_reader_garbage);
	tcase_add_test(tc, test_encode);
	tcase_add_test(tc, test_encode_too_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("requests");
	tcase_set_timeout(tc, 60); /* replies of several MiB built, split and joined */
	tcase_add_test(tc, test_request_defaults);
	tcase_add_test(tc, test_request_all_fields);
	tcase_add_test(tc, test_request_units_per_command);
	tcase_add_test(tc, test_request_invalid);
	tcase_add_test(tc, test_request_not_an_object);
	tcase_add_test(tc, test_request_to_json_round_trip);
	tcase_add_test(tc, test_replies);
	tcase_add_test(tc, test_json_text);
	tcase_add_test(tc, test_reply_in_parts);
	tcase_add_test(tc, test_recv_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_add_test(tc, test_outq_partial_writes);
	tcase_add_test(tc, test_outq_cap);
	tcase_add_test(tc, test_outq_errors);
	tcase_add_test(tc, test_send_recv_round_trip);
	tcase_add_test(tc, test_send_recv_large_nonblocking);
	tcase_add_test(tc, test_recv_errors);
	tcase_add_test(tc, test_send_to_closed_peer);
	suite_add_tcase(s, tc);

	tc = tcase_create("supctl_fmt");
	tcase_add_test(tc, test_fmt_duration);
	tcase_add_test(tc, test_fmt_cpu_bytes);
	tcase_add_test(tc, test_fmt_exit_time_names);
	tcase_add_test(tc, test_status_table);
	tcase_add_test(tc, test_status_table_color_and_empty);
	tcase_add_test(tc, test_log_lines_and_reload);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
