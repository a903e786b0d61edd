/*
 * supctl pull, images, rmi, load, gc, update, drop-layer (docs/images.md): each runs the image
 * helper as a child (images/helper.c) for the client that asked; its progress lines go to the
 * client as {"event": "progress"} frames, its result is the reply. The client waits meanwhile
 * (one request at a time); a client that goes away takes its pull or load with it (the store
 * stays consistent: the next pull resumes), an update goes on (its pin is still wanted). A
 * helper that crashes, hangs or talks garbage fails that request only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/cleanup.h"
#include "sup/image.h"
#include "sup/log.h"
#include "control/client.h"
#include "core/state.h"
#include "images/helper.h"
#include "images/unit_image.h"

#define _cleanup_strv_ __attribute__((cleanup(strv_free)))

/* A reference as Docker reads it, or a digest: checked before it goes on a command line. */
static int check_ref(const char *s, json_t **reply)
{
	struct sup_error *err = NULL;
	struct img_ref r;

	if (img_digest_valid(s))
		return 0;
	if (img_ref_parse(s, &r, &err) < 0) {
		*reply = sup_reply_error(SUP_EXIT_USAGE, "%s", err->msg);
		sup_error_free(err);
		return -1;
	}
	img_ref_free(&r);
	return 0;
}

/* os/arch[/variant]: lower-case letters, digits, '/' */
static bool platform_ok(const char *s)
{
	size_t slashes = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '/')
			slashes++;
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	}
	return slashes == 1 || slashes == 2;
}

/* The helper's progress and status lines, with only the fields supctl shows. */
static void on_event(void *ctx, json_t *ev)
{
	struct client *c = ctx;
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *out, *v;
	static const char *const fields[] = {"type", "message", "digest", "state", "done", "total"};

	if (!type || c->closing)
		return;
	out = json_object();
	for (size_t i = 0; out && i < SUP_ARRAY_SIZE(fields); i++) {
		v = json_object_get(ev, fields[i]);
		/* UTF-8 already (jansson checked it); control characters (a registry's escape
		 * sequences on a terminal) become '?' */
		if (json_is_string(v) && json_string_length(v) <= 512) {
			char *t =
			    sup_img_clean_text(json_string_value(v), json_string_length(v), 512);
			if (t)
				json_object_set_new(out, fields[i], json_string(t));
			free(t);
		} else if (json_is_integer(v)) {
			json_object_set(out, fields[i], v);
		}
	}
	if (out)
		sup_client_send(c, json_pack("{s:i, s:s, s:o}", "v", SUP_PROTO_VERSION, "event",
					     "progress", "progress", out));
}

static void on_done(void *ctx, json_t *result, const char *error)
{
	struct client *c = ctx;
	json_t *data;

	c->img = NULL;
	sup_img_store_changed(); /* a pull, load, rmi or gc: layers may have come or gone */
	if (!result) {
		sup_client_send(c, sup_reply_error(SUP_EXIT_FAILED, "%s", error));
		return;
	}
	data = json_deep_copy(result);
	if (data)
		json_object_del(data, "type");
	sup_client_send(c, sup_reply_ok(data));
}

static const struct img_job_ops job_ops = {on_event, on_done};

static json_t *run(struct client *c, struct strv *global, struct strv *args, int in_fd)
{
	struct sup_error *err = NULL;
	json_t *reply;

	c->img = sup_img_job_start(global->n ? global->v : NULL, args->v, in_fd, &job_ops, c, &err);
	if (c->img)
		return NULL; /* the reply comes with the helper's end */
	reply = sup_reply_error(SUP_EXIT_FAILED, "%s", err->msg);
	sup_error_free(err);
	return reply;
}

static json_t *cmd_pull(struct client *c, struct sup_request *req)
{
	_cleanup_strv_ struct strv global = {0}, args = {0};
	json_t *reply = NULL;

	if (check_ref(req->images.v[0], &reply) < 0)
		return reply;
	if (req->platform && !platform_ok(req->platform))
		return sup_reply_error(
		    SUP_EXIT_USAGE,
		    "--platform %s: not OS/ARCH[/VARIANT] (linux/arm64, linux/arm/v7)",
		    req->platform);
	if (req->platform &&
	    (strv_push(&global, "--platform") < 0 || strv_push(&global, req->platform) < 0))
		return sup_reply_error(SUP_EXIT_FAILED, "out of memory");
	if (strv_push(&args, "pull") < 0 || strv_push(&args, req->images.v[0]) < 0)
		return sup_reply_error(SUP_EXIT_FAILED, "out of memory");
	return run(c, &global, &args, -1);
}

static json_t *cmd_images(struct client *c, struct sup_request *req)
{
	_cleanup_strv_ struct strv global = {0}, args = {0};

	if (strv_push(&args, "images") < 0)
		return sup_reply_error(SUP_EXIT_FAILED, "out of memory");
	return run(c, &global, &args, -1);
}

