/* logbuf: line splitting, the bounded ring, tail/since, notes, the log file and rotation. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logs/logbuf.h"
#include "logs/logfile.h"

#define BIG (1 << 20)
/* 2026-11-29T05:49:13.123456Z */
#define TS 1795931353123456ULL

struct got {
	size_t n;
	struct {
		uint64_t seq, ts;
		enum log_stream stream;
		char *text;
		uint32_t len;
	} v[4096];
};

static void collect(const struct log_line *l, void *ctx)
{
	struct got *g = ctx;

	ck_assert_uint_lt(g->n, sizeof(g->v) / sizeof(g->v[0]));
	ck_assert_uint_eq(strlen(l->text), l->len);
	g->v[g->n].seq = l->seq;
	g->v[g->n].ts = l->ts_usec;
	g->v[g->n].stream = l->stream;
	g->v[g->n].len = l->len;
	g->v[g->n].text = strdup(l->text);
	g->n++;
}

static struct got *got_new(void)
{
	struct got *g = calloc(1, sizeof(*g));

	ck_assert_ptr_nonnull(g);
	return g;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].text);
	free(g);
}

static struct got *all_lines(const struct logbuf *lb)
{
	struct got *g = got_new();

	logbuf_tail(lb, 0, collect, g);
	return g;
}

static void feed_str(struct logbuf *lb, enum log_stream s, const char *str)
{
	logbuf_feed(lb, s, str, strlen(str), TS);
}

static void assert_texts(struct logbuf *lb, const char *const *want, size_t n)
{
	struct got *g = all_lines(lb);

	ck_assert_uint_eq(g->n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(g->v[i].text, want[i]);
		ck_assert_uint_eq(g->v[i].seq, i + 1);
	}
	got_free(g);
}

#define ASSERT_TEXTS(lb, ...)                                                                      \
	do {                                                                                       \
		static const char *const _w[] = {__VA_ARGS__};                                     \
		assert_texts(lb, _w, sizeof(_w) / sizeof(_w[0]));                                  \
	} while (0)

START_TEST(test_empty)
{
	struct logbuf *lb = logbuf_new(BIG);
	struct got *g = got_new();

	ck_assert_uint_eq(logbuf_last_seq(lb), 0);
	ck_assert_uint_eq(logbuf_dropped(lb), 0);
	logbuf_tail(lb, 10, collect, g);
	logbuf_since(lb, 0, collect, g);
	ck_assert_uint_eq(g->n, 0);
	logbuf_eof(lb, LOG_STREAM_STDOUT, TS);
	ck_assert_uint_eq(logbuf_last_seq(lb), 0);
	got_free(g);
	logbuf_free(lb);
	logbuf_free(NULL);
}
END_TEST

START_TEST(test_split_across_feeds)
{
	struct logbuf *lb = logbuf_new(BIG);

	feed_str(lb, LOG_STREAM_STDOUT, "hel");
	ck_assert_uint_eq(logbuf_last_seq(lb), 0);
	feed_str(lb, LOG_STREAM_STDOUT, "lo\nwor");
	feed_str(lb, LOG_STREAM_STDOUT, "");
	feed_str(lb, LOG_STREAM_STDOUT, "ld\none\n\ntwo\n");
	ASSERT_TEXTS(lb, "hello", "world", "one", "", "two");
	logbuf_free(lb);
}
END_TEST

START_TEST(test_byte_at_a_time)
{
	struct logbuf *lb = logbuf_new(BIG);
	const char *s = "alpha\r\nbeta\n\r\ngamma\n";

	for (const char *p = s; *p; p++)
		logbuf_feed(lb, LOG_STREAM_STDERR, p, 1, TS);
	ASSERT_TEXTS(lb, "alpha", "beta", "", "gamma");
	logbuf_free(lb);
}
END_TEST

