/*
 * index.json: which names the store knows, each pointing at one image manifest. Read, changed
 * and replaced atomically under index.lock, so concurrent pulls never lose each other's refs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/fileio.h"
#include "store.h"

#define INDEX_MAX (16u << 20)

static int index_lock(struct img_store *s, struct sup_error **err)
{
	int fd = openat(s->root, "index.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return sup_error_set(err, errno, "open %s/index.lock", s->path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return sup_error_set(err, errno, "lock %s/index.lock", s->path);
		}
	}
	return fd;
}

static json_t *index_load(struct img_store *s, struct sup_error **err)
{
	_cleanup_close_ int fd = openat(s->root, "index.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	json_error_t jerr;
	json_t *idx;

	if (fd < 0) {
		sup_error_set(err, errno, "open %s/index.json", s->path);
		return NULL;
	}
	idx = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (!idx || !json_is_array(json_object_get(idx, "manifests"))) {
		sup_error_set(err, 0, "%s/index.json: %s", s->path,
			      idx ? "no manifests array" : jerr.text);
		json_decref(idx);
		return NULL;
	}
	return idx;
}

static int index_save(struct img_store *s, json_t *idx, struct sup_error **err)
{
	_cleanup_free_ char *text = json_dumps(idx, JSON_COMPACT);

	if (!text)
		return sup_error_set(err, ENOMEM, "index.json");
	if (img_store_write_atomic(s, s->root, "index.json", text, strlen(text)) < 0)
		return sup_error_set(err, errno, "write %s/index.json", s->path);
	return 0;
}

static const char *entry_name(json_t *e)
{
	return json_string_value(
	    json_object_get(json_object_get(e, "annotations"), IMG_REF_NAME_ANNOT));
}

/* "reg/repo:tag" matches itself; "reg/repo" (no tag, no digest) matches every tag of repo. */
static bool name_matches(const char *have, const char *want)
{
	size_t n = strlen(want);
	const char *last_slash = strrchr(want, '/');
	bool bare = !strchr(last_slash ? last_slash : want, ':') && !strchr(want, '@');

	if (!have)
		return false;
	if (!strcmp(have, want))
		return true;
	return bare && !strncmp(have, want, n) && (have[n] == ':' || have[n] == '@');
}

static json_t *make_entry(const char *name, const struct img_desc *m, const char *created)
{
	json_t *e =
	    json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", m->media_type, "digest", m->digest,
		      "size", (json_int_t)m->size, "annotations", IMG_REF_NAME_ANNOT, name);

	if (e && created)
		json_object_set_new(json_object_get(e, "annotations"), IMG_CREATED_ANNOT,
				    json_string(created));
	if (e && m->has_platform) {
		json_t *p =
		    json_pack("{s:s, s:s}", "os", m->platform.os, "architecture", m->platform.arch);
		if (p && m->platform.variant[0])
			json_object_set_new(p, "variant", json_string(m->platform.variant));
		json_object_set_new(e, "platform", p);
	}
	return e;
}

int img_store_set_ref(struct img_store *s, const char *name, const struct img_desc *m,
		      const char *created, const char *source_digest, struct sup_error **err)
{
	_cleanup_close_ int lock = index_lock(s, err);
	json_t *idx, *list, *e;
	size_t i;
	int r;

	if (lock < 0 || !(idx = index_load(s, err)))
		return -1;
	list = json_object_get(idx, "manifests");
	for (i = json_array_size(list); i-- > 0;)
		if (name_matches(entry_name(json_array_get(list, i)), name) &&
		    !strcmp(entry_name(json_array_get(list, i)), name))
			json_array_remove(list, i);
	e = make_entry(name, m, created);
	if (e && source_digest)
		json_object_set_new(json_object_get(e, "annotations"), IMG_SOURCE_DIGEST_ANNOT,
				    json_string(source_digest));
	if (!e || json_array_append_new(list, e) < 0) {
		json_decref(idx);
		return sup_error_set(err, ENOMEM, "index.json");
	}
	r = index_save(s, idx, err);
	json_decref(idx);
	return r;
}

