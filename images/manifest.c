/*
 * Manifests (OCI and Docker schema 2), indexes and manifest lists, image configs: the JSON a
 * registry or a tarball hands over, read into bounded structs. Everything is checked: types,
 * digest syntax, sizes, counts. Pure: no I/O (fuzzed by tests/fuzz/fuzz_manifest.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cleanup.h"
#include "manifest.h"

struct mt_entry {
	const char *mt;
	enum img_kind kind;
	enum img_compression comp;
};

static const struct mt_entry media_types[] = {
    {MT_OCI_MANIFEST, IMG_KIND_MANIFEST, IMG_COMP_NONE},
    {MT_DOCKER_MANIFEST, IMG_KIND_MANIFEST, IMG_COMP_NONE},
    {MT_OCI_INDEX, IMG_KIND_INDEX, IMG_COMP_NONE},
    {MT_DOCKER_LIST, IMG_KIND_INDEX, IMG_COMP_NONE},
    {MT_OCI_CONFIG, IMG_KIND_CONFIG, IMG_COMP_NONE},
    {MT_DOCKER_CONFIG, IMG_KIND_CONFIG, IMG_COMP_NONE},
    {"application/vnd.oci.image.layer.v1.tar", IMG_KIND_LAYER, IMG_COMP_NONE},
    {"application/vnd.oci.image.layer.v1.tar+gzip", IMG_KIND_LAYER, IMG_COMP_GZIP},
    {"application/vnd.oci.image.layer.v1.tar+zstd", IMG_KIND_LAYER, IMG_COMP_ZSTD},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", IMG_KIND_LAYER, IMG_COMP_GZIP},
    {"application/vnd.docker.image.rootfs.diff.tar", IMG_KIND_LAYER, IMG_COMP_NONE},
};

bool img_media_type_kind(const char *mt, enum img_kind *kind, enum img_compression *comp)
{
	for (size_t i = 0; i < SUP_ARRAY_SIZE(media_types); i++) {
		if (strcmp(mt, media_types[i].mt) != 0)
			continue;
		*kind = media_types[i].kind;
		*comp = media_types[i].comp;
		return true;
	}
	*kind = IMG_KIND_UNKNOWN;
	*comp = IMG_COMP_NONE;
	return false;
}

static int copy_str(char *dst, size_t size, json_t *v, const char *what, struct sup_error **err)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) >= size)
		return sup_error_set(err, 0, "%s: missing, not a string or too long", what);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* Only the fields sup needs; unknown ones are ignored as the spec asks. */
static int parse_platform(json_t *p, struct img_desc *d, struct sup_error **err)
{
	json_t *variant = json_object_get(p, "variant");

	if (!json_is_object(p))
		return sup_error_set(err, 0, "platform: not an object");
	if (copy_str(d->platform.os, sizeof(d->platform.os), json_object_get(p, "os"),
		     "platform.os", err) < 0 ||
	    copy_str(d->platform.arch, sizeof(d->platform.arch), json_object_get(p, "architecture"),
		     "platform.architecture", err) < 0)
		return -1;
	if (variant && copy_str(d->platform.variant, sizeof(d->platform.variant), variant,
				"platform.variant", err) < 0)
		return -1;
	d->has_platform = true;
	return 0;
}

static int parse_desc(json_t *o, struct img_desc *d, const char *what, struct sup_error **err)
{
	json_t *size = json_object_get(o, "size"), *ann = json_object_get(o, "annotations");
	const char *rt;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(o))
		return sup_error_set(err, 0, "%s: not an object", what);
	if (copy_str(d->media_type, sizeof(d->media_type), json_object_get(o, "mediaType"),
		     "mediaType", err) < 0 ||
	    copy_str(d->digest, sizeof(d->digest), json_object_get(o, "digest"), "digest", err) < 0)
		return sup_error_wrap(err, "%s", what);
	if (!img_digest_valid(d->digest))
		return sup_error_set(err, 0, "%s: digest \"%s\" is not sha256:<64 hex>", what,
				     d->digest);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return sup_error_set(err, 0, "%s: size missing or negative", what);
	d->size = (uint64_t)json_integer_value(size);
	img_media_type_kind(d->media_type, &d->kind, &d->comp);
	if (json_object_get(o, "platform") &&
	    parse_platform(json_object_get(o, "platform"), d, err) < 0)
		return sup_error_wrap(err, "%s", what);
	rt = json_string_value(json_object_get(ann, "vnd.docker.reference.type"));
	d->attestation = rt && !strcmp(rt, "attestation-manifest");
	return 0;
}