START_TEST(test_crlf)
{
	struct logbuf *lb = logbuf_new(BIG);

	feed_str(lb, LOG_STREAM_STDOUT, "dos\r\n");
	feed_str(lb, LOG_STREAM_STDOUT, "split\r");
	feed_str(lb, LOG_STREAM_STDOUT, "\n");
	feed_str(lb, LOG_STREAM_STDOUT, "held");
	feed_str(lb, LOG_STREAM_STDOUT, "-more\r\n");
	feed_str(lb, LOG_STREAM_STDOUT, "\r\n");
	/* only the CR of the CRLF goes; a CR elsewhere is the program's */
	feed_str(lb, LOG_STREAM_STDOUT, "progress 10%\rprogress 20%\r\r\n");
	ASSERT_TEXTS(lb, "dos", "split", "held-more", "", "progress 10%\rprogress 20%\r");
	logbuf_free(lb);
}
END_TEST

START_TEST(test_partial_at_eof)
{
	struct logbuf *lb = logbuf_new(BIG);

	feed_str(lb, LOG_STREAM_STDOUT, "done\nno newline");
	ck_assert_uint_eq(logbuf_last_seq(lb), 1);
	logbuf_eof(lb, LOG_STREAM_STDOUT, TS + 5);
	logbuf_eof(lb, LOG_STREAM_STDOUT, TS + 6); /* twice: nothing more */
	feed_str(lb, LOG_STREAM_STDERR, "cr at eof\r");
	logbuf_eof(lb, LOG_STREAM_STDERR, TS);
	/* a stream can be fed again after EOF (the next run) */
	feed_str(lb, LOG_STREAM_STDOUT, "next run\n");
	ASSERT_TEXTS(lb, "done", "no newline", "cr at eof", "next run");

	struct got *g = all_lines(lb);
	ck_assert_uint_eq(g->v[1].ts, TS + 5);
	got_free(g);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_streams_held_apart)
{
	struct logbuf *lb = logbuf_new(BIG);
	struct got *g;

	feed_str(lb, LOG_STREAM_STDOUT, "out-");
	feed_str(lb, LOG_STREAM_STDERR, "err-");
	feed_str(lb, LOG_STREAM_STDERR, "line\n");
	feed_str(lb, LOG_STREAM_STDOUT, "line\n");
	g = all_lines(lb);
	ck_assert_uint_eq(g->n, 2);
	ck_assert_str_eq(g->v[0].text, "err-line");
	ck_assert_int_eq(g->v[0].stream, LOG_STREAM_STDERR);
	ck_assert_str_eq(g->v[1].text, "out-line");
	ck_assert_int_eq(g->v[1].stream, LOG_STREAM_STDOUT);
	got_free(g);
	/* an out-of-range stream is ignored, not a crash */
	logbuf_feed(lb, (enum log_stream)7, "x\n", 2, TS);
	logbuf_eof(lb, (enum log_stream)7, TS);
	ck_assert_uint_eq(logbuf_last_seq(lb), 2);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_nul_and_invalid_utf8)
{
	struct logbuf *lb = logbuf_new(BIG);
	struct got *g;

	logbuf_feed(lb, LOG_STREAM_STDOUT, "a\0b\n\xff\xfe\xc3\n\0\0\n", 11, TS);
	g = all_lines(lb);
	ck_assert_uint_eq(g->n, 3);
	ck_assert_str_eq(g->v[0].text, "a?b");
	ck_assert_uint_eq(g->v[0].len, 3);
	ck_assert_str_eq(g->v[1].text, "\xff\xfe\xc3");
	ck_assert_str_eq(g->v[2].text, "??");
	got_free(g);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_long_line_split)
{
	struct logbuf *lb = logbuf_new(BIG);
	size_t n = 2 * LOGBUF_LINE_MAX + 10;
	char *buf = malloc(n + 1);
	struct got *g;

	memset(buf, 'x', n);
	buf[n] = '\n';
	/* in one feed, then in uneven pieces through the held line */
	logbuf_feed(lb, LOG_STREAM_STDOUT, buf, n + 1, TS);
	for (size_t off = 0; off < n + 1; off += 1000)
		logbuf_feed(lb, LOG_STREAM_STDOUT, buf + off,
			    n + 1 - off < 1000 ? n + 1 - off : 1000, TS);
	/* exactly LOGBUF_LINE_MAX is still one line, held or not */
	logbuf_feed(lb, LOG_STREAM_STDOUT, buf + n - LOGBUF_LINE_MAX, LOGBUF_LINE_MAX + 1, TS);
	logbuf_feed(lb, LOG_STREAM_STDOUT, buf, LOGBUF_LINE_MAX, TS);
	logbuf_feed(lb, LOG_STREAM_STDOUT, "\n", 1, TS);
	/* with no newline at all, EOF ends it */
	logbuf_feed(lb, LOG_STREAM_STDERR, buf, LOGBUF_LINE_MAX + 1, TS);
	logbuf_eof(lb, LOG_STREAM_STDERR, TS);

	g = all_lines(lb);
	ck_assert_uint_eq(g->n, 10);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(g->v[3 * i].len, LOGBUF_LINE_MAX);
		ck_assert_uint_eq(g->v[3 * i + 1].len, LOGBUF_LINE_MAX);
		ck_assert_uint_eq(g->v[3 * i + 2].len, 10);
	}
	ck_assert_uint_eq(g->v[6].len, LOGBUF_LINE_MAX);
	ck_assert_uint_eq(g->v[7].len, LOGBUF_LINE_MAX);
	ck_assert_uint_eq(g->v[8].len, LOGBUF_LINE_MAX);
	ck_assert_uint_eq(g->v[9].len, 1);
	got_free(g);
	free(buf);
	logbuf_free(lb);
}
END_TEST

