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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/fileio.h"
#include "container.h"
#include "init_loop.h"

int ct_fail_pipe = -1;

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

/* Become sup-init (exec'd from its sealed memfd): returns only if the kernel refused. */
static void exec_image(int image, int sync, pid_t svc, int execd)
{
	char a1[16], a2[16], a3[16];
	char *argv[] = {"sup-init", a1, a2, a3, NULL}, *envp[] = {NULL};

	snprintf(a1, sizeof(a1), "%d", sync);
	snprintf(a2, sizeof(a2), "%d", (int)svc);
	snprintf(a3, sizeof(a3), "%d", execd);
	if (fcntl(sync, F_SETFD, 0) < 0 || fcntl(execd, F_SETFD, 0) < 0)
		return;
	syscall(SYS_execveat, image, "", argv, envp, AT_EMPTY_PATH);
	fcntl(sync, F_SETFD, FD_CLOEXEC);
	fcntl(execd, F_SETFD, FD_CLOEXEC);
}

pid_t ct_init_fork(int sync, int image)
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
	if (image >= 0)
		exec_image(image, sync, svc, x[0]);
	/* no image (or the kernel refused it): this copy of supd serves */
	rename_self();
	if (ct_init_execd(x[0]))
		ct_report(sync, SPAWN_REPORT_EXECD, 0, NULL);
	ct_init_serve(sync, svc, &all);
}

extern const char sup_init_image[], sup_init_image_end[];

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static int make_image(void)
{
	size_t size = (size_t)(sup_init_image_end - sup_init_image);
	int fd = memfd_create("sup-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

	if (fd < 0 && errno == EINVAL) /* before 6.3 */
		fd = memfd_create("sup-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, sup_init_image + off, size - off);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0555) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int spawn_init_image(void)
{
	static int fd = -2;

	if (fd == -2)
		fd = make_image();
	return fd;
}
