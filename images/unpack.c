/*
 * Layer unpack with libarchive. Two readers in a row: the outer one undoes the compression
 * (gzip, zstd, or none) as a "raw" stream that is hashed on its way through (the diff_id),
 * the inner one reads tar from it. Entries are written with *at() calls from directory fds
 * that were opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): no path of the layer
 * can lead outside the layer directory, and no symlink is ever followed, so a layer cannot
 * write through one (planted earlier in the same layer or, being unpacked alone, in another).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "digest.h"
#include "unpack.h"

#define READ_BLOCK     (256u << 10)
#define PATH_LIMIT     4095
#define FREE_CHECK_GAP (16ull << 20)
#define WH_PREFIX      ".wh."
#define WH_OPAQUE      ".wh..wh..opq"

struct dir_time {
	char *path;
	struct timespec ts[2];
};

struct unpack {
	struct archive *outer, *inner;
	int root;
	const struct img_unpack_opts *o;
	struct img_unpack_result *res;
	struct img_hasher h;
	char *buf;
	uint64_t next_free_check;
	bool outer_eof;
	struct sup_error **err;
	/* the last parent directory opened, reused while entries stay in it */
	char *cached_path;
	int cached_fd;
	struct dir_time *dirs;
	size_t n_dirs, cap_dirs;
};

static long sys_openat2(int dirfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)flags | O_CLOEXEC,
	    .resolve =
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int img_openat_beneath(int dirfd, const char *path, int flags)
{
	long fd;

	do
		fd = sys_openat2(dirfd, path, flags);
	while (fd < 0 && errno == EAGAIN);
	return (int)fd;
}

/* ---- the decompressed stream, hashed on its way to the tar reader */

static int free_space_check(struct unpack *u)
{
	struct statvfs sv;

	if (fstatvfs(u->root, &sv) < 0)
		return 0;
	if ((uint64_t)sv.f_bavail * sv.f_frsize < u->o->min_free)
		return sup_error_set(u->err, ENOSPC,
				     "layer unpack: less than %llu bytes left free on the store's "
				     "filesystem",
				     (unsigned long long)u->o->min_free);
	u->next_free_check = u->res->bytes + FREE_CHECK_GAP;
	return 0;
}

static la_ssize_t inner_read(struct archive *a, void *ud, const void **out)
{
	struct unpack *u = ud;
	la_ssize_t n;

	(void)a;
	if (u->outer_eof)
		return 0;
	n = archive_read_data(u->outer, u->buf, READ_BLOCK);
	if (n < 0) {
		sup_error_set(u->err, 0, "layer: %s", archive_error_string(u->outer));
		return -1;
	}
	if (n == 0)
		u->outer_eof = true;
	img_hasher_update(&u->h, u->buf, (size_t)n);
	u->res->bytes += (uint64_t)n;
	if (u->res->bytes > u->o->max_size) {
		sup_error_set(u->err, EFBIG,
			      "layer: more than %llu bytes uncompressed (MaxLayerSize=)",
			      (unsigned long long)u->o->max_size);
		return -1;
	}
	if (u->res->bytes >= u->next_free_check && free_space_check(u) < 0)
		return -1;
	*out = u->buf;
	return n;
}

/* Trailing blocks after the tar end-of-archive marker still count for the diff_id. */
static int drain(struct unpack *u)
{
	const void *p;

	while (!u->outer_eof)
		if (inner_read(NULL, u, &p) < 0)
			return -1;
	return 0;
}

static int open_readers(struct unpack *u, int blob_fd)
{
	struct archive_entry *e;

	u->outer = archive_read_new();
	u->inner = archive_read_new();
	if (!u->outer || !u->inner)
		return sup_error_set(u->err, ENOMEM, "layer reader");
	archive_read_support_filter_gzip(u->outer);
	archive_read_support_filter_zstd(u->outer);
	archive_read_support_format_raw(u->outer);
	if (archive_read_open_fd(u->outer, blob_fd, READ_BLOCK) != ARCHIVE_OK ||
	    archive_read_next_header(u->outer, &e) != ARCHIVE_OK)
		return sup_error_set(u->err, 0, "layer: %s", archive_error_string(u->outer));
	archive_read_support_format_tar(u->inner);
	if (archive_read_open(u->inner, u, NULL, inner_read, NULL) != ARCHIVE_OK)
		return *u->err ? -1
			       : sup_error_set(u->err, 0, "layer: not a tar archive: %s",
					       archive_error_string(u->inner));
	return 0;
}

