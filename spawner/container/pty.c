/*
 * `supctl exec` on a terminal: a pty of the container's own devpts (never the caller's
 * terminal, which a process inside could push input into with TIOCSTI). Its master goes to
 * supctl over a unix socket (SCM_RIGHTS), which relays; the slave is the command's stdio and
 * controlling terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "container.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static int send_fd(int sock, int fd)
{
	char byte = 'm';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

void ct_pty(int sync, const struct spawn_container *c)
{
	int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), slave;

	if (master < 0)
		ct_fail(sync, errno, "open the container's /dev/pts/ptmx");
	if (unlockpt(master) < 0)
		ct_fail(sync, errno, "unlock the pty");
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		ct_fail(sync, errno, "open the pty's slave");
	if (send_fd(c->pty_sock, master) < 0)
		ct_fail(sync, errno, "send the pty to supctl");
	close(master);
	close(c->pty_sock);
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		ct_fail(sync, errno, "make the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			ct_fail(sync, errno, "pty as standard input/output");
	close(slave);
}
