/*
 * A unit's captured output.
 *
 * The ring is one block of max_bytes, allocated up front: a circular byte buffer of records
 * (struct log_line + text + NUL, 8-byte aligned, never straddling the end) and a circular
 * index of record offsets, so that storing a line, evicting the oldest and finding a line by
 * seq are all O(1). The index is charged to the budget too: the worst case (only empty
 * lines) fills both at once. A line too long for the ring itself (a budget of a few KiB) is
 * split at what fits, like a line over LOGBUF_LINE_MAX, rather than truncated.
 *
 * Outside the budget: one partial line per stream, grown on demand up to the line limit and
 * released at EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "logbuf.h"
#include "logfile.h"

#define ALIGN8(x)      (((x) + 7) & ~(size_t)7)
#define REC_SIZE(len)  ALIGN8(sizeof(struct log_line) + (size_t)(len) + 1)
#define REC_MIN	       REC_SIZE(0)
#define BUDGET_MIN     256
#define BUDGET_MAX     ((size_t)UINT32_MAX) /* offsets are 32-bit */
#define NSTREAMS       (LOG_STREAM_SUPD + 1)
#define FILE_MODE      0640
#define STAMP_LEN      sizeof("2026-11-29T05:49:13.123456Z ")
#define LOST_NOTE_SIZE 512
#define RING_START     1024 /* bytes of records a new ring starts with */

struct partial {
	char *buf;
	size_t len, size;
};

/* The unit's log file: written by logfile.c's thread; here, the line's format. */
struct fileout {
	struct logfile *h; /* NULL: no file */
	time_t stamp_sec;
	char stamp[STAMP_LEN]; /* "YYYY-MM-DDTHH:MM:SS" of stamp_sec */
};

struct logbuf {
	char *data;	  /* records */
	size_t data_size; /* now: it grows on demand (most units log little) up to data_max */
	size_t data_max;
	size_t wpos;   /* where the next record goes, unless it must wrap */
	uint32_t *idx; /* offsets of kept records; oldest at idx[first] */
	size_t idx_size, first, count;
	size_t line_max;
	uint64_t last_seq, dropped;
	struct partial part[NSTREAMS];
	struct fileout file;
};

static const char *const stream_names[NSTREAMS] = {"stdout", "stderr", "supd"};

struct logbuf *logbuf_new(size_t max_bytes)
{
	struct logbuf *lb = calloc(1, sizeof(*lb));
	size_t budget = max_bytes < BUDGET_MIN ? BUDGET_MIN : max_bytes;

	if (!lb)
		return NULL;
	if (budget > BUDGET_MAX)
		budget = BUDGET_MAX;
	/* REC_MIN data bytes and one 4-byte index slot per line, at most */
	lb->data_max = (budget / (REC_MIN + sizeof(uint32_t)) * REC_MIN) & ~(size_t)7;
	lb->line_max = LOGBUF_LINE_MAX;
	if (REC_SIZE(lb->line_max) > lb->data_max)
		lb->line_max = lb->data_max - sizeof(struct log_line) - 1;
	/* a small start: thousands of quiet units must not hold a full ring each */
	lb->data_size = lb->data_max < RING_START ? lb->data_max : RING_START;
	lb->idx_size = lb->data_size / REC_MIN + 1;
	lb->data = malloc(lb->data_size);
	lb->idx = malloc(lb->idx_size * sizeof(*lb->idx));
	if (!lb->data || !lb->idx) {
		logbuf_free(lb);
		errno = ENOMEM;
		return NULL;
	}
	return lb;
}

static void file_close(struct fileout *f)
{
	logfile_close(f->h);
	f->h = NULL;
}

void logbuf_free(struct logbuf *lb)
{
	if (!lb)
		return;
	file_close(&lb->file);
	for (size_t i = 0; i < NSTREAMS; i++)
		free(lb->part[i].buf);
	free(lb->data);
	free(lb->idx);
	free(lb);
}

static struct log_line *rec_at(const struct logbuf *lb, size_t k)
{
	return (struct log_line *)(lb->data + lb->idx[(lb->first + k) % lb->idx_size]);
}

static void evict_oldest(struct logbuf *lb)
{
	lb->first = (lb->first + 1) % lb->idx_size;
	lb->count--;
	lb->dropped++;
}

