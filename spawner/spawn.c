/* Fork a unit's process and set it up in order; report the first failure to the parent. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/sched.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/spawn.h"
#include "container/container.h"
#include "container/sys.h"
#include "child.h"
#include "envfile.h"

extern char **environ;

int spawn_exec_exit_code(int errnum)
{
	return errnum == ENOENT ? 127 : 126;
}

/* In the child: send what failed and leave. Never returns. */
void child_fail(int fd, int errnum, int code, const char *fmt, ...)
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

struct ids {
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	bool set; /* User= or Group= given */
};

/* Resolve User=/Group= (numbers need no entry in the files). */
static void resolve_user(int fd, const struct spawn_request *req, struct ids *id)
{
	unsigned long n;

	*id = (struct ids){.set = req->user || req->group};
	if (req->user) {
		errno = 0;
		id->pw = parse_id(req->user, &n) == 0 ? getpwuid(n) : getpwnam(req->user);
		if (!id->pw && parse_id(req->user, &n) < 0)
			child_fail(fd, errno, 126, "resolve user '%s': %s", req->user,
				   errno ? "lookup failed" : "no such user");
		id->uid = id->pw ? id->pw->pw_uid : (uid_t)n;
		id->gid = id->pw ? id->pw->pw_gid : (gid_t)n;
	}
	if (req->group) {
		struct group *gr;
		errno = 0;
		gr = parse_id(req->group, &n) == 0 ? getgrgid(n) : getgrnam(req->group);
		if (!gr && parse_id(req->group, &n) < 0)
			child_fail(fd, errno, 126, "resolve group '%s': no such group", req->group);
		id->gid = gr ? gr->gr_gid : (gid_t)n;
	}
}

/* Switch to them; set HOME, USER, LOGNAME, SHELL if unset. */
static void switch_user(int fd, const struct spawn_request *req, const struct ids *id)
{
	if (!id->set)
		return;
	if (id->pw && initgroups(id->pw->pw_name, id->gid) < 0)
		child_fail(fd, errno, 126, "initgroups for '%s'", id->pw->pw_name);
	if (!id->pw && setgroups(1, &id->gid) < 0)
		child_fail(fd, errno, 126, "setgroups");
	if (setgid(id->gid) < 0)
		child_fail(fd, errno, 126, "setgid %u", (unsigned)id->gid);
	if (req->user && setuid(id->uid) < 0)
		child_fail(fd, errno, 126, "setuid %u", (unsigned)id->uid);
	if (id->pw) {
		setenv("HOME", id->pw->pw_dir, 0);
		setenv("USER", id->pw->pw_name, 0);
		setenv("LOGNAME", id->pw->pw_name, 0);
		setenv("SHELL", id->pw->pw_shell, 0);
	}
}

