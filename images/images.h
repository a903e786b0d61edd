/* The image operations the sup-image helper offers: pull, load, inspect, and the layer
 * bookkeeping they share. */
#ifndef SUP_IMAGES_IMAGES_H
#define SUP_IMAGES_IMAGES_H

#include <jansson.h>

#include "sup/error.h"
#include "sup/image.h"
#include "manifest.h"
#include "settings.h"
#include "store.h"
#include "unpack.h"

/* Progress and status events; the callee owns ev (a JSON object). */
typedef void (*img_event_fn)(void *ctx, json_t *ev);

struct img_ops {
	const struct img_settings *set;
	img_event_fn event;
	void *ctx;
};

/* Unpack every layer that is not in layers/ yet, several at once (ConcurrentUnpacks=, default
 * one per CPU up to 4), each in its sandboxed child; progress events per layer. A layer that
 * another process is unpacking is waited for. */
int img_layers_unpack(struct img_store *s, const struct img_desc *blobs,
		      const struct strv *diff_ids, const struct img_ops *ops,
		      struct sup_error **err);

/* The same, fed layer by layer while downloads go on (a pull adds each layer as its blob is
 * committed and services the unpackers from its download loop). */
struct img_unpacker;
struct img_unpacker *img_unpacker_new(struct img_store *s, const struct img_ops *ops, size_t cap,
				      struct sup_error **err);
/* Queue a layer (blob must stay valid); starts it when a slot is free. */
int img_unpacker_add(struct img_unpacker *u, const struct img_desc *blob, const char *diff_id,
		     struct sup_error **err);
/* The result fds of the running unpackers, to watch with other work. */
size_t img_unpacker_fds(struct img_unpacker *u, int *fds, size_t max);
/* Finish the layers whose unpacker is done and start queued ones; timeout_ms as poll(2). */
int img_unpacker_service(struct img_unpacker *u, int timeout_ms, struct sup_error **err);
/* Run every queued layer to the end. */
int img_unpacker_finish(struct img_unpacker *u, struct sup_error **err);
/* Kill what still runs (its layer is not kept) and free. */
void img_unpacker_free(struct img_unpacker *u);
/* l/<16 hex> -> ../layers/<hex>/root */
int img_layer_link(struct img_store *s, const char *diff_id, struct sup_error **err);
/* A layer may not create directories where a layer below it has a symlink: in the overlay
 * that would replace the symlink (and hide what it points at) or, applied in place, write
 * through it. Checked over the whole chain, since layers are shared between images. */
int img_layers_check_chain(struct img_store *s, const struct strv *diff_ids,
			   struct sup_error **err);

/* An image in the store: its manifest and config, read back (and re-verified). */
struct img_image {
	struct img_desc desc; /* the manifest */
	struct img_manifest manifest;
	struct img_config config;
	char *name;
};
int img_image_open(struct img_store *s, const char *ref, struct img_image *im,
		   struct sup_error **err);
void img_image_close(struct img_image *im);
/* The layer directories in overlayfs order (topmost first), for img_overlay_mount(). */
int img_image_lowers(struct img_store *s, const struct img_image *im, struct strv *lower,
		     struct sup_error **err);
/* Unpack what is not unpacked yet and check the chain. */
int img_image_unpack(struct img_store *s, struct img_image *im, const struct img_ops *ops,
		     struct sup_error **err);
/* { name, digest, config, platform, entrypoint, cmd, env, working_dir, user, stop_signal,
 *   layers: [{digest, diff_id, size, path}] } */
json_t *img_image_json(struct img_store *s, const struct img_image *im);

/* Pull ref (see docs/images.md); *result: the image's JSON. */
int img_pull(struct img_store *s, const char *ref, const struct img_ops *ops, json_t **result,
	     struct sup_error **err);
/* Import an OCI layout or docker-save tarball read from fd. tag names an image whose tarball
 * carries no full name (may be NULL). *result: an array of image JSON objects. */
int img_load(struct img_store *s, int fd, const char *tag, const struct img_ops *ops,
	     json_t **result, struct sup_error **err);

void img_emit(const struct img_ops *ops, json_t *ev);

#endif
