/*
 * The container init (architecture decision 5): the spawner's own forked child stays as PID 1
 * of the pid namespace, so it needs nothing from the root (no loader, no libc in the image).
 * It forks the service, tells supd when the service exec'd, forwards every signal it gets to
 * the service, reaps every orphan, and reports the service's real wait status over the sync
 * fd before it exits: a pid namespace's init cannot die of a signal itself, and its own exit
 * code would turn a SIGSEGV into "exit 139" and break Restart=on-abnormal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/fileio.h"
#include "container.h"

int ct_fail_pipe = -1;

/* Until the service exec'd or failed: EOF alone means exec'd (the pipe is O_CLOEXEC). */
static bool service_execd(int fd)
{
	char b;
	ssize_t n;

	do
		n = read(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == 0;
}

static void __attribute__((noreturn)) serve(int sync, pid_t svc, const sigset_t *all)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(all, &si), st;
		pid_t p;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(svc, sig);
			continue;
		}
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p != svc)
				continue; /* an orphan */
			ct_report(sync, SPAWN_REPORT_STATUS, st, NULL);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
	}
}

/* ps in the container shows "sup-init", not supd's command line: the argument area of our
 * copy of supd's memory rewritten (as setproctitle does), and the thread's name. */
static void rename_self(void)
{
	char buf[1024], *p;
	unsigned long start = 0, end = 0;

	prctl(PR_SET_NAME, "sup-init", 0, 0, 0);
	if (sup_read_at(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf)) <= 0 ||
	    !(p = strrchr(buf, ')')))
		return;
	/* arg_start and arg_end are fields 48 and 49; field 2 ended at the ')' */
	for (int field = 2; field < 48 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %lu %lu", &start, &end) != 2 || end <= start + 9)
		return;
	memset((void *)start, 0, end - start);
	memcpy((void *)start, "sup-init", 9);
}

pid_t ct_init_fork(int sync)
{
	sigset_t all, none;
	int x[2];
	pid_t svc;

	if (pipe2(x, O_CLOEXEC) < 0)
		ct_fail(sync, errno, "container init: pipe");
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &all, NULL);
	svc = fork();
	if (svc < 0)
		ct_fail(sync, errno, "container init: fork the service");
	if (svc == 0) {
		close(x[0]);
		ct_fail_pipe = x[1];
		sigprocmask(SIG_SETMASK, &none, NULL);
		return 0;
	}
	close(x[1]);
	rename_self();
	if (service_execd(x[0]))
		ct_report(sync, SPAWN_REPORT_EXECD, 0, NULL);
	serve(sync, svc, &all);
}