/* ---- paths */

/* The layer's name for an entry, cleaned; refusals say which trick it was. */
static int normalise(const char *in, char *out, size_t size, const char *what,
		     struct sup_error **err)
{
	if (!in)
		return sup_error_set(err, 0, "%s: entry without a name", what);
	if (size > PATH_LIMIT + 1)
		size = PATH_LIMIT + 1;
	switch (img_path_normalise(in, out, size, false)) {
	case 0:
		return 0;
	case IMG_PATH_ABSOLUTE:
		return sup_error_set(err, 0, "%s \"%s\": absolute path refused", what, in);
	case IMG_PATH_DOTDOT:
		return sup_error_set(err, 0, "%s \"%s\": \"..\" refused", what, in);
	default:
		return sup_error_set(err, 0, "%s \"%.100s...\": name or path too long", what, in);
	}
}

static void drop_cache(struct unpack *u)
{
	if (u->cached_fd >= 0)
		close(u->cached_fd);
	u->cached_fd = -1;
	free(u->cached_path);
	u->cached_path = NULL;
}

static int refuse_walk(struct unpack *u, const char *entry, const char *dir, int e)
{
	if (e == ELOOP)
		return sup_error_set(u->err, 0,
				     "entry \"%s\": \"%s\" is a symlink: writing through a symlink "
				     "is refused",
				     entry, dir);
	if (e == EXDEV)
		return sup_error_set(u->err, 0, "entry \"%s\": \"%s\" leads outside the layer",
				     entry, dir);
	return sup_error_set(u->err, e, "entry \"%s\": open directory \"%s\"", entry, dir);
}

/* Create the missing directories of rel one by one, never through a symlink. */
static int make_parents(struct unpack *u, const char *entry, char *rel)
{
	_cleanup_close_ int cur = fcntl(u->root, F_DUPFD_CLOEXEC, 0);
	char *p = rel;

	while (cur >= 0 && *p) {
		char *slash = strchr(p, '/');
		int fd;
		if (slash)
			*slash = '\0';
		fd = img_openat_beneath(cur, p, O_RDONLY | O_DIRECTORY);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST)
				return sup_error_set(u->err, errno, "entry \"%s\": mkdir \"%s\"",
						     entry, rel);
			/* rel up to here: recorded so the puller can check the layers below */
			if (strv_push(&u->res->implicit, rel) < 0)
				return sup_error_set(u->err, ENOMEM, "implicit dirs");
			fd = img_openat_beneath(cur, p, O_RDONLY | O_DIRECTORY);
		}
		if (fd < 0)
			return refuse_walk(u, entry, rel, errno);
		close(cur);
		cur = fd;
		if (!slash)
			break;
		*slash = '/';
		p = slash + 1;
	}
	return sup_steal_fd(cur);
}

/* An fd of the directory that holds rel's last component; *base points at that component. */
static int open_parent(struct unpack *u, char *rel, const char **base)
{
	char *slash = strrchr(rel, '/');
	const char *entry = rel;
	int fd;

	*base = slash ? slash + 1 : rel;
	if (!slash)
		return u->root;
	*slash = '\0';
	if (u->cached_path && !strcmp(u->cached_path, rel)) {
		*slash = '/';
		return u->cached_fd;
	}
	drop_cache(u);
	fd = img_openat_beneath(u->root, rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0 && errno == ENOENT)
		fd = make_parents(u, entry, rel);
	else if (fd < 0)
		fd = refuse_walk(u, entry, rel, errno);
	if (fd >= 0) {
		u->cached_fd = fd;
		u->cached_path = strdup(rel);
		if (!u->cached_path)
			drop_cache(u);
	}
	*slash = '/';
	return fd;
}

