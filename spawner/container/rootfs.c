/*
 * The root of a container: a private (rslave) mount namespace before anything is mounted, the
 * root bound onto itself (id-mapped with an automatic user namespace), Bind=/Tmpfs= mounts
 * whose targets are resolved inside the root (openat2 RESOLVE_IN_ROOT: a symlink in the image
 * never aims a mount outside it), /proc /sys /dev, the per-unit notify socket, /etc/hostname
 * and /etc/hosts, then pivot_root and the old root detached. A sandboxed plain unit gets its
 * mounts in place instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "container.h"
#include "sys.h"

#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

static void make_entry(int parent, const char *name, bool file)
{
	int f;

	if (!file) {
		mkdirat(parent, name, 0755);
		return;
	}
	f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f >= 0)
		close(f);
}

/* path's first start + n bytes, as the root sees them: opened (O_PATH, not followed if a
 * symbolic link), or made in its parent when missing. */
static int open_or_make(int rootfd, const char *path, size_t start, size_t n, bool file)
{
	char prefix[4096];
	int fd, parent;

	if (start + n >= sizeof(prefix))
		return errno = ENAMETOOLONG, -1;
	memcpy(prefix, path, start + n);
	prefix[start + n] = '\0';
	fd = sys_openat2(rootfd, prefix, O_PATH | O_CLOEXEC | O_NOFOLLOW,
			 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	/* the parent as the root sees it, then the name in it */
	prefix[start] = '\0';
	parent = sys_openat2(rootfd, prefix[0] ? prefix : "/", O_PATH | O_DIRECTORY | O_CLOEXEC,
			     RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	if (parent < 0)
		return -1;
	memcpy(prefix, path + start, n);
	prefix[n] = '\0';
	make_entry(parent, prefix, file);
	fd = openat(parent, prefix, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	close(parent);
	return fd;
}

/* One component at a time from the root: each made if missing, the last as a file if file.
 * The last component must not be a symbolic link. *out: an O_PATH fd of it. */
int ct_mkdir_in_root(int rootfd, const char *path, bool file, int *out)
{
	const char *p = path + strspn(path, "/");
	struct stat st;
	int fd = -1;

	if (!*p)
		return (*out = fcntl(rootfd, F_DUPFD_CLOEXEC, 3)) < 0 ? -1 : 0;
	while (*p) {
		size_t n = strcspn(p, "/");
		const char *next = p + n + strspn(p + n, "/");

		if (fd >= 0)
			close(fd);
		fd = open_or_make(rootfd, path, (size_t)(p - path), n, file && !*next);
		if (fd < 0)
			return -1;
		p = next;
	}
	if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
		close(fd);
		return errno = ELOOP, -1;
	}
	*out = fd;
	return 0;
}

int ct_mount_at(int targetfd, const char *src, const char *type, unsigned long flags,
		const char *data)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", targetfd);
	return mount(src, path, type, flags, data);
}

static int set_attr(int fd, unsigned flags, uint64_t set, int userns)
{
	struct sup_mount_attr a = {.attr_set = set, .userns_fd = (uint64_t)userns};

	return sys_mount_setattr(fd, "", AT_EMPTY_PATH | flags, &a);
}

/* A copy of the host's src (recursive), read-only as asked, at dst in the root; tree: the copy
 * the parent made (id-mapped), or -1. */
static void bind_one(int sync, int rootfd, const struct spawn_mount *m, int tree)
{
	bool ours = tree < 0; /* else the parent made it read-only already */
	struct stat st;
	int target;

	if (tree < 0 && stat(m->src, &st) < 0) {
		if (errno == ENOENT && m->optional)
			return;
		ct_fail(sync, errno, "Bind=%s:%s: the source", m->src, m->dst);
	}
	if (tree < 0)
		tree = sys_open_tree(AT_FDCWD, m->src,
				     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	else if (fstat(tree, &st) < 0)
		ct_fail(sync, errno, "Bind=%s:%s: the source", m->src, m->dst);
	if (tree < 0)
		ct_fail(sync, errno, "Bind=%s:%s: copy the source", m->src, m->dst);
	if (ours && m->ro && set_attr(tree, AT_RECURSIVE, MOUNT_ATTR_RDONLY, -1) < 0)
		ct_fail(sync, errno, "Bind=%s:%s: make it read-only", m->src, m->dst);
	if (ct_mkdir_in_root(rootfd, m->dst, !S_ISDIR(st.st_mode), &target) < 0)
		ct_fail(sync, errno, "Bind=%s:%s: the target in the root", m->src, m->dst);
	if (sys_move_mount(tree, "", target, "",
			   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		ct_fail(sync, errno, "mount %s on %s", m->src, m->dst);
	close(tree);
	close(target);
}

/* Tmpfs= options: ro noexec nosuid nodev are mount flags, size= and mode= tmpfs's own. */
static unsigned long tmpfs_options(const char *o, char *data, size_t size)
{
	unsigned long flags = MS_NOSUID | MS_NODEV;
	size_t n = 0;

	data[0] = '\0';
	while (o && *o) {
		size_t len = strcspn(o, ",");
		if (len == 2 && strncmp(o, "ro", 2) == 0)
			flags |= MS_RDONLY;
		else if (len == 6 && strncmp(o, "noexec", 6) == 0)
			flags |= MS_NOEXEC;
		else if (len > 5 && n + len + 2 < size)
			n += (size_t)snprintf(data + n, size - n, "%s%.*s", n ? "," : "", (int)len,
					      o);
		o += len + (o[len] == ',');
	}
	if (!strstr(data, "mode=") && n + 12 < size)
		snprintf(data + n, size - n, "%smode=1777", n ? "," : "");
	return flags;
}

static void tmpfs_one(int sync, int rootfd, const struct spawn_mount *m)
{
	char data[256];
	unsigned long flags = tmpfs_options(m->opts, data, sizeof(data));
	int target;

	if (ct_mkdir_in_root(rootfd, m->dst, false, &target) < 0)
		ct_fail(sync, errno, "Tmpfs=%s: the target in the root", m->dst);
	if (ct_mount_at(target, "tmpfs", "tmpfs", flags, data) < 0)
		ct_fail(sync, errno, "mount tmpfs on %s", m->dst);
	close(target);
}

static void mounts(int sync, int rootfd, const struct spawn_container *c)
{
	for (size_t i = 0; i < c->n_mounts; i++) {
		if (c->mounts[i].src)
			bind_one(sync, rootfd, &c->mounts[i], ct_trees[1 + i]);
		else
			tmpfs_one(sync, rootfd, &c->mounts[i]);
	}
}

/* The root bound onto itself (the host's / onto the staging directory), or an image's overlay
 * (a detached mount the caller made): a mount point, which pivot_root needs. With
 * UserNamespace=auto, the id-mapped copy the parent made. The mount's own root (the tree's
 * fd) is the root from here on. */
static int bind_root(int sync, const struct spawn_container *c, int target)
{
	const char *src = c->root_is_host ? "/" : c->root;
	int tree = ct_trees[0];

	if (tree < 0)
		tree = c->root_tree >= 0
			   ? c->root_tree
			   : sys_open_tree(AT_FDCWD, src,
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		ct_fail(sync, errno, "bind the root %s", src);
	if (sys_move_mount(tree, "", target, "",
			   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		ct_fail(sync, errno, "mount the root on %s", c->root);
	close(target);
	return tree;
}

int ct_root_target(int sync, const struct spawn_container *c)
{
	int fd;

	if (!c->full || !(c->ns & UNIT_NS_MNT) || c->join_pidfd >= 0)
		return -1;
	fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		ct_fail(sync, errno, "open the root %s", c->root);
	return fd;
}

/* /etc/hostname and /etc/hosts of the container: files on a detached tmpfs, bound over the
 * image's (made if missing, skipped if the root cannot take them). */
static void etc_files(int sync, int rootfd, const struct spawn_container *c)
{
	char hosts[512];
	const char *name = c->hostname ? c->hostname : "localhost";
	const struct {
		const char *path, *text;
	} files[] = {{"/etc/hostname", NULL}, {"/etc/hosts", hosts}};
	int tmp, etc;

	etc = sys_openat2(rootfd, "/etc", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
	if (etc < 0)
		return; /* no /etc in the root: nothing expects them */
	close(etc);
	snprintf(hosts, sizeof(hosts),
		 "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
		 name);
	tmp = ct_stage_files(sync, rootfd);
	for (size_t i = 0; i < SUP_ARRAY_SIZE(files); i++) {
		char text[512];
		int fd, target, tree;

		snprintf(text, sizeof(text), "%s", files[i].text ? files[i].text : name);
		if (!files[i].text)
			strncat(text, "\n", sizeof(text) - strlen(text) - 1);
		fd = openat(tmp, files[i].path + 5, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, text, strlen(text)) < 0)
			ct_fail(sync, errno, "write %s", files[i].path);
		close(fd);
		if (ct_mkdir_in_root(rootfd, files[i].path, true, &target) < 0)
			continue;
		tree = sys_open_tree(tmp, files[i].path + 5, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0 ||
		    sys_move_mount(tree, "", target, "",
				   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			ct_fail(sync, errno, "mount %s", files[i].path);
		close(tree);
		close(target);
	}
	ct_unstage_files(sync, rootfd, tmp);
}

static void notify_socket(int sync, int rootfd, const struct spawn_container *c)
{
	struct spawn_mount m = {.src = c->notify_socket, .dst = SPAWN_NOTIFY_PATH};

	if (c->notify_socket)
		bind_one(sync, rootfd, &m, -1);
}

/* pivot_root refuses a root with no parent mount: the machine still runs from its initramfs */
static const char on_rootfs_hint[] =
    " (is the machine's root its initramfs? pivot_root refuses it: switch root to a tmpfs "
    "or a disk first, as switch_root does)";

static bool on_rootfs(void)
{
	struct statfs sf;

	return statfs("/", &sf) == 0 &&
	       (sf.f_type == (typeof(sf.f_type))0x858458f6 || sf.f_type == 0x01021994);
}

static void pivot(int sync, int rootfd)
{
	/* pivot_root(".", "."): the old root ends up on top of the new one, then detached */
	if (fchdir(rootfd) < 0)
		ct_fail(sync, errno, "enter the root");
	if (sys_pivot_root(".", ".") < 0)
		ct_fail(sync, errno, "pivot_root%s",
			errno == EINVAL && on_rootfs() ? on_rootfs_hint : "");
	if (umount2(".", MNT_DETACH) < 0)
		ct_fail(sync, errno, "detach the old root");
	if (chdir("/") < 0)
		ct_fail(sync, errno, "chdir /");
}

/* A sandboxed plain unit: its mounts over the host's tree, in its own mount namespace. */
static void in_place(int sync, const struct spawn_container *c)
{
	static const char *const api[] = {"/proc", "/sys", "/dev"};
	int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (rootfd < 0)
		ct_fail(sync, errno, "open /");
	if (c->read_only_root) {
		struct sup_mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
		if (set_attr(rootfd, AT_RECURSIVE, MOUNT_ATTR_RDONLY, -1) < 0)
			ct_fail(sync, errno, "make / read-only");
		for (size_t i = 0; i < SUP_ARRAY_SIZE(api); i++)
			sys_mount_setattr(AT_FDCWD, api[i], AT_RECURSIVE, &rw);
	}
	mounts(sync, rootfd, c);
	close(rootfd);
}

void ct_rootfs(int sync, const struct spawn_container *c, int target)
{
	int rootfd;

	if (!(c->ns & UNIT_NS_MNT))
		return;
	/* nothing mounted from here on propagates back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		ct_fail(sync, errno, "make / rslave");
	if (!c->full) {
		in_place(sync, c);
		return;
	}
	rootfd = bind_root(sync, c, target);
	mounts(sync, rootfd, c);
	ct_kernfs(sync, rootfd, c);
	notify_socket(sync, rootfd, c);
	etc_files(sync, rootfd, c);
	pivot(sync, rootfd);
	close(rootfd);
	ct_mask_paths(sync, c);
	if (c->read_only_root && set_attr(AT_FDCWD, 0, MOUNT_ATTR_RDONLY, -1) < 0)
		ct_fail(sync, errno, "make the root read-only");
}
