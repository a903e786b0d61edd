/*
 * sup-notify: send sd_notify messages from a script, like systemd-notify.
 *   sup-notify READY=1 [STATUS=text ...]     sup-notify --ready     sup-notify WATCHDOG=1
 * Each argument is one KEY=value line; all of them go in one datagram to $NOTIFY_SOCKET.
 *
 * It exits only once supd has read the datagram (or after 2 s): supd checks that the sender
 * belongs to the unit, which it cannot do for a sender already gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = getenv("NOTIFY_SOCKET");
	char msg[4096];
	size_t len = 0;
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
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract socket, as sd_notify allows */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "sup-notify: send to %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* A unix datagram stays charged to the sender until the receiver consumes it. */
	for (int i = 0; i < 2000; i++) {
		int queued = 0;
		struct timespec ms = {0, 1000000};

		if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0)
			break;
		nanosleep(&ms, NULL);
	}
	return 0;
}
