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
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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
	if (service_execd(x[0]))
		ct_report(sync, SPAWN_REPORT_EXECD, 0, NULL);
	serve(sync, svc, &all);
}