/* A forced split never cuts a UTF-8 character in two. */
START_TEST(test_long_line_utf8)
{
	struct logbuf *lb = logbuf_new(BIG);
	char *buf = malloc(LOGBUF_LINE_MAX + 8);
	struct got *g;

	memset(buf, 'a', LOGBUF_LINE_MAX - 1);
	memcpy(buf + LOGBUF_LINE_MAX - 1, "\xc3\xa9z\n", 4); /* "éz" straddles the limit */
	logbuf_feed(lb, LOG_STREAM_STDOUT, buf, LOGBUF_LINE_MAX + 3, TS);
	for (size_t i = 0; i < LOGBUF_LINE_MAX + 3; i++) /* same, through the held line */
		logbuf_feed(lb, LOG_STREAM_STDOUT, buf + i, 1, TS);
	g = all_lines(lb);
	ck_assert_uint_eq(g->n, 4);
	for (int i = 0; i < 4; i += 2) {
		ck_assert_uint_eq(g->v[i].len, LOGBUF_LINE_MAX - 1);
		ck_assert_str_eq(g->v[i + 1].text, "\xc3\xa9z");
	}
	got_free(g);
	free(buf);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_eviction_tight_budget)
{
	const size_t budget = 1024;
	struct logbuf *lb = logbuf_new(budget);
	struct got *g;
	size_t bytes = 0;
	char line[64];

	for (int i = 1; i <= 200; i++) {
		int n = snprintf(line, sizeof(line), "line %d %.*s\n", i, i % 40,
				 "........................................");
		logbuf_feed(lb, LOG_STREAM_STDOUT, line, (size_t)n, TS + (uint64_t)i);
	}
	ck_assert_uint_eq(logbuf_last_seq(lb), 200);
	g = all_lines(lb);
	ck_assert_uint_gt(g->n, 5);
	ck_assert_uint_eq(logbuf_dropped(lb) + g->n, 200);
	/* the newest survive, in order, seqs consecutive up to the last */
	for (size_t i = 0; i < g->n; i++) {
		uint64_t seq = 200 - g->n + 1 + i;
		int n = snprintf(line, sizeof(line), "line %d %.*s", (int)seq, (int)(seq % 40),
				 "........................................");

		ck_assert_uint_eq(g->v[i].seq, seq);
		ck_assert_str_eq(g->v[i].text, line);
		ck_assert_uint_eq(g->v[i].ts, TS + seq);
		bytes += sizeof(struct log_line) + (size_t)n + 1;
	}
	ck_assert_uint_le(bytes, budget);
	got_free(g);
	logbuf_free(lb);
}
END_TEST

