/*
 * The image side, as seen from the rest of sup: image references, platforms, and the overlay
 * root of an image. Everything that parses untrusted data (registry replies, manifests,
 * configs, layers) lives in images/ and runs in the sup-image helper, never in supd
 * (docs/images.md).
 */
#ifndef SUP_IMAGE_H
#define SUP_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "sup/error.h"
#include "sup/strv.h"

#define IMG_DOCKER_HUB	   "docker.io"
#define IMG_DOCKER_HUB_API "registry-1.docker.io"
#define IMG_DIGEST_LEN	   71 /* "sha256:" + 64 hex */
#define IMG_REF_NAME_ANNOT "org.opencontainers.image.ref.name"
#define IMG_CREATED_ANNOT  "org.opencontainers.image.created"
/* the registry's digest of a Docker schema 2 manifest that the store keeps converted to OCI */
#define IMG_SOURCE_DIGEST_ANNOT "io.sup.image.source-digest"

/* [registry[:port]/]repo[:tag][@sha256:hex], normalised with Docker Hub's rules. */
struct img_ref {
	char *registry; /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
	char *repo;	/* "library/redis" */
	char *tag;	/* "latest"; NULL when only a digest was given */
	char *digest;	/* "sha256:..." or NULL */
};

int img_ref_parse(const char *s, struct img_ref *ref, struct sup_error **err);
/* "sha256:" and 64 lower-case hex digits. */
bool img_digest_valid(const char *d);
void img_ref_free(struct img_ref *ref);
/* "registry/repo:tag", "registry/repo@digest" or "registry/repo:tag@digest" (malloc'd). */
char *img_ref_string(const struct img_ref *ref);
/* The host[:port] the API is reached on (registry-1.docker.io for docker.io). */
const char *img_ref_api_host(const struct img_ref *ref);
/* 127.0.0.0/8, ::1 or localhost, with or without a port. */
bool img_host_is_loopback(const char *hostport);

struct img_platform {
	char os[32];
	char arch[32];
	char variant[16]; /* "" when none */
};

/* "os/arch[/variant]" or "arch[/variant]" (os linux). arm without a variant means v7,
 * arm64 without one v8, as the OCI and Docker tools read them. */
int img_platform_parse(const char *s, struct img_platform *p, struct sup_error **err);
/* The platform this process runs on. */
void img_platform_host(struct img_platform *p);
/* "os/arch[/variant]" into buf. */
const char *img_platform_format(const struct img_platform *p, char *buf, size_t size);

/* Overlay root of an image. */
struct img_overlay {
	struct strv lower; /* layer directories, topmost first, as overlayfs orders lowerdir */
	const char *upper; /* NULL: read-only root */
	const char *work;
	const char *store; /* STATE/images: lets the mount(2) fallback use its short l/ links */
	bool legacy;	   /* skip the new mount API (tests the fallback of kernels before 6.8) */
};

/* A unit's writable layer: DIR/upper and DIR/work, created if missing (DIR too, 0700) and
 * kept as they are otherwise, so that the unit's changes survive restarts. Sets ov->upper and
 * ov->work (malloc'd, the caller frees them). */
int img_overlay_prepare(const char *dir, struct img_overlay *ov, struct sup_error **err);

/* The overlay as a detached mount (fsopen/fsmount, MOUNT_ATTR_* attrs): *mnt is its fd, to be
 * moved wherever it belongs (an Image= unit's child moves it onto its root), and the mount
 * is gone with the last reference to it: nothing is left mounted on the host. One "lowerdir+"
 * per layer (6.8+), else one "lowerdir" list of the store's short links, absolute. */
int img_overlay_fsmount(const struct img_overlay *ov, unsigned attrs, int *mnt,
			struct sup_error **err);

/* Mount the overlay on target: the new mount API with one "lowerdir+" per layer where the
 * kernel has it (6.8+), else mount(2) with short relative links (see images/overlay.c).
 * Always redirect_dir=nofollow (the strict form of "off"), metacopy=off, index=off. */
int img_overlay_mount(const struct img_overlay *ov, const char *target, unsigned long flags,
		      struct sup_error **err);

#endif
