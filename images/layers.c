/*
 * Unpacked layers, kept by diff_id: layers/<hex>/root (the tree) and layers/<hex>/implicit
 * (directories the layer needed but did not list). A layer is unpacked into .tmp-<hex> by the
 * sandboxed unpacker, checked against its diff_id, synced with one syncfs, and renamed into
 * place: a layer directory that exists is complete. A per-layer lock file serialises
 * concurrent pulls of the same layer.
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
#include "images.h"
#include "unpack.h"

static int lock_layer(struct img_store *s, const char *hex, struct sup_error **err)
{
	char name[80];
	int fd;

	snprintf(name, sizeof(name), ".lock-%s", hex);
	fd = openat(s->layers, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sup_error_set(err, errno, "layer lock %s", hex);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return sup_error_set(err, errno, "layer lock %s", hex);
		}
	}
	return fd;
}

int img_layer_link(struct img_store *s, const char *diff_id, struct sup_error **err)
{
	char link[20], target[96], tmp[40];
	const char *hex = diff_id + 7;

	snprintf(link, sizeof(link), "%.16s", hex);
	snprintf(target, sizeof(target), "../layers/%s/root", hex);
	if (faccessat(s->links, link, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), ".%s.%d", link, (int)getpid());
	unlinkat(s->links, tmp, 0);
	if (symlinkat(target, s->links, tmp) < 0 || renameat(s->links, tmp, s->links, link) < 0)
		return sup_error_set(err, errno, "short link l/%s", link);
	return 0;
}

static int write_implicit(int dirfd, const struct strv *implicit, struct sup_error **err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, "implicit", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return sup_error_set(err, errno, "layer metadata");
	for (size_t i = 0; i < implicit->n; i++)
		if (write(fd, implicit->v[i], strlen(implicit->v[i]) + 1) < 0)
			return sup_error_set(err, errno, "layer metadata");
	return 0;
}

/* Unpack into tmp (an empty directory under layers/) and check the result. */
static int unpack_into(struct img_store *s, const char *tmp, const struct img_desc *blob,
		       const char *diff_id, const struct img_unpack_opts *o,
		       struct img_unpack_result *res, struct sup_error **err)
{
	_cleanup_close_ int dir = -1, root = -1, bfd = -1;

	if (mkdirat(s->layers, tmp, 0700) < 0)
		return sup_error_set(err, errno, "mkdir layers/%s", tmp);
	dir = openat(s->layers, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dir < 0 || mkdirat(dir, "root", 0755) < 0)
		return sup_error_set(err, errno, "mkdir layers/%s/root", tmp);
	root = openat(dir, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	bfd = img_store_open_blob(s, blob->digest, err);
	if (root < 0 || bfd < 0)
		return *err ? -1 : sup_error_set(err, errno, "open layers/%s/root", tmp);
	if (img_unpack_sandboxed(bfd, root, o, res, err) < 0)
		return sup_error_wrap(err, "layer %s", blob->digest);
	if (strcmp(res->diff_id, diff_id) != 0)
		return sup_error_set(err, 0,
				     "layer %s: uncompressed digest %s, but the image config says "
				     "%s: nothing kept",
				     blob->digest, res->diff_id, diff_id);
	if (write_implicit(dir, &res->implicit, err) < 0)
		return -1;
	/* one syncfs for the whole layer instead of an fsync per file */
	if (syncfs(root) < 0)
		return sup_error_set(err, errno, "syncfs layers/%s", tmp);
	return 0;
}

int img_layer_ensure(struct img_store *s, const struct img_desc *blob, const char *diff_id,
		     const struct img_unpack_opts *o, struct img_unpack_result *res,
		     struct sup_error **err)
{
	const char *hex = diff_id + 7;
	_cleanup_close_ int lock = -1;
	char tmp[80];
	int r;

	memset(res, 0, sizeof(*res));
	if (!img_digest_valid(diff_id))
		return sup_error_set(err, 0, "invalid diff_id \"%s\"", diff_id);
	if (img_store_has_layer(s, diff_id))
		return img_layer_link(s, diff_id, err) < 0 ? -1 : 1;
	lock = lock_layer(s, hex, err);
	if (lock < 0)
		return -1;
	if (img_store_has_layer(s, diff_id))
		return img_layer_link(s, diff_id, err) < 0 ? -1 : 1;
	snprintf(tmp, sizeof(tmp), ".tmp-%s", hex);
	/* left by an unpack that was killed: we hold the lock, so it is nobody's */
	if (img_store_remove_tree(s, s->layers, tmp, err) < 0)
		return -1;
	r = unpack_into(s, tmp, blob, diff_id, o, res, err);
	if (r == 0 && renameat(s->layers, tmp, s->layers, hex) < 0)
		r = sup_error_set(err, errno, "commit layer %s", hex);
	if (r < 0) {
		struct sup_error *e2 = NULL;
		img_store_remove_tree(s, s->layers, tmp, &e2);
		sup_error_free(e2);
		return -1;
	}
	fsync(s->layers);
	return img_layer_link(s, diff_id, err);
}