/*
 * Below its budget, a ring that has no room for size bytes grows (doubling, at least to fit)
 * instead of evicting: the kept records are copied, oldest first, to the start of the new
 * one. An allocation failure leaves the ring as it was (eviction then makes room).
 */
static bool has_room(const struct logbuf *lb, size_t size)
{
	size_t oldest;

	if (lb->count == 0)
		return lb->data_size >= size;
	oldest = lb->idx[lb->first];
	if (oldest < lb->wpos)
		return lb->data_size - lb->wpos >= size || oldest >= size;
	return oldest - lb->wpos >= size;
}

static void ring_grow(struct logbuf *lb, size_t size)
{
	size_t want = lb->data_size * 2, off = 0, isz;
	char *data;
	uint32_t *idx;

	while (want < lb->data_size + size)
		want *= 2;
	if (want > lb->data_max)
		want = lb->data_max;
	isz = want / REC_MIN + 1;
	data = malloc(want);
	idx = malloc(isz * sizeof(*idx));
	if (!data || !idx) {
		free(data);
		free(idx);
		return;
	}
	for (size_t k = 0; k < lb->count; k++) {
		const struct log_line *l = rec_at(lb, k);
		size_t n = REC_SIZE(l->len);

		memcpy(data + off, l, n);
		idx[k] = (uint32_t)off;
		off += n;
	}
	free(lb->data);
	free(lb->idx);
	lb->data = data;
	lb->idx = idx;
	lb->data_size = want;
	lb->idx_size = isz;
	lb->first = 0;
	lb->wpos = off;
}

/*
 * Room for size bytes at wpos, evicting as needed. Live data is [oldest, wpos) when
 * oldest < wpos, else [oldest, old end) + [0, wpos) with the gap [wpos, oldest) free.
 */
static size_t ring_reserve(struct logbuf *lb, size_t size)
{
	for (;;) {
		size_t oldest;

		if (lb->count == 0) {
			lb->first = 0;
			lb->wpos = 0;
			break;
		}
		oldest = lb->idx[lb->first];
		if (oldest < lb->wpos) {
			if (lb->data_size - lb->wpos >= size)
				break;
			lb->wpos = 0; /* the tail end is too short: wrap */
		} else if (oldest - lb->wpos >= size) {
			break;
		} else {
			evict_oldest(lb);
		}
	}
	return lb->wpos;
}

static void format_stamp(struct fileout *f, uint64_t ts_usec, char *out)
{
	time_t sec = (time_t)(ts_usec / 1000000);
	struct tm tm;

	if (sec != f->stamp_sec || !f->stamp[0]) {
		if (!gmtime_r(&sec, &tm) ||
		    !strftime(f->stamp, sizeof(f->stamp), "%Y-%m-%dT%H:%M:%S", &tm))
			snprintf(f->stamp, sizeof(f->stamp), "%lld", (long long)sec);
		f->stamp_sec = sec;
	}
	snprintf(out, STAMP_LEN + 16, "%s.%06uZ ", f->stamp, (unsigned)(ts_usec % 1000000));
}

static void store_raw(struct logbuf *lb, enum log_stream s, uint64_t ts, const char *text,
		      size_t len);

/* The file failed (reported by the writer thread): one note in the ring, and no more file. */
static void file_check(struct logbuf *lb, uint64_t ts)
{
	struct fileout *f = &lb->file;
	char note[LOST_NOTE_SIZE];
	const char *what;
	int err, n;

	if (!f->h || !logfile_failed(f->h, &what, &err))
		return;
	n = snprintf(note, sizeof(note), "log file %s: %s: %s; no longer written",
		     logfile_path(f->h), what, strerror(err));
	file_close(f);
	if (n > 0)
		store_raw(lb, LOG_STREAM_SUPD, ts, note,
			  (size_t)n < sizeof(note) ? (size_t)n : sizeof(note) - 1);
}

/* "STAMP STREAM TEXT\n", formatted here and appended by the writer thread in one write. */
static void file_write(struct logbuf *lb, const struct log_line *l)
{
	struct fileout *f = &lb->file;
	const char *name = stream_names[l->stream];
	char stamp[STAMP_LEN + 16], small[512], *line = small;
	size_t sl, nl, need;

	if (!f->h)
		return;
	format_stamp(f, l->ts_usec, stamp);
	sl = strlen(stamp);
	nl = strlen(name);
	need = sl + nl + 1 + l->len + 1;
	if (need > sizeof(small) && !(line = malloc(need)))
		return;
	memcpy(line, stamp, sl);
	memcpy(line + sl, name, nl);
	line[sl + nl] = ' ';
	memcpy(line + sl + nl + 1, l->text, l->len);
	line[need - 1] = '\n';
	logfile_write(f->h, line, need);
	if (line != small)
		free(line);
}

