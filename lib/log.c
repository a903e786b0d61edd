/*
 * supd's log sink: stderr, plus /dev/kmsg when supd is the machine's init.
 *
 * Neither may ever block supd. A reader of stderr that stalls (`supd | less`, a container log
 * pipe nobody drains, a serial console stopped with ^S) only fills a bounded queue, which a
 * writer thread empties with plain blocking write()s: the inherited stderr keeps its mode,
 * since services with StandardOutput=inherit share that open file description. A line that
 * does not fit is dropped and counted; the count is reported in the stream once there is room.
 *
 * What goes to /dev/kmsg is rate-limited (a burst, then a trickle), so a crash loop cannot
 * evict the kernel's own messages from its ring; a line held back from kmsg goes to stderr.
 *
 * The writer thread starts with every signal blocked, never allocates and takes no lock but
 * the queue's own: children are created with a raw clone3 (no atfork handlers run), so a lock
 * the thread held at that moment would stay held in the child. A child never logs through the
 * queue (it has no writer thread): it writes directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sup/log.h"

static enum sup_log_level max_level = SUP_LOG_INFO;
static int kmsg_fd = -1;
static int kmsg_console_level;
static const int kmsg_prio[] = {
    [SUP_LOG_ERROR] = 3, [SUP_LOG_WARN] = 4, [SUP_LOG_INFO] = 6, [SUP_LOG_DEBUG] = 7};

static const char *const level_names[] = {
    [SUP_LOG_ERROR] = "error",
    [SUP_LOG_WARN] = "warning",
    [SUP_LOG_INFO] = "info",
    [SUP_LOG_DEBUG] = "debug",
};

#define QUEUE_BYTES  (64 * 1024)
#define WRITER_STACK (64 * 1024)

enum writer_state { WRITER_NONE, WRITER_RUNNING, WRITER_FAILED };

/* The stderr queue: buf[head ..] circular, len bytes; the writer owns them until written. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t more; /* lines queued: the writer wakes */
	pthread_cond_t idle; /* the queue emptied: sup_log_flush() wakes */
	char buf[QUEUE_BYTES];
	size_t head, len;
	unsigned long dropped; /* lines not queued since the last report */
	enum writer_state state;
	pid_t owner; /* the process whose thread the writer is */
} q = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .more = PTHREAD_COND_INITIALIZER,
       .idle = PTHREAD_COND_INITIALIZER};

/* kmsg: a token bucket of KMSG_BURST lines, one more every KMSG_REFILL_MS (the kernel's own
 * /dev/kmsg limit, which supd turns off as PID 1, is 10 lines per 5 s). */
#define KMSG_BURST     200
#define KMSG_REFILL_MS 500

static struct {
	bool started;
	unsigned tokens;
	uint64_t refilled_ms;
	unsigned long suppressed; /* lines held back since the last note */
} kl;

void sup_log_set_level(enum sup_log_level level)
{
	max_level = level;
}

void sup_log_set_kmsg(int fd, int console_level)
{
	kmsg_fd = fd;
	kmsg_console_level = console_level;
}

int sup_log_parse_level(const char *s, enum sup_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0 ||
		    (i == SUP_LOG_WARN && !strcasecmp(s, "warn"))) {
			*level = (enum sup_log_level)i;
			return 0;
		}
	return -1;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the writer thread */

/* Write what it can of p; returns how many bytes are done with (written or given up on). */
static size_t write_some(const char *p, size_t n)
{
	struct pollfd pfd = {.fd = STDERR_FILENO, .events = POLLOUT};
	ssize_t w = write(STDERR_FILENO, p, n);

	if (w >= 0)
		return (size_t)w;
	if (errno == EINTR)
		return 0;
	if (errno == EAGAIN) { /* someone made the shared description non-blocking */
		poll(&pfd, 1, 1000);
		return 0;
	}
	return n; /* EPIPE, EBADF, EIO: nobody will read it */
}

static void *writer_main(void *arg)
{
	pthread_mutex_lock(&q.lock);
	for (;;) {
		size_t head, n, done;

		while (!q.len)
			pthread_cond_wait(&q.more, &q.lock);
		head = q.head;
		n = q.len < QUEUE_BYTES - head ? q.len : QUEUE_BYTES - head;
		pthread_mutex_unlock(&q.lock);
		/* the producer only appends after head + len: these bytes are the writer's */
		done = write_some(q.buf + head, n);
		pthread_mutex_lock(&q.lock);
		q.head = (q.head + done) % QUEUE_BYTES;
		q.len -= done;
		if (!q.len)
			pthread_cond_broadcast(&q.idle);
	}
	return NULL;
}

static void flush_at_exit(void)
{
	sup_log_flush(2000);
}

