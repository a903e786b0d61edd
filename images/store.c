/*
 * The store's blobs and partial downloads. Every blob is written under tmp/, checked, fsynced
 * and renamed into blobs/sha256/: a blob that is there is whole and correct, whatever was
 * killed when. Partial downloads stay in tmp/ for the next pull to resume; their writer holds
 * an flock on them, so two pulls of the same layer take turns instead of mixing bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "digest.h"
#include "store.h"

static int open_dir(int dirfd, const char *name, struct sup_error **err)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return sup_error_set(err, errno, "mkdir %s", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sup_error_set(err, errno, "open %s", name);
	return fd;
}

int img_store_write_atomic(struct img_store *s, int dirfd, const char *name, const void *data,
			   size_t len)
{
	char tmp[96];
	static unsigned seq;

	/* a name of our own in tmp/: concurrent writers never share a temp file */
	snprintf(tmp, sizeof(tmp), "w-%d-%u", (int)getpid(), seq++);
	if (sup_write_file_atomic(s->tmp, tmp, data, len, 0644) < 0)
		return -1;
	if (renameat(s->tmp, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(s->tmp, tmp, 0);
		errno = e;
		return -1;
	}
	fsync(dirfd);
	return 0;
}

static int init_layout(struct img_store *s, struct sup_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	static const char index[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";
	struct stat st;

	if (fstatat(s->root, "oci-layout", &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    img_store_write_atomic(s, s->root, "oci-layout", layout, strlen(layout)) < 0)
		return sup_error_set(err, errno, "write %s/oci-layout", s->path);
	if (fstatat(s->root, "index.json", &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    img_store_write_atomic(s, s->root, "index.json", index, strlen(index)) < 0)
		return sup_error_set(err, errno, "write %s/index.json", s->path);
	return 0;
}

int img_store_open(const char *state_dir, struct img_store *s, struct sup_error **err)
{
	_cleanup_close_ int state = -1;
	_cleanup_free_ char *abs = NULL;
	int blobs_parent = -1;

	memset(s, 0, sizeof(*s));
	s->root = s->blobs = s->tmp = s->layers = s->links = s->gc_lock = -1;
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return sup_error_set(err, errno, "mkdir %s", state_dir);
	state = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (state < 0)
		return sup_error_set(err, errno, "open %s", state_dir);
	/* absolute: layer paths handed to overlayfs must not depend on the cwd */
	abs = realpath(state_dir, NULL);
	if (!abs || asprintf(&s->path, "%s/images", abs) < 0) {
		s->path = NULL;
		return sup_error_set(err, ENOMEM, "store path");
	}
	if ((s->root = open_dir(state, "images", err)) < 0 ||
	    (blobs_parent = open_dir(s->root, "blobs", err)) < 0 ||
	    (s->blobs = open_dir(blobs_parent, "sha256", err)) < 0 ||
	    (s->tmp = open_dir(s->root, "tmp", err)) < 0 ||
	    (s->layers = open_dir(s->root, "layers", err)) < 0 ||
	    (s->links = open_dir(s->root, "l", err)) < 0) {
		if (blobs_parent >= 0)
			close(blobs_parent);
		sup_error_wrap(err, "image store %s", s->path);
		img_store_close(s);
		return -1;
	}
	close(blobs_parent);
	/* the second lower layer of a read-only root made of one layer (overlayfs wants two) */
	if (mkdirat(s->root, "empty", 0755) < 0 && errno != EEXIST) {
		sup_error_set(err, errno, "mkdir %s/empty", s->path);
		img_store_close(s);
		return -1;
	}
	/* the OCI layout's blobs must be readable by tools run as other users (skopeo) */
	fchmod(s->root, 0755);
	s->gc_lock = openat(s->root, "gc.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->gc_lock < 0 || init_layout(s, err) < 0) {
		sup_error_set(err, errno, "image store %s: gc.lock", s->path);
		img_store_close(s);
		return -1;
	}
	return 0;
}

void img_store_close(struct img_store *s)
{
	int *fds[] = {&s->root, &s->blobs, &s->tmp, &s->layers, &s->links, &s->gc_lock};

	for (size_t i = 0; i < SUP_ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(s->path);
	s->path = NULL;
}

int img_store_lock(struct img_store *s, bool exclusive, struct sup_error **err)
{
	while (flock(s->gc_lock, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return sup_error_set(err, errno, "lock %s/gc.lock", s->path);
	return 0;
}

bool img_store_has_blob(struct img_store *s, const char *digest)
{
	struct stat st;

	return img_digest_valid(digest) &&
	       fstatat(s->blobs, digest + 7, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int img_store_open_blob(struct img_store *s, const char *digest, struct sup_error **err)
{
	int fd;

	if (!img_digest_valid(digest))
		return sup_error_set(err, 0, "invalid digest \"%s\"", digest);
	fd = openat(s->blobs, digest + 7, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sup_error_set(err, errno, "blob %s", digest);
	return fd;
}

int img_store_read_blob(struct img_store *s, const char *digest, char **buf, size_t *len,
			struct sup_error **err)
{
	_cleanup_close_ int fd = img_store_open_blob(s, digest, err);
	_cleanup_free_ char *data = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return sup_error_set(err, errno, "blob %s", digest);
	if ((uint64_t)st.st_size > IMG_MANIFEST_MAX)
		return sup_error_set(err, 0, "blob %s: too large to be a manifest or config",
				     digest);
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		return sup_error_set(err, ENOMEM, "blob %s", digest);
	n = sup_pread_all(fd, data, (size_t)st.st_size + 1);
	if (n < 0)
		return sup_error_set(err, errno, "read blob %s", digest);
	if (img_digest_verify(data, (size_t)n, digest, UINT64_MAX, digest, err) < 0)
		return -1;
	*len = (size_t)n;
	*buf = sup_steal_ptr(data);
	return 0;
}

int img_store_put_blob(struct img_store *s, const char *digest, uint64_t size, const void *data,
		       size_t len, struct sup_error **err)
{

	if (img_digest_verify(data, len, digest, size, digest, err) < 0)
		return -1;
	if (img_store_has_blob(s, digest))
		return 0;
	if (img_store_write_atomic(s, s->blobs, digest + 7, data, len) < 0)
		goto fail;
	return 0;
fail:
	return sup_error_set(err, errno, "write blob %s", digest);
}

int img_store_partial_open(struct img_store *s, const char *digest, struct img_partial *p,
			   struct sup_error **err)
{
	char name[IMG_DIGEST_LEN + 16];
	struct stat st;

	p->fd = -1;
	snprintf(p->digest, sizeof(p->digest), "%s", digest);
	if (img_store_has_blob(s, digest))
		return 1;
	snprintf(name, sizeof(name), "%s.partial", digest + 7);
	p->fd = openat(s->tmp, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (p->fd < 0)
		return sup_error_set(err, errno, "open partial blob %s", digest);
	/* never wait here: a pull holding other partials while it waits could deadlock with one
	 * waiting the other way round; the caller tries again later */
	while (flock(p->fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			img_store_partial_close(p);
			return 2;
		}
		return sup_error_set(err, errno, "lock partial blob %s", digest);
	}
	/* the previous holder may have finished it meanwhile */
	if (img_store_has_blob(s, digest)) {
		img_store_partial_close(p);
		return 1;
	}
	if (fstat(p->fd, &st) < 0)
		return sup_error_set(err, errno, "partial blob %s", digest);
	if (st.st_nlink == 0) {
		/* unlinked by a writer that dropped it after we opened it: start afresh */
		img_store_partial_close(p);
		return img_store_partial_open(s, digest, p, err);
	}
	p->have = (uint64_t)st.st_size;
	return 0;
}

int img_store_partial_commit(struct img_store *s, struct img_partial *p, struct sup_error **err)
{
	char name[IMG_DIGEST_LEN + 16];

	snprintf(name, sizeof(name), "%s.partial", p->digest + 7);
	if (fsync(p->fd) < 0 || fchmod(p->fd, 0644) < 0 ||
	    renameat(s->tmp, name, s->blobs, p->digest + 7) < 0)
		return sup_error_set(err, errno, "commit blob %s", p->digest);
	fsync(s->blobs);
	img_store_partial_close(p);
	return 0;
}

void img_store_partial_drop(struct img_store *s, struct img_partial *p)
{
	char name[IMG_DIGEST_LEN + 16];

	snprintf(name, sizeof(name), "%s.partial", p->digest + 7);
	if (p->fd >= 0)
		unlinkat(s->tmp, name, 0);
	img_store_partial_close(p);
}

void img_store_partial_close(struct img_partial *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

bool img_store_has_layer(struct img_store *s, const char *diff_id)
{
	char name[IMG_DIGEST_LEN + 8];
	struct stat st;

	if (!img_digest_valid(diff_id))
		return false;
	snprintf(name, sizeof(name), "%s/root", diff_id + 7);
	return fstatat(s->layers, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

char *img_store_layer_root(struct img_store *s, const char *diff_id)
{
	char *p = NULL;

	if (asprintf(&p, "%s/layers/%s/root", s->path, diff_id + 7) < 0)
		return NULL;
	return p;
}
