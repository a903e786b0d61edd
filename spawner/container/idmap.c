/*
 * Id-mapped mounts for UserNamespace=auto: the root and the Bind= sources are cloned
 * (open_tree OPEN_TREE_CLONE) and id-mapped with the child's user namespace (mount_setattr
 * MOUNT_ATTR_IDMAP), so that the host's files keep their owners on disk and root's files are
 * root's inside: nothing is chowned. The kernel lets only a process privileged over the
 * filesystem's own user namespace (the host's) id-map a mount, so the parent makes these
 * trees after it wrote the child's id maps, and hands them over with the release message
 * (SCM_RIGHTS); the child moves them into its mount namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/unit.h"
#include "container.h"
#include "sys.h"

int ct_trees[CT_TREES_MAX] = {[0 ... CT_TREES_MAX - 1] = -1};

/* The release message: 0 or the errno of what failed (and what), and which slots of
 * ct_trees come with it as fds, in order. */
struct go_msg {
	int errnum;
	unsigned char present[CT_TREES_MAX];
	char msg[256];
};

bool ct_parent_makes_trees(const struct spawn_container *c)
{
	return c->idmapped && c->full && (c->ns & UNIT_NS_USER) && c->join_pidfd < 0;
}

/* f_type of the filesystems a message may have to name */
static const char *fs_name(long type)
{
	static const struct {
		long magic;
		const char *name;
	} fs[] = {
	    {0xEF53, "ext4"},
	    {0x58465342, "xfs"},
	    {0x9123683E, "btrfs"},
	    {0x01021994, "tmpfs"},
	    {(long)0x858458f6, "ramfs"},
	    {0x794c7630, "overlay"},
	    {0x6969, "nfs"},
	    {0x01021997, "9p"},
	    {0x65735546, "fuse"},
	    {0x73717368, "squashfs"},
	    {0x9fa0, "proc"},
	    {0x62656572, "sysfs"},
	    {0x4d44, "vfat"},
	    {0x2011BAB0, "exfat"},
	    {0x28cd3d45, "cramfs"},
	};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(fs); i++)
		if (fs[i].magic == type)
			return fs[i].name;
	return "this filesystem";
}

/* "LABEL: STEP: ENAME (text)"; an id-map refused for the filesystem says which and why */
static int tree_fail(struct go_msg *m, int e, const char *label, const char *step, const char *path)
{
	struct statfs sf;

	m->errnum = e;
	if (e == EINVAL && strcmp(step, "id-map it") == 0 && statfs(path, &sf) == 0)
		snprintf(
		    m->msg, sizeof(m->msg),
		    "%s: %s (or a mount below it) does not support id-mapped mounts on this "
		    "kernel; UserNamespace=auto needs them (ext4, xfs, btrfs; tmpfs from 6.3), "
		    "or give an explicit UserNamespace=HOST:CONTAINER:COUNT",
		    label, fs_name((long)sf.f_type));
	else
		snprintf(m->msg, sizeof(m->msg), "%s: %s: %s (%s)", label, step,
			 strerrorname_np(e) ? strerrorname_np(e) : "?", strerror(e));
	return -1;
}

/* A copy of path (recursive; "" with dirfd: of that mount, an image's overlay), id-mapped
 * (recursively unless top_only), read-only if ro. */
static int idmapped_tree_at(const char *label, int dirfd, const char *path, int userns,
			    bool top_only, bool ro, struct go_msg *m)
{
	struct sup_mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
	int tree = sys_open_tree(dirfd, path,
				 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
				     (*path ? 0 : AT_EMPTY_PATH));

	if (tree < 0)
		return tree_fail(m, errno, label, "the source", path);
	if (sys_mount_setattr(tree, "", AT_EMPTY_PATH | (top_only ? 0 : AT_RECURSIVE), &a) < 0) {
		int e = errno;
		close(tree);
		return tree_fail(m, e, label, "id-map it", path);
	}
	a = (struct sup_mount_attr){.attr_set = MOUNT_ATTR_RDONLY};
	if (ro && sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) < 0) {
		int e = errno;
		close(tree);
		return tree_fail(m, e, label, "make it read-only", path);
	}
	return tree;
}