int img_store_find_ref(struct img_store *s, const char *name, struct img_desc *d,
		       struct sup_error **err)
{
	json_t *idx = index_load(s, err), *e;
	size_t i;
	int found = 0;

	if (!idx)
		return -1;
	json_array_foreach(json_object_get(idx, "manifests"), i, e)
	{
		const char *n = entry_name(e),
			   *dg = json_string_value(json_object_get(e, "digest"));
		const char *mt = json_string_value(json_object_get(e, "mediaType"));
		if (!n || strcmp(n, name) != 0 || !dg || !img_digest_valid(dg))
			continue;
		memset(d, 0, sizeof(*d));
		snprintf(d->digest, sizeof(d->digest), "%s", dg);
		snprintf(d->media_type, sizeof(d->media_type), "%s", mt ? mt : MT_OCI_MANIFEST);
		d->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
		found = 1;
	}
	json_decref(idx);
	return found;
}

int img_store_remove_ref(struct img_store *s, const char *name, struct sup_error **err)
{
	_cleanup_close_ int lock = index_lock(s, err);
	json_t *idx, *list;
	int removed = 0;

	if (lock < 0 || !(idx = index_load(s, err)))
		return -1;
	list = json_object_get(idx, "manifests");
	for (size_t i = json_array_size(list); i-- > 0;) {
		json_t *e = json_array_get(list, i);
		const char *dg = json_string_value(json_object_get(e, "digest"));
		/* a bare digest names every ref that points at it */
		if (name_matches(entry_name(e), name) || (dg && !strcmp(dg, name))) {
			json_array_remove(list, i);
			removed++;
		}
	}
	if (removed && index_save(s, idx, err) < 0)
		removed = -1;
	json_decref(idx);
	return removed;
}

/* Total size of an image: manifest + config + layers, as stored (compressed). */
static uint64_t image_size(struct img_store *s, const char *digest, uint64_t msize)
{
	_cleanup_free_ char *buf = NULL;
	struct img_manifest m;
	struct sup_error *e = NULL;
	size_t len;
	uint64_t total = msize;

	if (img_store_read_blob(s, digest, &buf, &len, &e) < 0 ||
	    img_manifest_parse(buf, len, NULL, &m, &e) < 0) {
		sup_error_free(e);
		return total;
	}
	total += m.config.size;
	for (size_t i = 0; i < m.n_layers; i++)
		total += m.layers[i].size;
	img_manifest_free(&m);
	return total;
}

static json_t *list_entry(struct img_store *s, json_t *e)
{
	const char *name = entry_name(e), *dg = json_string_value(json_object_get(e, "digest"));
	const char *created = json_string_value(
	    json_object_get(json_object_get(e, "annotations"), IMG_CREATED_ANNOT));
	json_t *p = json_object_get(e, "platform");
	_cleanup_free_ char *repo = NULL;
	const char *tag = NULL, *at, *slash, *colon;

	if (!name || !dg || !img_digest_valid(dg))
		return NULL;
	repo = strdup(name);
	if (!repo)
		return NULL;
	at = strchr(repo, '@');
	if (at)
		*(char *)at = '\0';
	slash = strrchr(repo, '/');
	colon = strrchr(repo, ':');
	if (colon && (!slash || colon > slash)) {
		*(char *)colon = '\0';
		tag = colon + 1;
	}
	return json_pack(
	    "{s:s, s:s, s:s?, s:s, s:I, s:s?, s:O?}", "ref", name, "name", repo, "tag", tag,
	    "digest", dg, "size",
	    (json_int_t)image_size(s, dg, (uint64_t)json_integer_value(json_object_get(e, "size"))),
	    "created", created, "platform", p);
}

int img_store_list(struct img_store *s, json_t **out, struct sup_error **err)
{
	json_t *idx = index_load(s, err), *e, *arr = json_array();
	size_t i;

	if (!idx || !arr) {
		json_decref(idx);
		json_decref(arr);
		return -1;
	}
	json_array_foreach(json_object_get(idx, "manifests"), i, e)
	{
		json_t *o = list_entry(s, e);
		if (o)
			json_array_append_new(arr, o);
	}
	json_decref(idx);
	*out = arr;
	return 0;
}
