/* Between the parts of Image= units: unit_image.c, unit_layers.c, unit_update.c. */
#ifndef SUP_IMAGES_UNIT_IMAGE_PRIVATE_H
#define SUP_IMAGES_UNIT_IMAGE_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "sup/error.h"
#include "sup/image.h"
#include "sup/strv.h"
#include "core/unit.h"

struct img_job;

/* What a start takes from the image (checked): see parse_answer() in unit_image.c. */
struct image_cfg {
	char digest[IMG_DIGEST_LEN + 1], source[IMG_DIGEST_LEN + 1];
	char *name, *cwd, *user, *group;
	struct strv argv, env, lowers; /* Entrypoint+Cmd, Env, layer directories topmost first */
	int stop_signal;	       /* 0: none */
};

struct unit_img {
	/* the pin (STATE/units/NAME/image), read once */
	bool pin_read;
	char *pin_image; /* the Image= it was resolved for */
	char *pin_name;	 /* the canonical name */
	char pin_digest[IMG_DIGEST_LEN + 1];
	char pin_source[IMG_DIGEST_LEN + 1]; /* the registry's digest of a converted manifest */

	bool ready; /* cfg holds the pinned image, as of store generation gen */
	unsigned gen;
	struct image_cfg cfg;
	char running[IMG_DIGEST_LEN + 1]; /* the digest of the container that runs, "" */
	bool force_pull;		  /* restart --pull: the next start pulls */

	struct img_job *job; /* a start's prepare (the unit is in the pull sub-state) */
	struct strv noted;   /* layers whose download the log has told of */

	struct img_job *update; /* supctl update */
	void (*update_done)(void *ctx, json_t *result, const char *error);
	void *update_ctx;
};

/* u->img, made (and its pin read) on first use; NULL on ENOMEM. */
struct unit_img *sup_img_of(struct unit *u);
void sup_img_pin(struct unit_img *m, const char *image, const char *name, const char *digest,
		 const char *source);
int sup_img_pin_save(struct unit *u, struct unit_img *m, struct sup_error **err);
/* A helper's progress line into the unit's log (ctx: the unit). */
void sup_img_note_event(void *ctx, json_t *ev);
/* STATE/units/NAME, or STATE/units/NAME/name. */
void sup_img_unit_path(const struct unit *u, const char *name, char *buf, size_t size);
/* The writable layer of digest: STATE/units/NAME/layers/<hex>. */
void sup_img_layer_dir(const struct unit *u, const char *digest, char *buf, size_t size);
/* STATE/units/NAME/layers made (0700). */
int sup_img_layers_parent(const struct unit *u, struct sup_error **err);
/* A start of digest: the unit's writable layers of other digests are dropped. */
void sup_img_drop_other_layers(struct unit *u, const char *digest);
/* The update in flight (if any) ends with this error. */
void sup_img_update_abort(struct unit *u, const char *why);

#endif
