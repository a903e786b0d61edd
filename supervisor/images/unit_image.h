/*
 * Image= units (docs/images.md): the digest a unit is pinned to (STATE/units/NAME/image), the
 * image's config and layer list for a start (asked of the helper: supd parses no image), the
 * overlay root handed to the spawner as a detached mount, the unit's writable layer (per unit
 * and per digest), what status shows, `update` and `restart --pull`, and the digests the
 * garbage collector must keep.
 */
#ifndef SUP_IMAGES_UNIT_IMAGE_H
#define SUP_IMAGES_UNIT_IMAGE_H

#include <jansson.h>
#include <stdbool.h>

#include "sup/error.h"
#include "sup/strv.h"
#include "core/unit.h"

struct unit_change;

/* Observer: a unit that leaves the pull sub-state drops its helper; a run that is over
 * releases its digest. */
void sup_img_observe(struct unit *u, const struct unit_change *c);
void sup_img_free(struct unit *u);

/* The spawn of the main process (container.c, exec.c): the root as a detached overlay mount
 * (*fd, the caller closes it), the command line, environment, directory and user the image
 * gives where the unit gives none. All NULL/0 for a unit without an image. */
int sup_img_root_tree(struct unit *u, int *fd, struct sup_error **err);
char *const *sup_img_argv(const struct unit *u);
int sup_img_env(const struct unit *u, struct strv *env);
const char *sup_img_cwd(const struct unit *u);
void sup_img_user(const struct unit *u, const char **user, const char **group);
/* The spawn happened (ok) or failed: the digest in use, or a root to ask the helper for again. */
void sup_img_spawned(struct unit *u, bool ok);

/* status --json: "image": {...} or null */
void sup_img_status_json(struct unit *u, json_t *o);

/* restart --pull: the next start of u pulls its Image= again. */
void sup_img_force_pull(struct unit *u);

/* `update`: pull u's Image= now; if it names a new digest, pin it (the next start uses it).
 * done(ctx, result, error): result {"unit", "image", "digest", "previous", "changed"}. */
int sup_img_update(struct unit *u, void (*done)(void *ctx, json_t *result, const char *error),
		   void *ctx, struct sup_error **err);
void sup_img_update_cancel(struct unit *u);

/* `drop-layer`: throw u's writable layers away (u must be down). 0, or -1 with *err. */
int sup_img_drop_layers(struct unit *u, unsigned *dropped, struct sup_error **err);

/* "--keep DIGEST" pairs for rmi and gc: every digest a unit is pinned to or runs. */
int sup_img_keep_args(struct strv *args);
/* The store changed (rmi, gc, load ran): prepared layer lists are checked again at a start. */
void sup_img_store_changed(void);
/* At start-up: writable layers a drop left half-removed are removed. */
void sup_img_sweep(void);

#endif
