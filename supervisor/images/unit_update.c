/*
 * What an Image= unit's log tells of its pull (a line per layer and state, not per progress
 * tick), and `supctl update UNIT`: the unit's Image= pulled while the unit goes on running;
 * a new digest is pinned, and takes effect at the unit's next start (supctl restarts it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup/cleanup.h"
#include "sup/image.h"
#include "sup/log.h"
#include "core/service.h"
#include "core/state.h"
#include "images/helper.h"
#include "images/unit_image.h"
#include "images/unit_image_private.h"
#include "supd.h"

/* "12.3 MiB" */
static void human(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t i = 0;

	while (v >= 1024 && i + 1 < SUP_ARRAY_SIZE(units)) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, units[i]);
}

static void note_progress(struct unit *u, json_t *ev)
{
	struct unit_img *m = u->img;
	const char *digest = json_string_value(json_object_get(ev, "digest"));
	const char *state = json_string_value(json_object_get(ev, "state"));
	json_int_t total = json_integer_value(json_object_get(ev, "total"));
	char size[32] = "";

	if (!img_digest_valid(digest) || !state || strlen(state) > 32 || strpbrk(state, "\n\r\033"))
		return;
	if (!strcmp(state, "downloading")) { /* once per layer: the rest are ticks */
		if (strv_contains(&m->noted, digest) || strv_push(&m->noted, digest) < 0)
			return;
	}
	if (total > 0)
		human((uint64_t)total, size, sizeof(size));
	unit_note(u, "image: layer %.19s: %s%s%s", digest, state, size[0] ? " " : "", size);
}

void sup_img_note_event(void *ctx, json_t *ev)
{
	struct unit *u = ctx;
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *msg = json_object_get(ev, "message");
	_cleanup_free_ char *text = NULL;

	if (!type || !u->img)
		return;
	if (!strcmp(type, "progress")) {
		note_progress(u, ev);
		return;
	}
	if (!json_is_string(msg))
		return;
	text = sup_img_clean_text(json_string_value(msg), json_string_length(msg), 512);
	if (text)
		unit_note(u, "image: %s", text);
}

/* ---- update ---- */

static void finish(struct unit *u, json_t *result, const char *error)
{
	struct unit_img *m = u->img;
	void (*done)(void *, json_t *, const char *) = m->update_done;
	void *ctx = m->update_ctx;

	m->update = NULL;
	m->update_done = NULL;
	m->update_ctx = NULL;
	if (done)
		done(ctx, result, error);
}

static void updated(void *ctx, json_t *res, const char *error)
{
	struct unit *u = ctx;
	struct unit_img *m = u->img;
	const char *digest = json_string_value(json_object_get(res, "digest"));
	const char *name = json_string_value(json_object_get(res, "name"));
	const char *source = json_string_value(json_object_get(res, "source_digest"));
	char was[IMG_DIGEST_LEN + 1];
	struct sup_error *err = NULL;
	bool changed;
	json_t *out;

	if (error || !img_digest_valid(digest) || (name && strpbrk(name, "\n\r\033"))) {
		finish(u, NULL, error ? error : "the image helper's answer has no digest");
		return;
	}
	snprintf(was, sizeof(was), "%s", m->pin_digest);
	changed =
	    strcmp(was, digest) != 0 || !m->pin_image || strcmp(m->pin_image, u->cfg->ct.image);
	if (changed) {
		sup_img_pin(m, u->cfg->ct.image, name, digest,
			    img_digest_valid(source) ? source : NULL);
		m->ready = false;
		if (sup_img_pin_save(u, m, &err) < 0) {
			finish(u, NULL, err->msg);
			sup_error_free(err);
			return;
		}
		unit_note(u, "image %s: pinned to %s%s%s by supctl update", m->pin_name, digest,
			  was[0] ? ", was " : "", was);
	}
	out = json_pack("{s:s, s:s, s:s, s:s?, s:b, s:b}", "unit", u->name, "image",
			u->cfg->ct.image, "digest", digest, "previous", was[0] ? was : NULL,
			"changed", changed, "active", !unit_is_down(u));
	finish(u, out, NULL);
	json_decref(out);
}

static const struct img_job_ops update_ops = {NULL, updated};

int sup_img_update(struct unit *u, void (*done)(void *ctx, json_t *result, const char *error),
		   void *ctx, struct sup_error **err)
{
	struct unit_img *m;
	char *args[] = {"pull", NULL, NULL};

	if (!u->cfg || !u->cfg->ct.image)
		return sup_error_set(err, 0, "%s: has no Image=", u->name);
	m = sup_img_of(u);
	if (!m)
		return sup_error_set(err, ENOMEM, "image");
	if (m->update)
		return sup_error_set(err, 0, "%s: an update is under way already", u->name);
	args[1] = u->cfg->ct.image;
	m->update = sup_img_job_start(NULL, args, -1, &update_ops, u, err);
	if (!m->update)
		return -1;
	m->update_done = done;
	m->update_ctx = ctx;
	sup_info(u->name, "update: pulling %s", u->cfg->ct.image);
	return 0;
}

void sup_img_update_cancel(struct unit *u)
{
	struct unit_img *m = u->img;

	if (!m || !m->update)
		return;
	/* the client is gone: the pull goes on (what it fetched stays in the store), and its
	 * answer still pins a new digest */
	m->update_done = NULL;
	m->update_ctx = NULL;
}

void sup_img_update_abort(struct unit *u, const char *why)
{
	struct unit_img *m = u->img;

	if (!m || !m->update)
		return;
	sup_img_job_cancel(m->update);
	finish(u, NULL, why);
}
