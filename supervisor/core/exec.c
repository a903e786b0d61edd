/* A unit's config -> a spawn request (argv, environment, captured output, cgroup), and the
 * sync pipe that says how the set-up went. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/log.h"
#include "sup/spawn.h"
#include "core/cgroups.h"
#include "core/children.h"
#include "core/container.h"
#include "core/effects.h"
#include "core/exec.h"
#include "core/notify.h"
#include "core/service.h"
#include "core/state.h"
#include "images/unit_image.h"
#include "logs/output.h"
#include "supd.h"

extern char **environ;

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool inherited(const char *e)
{
	static const char *const drop[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
					   "LISTEN_FDS=",    "LISTEN_PID=",    "LISTEN_FDNAMES="};
	for (size_t i = 0; i < SUP_ARRAY_SIZE(drop); i++)
		if (strncmp(e, drop[i], strlen(drop[i])) == 0)
			return false;
	return true;
}

/* supd's environment (as tini passes it on), PATH, the notify socket, then Environment=;
 * for a control command, MAINPID= of the running main process. */
static int build_env(const struct unit *u, struct strv *env)
{
	char buf[PATH_MAX + 32];

	for (char **e = environ; e && *e; e++)
		if (inherited(*e) && strv_push(env, *e) < 0)
			return -1;
	if (!getenv("PATH") && strv_env_set(env, "PATH=" DEFAULT_PATH) < 0)
		return -1;
	/* an image's Env over supd's own (its PATH above all); Environment= over both */
	if (sup_img_env(u, env) < 0)
		return -1;
	if (u->notify_fd >= 0) {
		char path[PATH_MAX];
		if (sup_notify_path(u, path, sizeof(path)) == 0) {
			snprintf(buf, sizeof(buf), "NOTIFY_SOCKET=%s", path);
			if (strv_env_set(env, buf) < 0)
				return -1;
		}
	}
	snprintf(buf, sizeof(buf), "SUP_UNIT=%s", u->name);
	if (strv_env_set(env, buf) < 0)
		return -1;
	if (u->cfg->watchdog_usec) {
		snprintf(buf, sizeof(buf), "WATCHDOG_USEC=%llu",
			 (unsigned long long)u->cfg->watchdog_usec);
		if (strv_env_set(env, buf) < 0)
			return -1;
	}
	if (u->main.pid > 0) {
		snprintf(buf, sizeof(buf), "MAINPID=%d", (int)u->main.pid);
		if (strv_env_set(env, buf) < 0)
			return -1;
	}
	for (size_t i = 0; i < u->cfg->environment.n; i++)
		if (strv_env_set(env, u->cfg->environment.v[i]) < 0)
			return -1;
	return 0;
}

/* The unit's systemd process settings for the spawner (freed with settings_free). */
struct settings_buf {
	struct spawn_settings st;
	struct strv dirs;
	unsigned *modes;
};

static int add_dirs(struct settings_buf *b, const struct strv *names, const char *base,
		    unsigned mode)
{
	for (size_t i = 0; i < names->n; i++) {
		char *p = NULL;
		unsigned *m = reallocarray(b->modes, b->dirs.n + 1, sizeof(*m));

		if (!m)
			return -1;
		b->modes = m;
		if (asprintf(&p, "%s/%s", base, names->v[i]) < 0 || strv_push_take(&b->dirs, p) < 0)
			return -1;
		b->modes[b->dirs.n - 1] = mode;
	}
	return 0;
}

static void settings_free(struct settings_buf *b)
{
	strv_free(&b->dirs);
	free(b->modes);
}

/* NULL with ENOMEM */
static const struct spawn_settings *settings(const struct unit *u, struct settings_buf *b,
					     bool expand)
{
	const struct unit_config *c = u->cfg;

	*b = (struct settings_buf){0};
	if (add_dirs(b, &c->runtime_directory, "/run", c->runtime_directory_mode) < 0 ||
	    add_dirs(b, &c->state_directory, "/var/lib", c->state_directory_mode) < 0)
		return NULL;
	b->st = (struct spawn_settings){
	    .limits = c->limits,
	    .umask = c->umask,
	    .nice = c->nice,
	    .oom_score_adj = c->oom_score_adjust,
	    .ignore_sigpipe = c->ignore_sigpipe,
	    .dirs = b->dirs.v,
	    .dir_modes = b->modes,
	    .expand_argv = expand && c->dialect == UNIT_DIALECT_SYSTEMD,
	};
	return &b->st;
}

