/*
 * Output capture: one pipe per stream, read non-blocking into the unit's logbuf. A read
 * callback takes a bounded bite, so a unit flooding its stdout cannot starve the loop; the
 * pipe's own back-pressure slows the writer, never supd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/log.h"
#include "control/control.h"
#include "core/effects.h"
#include "logs/output.h"
#include "supd.h"

#define READ_CHUNK	 65536
#define READS_PER_WAKEUP 4
#define PIPE_SIZE	 (1 << 20)

struct outpipe {
	ev_io io;
	int fd;
	struct unit *u;
	enum log_stream stream;
};

static void close_pipe(struct outpipe *p)
{
	ev_io_stop(supd->loop, &p->io);
	close(p->fd);
	if (p->u->out[p->stream] == p)
		p->u->out[p->stream] = NULL;
	free(p);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	static char buf[READ_CHUNK];
	struct outpipe *p = sup_container_of(w, struct outpipe, io);
	struct unit *u = p->u;
	bool got = false;

	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		ssize_t n = read(p->fd, buf, sizeof(buf));

		if (n > 0) {
			logbuf_feed(u->log, p->stream, buf, n, now_real());
			got = true;
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		/* EOF (or an error): the last writer is gone */
		logbuf_eof(u->log, p->stream, now_real());
		close_pipe(p);
		got = true;
		break;
	}
	if (got)
		sup_control_log_added(u);
}

static int make_pipe(struct unit *u, enum log_stream s, bool main, int *child_fd,
		     struct sup_error **err)
{
	struct outpipe *p;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return sup_error_set(err, errno, "create output pipe");
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fds[0]);
		close(fds[1]);
		return sup_error_set(err, ENOMEM, "create output pipe");
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE); /* fewer wakeups for chatty services */
	p->fd = fds[0];
	p->u = u;
	p->stream = s;
	ev_io_init(&p->io, on_readable, p->fd, EV_READ);
	/* control clients first: a flood of output must not delay `supctl status` */
	ev_set_priority(&p->io, EV_MINPRI);
	ev_io_start(supd->loop, &p->io);
	if (main)
		u->out[s] = p;
	*child_fd = fds[1];
	return 0;
}

int sup_output_pipe(struct unit *u, enum log_stream s, int *child_fd, struct sup_error **err)
{
	return make_pipe(u, s, true, child_fd, err);
}

int sup_output_extra_pipe(struct unit *u, enum log_stream s, int *child_fd, struct sup_error **err)
{
	return make_pipe(u, s, false, child_fd, err);
}

/* Read what the pipes hold now (the writers are gone or going). */
void sup_output_drain(struct unit *u)
{
	for (int s = 0; s < 2; s++)
		for (int i = 0; i < 16 && u->out[s]; i++) {
			struct outpipe *p = u->out[s];
			uint64_t before = logbuf_last_seq(u->log);

			on_readable(supd->loop, &p->io, EV_READ);
			if (u->out[s] == p && logbuf_last_seq(u->log) == before)
				break; /* EAGAIN: nothing more for now */
		}
}

/* Drop the previous run's pipes, keeping what is already in them. */
void sup_output_detach(struct unit *u)
{
	for (int s = 0; s < 2; s++) {
		struct outpipe *p = u->out[s];
		if (!p)
			continue;
		on_readable(supd->loop, &p->io, EV_READ);
		if (u->out[s] == p) {
			logbuf_eof(u->log, p->stream, now_real());
			close_pipe(p);
		}
	}
}
