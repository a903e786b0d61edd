/*
 * The check across a chain of layers: a directory that layer i created only because one of
 * its entries needed it (it is in layers/<hex>/implicit) must not stand where the topmost
 * lower layer that has that path put a symlink. Applied in place (as docker's tar
 * extraction is), the layer would write through the symlink; stacked in an overlay, its
 * directory would silently replace it. Either way the layer is hostile or broken: refused.
 * A directory the layer lists itself is a deliberate replacement and allowed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "images.h"
#include "unpack.h"

#define IMPLICIT_MAX (16u << 20)

/* What layer root has at rel: 'd' directory, 'l' symlink, 'o' other, 0 nothing. */
static char entry_kind(int root, char *rel)
{
	char *slash = strrchr(rel, '/');
	_cleanup_close_ int pfd = -1;
	struct stat st;

	if (slash) {
		*slash = '\0';
		pfd = img_openat_beneath(root, rel, O_PATH | O_DIRECTORY);
		*slash = '/';
	} else {
		pfd = fcntl(root, F_DUPFD_CLOEXEC, 0);
	}
	/* a symlink further up is this layer's own affair: nothing at rel here */
	if (pfd < 0 || fstatat(pfd, slash ? slash + 1 : rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'o';
}

static int read_implicit(struct img_store *s, const char *diff_id, char **buf, size_t *len)
{
	char name[96];
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	snprintf(name, sizeof(name), "%s/implicit", diff_id + 7);
	fd = openat(s->layers, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > IMPLICIT_MAX)
		return -1;
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf)
		return -1;
	n = pread(fd, *buf, (size_t)st.st_size, 0);
	if (n < 0)
		return -1;
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

static int check_layer(struct img_store *s, const int *roots, size_t i, const struct strv *ids,
		       struct sup_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	if (read_implicit(s, ids->v[i], &buf, &len) < 0)
		return sup_error_set(err, errno, "layer %s: read its metadata", ids->v[i]);
	for (size_t off = 0; buf && off < len; off += strlen(buf + off) + 1) {
		char *p = buf + off;
		for (size_t j = i; j-- > 0;) {
			char k = entry_kind(roots[j], p);
			if (k == 'l')
				return sup_error_set(
				    err, 0,
				    "layer %zu (%s) writes under \"%s\", a symlink "
				    "in layer %zu: writing through a symlink is "
				    "refused",
				    i + 1, ids->v[i], p, j + 1);
			if (k)
				break;
		}
	}
	return 0;
}

int img_layers_check_chain(struct img_store *s, const struct strv *ids, struct sup_error **err)
{
	int *roots = calloc(ids->n ? ids->n : 1, sizeof(int));
	int r = 0;

	if (!roots)
		return sup_error_set(err, ENOMEM, "layer chain");
	for (size_t i = 0; i < ids->n; i++) {
		char name[96];
		snprintf(name, sizeof(name), "%s/root", ids->v[i] + 7);
		roots[i] = openat(s->layers, name, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (roots[i] < 0 && r == 0)
			r = sup_error_set(err, errno, "layer %s", ids->v[i]);
	}
	for (size_t i = 1; i < ids->n && r == 0; i++)
		r = check_layer(s, roots, i, ids, err);
	for (size_t i = 0; i < ids->n; i++)
		if (roots[i] >= 0)
			close(roots[i]);
	free(roots);
	return r;
}