static int idmapped_tree(const char *label, const char *path, int userns, bool top_only, bool ro,
			 struct go_msg *m)
{
	return idmapped_tree_at(label, AT_FDCWD, path, userns, top_only, ro, m);
}

/* The trees, into fds (slot by slot, -1 where none); 0, or -1 with m filled. */
static int make_trees(pid_t pid, const struct spawn_container *c, int *fds, struct go_msg *m)
{
	_cleanup_close_ int userns = -1;
	char path[64], label[256];

	if (c->n_mounts + 1 > CT_TREES_MAX) {
		m->errnum = E2BIG;
		snprintf(m->msg, sizeof(m->msg), "UserNamespace=auto: at most %d Bind= mounts",
			 CT_TREES_MAX - 1);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	userns = open(path, O_RDONLY | O_CLOEXEC);
	if (userns < 0)
		return tree_fail(m, errno, "the container's user namespace", "open it", path);
	/* the host's / as the root: its other mounts (proc, sysfs, ...) cannot be id-mapped */
	snprintf(label, sizeof(label), "the root %s", c->root_is_host ? "/" : c->root);
	if (c->root_tree >= 0) /* an image's overlay, made by the caller */
		fds[0] =
		    idmapped_tree_at("the image's root", c->root_tree, "", userns, false, false, m);
	else
		fds[0] = idmapped_tree(label, c->root_is_host ? "/" : c->root, userns,
				       c->root_is_host, false, m);
	if (fds[0] < 0)
		return -1;
	for (size_t i = 0; i < c->n_mounts; i++) {
		const struct spawn_mount *b = &c->mounts[i];
		struct stat st;

		if (!b->src || (b->optional && stat(b->src, &st) < 0 && errno == ENOENT))
			continue;
		snprintf(label, sizeof(label), "Bind=%s:%s", b->src, b->dst);
		fds[1 + i] = idmapped_tree(label, b->src, userns, false, b->ro, m);
		if (fds[1 + i] < 0)
			return -1;
	}
	return 0;
}

static int send_go(int sock, struct go_msg *m, const int *fds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * CT_TREES_MAX)];
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int n = 0, *out;

	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	out = (int *)CMSG_DATA(CMSG_FIRSTHDR(&mh));
	for (int i = 0; i < CT_TREES_MAX && !m->errnum; i++)
		if ((m->present[i] = fds[i] >= 0))
			out[n++] = fds[i];
	if (n) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
	} else {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

void ct_release(int sock, pid_t pid, const struct spawn_container *c, int errnum)
{
	struct go_msg m = {.errnum = errnum};
	int fds[CT_TREES_MAX];

	for (int i = 0; i < CT_TREES_MAX; i++)
		fds[i] = -1;
	if (!m.errnum)
		make_trees(pid, c, fds, &m);
	else
		snprintf(m.msg, sizeof(m.msg),
			 "join the unit's cgroup or write its id maps: %s (%s)",
			 strerrorname_np(errnum) ? strerrorname_np(errnum) : "?", strerror(errnum));
	if (send_go(sock, &m, fds) < 0) {
		/* the child is gone already: its exit says so */
	}
	for (int i = 0; i < CT_TREES_MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int ct_wait_release(int sock, char *msg, size_t size)
{
	char cbuf[CMSG_SPACE(sizeof(int) * CT_TREES_MAX)];
	struct go_msg m;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t n;
	int k = 0;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(m)) {
		snprintf(msg, size, "wait for supd to release the container");
		return n < 0 ? errno : EIO;
	}
	m.msg[sizeof(m.msg) - 1] = '\0';
	snprintf(msg, size, "%s", m.msg);
	cm = CMSG_FIRSTHDR(&mh);
	if (!m.errnum && cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
		const int *in = (const int *)CMSG_DATA(cm);
		int got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < CT_TREES_MAX; i++)
			if (m.present[i] && k < got)
				ct_trees[i] = in[k++];
	}
	return m.errnum;
}