/* A budget too small for LOGBUF_LINE_MAX splits lines at what fits; nothing is lost. */
START_TEST(test_tiny_budget)
{
	struct logbuf *lb = logbuf_new(0);
	char buf[3000];
	struct got *g;
	size_t total = 0;

	memset(buf, 'y', sizeof(buf));
	buf[sizeof(buf) - 1] = '\n';
	logbuf_feed(lb, LOG_STREAM_STDOUT, buf, sizeof(buf), TS);
	ck_assert_uint_gt(logbuf_last_seq(lb), 1);
	g = all_lines(lb);
	ck_assert_uint_ge(g->n, 1);
	ck_assert_uint_eq(g->v[g->n - 1].seq, logbuf_last_seq(lb));
	got_free(g);
	for (int i = 0; i < 1000; i++)
		feed_str(lb, LOG_STREAM_STDOUT, "\n");
	g = all_lines(lb);
	for (size_t i = 0; i < g->n; i++)
		total += g->v[i].len;
	ck_assert_uint_eq(total, 0);
	ck_assert_uint_eq(logbuf_dropped(lb) + g->n, logbuf_last_seq(lb));
	got_free(g);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_tail_and_since)
{
	struct logbuf *lb = logbuf_new(BIG);
	struct got *g;
	char line[32];

	for (int i = 1; i <= 10; i++) {
		snprintf(line, sizeof(line), "l%d\n", i);
		feed_str(lb, LOG_STREAM_STDOUT, line);
	}
	g = got_new();
	logbuf_tail(lb, 3, collect, g);
	ck_assert_uint_eq(g->n, 3);
	ck_assert_str_eq(g->v[0].text, "l8");
	ck_assert_str_eq(g->v[2].text, "l10");
	got_free(g);

	g = got_new();
	logbuf_tail(lb, 100, collect, g);
	ck_assert_uint_eq(g->n, 10);
	ck_assert_uint_eq(g->v[0].seq, 1);
	got_free(g);

	g = got_new();
	logbuf_since(lb, 7, collect, g);
	ck_assert_uint_eq(g->n, 3);
	ck_assert_uint_eq(g->v[0].seq, 8);
	ck_assert_uint_eq(g->v[2].seq, 10);
	got_free(g);

	g = got_new();
	logbuf_since(lb, 0, collect, g);
	ck_assert_uint_eq(g->n, 10);
	logbuf_since(lb, 10, collect, g);
	logbuf_since(lb, 1000, collect, g);
	ck_assert_uint_eq(g->n, 10);
	got_free(g);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_since_after_eviction)
{
	struct logbuf *lb = logbuf_new(512);
	struct got *g;
	uint64_t prev = 0;

	for (int i = 0; i < 100; i++)
		feed_str(lb, LOG_STREAM_STDOUT, "some output line\n");
	/* a follower far behind gets what is left, from the oldest kept */
	g = got_new();
	logbuf_since(lb, 3, collect, g);
	ck_assert_uint_gt(g->n, 0);
	ck_assert_uint_eq(g->v[0].seq, logbuf_dropped(lb) + 1);
	ck_assert_uint_eq(g->v[g->n - 1].seq, 100);
	for (size_t i = 0; i < g->n; i++) {
		ck_assert_uint_gt(g->v[i].seq, prev);
		prev = g->v[i].seq;
	}
	got_free(g);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_notes)
{
	struct logbuf *lb = logbuf_new(BIG);
	char *big = malloc(LOGBUF_LINE_MAX + 101);
	struct got *g;

	feed_str(lb, LOG_STREAM_STDOUT, "held");
	logbuf_note(lb, TS + 1, "started, pid %d", 42);
	logbuf_note(lb, TS + 2, "two\nlines\r");
	memset(big, 'n', LOGBUF_LINE_MAX + 100);
	big[LOGBUF_LINE_MAX + 100] = '\0';
	logbuf_note(lb, TS + 3, "%s", big);
	logbuf_note(lb, TS + 4, "%s", "");
	feed_str(lb, LOG_STREAM_STDOUT, "\n");

	g = all_lines(lb);
	ck_assert_uint_eq(g->n, 6);
	ck_assert_str_eq(g->v[0].text, "started, pid 42");
	ck_assert_int_eq(g->v[0].stream, LOG_STREAM_SUPD);
	ck_assert_uint_eq(g->v[0].ts, TS + 1);
	ck_assert_str_eq(g->v[1].text, "two lines ");
	ck_assert_uint_eq(g->v[2].len, LOGBUF_LINE_MAX);
	ck_assert_uint_eq(g->v[3].len, 100);
	ck_assert_str_eq(g->v[4].text, "");
	ck_assert_str_eq(g->v[5].text, "held"); /* the held line was not disturbed */
	ck_assert_int_eq(g->v[5].stream, LOG_STREAM_STDOUT);
	got_free(g);
	free(big);
	logbuf_free(lb);
}
END_TEST

