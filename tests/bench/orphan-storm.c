/* orphan-storm: make N orphans for PID 1 to reap, and time how long until all are gone.
 *
 *   orphan-storm N OUTFILE
 *
 * Run as a service under the init being measured, in a fresh pid namespace with its own
 * /proc. It forks a helper; the helper forks N children, each blocked on read() of a pipe
 * whose write end only the helper holds, then exits. The helper's exit makes the N children
 * orphans (reparented to PID 1) and closes the pipe: they all see EOF and exit at once, and
 * PID 1 has N zombies to reap. We poll /proc of the namespace (small getdents64 reads that
 * stop at the first pid that is neither PID 1 nor one that existed before the storm) until
 * nothing of the storm is left, zombies included.
 *
 * OUTFILE gets one line: "N TOTAL_MS FORK_MS REAP_MS PID1_CPU_MS" — TOTAL from the first
 * fork to no zombie left, FORK the helper's forking, REAP from the helper's exit (the
 * orphaning) to no zombie left, PID1_CPU the CPU time PID 1 used over TOTAL (from
 * /proc/1/sched, -1 if unavailable); or "error ...". Every wait is bounded (60 s).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

#define MAXBASE 64
static long base[MAXBASE];
static int nbase;

static int is_base(long pid)
{
	for (int i = 0; i < nbase; i++)
		if (base[i] == pid)
			return 1;
	return 0;
}

/* 1 if /proc lists a pid that is not PID 1 and not in the baseline; record baseline if asked */
static int storm_left(int record)
{
	char buf[2048];
	int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int found = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			off += d->d_reclen;
			char *end;
			long pid = strtol(d->d_name, &end, 10);
			if (*end || pid <= 1)
				continue;
			if (record) {
				if (nbase < MAXBASE)
					base[nbase++] = pid;
			} else if (!is_base(pid)) {
				found = 1;
				break;
			}
		}
		if (found)
			break;
	}
	close(fd);
	return found;
}

/* PID 1's CPU time so far, in ms (se.sum_exec_runtime), or -1 */
static double pid1_cpu_ms(void)
{
	char line[256];
	double v = -1;
	FILE *f = fopen("/proc/1/sched", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "se.sum_exec_runtime", 19) == 0) {
			char *colon = strchr(line, ':');
			if (colon)
				v = strtod(colon + 1, NULL);
			break;
		}
	fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s N OUTFILE\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[1]);
	const char *out = argv[2];
	FILE *f;
	storm_left(1); /* PID 1's own helpers, if any, and this process */

	int rep[2];
	if (pipe(rep) < 0)
		return 1;
	double cpu0 = pid1_cpu_ms();
	double t0 = now_ms();
	pid_t helper = fork();
	if (helper < 0)
		return 1;
	if (helper == 0) {
		int p[2];
		int made = 0;
		close(rep[0]);
		if (pipe(p) < 0)
			_exit(1);
		for (int i = 0; i < n; i++) {
			pid_t c = fork();
			if (c == 0) {
				char b;
				close(p[1]);
				close(rep[1]);
				while (read(p[0], &b, 1) < 0 && errno == EINTR)
					;
				_exit(0);
			}
			if (c < 0)
				break;
			made++;
		}
		double tf = now_ms();
		char msg[64];
		int len = snprintf(msg, sizeof msg, "%d %.3f\n", made, tf);
		if (write(rep[1], msg, len) < 0)
			_exit(1);
		_exit(0); /* orphans the children and closes p[1]: they all exit now */
	}
	close(rep[1]);
	char msg[64] = {0};
	ssize_t got = read(rep[0], msg, sizeof msg - 1);
	int st;
	while (waitpid(helper, &st, 0) < 0 && errno == EINTR)
		;
	int made = 0;
	double tf = 0;
	if (got <= 0 || sscanf(msg, "%d %lf", &made, &tf) != 2) {
		f = fopen(out, "w");
		if (f) {
			fprintf(f, "error: helper did not report\n");
			fclose(f);
		}
		return 1;
	}
	double deadline = now_ms() + 60000;
	struct timespec nap = {0, 200000}; /* 0.2 ms between looks */
	int left;
	while ((left = storm_left(0)) == 1 && now_ms() < deadline)
		nanosleep(&nap, NULL);
	double tend = now_ms();
	double cpu1 = pid1_cpu_ms();
	f = fopen(out, "w");
	if (!f)
		return 1;
	if (made != n)
		fprintf(f, "error: forked only %d of %d\n", made, n);
	else if (left)
		fprintf(f, "error: orphans still there after 60 s\n");
	else
		fprintf(f, "%d %.1f %.1f %.1f %.1f\n", made, tend - t0, tf - t0, tend - tf,
			cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1.0);
	fclose(f);
	return 0;
}
