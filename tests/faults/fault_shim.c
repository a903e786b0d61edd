/*
 * Fault injection for the tests (LD_PRELOAD into supd): allocations that fail with ENOMEM and
 * a wall clock that jumps, both steered at run time through a small control file the test
 * writes (SUP_FAULT_FILE, struct fault_ctl below), so that supd can be brought up normally
 * and then made to run out of memory or see its clock jump, and recover when it is over.
 *
 *   every > 0: every `every`-th allocation fails (malloc, calloc, realloc, posix_memalign,
 *              aligned_alloc; free never does), counted across threads
 *   realtime_offset_ns: added to CLOCK_REALTIME(_COARSE), gettimeofday() and time()
 *
 * Allocation goes to glibc's __libc_* functions, so dlsym (which allocates) is not needed
 * for them; clock_gettime is found with dlsym once.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct fault_ctl {
	int32_t every;
	int32_t pad;
	int64_t realtime_offset_ns;
	uint64_t failed; /* written by the shim: allocations failed so far */
};

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile struct fault_ctl *ctl;
static atomic_ulong count;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void init(void)
{
	const char *path = getenv("SUP_FAULT_FILE");
	int fd = path ? open(path, O_RDWR | O_CLOEXEC) : -1;
	void *p;

	if (fd < 0)
		return;
	p = mmap(NULL, sizeof(struct fault_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p != MAP_FAILED)
		ctl = p;
}

static int fail_now(void)
{
	int32_t every = ctl ? ctl->every : 0;

	if (every <= 0 || (atomic_fetch_add(&count, 1) + 1) % (unsigned long)every)
		return 0;
	ctl->failed++;
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	return fail_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	return n && fail_now() ? NULL : __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = fail_now() ? NULL : __libc_memalign(align, n);

	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	return fail_now() ? NULL : __libc_memalign(align, n);
}

void free(void *p)
{
	__libc_free(p);
}

static void shift(struct timespec *ts)
{
	int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;

	ns += ctl ? ctl->realtime_offset_ns : 0;
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int r;

	if (!real_clock_gettime)
		real_clock_gettime =
		    (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	r = real_clock_gettime(id, ts);
	if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		shift(ts);
	return r;
}

int gettimeofday(struct timeval *tv, void *tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
