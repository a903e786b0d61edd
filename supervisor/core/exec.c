/* A unit's config -> a spawn request (argv, environment, captured output, cgroup), and the
 * sync pipe that says how the set-up went. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "sup/spawn.h"
#include "core/cgroups.h"
#include "core/children.h"
#include "core/container.h"
#include "core/effects.h"
#include "core/notify.h"
#include "core/service.h"
#include "logs/output.h"
#include "supd.h"

extern char **environ;

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Set KEY=value in env, replacing an earlier KEY. */
static int env_set(struct strv *env, const char *assignment)
{
	size_t klen = strcspn(assignment, "=");

	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], assignment, klen) == 0 && env->v[i][klen] == '=') {
			char *dup = strdup(assignment);
			if (!dup)
				return -1;
			free(env->v[i]);
			env->v[i] = dup;
			return 0;
		}
	return strv_push(env, assignment);
}

static bool inherited(const char *e)
{
	static const char *const drop[] = {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
					   "LISTEN_FDS=",    "LISTEN_PID=",    "LISTEN_FDNAMES="};
	for (size_t i = 0; i < SUP_ARRAY_SIZE(drop); i++)
		if (strncmp(e, drop[i], strlen(drop[i])) == 0)
			return false;
	return true;
}

/* supd's environment (as tini passes it on), PATH, the notify socket, then Environment=. */
static int build_env(const struct unit *u, struct strv *env)
{
	char buf[PATH_MAX + 32];

	for (char **e = environ; e && *e; e++)
		if (inherited(*e) && strv_push(env, *e) < 0)
			return -1;
	if (!getenv("PATH") && env_set(env, "PATH=" DEFAULT_PATH) < 0)
		return -1;
	if (u->notify_fd >= 0) {
		char path[PATH_MAX];
		if (sup_notify_path(u, path, sizeof(path)) == 0) {
			snprintf(buf, sizeof(buf), "NOTIFY_SOCKET=%s", path);
			if (env_set(env, buf) < 0)
				return -1;
		}
	}
	snprintf(buf, sizeof(buf), "SUP_UNIT=%s", u->name);
	if (env_set(env, buf) < 0)
		return -1;
	if (u->cfg->watchdog_usec) {
		snprintf(buf, sizeof(buf), "WATCHDOG_USEC=%llu",
			 (unsigned long long)u->cfg->watchdog_usec);
		if (env_set(env, buf) < 0)
			return -1;
	}
	for (size_t i = 0; i < u->cfg->environment.n; i++)
		if (env_set(env, u->cfg->environment.v[i]) < 0)
			return -1;
	return 0;
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

int unit_exec_main(struct unit *u, struct sup_error **err)
{
	_cleanup_close_ int out = -1, errfd = -1;
	struct strv env = {0};
	struct ct_spawn cs;
	struct spawn_request req = {
	    .unit = u->name,
	    .argv = u->cfg->exec.v,
	    .env_files = &u->cfg->environment_file,
	    .cwd = u->cfg->working_directory,
	    .user = u->cfg->user,
	    .group = u->cfg->group,
	    .stdin_fd = -1,
	    .new_session = true,
	    .nofile_soft = supd->nofile_soft,
	    .nofile_hard = supd->nofile_hard,
	};
	int sync_fd, clone3_errno = -1, pidfd = -1;
	pid_t pid = -1;

	req.clone3_errno = &clone3_errno;
	req.pidfd = &pidfd;
	sup_output_detach(u);
	if (sup_notify_prepare(u, err) < 0)
		return -1;
	if (build_env(u, &env) < 0) {
		strv_free(&env);
		return sup_error_set(err, ENOMEM, "build environment");
	}
	if (output_fd(u, u->cfg->std_output, LOG_STREAM_STDOUT, &out, err) < 0 ||
	    output_fd(u, u->cfg->std_error, LOG_STREAM_STDERR, &errfd, err) < 0) {
		strv_free(&env);
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
	struct spawn_request req = {
	    .unit = u->name,
	    .argv = u->cfg->health_cmd.v,
	    .env_files = &u->cfg->environment_file,
	    .cwd = u->cfg->working_directory,
	    .user = u->cfg->user,
	    .group = u->cfg->group,
	    .stdin_fd = -1,
	    .stdout_fd = -1,
	    .stderr_fd = -1,
	    .new_session = true,
	    .nofile_soft = supd->nofile_soft,
	    .nofile_hard = supd->nofile_hard,
	};
	int sync_fd, pidfd = -1;
	pid_t pid = -1;

	req.pidfd = &pidfd;
	if (build_env(u, &env) < 0) {
		strv_free(&env);
		return sup_error_set(err, ENOMEM, "build environment");
	}
	/* HealthCmd= runs in the unit's namespaces and root, and in a leaf of its cgroup */
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
	struct spawn_request req = {
	    .unit = u->name,
	    .argv = argv,
	    .env_files = &u->cfg->environment_file,
	    .cwd = u->cfg->working_directory,
	    .user = u->cfg->user,
	    .group = u->cfg->group,
	    .stdin_fd = fds[0],
	    .stdout_fd = fds[1],
	    .stderr_fd = fds[2],
	    .new_session = true,
	    .nofile_soft = supd->nofile_soft,
	};
	pid_t pid = -1;

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
		sup_cg_join(u, &req);
		pid = spawn_process(&req, &out->sync_fd, err);
	}
	sup_ct_spawn_free(&cs);
	strv_free(&env);
	if (pid < 0)
		return -1;
	out->pid = pid;
	return 0;
}
