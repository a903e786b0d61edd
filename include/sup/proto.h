/*
 * The control protocol: length-prefixed JSON frames (docs/protocol.md). Shared by supd
 * (non-blocking server) and supctl (blocking client). Pure code: no fd is touched here
 * except by the explicitly I/O helpers at the end.
 */
#ifndef SUP_PROTO_H
#define SUP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sup/error.h"
#include "sup/strv.h"

#define SUP_PROTO_VERSION     1
#define SUP_PROTO_MAX_FRAME   (1u << 20)  /* any frame */
#define SUP_PROTO_MAX_REQUEST (64u << 10) /* a client request */
/* Numbers are written with the 15 significant digits a double holds: 0.123, not
 * 0.12299999999999999 (jansson's default of 17 shows the binary's noise). */
#define SUP_JSON_REALS JSON_REAL_PRECISION(15)

enum sup_exit {
	SUP_EXIT_OK = 0,
	SUP_EXIT_FAILED = 1,
	SUP_EXIT_USAGE = 2,
	SUP_EXIT_NOT_ACTIVE = 3, /* status/is-active: a named unit is not running (is-failed: not
				  * failed) */
	SUP_EXIT_NO_UNIT = 4,
	SUP_EXIT_UNREACHABLE = 5,
};

enum sup_cmd {
	SUP_CMD_STATUS,
	SUP_CMD_START,
	SUP_CMD_STOP,
	SUP_CMD_RESTART,
	SUP_CMD_RESET,
	SUP_CMD_RELOAD,
	SUP_CMD_LOGS,
	SUP_CMD_VERSION,
	SUP_CMD_POWEROFF,
	SUP_CMD_REBOOT,
	SUP_CMD_STATS,
	SUP_CMD_METRICS,
	SUP_CMD_EXEC,
	SUP_CMD_KILL,	      /* signal a unit's main process, or its whole cgroup */
	SUP_CMD_CAT,	      /* the unit file a unit was read from */
	SUP_CMD_RELOAD_UNITS, /* run the units' ExecReload= */
	SUP_CMD_PULL,
	SUP_CMD_IMAGES,
	SUP_CMD_RMI,
	SUP_CMD_LOAD,
	SUP_CMD_GC,
	SUP_CMD_UPDATE,
	SUP_CMD_DROP_LAYER,
	SUP_CMD__MAX,
};

const char *sup_cmd_name(enum sup_cmd c);
int sup_cmd_from_name(const char *s, enum sup_cmd *c);
/* Needs root or the [Control] Group=: every command that changes state, and logs (a unit's
 * output may hold what only its admins should see). The rest is open to every local user. */
bool sup_cmd_privileged(enum sup_cmd c);

/* Incremental frame decoder: feed it whatever bytes arrived. */
struct sup_frame_reader {
	uint32_t max; /* largest payload accepted */
	unsigned char hdr[4];
	size_t hdr_got;
	char *buf; /* payload being assembled, NUL-terminated when complete */
	uint32_t len;
	uint32_t got;
};

void sup_frame_reader_init(struct sup_frame_reader *r, uint32_t max);
void sup_frame_reader_free(struct sup_frame_reader *r);
/*
 * Consume up to n bytes of data. Sets *used to the bytes consumed. Returns 1 when a frame
 * is complete (*payload, *len: owned by the caller, NUL-terminated; the reader is reset for
 * the next one), 0 when more bytes are needed (all n consumed), -1 on a protocol error
 * (zero or oversized length: *err says which). Call again with the rest after a 1.
 */
int sup_frame_feed(struct sup_frame_reader *r, const char *data, size_t n, size_t *used,
		   char **payload, uint32_t *len, struct sup_error **err);
/* Serialize obj as one frame (header + compact JSON). Returns -1 if too large or ENOMEM. */
int sup_frame_encode(const json_t *obj, char **out, size_t *len, struct sup_error **err);