/* With q.lock held. Every signal blocked in the thread: signals stay supd's main thread's. */
static void start_writer(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int e;

	q.state = WRITER_FAILED;
	if (pthread_attr_init(&attr) != 0)
		return;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, WRITER_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&t, &attr, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (e != 0)
		return; /* lines are written directly, as a last resort */
	q.state = WRITER_RUNNING;
	q.owner = getpid();
	atexit(flush_at_exit);
}

static void push(const char *s, size_t n)
{
	size_t tail = (q.head + q.len) % QUEUE_BYTES;
	size_t first = n < QUEUE_BYTES - tail ? n : QUEUE_BYTES - tail;

	memcpy(q.buf + tail, s, first);
	memcpy(q.buf, s + first, n - first);
	q.len += n;
}

static void write_direct(const char *line, size_t n)
{
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to say it */
	}
}

/* Queue a line for stderr; false if there was no writer to queue it for. */
static bool enqueue(const char *line, size_t n)
{
	char note[96];
	int k = 0;

	pthread_mutex_lock(&q.lock);
	if (q.state == WRITER_NONE)
		start_writer();
	if (q.state != WRITER_RUNNING) {
		pthread_mutex_unlock(&q.lock);
		return false;
	}
	if (q.dropped)
		k = snprintf(note, sizeof(note),
			     "supd: warning: %lu log lines dropped (stderr was not being read)\n",
			     q.dropped);
	if (k >= 0 && q.len + (size_t)k + n <= QUEUE_BYTES) {
		push(note, (size_t)k);
		push(line, n);
		q.dropped = 0;
		pthread_cond_signal(&q.more);
	} else {
		q.dropped++;
	}
	pthread_mutex_unlock(&q.lock);
	return true;
}

static void log_stderr(const char *line, size_t n)
{
	/* a forked child has a copy of the queue but no writer thread */
	if (q.owner && q.owner != getpid()) {
		write_direct(line, n);
		return;
	}
	if (!enqueue(line, n))
		write_direct(line, n);
}

bool sup_log_flush(unsigned timeout_ms)
{
	uint64_t end_ms = mono_ms() + timeout_ms;
	struct timespec end = {(time_t)(end_ms / 1000), (long)(end_ms % 1000) * 1000000};
	bool empty;

	if (q.owner && q.owner != getpid())
		return true;
	pthread_mutex_lock(&q.lock);
	while (q.len && q.state == WRITER_RUNNING)
		if (pthread_cond_clockwait(&q.idle, &q.lock, CLOCK_MONOTONIC, &end) == ETIMEDOUT)
			break;
	empty = q.len == 0;
	pthread_mutex_unlock(&q.lock);
	return empty;
}

/* --- /dev/kmsg */

static bool kmsg_allow(void)
{
	uint64_t now = mono_ms();
	uint64_t add;

	if (!kl.started) {
		kl.started = true;
		kl.tokens = KMSG_BURST;
		kl.refilled_ms = now;
	}
	add = (now - kl.refilled_ms) / KMSG_REFILL_MS;
	if (add) {
		kl.tokens = kl.tokens + add > KMSG_BURST ? KMSG_BURST : kl.tokens + (unsigned)add;
		kl.refilled_ms += add * KMSG_REFILL_MS;
	}
	if (!kl.tokens) {
		kl.suppressed++;
		return false;
	}
	kl.tokens--;
	return true;
}

static void kmsg_write(const char *rec, size_t n)
{
	if (write(kmsg_fd, rec, n) < 0) {
		/* the console still has it */
	}
}

/* One record per write: "<prio>supd: [unit: ]level: text". True if the kernel prints it on the
 * console itself (its priority is under the console log level). */
static bool log_kmsg(enum sup_log_level level, const char *unit, const char *line, int n)
{
	char rec[2100];
	int k;

	if (kmsg_fd < 0 || !kmsg_allow())
		return false;
	if (kl.suppressed) {
		k = snprintf(
		    rec, sizeof(rec),
		    "<4>supd: warning: %lu lines not written to /dev/kmsg (rate limit: %u, "
		    "then 1 every %u ms); the console and the units' logs have them\n",
		    kl.suppressed, KMSG_BURST, KMSG_REFILL_MS);
		kmsg_write(rec, (size_t)k);
		kl.suppressed = 0;
	}
	k = snprintf(rec, sizeof(rec), "<%d>%s%.*s", kmsg_prio[level], unit ? "supd: " : "", n,
		     line);
	if (k < 0)
		return false;
	if ((size_t)k >= sizeof(rec))
		k = sizeof(rec) - 1;
	return write(kmsg_fd, rec, k) == k && kmsg_prio[level] < kmsg_console_level;
}

void sup_log(enum sup_log_level level, const char *unit, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", unit ? unit : "supd", level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* One write per line, so lines from several writers never interleave. */
	n = strlen(line);
	if ((size_t)n < sizeof(line) - 1)
		line[n++] = '\n';
	else
		line[sizeof(line) - 2] = '\n';
	if (log_kmsg(level, unit, line, n))
		return; /* the kernel prints it on the console */
	log_stderr(line, (size_t)n);
}
