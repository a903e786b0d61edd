/* Manifests, indexes and image configs: untrusted JSON into bounded structs (jansson). */
#ifndef SUP_IMAGES_MANIFEST_H
#define SUP_IMAGES_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sup/error.h"
#include "sup/image.h"
#include "sup/strv.h"

#define MT_OCI_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX	   "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG	   "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST	   "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define MT_OCI_LAYER	   "application/vnd.oci.image.layer.v1.tar"

/* Accept header for manifests: all four kinds (the registry answers 404 to an OCI manifest
 * asked for with Docker types only). */
#define IMG_MANIFEST_ACCEPT                                                                        \
	MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_LIST

#define IMG_MANIFEST_MAX (4u << 20) /* manifests, indexes and configs are small */
#define IMG_LAYERS_MAX	 1000	    /* more than overlayfs can stack anyway (500) */
#define IMG_INDEX_MAX	 1000

enum img_kind {
	IMG_KIND_UNKNOWN,
	IMG_KIND_MANIFEST,
	IMG_KIND_INDEX,
	IMG_KIND_CONFIG,
	IMG_KIND_LAYER,
};

enum img_compression {
	IMG_COMP_NONE,
	IMG_COMP_GZIP,
	IMG_COMP_ZSTD,
};

struct img_desc {
	char media_type[128];
	char digest[IMG_DIGEST_LEN + 1];
	uint64_t size;
	enum img_kind kind;
	enum img_compression comp; /* layers */
	bool has_platform;
	bool attestation; /* vnd.docker.reference.type = attestation-manifest */
	struct img_platform platform;
};

struct img_manifest {
	enum img_kind kind; /* IMG_KIND_MANIFEST or IMG_KIND_INDEX */
	char media_type[128];
	struct img_desc config;
	struct img_desc *layers;
	size_t n_layers;
	struct img_desc *manifests;
	size_t n_manifests;
};

struct img_config {
	struct img_platform platform;
	struct strv diff_ids;
	struct strv entrypoint, cmd, env;
	char *working_dir, *user, *stop_signal, *created;
	bool has_entrypoint, has_cmd;
};

/* media type -> kind and compression; false when it is not one sup can use. */
bool img_media_type_kind(const char *mt, enum img_kind *kind, enum img_compression *comp);

/* content_type: the HTTP Content-Type, used when the JSON has no mediaType (may be NULL). */
int img_manifest_parse(const char *buf, size_t len, const char *content_type,
		       struct img_manifest *m, struct sup_error **err);
void img_manifest_free(struct img_manifest *m);

int img_config_parse(const char *buf, size_t len, struct img_config *c, struct sup_error **err);
void img_config_free(struct img_config *c);

/* 0 unsuitable, higher is better. */
int img_platform_score(const struct img_platform *want, const struct img_platform *have);
/* Pick the manifest for want out of an index; attestation entries are never chosen. */
int img_index_select(const struct img_manifest *idx, const struct img_platform *want,
		     size_t *chosen, struct sup_error **err);

#endif
