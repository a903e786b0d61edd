/*
 * Pull: resolve the reference (mirrors first, then the registry itself), fetch and verify the
 * manifest (choosing from an index by platform), the config and the layers (several at
 * once), unpack the layers, and only then name the image in index.json. The store is held
 * shared throughout, so a collection never removes what a pull has fetched but not yet named.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sup/cleanup.h"
#include "digest.h"
#include "images.h"
#include "registry.h"

struct pull {
	struct img_store *s;
	const struct img_ops *ops;
	struct img_ref ref;
	struct img_reg reg;
	bool reg_open;
	char *name;
	struct img_desc mdesc; /* the image manifest */
	struct img_manifest index, m;
	struct img_config cfg;
	char *mbody;
	size_t mlen;
	char source_digest[IMG_DIGEST_LEN + 1]; /* a converted Docker manifest's own digest */
	uint64_t *last_emit;			/* per layer, monotonic ms */
	struct img_unpacker *unpacker;
	bool *added; /* layers handed to the unpacker */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static __attribute__((format(printf, 2, 3))) void status(struct pull *p, const char *fmt, ...)
{
	va_list ap;

	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	img_emit(p->ops, json_pack("{s:s, s:s}", "type", "status", "message", msg));
}

/* Throttled: at most one "downloading" event per layer per 200 ms. */
static void on_progress(void *ctx, const struct img_desc *d, uint64_t done, const char *state)
{
	struct pull *p = ctx;
	uint64_t t = now_ms();
	size_t i;

	if (d == &p->m.config)
		return;
	i = (size_t)(d - p->m.layers);
	if (!strcmp(state, "downloading") && i < p->m.n_layers && done < d->size) {
		if (t - p->last_emit[i] < 200)
			return;
		p->last_emit[i] = t;
	}
	img_emit(p->ops,
		 json_pack("{s:s, s:s, s:s, s:I, s:I}", "type", "progress", "digest", d->digest,
			   "state", state, "done", (json_int_t)done, "total", (json_int_t)d->size));
}

static int endpoint_url(struct pull *p, const char *mirror, char **base)
{
	const char *host = img_ref_api_host(&p->ref);
	size_t n;

	if (mirror) {
		*base = strdup(mirror);
		if (*base && (n = strlen(*base)) && (*base)[n - 1] == '/')
			(*base)[n - 1] = '\0';
	} else if (asprintf(base, "%s://%s",
			    img_settings_insecure(p->ops->set, host) ? "http" : "https",
			    host) < 0) {
		*base = NULL;
	}
	return *base ? 0 : -1;
}

/* The manifest's digest: the pinned one must match, and so must the registry's header. */
static int check_manifest_digest(struct pull *p, const struct img_http *h, const char *want,
				 struct sup_error **err)
{
	char got[IMG_DIGEST_LEN + 1];

	img_sha256(h->body, h->len, got);
	if (want && strcmp(got, want) != 0)
		return sup_error_set(err, 0, "manifest digest mismatch: asked for %s, got %s", want,
				     got);
	if (h->docker_digest && img_digest_valid(h->docker_digest) &&
	    strcmp(h->docker_digest, got) != 0)
		return sup_error_set(err, 0,
				     "manifest digest mismatch: the registry says %s, the bytes "
				     "hash to %s",
				     h->docker_digest, got);
	snprintf(p->mdesc.digest, sizeof(p->mdesc.digest), "%s", got);
	p->mdesc.size = h->len;
	return 0;
}

static int get_manifest(struct pull *p, const char *reference, const char *want,
			struct img_manifest *m, struct sup_error **err)
{
	struct img_http h = {0};
	int r;

	r = img_reg_get(&p->reg, "manifests", reference, IMG_MANIFEST_ACCEPT, IMG_MANIFEST_MAX, &h,
			err);
	if (r == 0)
		r = check_manifest_digest(p, &h, want, err);
	if (r == 0)
		r = img_manifest_parse(h.body, h.len, h.content_type, m, err);
	if (r == 0) {
		snprintf(p->mdesc.media_type, sizeof(p->mdesc.media_type), "%s", m->media_type);
		free(p->mbody);
		p->mbody = sup_steal_ptr(h.body);
		p->mlen = h.len;
	}
	img_http_free(&h);
	return r;
}

/* Index or manifest list: choose the platform's manifest and fetch it by digest. */
static int select_platform(struct pull *p, struct sup_error **err)
{
	const struct img_platform *want = &p->ops->set->platform;
	struct img_desc chosen;
	size_t i = 0;
	char plat[96];

	p->index = p->m;
	memset(&p->m, 0, sizeof(p->m));
	if (img_index_select(&p->index, want, &i, err) < 0)
		return -1;
	chosen = p->index.manifests[i];
	if (chosen.kind != IMG_KIND_MANIFEST)
		return sup_error_set(err, 0, "nested index for %s is not supported",
				     img_platform_format(want, plat, sizeof(plat)));
	status(p, "platform %s", img_platform_format(&chosen.platform, plat, sizeof(plat)));
	if (get_manifest(p, chosen.digest, chosen.digest, &p->m, err) < 0)
		return -1;
	if (p->mdesc.size != chosen.size)
		return sup_error_set(err, 0, "manifest %s: %llu bytes where the index says %llu",
				     chosen.digest, (unsigned long long)p->mdesc.size,
				     (unsigned long long)chosen.size);
	if (p->m.kind != IMG_KIND_MANIFEST)
		return sup_error_set(err, 0, "manifest %s is not an image manifest", chosen.digest);
	p->mdesc.platform = chosen.platform;
	p->mdesc.has_platform = true;
	return 0;
}