/* One line of at most line_max bytes: into the ring, then the file. */
static void store_raw(struct logbuf *lb, enum log_stream s, uint64_t ts, const char *text,
		      size_t len)
{
	file_check(lb, ts);
	struct log_line *l;
	size_t off;

	if (lb->data_size < lb->data_max && !has_room(lb, REC_SIZE(len)))
		ring_grow(lb, REC_SIZE(len));
	off = ring_reserve(lb, REC_SIZE(len));
	l = (struct log_line *)(lb->data + off);
	l->seq = ++lb->last_seq;
	l->ts_usec = ts;
	l->stream = s;
	l->len = (uint32_t)len;
	for (size_t i = 0; i < len; i++)
		l->text[i] = text[i] ? text[i] : '?';
	l->text[len] = '\0';
	lb->idx[(lb->first + lb->count) % lb->idx_size] = (uint32_t)off;
	lb->count++;
	lb->wpos = off + REC_SIZE(len);
	file_write(lb, l);
}

/* Where to split a run of n > 0 bytes so as not to cut a UTF-8 sequence in two. */
static size_t utf8_cut(const char *p, size_t n)
{
	for (size_t i = n; i > 0 && n - i < 4; i--) {
		unsigned char c = (unsigned char)p[i - 1];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue;
		if (c < 0x80)
			return n;
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return (i - 1 + need > n && i > 1) ? i - 1 : n;
	}
	return n;
}

/* A whole line: split at line_max. */
static void store_text(struct logbuf *lb, enum log_stream s, uint64_t ts, const char *text,
		       size_t len)
{
	while (len > lb->line_max) {
		size_t cut = utf8_cut(text, lb->line_max);

		store_raw(lb, s, ts, text, cut);
		text += cut;
		len -= cut;
	}
	store_raw(lb, s, ts, text, len);
}

/* The held line is full and more is coming: store it, keeping a cut UTF-8 tail (and a CR). */
static void partial_flush_full(struct logbuf *lb, enum log_stream s, uint64_t ts)
{
	struct partial *p = &lb->part[s];
	size_t cut = utf8_cut(p->buf, lb->line_max);

	store_raw(lb, s, ts, p->buf, cut);
	memmove(p->buf, p->buf + cut, p->len - cut);
	p->len -= cut;
}

static int partial_grow(struct partial *p, size_t need, size_t limit)
{
	size_t want = p->size ? p->size : 256;
	char *nb;

	while (want < need)
		want *= 2;
	if (want > limit)
		want = limit;
	nb = realloc(p->buf, want);
	if (!nb)
		return -1;
	p->buf = nb;
	p->size = want;
	return 0;
}

/*
 * Hold data (no newline in it) as the stream's partial line, storing each full line_max
 * bytes. One CR past a full line is held rather than flushed: it may be a CRLF's, and then
 * the line is exactly line_max long.
 */
static void partial_append(struct logbuf *lb, enum log_stream s, const char *data, size_t n,
			   uint64_t ts)
{
	struct partial *p = &lb->part[s];
	size_t max = lb->line_max;

	while (n > 0) {
		bool lone_cr = p->len == max && n == 1 && data[0] == '\r';
		size_t k;

		if (p->len >= max && !lone_cr)
			partial_flush_full(lb, s, ts);
		k = lone_cr ? 1 : max - p->len < n ? max - p->len : n;
		if (p->len + k > p->size && partial_grow(p, p->len + k, max + 1) < 0) {
			/* no memory to join them: keep both pieces as lines */
			if (p->len > 0)
				store_text(lb, s, ts, p->buf, p->len);
			p->len = 0;
			store_text(lb, s, ts, data, n);
			return;
		}
		memcpy(p->buf + p->len, data, k);
		p->len += k;
		data += k;
		n -= k;
	}
}

/* A newline came: the held line plus what came before it is complete. */
static void partial_end(struct logbuf *lb, enum log_stream s, uint64_t ts)
{
	struct partial *p = &lb->part[s];

	store_text(lb, s, ts, p->buf ? p->buf : "", p->len); /* max + a held CR: two */
	p->len = 0;
}