static int output_fd(struct unit *u, enum unit_output o, enum log_stream s, int *fd,
		     struct sup_error **err)
{
	switch (o) {
	case UNIT_OUTPUT_NULL:
		*fd = -1;
		return 0;
	case UNIT_OUTPUT_INHERIT:
		*fd = -2;
		return 0;
	case UNIT_OUTPUT_LOG:
		return sup_output_pipe(u, s, fd, err);
	}
	return 0;
}

static void on_sync(struct ev_loop *loop, ev_io *w, int revents)
{
	struct unit *u = sup_container_of(w, struct unit, spawn_io);
	struct spawn_failure f;
	int r = spawn_read_result(u->spawn_fd, &f);

	if (r < 0)
		return;
	ev_io_stop(loop, w);
	close(u->spawn_fd);
	u->spawn_fd = -1;
	if (r == 0)
		unit_main_execd(u);
	else
		unit_main_spawn_failed(u, f.msg);
}

void unit_exec_finish(struct unit *u)
{
	if (u->spawn_fd < 0)
		return;
	/* the process is gone: its last word, if any, is in the pipe */
	if (u->ct && u->ct->init)
		sup_ct_on_sync(supd->loop, &u->spawn_io, EV_READ);
	else
		on_sync(supd->loop, &u->spawn_io, EV_READ);
	if (u->spawn_fd >= 0) {
		ev_io_stop(supd->loop, &u->spawn_io);
		close(u->spawn_fd);
		u->spawn_fd = -1;
	}
}

/* How the process got into its cgroup: debug for each spawn; the first clone3 refusal is a
 * warning (each spawn then pays a cgroup.procs attach). */
static void log_placement(struct unit *u, pid_t pid, int clone3_errno)
{
	static bool warned;

	if (clone3_errno == 0) {
		sup_debug(u->name, "pid %d born in its cgroup (clone3 CLONE_INTO_CGROUP)",
			  (int)pid);
	} else if (clone3_errno > 0) {
		sup_debug(u->name,
			  "pid %d: clone3 CLONE_INTO_CGROUP refused (%s); placed by the parent",
			  (int)pid, strerror(clone3_errno));
		if (!warned)
			sup_warn(u->name,
				 "clone3(CLONE_INTO_CGROUP) refused: %s; units are placed through "
				 "cgroup.procs after fork",
				 strerror(clone3_errno));
		warned = true;
	} else if (u->cg) {
		sup_debug(u->name, "pid %d placed in its cgroup by the parent (cgroup.procs)",
			  (int)pid);
	}
}

/* What every process of a unit gets: its argv, environment files, directory, user (where
 * the unit sets none, its image's). */
static struct spawn_request base_request(const struct unit *u, char *const *argv)
{
	const char *user = u->cfg->user, *group = u->cfg->group;

	sup_img_user(u, &user, &group);
	return (struct spawn_request){
	    .unit = u->name,
	    .argv = argv,
	    .env_files = &u->cfg->environment_file,
	    .cwd = u->cfg->working_directory ? u->cfg->working_directory : sup_img_cwd(u),
	    .user = user,
	    .group = group,
	    .stdin_fd = -1,
	    .stdout_fd = -1,
	    .stderr_fd = -1,
	    .new_session = true,
	    .nofile_soft = supd->nofile_soft,
	    .nofile_hard = supd->nofile_hard,
	};
}