/* A mirror gets the credentials stored for its own host, never the mirrored registry's. */
static void auth_name(const char *mirror, const char *registry, char *out, size_t size)
{
	const char *p = mirror ? strstr(mirror, "://") : NULL;

	if (!p) {
		snprintf(out, size, "%s", registry);
		return;
	}
	p += 3;
	snprintf(out, size, "%.*s", (int)strcspn(p, "/"), p);
}

static int resolve_at(struct pull *p, const char *mirror, const char *base, struct sup_error **err)
{
	const char *reference = p->ref.digest ? p->ref.digest : p->ref.tag;
	char who[256];

	if (p->reg_open)
		img_reg_close(&p->reg);
	p->reg_open = false;
	auth_name(mirror, p->ref.registry, who, sizeof(who));
	if (img_reg_open(&p->reg, p->ops->set, who, base, p->ref.repo, err) < 0)
		return -1;
	p->reg_open = true;
	status(p, "resolving at %s", base);
	if (get_manifest(p, reference, p->ref.digest, &p->m, err) < 0)
		return -1;
	if (p->m.kind == IMG_KIND_INDEX)
		return select_platform(p, err);
	return 0;
}

/* Mirrors of the registry in order, then the registry itself. */
static int resolve(struct pull *p, struct sup_error **err)
{
	const char *mirrors[8];
	size_t n = img_settings_mirrors(p->ops->set, p->ref.registry, mirrors, 8);

	for (size_t i = 0; i <= n; i++) {
		_cleanup_free_ char *base = NULL;
		if (endpoint_url(p, i < n ? mirrors[i] : NULL, &base) < 0)
			return sup_error_set(err, ENOMEM, "url");
		if (resolve_at(p, i < n ? mirrors[i] : NULL, base, err) == 0)
			return 0;
		if (i < n) {
			status(p, "mirror failed: %s", (*err)->msg);
			sup_error_clear(err);
			img_manifest_free(&p->m);
			img_manifest_free(&p->index);
		}
	}
	return -1;
}

static int fetch_config(struct pull *p, struct sup_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char want[96], have[96];
	struct img_fetch_hooks hk = {.ctx = p, .progress = on_progress};

	if (img_reg_fetch_blobs(&p->reg, p->s, &p->m.config, 1, &hk, err) < 0 ||
	    img_store_read_blob(p->s, p->m.config.digest, &buf, &len, err) < 0 ||
	    img_config_parse(buf, len, &p->cfg, err) < 0)
		return -1;
	if (p->cfg.diff_ids.n != p->m.n_layers)
		return sup_error_set(err, 0, "manifest has %zu layers, its config %zu diff_ids",
				     p->m.n_layers, p->cfg.diff_ids.n);
	if (!img_platform_score(&p->ops->set->platform, &p->cfg.platform))
		return sup_error_set(
		    err, 0, "the image is for %s, not %s (choose with --platform)",
		    img_platform_format(&p->cfg.platform, have, sizeof(have)),
		    img_platform_format(&p->ops->set->platform, want, sizeof(want)));
	if (!p->mdesc.has_platform) {
		p->mdesc.platform = p->cfg.platform;
		p->mdesc.has_platform = true;
	}
	return 0;
}

/* Docker schema 2 -> OCI, as skopeo copy to an OCI layout does: same config and layer blobs,
 * OCI media types. OCI tools (skopeo, umoci) only read OCI manifests from a layout. */
static int convert_docker(struct pull *p, struct sup_error **err)
{
	json_t *layers, *m;
	char *text;

	if (strcmp(p->mdesc.media_type, MT_DOCKER_MANIFEST) != 0)
		return 0;
	layers = json_array();
	for (size_t i = 0; i < p->m.n_layers; i++) {
		const struct img_desc *d = &p->m.layers[i];
		const char *mt = d->comp == IMG_COMP_GZIP   ? MT_OCI_LAYER "+gzip"
				 : d->comp == IMG_COMP_ZSTD ? MT_OCI_LAYER "+zstd"
							    : MT_OCI_LAYER;
		json_array_append_new(layers,
				      json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest",
						d->digest, "size", (json_int_t)d->size));
	}
	m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
		      MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
		      p->m.config.digest, "size", (json_int_t)p->m.config.size, "layers", layers);
	text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	if (!text)
		return sup_error_set(err, ENOMEM, "convert manifest");
	snprintf(p->source_digest, sizeof(p->source_digest), "%s", p->mdesc.digest);
	free(p->mbody);
	p->mbody = text;
	p->mlen = strlen(text);
	img_sha256(text, p->mlen, p->mdesc.digest);
	p->mdesc.size = p->mlen;
	snprintf(p->mdesc.media_type, sizeof(p->mdesc.media_type), "%s", MT_OCI_MANIFEST);
	return 0;
}

