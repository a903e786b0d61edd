/*
 * An image in the store: its manifest and config read back (every read re-checks the
 * digest), its layers unpacked, and the chain check across layers.
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

void img_emit(const struct img_ops *ops, json_t *ev)
{
	if (ops && ops->event && ev)
		ops->event(ops->ctx, ev);
	else
		json_decref(ev);
}

static int resolve_name(struct img_store *s, const char *ref, struct img_desc *d, char **name,
			struct sup_error **err)
{
	struct img_ref r;
	int found;

	if (img_digest_valid(ref)) {
		snprintf(d->digest, sizeof(d->digest), "%s", ref);
		*name = strdup(ref);
		return img_store_has_blob(s, ref)
			   ? 0
			   : sup_error_set(err, 0, "image %s: not in the store", ref);
	}
	if (img_ref_parse(ref, &r, err) < 0)
		return -1;
	*name = img_ref_string(&r);
	img_ref_free(&r);
	if (!*name)
		return sup_error_set(err, ENOMEM, "image name");
	found = img_store_find_ref(s, *name, d, err);
	if (found < 0)
		return -1;
	if (!found)
		return sup_error_set(err, 0, "image %s: not in the store (supctl pull it first)",
				     *name);
	return 0;
}

int img_image_open(struct img_store *s, const char *ref, struct img_image *im,
		   struct sup_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;

	memset(im, 0, sizeof(*im));
	if (resolve_name(s, ref, &im->desc, &im->name, err) < 0 ||
	    img_store_read_blob(s, im->desc.digest, &buf, &len, err) < 0 ||
	    img_manifest_parse(buf, len, NULL, &im->manifest, err) < 0)
		goto fail;
	if (im->manifest.kind != IMG_KIND_MANIFEST) {
		sup_error_set(err, 0, "%s is an index, not an image manifest", im->desc.digest);
		goto fail;
	}
	free(buf);
	buf = NULL;
	if (img_store_read_blob(s, im->manifest.config.digest, &buf, &len, err) < 0 ||
	    img_config_parse(buf, len, &im->config, err) < 0)
		goto fail;
	if (im->config.diff_ids.n != im->manifest.n_layers) {
		sup_error_set(err, 0, "%zu layers but %zu diff_ids in the config",
			      im->manifest.n_layers, im->config.diff_ids.n);
		goto fail;
	}
	return 0;
fail:
	sup_error_wrap(err, "image %s", ref);
	img_image_close(im);
	return -1;
}

void img_image_close(struct img_image *im)
{
	img_manifest_free(&im->manifest);
	img_config_free(&im->config);
	free(im->name);
	memset(im, 0, sizeof(*im));
}

static json_t *strv_json(const struct strv *sv, bool present)
{
	json_t *a;

	if (!present)
		return json_null();
	a = json_array();
	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

json_t *img_image_json(struct img_store *s, const struct img_image *im)
{
	const struct img_config *c = &im->config;
	json_t *layers = json_array();
	char plat[96];
	uint64_t size = im->desc.size + im->manifest.config.size;

	for (size_t i = 0; i < im->manifest.n_layers; i++) {
		_cleanup_free_ char *path = img_store_layer_root(s, c->diff_ids.v[i]);
		size += im->manifest.layers[i].size;
		json_array_append_new(
		    layers, json_pack("{s:s, s:s, s:I, s:s, s:s?}", "digest",
				      im->manifest.layers[i].digest, "diff_id", c->diff_ids.v[i],
				      "size", (json_int_t)im->manifest.layers[i].size, "media_type",
				      im->manifest.layers[i].media_type, "path", path));
	}
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:I, s:s?, s:o, s:o, s:o, s:s?, s:s?, s:s?, s:o}", "name",
	    im->name, "digest", im->desc.digest, "config", im->manifest.config.digest, "platform",
	    img_platform_format(&c->platform, plat, sizeof(plat)), "size", (json_int_t)size,
	    "created", c->created, "entrypoint", strv_json(&c->entrypoint, c->has_entrypoint),
	    "cmd", strv_json(&c->cmd, c->has_cmd), "env", strv_json(&c->env, true), "working_dir",
	    c->working_dir, "user", c->user, "stop_signal", c->stop_signal, "layers", layers);
}

int img_image_lowers(struct img_store *s, const struct img_image *im, struct strv *lower,
		     struct sup_error **err)
{
	for (size_t i = im->config.diff_ids.n; i-- > 0;) {
		if (!img_store_has_layer(s, im->config.diff_ids.v[i]))
			return sup_error_set(err, 0, "layer %s is not unpacked",
					     im->config.diff_ids.v[i]);
		if (strv_push_take(lower, img_store_layer_root(s, im->config.diff_ids.v[i])) < 0)
			return sup_error_set(err, ENOMEM, "layer list");
	}
	return 0;
}

int img_image_unpack(struct img_store *s, struct img_image *im, const struct img_ops *ops,
		     struct sup_error **err)
{
	if (img_layers_unpack(s, im->manifest.layers, &im->config.diff_ids, ops, err) < 0)
		return -1;
	return img_layers_check_chain(s, &im->config.diff_ids, err);
}
