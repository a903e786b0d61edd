/*
 * Captured output of one unit: raw bytes from its pipes split into lines, kept in a
 * bounded in-memory ring (oldest evicted and counted), optionally appended to a file
 * with size-based rotation by logfile.c's writer thread. No syscalls.
 */
#ifndef SUP_LOGBUF_H
#define SUP_LOGBUF_H

#include <stddef.h>
#include <stdint.h>

enum log_stream {
	LOG_STREAM_STDOUT,
	LOG_STREAM_STDERR,
	LOG_STREAM_SUPD, /* supd's own notes about the unit: started, exited 1, ... */
};

#define LOGBUF_LINE_MAX 16384 /* longer lines are split */

struct log_line {
	uint64_t seq;	  /* 1, 2, 3... per logbuf, never reused */
	uint64_t ts_usec; /* CLOCK_REALTIME */
	enum log_stream stream;
	uint32_t len;
	char text[]; /* NUL-terminated, no newline */
};

struct logbuf;

/* max_bytes: memory budget of the ring (text + headers). */
struct logbuf *logbuf_new(size_t max_bytes);
void logbuf_free(struct logbuf *lb);

/*
 * Also append every line to path ("2026-11-29T05:49:13.123456Z stdout text\n"), rotating
 * to path.1 .. path.keep when it would exceed max_size. The file is opened and written by the
 * log-file thread: a failure (open, write, rotate) comes back as one note in the ring, and
 * lines still go to the ring. -1 only on ENOMEM.
 */
int logbuf_set_file(struct logbuf *lb, const char *path, uint64_t max_size, unsigned keep);

/* Feed raw bytes of a stream; complete lines are stored, a partial line is held back. */
void logbuf_feed(struct logbuf *lb, enum log_stream s, const char *data, size_t n,
		 uint64_t now_usec);
/* The stream hit EOF: store its partial line, if any. */
void logbuf_eof(struct logbuf *lb, enum log_stream s, uint64_t now_usec);
/* Store one whole line (supd's own notes). */
void logbuf_note(struct logbuf *lb, uint64_t now_usec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

uint64_t logbuf_last_seq(const struct logbuf *lb); /* 0 when nothing was ever stored */
/* The oldest line still kept (last_seq + 1 when none is). */
uint64_t logbuf_first_seq(const struct logbuf *lb);
uint64_t logbuf_dropped(const struct logbuf *lb); /* lines evicted from the ring */

/* Visit the newest n lines (0 = all kept), oldest first. */
void logbuf_tail(const struct logbuf *lb, size_t n, void (*fn)(const struct log_line *l, void *ctx),
		 void *ctx);
/* Visit every kept line with seq > after, oldest first. */
void logbuf_since(const struct logbuf *lb, uint64_t after,
		  void (*fn)(const struct log_line *l, void *ctx), void *ctx);

#endif
