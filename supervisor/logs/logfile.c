/*
 * The log-file writer thread and its queue. Records are [header][bytes] in a circular buffer
 * (a record never straddles the end: a pad record fills the tail instead). The thread owns
 * each file's fd, size and rotation; the loop owns the handle's memory (allocated and freed by
 * the loop only), the drop count and the failure report.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logs/logfile.h"

#define QUEUE_BYTES (1u << 20)
#define FILE_MODE   0640
#define PATH_EXTRA  12 /* ".4294967295" + NUL */

enum op {
	OP_PAD,
	OP_OPEN,
	OP_WRITE,
	OP_CLOSE,
};

enum failure {
	FAIL_NONE,
	FAIL_OPEN,
	FAIL_WRITE,
	FAIL_ROTATE,
};

struct logfile {
	/* set by the loop before the first record, read-only after */
	char *path, *from, *to;
	uint64_t max_size;
	unsigned keep;
	/* the thread's */
	int fd;
	uint64_t size;
	/* thread -> loop */
	atomic_int failure; /* enum failure, set once */
	atomic_int err;
	/* the loop's */
	bool reported;
	bool closing;
	uint64_t dropped; /* lines not queued since the last mark */
	struct logfile *next_closed;
};

struct rec {
	uint32_t op;
	uint32_t len; /* bytes after the header */
	struct logfile *f;
};

#define REC_ALIGN(n) (((n) + 15) & ~(size_t)15) /* a pad of the tail always fits a header */
#define RESERVE	     (64u << 10) /* room lines may not take: opens and closes always fit */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more, idle;
	char buf[QUEUE_BYTES];
	size_t head, len; /* bytes queued from head on */
	bool busy;	  /* the thread holds a record */
	bool started;
	struct logfile *closed; /* closed by the thread: the loop frees them */
	int efd;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .more = PTHREAD_COND_INITIALIZER,
       .idle = PTHREAD_COND_INITIALIZER,
       .efd = -1};

/* ---- the thread */

static void fail(struct logfile *f, enum failure what, int err)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (atomic_load(&f->failure) == FAIL_NONE) {
		atomic_store(&f->err, err);
		atomic_store(&f->failure, what);
	}
}

static void do_open(struct logfile *f)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		     FILE_MODE);
	if (f->fd < 0 || fstat(f->fd, &st) < 0) {
		fail(f, FAIL_OPEN, errno);
		return;
	}
	f->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (!S_ISREG(st.st_mode))
		f->max_size = 0; /* a FIFO or a tty: nothing to rotate */
}

/* path -> path.1 -> ... -> path.keep (the old path.keep is replaced, i.e. dropped). */
static int do_rotate(struct logfile *f)
{
	size_t plen = strlen(f->path);

	close(f->fd);
	f->fd = -1;
	for (unsigned i = f->keep; i > 1; i--) {
		snprintf(f->from, plen + PATH_EXTRA, "%s.%u", f->path, i - 1);
		snprintf(f->to, plen + PATH_EXTRA, "%s.%u", f->path, i);
		rename(f->from, f->to); /* ENOENT: fewer files so far */
	}
	if (f->keep > 0) {
		snprintf(f->to, plen + PATH_EXTRA, "%s.1", f->path);
		rename(f->path, f->to);
	}
	f->fd = open(f->path,
		     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		     FILE_MODE);
	f->size = 0;
	return f->fd < 0 ? -1 : 0;
}

static void do_write(struct logfile *f, const char *p, size_t n)
{
	ssize_t w;

	if (f->fd < 0)
		return;
	if (f->max_size && f->size > 0 && f->size + n > f->max_size && do_rotate(f) < 0) {
		fail(f, FAIL_ROTATE, errno);
		return;
	}
	do
		w = write(f->fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return; /* a full FIFO: the line is lost, never waited for */
	if (w >= 0)
		f->size += (uint64_t)w;
	if (w < 0 || (size_t)w != n)
		fail(f, FAIL_WRITE, w < 0 ? errno : ENOSPC);
}

static void do_close(struct logfile *f)
{
	uint64_t one = 1;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	pthread_mutex_lock(&q.lock);
	f->next_closed = q.closed;
	q.closed = f;
	pthread_mutex_unlock(&q.lock);
	if (q.efd >= 0 && write(q.efd, &one, sizeof(one)) < 0) {
		/* the counter is full: the loop has plenty to collect already */
	}
}

static void run(struct rec *r, const char *payload)
{
	switch (r->op) {
	case OP_OPEN:
		do_open(r->f);
		break;
	case OP_WRITE:
		do_write(r->f, payload, r->len);
		break;
	case OP_CLOSE:
		do_close(r->f);
		break;
	default:
		break;
	}
}

static void *writer(void *arg)
{
	pthread_mutex_lock(&q.lock);
	for (;;) {
		struct rec *r;
		size_t size;

		while (q.len == 0) {
			pthread_cond_broadcast(&q.idle);
			pthread_cond_wait(&q.more, &q.lock);
		}
		r = (struct rec *)(q.buf + q.head);
		size = REC_ALIGN(sizeof(*r) + r->len);
		q.busy = true;
		pthread_mutex_unlock(&q.lock);
		run(r, (const char *)(r + 1)); /* its bytes stay ours until the head moves */
		pthread_mutex_lock(&q.lock);
		q.busy = false;
		q.head = (q.head + size) % QUEUE_BYTES;
		q.len -= size;
	}
	return arg;
}

static bool start(void)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	int r;

	if (q.started)
		return true;
	q.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q.efd < 0)
		return false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits: no signal lands there */
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &a, writer, NULL);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		close(q.efd);
		q.efd = -1;
		return false;
	}
	q.started = true;
	return true;
}