/* Random streams, cut into random feeds, against a plain reference splitter. */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static size_t random_stream(char *buf, size_t size)
{
	static const char *const ends[] = {"\n", "\r\n", "\r\r\n", "\n"};
	size_t n = 0;

	while (n + 3 * LOGBUF_LINE_MAX < size) {
		size_t len = rnd(2) ? rnd(30) : (1 + rnd(2)) * LOGBUF_LINE_MAX - 2 + rnd(5);

		for (size_t i = 0; i < len; i++) {
			uint32_t r = rnd(100);
			buf[n++] = r < 5 ? '\r' : r < 7 ? '\0' : (char)('a' + rnd(26));
		}
		if (rnd(50) == 0)
			break; /* a partial line at EOF */
		const char *e = ends[rnd(4)];

		memcpy(buf + n, e, strlen(e));
		n += strlen(e);
	}
	return n;
}

/* What a user should see: one CR of a CRLF gone, NUL -> '?', cut every LOGBUF_LINE_MAX. */
static void reference_line(struct got *g, const char *p, size_t len, bool eof)
{
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (eof && len == 0)
		return;
	do {
		size_t k = len < LOGBUF_LINE_MAX ? len : LOGBUF_LINE_MAX;
		char *t = malloc(k + 1);

		t[k] = '\0';
		for (size_t i = 0; i < k; i++)
			t[i] = p[i] ? p[i] : '?';
		g->v[g->n].text = t;
		g->v[g->n].len = (uint32_t)k;
		g->n++;
		p += k;
		len -= k;
	} while (len > 0);
}

static struct got *reference(const char *buf, size_t n)
{
	struct got *g = got_new();
	size_t start = 0;

	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n') {
			reference_line(g, buf + start, i - start, false);
			start = i + 1;
		}
	if (start < n)
		reference_line(g, buf + start, n - start, true);
	return g;
}

START_TEST(test_random_vs_reference)
{
	size_t size = 40 * LOGBUF_LINE_MAX;
	char *buf = malloc(size);

	for (int seed = 1; seed <= 12; seed++) {
		struct logbuf *lb = logbuf_new(64 << 20);
		struct got *want, *got;
		size_t n, off = 0;

		rng_state = 0x9e3779b97f4a7c15ULL * (uint64_t)seed;
		n = random_stream(buf, size);
		want = reference(buf, n);
		while (off < n) {
			size_t k = seed % 3 == 0 ? 1 + rnd(3) : rnd(4) ? 1 + rnd(40000) : 1;

			k = k < n - off ? k : n - off;
			logbuf_feed(lb, LOG_STREAM_STDOUT, buf + off, k, TS);
			off += k;
		}
		logbuf_eof(lb, LOG_STREAM_STDOUT, TS);
		got = all_lines(lb);
		ck_assert_uint_eq(logbuf_dropped(lb), 0);
		ck_assert_msg(got->n == want->n, "seed %d: %zu lines, want %zu", seed, got->n,
			      want->n);
		for (size_t i = 0; i < want->n; i++) {
			ck_assert_msg(got->v[i].len == want->v[i].len,
				      "seed %d line %zu: len %u, want %u", seed, i, got->v[i].len,
				      want->v[i].len);
			ck_assert(memcmp(got->v[i].text, want->v[i].text, want->v[i].len) == 0);
		}
		got_free(got);
		got_free(want);
		logbuf_free(lb);
	}
	free(buf);
}
END_TEST

