/*
 * The control protocol's input path as supd runs it: bytes from a client, in pieces of any
 * size, through the frame reader; every complete payload through request validation. A
 * valid request must survive sup_request_to_json and parse back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sup/proto.h"

/* Chunk sizes from the input itself, so a crash reproduces from the file alone. */
static uint32_t hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void check_round_trip(const struct sup_request *req)
{
	struct sup_request back;
	struct sup_error *err = NULL;
	json_t *j = sup_request_to_json(req);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int code;

	if (!s || sup_request_parse(s, strlen(s), &back, &code, &err) < 0)
		abort();
	if (back.cmd != req->cmd || !strv_equal(&back.units, &req->units))
		abort();
	sup_request_free(&back);
	free(s);
	json_decref(j);
}

static void handle(const char *payload, uint32_t len)
{
	struct sup_request req;
	struct sup_error *err = NULL;
	int code = 0;

	if (sup_request_parse(payload, len, &req, &code, &err) < 0) {
		if (!err || code != SUP_EXIT_USAGE)
			abort();
		json_decref(sup_reply_error(code, "%s", err->msg));
		sup_error_free(err);
		return;
	}
	check_round_trip(&req);
	sup_request_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sup_frame_reader r;
	uint32_t seed = hash(data, size);
	size_t off = 0;

	sup_frame_reader_init(&r, SUP_PROTO_MAX_REQUEST);
	while (off < size) {
		struct sup_error *err = NULL;
		size_t chunk, used = 0;
		char *payload = NULL;
		uint32_t len = 0;
		int ret;

		seed = seed * 1103515245u + 12345u;
		chunk = 1 + (seed >> 16) % 97;
		chunk = chunk < size - off ? chunk : size - off;
		ret = sup_frame_feed(&r, (const char *)data + off, chunk, &used, &payload, &len,
				     &err);
		if (used > chunk)
			abort();
		off += used;
		if (ret < 0) {
			/* supd closes such a connection; here, start over on the rest */
			sup_error_free(err);
			sup_frame_reader_free(&r);
			sup_frame_reader_init(&r, SUP_PROTO_MAX_REQUEST);
			continue;
		}
		if (ret == 1) {
			if (len < 1 || len > SUP_PROTO_MAX_REQUEST || payload[len] != '\0')
				abort();
			handle(payload, len);
			free(payload);
		} else if (used != chunk) {
			abort();
		}
	}
	sup_frame_reader_free(&r);
	return 0;
}
