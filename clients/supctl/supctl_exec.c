/*
 * supctl exec UNIT [--] CMD...: supd runs CMD in the unit with supctl's own stdin, stdout and
 * stderr (it takes them with pidfd_getfd); on a terminal, supd sends a pty of the container
 * over a socketpair and supctl relays between it and the terminal (raw mode, window size,
 * ctrl-c goes through as a byte). The exit status is CMD's.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "sup/proto.h"
#include "supctl.h"

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* The reply: CMD's exit status, or supd's error (exit 1, or 3 for no such unit). */
static int result(int ctl)
{
	struct sup_error *err = NULL;
	json_t *reply = NULL, *data;
	int r;

	if (sup_recv_frame(ctl, &reply, &err) <= 0) {
		fprintf(stderr, "supctl: exec: %s\n",
			err ? err->msg : "supd closed the connection");
		sup_error_free(err);
		return SUP_EXIT_FAILED;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *code = json_object_get(reply, "code");
		fprintf(stderr, "supctl: %s\n",
			json_string_value(json_object_get(reply, "error")) ?: "exec failed");
		r = json_is_integer(code) ? (int)json_integer_value(code) : SUP_EXIT_FAILED;
		json_decref(reply);
		return r ? r : SUP_EXIT_FAILED;
	}
	data = json_object_get(reply, "data");
	if (json_string_value(json_object_get(data, "error")))
		fprintf(stderr, "supctl: exec: %s\n",
			json_string_value(json_object_get(data, "error")));
	r = (int)json_integer_value(json_object_get(data, "exit"));
	json_decref(reply);
	return r;
}

static void copy(int from, int to, bool *open)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0) {
		*open = false;
		return;
	}
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0 && errno != EINTR)
			return;
		off += w > 0 ? w : 0;
	}
}

static void resize(int master)
{
	struct winsize ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

struct relay {
	int ctl, sock, master, sfd;
	bool in_open, m_open;
	struct termios raw;
};

/* The pty's master arrived: the terminal raw from now on, its window size passed on. */
static void got_master(struct relay *x)
{
	x->master = recv_fd(x->sock);
	if (x->master < 0)
		return;
	tcsetattr(STDIN_FILENO, TCSANOW, &x->raw);
	resize(x->master);
}

static void window_changed(struct relay *x)
{
	struct signalfd_siginfo si;
	struct pollfd q = {x->sfd, POLLIN, 0};

	if (x->sfd >= 0 && x->master >= 0 && poll(&q, 1, 0) > 0 &&
	    read(x->sfd, &si, sizeof(si)) > 0)
		resize(x->master);
}

/* supd replied (CMD ended): the pty's last words, then CMD's status. */
static int finish(struct relay *x)
{
	struct pollfd q = {x->master, POLLIN, 0};

	while (x->master >= 0 && x->m_open && poll(&q, 1, 50) > 0)
		copy(x->master, STDOUT_FILENO, &x->m_open);
	return result(x->ctl);
}

/* One round of the relay: -1 until supd replied, then CMD's status. */
static int relay_round(struct relay *x)
{
	struct pollfd p[4] = {{x->ctl, POLLIN, 0},
			      {x->master < 0 ? x->sock : -1, POLLIN, 0},
			      {x->master >= 0 && x->in_open ? STDIN_FILENO : -1, POLLIN, 0},
			      {x->master >= 0 && x->m_open ? x->master : -1, POLLIN, 0}};

	if (poll(p, 4, -1) < 0 && errno != EINTR)
		return SUP_EXIT_FAILED;
	if (p[1].revents)
		got_master(x);
	if (p[2].revents)
		copy(STDIN_FILENO, x->master, &x->in_open);
	if (p[3].revents)
		copy(x->master, STDOUT_FILENO, &x->m_open);
	window_changed(x);
	return p[0].revents ? finish(x) : -1;
}

/* Relay until supd replies (CMD ended); the terminal is raw meanwhile. */
static int relay(int ctl, int sock)
{
	struct relay x = {.ctl = ctl, .sock = sock, .master = -1, .in_open = true, .m_open = true};
	struct termios saved;
	sigset_t winch;
	int r;

	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	sigprocmask(SIG_BLOCK, &winch, NULL);
	x.sfd = signalfd(-1, &winch, SFD_CLOEXEC);
	tcgetattr(STDIN_FILENO, &saved);
	x.raw = saved;
	cfmakeraw(&x.raw);
	while ((r = relay_round(&x)) < 0)
		;
	tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return r;
}

/* UNIT [--] CMD... into a request (on a terminal, with the socket end supd sends the pty's
 * master on): 0, or the exit status of a usage error. */
static int build_request(int argc, char **argv, bool tty, int sp[2], json_t **obj)
{
	struct sup_request req = {.cmd = SUP_CMD_EXEC};
	int i = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;

	if (argc < 2 || !supctl_valid_unit_name(argv[0])) {
		fputs("supctl: usage: supctl exec UNIT [--] CMD...\n", stderr);
		return SUP_EXIT_USAGE;
	}
	if (i >= argc) {
		fputs("supctl: exec: no command\n", stderr);
		return SUP_EXIT_USAGE;
	}
	strv_push(&req.units, argv[0]);
	for (; i < argc; i++)
		strv_push(&req.argv, argv[i]);
	if (tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
		req.tty = true;
		req.fds[req.n_fds++] = sp[1];
	} else {
		for (int fd = 0; fd < 3; fd++)
			req.fds[req.n_fds++] = fd;
	}
	*obj = sup_request_to_json(&req);
	sup_request_free(&req);
	return 0;
}

int supctl_exec(const char *socket_path, int argc, char **argv)
{
	struct sup_error *err = NULL;
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	int sp[2] = {-1, -1}, ctl, r;
	json_t *obj = NULL;

	r = build_request(argc, argv, tty, sp, &obj);
	if (r)
		return r;
	ctl = connect_to(socket_path);
	if (ctl < 0) {
		fprintf(stderr, "supctl: cannot reach supd at %s: %s\n", socket_path,
			strerror(errno));
		return SUP_EXIT_UNREACHABLE;
	}
	if (!obj || sup_send_frame(ctl, obj, &err) < 0) {
		fprintf(stderr, "supctl: exec: %s\n", err ? err->msg : "out of memory");
		return SUP_EXIT_FAILED;
	}
	json_decref(obj);
	r = sp[0] >= 0 ? relay(ctl, sp[0]) : result(ctl);
	close(ctl);
	return r;
}