/* A 1M-line flood costs O(1) per line. */
START_TEST(test_flood)
{
	struct logbuf *lb = logbuf_new(BIG);
	enum { LINES = 1000000, PER_CHUNK = 4096 };
	char *chunk = malloc(PER_CHUNK * 24);
	struct timespec t0, t1;
	int line = 0;
	double secs;
	struct got *g;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (line < LINES) {
		size_t n = 0;

		for (int i = 0; i < PER_CHUNK && line < LINES; i++)
			n += (size_t)sprintf(chunk + n, "flood line %d\n", ++line);
		/* cut the chunk unevenly, so lines also straddle feeds */
		logbuf_feed(lb, LOG_STREAM_STDOUT, chunk, n / 3, TS);
		logbuf_feed(lb, LOG_STREAM_STDOUT, chunk + n / 3, n - n / 3, TS);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* well under a second natively; the bound leaves room for valgrind, not for O(n^2) */
	ck_assert_msg(secs < 30, "1M lines took %.1fs", secs);
	ck_assert_uint_eq(logbuf_last_seq(lb), LINES);

	g = got_new();
	logbuf_tail(lb, 2, collect, g);
	ck_assert_uint_eq(g->n, 2);
	ck_assert_str_eq(g->v[0].text, "flood line 999999");
	ck_assert_str_eq(g->v[1].text, "flood line 1000000");
	got_free(g);
	g = got_new();
	logbuf_since(lb, LINES - 1, collect, g);
	ck_assert_uint_eq(g->n, 1);
	ck_assert_uint_eq(g->v[0].seq, LINES);
	got_free(g);
	ck_assert_uint_gt(logbuf_dropped(lb), LINES - BIG / 16);
	free(chunk);
	logbuf_free(lb);
}
END_TEST

/* ---- the log file ---- */

static char tmpdir[] = "/tmp/test_logbuf.XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/test_logbuf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* The file's contents, or NULL if it does not exist. */
static char *slurp(const char *path)
{
	FILE *f;
	char *s;
	long n;

	ck_assert_msg(logfile_sync(5000), "the log file writer did not drain its queue");
	f = fopen(path, "re");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

static void assert_file(const char *path, const char *want)
{
	char *got = slurp(path);

	ck_assert_msg(got != NULL, "%s missing", path);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_file_format)
{
	struct logbuf *lb = logbuf_new(BIG);
	const char *path = tmp_path("web.log");
	struct stat st;

	ck_assert_int_eq(logbuf_set_file(lb, path, 1 << 20, 3), 0);
	logbuf_feed(lb, LOG_STREAM_STDOUT, "hello\r\nwor", 10, TS);
	logbuf_feed(lb, LOG_STREAM_STDERR, "oops\n", 5, TS + 1000);
	logbuf_feed(lb, LOG_STREAM_STDOUT, "ld\n", 3, TS + 1000000);
	logbuf_note(lb, 0, "exited with code %d", 1);
	logbuf_feed(lb, LOG_STREAM_STDOUT, "a\0b\n", 4, TS + 876544);
	assert_file(path, "2026-11-29T05:49:13.123456Z stdout hello\n"
			  "2026-11-29T05:49:13.124456Z stderr oops\n"
			  "2026-11-29T05:49:14.123456Z stdout world\n"
			  "1970-01-01T00:00:00.000000Z supd exited with code 1\n"
			  "2026-11-29T05:49:14.000000Z stdout a?b\n");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	logbuf_free(lb);

	/* a new logbuf appends to what is there */
	lb = logbuf_new(BIG);
	ck_assert_int_eq(logbuf_set_file(lb, path, 1 << 20, 3), 0);
	feed_str(lb, LOG_STREAM_STDOUT, "again\n");
	logbuf_free(lb);
	char *s = slurp(path);
	ck_assert_ptr_nonnull(strstr(s, "stdout a?b\n2026-11-29T05:49:13.123456Z stdout again\n"));
	free(s);
}
END_TEST

/* Every numbered file line is 28 (stamp) + 7 ("stdout ") + 9 ("line-0001") + 1 = 45 bytes. */
#define FLINE 45
static void feed_numbered(struct logbuf *lb, int from, int to)
{
	char text[16];

	for (int i = from; i <= to; i++) {
		snprintf(text, sizeof(text), "line-%04d\n", i);
		logbuf_feed(lb, LOG_STREAM_STDOUT, text, strlen(text), TS);
	}
}

static char *numbered(int from, int to)
{
	static char buf[4][4096];
	static int next;
	char *p = buf[next++ % 4];
	size_t n = 0;

	p[0] = '\0';
	for (int i = from; i <= to; i++)
		n += (size_t)snprintf(p + n, sizeof(buf[0]) - n,
				      "2026-11-29T05:49:13.123456Z stdout line-%04d\n", i);
	return p;
}

START_TEST(test_file_rotation)
{
	struct logbuf *lb = logbuf_new(BIG);
	const char *path = tmp_path("r.log");
	struct stat st;
	char *s;

	/* room for 2 lines (92 bytes) per file, keep 3 old ones */
	ck_assert_int_eq(logbuf_set_file(lb, path, 100, 3), 0);
	feed_numbered(lb, 1, 2);
	s = slurp(path);
	ck_assert_uint_eq(strlen(s), 2 * FLINE);
	free(s);
	feed_numbered(lb, 3, 11);
	assert_file(path, numbered(11, 11));
	assert_file(tmp_path("r.log.1"), numbered(9, 10));
	assert_file(tmp_path("r.log.2"), numbered(7, 8));
	assert_file(tmp_path("r.log.3"), numbered(5, 6));
	ck_assert_int_eq(stat(tmp_path("r.log.4"), &st), -1); /* lines 1-4 dropped */
	ck_assert_int_eq(errno, ENOENT);
	for (int i = 1; i <= 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "r.log.%d", i);
		ck_assert_int_eq(stat(tmp_path(name), &st), 0);
		ck_assert_int_le(st.st_size, 100);
	}
	/* the ring kept everything regardless */
	ck_assert_uint_eq(logbuf_last_seq(lb), 11);
	ck_assert_uint_eq(logbuf_dropped(lb), 0);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_file_rotation_edges)
{
	struct logbuf *lb = logbuf_new(BIG);
	const char *path = tmp_path("e.log");
	struct stat st;
	int fd;

	/* an existing file already over the limit is rotated before the first write */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd,
			       "old old old old old old old old old old old old old old old\n"
			       "old old old old old old old old old old old old old old old\n",
			       120),
			 120);
	close(fd);
	ck_assert_int_eq(logbuf_set_file(lb, path, 100, 2), 0);
	feed_numbered(lb, 1, 1);
	assert_file(path, numbered(1, 1));
	ck_assert_int_eq(stat(tmp_path("e.log.1"), &st), 0);
	ck_assert_int_eq(st.st_size, 120);

	/* a single line longer than the limit still gets written, alone in its file */
	char big[300];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\n';
	logbuf_feed(lb, LOG_STREAM_STDOUT, big, sizeof(big), TS);
	feed_numbered(lb, 2, 2);
	assert_file(path, numbered(2, 2));
	ck_assert_int_eq(stat(tmp_path("e.log.1"), &st), 0);
	ck_assert_int_eq(st.st_size, 28 + 7 + 299 + 1);
	assert_file(tmp_path("e.log.2"), numbered(1, 1));
	logbuf_free(lb);

	/* keep 0: the file is started over, no numbered ones */
	lb = logbuf_new(BIG);
	path = tmp_path("k0.log");
	ck_assert_int_eq(logbuf_set_file(lb, path, 100, 0), 0);
	feed_numbered(lb, 1, 5);
	assert_file(path, numbered(5, 5));
	ck_assert_int_eq(stat(tmp_path("k0.log.1"), &st), -1);
	logbuf_free(lb);

	/* max_size infinity: never rotated */
	lb = logbuf_new(BIG);
	path = tmp_path("inf.log");
	ck_assert_int_eq(logbuf_set_file(lb, path, UINT64_MAX, 3), 0);
	feed_numbered(lb, 1, 50);
	assert_file(path, numbered(1, 50));
	ck_assert_int_eq(stat(tmp_path("inf.log.1"), &st), -1);
	logbuf_free(lb);
}
END_TEST