/* Exec= or, with Image= and no Exec=, the image's Entrypoint and Cmd. */
static char *const *main_argv(const struct unit *u, struct sup_error **err)
{
	char *const *argv = u->cfg->exec.n ? u->cfg->exec.v : sup_img_argv(u);

	if (!argv)
		sup_error_set(err, 0, "no Exec= and the image %s has no Entrypoint or Cmd",
			      u->cfg->ct.image ? u->cfg->ct.image : "");
	return argv;
}

int unit_exec_main(struct unit *u, struct sup_error **err)
{
	_cleanup_close_ int out = -1, errfd = -1;
	struct strv env = {0};
	struct ct_spawn cs;
	struct settings_buf sb;
	struct spawn_request req = base_request(u, main_argv(u, err));
	int sync_fd, clone3_errno = -1, pidfd = -1;
	pid_t pid = -1;

	if (!req.argv)
		return -1;
	req.settings = settings(u, &sb, !(u->cfg->exec_flags & UNIT_CMD_NO_EXPAND));
	if (!req.settings) {
		settings_free(&sb);
		return sup_error_set(err, ENOMEM, "spawn settings");
	}
	req.clone3_errno = &clone3_errno;
	/* A plain unit's main process is supd's own child: its pid cannot be reused before supd
	 * reaps it, and supd forgets it then, so signalling by pid is exact and saves a unit an
	 * fd (5,000 units within 20,000 fds). A container's service is not supd's child: the
	 * pidfd it is signalled through is kept. */
	req.pidfd = u->cfg->ct.enabled ? &pidfd : NULL;
	sup_output_detach(u);
	if (sup_notify_prepare(u, err) < 0)
		return -1;
	if (build_env(u, &env) < 0) {
		strv_free(&env);
		settings_free(&sb);
		return sup_error_set(err, ENOMEM, "build environment");
	}
	if (output_fd(u, u->cfg->std_output, LOG_STREAM_STDOUT, &out, err) < 0 ||
	    output_fd(u, u->cfg->std_error, LOG_STREAM_STDERR, &errfd, err) < 0) {
		strv_free(&env);
		settings_free(&sb);
		return -1;
	}
	req.stdout_fd = out;
	req.stderr_fd = errfd;
	if (sup_ct_prepare(u, &cs, &req, &env, err) == 0 && sup_cg_prepare(u, &req, err) == 0) {
		req.envp = env.v;
		pid = spawn_process(&req, &sync_fd, err);
	}
	sup_ct_spawned(u, &cs, pid > 0);
	strv_free(&env);
	settings_free(&sb);
	if (pid < 0)
		return -1;
	log_placement(u, pid, req.into_cgroup ? clone3_errno : -1);
	u->main.pid = u->pgid = pid;
	sup_child_set_pidfd(&u->main, pidfd);
	u->spawn_fd = sync_fd;
	ev_io_init(&u->spawn_io, u->ct && u->ct->init ? sup_ct_on_sync : on_sync, sync_fd, EV_READ);
	ev_io_start(supd->loop, &u->spawn_io);
	return 0;
}

int unit_exec_health(struct unit *u, struct sup_error **err)
{
	struct strv env = {0};
	struct ct_spawn cs;
	struct spawn_request req = base_request(u, u->cfg->health_cmd.v);
	int sync_fd, pidfd = -1;
	pid_t pid = -1;

	req.pidfd = &pidfd;
	if (build_env(u, &env) < 0) {
		strv_free(&env);
		return sup_error_set(err, ENOMEM, "build environment");
	}
	/* HealthCmd= runs in the unit's namespaces and root, in a leaf cgroup of its own */
	if (sup_ct_join(u, &cs, &req, &env, err) == 0) {
		req.envp = env.v;
		sup_cg_join_leaf(u, &u->health_cg, "sup-health", &req);
		pid = spawn_process(&req, &sync_fd, err);
	}
	sup_ct_spawn_free(&cs);
	strv_free(&env);
	if (pid < 0)
		return -1;
	/* kept until the check ends: a failed set-up or exec reports there (closing it at once
	 * would kill the child with SIGPIPE, hiding the reason) */
	unit_health_exec_error(u, NULL, 0);
	u->health_fd = sync_fd;
	u->health.pid = u->health_pgid = pid;
	sup_child_set_pidfd(&u->health, pidfd);
	return 0;
}

