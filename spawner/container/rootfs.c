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
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "container.h"
#include "sys.h"

#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

/* One component at a time from the root: each made if missing, the last as a file if file.
 * The last component must not be a symbolic link. *out: an O_PATH fd of it. */
int ct_mkdir_in_root(int rootfd, const char *path, bool file, int *out)
{
	char prefix[4096];
	const char *p = path;
	int fd = -1;

	while (*p == '/')
		p++;
	if (!*p)
		return (*out = dup(rootfd)) < 0 ? -1 : 0;
	while (*p) {
		size_t n = strcspn(p, "/");
		bool last = p[n + strspn(p + n, "/")] == '\0';
		size_t plen = (size_t)(p - path) + n;
		int parent;

		if (plen >= sizeof(prefix))
			return errno = ENAMETOOLONG, -1;
		memcpy(prefix, path, plen);
		prefix[plen] = '\0';
		fd = sys_openat2(rootfd, prefix, O_PATH | O_CLOEXEC | O_NOFOLLOW,
				 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
		if (fd < 0 && errno == ENOENT) {
			/* the parent as the root sees it, then the name in it */
			prefix[p - path] = '\0';
			parent = sys_openat2(rootfd, prefix[0] ? prefix : "/",
					     O_PATH | O_DIRECTORY | O_CLOEXEC,
					     RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
			if (parent < 0)
				return -1;
			memcpy(prefix, p, n);
			prefix[n] = '\0';
			if (last && file) {
				int f = openat(parent, prefix,
					       O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
					       0644);
				if (f >= 0)
					close(f);
			} else {
				mkdirat(parent, prefix, 0755);
			}
			fd = openat(parent, prefix, O_PATH | O_CLOEXEC | O_NOFOLLOW);
			close(parent);
		}
		if (fd < 0)
			return -1;
		p += n + strspn(p + n, "/");
		if (!*p)
			break;
		close(fd);
	}
	{
		struct stat st;
		if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
			close(fd);
			return errno = ELOOP, -1;
		}
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

/* A copy of the host's src (recursive), id-mapped and read-only as asked, at dst in the root. */
static void bind_one(int sync, int rootfd, const struct spawn_mount *m, int userns)
{
	struct stat st;
	int tree, target;

	if (stat(m->src, &st) < 0) {
		if (errno == ENOENT && m->optional)
			return;
		ct_fail(sync, errno, "Bind=%s:%s: the source", m->src, m->dst);
	}
	tree = sys_open_tree(AT_FDCWD, m->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		ct_fail(sync, errno, "Bind=%s:%s: copy the source", m->src, m->dst);
	if (userns >= 0 && set_attr(tree, AT_RECURSIVE, MOUNT_ATTR_IDMAP, userns) < 0)
		ct_fail(sync, errno, "Bind=%s:%s: id-map it", m->src, m->dst);
	if (m->ro && set_attr(tree, AT_RECURSIVE, MOUNT_ATTR_RDONLY, -1) < 0)
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

static void mounts(int sync, int rootfd, const struct spawn_container *c, int userns)
{
	for (size_t i = 0; i < c->n_mounts; i++) {
		if (c->mounts[i].src)
			bind_one(sync, rootfd, &c->mounts[i], userns);
		else
			tmpfs_one(sync, rootfd, &c->mounts[i]);
	}
}

/* The root bound onto itself (the host's / onto the staging directory), or an image's overlay
 * moved onto the staging directory: a mount point, which pivot_root needs. */
static int bind_root(int sync, const struct spawn_container *c, int userns)
{
	const char *src = c->root_is_host ? "/" : c->root;
	int tree, fd;

	tree =
	    c->root_tree >= 0
		? c->root_tree
		: sys_open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		ct_fail(sync, errno, "bind the root %s", src);
	if (userns >= 0 && set_attr(tree, AT_RECURSIVE, MOUNT_ATTR_IDMAP, userns) < 0)
		ct_fail(sync, errno, "id-map the root %s", src);
	if (sys_move_mount(tree, "", AT_FDCWD, c->root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		ct_fail(sync, errno, "mount the root on %s", c->root);
	close(tree);
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
	tmp = ct_stage_files(sync);
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
	close(tmp);
}

static void notify_socket(int sync, int rootfd, const struct spawn_container *c)
{
	struct spawn_mount m = {.src = c->notify_socket, .dst = SPAWN_NOTIFY_PATH};

	if (c->notify_socket)
		bind_one(sync, rootfd, &m, -1);
}

static void pivot(int sync, int rootfd)
{
	/* pivot_root(".", "."): the old root ends up on top of the new one, then detached */
	if (fchdir(rootfd) < 0)
		ct_fail(sync, errno, "enter the root");
	if (sys_pivot_root(".", ".") < 0)
		ct_fail(sync, errno, "pivot_root");
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
	mounts(sync, rootfd, c, -1);
	close(rootfd);
}

void ct_rootfs(int sync, const struct spawn_container *c)
{
	int userns, rootfd;

	if (!(c->ns & UNIT_NS_MNT))
		return;
	/* nothing mounted from here on propagates back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		ct_fail(sync, errno, "make / rslave");
	if (!c->full) {
		in_place(sync, c);
		return;
	}
	userns = -1; /* id-mapped mounts: made by the parent (not yet) */
	rootfd = bind_root(sync, c, userns);
	mounts(sync, rootfd, c, userns);
	ct_kernfs(sync, rootfd, c);
	notify_socket(sync, rootfd, c);
	etc_files(sync, rootfd, c);
	pivot(sync, rootfd);
	close(rootfd);
	ct_mask_paths(sync, c);
	if (c->read_only_root && set_attr(AT_FDCWD, 0, MOUNT_ATTR_RDONLY, -1) < 0)
		ct_fail(sync, errno, "make the root read-only");
}