/* mkdir -p path (its parents 0755), the last owned by the unit's user with mode. */
static void make_dir(int fd, const char *path, unsigned mode, const struct ids *id)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		child_fail(fd, ENAMETOOLONG, 126, "create directory %s", path);
	for (char *p = buf + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			child_fail(fd, errno, 126, "create directory %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		child_fail(fd, errno, 126, "create directory %s", buf);
	if (chmod(buf, mode) < 0 || (id->set && chown(buf, id->uid, id->gid) < 0))
		child_fail(fd, errno, 126, "set the owner of %s", buf);
}

/* Limit*=, UMask=, Nice=, OOMScoreAdjust=, IgnoreSIGPIPE=, the unit's directories. */
static void apply_settings(int fd, const struct spawn_settings *st, const struct ids *id)
{
	for (int r = 0; st->limits && r < UNIT_RLIMITS; r++) {
		const struct unit_rlimit *l = &st->limits[r];
		struct rlimit rl = {l->soft == SIZE_INFINITY ? RLIM_INFINITY : l->soft,
				    l->hard == SIZE_INFINITY ? RLIM_INFINITY : l->hard};
		if (l->soft != UNIT_RES_UNSET && setrlimit(r, &rl) < 0)
			child_fail(fd, errno, 126, "setrlimit %d to %llu:%llu", r,
				   (unsigned long long)rl.rlim_cur,
				   (unsigned long long)rl.rlim_max);
	}
	if (st->umask >= 0)
		umask((mode_t)st->umask);
	if (st->nice != UNIT_INT_UNSET && setpriority(PRIO_PROCESS, 0, st->nice) < 0)
		child_fail(fd, errno, 126, "set nice %d", st->nice);
	if (st->oom_score_adj != UNIT_INT_UNSET) {
		char v[16];
		snprintf(v, sizeof(v), "%d", st->oom_score_adj);
		if (sup_write_at(AT_FDCWD, "/proc/self/oom_score_adj", v) < 0)
			child_fail(fd, errno, 126, "set oom_score_adj %d", st->oom_score_adj);
	}
	if (st->ignore_sigpipe)
		signal(SIGPIPE, SIG_IGN); /* kept across exec */
	for (size_t i = 0; st->dirs && st->dirs[i]; i++)
		make_dir(fd, st->dirs[i], st->dir_modes[i], id);
}

/* $VAR and ${VAR} of argv from the environment the service gets (systemd's dialect). */
static char *const *expanded(int fd, const struct spawn_request *req, struct strv *out)
{
	struct strv argv = {(char **)req->argv, 0}, env = {environ, 0};

	while (argv.v[argv.n])
		argv.n++;
	while (env.v && env.v[env.n])
		env.n++;
	if (unit_expand_argv(&argv, &env, out) < 0)
		child_fail(fd, errno, 126, "expand the variables of the command line");
	if (!out->n || !out->v[0][0])
		child_fail(fd, EINVAL, 126,
			   "the command line is empty once its variables are expanded");
	return out->v;
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

/* Where execvp() found prog: into buf; false if it is nowhere on PATH. */
static bool find_program(const char *prog, char *buf, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(prog, '/'))
		return snprintf(buf, size, "%s", prog) < (int)size && access(buf, F_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		if (snprintf(buf, size, "%.*s%s%s", (int)n, p, n ? "/" : "", prog) < (int)size &&
		    access(buf, F_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* exec said ENOENT: the program is missing, or it is there and what it needs is not (a
 * script's #! interpreter, an ELF's loader). Never returns. */
static void __attribute__((noreturn)) exec_enoent(int fd, const char *prog)
{
	char path[PATH_MAX], head[256] = "";
	int f;
	ssize_t n = 0;

	if (!find_program(prog, path, sizeof(path)))
		child_fail(fd, ENOENT, 127, "exec %s", prog);
	f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f >= 0) {
		n = read(f, head, sizeof(head) - 1);
		close(f);
	}
	if (n > 2 && head[0] == '#' && head[1] == '!') {
		head[n] = '\0';
		char *interp = head + 2 + strspn(head + 2, " \t");
		interp[strcspn(interp, " \t\r\n")] = '\0';
		child_fail(fd, 0, 127, "exec %s: its interpreter '%s' (the #! line) was not found",
			   path, interp);
	}
	child_fail(fd, 0, 127,
		   "exec %s: the file is there, but what runs it was not found (its dynamic "
		   "loader?)",
		   path);
}

static pid_t spawn_parent; /* getpid() of the spawning process, read before each clone */

/* The first steps of every child: signals, OOM score, limits, session, stdio, environment. */
void spawn_child_prepare(int fd, const struct spawn_request *req)
{
	struct sup_error *err = NULL;

	reset_signals();
	reset_oom_score();
	/* a helper dies with supd (the parent's pid was read before the clone) */
	if (req->death_signal &&
	    (prctl(PR_SET_PDEATHSIG, req->death_signal) < 0 || getppid() != spawn_parent))
		_exit(126);
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
}

static void __attribute__((noreturn)) child_main(int fd, const struct spawn_request *req)
{
	char *const *argv = req->argv;
	struct strv exp = {0};
	struct ids id;

	spawn_child_prepare(fd, req);
	resolve_user(fd, req, &id);
	if (req->settings)
		apply_settings(fd, req->settings, &id);
	switch_user(fd, req, &id);
	if (chdir(req->cwd ? req->cwd : "/") < 0)
		child_fail(fd, errno, 126, "chdir to '%s'", req->cwd ? req->cwd : "/");
	if (req->settings && req->settings->expand_argv)
		argv = expanded(fd, req, &exp);
	/* Nothing of supd's leaks into the service: every fd above 2 closes at exec. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execvp(argv[0], argv);
	if (errno == ENOENT)
		exec_enoent(fd, argv[0]);
	child_fail(fd, errno, spawn_exec_exit_code(errno), "exec %s", argv[0]);
}

/*
 * The one way a child is made: clone3 with the container's namespace flags, CLONE_PIDFD, and
 * CLONE_INTO_CGROUP when the hierarchy allows it (then the child is born in the unit's
 * cgroup). -1 with errno if the kernel refuses; fork() only where there is no clone3.
 */
static pid_t clone_child(unsigned long flags, int cgroup_fd, int *pidfd)
{
	struct sup_clone_args args = {
	    .flags = flags | CLONE_PIDFD,
	    .pidfd = (uint64_t)(uintptr_t)pidfd,
	    .exit_signal = SIGCHLD,
	};
	pid_t pid;

	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	*pidfd = -1;
	pid = sys_clone3(&args);
	if (pid < 0 && errno == ENOSYS && !flags && cgroup_fd < 0) {
		pid = fork();
		if (pid > 0)
			*pidfd = sys_pidfd_open(pid);
	}
	return pid;
}

/* In the child: wait until the parent is done with us (cgroup, id maps, id-mapped trees): 0,
 * or the errno of what failed. */
static void wait_for_parent(int sync, int go, const struct spawn_request *req)
{
	char msg[SPAWN_MSG_MAX];
	int e = EIO;
	ssize_t n;

	if (req->container && ct_parent_makes_trees(req->container)) {
		e = ct_wait_release(go, msg, sizeof(msg));
		close(go);
		if (e) {
			ct_report(sync, SPAWN_REPORT_FAILED, e, msg);
			_exit(spawn_exec_exit_code(e));
		}
		return;
	}
	do
		n = read(go, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(go);
	if (n != (ssize_t)sizeof(e))
		e = EIO;
	if (e)
		child_fail(sync, e, 126, "join the unit's cgroup or write its id maps");
}

struct spawn_fds {
	int p[2];  /* report: child -> parent */
	int go[2]; /* release: parent -> child, when the parent has work after the clone */
};

/* The release channel: a pipe for an int; a socket when id-mapped trees go with it. */
static int open_go(int go[2], const struct spawn_request *req)
{
	if (req->container && ct_parent_makes_trees(req->container))
		return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, go);
	return pipe2(go, O_CLOEXEC);
}

static void close_pair(int *p)
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

static void __attribute__((noreturn))
run_child(struct spawn_fds *f, const struct spawn_request *req)
{
	close(f->p[0]);
	if (f->go[0] >= 0) {
		close(f->go[1]);
		wait_for_parent(f->p[1], f->go[0], req);
	}
	if (req->container)
		spawn_container_main(f->p[1], req);
	child_main(f->p[1], req);
}

/* In the parent, after the clone: the id maps, the cgroup (when clone3 could not place the
 * child), then release the child. Never waits for the child. */
static void release_child(struct spawn_fds *f, const struct spawn_request *req, pid_t pid,
			  bool place)
{
	struct sup_error *perr = NULL;
	int e = 0;

	if (f->go[0] < 0)
		return;
	close(f->go[0]);
	if (req->container && ct_write_id_maps(pid, req->container) < 0)
		e = errno ? errno : EIO;
	if (!e && place && req->place(pid, req->place_arg, &perr) < 0) {
		e = perr && perr->errnum ? perr->errnum : EIO;
		sup_error_free(perr);
	}
	if (req->container && ct_parent_makes_trees(req->container))
		ct_release(f->go[1], pid, req->container, e);
	else if (write(f->go[1], &e, sizeof(e)) < 0) {
		/* the child is gone already: its exit says so */
	}
	close(f->go[1]);
	f->go[0] = f->go[1] = -1;
}

pid_t spawn_process(const struct spawn_request *req, int *sync_fd, struct sup_error **err)
{
	struct spawn_fds f = {{-1, -1}, {-1, -1}};
	unsigned long flags = req->container ? ct_clone_flags(req->container) : 0;
	bool into = req->place && req->into_cgroup && req->cgroup_fd >= 0, place = false;
	int pidfd = -1;
	pid_t pid = -1;

	spawn_parent = getpid();
	if (pipe2(f.p, O_CLOEXEC) < 0)
		return sup_error_set(err, errno, "create sync pipe");
	/* a user namespace needs its maps written before the child goes on */
	if (((flags & CLONE_NEWUSER) || (req->place && !into)) && open_go(f.go, req) < 0)
		goto fail;
	if (into) {
		pid = clone_child(flags, req->cgroup_fd, &pidfd);
		if (req->clone3_errno)
			*req->clone3_errno = pid < 0 ? errno : 0;
	}
	if (pid < 0 && req->place) {
		place = true;
		if (f.go[0] < 0 && open_go(f.go, req) < 0)
			goto fail;
	}
	if (pid < 0)
		pid = clone_child(flags, -1, &pidfd);
	if (pid < 0)
		goto fail;
	if (pid == 0)
		run_child(&f, req);
	release_child(&f, req, pid, place);
	close(f.p[1]);
	fcntl(f.p[0], F_SETFL, O_NONBLOCK);
	*sync_fd = f.p[0];
	if (req->pidfd)
		*req->pidfd = pidfd;
	else if (pidfd >= 0)
		close(pidfd);
	return pid;
fail : {
	int e = errno;
	close_pair(f.p);
	close_pair(f.go);
	return sup_error_set(err, e, "%s", flags ? "clone3 (new namespaces)" : "fork");
}
}

int spawn_signal(int pidfd, pid_t pid, int sig)
{
	if (pidfd >= 0)
		return sys_pidfd_send_signal(pidfd, sig);
	return kill(pid, sig);
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
	return f->kind == SPAWN_REPORT_EXECD ? 2 : f->kind == SPAWN_REPORT_STATUS ? 3 : 1;
}
