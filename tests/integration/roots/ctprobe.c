/*
 * Put in the test roots (built static by tests/integration/roots.py): asks the kernel for
 * what a container must not get, and prints one "what: result" line each, as a user would
 * check by hand; also sends sd_notify messages (no libsystemd in a busybox root).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static void say(const char *what, long r)
{
	printf("%s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

/* The sd_notify barrier, as sup-notify and systemd-notify do it: the message counts only if
 * its sender is still there when supd looks at it, so wait until supd has read it (it closes
 * the pipe end passed with BARRIER=1 once it handled everything sent before). */
static int barrier(int fd, const struct sockaddr_un *sa)
{
	static char msg[] = "BARRIER=1";
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {0};
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg) - 1};
	struct msghdr mh = {.msg_name = (void *)sa,
			    .msg_namelen = sizeof(*sa),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = &control,
			    .msg_controllen = sizeof(control)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct pollfd pfd;
	int p[2];

	if (pipe(p) < 0)
		return 1;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	if (sendmsg(fd, &mh, 0) < 0)
		return 1;
	close(p[1]);
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	return poll(&pfd, 1, 5000) != 1;
}

static int notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (!path || fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return 1;
	strcpy(sa.sun_path, path);
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 1;
	return barrier(fd, &sa);
}

/* "mknod PATH b|c MAJ MIN": make the node (a container with CAP_MKNOD may); "open PATH
 * r|w": open it; one line each, as for the refused calls */
static int device(int argc, char **argv)
{
	char what[300];

	if (strcmp(argv[1], "mknod") == 0 && argc == 6) {
		mode_t type = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;
		dev_t dev = makedev(strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10));
		snprintf(what, sizeof(what), "mknod %s", argv[2]);
		say(what, mknod(argv[2], type | 0600, dev));
	} else if (strcmp(argv[1], "open") == 0 && argc == 4) {
		int fd = open(argv[2], (argv[3][0] == 'w' ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
		snprintf(what, sizeof(what), "open %s %s", argv[2], argv[3]);
		say(what, fd);
	} else {
		return 2;
	}
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	char args[64] = {0};

	if (argc > 2 && strcmp(argv[1], "notify") == 0)
		return notify(argv[2]);
	if (argc > 3 && (strcmp(argv[1], "mknod") == 0 || strcmp(argv[1], "open") == 0))
		return device(argc, argv);
	say("mount", mount("tmpfs", "/mnt", "tmpfs", 0, NULL));
	say("unshare-user", unshare(CLONE_NEWUSER));
	say("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	say("init_module", syscall(SYS_init_module, NULL, 0, ""));
	say("clone3",
	    syscall(SYS_clone3, args, 8)); /* too small: EINVAL, but seccomp says ENOSYS first */
	say("setns", setns(0, 0));
	fflush(stdout);
	return 0;
}