START_TEST(test_file_open_error)
{
	struct logbuf *lb = logbuf_new(BIG);

	/* opened by the writer thread: the failure comes back as a note, the ring goes on */
	ck_assert_int_eq(logbuf_set_file(lb, tmp_path("no/such/dir.log"), 100, 3), 0);
	feed_str(lb, LOG_STREAM_STDOUT, "still kept\n");
	ck_assert(logfile_sync(5000));
	feed_str(lb, LOG_STREAM_STDOUT, "more\n");
	char want[600];
	snprintf(want, sizeof(want),
		 "log file %s: open: No such file or directory; no longer written",
		 tmp_path("no/such/dir.log"));
	const char *texts[] = {"still kept", want, "more"};
	assert_texts(lb, texts, 3);
	logbuf_free(lb);
}
END_TEST

/* A failing file (a full disk) is dropped with one note; the ring carries on. */
START_TEST(test_file_write_error)
{
	struct logbuf *lb = logbuf_new(BIG);
	struct got *g;

	if (access("/dev/full", W_OK) < 0)
		return;
	ck_assert_int_eq(logbuf_set_file(lb, "/dev/full", 100, 3), 0);
	feed_str(lb, LOG_STREAM_STDOUT, "one\n");
	feed_str(lb, LOG_STREAM_STDOUT, "two\n");
	ck_assert(logfile_sync(5000)); /* the writer thread met the full disk */
	logbuf_note(lb, TS, "three");
	g = all_lines(lb);
	ck_assert_uint_eq(g->n, 4);
	ck_assert_str_eq(g->v[0].text, "one");
	/* the note lands at the first line after the writer met the error: before or after
	 * "two", depending on when the thread got to "one" */
	size_t note = strcmp(g->v[1].text, "two") == 0 ? 2 : 1;
	ck_assert_str_eq(g->v[note == 1 ? 2 : 1].text, "two");
	ck_assert_int_eq(g->v[note].stream, LOG_STREAM_SUPD);
	ck_assert_str_eq(g->v[note].text,
			 "log file /dev/full: write: No space left on device; no longer written");
	ck_assert_str_eq(g->v[3].text, "three");
	got_free(g);
	/* switching to a good file works again */
	ck_assert_int_eq(logbuf_set_file(lb, tmp_path("good.log"), 1000, 1), 0);
	feed_str(lb, LOG_STREAM_STDOUT, "four\n");
	assert_file(tmp_path("good.log"), "2026-11-29T05:49:13.123456Z stdout four\n");
	/* and NULL turns the file off */
	ck_assert_int_eq(logbuf_set_file(lb, NULL, 0, 0), 0);
	feed_str(lb, LOG_STREAM_STDOUT, "five\n");
	assert_file(tmp_path("good.log"), "2026-11-29T05:49:13.123456Z stdout four\n");
	logbuf_free(lb);
}
END_TEST

static Suite *logbuf_suite(void)
{
	Suite *s = suite_create("logbuf");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_split_across_feeds);
	tcase_add_test(tc, test_byte_at_a_time);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_partial_at_eof);
	tcase_add_test(tc, test_streams_held_apart);
	tcase_add_test(tc, test_nul_and_invalid_utf8);
	tcase_add_test(tc, test_long_line_split);
	tcase_add_test(tc, test_long_line_utf8);
	tcase_add_test(tc, test_notes);
	tcase_add_test(tc, test_random_vs_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("ring");
	tcase_add_test(tc, test_eviction_tight_budget);
	tcase_add_test(tc, test_tiny_budget);
	tcase_add_test(tc, test_tail_and_since);
	tcase_add_test(tc, test_since_after_eviction);
	tcase_add_test(tc, test_flood);
	tcase_set_timeout(tc, 100);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, test_file_format);
	tcase_add_test(tc, test_file_rotation);
	tcase_add_test(tc, test_file_rotation_edges);
	tcase_add_test(tc, test_file_open_error);
	tcase_add_test(tc, test_file_write_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(logbuf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