int unit_exec_wstatus(struct unit *u, int wstatus)
{
	return sup_ct_wstatus(u, wstatus);
}

bool unit_health_exec_error(struct unit *u, char *buf, size_t size)
{
	struct spawn_failure f;
	bool failed = false;

	if (u->health_fd < 0)
		return false;
	if (buf && spawn_read_result(u->health_fd, &f) == 1) {
		snprintf(buf, size, "%s", f.msg);
		failed = true;
	}
	close(u->health_fd);
	u->health_fd = -1;
	return failed;
}

int unit_exec_command(struct unit *u, char *const *argv, const int fds[3], int pty_sock,
		      struct unit_exec_proc *out, struct sup_error **err)
{
	struct strv env = {0};
	struct ct_spawn cs;
	struct spawn_request req = base_request(u, argv);
	pid_t pid = -1;

	req.stdin_fd = fds[0];
	req.stdout_fd = fds[1];
	req.stderr_fd = fds[2];
	req.pidfd = &out->pidfd;
	if (build_env(u, &env) < 0) {
		strv_free(&env);
		return sup_error_set(err, ENOMEM, "build environment");
	}
	if (sup_ct_join(u, &cs, &req, &env, err) == 0) {
		/* a plain unit on a terminal: no namespace, but the pty step */
		if (pty_sock >= 0 && !req.container) {
			cs.c.join_pidfd = -1;
			req.container = &cs.c;
		}
		if (req.container)
			cs.c.pty_sock = pty_sock;
		req.envp = env.v;
		/* a leaf of the unit's cgroup: on v2 the unit's own cannot take a process once the
		 * service enabled controllers below it (limits and stats stay the unit's) */
		sup_cg_join_leaf(u, &u->exec_cg, "sup-exec", &req);
		pid = spawn_process(&req, &out->sync_fd, err);
	}
	sup_ct_spawn_free(&cs);
	strv_free(&env);
	if (pid < 0)
		return -1;
	out->pid = pid;
	return 0;
}

/* ---- control commands (ExecStartPre= ...), Type=forking, conditions */

/* Where a control command runs: in the running unit's container if there is one (its
 * ExecStartPost=, ExecReload=, ExecStop=), else as a plain process in the unit's cgroup
 * (ExecStartPre= comes before any container exists). */
static int control_place(struct unit *u, struct ct_spawn *cs, struct spawn_request *req,
			 struct strv *env, struct sup_error **err)
{
	if (u->main.pid && u->ct && u->ct->active)
		return sup_ct_join(u, cs, req, env, err);
	memset(cs, 0, sizeof(*cs));
	return sup_cg_prepare(u, req, err);
}

int unit_exec_control(struct unit *u, const struct unit_command *cmd, struct sup_error **err)
{
	_cleanup_close_ int out = -1, errfd = -1;
	struct spawn_request req = base_request(u, cmd->argv.v);
	struct strv env = {0};
	struct settings_buf sb;
	struct ct_spawn cs;
	int sync_fd, pidfd = -1;
	pid_t pid = -1;

	req.settings = settings(u, &sb, !(cmd->flags & UNIT_CMD_NO_EXPAND));
	req.pidfd = &pidfd;
	if (!req.settings || build_env(u, &env) < 0) {
		strv_free(&env);
		settings_free(&sb);
		return sup_error_set(err, ENOMEM, "build environment");
	}
	/* its output is the unit's: its own pipes, so the main process keeps its own */
	if (sup_output_extra_pipe(u, LOG_STREAM_STDOUT, &out, err) == 0 &&
	    sup_output_extra_pipe(u, LOG_STREAM_STDERR, &errfd, err) == 0 &&
	    control_place(u, &cs, &req, &env, err) == 0) {
		req.stdout_fd = out;
		req.stderr_fd = errfd;
		req.envp = env.v;
		if (!req.place)
			sup_cg_join(u, &req);
		pid = spawn_process(&req, &sync_fd, err);
		sup_ct_spawn_free(&cs);
	}
	strv_free(&env);
	settings_free(&sb);
	if (pid < 0)
		return -1;
	unit_control_exec_error(u, NULL, 0);
	u->control_fd = sync_fd;
	u->control.pid = pid;
	sup_child_set_pidfd(&u->control, pidfd);
	return 0;
}

