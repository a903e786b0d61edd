/*
 * sup-notify: send sd_notify messages from a script, like systemd-notify.
 *   sup-notify READY=1 [STATUS=text ...]     sup-notify --ready     sup-notify WATCHDOG=1
 * Each argument is one KEY=value line; all of them go in one datagram to $NOTIFY_SOCKET.
 *
 * It exits only once supd has handled the message (or after 5 s), through the sd_notify
 * barrier: a second datagram "BARRIER=1" carries the write end of a pipe, which supd closes
 * after handling everything sent before it. supd checks that a sender belongs to the unit,
 * which it cannot do for a sender already gone.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Wait until supd has handled what we sent: it closes the pipe end passed with BARRIER=1. */
static void barrier(int fd)
{
	static char msg[] = "BARRIER=1\n";
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {0};
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg) - 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = &control,
			    .msg_controllen = sizeof(control)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct pollfd pfd = {.events = POLLIN};
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	if (sendmsg(fd, &mh, 0) < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	close(p[1]);
	pfd.fd = p[0];
	while (poll(&pfd, 1, 5000) < 0 && errno == EINTR)
		;
	close(p[0]);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = getenv("NOTIFY_SOCKET");
	char msg[4096];
	size_t len = 0;
	socklen_t salen;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: sup-notify [--ready] [KEY=value...]\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *line = strcmp(argv[i], "--ready") == 0 ? "READY=1" : argv[i];
		int n = snprintf(msg + len, sizeof(msg) - len, "%s\n", line);
		if (!strchr(line, '=') || n < 0 || (size_t)n >= sizeof(msg) - len) {
			fprintf(stderr, "sup-notify: '%s': not KEY=value, or too long\n", argv[i]);
			return 2;
		}
		len += n;
	}
	if (!path || !*path) {
		fprintf(stderr, "sup-notify: NOTIFY_SOCKET is not set\n");
		return 1;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sup-notify: NOTIFY_SOCKET path too long\n");
		return 1;
	}
	strcpy(sa.sun_path, path);
	/* an abstract socket (as sd_notify allows) is named by exactly its bytes */
	salen = path[0] == '@' ? offsetof(struct sockaddr_un, sun_path) + strlen(path) : sizeof(sa);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, salen) < 0 || send(fd, msg, len, 0) < 0) {
		fprintf(stderr, "sup-notify: send to %s: %s\n", path, strerror(errno));
		return 1;
	}
	barrier(fd);
	return 0;
}
