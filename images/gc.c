/*
 * Garbage collection: mark what index.json and the caller's keep list (digests units still
 * use) reach, sweep the rest. Runs with the store held exclusive, so no pull is between
 * committing a blob and naming it in index.json. A layer directory is renamed away before it
 * is deleted, so a crash mid-way never leaves half a layer under a committed name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "store.h"

struct marks {
	struct strv blobs;  /* digests */
	struct strv layers; /* diff_ids */
};

static int mark_manifest(struct img_store *s, struct marks *mk, const char *digest, int depth)
{
	_cleanup_free_ char *buf = NULL;
	struct img_manifest m;
	struct img_config c;
	struct sup_error *e = NULL;
	size_t len;

	if (depth > 2 || strv_contains(&mk->blobs, digest))
		return 0;
	if (strv_push(&mk->blobs, digest) < 0)
		return -1;
	if (img_store_read_blob(s, digest, &buf, &len, &e) < 0 ||
	    img_manifest_parse(buf, len, NULL, &m, &e) < 0) {
		sup_error_free(e); /* not a manifest (a layer kept by digest) or missing */
		return 0;
	}
	for (size_t i = 0; i < m.n_manifests; i++)
		mark_manifest(s, mk, m.manifests[i].digest, depth + 1);
	for (size_t i = 0; i < m.n_layers; i++)
		strv_push(&mk->blobs, m.layers[i].digest);
	if (m.kind == IMG_KIND_MANIFEST) {
		strv_push(&mk->blobs, m.config.digest);
		free(buf);
		buf = NULL;
		if (img_store_read_blob(s, m.config.digest, &buf, &len, &e) == 0 &&
		    img_config_parse(buf, len, &c, &e) == 0) {
			for (size_t i = 0; i < c.diff_ids.n; i++)
				strv_push(&mk->layers, c.diff_ids.v[i]);
			img_config_free(&c);
		}
		sup_error_free(e);
	}
	img_manifest_free(&m);
	return 0;
}

static int mark_roots(struct img_store *s, struct marks *mk, const struct strv *keep,
		      struct sup_error **err)
{
	json_t *list = NULL, *e;
	size_t i;

	if (img_store_list(s, &list, err) < 0)
		return -1;
	json_array_foreach(list, i, e)
	    mark_manifest(s, mk, json_string_value(json_object_get(e, "digest")), 0);
	json_decref(list);
	for (i = 0; keep && i < keep->n; i++) {
		/* a kept digest may be a manifest, a config, a layer blob or a diff_id */
		mark_manifest(s, mk, keep->v[i], 0);
		strv_push(&mk->layers, keep->v[i]);
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int img_store_remove_tree(struct img_store *s, int dirfd, const char *name, struct sup_error **err)
{
	char away[128], path[PATH_MAX];
	static unsigned seq;

	/* renamed first: what is left after a crash is a .del- entry the next gc finishes */
	if (strncmp(name, ".del-", 5) != 0) {
		snprintf(away, sizeof(away), ".del-%d-%u", (int)getpid(), seq++);
		if (renameat(dirfd, name, s->layers, away) < 0)
			return errno == ENOENT ? 0 : sup_error_set(err, errno, "remove %s", name);
		name = away;
	}
	if (snprintf(path, sizeof(path), "%s/layers/%s", s->path, name) >= (int)sizeof(path))
		return sup_error_set(err, ENAMETOOLONG, "remove %s", name);
	/* nftw walks by path with FTW_PHYS (no symlink followed) and a bounded number of fds,
	 * however deep a hostile layer nests its directories */
	if (nftw(path, rm_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return sup_error_set(err, errno, "remove %s", path);
	return 0;
}

static bool hex_name(const char *n)
{
	return strlen(n) == 64 && strspn(n, "0123456789abcdef") == 64;
}

static void sweep_blobs(struct img_store *s, struct marks *mk, struct img_gc_stats *st)
{
	_cleanup_closedir_ DIR *d = fdopendir(fcntl(s->blobs, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;
	char dg[IMG_DIGEST_LEN + 1];

	/* the dup shares its offset with the store's fd: start from the top */
	if (d)
		rewinddir(d);
	while (d && (de = readdir(d))) {
		struct stat sb;
		if (!hex_name(de->d_name))
			continue;
		snprintf(dg, sizeof(dg), "sha256:%s", de->d_name);
		if (strv_contains(&mk->blobs, dg))
			continue;
		if (fstatat(s->blobs, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			st->bytes += (uint64_t)sb.st_size;
		if (unlinkat(s->blobs, de->d_name, 0) == 0)
			st->blobs++;
	}
}

static void drop_link(struct img_store *s, const char *hex)
{
	char l[20];

	snprintf(l, sizeof(l), "%.16s", hex);
	unlinkat(s->links, l, 0);
}

static void sweep_layers(struct img_store *s, struct marks *mk, struct img_gc_stats *st)
{
	_cleanup_closedir_ DIR *d = fdopendir(fcntl(s->layers, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;
	char dg[IMG_DIGEST_LEN + 1];
	struct strv doomed = {0};
	struct sup_error *e = NULL;

	/* the dup shares its offset with the store's fd: start from the top */
	if (d)
		rewinddir(d);
	while (d && (de = readdir(d))) {
		snprintf(dg, sizeof(dg), "sha256:%.64s", de->d_name);
		if (hex_name(de->d_name) && strv_contains(&mk->layers, dg))
			continue;
		/* .tmp-HEX: an unpack killed mid-way (its lock is free: we hold the store) */
		if (hex_name(de->d_name) || !strncmp(de->d_name, ".del-", 5) ||
		    !strncmp(de->d_name, ".tmp-", 5))
			strv_push(&doomed, de->d_name);
	}
	for (size_t i = 0; i < doomed.n; i++) {
		if (hex_name(doomed.v[i]))
			drop_link(s, doomed.v[i]);
		if (img_store_remove_tree(s, s->layers, doomed.v[i], &e) == 0 &&
		    hex_name(doomed.v[i]))
			st->layers++;
		sup_error_clear(&e);
	}
	strv_free(&doomed);
}

static void sweep_tmp(struct img_store *s, struct img_gc_stats *st)
{
	_cleanup_closedir_ DIR *d = fdopendir(fcntl(s->tmp, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;

	/* the dup shares its offset with the store's fd: start from the top */
	if (d)
		rewinddir(d);
	while (d && (de = readdir(d))) {
		_cleanup_close_ int fd = -1;
		if (de->d_name[0] == '.')
			continue;
		fd = openat(s->tmp, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		/* a partial that someone is writing is theirs */
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		if (unlinkat(s->tmp, de->d_name, 0) == 0)
			st->partials++;
	}
}

int img_store_gc(struct img_store *s, const struct strv *keep, struct img_gc_stats *st,
		 struct sup_error **err)
{
	struct marks mk = {0};
	int r;

	memset(st, 0, sizeof(*st));
	if (img_store_lock(s, true, err) < 0)
		return -1;
	r = mark_roots(s, &mk, keep, err);
	if (r == 0) {
		sweep_blobs(s, &mk, st);
		sweep_layers(s, &mk, st);
		sweep_tmp(s, st);
		syncfs(s->root);
	}
	strv_free(&mk.blobs);
	strv_free(&mk.layers);
	flock(s->gc_lock, LOCK_UN);
	return r;
}
