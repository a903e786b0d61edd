/*
 * The image store: an OCI image layout under STATE/images (oci-layout, index.json,
 * blobs/sha256/) that skopeo and umoci read, plus sup's own rooms beside it: tmp/ (partial
 * downloads, resumable), layers/<diff_id hex>/root (unpacked layers) and l/ (short links to
 * them, for overlay mount options). Layout and locking: docs/images.md.
 */
#ifndef SUP_IMAGES_STORE_H
#define SUP_IMAGES_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sup/error.h"
#include "sup/strv.h"
#include "manifest.h"

struct img_store {
	int root, blobs, tmp, layers, links; /* directory fds */
	int gc_lock;			     /* shared while pulling, exclusive while collecting */
	char *path;			     /* STATE/images */
};

int img_store_open(const char *state_dir, struct img_store *s, struct sup_error **err);
void img_store_close(struct img_store *s);
/* Pulls and loads hold the store shared (a collection waits for them); gc holds it exclusive. */
int img_store_lock(struct img_store *s, bool exclusive, struct sup_error **err);

/* Write name under dirfd atomically: a temp file in tmp/, fsync, rename, fsync of dirfd. */
int img_store_write_atomic(struct img_store *s, int dirfd, const char *name, const void *data,
			   size_t len);

bool img_store_has_blob(struct img_store *s, const char *digest);
int img_store_open_blob(struct img_store *s, const char *digest, struct sup_error **err);
/* A small blob (manifest, config), read whole and checked against its digest again. */
int img_store_read_blob(struct img_store *s, const char *digest, char **buf, size_t *len,
			struct sup_error **err);
/* Verify data against digest (and size unless UINT64_MAX), then commit it atomically. */
int img_store_put_blob(struct img_store *s, const char *digest, uint64_t size, const void *data,
		       size_t len, struct sup_error **err);

/* A download in progress: tmp/<hex>.partial, locked (flock) by its writer. */
struct img_partial {
	int fd;
	char digest[IMG_DIGEST_LEN + 1];
	uint64_t have; /* bytes already there (resume) */
};
/* Returns 1 when the blob is already committed (nothing to do), 0 with p open and locked,
 * 2 when another process is downloading it (try again later), -1 on error. */
int img_store_partial_open(struct img_store *s, const char *digest, struct img_partial *p,
			   struct sup_error **err);
/* fsync and rename into blobs/ (the caller has verified the digest). */
int img_store_partial_commit(struct img_store *s, struct img_partial *p, struct sup_error **err);
/* Throw the partial away (a digest mismatch keeps nothing). */
void img_store_partial_drop(struct img_store *s, struct img_partial *p);
void img_store_partial_close(struct img_partial *p);

/* index.json entries: ref name -> manifest descriptor. */
/* source_digest: the registry's digest of a manifest sup converted (Docker schema 2 is stored
 * as OCI, as skopeo copy does, so that OCI tools read the store), else NULL. */
int img_store_set_ref(struct img_store *s, const char *name, const struct img_desc *manifest,
		      const char *created, const char *source_digest, struct sup_error **err);
/* 1 found (d filled), 0 not found. */
int img_store_find_ref(struct img_store *s, const char *name, struct img_desc *d,
		       struct sup_error **err);
/* Entries removed (0 when none matched). A name without a tag matches every tag. */
int img_store_remove_ref(struct img_store *s, const char *name, struct sup_error **err);
/* A JSON array: one object per ref (name, tag, digest, size, created, platform). */
int img_store_list(struct img_store *s, json_t **out, struct sup_error **err);

/* Unpacked layers. */
bool img_store_has_layer(struct img_store *s, const char *diff_id);
/* STATE/images/layers/<hex>/root, malloc'd. */
char *img_store_layer_root(struct img_store *s, const char *diff_id);

struct img_gc_stats {
	unsigned blobs, layers, partials;
	uint64_t bytes;
};
/* Remove every blob and layer not reachable from index.json or from keep (manifest, config,
 * layer or diff_id digests still in use by units). Takes the store exclusive. */
int img_store_gc(struct img_store *s, const struct strv *keep, struct img_gc_stats *st,
		 struct sup_error **err);
/* rm -rf a directory under dirfd without following symlinks (renamed away first). */
int img_store_remove_tree(struct img_store *s, int dirfd, const char *name, struct sup_error **err);

#endif
