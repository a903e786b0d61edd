/* Fork a unit's process and set it up in order; report the first failure to the parent. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/sched.h>

#include "sup/cleanup.h"
#include "sup/spawn.h"
#include "envfile.h"

extern char **environ;

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int spawn_exec_exit_code(int errnum)
{
	return errnum == ENOENT ? 127 : 126;
}

/* In the child: send what failed and leave. Never returns. */
static void __attribute__((noreturn, format(printf, 4, 5)))
child_fail(int fd, int errnum, int code, const char *fmt, ...)
{
	struct spawn_failure f = {.errnum = errnum, .exit_code = code};
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(f.msg, sizeof(f.msg), fmt, ap);
	va_end(ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(f.msg))
		snprintf(f.msg + n, sizeof(f.msg) - n, ": %s", strerror(errnum));
	while (write(fd, &f, sizeof(f)) < 0 && errno == EINTR)
		;
	_exit(code);
}

static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t all;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* fd -1: /dev/null; -2: keep ours. */
static int setup_fd(int fd, int target, int flags)
{
	if (fd == -2)
		return 0;
	if (fd == -1) {
		int null = open("/dev/null", flags | O_CLOEXEC);
		if (null < 0)
			return -1;
		if (dup2(null, target) < 0)
			return -1;
		close(null);
		return 0;
	}
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

static void setup_stdio(int fd, const struct spawn_request *req)
{
	if (setup_fd(req->stdin_fd, 0, O_RDONLY) < 0 || setup_fd(req->stdout_fd, 1, O_WRONLY) < 0 ||
	    setup_fd(req->stderr_fd, 2, O_WRONLY) < 0)
		child_fail(fd, errno, 126, "set up standard input/output");
	if (req->controlling_tty && ioctl(STDIN_FILENO, TIOCSCTTY, 1) < 0)
		child_fail(fd, errno, 126, "make standard input the controlling terminal");
}

static int parse_id(const char *s, unsigned long *id)
{
	char *end;

	errno = 0;
	*id = strtoul(s, &end, 10);
	return (*s && !*end && !errno && *id < UINT32_MAX) ? 0 : -1;
}

/* Resolve and switch to User=/Group=; set HOME, USER, LOGNAME, SHELL if unset. */
static void setup_user(int fd, const struct spawn_request *req)
{
	struct passwd *pw = NULL;
	unsigned long id;
	uid_t uid = 0;
	gid_t gid = 0;

	if (req->user) {
		errno = 0;
		pw = parse_id(req->user, &id) == 0 ? getpwuid(id) : getpwnam(req->user);
		if (!pw && parse_id(req->user, &id) < 0)
			child_fail(fd, errno, 126, "resolve user '%s': %s", req->user,
				   errno ? "lookup failed" : "no such user");
		uid = pw ? pw->pw_uid : (uid_t)id;
		gid = pw ? pw->pw_gid : (gid_t)id;
	}
	if (req->group) {
		struct group *gr;
		errno = 0;
		gr = parse_id(req->group, &id) == 0 ? getgrgid(id) : getgrnam(req->group);
		if (!gr && parse_id(req->group, &id) < 0)
			child_fail(fd, errno, 126, "resolve group '%s': no such group", req->group);
		gid = gr ? gr->gr_gid : (gid_t)id;
	}
	if (!req->user && !req->group)
		return;
	if (pw && initgroups(pw->pw_name, gid) < 0)
		child_fail(fd, errno, 126, "initgroups for '%s'", pw->pw_name);
	if (!pw && setgroups(1, &gid) < 0)
		child_fail(fd, errno, 126, "setgroups");
	if (setgid(gid) < 0)
		child_fail(fd, errno, 126, "setgid %u", (unsigned)gid);
	if (req->user && setuid(uid) < 0)
		child_fail(fd, errno, 126, "setuid %u", (unsigned)uid);
	if (pw) {
		setenv("HOME", pw->pw_dir, 0);
		setenv("USER", pw->pw_name, 0);
		setenv("LOGNAME", pw->pw_name, 0);
		setenv("SHELL", pw->pw_shell, 0);
	}
}

/* supd keeps itself out of the OOM killer's way (-1000); its services start from 0. */
static void reset_oom_score(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "0", 1) < 0) {
			/* not allowed (unprivileged supd): the inherited value stays */
		}
		close(fd);
	}
}