/* Make room for a new entry: whatever is there goes, except a directory with content. */
static int clear_slot(struct unpack *u, int dfd, const char *base, const char *entry, bool keep_dir)
{
	struct stat st;

	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sup_error_set(u->err, errno, "entry \"%s\"", entry);
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir)
			return 1;
		/* the cached parent may be this very directory (unless it is dfd itself) */
		if (dfd != u->cached_fd)
			drop_cache(u);
		if (unlinkat(dfd, base, AT_REMOVEDIR) < 0)
			return sup_error_set(u->err, errno,
					     "entry \"%s\": replaces a directory that is not empty",
					     entry);
		return 0;
	}
	if (unlinkat(dfd, base, 0) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": replace", entry);
	return 0;
}

/* ---- metadata */

/* Dropped: trusted.* (a layer must not forge overlayfs's own metadata: opaque, redirect,
 * metacopy) and security.* but security.capability (the host's LSM labels). The rest (user.*,
 * system.posix_acl_*) is kept. */
static bool xattr_allowed(const char *name)
{
	if (!strncmp(name, "trusted.", 8))
		return false;
	if (!strncmp(name, "security.", 9))
		return !strcmp(name, "security.capability");
	return *name != '\0';
}

static int set_xattrs(struct unpack *u, struct archive_entry *e, int fd, const char *entry)
{
	const char *name;
	const void *val;
	size_t len;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK) {
		if (!name || !xattr_allowed(name)) {
			u->res->dropped_xattrs++;
			continue;
		}
		if (fsetxattr(fd, name, val, len, 0) < 0 && errno != ENOTSUP)
			return sup_error_set(u->err, errno, "entry \"%s\": set xattr %s", entry,
					     name);
	}
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec =
	    archive_entry_atime_is_set(e) ? archive_entry_atime(e) : archive_entry_mtime(e);
	ts[0].tv_nsec = archive_entry_atime_is_set(e) ? archive_entry_atime_nsec(e)
						      : archive_entry_mtime_nsec(e);
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
}

/* Owner first, then mode: chown clears the set-id bits. */
static int set_owner_mode(struct unpack *u, struct archive_entry *e, int fd, const char *entry)
{
	if (!u->o->no_chown &&
	    fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": chown", entry);
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": chmod", entry);
	return 0;
}

/* Directory times are set last: every entry written into a directory changes its mtime. */
static int remember_dir(struct unpack *u, const char *rel, struct archive_entry *e)
{
	struct dir_time *d;

	if (u->n_dirs == u->cap_dirs) {
		size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
		d = reallocarray(u->dirs, cap, sizeof(*d));
		if (!d)
			return sup_error_set(u->err, ENOMEM, "directory list");
		u->dirs = d;
		u->cap_dirs = cap;
	}
	d = &u->dirs[u->n_dirs];
	d->path = strdup(rel);
	if (!d->path)
		return sup_error_set(u->err, ENOMEM, "directory list");
	entry_times(e, d->ts);
	u->n_dirs++;
	return 0;
}

static void apply_dir_times(struct unpack *u)
{
	for (size_t i = 0; i < u->n_dirs; i++) {
		int fd = u->dirs[i].path[0]
			     ? img_openat_beneath(u->root, u->dirs[i].path, O_RDONLY | O_DIRECTORY)
			     : fcntl(u->root, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0) {
			futimens(fd, u->dirs[i].ts);
			close(fd);
		}
	}
}

/* ---- entries */

static int write_data(struct unpack *u, int fd, struct archive_entry *e, const char *entry)
{
	const void *block;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(u->inner, &block, &len, &off)) == ARCHIVE_OK) {
		size_t done = 0;
		while (done < len) {
			ssize_t w = pwrite(fd, (const char *)block + done, len - done,
					   (off_t)off + (off_t)done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return sup_error_set(u->err, errno, "entry \"%s\": write", entry);
			done += (size_t)w;
		}
	}
	if (r != ARCHIVE_EOF)
		return *u->err ? -1
			       : sup_error_set(u->err, 0, "entry \"%s\": %s", entry,
					       archive_error_string(u->inner));
	/* sparse files end in a hole */
	if (ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": truncate", entry);
	return 0;
}

