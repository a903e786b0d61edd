/*
 * Offline import: an OCI image layout tarball (skopeo's oci-archive, `docker save` of Docker
 * 25+) or a classic `docker save` tarball (manifest.json + <id>/layer.tar), read once from an
 * fd the caller opened (supctl opens the file as the user; root never opens a user's path).
 * Every file is hashed on its way into the store; a blobs/sha256/<hex> file whose content
 * hashes otherwise is refused, and layers are checked against the config's diff_ids when
 * unpacked, as for a pull.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "digest.h"
#include "images.h"

#define META_MAX    (4u << 20)
#define ENTRIES_MAX 100000

struct lfile {
	char *path;
	char digest[IMG_DIGEST_LEN + 1];
	uint64_t size;
	char *link; /* a symlink's target, resolved against its directory */
	char *meta; /* the content of a small JSON file (index.json, manifest.json) */
	size_t meta_len;
};

struct load {
	struct img_store *s;
	const struct img_ops *ops;
	struct archive *a;
	struct lfile *f;
	size_t n, cap;
	char *buf;
	struct sup_error **err;
};

static bool is_meta(const char *p)
{
	return !strcmp(p, "index.json") || !strcmp(p, "manifest.json") ||
	       !strcmp(p, "oci-layout") || !strcmp(p, "repositories");
}

static int norm_path(const char *in, char *out, size_t size)
{
	return img_path_normalise(in, out, size, false);
}

static struct lfile *add_file(struct load *l, const char *path)
{
	struct lfile *f;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		if (cap > ENTRIES_MAX || !(f = reallocarray(l->f, cap, sizeof(*f))))
			return NULL;
		l->f = f;
		l->cap = cap;
	}
	f = &l->f[l->n];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path)
		return NULL;
	l->n++;
	return f;
}

/* Stream a regular file into tmp/, hashing it; commit it as a blob under its own digest. */
static int take_file(struct load *l, struct lfile *f)
{
	char tmp[64];
	_cleanup_close_ int fd = -1;
	struct img_hasher h;
	la_ssize_t n;
	bool meta = is_meta(f->path);

	snprintf(tmp, sizeof(tmp), "load-%d-%zu", (int)getpid(), l->n);
	fd = openat(l->s->tmp, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || img_hasher_init(&h, l->err) < 0)
		return sup_error_set(l->err, errno, "load: temp file");
	while ((n = archive_read_data(l->a, l->buf, 1 << 17)) > 0) {
		if (f->size + (uint64_t)n > l->ops->set->max_layer_size ||
		    (meta && f->size + (uint64_t)n > META_MAX)) {
			sup_error_set(l->err, EFBIG, "load: %s is too large", f->path);
			break;
		}
		if (meta) {
			char *m = realloc(f->meta, f->size + (size_t)n + 1);
			if (!m)
				break;
			memcpy(m + f->size, l->buf, (size_t)n);
			m[f->size + (size_t)n] = '\0';
			f->meta = m;
		} else if (write(fd, l->buf, (size_t)n) != n) {
			sup_error_set(l->err, errno, "load: write %s", f->path);
			break;
		}
		img_hasher_update(&h, l->buf, (size_t)n);
		f->size += (uint64_t)n;
	}
	img_hasher_final(&h, f->digest);
	img_hasher_free(&h);
	f->meta_len = f->size;
	if (!*l->err && n < 0)
		sup_error_set(l->err, 0, "load: %s: %s", f->path, archive_error_string(l->a));
	if (!*l->err && !strncmp(f->path, "blobs/sha256/", 13) &&
	    strcmp(f->path + 13, f->digest + 7) != 0)
		sup_error_set(l->err, 0, "load: %s: content hashes to %s: corrupt tarball", f->path,
			      f->digest);
	if (!*l->err && !meta && !img_store_has_blob(l->s, f->digest) &&
	    (fsync(fd) < 0 || renameat(l->s->tmp, tmp, l->s->blobs, f->digest + 7) < 0))
		sup_error_set(l->err, errno, "load: commit %s", f->path);
	unlinkat(l->s->tmp, tmp, 0);
	return *l->err ? -1 : 0;
}

static int take_symlink(struct load *l, struct lfile *f, const char *target)
{
	char joined[4096];
	const char *slash = strrchr(f->path, '/');

	/* docker save links a repeated layer: "b/layer.tar" -> "../a/layer.tar" */
	snprintf(joined, sizeof(joined), "%.*s%s%s", slash ? (int)(slash - f->path) : 0, f->path,
		 slash ? "/" : "", target);
	f->link = malloc(sizeof(joined));
	if (!f->link || img_path_normalise(joined, f->link, sizeof(joined), true) < 0 ||
	    target[0] == '/')
		return sup_error_set(l->err, 0, "load: %s: symlink leads outside the tarball",
				     f->path);
	return 0;
}