/* rmi REF... / gc, with every digest a unit is pinned to or runs kept */
static json_t *cmd_collect(struct client *c, struct sup_request *req)
{
	_cleanup_strv_ struct strv global = {0}, args = {0};
	json_t *reply = NULL;
	bool rmi = req->cmd == SUP_CMD_RMI;

	if (strv_push(&args, rmi ? "rmi" : "gc") < 0)
		return sup_reply_error(SUP_EXIT_FAILED, "out of memory");
	for (size_t i = 0; rmi && i < req->images.n; i++) {
		if (check_ref(req->images.v[i], &reply) < 0)
			return reply;
		if (strv_push(&args, req->images.v[i]) < 0)
			return sup_reply_error(SUP_EXIT_FAILED, "out of memory");
	}
	if (sup_img_keep_args(&args) < 0)
		return sup_reply_error(SUP_EXIT_FAILED, "out of memory");
	return run(c, &global, &args, -1);
}

/* load: the file supctl opened as its user, passed over the socket (SCM_RIGHTS) */
static json_t *cmd_load(struct client *c, struct sup_request *req)
{
	_cleanup_strv_ struct strv global = {0}, args = {0};
	_cleanup_close_ int fd = c->passed_fd;
	json_t *reply = NULL;

	c->passed_fd = -1;
	if (fd < 0)
		return sup_reply_error(SUP_EXIT_USAGE,
				       "load: no file came with the request (supctl passes it "
				       "over the socket)");
	if (req->tag && check_ref(req->tag, &reply) < 0)
		return reply;
	if (strv_push(&args, "load") < 0 || strv_push(&args, "--fd") < 0 ||
	    strv_push(&args, "0") < 0 ||
	    (req->tag && (strv_push(&args, "--tag") < 0 || strv_push(&args, req->tag) < 0)))
		return sup_reply_error(SUP_EXIT_FAILED, "out of memory");
	return run(c, &global, &args, fd); /* the helper has its own copy as stdin */
}

static void updated(void *ctx, json_t *result, const char *error)
{
	struct client *c = ctx;

	c->img_unit = NULL;
	sup_img_store_changed();
	if (result)
		sup_client_send(c, sup_reply_ok(json_incref(result)));
	else
		sup_client_send(c, sup_reply_error(SUP_EXIT_FAILED, "%s", error));
}

static json_t *cmd_update(struct client *c, struct sup_request *req)
{
	struct unit *u = unit_find(req->units.v[0]);
	struct sup_error *err = NULL;
	json_t *reply;

	if (!u)
		return sup_reply_error(SUP_EXIT_NO_UNIT, "no such unit: %s", req->units.v[0]);
	if (sup_img_update(u, updated, c, &err) == 0) {
		c->img_unit = u;
		return NULL;
	}
	reply = sup_reply_error(SUP_EXIT_FAILED, "%s", err->msg);
	sup_error_free(err);
	return reply;
}

static json_t *cmd_drop_layer(struct client *c, struct sup_request *req)
{
	json_t *out = json_array();

	for (size_t i = 0; i < req->units.n; i++)
		if (!unit_find(req->units.v[i])) {
			json_decref(out);
			return sup_reply_error(SUP_EXIT_NO_UNIT, "no such unit: %s",
					       req->units.v[i]);
		}
	for (size_t i = 0; i < req->units.n; i++) {
		struct unit *u = unit_find(req->units.v[i]);
		struct sup_error *err = NULL;
		unsigned n = 0;

		if (sup_img_drop_layers(u, &n, &err) < 0) {
			json_t *reply = sup_reply_error(SUP_EXIT_FAILED, "%s", err->msg);
			sup_error_free(err);
			json_decref(out);
			return reply;
		}
		json_array_append_new(
		    out, json_pack("{s:s, s:I}", "unit", u->name, "dropped", (json_int_t)n));
	}
	return sup_reply_ok(out);
}

json_t *sup_image_command(struct client *c, struct sup_request *req)
{
	switch (req->cmd) {
	case SUP_CMD_PULL:
		return cmd_pull(c, req);
	case SUP_CMD_IMAGES:
		return cmd_images(c, req);
	case SUP_CMD_RMI:
	case SUP_CMD_GC:
		return cmd_collect(c, req);
	case SUP_CMD_LOAD:
		return cmd_load(c, req);
	case SUP_CMD_UPDATE:
		return cmd_update(c, req);
	case SUP_CMD_DROP_LAYER:
		return cmd_drop_layer(c, req);
	default:
		return sup_reply_error(SUP_EXIT_USAGE, "not an image command");
	}
}

void sup_image_client_gone(struct client *c)
{
	if (c->img) /* its pull or load ends with it */
		sup_img_job_cancel(c->img);
	c->img = NULL;
	if (c->img_unit) /* an update goes on: its pin is wanted all the same */
		sup_img_update_cancel(c->img_unit);
	c->img_unit = NULL;
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	c->passed_fd = -1;
}