/* Download hooks: each layer goes to the unpacker as soon as its blob is committed. */
static int hook_committed(void *ctx, size_t i, struct sup_error **err)
{
	struct pull *p = ctx;

	p->added[i] = true;
	return img_unpacker_add(p->unpacker, &p->m.layers[i], p->cfg.diff_ids.v[i], err);
}

static size_t hook_fds(void *ctx, int *fds, size_t max)
{
	return img_unpacker_fds(((struct pull *)ctx)->unpacker, fds, max);
}

static int hook_service(void *ctx, struct sup_error **err)
{
	return img_unpacker_service(((struct pull *)ctx)->unpacker, 0, err);
}

static int fetch_and_unpack(struct pull *p, struct sup_error **err)
{
	struct img_fetch_hooks hk = {p, on_progress, hook_committed, hook_fds, hook_service};

	p->unpacker = img_unpacker_new(p->s, p->ops, p->m.n_layers, err);
	p->added = calloc(p->m.n_layers + 1, sizeof(*p->added));
	if (!p->unpacker || !p->added)
		return *err ? -1 : sup_error_set(err, ENOMEM, "pull");
	status(p, "fetching %zu layers", p->m.n_layers);
	if (img_reg_fetch_blobs(&p->reg, p->s, p->m.layers, p->m.n_layers, &hk, err) < 0)
		return -1;
	/* a blob named twice was committed once: its second layer still needs its job */
	for (size_t i = 0; i < p->m.n_layers; i++)
		if (!p->added[i] &&
		    img_unpacker_add(p->unpacker, &p->m.layers[i], p->cfg.diff_ids.v[i], err) < 0)
			return -1;
	if (img_unpacker_finish(p->unpacker, err) < 0)
		return -1;
	return img_layers_check_chain(p->s, &p->cfg.diff_ids, err);
}

/* Everything is in place: name the image in index.json, last. */
static int name_image(struct pull *p, json_t **result, struct sup_error **err)
{
	struct img_image im;
	int r;

	if (img_image_open(p->s, p->mdesc.digest, &im, err) < 0)
		return -1;
	free(im.name);
	im.name = strdup(p->name);
	r = img_store_set_ref(p->s, p->name, &p->mdesc, p->cfg.created,
			      p->source_digest[0] ? p->source_digest : NULL, err);
	if (r == 0) {
		*result = img_image_json(p->s, &im);
		json_object_set_new(*result, "requests", json_integer((json_int_t)p->reg.requests));
		json_object_set_new(*result, "retries", json_integer((json_int_t)p->reg.retries));
		if (p->source_digest[0])
			json_object_set_new(*result, "source_digest",
					    json_string(p->source_digest));
	}
	img_image_close(&im);
	return r;
}

static void pull_free(struct pull *p)
{
	if (p->reg_open)
		img_reg_close(&p->reg);
	img_ref_free(&p->ref);
	img_manifest_free(&p->index);
	img_manifest_free(&p->m);
	img_config_free(&p->cfg);
	free(p->name);
	free(p->mbody);
	free(p->last_emit);
	img_unpacker_free(p->unpacker);
	free(p->added);
}

int img_pull(struct img_store *s, const char *refstr, const struct img_ops *ops, json_t **result,
	     struct sup_error **err)
{
	struct pull p = {.s = s, .ops = ops};
	int r = -1;

	if (img_ref_parse(refstr, &p.ref, err) < 0)
		return -1;
	p.name = img_ref_string(&p.ref);
	if (!p.name) {
		sup_error_set(err, ENOMEM, "pull");
		goto out;
	}
	if (img_store_lock(s, false, err) < 0 || resolve(&p, err) < 0 || fetch_config(&p, err) < 0)
		goto out;
	p.last_emit = calloc(p.m.n_layers + 1, sizeof(*p.last_emit));
	if (!p.last_emit) {
		sup_error_set(err, ENOMEM, "pull");
		goto out;
	}
	/* the manifest blob goes in first (unnamed: gc cannot run while we hold the store) */
	if (convert_docker(&p, err) < 0 ||
	    img_store_put_blob(s, p.mdesc.digest, p.mdesc.size, p.mbody, p.mlen, err) < 0 ||
	    fetch_and_unpack(&p, err) < 0)
		goto out;
	r = name_image(&p, result, err);
out:
	if (r < 0)
		sup_error_wrap(err, "pull %s", p.name ? p.name : refstr);
	pull_free(&p);
	return r;
}