static int do_file(struct unpack *u, struct archive_entry *e, int dfd, const char *base,
		   const char *entry)
{
	_cleanup_close_ int fd = -1;
	struct timespec ts[2];

	if (clear_slot(u, dfd, base, entry, false) < 0)
		return -1;
	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": create", entry);
	if (write_data(u, fd, e, entry) < 0 || set_owner_mode(u, e, fd, entry) < 0 ||
	    set_xattrs(u, e, fd, entry) < 0)
		return -1;
	entry_times(e, ts);
	futimens(fd, ts);
	return 0;
}

/* A directory made for an earlier entry and listed by the layer afterwards is not implicit. */
static void unmark_implicit(struct unpack *u, const char *rel)
{
	struct strv *im = &u->res->implicit;

	for (size_t i = 0; i < im->n; i++) {
		if (strcmp(im->v[i], rel) != 0)
			continue;
		free(im->v[i]);
		memmove(&im->v[i], &im->v[i + 1], (im->n - i) * sizeof(char *));
		im->n--;
		return;
	}
}

static int do_dir(struct unpack *u, struct archive_entry *e, int dfd, const char *base,
		  const char *rel)
{
	_cleanup_close_ int fd = -1;
	int r = rel[0] ? clear_slot(u, dfd, base, rel, true) : 1;

	if (r < 0)
		return -1;
	if (r == 0 && mkdirat(dfd, base, 0700) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": mkdir", rel);
	fd = rel[0] ? img_openat_beneath(dfd, base, O_RDONLY | O_DIRECTORY)
		    : fcntl(u->root, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return refuse_walk(u, rel, rel, errno);
	if (set_owner_mode(u, e, fd, rel) < 0 || set_xattrs(u, e, fd, rel) < 0)
		return -1;
	unmark_implicit(u, rel);
	return remember_dir(u, rel, e);
}

static int do_symlink(struct unpack *u, struct archive_entry *e, int dfd, const char *base,
		      const char *entry)
{
	const char *target = archive_entry_symlink(e);
	struct timespec ts[2];

	if (!target || !*target)
		return sup_error_set(u->err, 0, "entry \"%s\": symlink without a target", entry);
	if (clear_slot(u, dfd, base, entry, false) < 0)
		return -1;
	/* the target is stored, never followed: it may point anywhere */
	if (symlinkat(target, dfd, base) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": symlink", entry);
	if (!u->o->no_chown && fchownat(dfd, base, (uid_t)archive_entry_uid(e),
					(gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": chown", entry);
	entry_times(e, ts);
	utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int do_hardlink(struct unpack *u, struct archive_entry *e, int dfd, const char *base,
		       const char *entry)
{
	char target[PATH_LIMIT + 1];
	_cleanup_close_ int tfd = -1;
	const char *tbase;
	char *slash;

	if (normalise(archive_entry_hardlink(e), target, sizeof(target), "hard link target",
		      u->err) < 0)
		return sup_error_wrap(u->err, "entry \"%s\"", entry);
	if (!target[0])
		return sup_error_set(u->err, 0, "entry \"%s\": hard link to the root", entry);
	slash = strrchr(target, '/');
	if (slash) {
		*slash = '\0';
		tfd = img_openat_beneath(u->root, target, O_PATH | O_DIRECTORY);
		*slash = '/';
		if (tfd < 0)
			return sup_error_set(u->err, errno == ELOOP ? 0 : errno,
					     "entry \"%s\": hard link target \"%s\" is not inside "
					     "the layer%s",
					     entry, target,
					     errno == ELOOP ? " (through a symlink)" : "");
	}
	tbase = slash ? slash + 1 : target;
	if (!strcmp(target, entry))
		return 0; /* a link to itself: nothing to do */
	if (clear_slot(u, dfd, base, entry, false) < 0)
		return -1;
	if (linkat(slash ? tfd : u->root, tbase, dfd, base, 0) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": hard link to \"%s\"", entry,
				     target);
	return 0;
}

static int do_whiteout(struct unpack *u, int dfd, const char *base, const char *entry)
{
	const char *name = base + strlen(WH_PREFIX);
	struct stat st;

	if (!strcmp(base, WH_OPAQUE)) {
		if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return sup_error_set(u->err, errno, "entry \"%s\": mark opaque", entry);
		u->res->opaques++;
		return 0;
	}
	if (!strncmp(base, WH_PREFIX WH_PREFIX, 8))
		return 0; /* AUFS bookkeeping (.wh..wh.plnk...): meaningless here */
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return sup_error_set(u->err, 0, "entry \"%s\": invalid whiteout", entry);
	/* the spec: a whiteout hides lower layers only, never an entry of its own layer */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (mknodat(dfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return sup_error_set(u->err, errno, "entry \"%s\": whiteout", entry);
	u->res->whiteouts++;
	return 0;
}

static int do_entry(struct unpack *u, struct archive_entry *e)
{
	char rel[PATH_LIMIT + 1];
	const char *base;
	mode_t type = archive_entry_filetype(e);
	int dfd;

	if (normalise(archive_entry_pathname(e), rel, sizeof(rel), "entry", u->err) < 0)
		return -1;
	if (archive_entry_size(e) > 0 && (uint64_t)archive_entry_size(e) > u->o->max_size)
		return sup_error_set(u->err, EFBIG,
				     "entry \"%s\": %lld bytes, over MaxLayerSize=", rel,
				     (long long)archive_entry_size(e));
	u->res->entries++;
	if (!rel[0])
		return type == AE_IFDIR ? do_dir(u, e, u->root, "", rel) : 0;
	dfd = open_parent(u, rel, &base);
	if (dfd < 0)
		return -1;
	if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX)))
		return do_whiteout(u, dfd, base, rel);
	if (archive_entry_hardlink(e))
		return do_hardlink(u, e, dfd, base, rel);
	switch (type) {
	case AE_IFREG:
		return do_file(u, e, dfd, base, rel);
	case AE_IFDIR:
		return do_dir(u, e, dfd, base, rel);
	case AE_IFLNK:
		return do_symlink(u, e, dfd, base, rel);
	case AE_IFIFO:
		if (clear_slot(u, dfd, base, rel, false) < 0)
			return -1;
		if (mknodat(dfd, base, S_IFIFO | (archive_entry_perm(e) & 0777), 0) < 0)
			return sup_error_set(u->err, errno, "entry \"%s\": mkfifo", rel);
		return 0;
	default:
		/* device nodes and sockets: an image gets its /dev from the runtime, and the only
		 * 0/0 character devices in a layer directory are the whiteouts made above */
		u->res->skipped_devices++;
		return 0;
	}
}

void img_unpack_result_free(struct img_unpack_result *r)
{
	strv_free(&r->implicit);
}

static void unpack_cleanup(struct unpack *u)
{
	drop_cache(u);
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	if (u->inner)
		archive_read_free(u->inner);
	if (u->outer)
		archive_read_free(u->outer);
	img_hasher_free(&u->h);
	free(u->buf);
}

int img_unpack_layer(int blob_fd, int root_fd, const struct img_unpack_opts *o,
		     struct img_unpack_result *res, struct sup_error **err)
{
	struct unpack u = {.root = root_fd, .o = o, .res = res, .err = err, .cached_fd = -1};
	struct archive_entry *e;
	int r;

	memset(res, 0, sizeof(*res));
	u.buf = malloc(READ_BLOCK);
	if (!u.buf || img_hasher_init(&u.h, err) < 0) {
		sup_error_set(err, ENOMEM, "layer unpack");
		goto out;
	}
	if (free_space_check(&u) < 0 || open_readers(&u, blob_fd) < 0)
		goto out;
	while ((r = archive_read_next_header(u.inner, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
		if (do_entry(&u, e) < 0)
			goto out;
	if (r != ARCHIVE_EOF) {
		if (!*err)
			sup_error_set(err, 0, "layer: %s", archive_error_string(u.inner));
		goto out;
	}
	if (drain(&u) < 0)
		goto out;
	apply_dir_times(&u);
	img_hasher_final(&u.h, res->diff_id);
out:
	unpack_cleanup(&u);
	return *err ? -1 : 0;
}
