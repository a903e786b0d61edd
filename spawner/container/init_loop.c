/* The container init's loop (init_loop.h): shared by sup-init and the spawner's child. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/spawn.h"
#include "init_loop.h"

static void report(int sync, int kind, int value)
{
	struct spawn_failure f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.errnum = value;
	while (write(sync, &f, sizeof(f)) < 0 && errno == EINTR)
		;
}

bool ct_init_execd(int fd)
{
	char b;
	ssize_t n;

	do
		n = read(fd, &b, 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == 0;
}

void ct_init_report_execd(int sync)
{
	report(sync, SPAWN_REPORT_EXECD, 0);
}

void ct_init_serve(int sync, pid_t svc, const sigset_t *all)
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
			report(sync, SPAWN_REPORT_STATUS, st);
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
	}
}