static void __attribute__((noreturn)) child_main(int fd, const struct spawn_request *req)
{
	struct sup_error *err = NULL;

	reset_signals();
	reset_oom_score();
	if (req->nofile_soft) {
		struct rlimit rl = {req->nofile_soft, req->nofile_hard};
		if (!rl.rlim_max && getrlimit(RLIMIT_NOFILE, &rl) == 0)
			rl.rlim_cur = req->nofile_soft;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (req->new_session && setsid() < 0)
		child_fail(fd, errno, 126, "setsid");
	setup_stdio(fd, req);

	environ = (char **)req->envp;
	if (req->env_files && envfile_apply(req->env_files, &err) < 0)
		child_fail(fd, err->errnum, 126, "%s", err->msg);
	setup_user(fd, req);
	if (chdir(req->cwd ? req->cwd : "/") < 0)
		child_fail(fd, errno, 126, "chdir to '%s'", req->cwd ? req->cwd : "/");
	/* Nothing of supd's leaks into the service: every fd above 2 closes at exec. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execvp(req->argv[0], req->argv);
	child_fail(fd, errno, spawn_exec_exit_code(errno), "exec %s", req->argv[0]);
}

/* clone3 with CLONE_INTO_CGROUP: like fork, born in the cgroup. -1 with errno if refused. */
static pid_t clone_into_cgroup(int cgroup_fd)
{
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
	struct clone_args args = {
	    .flags = CLONE_INTO_CGROUP,
	    .exit_signal = SIGCHLD,
	    .cgroup = (uint64_t)cgroup_fd,
	};
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* In the child: wait until the parent has put us in the cgroup (an int: 0 or its errno). */
static void wait_for_cgroup(int sync, int go)
{
	int e = EIO;
	ssize_t n;

	do
		n = read(go, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(go);
	if (n != (ssize_t)sizeof(e))
		e = EIO;
	if (e)
		child_fail(sync, e, 126, "join the unit's cgroup");
}

pid_t spawn_process(const struct spawn_request *req, int *sync_fd, struct sup_error **err)
{
	int p[2], go[2] = {-1, -1};
	pid_t pid = -1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sup_error_set(err, errno, "create sync pipe");
	if (req->place && req->into_cgroup && req->cgroup_fd >= 0) {
		pid = clone_into_cgroup(req->cgroup_fd);
		if (pid == 0) {
			close(p[0]);
			child_main(p[1], req);
		}
		if (req->clone3_errno)
			*req->clone3_errno = pid < 0 ? errno : 0;
	}
	if (pid < 0 && req->place && pipe2(go, O_CLOEXEC) < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return sup_error_set(err, e, "create cgroup pipe");
	}
	if (pid < 0)
		pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		if (go[0] >= 0) {
			close(go[0]);
			close(go[1]);
		}
		return sup_error_set(err, e, "fork");
	}
	if (pid == 0) {
		close(p[0]);
		if (go[0] >= 0) {
			close(go[1]);
			wait_for_cgroup(p[1], go[0]);
		}
		child_main(p[1], req);
	}
	if (go[0] >= 0) {
		struct sup_error *perr = NULL;
		int e = 0;

		close(go[0]);
		if (req->place(pid, req->place_arg, &perr) < 0) {
			e = perr && perr->errnum ? perr->errnum : EIO;
			sup_error_free(perr);
		}
		if (write(go[1], &e, sizeof(e)) < 0) {
			/* the child is gone already: its exit says so */
		}
		close(go[1]);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	*sync_fd = p[0];
	return pid;
}

int spawn_read_result(int sync_fd, struct spawn_failure *f)
{
	ssize_t n;

	do
		n = read(sync_fd, f, sizeof(*f));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return -1;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*f)) {
		memset(f, 0, sizeof(*f));
		f->errnum = n < 0 ? errno : EPROTO;
		f->exit_code = 126;
		snprintf(f->msg, sizeof(f->msg), "spawn: short report from the child");
		return 1;
	}
	f->msg[sizeof(f->msg) - 1] = '\0';
	return 1;
}
