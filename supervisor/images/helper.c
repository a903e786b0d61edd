/*
 * The image helper as a child of supd: spawned through the spawner (a session of its own,
 * PR_SET_PDEATHSIG), its JSON lines read from a non-blocking pipe in bounded bites, reaped by
 * the one reaping path. What it says is parsed as JSON only: a line too long, a line that is
 * not a JSON object with a "type", a line after its result, or silence for too long kill it,
 * and the request fails with a message saying which.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "sup/signal.h"
#include "sup/spawn.h"
#include "sup/strv.h"
#include "sup/unit.h"
#include "core/children.h"
#include "images/helper.h"
#include "supd.h"

extern char **environ;

#define READ_BITE	 (64u << 10)
#define BITES_PER_WAKEUP 4
#define DRAIN_BITES	 64 /* after the exit: what is left in the pipe, at most 4 MiB */

struct img_job {
	struct sup_child child;
	ev_io io;
	ev_timer idle;
	int fd;	     /* the read end of its events pipe, -1 once closed */
	int sync_fd; /* the spawner's report: why it could not be exec'd */
	char *line;  /* a line being assembled, at most IMG_LINE_MAX bytes */
	size_t len, cap;
	json_t *result;
	char *error; /* the helper's own error line, or supd's reason to kill it */
	bool ours;   /* error is supd's (garbage, silence): it stands */
	const struct img_job_ops *ops;
	void *ctx;
};

static unsigned running;

unsigned sup_img_jobs_running(void)
{
	return running;
}

/* Text from the helper for a message: control characters become '?', at most max bytes. */
char *sup_img_clean_text(const char *s, size_t n, size_t max)
{
	char *out = malloc((n < max ? n : max) + 4);
	size_t k = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n && k < max; i++)
		out[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (n > max)
		k += (size_t)snprintf(out + k, 4, "...");
	out[k] = '\0';
	return out;
}

static void stop_reading(struct img_job *j)
{
	if (j->fd < 0)
		return;
	ev_io_stop(supd->loop, &j->io);
	close(j->fd);
	j->fd = -1;
}

/* supd gives up on the helper: the first reason stands; the helper is killed. */
static void __attribute__((format(printf, 2, 3))) give_up(struct img_job *j, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!j->ours) {
		va_start(ap, fmt);
		if (vasprintf(&s, fmt, ap) < 0)
			s = NULL;
		va_end(ap);
		free(j->error);
		j->error = s;
		j->ours = true;
	}
	if (j->child.pid)
		sup_child_signal(&j->child, SIGKILL);
	stop_reading(j);
	ev_timer_stop(supd->loop, &j->idle);
}

static void error_line(struct img_job *j, json_t *o)
{
	json_t *m = json_object_get(o, "message");

	if (!json_is_string(m)) {
		give_up(j, "image helper: an error line without a message");
		return;
	}
	free(j->error);
	j->error = sup_img_clean_text(json_string_value(m), json_string_length(m), 4096);
}

static void on_line(struct img_job *j, const char *s, size_t n)
{
	_cleanup_free_ char *excerpt = NULL;
	const char *type;
	json_t *o;

	if (n == 0)
		return;
	if (j->result || j->error) {
		give_up(j, "image helper: more output after its result");
		return;
	}
	o = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
	type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type) {
		json_decref(o);
		excerpt = sup_img_clean_text(s, n, 60);
		give_up(j, "image helper: garbage on its output: \"%s\"", excerpt ? excerpt : "");
		return;
	}
	ev_timer_again(supd->loop, &j->idle);
	if (!strcmp(type, "result")) {
		j->result = o;
		return;
	}
	if (!strcmp(type, "error"))
		error_line(j, o);
	else if (j->ops && j->ops->event)
		j->ops->event(j->ctx, o);
	json_decref(o);
}

static int keep(struct img_job *j, const char *buf, size_t n)
{
	if (j->len + n > j->cap) {
		size_t cap = j->cap ? j->cap : 4096;
		char *p;
		while (cap < j->len + n)
			cap *= 2;
		p = realloc(j->line, cap);
		if (!p)
			return -1;
		j->line = p;
		j->cap = cap;
	}
	memcpy(j->line + j->len, buf, n);
	j->len += n;
	return 0;
}

/* Whole lines go to on_line(); a line is never longer than IMG_LINE_MAX. */
static void feed(struct img_job *j, const char *buf, size_t n)
{
	while (n && j->fd >= 0) {
		const char *nl = memchr(buf, '\n', n);
		size_t take = nl ? (size_t)(nl - buf) : n;

		if (j->len + take > IMG_LINE_MAX) {
			give_up(j, "image helper: a line of more than %u bytes on its output",
				IMG_LINE_MAX);
			return;
		}
		if (nl && !j->len) {
			on_line(j, buf, take);
		} else if (keep(j, buf, take) < 0) {
			give_up(j, "image helper: out of memory for its output");
			return;
		} else if (nl) {
			on_line(j, j->line, j->len);
			j->len = 0;
		}
		buf += take + (nl != NULL);
		n -= take + (nl != NULL);
	}
	if (!j->len && j->cap > 65536) { /* a big line is not kept for the next */
		free(j->line);
		j->line = NULL;
		j->cap = 0;
	}
}