static int read_tarball(struct load *l, int fd)
{
	struct archive_entry *e;
	char path[4096];
	int r;

	l->a = archive_read_new();
	archive_read_support_filter_gzip(l->a);
	archive_read_support_filter_zstd(l->a);
	archive_read_support_format_tar(l->a);
	if (archive_read_open_fd(l->a, fd, 1 << 17) != ARCHIVE_OK)
		return sup_error_set(l->err, 0, "load: %s", archive_error_string(l->a));
	while ((r = archive_read_next_header(l->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		mode_t t = archive_entry_filetype(e);
		struct lfile *f;
		if (t != AE_IFREG && t != AE_IFLNK)
			continue;
		if (norm_path(archive_entry_pathname(e), path, sizeof(path)) < 0)
			return sup_error_set(l->err, 0, "load: entry \"%s\": unsafe path",
					     archive_entry_pathname(e));
		if (!(f = add_file(l, path)))
			return sup_error_set(l->err, ENOMEM, "load: too many entries");
		if (t == AE_IFLNK ? take_symlink(l, f, archive_entry_symlink(e) ?: "")
				  : take_file(l, f) < 0)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return sup_error_set(l->err, 0, "load: %s", archive_error_string(l->a));
	return 0;
}

static const struct lfile *find(struct load *l, const char *path, int depth)
{
	char norm[4096];

	if (!path || norm_path(path, norm, sizeof(norm)) < 0 || depth > 8)
		return NULL;
	for (size_t i = l->n; i-- > 0;)
		if (!strcmp(l->f[i].path, norm))
			return l->f[i].link ? find(l, l->f[i].link, depth + 1) : &l->f[i];
	return NULL;
}

/* The name for an image: a full reference from the tarball, or --tag, or localhost/loaded. */
static char *image_name(const char *given, const char *tag_opt, const char *fallback_tag)
{
	struct img_ref r;
	struct sup_error *e = NULL;
	char *n = NULL;
	const char *s = tag_opt ? tag_opt : given;

	if (s && (strchr(s, '/') || strchr(s, ':')) && img_ref_parse(s, &r, &e) == 0) {
		n = img_ref_string(&r);
		img_ref_free(&r);
		return n;
	}
	sup_error_free(e);
	if (asprintf(&n, "localhost/loaded:%.*s", s ? 128 : 12, s ? s : fallback_tag) < 0)
		return NULL;
	return n;
}

/* Check, unpack and name one image manifest that is already in the store. */
static int import(struct load *l, const char *digest, const char *name, json_t *out)
{
	struct img_image im;
	int r;

	if (img_image_open(l->s, digest, &im, l->err) < 0)
		return -1;
	for (size_t i = 0; i < im.manifest.n_layers; i++)
		if (!img_store_has_blob(l->s, im.manifest.layers[i].digest)) {
			img_image_close(&im);
			return sup_error_set(l->err, 0, "load: layer %s is not in the tarball",
					     im.manifest.layers[i].digest);
		}
	free(im.name);
	im.name = strdup(name);
	r = img_image_unpack(l->s, &im, l->ops, l->err);
	if (r == 0)
		r = img_store_set_ref(l->s, name, &im.desc, im.config.created, NULL, l->err);
	if (r == 0)
		json_array_append_new(out, img_image_json(l->s, &im));
	img_image_close(&im);
	return r;
}

static int oci_entry(struct load *l, json_t *e, const char *tag, json_t *out)
{
	json_t *ann = json_object_get(e, "annotations");
	const char *full = json_string_value(json_object_get(ann, "io.containerd.image.name"));
	const char *ref = json_string_value(json_object_get(ann, IMG_REF_NAME_ANNOT));
	const char *dg = json_string_value(json_object_get(e, "digest"));
	_cleanup_free_ char *buf = NULL, *name = NULL;
	struct img_manifest m;
	size_t len, i = 0;
	char digest[IMG_DIGEST_LEN + 1];

	if (!dg || img_store_read_blob(l->s, dg, &buf, &len, l->err) < 0 ||
	    img_manifest_parse(buf, len, NULL, &m, l->err) < 0)
		return sup_error_wrap(l->err, "load: index.json entry %s", dg ? dg : "(no digest)");
	snprintf(digest, sizeof(digest), "%s", dg);
	if (m.kind == IMG_KIND_INDEX) {
		if (img_index_select(&m, &l->ops->set->platform, &i, l->err) < 0) {
			img_manifest_free(&m);
			return -1;
		}
		snprintf(digest, sizeof(digest), "%s", m.manifests[i].digest);
	}
	img_manifest_free(&m);
	name = image_name(full ? full : ref, tag, digest + 7);
	if (!name)
		return sup_error_set(l->err, ENOMEM, "load");
	return import(l, digest, name, out);
}

static int load_oci(struct load *l, const struct lfile *index, const char *tag, json_t *out)
{
	json_t *idx = json_loadb(index->meta ? index->meta : "", index->meta_len, 0, NULL), *e;
	size_t i;
	int r = 0;

	if (!json_is_array(json_object_get(idx, "manifests")))
		r = sup_error_set(l->err, 0, "load: index.json has no manifests");
	json_array_foreach(json_object_get(idx, "manifests"), i, e) if (r == 0) r =
	    oci_entry(l, e, tag, out);
	json_decref(idx);
	return r;
}

/* The first bytes of a blob tell its compression. */
static const char *layer_media_type(struct img_store *s, const char *digest)
{
	_cleanup_close_ int fd = img_store_open_blob(s, digest, NULL);
	unsigned char m[4] = {0};

	if (fd >= 0 && pread(fd, m, 4, 0) == 4) {
		if (m[0] == 0x1f && m[1] == 0x8b)
			return "application/vnd.oci.image.layer.v1.tar+gzip";
		if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
			return "application/vnd.oci.image.layer.v1.tar+zstd";
	}
	return "application/vnd.oci.image.layer.v1.tar";
}

/* Classic docker save: write an OCI manifest for {Config, Layers}, then import it. */
static int docker_entry(struct load *l, json_t *e, const char *tag, json_t *out)
{
	const struct lfile *cfg = find(l, json_string_value(json_object_get(e, "Config")), 0);
	json_t *layers = json_array(), *lp, *man, *tags = json_object_get(e, "RepoTags");
	_cleanup_free_ char *text = NULL;
	char digest[IMG_DIGEST_LEN + 1];
	size_t i;
	int r = 0;

	if (!cfg)
		r = sup_error_set(l->err, 0, "load: manifest.json: Config file missing");
	json_array_foreach(json_object_get(e, "Layers"), i, lp)
	{
		const struct lfile *f = find(l, json_string_value(lp), 0);
		if (!f && r == 0)
			r = sup_error_set(l->err, 0, "load: layer %s missing",
					  json_string_value(lp));
		if (f)
			json_array_append_new(layers,
					      json_pack("{s:s, s:s, s:I}", "mediaType",
							layer_media_type(l->s, f->digest), "digest",
							f->digest, "size", (json_int_t)f->size));
	}
	man = r ? NULL
		: json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
			    MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
			    cfg->digest, "size", (json_int_t)cfg->size, "layers", layers);
	if (!man) {
		json_decref(layers);
		return r ? r : sup_error_set(l->err, ENOMEM, "load");
	}
	text = json_dumps(man, JSON_COMPACT);
	json_decref(man);
	if (!text)
		return sup_error_set(l->err, ENOMEM, "load");
	img_sha256(text, strlen(text), digest);
	if (img_store_put_blob(l->s, digest, UINT64_MAX, text, strlen(text), l->err) < 0)
		return -1;
	if (tag || !json_array_size(tags)) {
		_cleanup_free_ char *name = image_name(NULL, tag, cfg->digest + 7);
		return name ? import(l, digest, name, out) : sup_error_set(l->err, ENOMEM, "load");
	}
	json_array_foreach(tags, i, lp)
	{
		_cleanup_free_ char *name =
		    image_name(json_string_value(lp), NULL, cfg->digest + 7);
		if (!name || import(l, digest, name, out) < 0)
			return name ? -1 : sup_error_set(l->err, ENOMEM, "load");
	}
	return 0;
}

static int load_docker(struct load *l, const struct lfile *mf, const char *tag, json_t *out)
{
	json_t *arr = json_loadb(mf->meta ? mf->meta : "", mf->meta_len, 0, NULL), *e;
	size_t i;
	int r = 0;

	if (!json_is_array(arr))
		r = sup_error_set(l->err, 0, "load: manifest.json is not an array");
	json_array_foreach(arr, i, e) if (r == 0) r = docker_entry(l, e, tag, out);
	json_decref(arr);
	return r;
}

int img_load(struct img_store *s, int fd, const char *tag, const struct img_ops *ops,
	     json_t **result, struct sup_error **err)
{
	struct load l = {.s = s, .ops = ops, .err = err};
	const struct lfile *index, *mf;
	json_t *out = json_array();
	int r = -1;

	l.buf = malloc(1 << 17);
	if (!l.buf || !out) {
		sup_error_set(err, ENOMEM, "load");
		goto done;
	}
	if (img_store_lock(s, false, err) < 0 || read_tarball(&l, fd) < 0)
		goto done;
	index = find(&l, "index.json", 0);
	mf = find(&l, "manifest.json", 0);
	/* Docker 25+ writes both: the OCI index is the richer description */
	if (index && find(&l, "oci-layout", 0))
		r = load_oci(&l, index, tag, out);
	else if (mf)
		r = load_docker(&l, mf, tag, out);
	else
		sup_error_set(err, 0,
			      "load: neither an OCI layout (oci-layout, index.json) nor a "
			      "docker save tarball (manifest.json)");
done:
	for (size_t i = 0; i < l.n; i++) {
		free(l.f[i].path);
		free(l.f[i].link);
		free(l.f[i].meta);
	}
	free(l.f);
	free(l.buf);
	if (l.a)
		archive_read_free(l.a);
	if (r == 0)
		*result = out;
	else
		json_decref(out);
	return r;
}