bool unit_control_exec_error(struct unit *u, char *buf, size_t size)
{
	struct spawn_failure f;
	bool failed = false;

	if (u->control_fd < 0)
		return false;
	if (buf && spawn_read_result(u->control_fd, &f) == 1) {
		snprintf(buf, size, "%s", f.msg);
		failed = true;
	}
	close(u->control_fd);
	u->control_fd = -1;
	return failed;
}

/* PIDFile=: the first number in it, if that process is in the unit's cgroup. */
static pid_t from_pid_file(struct unit *u, char *why, size_t size)
{
	char buf[64];
	long pid;

	if (sup_read_at(AT_FDCWD, u->cfg->pid_file, buf, sizeof(buf)) < 0) {
		snprintf(why, size, "PIDFile=%s: %s", u->cfg->pid_file, strerror(errno));
		return 0;
	}
	pid = strtol(buf, NULL, 10);
	if (pid <= 1 || pid > INT32_MAX) {
		snprintf(why, size, "PIDFile=%s holds no pid", u->cfg->pid_file);
		return 0;
	}
	/* a pid file is only a claim: a stale one could name anybody's process */
	if (sup_cg_available() && !sup_cg_has_pid(u, (pid_t)pid)) {
		snprintf(why, size, "PIDFile=%s names pid %ld, which is not in the unit's cgroup",
			 u->cfg->pid_file, pid);
		return 0;
	}
	snprintf(why, size, "from PIDFile=%s", u->cfg->pid_file);
	return (pid_t)pid;
}

pid_t unit_forking_main(struct unit *u, char *why, size_t size)
{
	pid_t pid;

	if (u->cfg->pid_file)
		pid = from_pid_file(u, why, size);
	else if ((pid = sup_cg_only_pid(u)) > 0)
		snprintf(why, size, "the only process in the unit's cgroup");
	else
		snprintf(why, size, "no PIDFile= and not exactly one process left in the cgroup");
	if (pid > 0) {
		pid_t pg = getpgid(pid);
		u->pgid = pg > 0 ? pg : pid;
	}
	return pid;
}

/* "PATH" holds if it exists, "!PATH" if it does not. */
static const char *first_false(const struct strv *list)
{
	for (size_t i = 0; i < list->n; i++) {
		const char *p = list->v[i];
		bool neg = *p == '!';
		bool exists = access(p + neg, F_OK) == 0;

		if (exists == neg)
			return p;
	}
	return NULL;
}

int unit_check_conditions(struct unit *u, char *why, size_t size)
{
	const char *p;

	if ((p = first_false(&u->cfg->assert_path_exists))) {
		snprintf(why, size, "AssertPathExists=%s", p);
		return -1;
	}
	if ((p = first_false(&u->cfg->condition_path_exists))) {
		snprintf(why, size, "ConditionPathExists=%s", p);
		return 1;
	}
	return 0;
}

/* RuntimeDirectory= goes when the unit is down (as in systemd; StateDirectory= stays). At most
 * RUNDIR_MAX entries are removed in one go: what is left is reported. */
#define RUNDIR_MAX 100000

void sup_exec_observe(struct unit *u, const struct unit_change *c)
{
	bool down = c->new_sub == SUB_DEAD || c->new_sub == SUB_EXITED || c->new_sub == SUB_FAILED;

	if (!down || c->old_sub == c->new_sub || !u->cfg)
		return;
	for (size_t i = 0; i < u->cfg->runtime_directory.n; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "/run/%s", u->cfg->runtime_directory.v[i]);
		if (sup_remove_tree(AT_FDCWD, path, RUNDIR_MAX) < 0)
			sup_warn(u->name, "remove RuntimeDirectory %s: %s", path, strerror(errno));
	}
}
