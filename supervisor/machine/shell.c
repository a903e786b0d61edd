/*
 * The console shell: sup.emergency (or `single` on the kernel command line) runs it instead of
 * the units until it exits; sup.shell runs it next to them; supd gives it to the console when it
 * cannot set itself up. It goes through the spawner's one child-setup path like any unit, so
 * it starts as every child of supd does (default signals, oom_score_adj 0 rather than supd's
 * -1000, fds closed), plus the console as its controlling terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "sup/spawn.h"
#include "sup/strv.h"
#include "core/reload.h"
#include "machine.h"
#include "machine_private.h"
#include "supd.h"

extern char **environ;

static struct {
	pid_t pid;
	bool units_booted;
	ev_io sync_io; /* the spawn's sync pipe: did the exec work? */
} sh;

static int shell_env(struct strv *env)
{
	for (char **e = environ; e && *e; e++)
		if (strv_push(env, *e) < 0)
			return -1;
	if (!getenv("PATH") &&
	    strv_push(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
		return -1;
	if (!getenv("TERM") && strv_push(env, "TERM=vt100") < 0)
		return -1;
	return strv_push(env, "PS1=sup-emergency# ");
}

static void shell_failed(int fd)
{
	struct spawn_failure f;

	if (spawn_read_result(fd, &f) == 1)
		sup_err(NULL, "machine: console shell: %s", f.msg);
}

static void on_shell_sync(struct ev_loop *loop, ev_io *w, int revents)
{
	shell_failed(w->fd);
	ev_io_stop(loop, w);
	close(w->fd);
}

/* The exec's outcome: from the loop, or (no loop: supd could not set up) waited for briefly. */
static void watch_sync(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (supd->loop) {
		ev_io_init(&sh.sync_io, on_shell_sync, fd, EV_READ);
		ev_io_start(supd->loop, &sh.sync_io);
		return;
	}
	if (poll(&p, 1, 1000) > 0)
		shell_failed(fd);
	close(fd);
}

static pid_t spawn_shell(void)
{
	const char *path = machine_opts.shell_path ? machine_opts.shell_path : "/bin/sh";
	char *argv[] = {(char *)path, "-i", NULL};
	_cleanup_close_ int tty = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct strv env = {0};
	struct sup_error *err = NULL;
	struct spawn_request req = {
	    .unit = "console shell",
	    .argv = argv,
	    .stdin_fd = tty >= 0 ? tty : -2, /* no console device: supd's own stdio */
	    .stdout_fd = tty >= 0 ? tty : -2,
	    .stderr_fd = tty >= 0 ? tty : -2,
	    .new_session = true,
	    .controlling_tty = true,
	    .nofile_soft = supd->nofile_soft,
	    .nofile_hard = supd->nofile_hard,
	    .cgroup_fd = -1,
	};
	int sync_fd;
	pid_t pid;

	if (shell_env(&env) < 0) {
		sup_err(NULL, "machine: console shell: environment: %s", strerror(ENOMEM));
		strv_free(&env);
		return -1;
	}
	req.envp = env.v;
	pid = spawn_process(&req, &sync_fd, &err);
	strv_free(&env);
	if (pid < 0) {
		sup_err(NULL, "machine: console shell %s: %s", path, err->msg);
		sup_error_free(err);
		return -1;
	}
	watch_sync(sync_fd);
	sup_info(NULL, "machine: shell %s on the console (pid %d)%s", path, (int)pid,
		 sh.units_booted ? "" : "; the units boot when it exits");
	return pid;
}

void machine_boot(void)
{
	if (machine_opts.emergency) {
		sh.pid = spawn_shell();
		if (sh.pid > 0)
			return;
		sup_err(NULL, "machine: no emergency shell; booting the units");
	}
	sh.units_booted = true;
	sup_boot_units();
	if (machine_opts.shell)
		sh.pid = spawn_shell();
}

bool machine_reaped(pid_t pid, int wstatus)
{
	if (!supd->is_pid1 || pid != sh.pid || pid <= 0)
		return false;
	sh.pid = 0;
	sup_info(NULL, "machine: the shell ended (%s %d)",
		 WIFSIGNALED(wstatus) ? "signal" : "status",
		 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
	if (!sh.units_booted && !supd->shutting_down) {
		sh.units_booted = true;
		sup_boot_units();
	}
	return true;
}

void machine_shell_hangup(void)
{
	if (sh.pid > 0)
		kill(sh.pid, SIGHUP);
}

void machine_fallback(const char *why)
{
	sup_err(NULL, "machine: cannot supervise: %s; a shell on the console, and reaping", why);
	sh.pid = spawn_shell();
	sup_log_flush(1000);
	machine_reap_forever();
}