/* A parsed, validated request. */
struct sup_request {
	int version;
	enum sup_cmd cmd;
	struct strv units;
	bool wait;   /* default true */
	int lines;   /* default 50; 0 = all */
	bool follow; /* default false */
	bool detail; /* status: the processes and limits too (one unit's detail view) */
	int signal;  /* kill: the signal number (default SIGTERM) */
	bool all;    /* kill: every process of the unit's cgroup, not the main one only */
	/* exec: the command, whether the caller is on a terminal, and the caller's fds supd
	 * takes (pidfd_getfd): stdin, stdout, stderr; or, with tty, one socket for the pty */
	struct strv argv;
	bool tty;
	int fds[3];
	int n_fds;
	/* images (docs/images.md): "images" the references (pull: one; rmi: one or more),
	 * "platform" (pull), "tag" (load: the file itself comes over the socket, SCM_RIGHTS),
	 * "pull" (restart: the units' Image= pulled again first) */
	struct strv images;
	char *platform;
	char *tag;
	bool pull;
};

/*
 * Parse and validate a request payload. On failure *code is SUP_EXIT_USAGE and *err says why;
 * returns -2 if the payload is not even a JSON object (the server then closes the connection),
 * -1 for an object that is not a valid request (the connection stays usable).
 */
int sup_request_parse(const char *payload, size_t len, struct sup_request *req, int *code,
		      struct sup_error **err);
void sup_request_free(struct sup_request *req);
json_t *sup_request_to_json(const struct sup_request *req);

/* A JSON string from bytes that may not be UTF-8 (a unit file's, a unit's output): every
 * invalid sequence becomes U+FFFD, NUL stays (\u0000). Never NULL but out of memory: a field
 * of status must not vanish over one bad byte. */
json_t *sup_json_textn(const char *s, size_t n);
json_t *sup_json_text(const char *s);

/*
 * A reply too large for one frame (logs of a full buffer, metrics or status of thousands of
 * units) goes as several: the reply itself with "more": true and the first part of its bulk
 * (its data if an array, else data.lines or data.text), then {"v":1, "more": bool, "part":
 * ...} frames carrying the rest (array elements appended, text concatenated), the last with
 * "more": false. sup_outq_push() splits, sup_recv_reply() joins.
 */
#define SUP_PROTO_PART_BYTES (256u << 10) /* a part's encoded size, about */

/* Reply objects. sup_reply_ok steals data (may be NULL -> null). */
json_t *sup_reply_ok(json_t *data);
json_t *sup_reply_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Output queue for a non-blocking writer: frames appended, flushed when the fd is writable.
 * A queue over its cap means a slow client: the server drops the connection.
 */
struct sup_outq {
	char *buf;
	size_t len; /* bytes queued */
	size_t off; /* bytes already written */
	size_t cap; /* allocated */
	size_t max; /* limit on len - off */
};

void sup_outq_init(struct sup_outq *q, size_t max);
void sup_outq_free(struct sup_outq *q);
/* Queue obj: one frame, or the frames of a reply too large for one. Returns -1 (err) when it
 * does not fit under q->max with what is pending (into an empty queue a whole reply always
 * goes: a client asks one question at a time) or on encode errors. */
int sup_outq_push(struct sup_outq *q, const json_t *obj, struct sup_error **err);
/* write() what can be written without blocking. Returns 1 if empty after, 0 if bytes remain,
 * -1 on a write error (errno). */
int sup_outq_flush(struct sup_outq *q, int fd);
static inline bool sup_outq_empty(const struct sup_outq *q)
{
	return q->off == q->len;
}

/* Blocking helpers for supctl. */
int sup_send_frame(int fd, const json_t *obj, struct sup_error **err);
/* Returns 1 with *obj, 0 on clean EOF before a frame, -1 on error. */
int sup_recv_frame(int fd, json_t **obj, struct sup_error **err);
/* The same within timeout_ms (-1: none); past it, -1 with err->errnum ETIMEDOUT. */
int sup_send_frame_timed(int fd, const json_t *obj, int timeout_ms, struct sup_error **err);
int sup_recv_frame_timed(int fd, json_t **obj, int timeout_ms, struct sup_error **err);
/* A whole reply, its continuation frames joined (as sup_recv_frame_timed otherwise). */
int sup_recv_reply(int fd, json_t **obj, int timeout_ms, struct sup_error **err);

#endif