static int parse_desc_array(json_t *a, size_t max, struct img_desc **out, size_t *n,
			    const char *what, struct sup_error **err)
{
	size_t count = json_array_size(a);

	if (!json_is_array(a))
		return sup_error_set(err, 0, "%s: missing or not an array", what);
	if (count > max)
		return sup_error_set(err, 0, "%s: %zu entries, at most %zu allowed", what, count,
				     max);
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return sup_error_set(err, ENOMEM, "%s", what);
	for (size_t i = 0; i < count; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s[%zu]", what, i);
		if (parse_desc(json_array_get(a, i), &(*out)[i], buf, err) < 0)
			return -1;
		*n = i + 1;
	}
	*n = count;
	return 0;
}

static int parse_image_manifest(json_t *root, struct img_manifest *m, struct sup_error **err)
{
	m->kind = IMG_KIND_MANIFEST;
	if (parse_desc(json_object_get(root, "config"), &m->config, "config", err) < 0)
		return -1;
	if (m->config.kind != IMG_KIND_CONFIG)
		return sup_error_set(err, 0, "config: media type \"%s\" is not an image config",
				     m->config.media_type);
	if (parse_desc_array(json_object_get(root, "layers"), IMG_LAYERS_MAX, &m->layers,
			     &m->n_layers, "layers", err) < 0)
		return -1;
	for (size_t i = 0; i < m->n_layers; i++)
		if (m->layers[i].kind != IMG_KIND_LAYER)
			return sup_error_set(
			    err, 0,
			    "layers[%zu]: media type \"%s\" is not a layer sup can "
			    "unpack (tar, tar+gzip, tar+zstd)",
			    i, m->layers[i].media_type);
	return 0;
}

int img_manifest_parse(const char *buf, size_t len, const char *content_type,
		       struct img_manifest *m, struct sup_error **err)
{
	json_error_t jerr;
	json_t *root;
	const char *mt;
	enum img_kind kind;
	enum img_compression comp;
	int r = -1;

	memset(m, 0, sizeof(*m));
	if (len > IMG_MANIFEST_MAX)
		return sup_error_set(err, 0, "manifest: %zu bytes, more than the %u allowed", len,
				     IMG_MANIFEST_MAX);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return sup_error_set(err, 0, "manifest: invalid JSON at line %d: %s", jerr.line,
				     jerr.text);
	if (!json_is_object(root)) {
		sup_error_set(err, 0, "manifest: not a JSON object");
		goto out;
	}
	if (json_integer_value(json_object_get(root, "schemaVersion")) != 2) {
		sup_error_set(err, 0,
			      "manifest: schemaVersion is not 2 (schema 1 is not supported)");
		goto out;
	}
	mt = json_string_value(json_object_get(root, "mediaType"));
	if (!mt)
		mt = content_type;
	if (!mt) /* an OCI manifest may omit both: tell it by its fields */
		mt = json_object_get(root, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	if (!img_media_type_kind(mt, &kind, &comp) ||
	    (kind != IMG_KIND_MANIFEST && kind != IMG_KIND_INDEX)) {
		sup_error_set(err, 0, "manifest: unsupported media type \"%s\"", mt);
		goto out;
	}
	snprintf(m->media_type, sizeof(m->media_type), "%s", mt);
	if (kind == IMG_KIND_INDEX) {
		m->kind = IMG_KIND_INDEX;
		r = parse_desc_array(json_object_get(root, "manifests"), IMG_INDEX_MAX,
				     &m->manifests, &m->n_manifests, "manifests", err);
	} else {
		r = parse_image_manifest(root, m, err);
	}
out:
	json_decref(root);
	if (r < 0)
		img_manifest_free(m);
	return r;
}

void img_manifest_free(struct img_manifest *m)
{
	free(m->layers);
	free(m->manifests);
	memset(m, 0, sizeof(*m));
}

static int get_strv(json_t *a, struct strv *sv, bool *present, const char *what,
		    struct sup_error **err)
{
	size_t i;
	json_t *v;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return sup_error_set(err, 0, "config: %s is not an array", what);
	if (present)
		*present = true;
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || strlen(s) != json_string_length(v))
			return sup_error_set(err, 0, "config: %s[%zu] is not a string", what, i);
		if (strv_push(sv, s) < 0)
			return sup_error_set(err, ENOMEM, "config");
	}
	return 0;
}

