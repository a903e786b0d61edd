/*
 * Namespaces: the clone flags, the id maps (written by the parent while the child waits),
 * and what the child does once let go, in the kernel's order: the cgroup namespace only now
 * that the child sits in the unit's cgroup (its root is taken from the creator's cgroup), the
 * time namespace's offsets before any process is in it, then root inside the user namespace,
 * the hostname and lo.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "sup/unit.h"
#include "container.h"
#include "sys.h"

void ct_report(int sync, int kind, int errnum, const char *msg)
{
	struct spawn_failure f = {
	    .kind = kind, .errnum = errnum, .exit_code = errnum == ENOENT ? 127 : 126};

	if (msg)
		snprintf(f.msg, sizeof(f.msg), "%s", msg);
	while (write(sync, &f, sizeof(f)) < 0 && errno == EINTR)
		;
}

void ct_fail(int sync, int errnum, const char *fmt, ...)
{
	char msg[SPAWN_MSG_MAX];
	const char *name = errnum ? strerrorname_np(errnum) : NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s (%s)", name ? name : "?",
			 strerror(errnum));
	ct_report(sync, SPAWN_REPORT_FAILED, errnum, msg);
	if (ct_fail_pipe >= 0 && write(ct_fail_pipe, "x", 1) < 0) {
		/* the init is gone: nobody to tell */
	}
	_exit(errnum == ENOENT ? 127 : 126);
}

unsigned long ct_clone_flags(const struct spawn_container *c)
{
	unsigned long f = 0;

	if (c->join_pidfd >= 0)
		return 0;
	f |= (c->ns & UNIT_NS_PID) ? CLONE_NEWPID : 0;
	f |= (c->ns & UNIT_NS_NET) ? CLONE_NEWNET : 0;
	f |= (c->ns & UNIT_NS_MNT) ? CLONE_NEWNS : 0;
	f |= (c->ns & UNIT_NS_UTS) ? CLONE_NEWUTS : 0;
	f |= (c->ns & UNIT_NS_IPC) ? CLONE_NEWIPC : 0;
	f |= (c->ns & UNIT_NS_USER) ? CLONE_NEWUSER : 0;
	/* not CLONE_NEWCGROUP nor CLONE_NEWTIME: see ct_enter_namespaces() */
	return f;
}

static int write_map(pid_t pid, const char *file, const struct spawn_idmap *m)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return sup_printf_at(AT_FDCWD, path, "%u %u %u\n", m->inside, m->host, m->count);
}

int ct_write_id_maps(pid_t pid, const struct spawn_container *c)
{
	char path[64];

	if (!(c->ns & UNIT_NS_USER) || c->join_pidfd >= 0)
		return 0;
	/* an unprivileged writer may map its own gid only with setgroups denied; supd as root
	 * writes any map and keeps setgroups, which supplementary groups need */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		if (sup_write_at(AT_FDCWD, path, "deny") < 0)
			return -1;
	}
	if (write_map(pid, "uid_map", &c->uid) < 0 || write_map(pid, "gid_map", &c->gid) < 0)
		return -1;
	return 0;
}

/* Offsets are fixed once a process is in the namespace: set them, then enter it. */
static void enter_time_ns(int sync, int64_t usec)
{
	long long s = usec / 1000000, ns = (usec % 1000000) * 1000;
	char buf[128];
	int fd;

	if (ns < 0) {
		s -= 1;
		ns += 1000000000LL;
	}
	if (unshare(CLONE_NEWTIME) < 0)
		ct_fail(sync, errno, "unshare the time namespace");
	snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n", s, ns, s, ns);
	if (sup_write_at(AT_FDCWD, "/proc/self/timens_offsets", buf) < 0)
		ct_fail(sync, errno, "write /proc/self/timens_offsets");
	fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
		ct_fail(sync, errno, "enter the time namespace");
	close(fd);
}

static void lo_up(int sync)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		ct_fail(sync, errno, "bring lo up: socket");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		ct_fail(sync, errno, "bring lo up: get its flags");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		ct_fail(sync, errno, "bring lo up");
	close(s);
}

void ct_enter_namespaces(int sync, const struct spawn_container *c)
{
	if ((c->ns & UNIT_NS_USER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		ct_fail(sync, errno, "become root in the user namespace");
	/* the change of uid made us non-dumpable, and /proc/self the host root's: we need it
	 * (timens_offsets, mount targets) until the root is built */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if ((c->ns & UNIT_NS_CGROUP) && unshare(CLONE_NEWCGROUP) < 0)
		ct_fail(sync, errno, "unshare the cgroup namespace");
	if (c->ns & UNIT_NS_TIME)
		enter_time_ns(sync, c->time_offset_usec);
	if ((c->ns & UNIT_NS_UTS) && c->hostname &&
	    sethostname(c->hostname, strlen(c->hostname)) < 0)
		ct_fail(sync, errno, "set the hostname to %s", c->hostname);
	if (c->ns & UNIT_NS_NET)
		lo_up(sync);
}

/*
 * supctl exec and health checks: every namespace of the running container at once (setns
 * with a pidfd is atomic, user namespace first), then its root. The pid namespace applies to
 * children only: the caller forks after this.
 */
void ct_join(int sync, const struct spawn_container *c)
{
	unsigned long f = ct_clone_flags(&(struct spawn_container){.ns = c->ns, .join_pidfd = -1});

	if (c->ns & UNIT_NS_CGROUP)
		f |= CLONE_NEWCGROUP;
	if (c->ns & UNIT_NS_TIME)
		f |= CLONE_NEWTIME;
	if (f && setns(c->join_pidfd, (int)f) < 0)
		ct_fail(sync, errno, "join the unit's namespaces");
	/* setns() to the mount namespace set our root to its root: the pivoted one */
	if (chdir("/") < 0)
		ct_fail(sync, errno, "enter the unit's root");
	if ((c->ns & UNIT_NS_USER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		ct_fail(sync, errno, "become root in the user namespace");
}