/* Read a few bites: 1 the pipe is closed (EOF), 0 maybe more, -1 nothing now. */
static int read_some(struct img_job *j, int bites)
{
	static char buf[READ_BITE];

	for (int i = 0; i < bites && j->fd >= 0; i++) {
		ssize_t r = read(j->fd, buf, sizeof(buf));

		if (r > 0) {
			feed(j, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return -1;
		stop_reading(j); /* EOF, or an error: what came is what there is */
		return 1;
	}
	return j->fd < 0 ? 1 : 0;
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	read_some(sup_container_of(w, struct img_job, io), BITES_PER_WAKEUP);
}

static void on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct img_job *j = sup_container_of(w, struct img_job, idle);

	give_up(j, "image helper: no word from it for %.0fs (HelperTimeoutSec=): killed",
		w->repeat);
}

/* How the helper ended, when it left no result or error line. */
static void describe_end(struct img_job *j, int wstatus, char *buf, size_t size)
{
	struct spawn_failure f;

	if (j->sync_fd >= 0 && spawn_read_result(j->sync_fd, &f) == 1)
		snprintf(buf, size, "cannot run the image helper: %s", f.msg);
	else if (WIFSIGNALED(wstatus))
		snprintf(buf, size, "image helper killed by %s before it answered",
			 sup_signal_name(WTERMSIG(wstatus)) ? sup_signal_name(WTERMSIG(wstatus))
							    : "a signal");
	else if (WEXITSTATUS(wstatus) == 0)
		snprintf(buf, size, "image helper exited without an answer");
	else
		snprintf(buf, size, "image helper exited with status %d before it answered",
			 WEXITSTATUS(wstatus));
}

static void job_free(struct img_job *j)
{
	stop_reading(j);
	ev_timer_stop(supd->loop, &j->idle);
	if (j->sync_fd >= 0)
		close(j->sync_fd);
	json_decref(j->result);
	free(j->error);
	free(j->line);
	free(j);
}

static void on_reaped(struct sup_child *c, int wstatus)
{
	struct img_job *j = sup_container_of(c, struct img_job, child);
	char why[SPAWN_MSG_MAX + 64];
	const char *error = NULL;
	bool ok;

	/* what it wrote before it went is in the pipe */
	if (j->fd >= 0 && read_some(j, DRAIN_BITES) == 0)
		give_up(j, "image helper: its output does not end");
	stop_reading(j);
	running--;
	ok = !j->ours && j->result && !j->error && WIFEXITED(wstatus) && !WEXITSTATUS(wstatus);
	if (!ok) {
		if (j->error) {
			error = j->error;
		} else {
			describe_end(j, wstatus, why, sizeof(why));
			error = why;
		}
	}
	if (j->ops && j->ops->done)
		j->ops->done(j->ctx, ok ? j->result : NULL, error);
	job_free(j);
}

static int build_argv(struct strv *argv, char *const *global, char *const *args)
{
	const char *fixed[] = {supd->conf.image_helper, "--state-dir", supd->conf.state_dir,
			       "--config", supd->conf.config_file};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(fixed); i++)
		if (strv_push(argv, fixed[i]) < 0)
			return -1;
	for (size_t i = 0; global && global[i]; i++)
		if (strv_push(argv, global[i]) < 0)
			return -1;
	for (size_t i = 0; args[i]; i++)
		if (strv_push(argv, args[i]) < 0)
			return -1;
	return 0;
}

static pid_t spawn_helper(char *const *argv, int in_fd, int out_fd, int *sync_fd, int *pidfd,
			  struct sup_error **err)
{
	struct spawn_request req = {
	    .unit = "sup-image",
	    .argv = argv,
	    .envp = environ,
	    .stdin_fd = in_fd,
	    .stdout_fd = out_fd,
	    .stderr_fd = -2, /* its rare complaints go where supd's own go */
	    .new_session = true,
	    .nofile_soft = supd->nofile_soft,
	    .nofile_hard = supd->nofile_hard,
	    .pidfd = pidfd,
	    .death_signal = SIGKILL,
	};

	return spawn_process(&req, sync_fd, err);
}

struct img_job *sup_img_job_start(char *const *global, char *const *args, int in_fd,
				  const struct img_job_ops *ops, void *ctx, struct sup_error **err)
{
	struct strv argv = {0};
	struct img_job *j = calloc(1, sizeof(*j));
	int p[2] = {-1, -1}, pidfd = -1;
	pid_t pid = -1;

	if (!j || build_argv(&argv, global, args) < 0 || pipe2(p, O_CLOEXEC) < 0) {
		sup_error_set(err, errno ? errno : ENOMEM, "start the image helper");
		goto fail;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK); /* the helper's end stays blocking */
	j->fd = p[0];
	j->sync_fd = -1;
	pid = spawn_helper(argv.v, in_fd, p[1], &j->sync_fd, &pidfd, err);
	close(p[1]);
	if (pid < 0) {
		sup_error_wrap(err, "start the image helper %s", supd->conf.image_helper);
		goto fail;
	}
	strv_free(&argv);
	j->ops = ops;
	j->ctx = ctx;
	sup_child_add(&j->child, pid, CHILD_OTHER, on_reaped);
	sup_child_set_pidfd(&j->child, pidfd);
	ev_io_init(&j->io, on_readable, j->fd, EV_READ);
	ev_io_start(supd->loop, &j->io);
	ev_init(&j->idle, on_idle);
	j->idle.repeat = (double)supd->conf.image_helper_timeout_usec / 1e6;
	ev_timer_again(supd->loop, &j->idle);
	running++;
	return j;
fail:
	strv_free(&argv);
	if (j) {
		if (p[0] >= 0)
			close(p[0]);
		free(j);
	}
	return NULL;
}

void sup_img_job_cancel(struct img_job *j)
{
	if (!j)
		return;
	j->ops = NULL;
	j->ctx = NULL;
	give_up(j, "cancelled");
}