void logbuf_feed(struct logbuf *lb, enum log_stream s, const char *data, size_t n,
		 uint64_t now_usec)
{
	if ((unsigned)s >= NSTREAMS)
		return;
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		struct partial *p = &lb->part[s];
		size_t seg = nl ? (size_t)(nl - data) : n, end = seg;

		if (!nl) {
			partial_append(lb, s, data, seg, now_usec);
			return;
		}
		/* CRLF: the CR is the segment's last byte, or the held line's (split feeds) */
		if (seg > 0 && data[seg - 1] == '\r')
			end--;
		else if (seg == 0 && p->len > 0 && p->buf[p->len - 1] == '\r')
			p->len--;
		if (p->len == 0) {
			store_text(lb, s, now_usec, data, end); /* the common case: no copy */
		} else {
			partial_append(lb, s, data, end, now_usec);
			partial_end(lb, s, now_usec);
		}
		data += seg + 1;
		n -= seg + 1;
	}
}

void logbuf_eof(struct logbuf *lb, enum log_stream s, uint64_t now_usec)
{
	struct partial *p;

	if ((unsigned)s >= NSTREAMS)
		return;
	p = &lb->part[s];
	if (p->len > 0 && p->buf[p->len - 1] == '\r')
		p->len--;
	if (p->len > 0)
		partial_end(lb, s, now_usec);
	/* the stream is done: give the held line's memory back */
	free(p->buf);
	p->buf = NULL;
	p->len = p->size = 0;
}

void logbuf_note(struct logbuf *lb, uint64_t now_usec, const char *fmt, ...)
{
	char small[LOST_NOTE_SIZE], *text = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		va_start(ap, fmt);
		if (vasprintf(&text, fmt, ap) < 0) {
			text = small; /* keep what fitted rather than nothing */
			n = (int)sizeof(small) - 1;
		}
		va_end(ap);
	}
	/* a note is one line: an embedded newline must not fake another */
	for (int i = 0; i < n; i++)
		if (text[i] == '\n' || text[i] == '\r')
			text[i] = ' ';
	store_text(lb, LOG_STREAM_SUPD, now_usec, text, (size_t)n);
	if (text != small)
		free(text);
}

int logbuf_set_file(struct logbuf *lb, const char *path, uint64_t max_size, unsigned keep)
{
	file_close(&lb->file);
	if (!path)
		return 0;
	lb->file.h = logfile_open(path, max_size, keep);
	if (!lb->file.h) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

uint64_t logbuf_last_seq(const struct logbuf *lb)
{
	return lb->last_seq;
}

uint64_t logbuf_first_seq(const struct logbuf *lb)
{
	return lb->last_seq - lb->count + 1;
}

uint64_t logbuf_dropped(const struct logbuf *lb)
{
	return lb->dropped;
}

/*
 * Visit seqs [from, to], oldest first. Looked up by seq at each step, so a callback that
 * (indirectly) stores lines makes us skip what got evicted rather than read freed records.
 */
static void visit(const struct logbuf *lb, uint64_t from, uint64_t to,
		  void (*fn)(const struct log_line *l, void *ctx), void *ctx)
{
	for (uint64_t seq = from; seq <= to && seq <= lb->last_seq; seq++) {
		uint64_t oldest = lb->last_seq - lb->count + 1;

		if (lb->count == 0)
			return;
		if (seq < oldest)
			seq = oldest;
		fn(rec_at(lb, (size_t)(seq - oldest)), ctx);
	}
}

void logbuf_tail(const struct logbuf *lb, size_t n, void (*fn)(const struct log_line *l, void *ctx),
		 void *ctx)
{
	size_t skip = (n == 0 || n >= lb->count) ? 0 : lb->count - n;

	if (lb->count > 0)
		visit(lb, lb->last_seq - lb->count + 1 + skip, lb->last_seq, fn, ctx);
}

void logbuf_since(const struct logbuf *lb, uint64_t after,
		  void (*fn)(const struct log_line *l, void *ctx), void *ctx)
{
	uint64_t oldest = lb->last_seq - lb->count + 1;

	if (lb->count == 0 || after >= lb->last_seq)
		return;
	visit(lb, after < oldest ? oldest : after + 1, lb->last_seq, fn, ctx);
}