/* ---- the loop */

/* Queue a record; false when there is no room. */
static bool push(enum op op, struct logfile *f, const char *bytes, size_t n)
{
	size_t size = REC_ALIGN(sizeof(struct rec) + n), tail, room;
	struct rec *r;

	if (!start() || size > QUEUE_BYTES / 4)
		return false;
	pthread_mutex_lock(&q.lock);
	if (q.len == 0 && !q.busy)
		q.head = 0;
	tail = (q.head + q.len) % QUEUE_BYTES;
	room = QUEUE_BYTES - q.len;
	if (op == OP_WRITE)
		room = room > RESERVE ? room - RESERVE : 0;
	if (tail + size > QUEUE_BYTES) { /* no straddling: pad to the end, start over */
		size_t pad = QUEUE_BYTES - tail;
		if (room < pad + size) {
			pthread_mutex_unlock(&q.lock);
			return false;
		}
		*(struct rec *)(q.buf + tail) =
		    (struct rec){OP_PAD, (uint32_t)(pad - sizeof(*r)), f};
		q.len += pad;
		tail = 0;
		room -= pad;
	}
	if (room < size) {
		pthread_mutex_unlock(&q.lock);
		return false;
	}
	r = (struct rec *)(q.buf + tail);
	*r = (struct rec){op, (uint32_t)n, f};
	if (n)
		memcpy(r + 1, bytes, n);
	q.len += size;
	pthread_cond_signal(&q.more);
	pthread_mutex_unlock(&q.lock);
	return true;
}

/* Is there room for size bytes of lines (pads aside)? A hint: the thread only frees room. */
static bool room_for(size_t size)
{
	bool ok;

	pthread_mutex_lock(&q.lock);
	ok = QUEUE_BYTES - q.len >= size + RESERVE + QUEUE_BYTES / 64;
	pthread_mutex_unlock(&q.lock);
	return ok;
}

static void handle_free(struct logfile *f)
{
	free(f->path);
	free(f->from);
	free(f->to);
	free(f);
}

struct logfile *logfile_open(const char *path, uint64_t max_size, unsigned keep)
{
	struct logfile *f = calloc(1, sizeof(*f));
	size_t plen = strlen(path);

	if (!f)
		return NULL;
	f->fd = -1;
	f->path = strdup(path);
	f->from = malloc(plen + PATH_EXTRA);
	f->to = malloc(plen + PATH_EXTRA);
	f->max_size = max_size == UINT64_MAX ? 0 : max_size;
	f->keep = keep;
	if (!f->path || !f->from || !f->to) {
		handle_free(f);
		return NULL;
	}
	if (!push(OP_OPEN, f, NULL, 0)) {
		atomic_store(&f->err, EAGAIN);
		atomic_store(&f->failure, FAIL_OPEN); /* the thread never saw it: ours to free */
		f->closing = true;
	}
	return f;
}

bool logfile_write(struct logfile *f, const char *line, size_t len)
{
	char mark[96];
	int n;

	if (atomic_load(&f->failure) != FAIL_NONE)
		return false;
	if (f->dropped) {
		/* the mark goes only when the line after it fits too: one mark per gap */
		n = snprintf(mark, sizeof(mark),
			     "[sup: %llu lines not written here: the disk did not keep up]\n",
			     (unsigned long long)f->dropped);
		if (n > 0 &&
		    room_for(REC_ALIGN(sizeof(struct rec) + (size_t)n) +
			     REC_ALIGN(sizeof(struct rec) + len)) &&
		    push(OP_WRITE, f, mark, (size_t)n))
			f->dropped = 0;
	}
	if (f->dropped || !push(OP_WRITE, f, line, len)) {
		f->dropped++;
		return false;
	}
	return true;
}

void logfile_close(struct logfile *f)
{
	if (!f)
		return;
	if (f->closing) { /* never handed to the thread: ours alone */
		handle_free(f);
		return;
	}
	/* closes have a reserve of their own; past it, wait for the disk a little, and if it
	 * still does not move, leave the handle (and its fd) to the thread for good */
	if (!push(OP_CLOSE, f, NULL, 0) && !(logfile_sync(1000) && push(OP_CLOSE, f, NULL, 0)))
		return;
	f->closing = true;
}

bool logfile_failed(struct logfile *f, const char **what, int *err)
{
	static const char *const names[] = {"", "open", "write", "rotate"};
	int fl = atomic_load(&f->failure);

	if (fl == FAIL_NONE || f->reported)
		return false;
	f->reported = true;
	*what = names[fl];
	*err = atomic_load(&f->err);
	return true;
}

const char *logfile_path(const struct logfile *f)
{
	return f->path;
}

int logfile_event_fd(void)
{
	start();
	return q.efd;
}

void logfile_collect(void)
{
	struct logfile *list;
	uint64_t n;

	if (q.efd >= 0 && read(q.efd, &n, sizeof(n)) < 0) {
		/* nothing signalled: a sync collects without it */
	}
	pthread_mutex_lock(&q.lock);
	list = q.closed;
	q.closed = NULL;
	pthread_mutex_unlock(&q.lock);
	while (list) {
		struct logfile *next = list->next_closed;
		handle_free(list);
		list = next;
	}
}

bool logfile_sync(unsigned timeout_ms)
{
	struct timespec until;
	bool done;

	if (!q.started)
		return true;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q.lock);
	while ((q.len || q.busy) && pthread_cond_timedwait(&q.idle, &q.lock, &until) != ETIMEDOUT)
		;
	done = q.len == 0 && !q.busy;
	pthread_mutex_unlock(&q.lock);
	logfile_collect();
	return done;
}
