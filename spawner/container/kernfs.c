/*
 * The kernel's filesystems in a container's root: /proc fresh for its pid namespace, /sys
 * read-only, /dev a small tmpfs with the default devices, pts and shm; after pivot_root, the
 * paths runc and Docker mask (an empty read-only tmpfs over a directory, /dev/null over a
 * file) or make read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "container.h"
#include "sys.h"

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC	    0x00000001
#define FSCONFIG_CMD_CREATE 6
#define FSMOUNT_CLOEXEC	    0x00000001
#endif
#ifndef __NR_fsopen
#define __NR_fsopen   430
#define __NR_fsconfig 431
#define __NR_fsmount  432
#endif

#define MS_SAFE (MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define STAGE	".sup-stage"

/* A tmpfs made detached, then attached on a directory of the container's own /dev: a clone of
 * a file on a detached mount (open_tree OPEN_TREE_CLONE) is refused by older kernels (6.1) */
int ct_stage_files(int sync, int rootfd)
{
	int fs = (int)syscall(__NR_fsopen, "tmpfs", FSOPEN_CLOEXEC), mnt, dev, target;

	if (fs < 0 || syscall(__NR_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		ct_fail(sync, errno, "make a tmpfs for /etc/hosts");
	mnt = (int)syscall(__NR_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		ct_fail(sync, errno, "mount a tmpfs for /etc/hosts");
	close(fs);
	dev = sys_openat2(rootfd, "/dev", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
	if (dev < 0 || (mkdirat(dev, STAGE, 0700) < 0 && errno != EEXIST))
		ct_fail(sync, errno, "make /dev/" STAGE);
	target = openat(dev, STAGE, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0 || sys_move_mount(mnt, "", target, "",
					 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		ct_fail(sync, errno, "mount a tmpfs on /dev/" STAGE);
	close(target);
	close(dev);
	return mnt;
}

void ct_unstage_files(int sync, int rootfd, int mnt)
{
	char path[64];
	int dev;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", mnt);
	if (umount2(path, MNT_DETACH) < 0)
		ct_fail(sync, errno, "unmount /dev/" STAGE);
	close(mnt);
	dev = sys_openat2(rootfd, "/dev", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
	if (dev < 0 || unlinkat(dev, STAGE, AT_REMOVEDIR) < 0)
		ct_fail(sync, errno, "remove /dev/" STAGE);
	close(dev);
}

static void mount_in(int sync, int rootfd, const char *dst, const char *type, unsigned long flags,
		     const char *data)
{
	int target;

	if (ct_mkdir_in_root(rootfd, dst, false, &target) < 0)
		ct_fail(sync, errno, "mount %s on %s: the target in the root", type, dst);
	if (ct_mount_at(target, type, type, flags, data) < 0)
		ct_fail(sync, errno, "mount %s on %s", type, dst);
	close(target);
}

/* Docker's default devices: mknod where we may, else the host's node bound (user ns). */
static const struct node {
	const char *name;
	unsigned maj, min;
} nodes[] = {
    {"null", 1, 3},   {"zero", 1, 5},	 {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static void make_node(int sync, int devfd, const char *name, mode_t mode, dev_t dev, bool bind)
{
	char host[64];
	int target, tree;

	if (!bind) {
		if (mknodat(devfd, name, mode | 0666, dev) < 0 && errno != EEXIST)
			ct_fail(sync, errno, "mknod /dev/%s", name);
		fchmodat(devfd, name, 0666, 0); /* the umask took its share */
		return;
	}
	snprintf(host, sizeof(host), "/dev/%s", name);
	target = openat(devfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (target < 0)
		ct_fail(sync, errno, "create /dev/%s", name);
	close(target);
	target = openat(devfd, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	tree = sys_open_tree(AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (target < 0 || tree < 0 ||
	    sys_move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | 0x40) < 0)
		ct_fail(sync, errno, "bind %s", host);
	close(tree);
	close(target);
}

/* Devices= "/dev/PATH rwm": the host's node, made alike in the container's /dev. */
static void extra_device(int sync, int devfd, const char *spec, bool bind)
{
	char path[256];
	size_t n = strcspn(spec, " \t");
	struct stat st;

	snprintf(path, sizeof(path), "%.*s", (int)n, spec);
	if (stat(path, &st) < 0)
		ct_fail(sync, errno, "Devices=%s", path);
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		ct_fail(sync, ENODEV, "Devices=%s: not a device node", path);
	if (strchr(path + 5, '/'))
		ct_fail(sync, EINVAL, "Devices=%s: only nodes directly in /dev", path);
	make_node(sync, devfd, path + 5, st.st_mode & S_IFMT, st.st_rdev, bind);
}

static void dev_links(int sync, int devfd)
{
	static const char *const links[][2] = {
	    {"fd", "/proc/self/fd"},	   {"stdin", "/proc/self/fd/0"},
	    {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	    {"ptmx", "pts/ptmx"},	   {"core", "/proc/kcore"},
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][1], devfd, links[i][0]) < 0 && errno != EEXIST)
			ct_fail(sync, errno, "symlink /dev/%s", links[i][0]);
}

static void dev(int sync, int rootfd, const struct spawn_container *c)
{
	bool bind = (c->ns & UNIT_NS_USER) != 0; /* mknod is not allowed in a user namespace */
	char shm[64];
	int devfd;

	mount_in(sync, rootfd, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
	devfd = sys_openat2(rootfd, "/dev", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
	if (devfd < 0)
		ct_fail(sync, errno, "open /dev in the root");
	for (size_t i = 0; i < SUP_ARRAY_SIZE(nodes); i++)
		make_node(sync, devfd, nodes[i].name, S_IFCHR, makedev(nodes[i].maj, nodes[i].min),
			  bind);
	/* no terminal: the console is a sink, as /dev/null */
	make_node(sync, devfd, "console", S_IFCHR, makedev(1, 3), bind);
	for (size_t i = 0; i < c->n_devices; i++)
		extra_device(sync, devfd, c->devices[i], bind);
	dev_links(sync, devfd);
	mount_in(sync, rootfd, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		 "newinstance,ptmxmode=0666,mode=0620");
	snprintf(shm, sizeof(shm), "mode=1777,size=%llu", (unsigned long long)c->shm_size);
	mount_in(sync, rootfd, "/dev/shm", "tmpfs", MS_SAFE, shm);
	if (c->ns & UNIT_NS_IPC)
		mount_in(sync, rootfd, "/dev/mqueue", "mqueue", MS_SAFE, NULL);
	close(devfd);
}

void ct_kernfs(int sync, int rootfd, const struct spawn_container *c)
{
	if (c->ns & UNIT_NS_PID)
		mount_in(sync, rootfd, "/proc", "proc", MS_SAFE, NULL);
	else
		ct_fail(sync, EINVAL,
			"a container root without the pid namespace: no /proc for it");
	/* a new sysfs needs a net namespace of our own (the kernel says so in a user ns) */
	if (c->ns & UNIT_NS_NET)
		mount_in(sync, rootfd, "/sys", "sysfs", MS_SAFE | MS_RDONLY, NULL);
	dev(sync, rootfd, c);
}

/* runc's and Docker's lists */
static const char *const masked[] = {
    "/proc/asound",	   "/proc/acpi",       "/proc/kcore",	    "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",	   "/proc/interrupts", "/sys/firmware",	    "/sys/devices/virtual/powercap",
};
static const char *const read_only[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static void mask(int sync, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return; /* not on this kernel */
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_SAFE, "size=0") < 0)
			ct_fail(sync, errno, "mask %s", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		ct_fail(sync, errno, "mask %s", path);
	}
}

static void make_read_only(int sync, const char *path)
{
	struct sup_mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	int tree =
	    sys_open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);

	if (tree < 0 && errno == ENOENT)
		return;
	if (tree < 0 || sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro) < 0 ||
	    sys_move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		ct_fail(sync, errno, "make %s read-only", path);
	close(tree);
}

void ct_mask_paths(int sync, const struct spawn_container *c)
{
	if (!(c->ns & UNIT_NS_PID))
		return;
	for (size_t i = 0; i < SUP_ARRAY_SIZE(read_only); i++)
		make_read_only(sync, read_only[i]);
	for (size_t i = 0; i < SUP_ARRAY_SIZE(masked); i++)
		if (strncmp(masked[i], "/sys", 4) != 0 || (c->ns & UNIT_NS_NET))
			mask(sync, masked[i]);
}