static int get_opt_str(json_t *o, const char *key, char **out, struct sup_error **err)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return sup_error_set(err, 0, "config: %s is not a string", key);
	*out = strdup(json_string_value(v));
	return *out ? 0 : sup_error_set(err, ENOMEM, "config");
}

static int parse_exec_config(json_t *cc, struct img_config *c, struct sup_error **err)
{
	if (!cc || json_is_null(cc))
		return 0;
	if (!json_is_object(cc))
		return sup_error_set(err, 0, "config: config is not an object");
	if (get_strv(json_object_get(cc, "Entrypoint"), &c->entrypoint, &c->has_entrypoint,
		     "Entrypoint", err) < 0 ||
	    get_strv(json_object_get(cc, "Cmd"), &c->cmd, &c->has_cmd, "Cmd", err) < 0 ||
	    get_strv(json_object_get(cc, "Env"), &c->env, NULL, "Env", err) < 0 ||
	    get_opt_str(cc, "WorkingDir", &c->working_dir, err) < 0 ||
	    get_opt_str(cc, "User", &c->user, err) < 0 ||
	    get_opt_str(cc, "StopSignal", &c->stop_signal, err) < 0)
		return -1;
	return 0;
}

static int parse_config_root(json_t *root, struct img_config *c, struct sup_error **err)
{
	json_t *rootfs = json_object_get(root, "rootfs"), *variant;
	struct img_desc d = {0};

	if (!json_is_object(root))
		return sup_error_set(err, 0, "config: not a JSON object");
	if (copy_str(d.platform.os, sizeof(d.platform.os), json_object_get(root, "os"),
		     "config: os", err) < 0 ||
	    copy_str(d.platform.arch, sizeof(d.platform.arch),
		     json_object_get(root, "architecture"), "config: architecture", err) < 0)
		return -1;
	variant = json_object_get(root, "variant");
	if (variant && copy_str(d.platform.variant, sizeof(d.platform.variant), variant,
				"config: variant", err) < 0)
		return -1;
	c->platform = d.platform;
	if (!json_is_object(rootfs) ||
	    strcmp(json_string_value(json_object_get(rootfs, "type")) ?: "", "layers") != 0)
		return sup_error_set(err, 0, "config: rootfs.type is not \"layers\"");
	if (get_strv(json_object_get(rootfs, "diff_ids"), &c->diff_ids, NULL, "rootfs.diff_ids",
		     err) < 0)
		return -1;
	if (c->diff_ids.n > IMG_LAYERS_MAX)
		return sup_error_set(err, 0, "config: too many layers (%zu)", c->diff_ids.n);
	for (size_t i = 0; i < c->diff_ids.n; i++)
		if (!img_digest_valid(c->diff_ids.v[i]))
			return sup_error_set(err, 0,
					     "config: rootfs.diff_ids[%zu] is not a sha256 "
					     "digest",
					     i);
	if (get_opt_str(root, "created", &c->created, err) < 0)
		return -1;
	return parse_exec_config(json_object_get(root, "config"), c, err);
}

int img_config_parse(const char *buf, size_t len, struct img_config *c, struct sup_error **err)
{
	json_error_t jerr;
	json_t *root;
	int r;

	memset(c, 0, sizeof(*c));
	if (len > IMG_MANIFEST_MAX)
		return sup_error_set(err, 0, "config: %zu bytes, more than the %u allowed", len,
				     IMG_MANIFEST_MAX);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return sup_error_set(err, 0, "config: invalid JSON at line %d: %s", jerr.line,
				     jerr.text);
	r = parse_config_root(root, c, err);
	json_decref(root);
	if (r < 0)
		img_config_free(c);
	return r;
}

void img_config_free(struct img_config *c)
{
	strv_free(&c->diff_ids);
	strv_free(&c->entrypoint);
	strv_free(&c->cmd);
	strv_free(&c->env);
	free(c->working_dir);
	free(c->user);
	free(c->stop_signal);
	free(c->created);
	memset(c, 0, sizeof(*c));
}
